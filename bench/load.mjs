// A load generator for a web app on loopback: what its users see while a deploy replaces the app's
// container behind a reverse proxy. `clients` concurrent clients each loop: send a request on a
// fresh TCP connection (no keep-alive, so a proxy's connection reuse cannot hide a gap), await the
// whole answer, record it, send the next. A client that got anything but a good answer waits
// `errorPauseMs` (default 10 ms) first, so a refused port is probed every few milliseconds rather
// than spun on (which would burn the CPU the deploy needs and reach `maxRequests` in a second).
//
// Bounded: loopback URLs only, at most 64 clients, `maxRequests` requests and `maxSeconds`
// seconds (it stops by itself), every request `timeoutMs` at most (a timeout is a failure).
//
//   const load = startLoad({ url: 'http://127.0.0.1:18000/' })
//   … deploy …
//   const stats = await load.stop()
//
// As a command, to try it by hand (prints the stats as JSON; Ctrl-C stops it early):
//
//   node bench/load.mjs --url http://127.0.0.1:18000/ [--seconds 10] [--clients 8]
//                       [--max-requests 100000] [--timeout-ms 10000]
//
// Times in records are epoch milliseconds with sub-millisecond precision (comparable with other
// processes' logs, as bench/relay.mjs's); durations in the stats are milliseconds rounded to 0.1.
import { Buffer } from 'node:buffer'
import { request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { clearTimeout, setTimeout } from 'node:timers'
import { pathToFileURL, URL } from 'node:url'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
/** How much of an answer's body is kept for `classify` (the rest is read and dropped). */
const MAX_BODY_BYTES = 64 * 1024
const OUTCOMES = new Set(['good', 'bad', 'failed', 'broken'])

const now = () => performance.timeOrigin + performance.now()
const round1 = ms => Math.round(ms * 10) / 10

/** The default classification: a 2xx answer is good, any other is bad. */
export function classifyByStatus(status) {
  return status >= 200 && status < 300 ? 'good' : 'bad'
}

function bounded(name, value, fallback, { min, max, integer }) {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw new RangeError(`${name} must be a number from ${min} to ${max}, not ${value}`)
  if (integer && !Number.isInteger(value)) throw new RangeError(`${name} must be an integer`)
  return value
}

/** The options checked and with their defaults; throws on anything out of bounds. */
function checkOptions(options) {
  if (!options || typeof options.url !== 'string') throw new TypeError('startLoad needs a url')
  const url = new URL(options.url)
  if (url.protocol !== 'http:') throw new Error(`only http: URLs are supported, not ${url.href}`)
  if (!LOOPBACK_HOSTS.has(url.hostname))
    throw new Error(`only loopback URLs are allowed (127.0.0.1, localhost, [::1]), not ${url.href}`)
  if (options.classify !== undefined && typeof options.classify !== 'function')
    throw new TypeError('classify must be a function')
  return {
    url,
    clients: bounded('clients', options.clients, 8, { min: 1, max: 64, integer: true }),
    maxRequests: bounded('maxRequests', options.maxRequests, 100_000, {
      min: 1,
      max: 1_000_000,
      integer: true
    }),
    maxSeconds: bounded('maxSeconds', options.maxSeconds, 120, { min: 0.001, max: 3600 }),
    timeoutMs: bounded('timeoutMs', options.timeoutMs, 10_000, { min: 1, max: 120_000 }),
    errorPauseMs: bounded('errorPauseMs', options.errorPauseMs, 10, { min: 0, max: 1000 }),
    classify: options.classify ?? classifyByStatus,
    keepSamples: options.keepSamples === true
  }
}

/**
 * One request on a fresh connection. Resolves with its record; rejects only when `classify`
 * throws or returns something else than 'good', 'bad' or 'broken' (a bug in the caller).
 */
function sendOne(url, timeoutMs, classify) {
  return new Promise((resolve, reject) => {
    const start = now()
    let settled = false
    let status = null
    const settle = (outcome, error) => {
      if (settled) return false
      settled = true
      clearTimeout(timer)
      const record = { start, end: now(), outcome, status }
      if (error !== undefined) record.error = error
      resolve(record)
      return true
    }
    const fail = error => settle('failed', error?.code ?? error?.message ?? String(error))

    const req = request(url, { agent: false, headers: { connection: 'close' } }, res => {
      status = res.statusCode ?? null
      const chunks = []
      let kept = 0
      res.on('data', chunk => {
        if (kept >= MAX_BODY_BYTES) return
        chunks.push(chunk)
        kept += chunk.length
      })
      res.on('end', () => {
        if (settled) return
        if (!res.complete) return fail(new Error('answer cut short'))
        const body = Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8')
        let outcome
        try {
          outcome = classify(status, body, res.headers)
        } catch (error) {
          outcome = error
        }
        if (outcome !== 'good' && outcome !== 'bad' && outcome !== 'broken') {
          settled = true
          clearTimeout(timer)
          reject(
            outcome instanceof Error
              ? outcome
              : new TypeError(`classify returned ${JSON.stringify(outcome)}, not good/bad/broken`)
          )
          return
        }
        settle(outcome)
      })
      res.on('aborted', () => fail(new Error('answer cut short')))
      res.on('error', fail)
    })
    const timer = setTimeout(() => {
      if (settle('failed', 'timeout')) req.destroy()
    }, timeoutMs)
    req.on('error', fail)
    req.end()
  })
}

/**
 * Start the load. Returns at once; the clients run until `stop()`, `maxSeconds` or `maxRequests`.
 * Throws (before sending anything) on a non-loopback URL or an option out of bounds.
 */
export function startLoad(options) {
  const { url, clients, maxRequests, maxSeconds, timeoutMs, errorPauseMs, classify, keepSamples } =
    checkOptions(options)
  const records = []
  const startMs = now()
  let stopMs
  let stoppedBy
  let issued = 0
  let good = 0
  let fatal
  const pauses = new Set()

  const end = reason => {
    if (stopMs !== undefined) return
    stopMs = now()
    stoppedBy = reason
    clearTimeout(deadline)
    for (const wake of pauses) wake()
  }
  const pause = ms =>
    new Promise(resolve => {
      const wake = () => {
        clearTimeout(timer)
        pauses.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      pauses.add(wake)
    })

  const client = async () => {
    while (stopMs === undefined && issued < maxRequests) {
      issued++
      let record
      try {
        record = await sendOne(url, timeoutMs, classify)
      } catch (error) {
        fatal ??= error
        end('error')
        return
      }
      records.push(record)
      if (record.outcome === 'good') good++
      else if (errorPauseMs > 0 && stopMs === undefined) await pause(errorPauseMs)
    }
  }

  const deadline = setTimeout(() => end('maxSeconds'), maxSeconds * 1000)
  const done = Promise.all(Array.from({ length: clients }, client)).then(() => end('maxRequests'))
  let result

  return {
    done,
    progress: () => ({ requests: records.length, good }),
    stop() {
      end('stop')
      result ??= done.then(() => {
        if (fatal) throw fatal
        const stats = { ...summarize(records, startMs, stopMs), stoppedBy }
        if (keepSamples) stats.samples = records.slice().sort((a, b) => a.start - b.start)
        return stats
      })
      return result
    }
  }
}

/** The nearest-rank percentile of ascending `sorted`, or null when it is empty. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]
}

/**
 * The stats of `records` over the window [startMs, stopMs] (epoch ms). Pure. `failed` counts
 * connection-level failures (`errors`) and non-good HTTP answers (`badStatus`); `broken` answers
 * are counted apart. `longestGapMs` is the longest stretch of the window in which no good answer
 * completed, the stretches before the first and after the last included (no good answer at all:
 * the whole window); good answers completing after stopMs do not count. `firstFailure` is when
 * the first failing request was sent, `lastFailure` when the last one ended.
 */
export function summarize(records, startMs, stopMs) {
  let good = 0
  let errors = 0
  let bad = 0
  let broken = 0
  const badStatus = {}
  const durations = []
  const goodEnds = []
  let firstFailure = Infinity
  let lastFailure = -Infinity
  for (const record of records) {
    if (!OUTCOMES.has(record.outcome)) throw new TypeError(`unknown outcome ${record.outcome}`)
    if (record.outcome === 'good') {
      good++
      durations.push(record.end - record.start)
      goodEnds.push(record.end)
      continue
    }
    if (record.outcome === 'broken') {
      broken++
      continue
    }
    if (record.outcome === 'failed') errors++
    else {
      bad++
      badStatus[record.status] = (badStatus[record.status] ?? 0) + 1
    }
    firstFailure = Math.min(firstFailure, record.start)
    lastFailure = Math.max(lastFailure, record.end)
  }
  durations.sort((a, b) => a - b)
  goodEnds.sort((a, b) => a - b)

  let longestGap = 0
  let previous = startMs
  for (const end of goodEnds) {
    if (end > stopMs) break
    const at = Math.max(end, startMs)
    longestGap = Math.max(longestGap, at - previous)
    previous = at
  }
  longestGap = Math.max(longestGap, stopMs - previous)

  const ms = value => (value === null ? null : round1(value))
  return {
    requests: records.length,
    good,
    failed: errors + bad,
    errors,
    badStatus,
    broken,
    latency: {
      p50: ms(percentile(durations, 50)),
      p99: ms(percentile(durations, 99)),
      max: ms(durations.length ? durations[durations.length - 1] : null)
    },
    longestGapMs: round1(longestGap),
    durationMs: round1(stopMs - startMs),
    firstFailure: Number.isFinite(firstFailure) ? new Date(firstFailure).toISOString() : null,
    lastFailure: Number.isFinite(lastFailure) ? new Date(lastFailure).toISOString() : null
  }
}

/** The header and separator lines of the table `formatLoadRow` makes rows for. */
export const LOAD_TABLE_HEADER = [
  '| run | requests | failed | broken | p50 ms | p99 ms | max ms | longest gap ms |',
  '| --- | -------- | ------ | ------ | ------ | ------ | ------ | -------------- |'
].join('\n')

/** One Markdown table row: name | requests | failed | broken | p50 | p99 | max | longest gap. */
export function formatLoadRow(name, stats) {
  const ms = value => (value === null || value === undefined ? '–' : value.toFixed(1))
  const cells = [
    String(name).replace(/\|/g, '\\|'),
    stats.requests,
    stats.failed,
    stats.broken,
    ms(stats.latency.p50),
    ms(stats.latency.p99),
    ms(stats.latency.max),
    Math.round(stats.longestGapMs)
  ]
  return `| ${cells.join(' | ')} |`
}

function parseArgs(argv) {
  const options = { seconds: 10 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const number = () => {
      const value = Number(argv[++i])
      if (argv[i] === undefined || !Number.isFinite(value)) throw new Error(`${arg} needs a number`)
      return value
    }
    if (arg === '--url') options.url = argv[++i]
    else if (arg === '--seconds') options.seconds = number()
    else if (arg === '--clients') options.clients = number()
    else if (arg === '--max-requests') options.maxRequests = number()
    else if (arg === '--timeout-ms') options.timeoutMs = number()
    else throw new Error(`unknown option ${arg} (see the header of bench/load.mjs)`)
  }
  if (!options.url) throw new Error('usage: load.mjs --url http://127.0.0.1:PORT/ [--seconds 10]')
  return options
}

async function main() {
  const { seconds, ...options } = parseArgs(process.argv.slice(2))
  const load = startLoad({ ...options, maxSeconds: seconds })
  const stop = () => void load.stop().catch(() => {})
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await load.done
  const stats = await load.stop()
  process.removeListener('SIGINT', stop)
  process.removeListener('SIGTERM', stop)
  process.stdout.write(JSON.stringify(stats, null, 2) + '\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(error => {
    process.stderr.write(`load: ${error.message}\n`)
    process.exit(2)
  })
}
