// A TCP relay on 127.0.0.1 that plays a slow link: every chunk is held `delayMs` in each direction,
// in order (so a round trip through it costs 2 × delayMs), since kernel netem is not available.
// Loopback only, bounded (connections, bytes in flight, lifetime) and stops by itself: when its
// standard input closes (the benchmark that started it is gone), after `maxSeconds`, or after
// `idleSeconds` with no connection open.
//
//   node bench/relay.mjs --target 2232 [--port 0] [--delay-ms 40] [--max-seconds 3600]
//
// It prints one JSON object per line on stdout: {"event":"listening","port":N}, then for each
// connection {"event":"accept","id":n,"t":ms} and {"event":"first-byte","id":n,"t":ms} (t: epoch
// milliseconds, sub-millisecond precision, comparable with other processes) and a summary at close.
import { createConnection, createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { clearTimeout, setTimeout } from 'node:timers'
import { pathToFileURL } from 'node:url'

const LOOPBACK = '127.0.0.1'

/** Wall-clock milliseconds with sub-millisecond precision. */
export const epochMs = () => performance.timeOrigin + performance.now()

/**
 * Copy `from` to `to`, each chunk `delayMs` late, in order. At most `maxBuffered` bytes wait in
 * the relay: past that `from` is paused (TCP back-pressure reaches the sender).
 */
function delayedPipe(from, to, delayMs, maxBuffered, onFirstByte) {
  const queue = []
  let buffered = 0
  let timer
  let writing = false
  let first = true

  const pump = () => {
    timer = undefined
    if (writing) return
    while (queue.length > 0) {
      const head = queue[0]
      const wait = head.due - performance.now()
      if (wait > 0) {
        timer = setTimeout(pump, wait)
        return
      }
      queue.shift()
      if (head.end) {
        to.end()
        return
      }
      buffered -= head.chunk.length
      if (from.isPaused() && buffered < maxBuffered / 2) from.resume()
      if (!to.write(head.chunk)) {
        writing = true
        to.once('drain', () => {
          writing = false
          pump()
        })
        return
      }
    }
  }
  const schedule = () => {
    if (!timer && !writing) timer = setTimeout(pump, delayMs)
  }

  from.on('data', chunk => {
    if (first) {
      first = false
      onFirstByte()
    }
    queue.push({ due: performance.now() + delayMs, chunk })
    buffered += chunk.length
    if (buffered > maxBuffered) from.pause()
    schedule()
  })
  from.on('end', () => {
    queue.push({ due: performance.now() + delayMs, end: true })
    schedule()
  })
  return () => clearTimeout(timer)
}

/**
 * Start the relay. Resolves to { port, close } once it listens. `onEvent` receives the
 * accept / first-byte / close events.
 */
export function startRelay({
  target,
  port = 0,
  delayMs = 40,
  maxConnections = 64,
  maxBuffered = 8 * 1024 * 1024,
  onEvent = () => {}
}) {
  let nextId = 0
  const sockets = new Set()
  const server = createServer({ noDelay: true }, client => {
    const id = ++nextId
    onEvent({ event: 'accept', id, t: epochMs() })
    const upstream = createConnection({ host: LOOPBACK, port: target, noDelay: true })
    sockets.add(client)
    sockets.add(upstream)
    const stats = { up: 0, down: 0 }
    client.on('data', chunk => (stats.up += chunk.length))
    upstream.on('data', chunk => (stats.down += chunk.length))
    const stopUp = delayedPipe(client, upstream, delayMs, maxBuffered, () =>
      onEvent({ event: 'first-byte', id, t: epochMs() })
    )
    const stopDown = delayedPipe(upstream, client, delayMs, maxBuffered, () => {})
    let closed = false
    const close = () => {
      if (closed) return
      closed = true
      stopUp()
      stopDown()
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
      onEvent({ event: 'close', id, t: epochMs(), ...stats })
    }
    // A half-close travels through the queue; a full close of both sides ends the pair.
    let ends = 0
    const ended = () => ++ends === 2 && close()
    client.on('close', ended)
    upstream.on('close', ended)
    client.on('error', close)
    upstream.on('error', close)
  })
  server.maxConnections = maxConnections
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, LOOPBACK, () => {
      resolve({
        port: server.address().port,
        connections: () => sockets.size / 2,
        close: () => {
          for (const socket of sockets) socket.destroy()
          return new Promise(done => server.close(() => done()))
        }
      })
    })
  })
}

function parseArgs(argv) {
  const options = { port: 0, delayMs: 40, maxSeconds: 3600, idleSeconds: 600 }
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], Number(argv[i + 1])]
    if (!Number.isFinite(value)) throw new Error(`${name} needs a number`)
    if (name === '--target') options.target = value
    else if (name === '--port') options.port = value
    else if (name === '--delay-ms') options.delayMs = value
    else if (name === '--max-seconds') options.maxSeconds = value
    else if (name === '--idle-seconds') options.idleSeconds = value
    else throw new Error(`unknown option ${name}`)
  }
  if (!options.target) throw new Error('usage: relay.mjs --target PORT [--port P] [--delay-ms 40]')
  return options
}

async function main() {
  const options = parseArgs(process.argv.slice(2))
  const print = event => process.stdout.write(JSON.stringify(event) + '\n')
  let idleTimer
  const relay = await startRelay({
    ...options,
    onEvent: event => {
      print(event)
      clearTimeout(idleTimer)
      if (event.event === 'close' && relay.connections() === 0) armIdle()
    }
  })
  const stop = async why => {
    print({ event: 'stop', why })
    await relay.close()
    process.exit(0)
  }
  const armIdle = () => {
    idleTimer = setTimeout(() => stop('idle'), options.idleSeconds * 1000)
    idleTimer.unref()
  }
  armIdle()
  setTimeout(() => stop('max-seconds'), options.maxSeconds * 1000).unref()
  process.stdin.on('end', () => stop('stdin closed'))
  process.stdin.on('error', () => stop('stdin closed'))
  process.stdin.resume()
  print({ event: 'listening', port: relay.port, delayMs: options.delayMs })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(error => {
    process.stderr.write(`relay: ${error.message}\n`)
    process.exit(2)
  })
}
