// The benchmark (`npm run bench`): how the bundled action (A) compares with what a user would
// write instead, the runbook's commands over one multiplexed OpenSSH connection with only the
// fixes a careful person adds (B-bare, bench/bare.sh: the headline); with a fuller script that
// also does the action's lock, health wait and checks (B, bench/peer.sh --ssh); and with the same
// commands run on the host with no SSH at all (C, bench/peer.sh --local), on loopback and through
// a link with an 80 ms round trip (bench/relay.mjs). Also measured: SSH handshakes, and exec
// channels and round trips per step, cold start, downtime during the replace step, peak RSS with
// 200 MB of build output, rollback time, and what retention costs after many deploys on one host
// (--retention-deploys deploys of A in a row, no reset between them). Writes bench/RESULTS.md.
//
// It runs against its own droplet instance (state /tmp/hermes-bench, ports 2232/9428/18090, image
// bench/api, container bench-api), never the default one the end-to-end tests use.
//
//   node bench/run.mjs [--rounds 5] [--delay-ms 40] [--memory-mb 200] [--out bench/RESULTS.md]
//                      [--no-memory] [--no-rollback] [--retention-deploys 50]
//                      [--no-retention-growth] [--keep-up] [--action dist/index.js]
//                      [--action-commit HEAD] [--report-from results.json]
//
// --action-commit REV runs the bundle committed at REV (its dist/, extracted to /tmp), not the
// working tree's dist/index.js: a bundle rebuilt while the bench runs cannot mix into it.
// Every run's figures are kept in /tmp/hermes-bench/bench-logs/results.json; --report-from FILE
// writes the report again from such a file, running nothing.
import { Buffer } from 'node:buffer'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs'
import { statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { clearInterval, setInterval, setTimeout } from 'node:timers'
import { fileURLToPath } from 'node:url'
import { runnerInputs } from '../scripts/runner-inputs.mjs'
import { epochMs } from './relay.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
// The runner's runtime (runs.using: node24), as the end-to-end suite runs the bundle.
const NODE24 = execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit']
}).trim()
const DROPLET = join(ROOT, 'e2e', 'droplet')

/** The benchmark's own droplet instance: nothing it does touches the default one. */
const INSTANCE = {
  HERMES_DROPLET_STATE: '/tmp/hermes-bench',
  HERMES_DROPLET_SSH_PORT: '2232',
  HERMES_DROPLET_GIT_PORT: '9428',
  HERMES_DROPLET_APP_PORT: '18090',
  HERMES_DROPLET_PROXY_PORT: '18010',
  HERMES_DROPLET_CADDY_ADMIN_PORT: '2029',
  HERMES_DROPLET_IMAGE: 'bench/api',
  HERMES_DROPLET_CONTAINER: 'bench-api',
  HERMES_DROPLET_RESTART_DELAY: '1'
}
const RESTART_DELAY_MS = Number(INSTANCE.HERMES_DROPLET_RESTART_DELAY) * 1000
const LOGS = join(INSTANCE.HERMES_DROPLET_STATE, 'bench-logs')

const TARGETS = { abBare: 1.05, ab: 1.05, ac: 1.25, handshakes: 1, rssMb: 150, coldStartMs: 200 }
const VARIANTS = ['A', 'B-bare', 'B', 'C']

function parseArgs(argv) {
  const options = {
    rounds: 5,
    delayMs: 40,
    memoryMb: 200,
    out: join(ROOT, 'bench', 'RESULTS.md'),
    action: join(ROOT, 'dist', 'index.js'),
    memory: true,
    rollback: true,
    // Deploys of A in a row on one host (0: none), for retention's cost as releases accumulate.
    retentionDeploys: 50,
    keepUp: false
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const number = () => {
      const value = Number(argv[++i])
      if (!Number.isFinite(value) || value < 0) throw new Error(`${arg} needs a number`)
      return value
    }
    if (arg === '--rounds') options.rounds = number()
    else if (arg === '--delay-ms') options.delayMs = number()
    else if (arg === '--memory-mb') options.memoryMb = number()
    else if (arg === '--out') options.out = argv[++i]
    else if (arg === '--action') options.action = argv[++i]
    else if (arg === '--action-commit') options.actionCommit = argv[++i]
    else if (arg === '--report-from') options.reportFrom = argv[++i]
    else if (arg === '--no-memory') options.memory = false
    else if (arg === '--no-rollback') options.rollback = false
    else if (arg === '--retention-deploys') options.retentionDeploys = Math.floor(number())
    else if (arg === '--no-retention-growth') options.retentionDeploys = 0
    else if (arg === '--keep-up') options.keepUp = true
    else throw new Error(`unknown option ${arg} (see the header of bench/run.mjs)`)
  }
  if (options.rounds < 1) throw new Error('--rounds must be at least 1')
  return options
}

const say = text => console.log(`bench: ${text}`)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function sh(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', ...options }).trim()
}

function droplet(script) {
  execFileSync('bash', [join(DROPLET, script)], {
    env: { ...process.env, ...INSTANCE },
    stdio: ['ignore', 'inherit', 'inherit']
  })
}

// --- the machine -----------------------------------------------------------------------------------
function machine() {
  const tryRun = (command, args) => {
    const result = spawnSync(command, args, { encoding: 'utf8' })
    return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() || 'unknown'
  }
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : ''
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: (totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]*)/m.exec(osRelease)?.[1] ?? 'unknown',
    node: process.version,
    docker: tryRun('docker', ['version', '--format', '{{.Server.Version}}']).trim(),
    openssh: tryRun('ssh', ['-V']).trim(),
    load: loadavg()
      .map(l => l.toFixed(2))
      .join(' ')
  }
}

// --- the app, polled every 50 ms --------------------------------------------------------------------
function probe(url) {
  const started = epochMs()
  return new Promise(resolve => {
    const req = request(url, { agent: false, timeout: 1000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => (body = (body + chunk).slice(0, 300)))
      res.on('end', () => resolve({ t: started, ok: res.statusCode === 200, body }))
      res.on('error', () => resolve({ t: started, ok: false, body: '' }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ t: started, ok: false, body: '' }))
    req.end()
  })
}

function startPoller(url, everyMs = 50) {
  const pending = []
  const timer = setInterval(() => {
    if (pending.length < 2000) pending.push(probe(url))
  }, everyMs)
  return {
    stop: async () => {
      clearInterval(timer)
      return (await Promise.all(pending)).sort((a, b) => a.t - b.t)
    }
  }
}

/** The longest time the app did not answer: from the last answer before to the first after. */
function longestGap(samples) {
  let last
  let gap = 0
  for (const sample of samples) {
    if (!sample.ok) continue
    if (last !== undefined) gap = Math.max(gap, sample.t - last)
    last = sample.t
  }
  return gap
}

// --- the host's sshd log: handshakes and exec channels -------------------------------------------------
class SshdLog {
  constructor(path) {
    this.path = path
  }
  mark() {
    return existsSync(this.path) ? statSync(this.path).size : 0
  }
  since(offset, end = this.mark()) {
    if (end <= offset) return { handshakes: 0, sessions: 0 }
    const buffer = Buffer.alloc(end - offset)
    const fd = openSync(this.path, 'r')
    readSync(fd, buffer, 0, buffer.length, offset)
    closeSync(fd)
    const text = buffer.toString('utf8')
    return {
      handshakes: (text.match(/Accepted publickey for /g) ?? []).length,
      sessions: (text.match(/Starting session: /g) ?? []).length
    }
  }
  /** Exec channels opened between two marks. */
  sessions(from, to) {
    return from === undefined || to === undefined ? undefined : this.since(from, to).sessions
  }
}

// --- the relay -----------------------------------------------------------------------------------------
async function startRelayProcess(target, delayMs) {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bench', 'relay.mjs'), '--target', String(target), '--delay-ms', String(delayMs)],
    { stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const events = []
  let buffered = ''
  let listening
  const ready = new Promise((resolve, reject) => {
    listening = resolve
    child.once('exit', code => reject(new Error(`the relay exited (${code})`)))
  })
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', chunk => {
    buffered += chunk
    let newline
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const event = JSON.parse(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
      if (event.event === 'listening') listening(event.port)
      else events.push(event)
    }
  })
  const port = await ready
  return {
    port,
    /** Events from t on. */
    since: t => events.filter(e => e.t >= t),
    stop: () => child.stdin.end()
  }
}

// --- one commit on origin --------------------------------------------------------------------------------
function pushCommit(env, label, files = {}) {
  const git = (...args) => sh('git', ['-C', env.WORK_DIR, ...args])
  writeFileSync(join(env.WORK_DIR, 'bench.txt'), `${label} ${new Date().toISOString()}\n`)
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(env.WORK_DIR, name), content, { mode: 0o755 })
  git('add', '--all')
  git('commit', '--quiet', '-m', label)
  git('push', '--quiet', '--force', 'origin', 'HEAD:master')
  return git('rev-parse', 'HEAD')
}

// --- A: the bundled action, run as e2e/harness.ts runs it --------------------------------------------
function stepKey(name) {
  const keys = [
    ['Connect', 'connect'],
    ['Take the deploy lock', 'lock'],
    ['Find the production container', 'find'],
    ['Read what production runs', 'read'],
    ['Compare ', 'compare'],
    ['Create the admin container', 'admin'],
    ['Check the checkout', 'check'],
    ['Update to ', 'update'],
    ['Build', 'build'],
    ['Commit the release', 'commit'],
    ['Canary', 'canary'],
    ['Replace production', 'replace'],
    ['Retain releases', 'retain']
  ]
  return (
    keys.find(([prefix]) => name.startsWith(prefix))?.[1] ??
    name.replace(/\b[0-9a-f]{7,40}\b/g, '…').toLowerCase()
  )
}

async function runAction(env, options) {
  const dir = join(LOGS, options.label)
  mkdirSync(dir, { recursive: true })
  const files = {
    event: join(dir, 'event.json'),
    output: join(dir, 'output'),
    summary: join(dir, 'summary.md'),
    state: join(dir, 'state')
  }
  writeFileSync(
    files.event,
    JSON.stringify({ ref: 'refs/heads/master', before: '0'.repeat(40), after: options.sha })
  )
  for (const file of [files.output, files.summary, files.state]) writeFileSync(file, '')
  const inputs = {
    host: env.HOST,
    port: String(options.port),
    username: env.USERNAME,
    'ssh-key': readFileSync(env.KEY_PATH, 'utf8'),
    'host-fingerprint': env.HOST_FINGERPRINT,
    image: env.IMAGE,
    'repo-path': env.REPO_PATH,
    'build-command': options.buildCommand ?? env.BUILD_COMMAND,
    'health-command': env.HEALTH_COMMAND,
    'health-timeout': String(options.healthTimeout ?? 15),
    'respawn-timeout': '30',
    // Like for like: no canary and no stability window (the peer has neither).
    'canary-seconds': '0',
    'stable-seconds': '0'
  }
  const childEnv = {
    PATH: `${dirname(NODE24)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: files.event,
    GITHUB_SHA: options.sha,
    GITHUB_REF: 'refs/heads/master',
    GITHUB_REPOSITORY: 'texasca/api',
    GITHUB_RUN_ID: '4242',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    RUNNER_TEMP: dir,
    // As a runner: a token and an API URL (nothing answers there: the range comes from git).
    GITHUB_API_URL: 'http://127.0.0.1:9',
    // Every input action.yml declares, with its default where the workflow sets none.
    ...runnerInputs(inputs, { 'github.token': 'ghs_bench_token' })
  }

  // stdout: 'pipe' read as fast as it comes (as the runner does), 'null' a file (/dev/null: writes
  // never wait), 'slow' a pipe whose reader pauses 5 ms after each chunk (a busy log consumer).
  const stdoutMode = options.stdout ?? 'pipe'
  const devNull = stdoutMode === 'null' ? openSync('/dev/null', 'w') : undefined
  const started = epochMs()
  const child = spawn(NODE24, [options.action], {
    env: childEnv,
    stdio: ['ignore', devNull ?? 'pipe', 'pipe']
  })
  if (devNull !== undefined) closeSync(devNull)
  const result = {
    started,
    steps: [],
    commands: [],
    marks: {},
    bytes: 0,
    peakRssKb: 0,
    log: []
  }
  // Peak RSS: VmHWM is the process's high-water mark; sampled until it exits.
  const readHwm = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kb = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0)
      result.peakRssKb = Math.max(result.peakRssKb, kb)
    } catch {
      // gone
    }
  }
  const rss = setInterval(readHwm, 10)
  let group
  const onLine = line => {
    const t = epochMs()
    result.marks.firstOutput ??= t
    if (line.startsWith('bench-filler')) return
    if (result.log.length < 20000) result.log.push(line)
    if (line.startsWith('::group::')) {
      group = { name: line.slice(9), start: t, startOffset: options.sshd?.mark() }
      result.marks[`group:${stepKey(group.name)}`] ??= t
    } else if (line.startsWith('::endgroup::') && group) {
      result.steps.push({
        name: group.name,
        key: stepKey(group.name),
        ms: t - group.start,
        start: group.start,
        end: t,
        startOffset: group.startOffset,
        endOffset: options.sshd?.mark(),
        ownMs: group.ownMs
      })
      group = undefined
    } else if (group && /^[✓✗] /.test(line)) {
      // The action's own timing of the step: `✓ <name> (545 ms)` or `(1.2 s)`.
      const own = /\((\d+(?:\.\d+)?) (ms|s)\)$/.exec(line)
      if (own) group.ownMs = Number(own[1]) * (own[2] === 's' ? 1000 : 1)
    } else if (line.startsWith('::debug::$ ')) {
      result.commands.push({ t, command: line.slice(11) })
    } else if (line.startsWith('::warning') && line.includes('Rolling back')) {
      result.marks.rollingBack ??= t
    }
  }
  const splitter = () => {
    let partial = ''
    return chunk => {
      result.bytes += chunk.length
      partial += chunk
      let newline
      while ((newline = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, newline))
        partial = partial.slice(newline + 1)
      }
      if (partial.length > 65536) partial = partial.slice(-1024)
    }
  }
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', splitter())
  if (child.stdout) {
    child.stdout.setEncoding('utf8')
    const onData = splitter()
    child.stdout.on('data', chunk => {
      onData(chunk)
      if (stdoutMode === 'slow') {
        child.stdout.pause()
        setTimeout(() => child.stdout.resume(), 5)
      }
    })
  }
  child.on('spawn', readHwm)
  const code = await new Promise(resolve => child.on('close', c => resolve(c ?? 1)))
  clearInterval(rss)
  result.code = code
  result.ended = epochMs()
  result.wallMs = result.ended - started
  // The deploy lock on the host, as root on the same machine: how long after the job it stays
  // held (what the action leaves to run on the host under the lock, retention among it).
  if (options.lockFile) {
    await new Promise(resolve =>
      spawn('flock', ['-w', '120', options.lockFile, 'true'], { stdio: 'ignore' }).on(
        'close',
        resolve
      )
    )
    result.lockHeldMs = epochMs() - result.ended
  }
  writeFileSync(join(dir, 'log.txt'), result.log.join('\n') + '\n')
  result.logPath = join(dir, 'log.txt')
  result.outputs = readFileSync(files.output, 'utf8')
  delete result.log
  return result
}

// --- B-bare, B and C: the peer scripts ---------------------------------------------------------------------
async function runPeer(env, options) {
  const peer = join(ROOT, 'bench', options.mode === 'bare' ? 'bare.sh' : 'peer.sh')
  const vars = {
    IMAGE: env.IMAGE,
    REPO_PATH: env.REPO_PATH,
    REF: options.sha,
    BRANCH: 'master',
    BUILD_COMMAND: env.BUILD_COMMAND,
    HEALTH_COMMAND: env.HEALTH_COMMAND,
    HEALTH_TIMEOUT: '15',
    RESPAWN_TIMEOUT: '30'
  }
  let command
  let args
  if (options.mode === 'ssh' || options.mode === 'bare') {
    command = 'bash'
    args = options.mode === 'bare' ? [peer] : [peer, '--ssh']
    Object.assign(vars, {
      HOST: env.HOST,
      PORT: String(options.port),
      USERNAME: env.USERNAME,
      KEY_PATH: env.KEY_PATH,
      KNOWN_HOSTS_PATH: options.knownHosts
    })
  } else {
    // On the host itself, as the deploy user, no SSH: the floor.
    command = 'runuser'
    args = ['-u', env.USERNAME, '--', 'env', `HOME=/home/${env.USERNAME}`]
    for (const [name, value] of Object.entries(vars)) args.push(`${name}=${value}`)
    args.push('bash', peer, '--local')
  }
  const dir = join(LOGS, options.label)
  mkdirSync(dir, { recursive: true })
  const started = epochMs()
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...vars },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  // Each `peer: begin` / `peer: step` line as it arrives: the step's bounds, and the sshd log's
  // size there (which exec channels were opened in which step).
  const steps = []
  let begun
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', chunk => (out = (out + chunk).slice(-100000)))
  child.stderr.on('data', chunk => {
    err += chunk
    partial += chunk
    let newline
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline)
      partial = partial.slice(newline + 1)
      const t = epochMs()
      if (line === 'peer: begin') begun = { t, offset: options.sshd?.mark() }
      const m = /^peer: step (\S+) (\d+)$/.exec(line)
      if (m) {
        const ms = Number(m[2])
        steps.push({
          name: m[1],
          key: m[1],
          ms,
          start: begun?.t ?? t - ms,
          end: t,
          startOffset: begun?.offset,
          endOffset: options.sshd?.mark()
        })
        begun = undefined
      }
    }
  })
  const code = await new Promise(resolve => child.on('close', c => resolve(c ?? 1)))
  const ended = epochMs()
  writeFileSync(join(dir, 'log.txt'), out + '\n--- stderr\n' + err)
  return { code, started, ended, wallMs: ended - started, steps, logPath: join(dir, 'log.txt') }
}

// --- one measured deploy -----------------------------------------------------------------------------
async function deployOnce(ctx, variant, net, round, extra = {}) {
  const { env } = ctx
  const label = `${variant}-${net}-r${round}${extra.suffix ?? ''}`
  const sha = pushCommit(env, `bench ${label}`, extra.files)
  const port = net === 'loopback' ? Number(env.PORT) : ctx.relay.port
  const mark = ctx.sshd.mark()
  const poller = startPoller(env.APP_URL)
  await sleep(150) // a few answers before, so the gap is measured from a real answer
  let run
  if (variant === 'A') {
    run = await runAction(env, { label, sha, port, action: ctx.action, sshd: ctx.sshd, ...extra })
  } else {
    run = await runPeer(env, {
      label,
      sha,
      port,
      mode: { 'B-bare': 'bare', B: 'ssh', C: 'local' }[variant],
      knownHosts: net === 'loopback' ? env.KNOWN_HOSTS_PATH : ctx.relayKnownHosts,
      sshd: ctx.sshd
    })
  }
  await sleep(300)
  const samples = await poller.stop()
  await sleep(100) // sshd writes its last lines as the sessions close
  const endMark = ctx.sshd.mark()
  const { handshakes, sessions } = ctx.sshd.since(mark, endMark)
  // Exec channels per step, and in the time before the first step and after the last one.
  for (const step of run.steps) step.sessions = ctx.sshd.sessions(step.startOffset, step.endOffset)
  const bounds = {
    before: run.steps.length ? run.steps[0].start - run.started : undefined,
    after: run.steps.length ? run.ended - run.steps.at(-1).end : undefined,
    sessionsBefore: ctx.sshd.sessions(mark, run.steps[0]?.startOffset),
    sessionsAfter: ctx.sshd.sessions(run.steps.at(-1)?.endOffset, endMark)
  }
  const relayEvents = net === 'loopback' ? [] : ctx.relay.since(run.started)
  const firstByte = relayEvents.find(e => e.event === 'first-byte')
  const serving = samples.filter(s => s.ok).at(-1)?.body ?? ''
  const record = {
    variant,
    net,
    round,
    label,
    sha,
    code: run.code,
    deployed: serving.includes(`commit=${sha}`),
    wallMs: run.wallMs,
    steps: run.steps,
    bounds,
    handshakes,
    sessions,
    relayConnections: relayEvents.filter(e => e.event === 'accept').length,
    coldStartMs: firstByte ? firstByte.t - run.started : undefined,
    firstCommandMs: run.marks?.['group:lock'] ? run.marks['group:lock'] - run.started : undefined,
    firstOutputMs: run.marks?.firstOutput ? run.marks.firstOutput - run.started : undefined,
    ended: run.ended,
    gapMs: longestGap(samples),
    peakRssKb: run.peakRssKb,
    lockHeldMs: run.lockHeldMs,
    bytes: run.bytes,
    commands: run.commands,
    marks: run.marks,
    samples,
    logPath: run.logPath,
    started: run.started
  }
  const ok = record.code === 0 && record.deployed
  if (!ok || !extra.quiet)
    say(
      `${label.padEnd(18)} ${(record.wallMs / 1000).toFixed(2)} s  handshakes ${handshakes}  channels ${sessions}  ` +
        `gap ${Math.round(record.gapMs)} ms${record.peakRssKb ? `  rss ${Math.round(record.peakRssKb / 1024)} MB` : ''}` +
        (ok || extra.expectFailure ? '' : `  FAILED (exit ${record.code}; log ${record.logPath})`)
    )
  if (!ok && !extra.expectFailure) {
    throw new Error(`${label} did not deploy ${sha} (exit ${record.code}); see ${record.logPath}`)
  }
  return record
}

// --- statistics and the report ---------------------------------------------------------------------------
function stats(values) {
  const sorted = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return { n: 0 }
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { n: sorted.length, median, min: sorted[0], max: sorted.at(-1) }
}

const s1 = ms => (ms === undefined ? '–' : (ms / 1000).toFixed(2))
const ms0 = ms => (ms === undefined || !Number.isFinite(ms) ? '–' : String(Math.round(ms)))
const r2 = x => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3))
const verdict = ok => (ok ? 'met' : '**missed**')

function report(ctx, runs, extras, options, started) {
  const m = ctx.machine
  const lines = []
  const push = (...text) => lines.push(...text)
  const of = (variant, net) => runs.filter(r => r.variant === variant && r.net === net)
  const adj = ms => ms - RESTART_DELAY_MS
  const nets = ['loopback', '80ms']

  push(
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.mjs) on ${new Date(started).toISOString()}, ` +
      `${options.rounds} rounds, relay delay ${options.delayMs} ms each way ` +
      `(${2 * options.delayMs} ms round trip). Re-run it on a quiet machine for numbers to quote.`
  )
  const headlineAt = lines.length
  push(
    '',
    '## Machine',
    '',
    `- ${m.cpus} CPUs (${m.cpu}), ${m.memoryGb} GiB memory, kernel ${m.kernel}, ${m.os}`,
    `- node ${m.node}, docker ${m.docker}, ${m.openssh}`,
    `- load average at start: ${m.load}; at end: ${m.loadEnd ?? machine().load}`,
    '',
    '## What is compared',
    '',
    `- **A**: the bundled action (\`node ${options.actionName}\`, run as e2e/harness.ts runs it), with`,
    '  `canary-seconds: 0` and `stable-seconds: 0`.',
    '- **B-bare** (the headline): `bench/bare.sh`, what a user would write instead of the action:',
    "  the runbook's commands, one ssh command per step over one multiplexed OpenSSH connection",
    '  (ControlMaster), with only the fixes a careful person adds (refuse a dirty tree, keep',
    '  ENTRYPOINT/CMD on `docker commit`, wait for the respawn and for the app to answer). No lock,',
    '  no retention, no history, no drift check.',
    "- **B**: `bench/peer.sh --ssh`: a fuller script that also does the action's lock, checks and",
    '  waits, with the same docker and git commands as the action, over OpenSSH likewise.',
    '- **C**: `bench/peer.sh --local`: the commands of B on the host as user core, no SSH (floor).',
    `- Every run deploys a fresh commit; the droplet is reset at the start of each round and the`,
    `  order of the runs rotates from round to round. "Adjusted" subtracts the supervisor's restart`,
    `  delay (${RESTART_DELAY_MS} ms), which all of them wait for in the replace step.`,
    '',
    '## Wall time (seconds)',
    '',
    '| run | link | n | median | min | max | median adjusted |',
    '| --- | ---- | - | ------ | --- | --- | --------------- |'
  )
  for (const net of nets) {
    for (const variant of VARIANTS) {
      const st = stats(of(variant, net).map(r => r.wallMs))
      if (st.n === 0) continue
      push(
        `| ${variant} | ${net} | ${st.n} | ${s1(st.median)} | ${s1(st.min)} | ${s1(st.max)} | ${s1(adj(st.median))} |`
      )
    }
  }

  // Ratios pair by pair: A and B-bare (or B, C) of the same round and link.
  const pairs = (other, net) =>
    of('A', net)
      .map(a => [a, of(other, net).find(o => o.round === a.round)])
      .filter(([, o]) => o)
  const ratioRows = []
  const medians = {}
  for (const [other, net] of [
    ['B-bare', 'loopback'],
    ['B-bare', '80ms'],
    ['B', 'loopback'],
    ['B', '80ms'],
    ['C', 'loopback']
  ]) {
    const ps = pairs(other, net)
    if (ps.length === 0) continue
    const raw = ps.map(([a, o]) => a.wallMs / o.wallMs)
    const adjusted = ps.map(([a, o]) => adj(a.wallMs) / adj(o.wallMs))
    const key = `A/${other} ${net}`
    medians[key] = stats(adjusted).median
    ratioRows.push(
      `| ${key} | ${raw.map(r2).join(', ')} | ${r2(stats(raw).median)} | ${adjusted.map(r2).join(', ')} | ${r2(stats(adjusted).median)} |`
    )
  }
  // What A does that the peer does not (lock, GitHub compare, release retention, …): the ratio
  // without those steps says how much of the gap is the extra work rather than the way A works.
  for (const other of ['B-bare', 'B']) {
    const peerKeys = new Set(
      runs.filter(r => r.variant === other).flatMap(r => r.steps.map(s => s.key))
    )
    const aOnly = r => r.steps.filter(s => !peerKeys.has(s.key)).reduce((sum, s) => sum + s.ms, 0)
    const aOnlyKeys = [
      ...new Set(
        of('A', 'loopback').flatMap(r => r.steps.filter(s => !peerKeys.has(s.key)).map(s => s.key))
      )
    ]
    for (const net of nets) {
      const ps = pairs(other, net)
      if (ps.length === 0 || aOnlyKeys.length === 0) continue
      const adjusted = ps.map(([a, o]) => adj(a.wallMs - aOnly(a)) / adj(o.wallMs))
      medians[`A/${other} ${net} like for like`] = stats(adjusted).median
      ratioRows.push(
        `| A/${other} ${net} without A's ${aOnlyKeys.join(', ')} | | | ${adjusted.map(r2).join(', ')} | ${r2(stats(adjusted).median)} |`
      )
    }
  }
  push(
    '',
    '## Ratios, pair by pair (round 1, 2, …)',
    '',
    '| ratio | raw | median raw | adjusted | median adjusted |',
    '| ----- | --- | ---------- | -------- | --------------- |',
    ...ratioRows
  )

  // Per step: where the time goes, and the round trips. A phase is a step key, or the time before
  // the first step, between steps, after the last step.
  const stepKeys = []
  for (const r of runs) for (const s of r.steps) if (!stepKeys.includes(s.key)) stepKeys.push(s.key)
  const OUTSIDE = {
    before: 'before the first step',
    between: 'between steps',
    after: 'after the last step'
  }
  const phaseMs = (r, key) => {
    if (key === 'before' || key === 'after') return r.bounds?.[key]
    const inSteps = r.steps.reduce((sum, s) => sum + s.ms, 0)
    if (key === 'between')
      return r.wallMs - inSteps - (r.bounds?.before ?? 0) - (r.bounds?.after ?? 0)
    const own = r.steps.filter(s => s.key === key)
    return own.length ? own.reduce((sum, s) => sum + s.ms, 0) : undefined
  }
  const phaseSessions = (r, key) => {
    if (key === 'before') return r.bounds?.sessionsBefore
    if (key === 'after') return r.bounds?.sessionsAfter
    const inSteps = r.steps.reduce((sum, s) => sum + (s.sessions ?? NaN), 0)
    if (key === 'between')
      return (
        r.sessions - inSteps - (r.bounds?.sessionsBefore ?? NaN) - (r.bounds?.sessionsAfter ?? NaN)
      )
    const own = r.steps.filter(s => s.key === key)
    return own.length ? own.reduce((sum, s) => sum + (s.sessions ?? NaN), 0) : undefined
  }
  // Medians over the runs that have the phase (undefined: none has it).
  const phaseMedian = (variant, net, key) =>
    stats(of(variant, net).map(r => phaseMs(r, key))).median
  const wallMedian = (variant, net) => stats(of(variant, net).map(r => r.wallMs)).median
  const rtt = 2 * options.delayMs
  // Measured round trips: how much longer the step is at 80 ms than on loopback, in round trips.
  // The shift between the two samples is the median of all their pairwise differences (the
  // Hodges–Lehmann estimate): one run slowed by the machine's other work moves it little.
  const shiftRtts = (variant, value) => {
    const lo = of(variant, 'loopback').map(value).filter(Number.isFinite)
    const hi = of(variant, '80ms').map(value).filter(Number.isFinite)
    return stats(hi.flatMap(h => lo.map(l => (h - l) / rtt))).median
  }
  const measuredRtts = (variant, key) =>
    shiftRtts(variant, key ? r => phaseMs(r, key) : r => r.wallMs)
  // Counted: exec channels (sshd "Starting session") in the phase, median of the 80 ms runs.
  const channels = (variant, key) =>
    stats(of(variant, '80ms').map(r => (key ? phaseSessions(r, key) : r.sessions))).median
  const rows = [...stepKeys.map(key => [key, key]), ...Object.entries(OUTSIDE)]
  const f1 = x => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1))
  const c0 = x => (x === undefined || !Number.isFinite(x) ? '–' : String(x))
  push(
    '',
    '## Where the time goes (median ms per step)',
    '',
    'A: from the log groups (time between `::group::` and `::endgroup::` as they arrive);',
    'B-bare, B, C: the scripts\' `peer: begin` / `peer: step` lines. "before the first step":',
    'process start-up; "after the last step": A\'s clean-up (history, removing the admin container,',
    "the lock release, closing the session) and exit; B's admin container is removed between steps.",
    '',
    '| step | A loopback | B-bare loopback | B loopback | C loopback | A 80 ms | B-bare 80 ms | B 80 ms |',
    '| ---- | ---------- | --------------- | ---------- | ---------- | ------- | ------------ | ------- |'
  )
  for (const [key, label] of rows) {
    push(
      `| ${label} | ${['A', 'B-bare', 'B', 'C'].map(v => ms0(phaseMedian(v, 'loopback', key))).join(' | ')} | ${['A', 'B-bare', 'B'].map(v => ms0(phaseMedian(v, '80ms', key))).join(' | ')} |`
    )
  }
  push(
    `| **total** | ${['A', 'B-bare', 'B', 'C'].map(v => ms0(wallMedian(v, 'loopback'))).join(' | ')} | ${['A', 'B-bare', 'B'].map(v => ms0(wallMedian(v, '80ms'))).join(' | ')} |`
  )

  push(
    '',
    '## Round trips per step (RTTs)',
    '',
    '"RTTs counted": exec channels opened in the step, each one round trip at least (two in fact:',
    'the channel open, then the exec request, whose answer brings the output; three when the',
    'command\'s standard input follows the exec request), counted: the sshd log\'s "Starting session"',
    "lines between the step's start and end (the log's size is noted as each `::group::` /",
    '`::endgroup::` line of A, each `peer: begin` / `peer: step` line of a peer arrives), median of',
    'the 80 ms runs (there each command reaches sshd ≥ 40 ms after the line that starts its step).',
    'For the peers that is one per ssh command. The handshake (connect) opens none and takes',
    `several. "RTTs measured": how much longer the step is at ${rtt} ms than on loopback, in round`,
    'trips: the median of the differences of every 80 ms run with every loopback run (so one run',
    "slowed by the machine's other work moves it little); noisy on a busy machine, where the counts",
    'are the figure to trust.',
    '',
    '| step | RTTs counted A | RTTs counted B-bare | RTTs counted B | RTTs measured A | RTTs measured B-bare | RTTs measured B |',
    '| ---- | -------------- | ------------------- | -------------- | --------------- | -------------------- | --------------- |'
  )
  for (const [key, label] of rows) {
    push(
      `| ${label} | ${['A', 'B-bare', 'B'].map(v => c0(channels(v, key))).join(' | ')} | ${['A', 'B-bare', 'B'].map(v => f1(measuredRtts(v, key))).join(' | ')} |`
    )
  }
  push(
    `| **total** | ${['A', 'B-bare', 'B'].map(v => c0(channels(v))).join(' | ')} | ${['A', 'B-bare', 'B'].map(v => f1(measuredRtts(v))).join(' | ')} |`
  )

  // The headline, phase by phase: what A spends beyond B-bare. A phase a run lacks counts as 0.
  const PHASES = [
    ['start-up', ['before']],
    ...stepKeys.filter(k => k !== 'close').map(k => [k, [k]]),
    ['clean-up, exit', ['close', 'after']],
    ['between steps', ['between']]
  ]
  const sumOver = (fn, r, keys) => keys.reduce((sum, k) => sum + (fn(r, k) ?? 0), 0)
  const channelsOr0 = (variant, keys) =>
    stats(of(variant, '80ms').map(r => sumOver(phaseSessions, r, keys))).median
  const signed = (x, fmt) =>
    x === undefined || !Number.isFinite(x) ? '–' : `${x > 0 ? '+' : ''}${fmt(x)}`
  push(
    '',
    '## A against B-bare, phase by phase',
    '',
    'Medians per phase (a phase a script does not have counts as 0 ms); the differences are the',
    'medians of the differences round by round; RTTs as in the table above (counted: exec',
    "channels; measured: A's less B-bare's). \"clean-up, exit\" is B-bare's close step (removing",
    "the admin container, closing the connection) and A's time after its last step. Positive: A",
    'spends more.',
    '',
    '| phase | A loopback | B-bare loopback | A − B-bare loopback | A 80 ms | B-bare 80 ms | A − B-bare 80 ms | RTTs counted A / B-bare | RTTs measured A − B-bare |',
    '| ----- | ---------- | --------------- | ------------------- | ------- | ------------ | ---------------- | ----------------------- | ------------------------ |'
  )
  // The differences are medians of the rounds' differences (A and B-bare of the same round);
  // the measured RTTs as above.
  const rounds = [...new Set(runs.map(r => r.round))]
  const inRound = (variant, net, round) => of(variant, net).find(r => r.round === round)
  const pairDiffs = (net, value) =>
    stats(
      rounds.flatMap(round => {
        const a = inRound('A', net, round)
        const b = inRound('B-bare', net, round)
        return a && b ? [value(a) - value(b)] : []
      })
    ).median
  const rttDiffs = value => {
    const a = shiftRtts('A', value)
    const b = shiftRtts('B-bare', value)
    return a === undefined || b === undefined ? undefined : a - b
  }
  const phaseRow = (label, value, channelsA, channelsB) =>
    `| ${label} | ${['A', 'B-bare'].map(v => ms0(stats(of(v, 'loopback').map(value)).median)).join(' | ')} | ${signed(pairDiffs('loopback', value), ms0)} | ${['A', 'B-bare'].map(v => ms0(stats(of(v, '80ms').map(value)).median)).join(' | ')} | ${signed(pairDiffs('80ms', value), ms0)} | ${c0(channelsA)} / ${c0(channelsB)} | ${signed(rttDiffs(value), f1)} |`
  for (const [label, keys] of PHASES) {
    push(
      phaseRow(
        label,
        r => sumOver(phaseMs, r, keys),
        channelsOr0('A', keys),
        channelsOr0('B-bare', keys)
      )
    )
  }
  push(phaseRow('**total**', r => r.wallMs, channels('A'), channels('B-bare')))

  // Connections and channels.
  const aRuns = runs.filter(r => r.variant === 'A')
  const bRuns = runs.filter(r => r.variant === 'B')
  const bareRuns = runs.filter(r => r.variant === 'B-bare')
  const hs = stats(aRuns.map(r => r.handshakes))
  const relayConns = stats(
    runs.filter(r => r.variant === 'A' && r.net === '80ms').map(r => r.relayConnections)
  )
  const cold = stats(aRuns.map(r => r.coldStartMs))
  const coldB = stats(bRuns.map(r => r.coldStartMs))
  const coldBare = stats(bareRuns.map(r => r.coldStartMs))
  const first = stats(of('A', 'loopback').map(r => r.firstCommandMs))
  const firstOut = stats(aRuns.map(r => r.firstOutputMs))
  const gapA = stats(aRuns.map(r => r.gapMs))
  const gapB = stats(bRuns.map(r => r.gapMs))
  const gapBare = stats(bareRuns.map(r => r.gapMs))
  const gapC = stats(runs.filter(r => r.variant === 'C').map(r => r.gapMs))
  const rssNormal = stats(aRuns.map(r => r.peakRssKb / 1024))
  push(
    '',
    '## Connections, start-up, downtime, memory, rollback',
    '',
    '| metric | measured | target | |',
    '| ------ | -------- | ------ | - |',
    `| SSH handshakes per deploy, A (sshd "Accepted publickey") | ${hs.min}–${hs.max} (relay: ${relayConns.min ?? '–'}–${relayConns.max ?? '–'} TCP connections) | ${TARGETS.handshakes} | ${verdict(hs.max === TARGETS.handshakes && hs.min === TARGETS.handshakes)} |`,
    `| SSH handshakes per deploy, B-bare / B | ${stats(bareRuns.map(r => r.handshakes)).min}–${stats(bareRuns.map(r => r.handshakes)).max} / ${stats(bRuns.map(r => r.handshakes)).min}–${stats(bRuns.map(r => r.handshakes)).max} | | |`,
    `| exec channels per deploy, A (sshd "Starting session") | ${stats(aRuns.map(r => r.sessions)).median} | | |`,
    `| exec channels per deploy, B-bare / B | ${stats(bareRuns.map(r => r.sessions)).median} / ${stats(bRuns.map(r => r.sessions)).median} | | |`,
    `| cold start, A: process start → first byte on the wire (median, min–max ms) | ${ms0(cold.median)} (${ms0(cold.min)}–${ms0(cold.max)}) | < ${TARGETS.coldStartMs} | ${verdict(cold.median < TARGETS.coldStartMs)} |`,
    `| cold start, B-bare / B: \`bash\` start → first byte (median ms) | ${ms0(coldBare.median)} / ${ms0(coldB.median)} | | |`,
    `| A: process start → first line of output (node + bundle loaded), median ms | ${ms0(firstOut.median)} (${ms0(firstOut.min)}–${ms0(firstOut.max)}) | | |`,
    `| A on loopback: process start → first remote command (the lock), median ms | ${ms0(first.median)} (${ms0(first.min)}–${ms0(first.max)}) | | |`,
    `| downtime, A: longest gap without an answer − restart delay (median, min–max ms) | ${ms0(gapA.median - RESTART_DELAY_MS)} (${ms0(gapA.min - RESTART_DELAY_MS)}–${ms0(gapA.max - RESTART_DELAY_MS)}) | | |`,
    `| downtime, B-bare / B / C (median ms, same measure) | ${ms0(gapBare.median - RESTART_DELAY_MS)} / ${ms0(gapB.median - RESTART_DELAY_MS)} / ${ms0(gapC.median - RESTART_DELAY_MS)} | | |`,
    `| peak RSS of A, ordinary deploy (median MB) | ${rssNormal.median?.toFixed(0)} | | |`
  )
  const memoryWhat = {
    pipe: 'stdout a pipe read as fast as it comes (as the runner)',
    null: 'stdout /dev/null (writes never wait)',
    slow: 'stdout a pipe whose reader pauses 5 ms per chunk'
  }
  for (const mem of extras.memory ?? []) {
    const mb = mem.peakRssKb / 1024
    push(
      `| peak RSS of A, ${options.memoryMb} MB of build output, ${memoryWhat[mem.stdout]} (VmHWM, MB) | ${mb.toFixed(0)} (deploy took ${s1(mem.wallMs)} s) | < ${TARGETS.rssMb} | ${verdict(mb < TARGETS.rssMb)} |`
    )
  }
  if (extras.rollback) {
    const rb = extras.rollback
    push(
      `| rollback: health failure logged → previous version answering (ms) | ${ms0(rb.rollbackMs)} (${ms0(rb.rollbackMs - RESTART_DELAY_MS)} without the restart delay); the job ended ${ms0(rb.exitAfterMs)} ms after the failure | | |`
    )
  }
  const peakMb = Math.max(0, ...(extras.memory ?? []).map(m => m.peakRssKb / 1024))
  push(
    '',
    '## Targets',
    '',
    '| target | measured (median of the pairs, adjusted) | |',
    '| ------ | ---------------------------------------- | - |',
    `| A/B-bare ≤ ${TARGETS.abBare} on loopback | ${r2(medians['A/B-bare loopback'])} | ${verdict(medians['A/B-bare loopback'] <= TARGETS.abBare)} |`,
    `| A/B-bare ≤ ${TARGETS.abBare} at ${rtt} ms | ${r2(medians['A/B-bare 80ms'])} | ${verdict(medians['A/B-bare 80ms'] <= TARGETS.abBare)} |`,
    `| A/B ≤ ${TARGETS.ab} on loopback | ${r2(medians['A/B loopback'])} | ${verdict(medians['A/B loopback'] <= TARGETS.ab)} |`,
    `| A/B ≤ ${TARGETS.ab} at ${rtt} ms | ${r2(medians['A/B 80ms'])} | ${verdict(medians['A/B 80ms'] <= TARGETS.ab)} |`,
    `| A/C ≤ ${TARGETS.ac} | ${r2(medians['A/C loopback'])} | ${verdict(medians['A/C loopback'] <= TARGETS.ac)} |`,
    `| one handshake per deploy | ${hs.min}–${hs.max} | ${verdict(hs.max === 1 && hs.min === 1)} |`,
    `| cold start < ${TARGETS.coldStartMs} ms | ${ms0(cold.median)} ms | ${verdict(cold.median < TARGETS.coldStartMs)} |`,
    extras.memory
      ? `| peak RSS < ${TARGETS.rssMb} MB with ${options.memoryMb} MB of output (worst reader) | ${peakMb.toFixed(0)} MB (ordinary deploy: ${rssNormal.median?.toFixed(0)} MB) | ${verdict(peakMb < TARGETS.rssMb)} |`
      : '| peak RSS | not measured (--no-memory) | |'
  )

  // Retention as releases and history accumulate: A deployed again and again on one host.
  const growth = extras.retention ?? []
  const at = n => growth.find(g => g.n === n)
  const failed = growth.filter(g => g.failed)
  const GROWTH_FIELDS = ['retainMs', 'lockHeldMs', 'adminMs', 'commitMs', 'replaceMs']
  // Five deploys around the n-th (within the ones run).
  const window = n => {
    const first = Math.max(1, Math.min(n - 2, growth.length - 4))
    return [first, Math.min(growth.length, first + 4)]
  }
  const around = (n, field) => {
    const [first, lastOne] = window(n)
    return stats(growth.filter(g => g.n >= first && g.n <= lastOne).map(g => g[field])).median
  }
  if (growth.length > 0) {
    const last = growth.at(-1).n
    const shown = [...new Set([1, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200, last])]
      .filter(n => n <= last && at(n))
      .sort((a, b) => a - b)
    push(
      '',
      '## Retention cost vs number of past deploys',
      '',
      `A deployed ${last} times in a row on one host at loopback (\`canary-seconds: 0\`,`,
      '`stable-seconds: 0`), no reset between them, after a reset and with the history of this',
      'image on the host emptied: deploy n finds n − 1 earlier releases and history entries. "retain',
      'step": the "Retain releases" log group as it arrives, its time on the critical path (tag the',
      'release, keep the last 5, prune older tags and unused images: one round trip, unless the',
      'action leaves it to the host after the job). "lock after the job": how long the deploy lock',
      "stays held on the host after the action's exit (a `flock` on the host's lock file, as root",
      'beside it): what the action leaves to run there under the lock, retention and the history',
      'line; the next deploy waits for it. Images: `docker',
      "images -a` after the deploy, this instance's / all on the daemon (which other work shares);",
      "layers: the release image's (each deploy's `docker commit` adds one, as the runbook's does;",
      'the action flattens at `max-layers`, 100 by default). The last two columns: two commands of',
      'the retention script, run here on the same daemon after the deploy.',
      '',
      '| deploy | retain step ms | lock after the job ms | admin ms | commit ms | replace ms | wall s | images | layers | `docker system df` ms | `docker image ls` ms |',
      '| ------ | -------------- | --------------------- | -------- | --------- | ---------- | ------ | ------ | ------ | --------------------- | ------------------- |',
      ...shown.map(n => {
        const g = at(n)
        if (g.failed) return `| ${n} | failed: \`${g.logPath}\` | | | | | | | | | |`
        return `| ${n} | ${GROWTH_FIELDS.map(f => ms0(g[f])).join(' | ')} | ${s1(g.wallMs)} | ${g.ours ?? '–'} / ${g.images ?? '–'} | ${g.layers ?? '–'} | ${ms0(g.dfMs)} | ${ms0(g.listMs)} |`
      }),
      ...[5, last]
        .filter((n, i, all) => all.indexOf(n) === i && n >= 3 && n <= last)
        .map(
          n =>
            `| median of ${window(n).join('–')} | ${GROWTH_FIELDS.map(f => ms0(around(n, f))).join(' | ')} | ${s1(around(n, 'wallMs'))} | | | | |`
        )
    )
    if (failed.length > 0)
      push(
        '',
        `${failed.length} of the ${last} deploys failed and are left out: ` +
          failed.map(g => `${g.n} (\`${g.logPath}\`)`).join(', ') +
          '.'
      )
  }

  // The headline, at the top: A against the script a user would write instead.
  const headline = [
    '',
    '## Headline',
    '',
    '| | loopback | 80 ms | target |',
    '| - | -------- | ----- | ------ |',
    `| **A/B-bare** (median of the pairs, adjusted) | ${r2(medians['A/B-bare loopback'])} | ${r2(medians['A/B-bare 80ms'])} | ≤ ${TARGETS.abBare} |`,
    `| A/B-bare raw (median s: A, B-bare) | ${s1(wallMedian('A', 'loopback'))}, ${s1(wallMedian('B-bare', 'loopback'))} | ${s1(wallMedian('A', '80ms'))}, ${s1(wallMedian('B-bare', '80ms'))} | |`,
    `| A/B (the fuller peer), adjusted | ${r2(medians['A/B loopback'])} | ${r2(medians['A/B 80ms'])} | ≤ ${TARGETS.ab} |`,
    `| RTTs counted: exec channels per deploy, each ≥ 1 round trip, plus the handshake (A, B-bare) | | ${c0(channels('A'))}, ${c0(channels('B-bare'))} | |`,
    `| RTTs measured (A, B-bare) | | ${f1(measuredRtts('A'))}, ${f1(measuredRtts('B-bare'))} | |`
  ]
  if (growth.length > 0) {
    const last = growth.at(-1).n
    const early = Math.min(5, last)
    headline.push(
      `| retain step at deploy ${early} / ${last} on one host (ms; median of 5 around each) | ${ms0(at(early)?.retainMs)} / ${ms0(at(last)?.retainMs)} (${ms0(around(early, 'retainMs'))} / ${ms0(around(last, 'retainMs'))}) | | |`,
      `| deploy lock held on the host after the job (retention), deploy ${early} / ${last} (ms; median of 5 around each) | ${ms0(at(early)?.lockHeldMs)} / ${ms0(at(last)?.lockHeldMs)} (${ms0(around(early, 'lockHeldMs'))} / ${ms0(around(last, 'lockHeldMs'))}) | | |`
    )
  }
  lines.splice(headlineAt, 0, ...headline)

  // The remote commands of A, timed from the `::debug::$` lines @actions/core prints as each starts.
  const commandTable = net => {
    const rs = of('A', net).filter(r => r.commands.length > 0)
    if (rs.length === 0) return []
    const count = stats(rs.map(r => r.commands.length)).median
    const same = rs.filter(r => r.commands.length === count)
    return same[0].commands.map((c, i) => ({
      command: c.command,
      ms: stats(same.map(r => (r.commands[i + 1]?.t ?? r.ended) - r.commands[i].t)).median
    }))
  }
  const cLo = commandTable('loopback')
  const cHi = commandTable('80ms')
  if (cLo.length > 0) {
    push(
      '',
      '## The remote commands of A, one by one (median ms)',
      '',
      'Each `::debug::$` line is printed as a command starts; the time to the next one is that',
      'command plus what the action does before the next (the last runs to the exit: lock release,',
      'closing the session, exit). The deploy lock, a long-lived channel opened before these, is',
      'not printed; the build is.',
      '',
      `| # | command | loopback | ${rtt} ms | RTTs |`,
      '| - | ------- | -------- | ----- | ---- |'
    )
    cLo.forEach((c, i) => {
      const text = c.command
        .replace(/%0A/g, ' ')
        .replace(/%25/g, '%')
        .replace(/\s+/g, ' ')
        .replace(/\|/g, '\\|')
        .replace(/`/g, "'")
        .slice(0, 60)
      const other = cHi.length === cLo.length ? cHi[i].ms : undefined
      push(
        `| ${i + 1} | \`${text}\` | ${ms0(c.ms)} | ${ms0(other)} | ${other === undefined ? '–' : ((other - c.ms) / rtt).toFixed(1)} |`
      )
    })
  }

  if (extras.errors?.length) {
    push('', '## Phases that failed', '', ...extras.errors.map(e => `- ${e}`))
  }
  if (extras.retried?.length) {
    push(
      '',
      '## Runs that failed and were run again',
      '',
      'The daemon is shared with other work (other droplet instances deploying); a run that failed',
      'was run again with a fresh commit and only the run that deployed counts:',
      '',
      ...extras.retried.map(e => `- ${e}`)
    )
  }

  push(
    '',
    '## Raw runs',
    '',
    '| run | wall s | handshakes | channels | gap ms | cold start ms | peak RSS MB |',
    '| --- | ------ | ---------- | -------- | ------ | ------------- | ----------- |',
    ...runs.map(
      r =>
        `| ${r.label} | ${s1(r.wallMs)} | ${r.handshakes} | ${r.sessions} | ${ms0(r.gapMs)} | ${ms0(r.coldStartMs)} | ${r.peakRssKb ? (r.peakRssKb / 1024).toFixed(0) : '–'} |`
    ),
    '',
    `Logs of every run: \`${LOGS}/<run>/log.txt\`.`,
    ''
  )
  return lines.join('\n')
}

// --- retention as deploys accumulate on one host ------------------------------------------------------------
/** The number a command prints, or how many lines (undefined when it fails). */
function count(command, args) {
  try {
    const out = sh(command, args)
    return /^\d+$/.test(out) ? Number(out) : out.split('\n').filter(Boolean).length
  } catch {
    return undefined
  }
}

/** Milliseconds a command takes (its output dropped). */
function timed(command, args) {
  const start = epochMs()
  try {
    execFileSync(command, args, { stdio: 'ignore' })
  } catch {
    return undefined // e.g. `docker system df` while another instance removes images
  }
  return epochMs() - start
}

async function retentionGrowth(ctx, options, growth) {
  droplet('reset.sh')
  // This image's history on the host (the lock's name, as src/lock.ts): emptied, so deploy n
  // finds n − 1 entries. Only the bench image's file; the end-to-end suite's is another.
  const name = ctx.env.IMAGE.replace(/[^A-Za-z0-9._-]/g, '_')
  const history = join('/home', ctx.env.USERNAME, '.hermes-deploy', 'history', `${name}.jsonl`)
  if (existsSync(history)) writeFileSync(history, '')
  // Where the lock script (src/remote/lock.sh) keeps this image's lock: the first of its places.
  const lockFile = ['/run/lock/hermes-deploy', '/var/lock/hermes-deploy']
    .map(dir => join(dir, `${name}.lock`))
    .concat(join('/home', ctx.env.USERNAME, '.hermes-deploy', 'locks', `${name}.lock`))
    .find(file => existsSync(file))
  if (!lockFile)
    say('retention: no lock file of this image found; the lock after the job is not measured')
  say(`retention: ${options.retentionDeploys} deploys of A in a row, no reset between them`)
  let failedInARow = 0
  for (let n = 1; n <= options.retentionDeploys; n++) {
    // A deploy that fails (something else on the shared daemon can get in the way) is noted and
    // the series goes on from whatever production runs; three in a row end it.
    const run = await deployOnce(ctx, 'A', 'loopback', 0, {
      suffix: `-deploy-${n}`,
      quiet: true,
      expectFailure: true,
      lockFile
    })
    if (run.code !== 0 || !run.deployed) {
      growth.push({ n, failed: true, logPath: run.logPath })
      if (++failedInARow >= 3)
        throw new Error(`retention: 3 deploys in a row failed; see ${run.logPath}`)
      continue
    }
    failedInARow = 0
    const step = key => run.steps.filter(s => s.key === key).reduce((sum, s) => sum + s.ms, 0)
    growth.push({
      n,
      wallMs: run.wallMs,
      retainMs: step('retain'),
      retainOwnMs: run.steps.find(s => s.key === 'retain')?.ownMs,
      lockHeldMs: run.lockHeldMs,
      adminMs: step('admin'),
      commitMs: step('commit'),
      replaceMs: step('replace'),
      // All images on the daemon (what the retention script's docker commands walk), and this
      // instance's (its images carry the label up.sh gives them; commits keep it).
      images: count('docker', ['images', '-aq']),
      ours: count('docker', [
        'images',
        '-aq',
        '--filter',
        `label=org.opencontainers.image.title=${ctx.env.CONTAINER}`
      ]),
      layers: count('docker', [
        'image',
        'inspect',
        '--format',
        '{{len .RootFS.Layers}}',
        `${ctx.env.IMAGE}:latest`
      ]),
      // What the retention script runs on the host, timed here (the same daemon): which grows.
      ...(n % 5 === 0 || n === 1 || n === options.retentionDeploys
        ? {
            dfMs: timed('docker', ['system', 'df', '--format', '{{.Type}} {{.Size}}']),
            listMs: timed('docker', ['image', 'ls', '--no-trunc', ctx.env.IMAGE])
          }
        : {})
    })
    if (n === 1 || n % 10 === 0 || n === options.retentionDeploys) {
      const g = growth.at(-1)
      say(
        `retention: deploy ${n}: retain ${Math.round(g.retainMs)} ms, lock after the job ` +
          `${ms0(g.lockHeldMs)} ms, ${g.ours}/${g.images} images, ${g.layers} layers`
      )
    }
  }
}

// --- main ------------------------------------------------------------------------------------------------
async function main() {
  const options = parseArgs(process.argv.slice(2))
  if (options.reportFrom) {
    const saved = JSON.parse(readFileSync(options.reportFrom, 'utf8'))
    const { out } = options
    Object.assign(options, saved.options, { out })
    writeReport({ machine: saved.machine }, saved.runs, saved.extras, options, saved.started)
    return
  }
  if (process.getuid?.() !== 0) throw new Error('run as root (it runs the droplet scripts)')
  if (options.actionCommit) {
    const commit = sh('git', [
      '-C',
      ROOT,
      'rev-parse',
      '--verify',
      `${options.actionCommit}^{commit}`
    ])
    const dir = `/tmp/hermes-bench-action-${commit.slice(0, 12)}`
    mkdirSync(dir, { recursive: true })
    execFileSync('bash', [
      '-c',
      'git -C "$1" archive "$2" dist | tar -x -C "$3"',
      'sh',
      ROOT,
      commit,
      dir
    ])
    options.action = join(dir, 'dist', 'index.js')
    options.actionName = `dist/index.js of commit ${commit.slice(0, 12)}`
    say(`the action: ${options.actionName}, extracted to ${dir}`)
  }
  options.actionName ??= relative(ROOT, options.action)
  if (!existsSync(options.action)) throw new Error(`${options.action} is missing`)
  try {
    sh('jq', ['--version'])
  } catch {
    say('installing jq (bench/peer.sh parses docker inspect with it)')
    execFileSync('apt-get', ['install', '-y', '-qq', 'jq'], { stdio: 'inherit' })
  }
  const started = Date.now()
  const ctx = { machine: machine(), action: options.action }
  say(`machine: ${ctx.machine.cpus} CPUs, load ${ctx.machine.load}`)
  say(`bringing up the bench droplet (${INSTANCE.HERMES_DROPLET_STATE})`)
  droplet('up.sh')
  ctx.env = JSON.parse(readFileSync(join(INSTANCE.HERMES_DROPLET_STATE, 'env.json'), 'utf8'))
  if (ctx.env.CONTAINER !== INSTANCE.HERMES_DROPLET_CONTAINER)
    throw new Error('the droplet came up with another instance; refusing to go on')
  ctx.sshd = new SshdLog(join(INSTANCE.HERMES_DROPLET_STATE, 'sshd', 'sshd.log'))
  ctx.relay = await startRelayProcess(Number(ctx.env.PORT), options.delayMs)
  ctx.relayKnownHosts = join(INSTANCE.HERMES_DROPLET_STATE, 'known_hosts.relay')
  writeFileSync(
    ctx.relayKnownHosts,
    readFileSync(ctx.env.KNOWN_HOSTS_PATH, 'utf8').replaceAll(
      `[${ctx.env.HOST}]:${ctx.env.PORT}`,
      `[${ctx.env.HOST}]:${ctx.relay.port}`
    )
  )
  say(`relay on 127.0.0.1:${ctx.relay.port} → ${ctx.env.PORT}, ${options.delayMs} ms each way`)

  const runs = []
  const retried = []
  const extras = { retried }
  try {
    const plan = [
      ['A', 'loopback'],
      ['B-bare', 'loopback'],
      ['B', 'loopback'],
      ['C', 'loopback'],
      ['A', '80ms'],
      ['B-bare', '80ms'],
      ['B', '80ms']
    ]
    for (let round = 1; round <= options.rounds; round++) {
      droplet('reset.sh')
      const shift = (round - 1) % plan.length
      const order = [...plan.slice(shift), ...plan.slice(0, shift)]
      say(`round ${round}/${options.rounds}: ${order.map(([v, n]) => `${v} ${n}`).join(', ')}`)
      for (const [variant, net] of order) {
        // The daemon is shared with other work, which can get in the way of a deploy: a failed
        // run is tried again, up to twice (a fresh commit; the failed one's log stays).
        let record
        for (let attempt = 1; !record; attempt++) {
          try {
            record = await deployOnce(ctx, variant, net, round, {
              suffix: attempt > 1 ? `-try${attempt}` : ''
            })
          } catch (error) {
            if (attempt >= 3) throw error
            say(`${error.message}; trying ${variant} ${net} again`)
            retried.push(error.message)
          }
        }
        runs.push(record)
      }
    }
    // The phases after the rounds: one that fails is noted in the report, the rest still run.
    extras.errors = []
    const phase = async (name, fn) => {
      try {
        await fn()
      } catch (error) {
        say(`${name}: ${error.message}`)
        extras.errors.push(`${name}: ${error.message}`)
      }
    }
    await phase('memory', async () => {
      if (!options.memory) return
      extras.memory = []
      const bytes = Math.round(options.memoryMb * 2 ** 20)
      // ~100-byte lines, as a chatty build prints them.
      const line = `bench-filler ${'x'.repeat(86)}`
      for (const stdout of ['pipe', 'null', 'slow']) {
        droplet('reset.sh')
        say(`memory: A with a build that prints ${options.memoryMb} MB, stdout: ${stdout}`)
        const run = await deployOnce(ctx, 'A', 'loopback', 0, {
          suffix: `-memory-${stdout}`,
          stdout,
          buildCommand: `./build.sh && yes '${line}' | head -c ${bytes}`
        })
        extras.memory.push({ stdout, ...run })
      }
    })
    await phase('rollback', async () => {
      if (!options.rollback) return
      droplet('reset.sh')
      say('rollback: A with a release that fails its health check')
      const previous = ctx.env.BASELINE_COMMIT
      const build = readFileSync(join(ROOT, 'e2e', 'sample-app', 'build.sh'), 'utf8')
      // The release starts, but serves no page: the health command's curl -f fails.
      const broken = build.replace(
        'printf \'commit=%s\\nmessage=%s\\n\' "$sha" "$subject" >build/index.html',
        "printf 'broken\\n' >build/broken.html"
      )
      if (broken === build)
        throw new Error('could not break e2e/sample-app/build.sh for the rollback run')
      const run = await deployOnce(ctx, 'A', 'loopback', 0, {
        suffix: '-rollback',
        healthTimeout: 3,
        files: { 'build.sh': broken },
        expectFailure: true
      })
      const failed = run.marks.rollingBack
      const back =
        failed && run.samples.find(s => s.t > failed && s.body.includes(`commit=${previous}`))
      if (!back) throw new Error(`the rollback run did not roll back; see ${run.logPath}`)
      extras.rollback = {
        rollbackMs: back.t - failed,
        exitAfterMs: run.started + run.wallMs - failed
      }
      say(`rollback: previous version answered ${Math.round(back.t - failed)} ms after the failure`)
    })
    await phase('retention', async () => {
      if (options.retentionDeploys === 0) return
      extras.retention = []
      await retentionGrowth(ctx, options, extras.retention)
    })
  } finally {
    ctx.relay.stop()
    try {
      droplet('reset.sh')
      if (!options.keepUp) droplet('down.sh')
    } catch (error) {
      say(`could not reset/stop the bench droplet: ${error.message}`)
    }
  }

  ctx.machine.loadEnd = machine().load
  // Everything the report is made of, to write it again (--report-from) without the runs.
  const strip = r => ({ ...r, samples: undefined })
  writeFileSync(
    join(LOGS, 'results.json'),
    JSON.stringify({
      machine: ctx.machine,
      options,
      started,
      runs: runs.map(strip),
      extras: { ...extras, memory: extras.memory?.map(strip) }
    })
  )
  writeReport(ctx, runs, extras, options, started)
}

function writeReport(ctx, runs, extras, options, started) {
  const markdown = report(ctx, runs, extras, options, started)
  writeFileSync(options.out, markdown)
  const prettier = join(ROOT, 'node_modules', '.bin', 'prettier')
  if (existsSync(prettier)) execFileSync(prettier, ['--write', '--log-level', 'warn', options.out])
  say(`wrote ${options.out}`)
  console.log(readFileSync(options.out, 'utf8'))
}

main().catch(error => {
  console.error(`bench: ERROR: ${error.message}`)
  process.exit(1)
})
