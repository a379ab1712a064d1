import { afterEach, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import {
  createServer,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  formatLoadRow,
  LOAD_TABLE_HEADER,
  startLoad,
  summarize,
  type LoadRecord
} from '../bench/load.mjs'

// bench/load.mjs against real HTTP servers on 127.0.0.1 (port 0), and its summary on hand-made
// records.

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

interface TestServer {
  server: Server
  port: number
  url: string
  /** TCP connections accepted so far. */
  connections: () => number
  /** The Connection header of every request. */
  connectionHeaders: (string | undefined)[]
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    if (server.listening) await new Promise(resolve => server.close(resolve))
  }
})

async function serve(handler: RequestListener): Promise<TestServer> {
  let connections = 0
  const connectionHeaders: (string | undefined)[] = []
  const server = createServer((req, res) => {
    connectionHeaders.push(req.headers.connection)
    handler(req, res)
  })
  server.on('connection', () => connections++)
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}/`,
    connections: () => connections,
    connectionHeaders
  }
}

const ok: RequestListener = (_req, res) => res.end('ok')

describe('startLoad against a server', () => {
  it('sees only good answers from a healthy server, each on a fresh connection', async () => {
    const app = await serve(ok)
    const load = startLoad({ url: app.url, clients: 4 })
    await sleep(300)
    const stats = await load.stop()

    expect(stats.requests).toBeGreaterThan(10)
    expect(stats.good).toBe(stats.requests)
    expect(stats.failed).toBe(0)
    expect(stats.errors).toBe(0)
    expect(stats.broken).toBe(0)
    expect(stats.badStatus).toEqual({})
    expect(stats.firstFailure).toBeNull()
    expect(stats.lastFailure).toBeNull()
    expect(stats.stoppedBy).toBe('stop')
    expect(stats.samples).toBeUndefined()
    const { p50, p99, max } = stats.latency
    expect(p50).toBeGreaterThan(0)
    expect(p99).toBeGreaterThanOrEqual(p50 as number)
    expect(max).toBeGreaterThanOrEqual(p99 as number)
    expect(stats.durationMs).toBeGreaterThanOrEqual(290)
    expect(stats.durationMs).toBeLessThan(2000)
    expect(stats.longestGapMs).toBeLessThan(200)
    // one TCP connection per request, all finished when stop() resolves
    expect(app.connections()).toBe(stats.requests)
    expect(app.connectionHeaders).toHaveLength(stats.requests)
    expect(new Set(app.connectionHeaders)).toEqual(new Set(['close']))
  })

  it('counts a server closed for 300 ms as failures and a gap of about that length', async () => {
    const app = await serve(ok)
    const load = startLoad({ url: app.url, clients: 4, keepSamples: true })
    await sleep(200)
    const closedAt = Date.now()
    app.server.close()
    await sleep(300)
    await new Promise<void>(resolve => app.server.listen(app.port, '127.0.0.1', resolve))
    await sleep(200)
    const stats = await load.stop()

    expect(stats.errors).toBeGreaterThan(0)
    expect(stats.failed).toBe(stats.errors)
    expect(stats.badStatus).toEqual({})
    expect(stats.good).toBeGreaterThan(0)
    expect(stats.longestGapMs).toBeGreaterThanOrEqual(250)
    expect(stats.longestGapMs).toBeLessThan(1000)
    const first = Date.parse(stats.firstFailure as string)
    const last = Date.parse(stats.lastFailure as string)
    expect(first).toBeGreaterThanOrEqual(closedAt - 50)
    expect(last - first).toBeGreaterThanOrEqual(250)
    expect(last - first).toBeLessThan(1000)
    const failures = (stats.samples ?? []).filter(record => record.outcome === 'failed')
    expect(failures).toHaveLength(stats.errors)
    expect(failures.every(record => record.status === null && record.error)).toBe(true)
    expect(failures.map(record => record.error)).toContain('ECONNREFUSED')
  })

  it('counts non-2xx answers as failed, by status code', async () => {
    let failing = false
    let n = 0
    const app = await serve((_req, res) => {
      res.statusCode = failing ? (n++ % 2 ? 500 : 503) : 200
      res.end('answer')
    })
    const load = startLoad({ url: app.url, clients: 4 })
    await sleep(100)
    failing = true
    await sleep(250)
    failing = false
    await sleep(100)
    const stats = await load.stop()

    expect(stats.errors).toBe(0)
    expect(stats.failed).toBeGreaterThan(2)
    expect(Object.keys(stats.badStatus).sort()).toEqual(['500', '503'])
    expect(stats.badStatus['500'] + stats.badStatus['503']).toBe(stats.failed)
    expect(stats.good + stats.failed).toBe(stats.requests)
    expect(stats.longestGapMs).toBeGreaterThanOrEqual(200)
    expect(stats.firstFailure).not.toBeNull()
  })

  it('counts answers classify calls broken apart from good and failed ones', async () => {
    let release = 'v1'
    const app = await serve((_req, res) => {
      res.setHeader('x-release', release)
      res.end(release === 'v2' ? 'BROKEN release' : 'fine')
    })
    const seen: { status: number; body: string; headers: IncomingHttpHeaders }[] = []
    const load = startLoad({
      url: app.url,
      clients: 2,
      keepSamples: true,
      classify: (status, body, headers) => {
        seen.push({ status, body, headers })
        if (body.includes('BROKEN')) return 'broken'
        return status >= 200 && status < 300 ? 'good' : 'bad'
      }
    })
    await sleep(100)
    release = 'v2'
    await sleep(150)
    release = 'v1'
    await sleep(100)
    const stats = await load.stop()

    expect(stats.broken).toBeGreaterThan(0)
    expect(stats.good).toBeGreaterThan(0)
    expect(stats.failed).toBe(0)
    expect(stats.good + stats.broken).toBe(stats.requests)
    expect(stats.samples?.filter(record => record.outcome === 'broken')).toHaveLength(stats.broken)
    expect(seen).toHaveLength(stats.requests)
    expect(seen.filter(call => call.headers['x-release'] === 'v2')).toHaveLength(stats.broken)
    expect(seen.every(call => call.status === 200)).toBe(true)
    // broken answers are not good ones: the time they were served is a gap
    expect(stats.longestGapMs).toBeGreaterThanOrEqual(100)
  })

  it('makes stop() reject when classify throws', async () => {
    const app = await serve(ok)
    const load = startLoad({
      url: app.url,
      clients: 2,
      classify: () => {
        throw new Error('classify is broken')
      }
    })
    await load.done
    await expect(load.stop()).rejects.toThrow('classify is broken')
  })

  it('counts a request with no answer within timeoutMs as a failure', async () => {
    const app = await serve(() => {}) // never answers
    const load = startLoad({ url: app.url, clients: 2, timeoutMs: 100, keepSamples: true })
    await sleep(350)
    const started = Date.now()
    const stats = await load.stop()

    expect(Date.now() - started).toBeLessThan(300) // waited for the requests in flight, no longer
    expect(stats.good).toBe(0)
    expect(stats.errors).toBeGreaterThanOrEqual(4)
    expect(stats.failed).toBe(stats.requests)
    expect(stats.latency).toEqual({ p50: null, p99: null, max: null })
    expect(stats.longestGapMs).toBe(stats.durationMs)
    for (const record of stats.samples ?? []) {
      expect(record.error).toBe('timeout')
      expect(record.end - record.start).toBeGreaterThanOrEqual(95)
    }
  })

  it('stops by itself after maxRequests', async () => {
    const app = await serve(ok)
    const load = startLoad({ url: app.url, clients: 8, maxRequests: 25 })
    await load.done
    const stats = await load.stop()

    expect(stats.stoppedBy).toBe('maxRequests')
    expect(stats.requests).toBe(25)
    expect(stats.good).toBe(25)
    expect(app.connections()).toBe(25)
  })

  it('stops by itself after maxSeconds', async () => {
    const app = await serve(ok)
    const load = startLoad({ url: app.url, clients: 2, maxSeconds: 0.3 })
    let timer: ReturnType<typeof setTimeout> | undefined
    const hung = new Promise(resolve => (timer = setTimeout(resolve, 3000, 'hung')))
    const outcome = await Promise.race([load.done.then(() => 'done'), hung])
    clearTimeout(timer)
    expect(outcome).toBe('done')
    const connections = app.connections()
    await sleep(150)
    expect(app.connections()).toBe(connections) // nothing sent after it stopped
    const stats = await load.stop()

    expect(stats.stoppedBy).toBe('maxSeconds')
    expect(stats.requests).toBe(connections)
    expect(stats.durationMs).toBeGreaterThanOrEqual(295)
    expect(stats.durationMs).toBeLessThan(1000) // the window ended at 0.3 s, not at stop()
  })

  it('refuses a URL that is not on loopback, and options out of bounds', () => {
    for (const url of [
      'http://10.0.0.1/',
      'http://192.168.1.1:8080/',
      'http://example.com/',
      'http://127.0.0.2/',
      'http://localhost.example.com/',
      'http://[::2]/',
      'https://127.0.0.1/',
      'not a url'
    ]) {
      expect(() => startLoad({ url })).toThrow()
    }
    const url = 'http://127.0.0.1:9/'
    expect(() => startLoad({ url, clients: 0 })).toThrow(RangeError)
    expect(() => startLoad({ url, clients: 65 })).toThrow(RangeError)
    expect(() => startLoad({ url, clients: 2.5 })).toThrow(RangeError)
    expect(() => startLoad({ url, maxRequests: 0 })).toThrow(RangeError)
    expect(() => startLoad({ url, maxRequests: 10_000_000 })).toThrow(RangeError)
    expect(() => startLoad({ url, maxSeconds: 0 })).toThrow(RangeError)
    expect(() => startLoad({ url, maxSeconds: Infinity })).toThrow(RangeError)
    expect(() => startLoad({ url, timeoutMs: -1 })).toThrow(RangeError)
  })

  it('accepts the loopback names', async () => {
    const app = await serve(ok)
    for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST']) {
      const load = startLoad({ url: `http://${host}:${app.port}/`, maxRequests: 1 })
      await load.done
      expect((await load.stop()).requests).toBe(1)
    }
    const load = startLoad({ url: `http://[::1]:${app.port}/`, maxRequests: 1 })
    await load.done
    expect((await load.stop()).requests).toBe(1) // refused (the server is on 127.0.0.1), but sent
  })

  it('runs as a command and prints the stats as JSON', async () => {
    const app = await serve(ok)
    const script = join(process.cwd(), 'bench', 'load.mjs')
    const { stdout } = await promisify(execFile)(process.execPath, [
      script,
      ...['--url', app.url, '--seconds', '0.3', '--clients', '2']
    ])
    const stats = JSON.parse(stdout)
    expect(stats.requests).toBeGreaterThan(0)
    expect(stats.good).toBe(stats.requests)
    expect(stats.stoppedBy).toBe('maxSeconds')
    expect(app.connections()).toBe(stats.requests)
  })
})

describe('summarize', () => {
  const good = (start: number, end: number): LoadRecord => ({
    start,
    end,
    outcome: 'good',
    status: 200
  })
  const refused = (start: number, end = start + 1): LoadRecord => ({
    start,
    end,
    outcome: 'failed',
    status: null,
    error: 'ECONNREFUSED'
  })
  const bad = (start: number, status: number): LoadRecord => ({
    start,
    end: start + 2,
    outcome: 'bad',
    status
  })

  it('gives nulls, not NaN, without good answers, and the whole window as the gap', () => {
    const stats = summarize([refused(10), bad(20, 502)], 0, 1000)
    expect(stats.latency).toEqual({ p50: null, p99: null, max: null })
    expect(stats.longestGapMs).toBe(1000)
    expect(stats.durationMs).toBe(1000)
    expect(stats).toMatchObject({ requests: 2, good: 0, failed: 2, errors: 1, broken: 0 })
    expect(stats.badStatus).toEqual({ '502': 1 })
    expect(summarize([], 0, 500)).toMatchObject({
      requests: 0,
      failed: 0,
      longestGapMs: 500,
      firstFailure: null,
      latency: { p50: null, p99: null, max: null }
    })
  })

  it('takes the percentiles of good answers only, by nearest rank', () => {
    const records = Array.from({ length: 100 }, (_, i) => good(i * 10, i * 10 + i + 1)) // 1..100
    records.push({ ...bad(0, 500), end: 5000 }, refused(0, 9000))
    const stats = summarize(records, 0, 1200)
    expect(stats.latency).toEqual({ p50: 50, p99: 99, max: 100 })
    expect(summarize([good(0, 7.25)], 0, 10).latency).toEqual({ p50: 7.3, p99: 7.3, max: 7.3 })
    expect(summarize([good(0, 3), good(0, 1)], 0, 10).latency).toEqual({ p50: 1, p99: 3, max: 3 })
  })

  it('measures the longest gap at the start, in the middle and at the end', () => {
    // at the start: failures until the first good answer at 400
    expect(
      summarize([refused(0), refused(200), good(300, 400), good(410, 420)], 0, 500).longestGapMs
    ).toBe(400)
    // in the middle: 100 → 700
    expect(
      summarize([good(90, 100), refused(300), good(690, 700), good(790, 800)], 0, 850).longestGapMs
    ).toBe(600)
    // at the end: last good answer at 100, stopped at 1000
    expect(summarize([good(0, 50), good(60, 100), refused(500)], 0, 1000).longestGapMs).toBe(900)
    // unordered records, and an answer completing after stop does not close the last gap
    expect(summarize([good(600, 700), good(0, 100), good(900, 1200)], 0, 1000).longestGapMs).toBe(
      600
    )
  })

  it('counts broken answers apart and dates the failures', () => {
    const broken: LoadRecord = { start: 5, end: 6, outcome: 'broken', status: 200 }
    const stats = summarize([good(0, 1), broken, bad(2000, 502), refused(1000, 1500)], 0, 3000)
    expect(stats).toMatchObject({ requests: 4, good: 1, broken: 1, failed: 2, errors: 1 })
    expect(stats.badStatus).toEqual({ '502': 1 })
    expect(stats.firstFailure).toBe(new Date(1000).toISOString())
    expect(stats.lastFailure).toBe(new Date(2002).toISOString())
  })
})

describe('formatLoadRow', () => {
  it('makes a row with the header\u2019s columns', () => {
    const stats = summarize(
      [
        { start: 0, end: 1.04, outcome: 'good', status: 200 },
        { start: 0, end: 2, outcome: 'failed', status: null }
      ],
      0,
      250.4
    )
    const row = formatLoadRow('A | loopback', stats)
    expect(row).toBe('| A \\| loopback | 2 | 1 | 0 | 1.0 | 1.0 | 1.0 | 249 |')
    const [header, separator] = LOAD_TABLE_HEADER.split('\n')
    const columns = (line: string) => line.split(/(?<!\\)\|/).length
    expect(columns(header)).toBe(columns(row))
    expect(columns(separator)).toBe(columns(row))
    expect(formatLoadRow('none', summarize([], 0, 10))).toBe(
      '| none | 0 | 0 | 0 | – | – | – | 10 |'
    )
  })
})
