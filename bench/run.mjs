// The benchmark (`npm run bench`): how the bundled action (A) compares with the plain OpenSSH
// script a user would write (B, bench/peer.sh --ssh) and with the same commands run on the host
// with no SSH at all (C, bench/peer.sh --local), on loopback and through a link with an 80 ms round
// trip (bench/relay.mjs). Also measured: SSH handshakes and exec channels per deploy, cold start,
// downtime during the replace step, peak RSS with 200 MB of build output, and rollback time.
// Writes bench/RESULTS.md.
//
// It runs against its own droplet instance (state /tmp/hermes-bench, ports 2232/9428/18090, image
// bench/api, container bench-api), never the default one the end-to-end tests use.
//
//   node bench/run.mjs [--rounds 5] [--delay-ms 40] [--memory-mb 200] [--out bench/RESULTS.md]
//                      [--no-memory] [--no-rollback] [--keep-up] [--action dist/index.js]
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
  HERMES_DROPLET_IMAGE: 'bench/api',
  HERMES_DROPLET_CONTAINER: 'bench-api',
  HERMES_DROPLET_RESTART_DELAY: '1'
}
const RESTART_DELAY_MS = Number(INSTANCE.HERMES_DROPLET_RESTART_DELAY) * 1000
const LOGS = join(INSTANCE.HERMES_DROPLET_STATE, 'bench-logs')

const TARGETS = { ab: 1.05, ac: 1.25, handshakes: 1, rssMb: 150, coldStartMs: 400 }

function parseArgs(argv) {
  const options = {
    rounds: 5,
    delayMs: 40,
    memoryMb: 200,
    out: join(ROOT, 'bench', 'RESULTS.md'),
    action: join(ROOT, 'dist', 'index.js'),
    memory: true,
    rollback: true,
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
    else if (arg === '--no-memory') options.memory = false
    else if (arg === '--no-rollback') options.rollback = false
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
  since(offset) {
    const size = this.mark()
    if (size <= offset) return { handshakes: 0, sessions: 0 }
    const buffer = Buffer.alloc(size - offset)
    const fd = openSync(this.path, 'r')
    readSync(fd, buffer, 0, buffer.length, offset)
    closeSync(fd)
    const text = buffer.toString('utf8')
    return {
      handshakes: (text.match(/Accepted publickey for /g) ?? []).length,
      sessions: (text.match(/Starting session: /g) ?? []).length
    }
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
      group = { name: line.slice(9), start: t }
      result.marks[`group:${stepKey(group.name)}`] ??= t
    } else if (line.startsWith('::endgroup::') && group) {
      result.steps.push({ name: group.name, key: stepKey(group.name), ms: t - group.start })
      group = undefined
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
  writeFileSync(join(dir, 'log.txt'), result.log.join('\n') + '\n')
  result.logPath = join(dir, 'log.txt')
  result.outputs = readFileSync(files.output, 'utf8')
  delete result.log
  return result
}

// --- B and C: the peer script ------------------------------------------------------------------------------
async function runPeer(env, options) {
  const peer = join(ROOT, 'bench', 'peer.sh')
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
  if (options.mode === 'ssh') {
    command = 'bash'
    args = [peer, '--ssh']
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
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', chunk => (out = (out + chunk).slice(-100000)))
  child.stderr.on('data', chunk => (err += chunk))
  const code = await new Promise(resolve => child.on('close', c => resolve(c ?? 1)))
  const ended = epochMs()
  writeFileSync(join(dir, 'log.txt'), out + '\n--- stderr\n' + err)
  const steps = [...err.matchAll(/^peer: step (\S+) (\d+)$/gm)].map(m => ({
    name: m[1],
    key: m[1],
    ms: Number(m[2])
  }))
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
    run = await runAction(env, { label, sha, port, action: ctx.action, ...extra })
  } else {
    run = await runPeer(env, {
      label,
      sha,
      port,
      mode: variant === 'B' ? 'ssh' : 'local',
      knownHosts: net === 'loopback' ? env.KNOWN_HOSTS_PATH : ctx.relayKnownHosts
    })
  }
  await sleep(300)
  const samples = await poller.stop()
  await sleep(100) // sshd writes its last lines as the sessions close
  const { handshakes, sessions } = ctx.sshd.since(mark)
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
    handshakes,
    sessions,
    relayConnections: relayEvents.filter(e => e.event === 'accept').length,
    coldStartMs: firstByte ? firstByte.t - run.started : undefined,
    firstCommandMs: run.marks?.['group:lock'] ? run.marks['group:lock'] - run.started : undefined,
    firstOutputMs: run.marks?.firstOutput ? run.marks.firstOutput - run.started : undefined,
    ended: run.ended,
    gapMs: longestGap(samples),
    peakRssKb: run.peakRssKb,
    bytes: run.bytes,
    commands: run.commands,
    marks: run.marks,
    samples,
    logPath: run.logPath,
    started: run.started
  }
  const ok = record.code === 0 && record.deployed
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
      `(${2 * options.delayMs} ms round trip). Re-run it on a quiet machine for numbers to quote.`,
    '',
    '## Machine',
    '',
    `- ${m.cpus} CPUs (${m.cpu}), ${m.memoryGb} GiB memory, kernel ${m.kernel}, ${m.os}`,
    `- node ${m.node}, docker ${m.docker}, ${m.openssh}`,
    `- load average at start: ${m.load}; at end: ${machine().load}`,
    '',
    '## What is compared',
    '',
    `- **A**: the bundled action (\`node ${relative(ROOT, options.action)}\`, run as e2e/harness.ts runs it), with`,
    '  `canary-seconds: 0` and `stable-seconds: 0`.',
    '- **B**: `bench/peer.sh --ssh`: the same runbook steps and the same docker and git commands,',
    '  as a bash script over OpenSSH with one multiplexed connection (ControlMaster).',
    '- **C**: `bench/peer.sh --local`: the same commands on the host as user core, no SSH (floor).',
    `- Every run deploys a fresh commit; the droplet is reset at the start of each round and the`,
    `  order of the runs rotates from round to round. "Adjusted" subtracts the supervisor's restart`,
    `  delay (${RESTART_DELAY_MS} ms), which all three wait for in the replace step.`,
    '',
    '## Wall time (seconds)',
    '',
    '| run | link | n | median | min | max | median adjusted |',
    '| --- | ---- | - | ------ | --- | --- | --------------- |'
  )
  for (const net of nets) {
    for (const variant of ['A', 'B', 'C']) {
      const st = stats(of(variant, net).map(r => r.wallMs))
      if (st.n === 0) continue
      push(
        `| ${variant} | ${net} | ${st.n} | ${s1(st.median)} | ${s1(st.min)} | ${s1(st.max)} | ${s1(adj(st.median))} |`
      )
    }
  }

  // Ratios pair by pair: the A and B (or C) of the same round and link.
  const pairs = (other, net) =>
    of('A', net)
      .map(a => [a, of(other, net).find(o => o.round === a.round)])
      .filter(([, o]) => o)
  const ratioRows = []
  const medians = {}
  for (const [other, net] of [
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
  // What A does that the peer does not (GitHub compare, release retention, canary): the ratio
  // without it says how much of the gap is the extra work rather than the way A works.
  const peerKeys = new Set(
    runs.filter(r => r.variant !== 'A').flatMap(r => r.steps.map(s => s.key))
  )
  const aOnly = r => r.steps.filter(s => !peerKeys.has(s.key)).reduce((sum, s) => sum + s.ms, 0)
  const aOnlyKeys = [
    ...new Set(
      of('A', 'loopback').flatMap(r => r.steps.filter(s => !peerKeys.has(s.key)).map(s => s.key))
    )
  ]
  for (const net of nets) {
    const ps = pairs('B', net)
    if (ps.length === 0 || aOnlyKeys.length === 0) continue
    const adjusted = ps.map(([a, o]) => adj(a.wallMs - aOnly(a)) / adj(o.wallMs))
    medians[`A/B ${net} like for like`] = stats(adjusted).median
    ratioRows.push(
      `| A/B ${net} without A's ${aOnlyKeys.join(', ')} | | | ${adjusted.map(r2).join(', ')} | ${r2(stats(adjusted).median)} |`
    )
  }
  push(
    '',
    '## Ratios, pair by pair (round 1, 2, …)',
    '',
    '| ratio | raw | median raw | adjusted | median adjusted |',
    '| ----- | --- | ---------- | -------- | --------------- |',
    ...ratioRows
  )

  // Per step: where the time goes.
  const stepKeys = []
  for (const r of runs) for (const s of r.steps) if (!stepKeys.includes(s.key)) stepKeys.push(s.key)
  const stepMedian = (variant, net, key) =>
    stats(
      of(variant, net)
        .filter(r => r.steps.some(s => s.key === key))
        .map(r => r.steps.filter(s => s.key === key).reduce((sum, s) => sum + s.ms, 0))
    ).median
  const outside = (variant, net) =>
    stats(of(variant, net).map(r => r.wallMs - r.steps.reduce((sum, s) => sum + s.ms, 0))).median
  push(
    '',
    '## Where the time goes (median ms per step)',
    '',
    'A: from the log groups (time between `::group::` and `::endgroup::` as they arrive); B, C:',
    '`peer: step` lines. "outside steps": process start-up, removing the admin container, the lock',
    'release, closing the session, exit. "RTTs" = (80 ms − loopback) / round trip: the round trips',
    'on the critical path.',
    '',
    '| step | A loopback | B loopback | C loopback | A 80 ms | B 80 ms | A RTTs | B RTTs |',
    '| ---- | ---------- | ---------- | ---------- | ------- | ------- | ------ | ------ |'
  )
  const rtt = 2 * options.delayMs
  const rtts = (variant, key) => {
    const lo = key ? stepMedian(variant, 'loopback', key) : outside(variant, 'loopback')
    const hi = key ? stepMedian(variant, '80ms', key) : outside(variant, '80ms')
    return lo === undefined || hi === undefined ? undefined : (hi - lo) / rtt
  }
  for (const key of stepKeys) {
    push(
      `| ${key} | ${ms0(stepMedian('A', 'loopback', key))} | ${ms0(stepMedian('B', 'loopback', key))} | ${ms0(stepMedian('C', 'loopback', key))} | ${ms0(stepMedian('A', '80ms', key))} | ${ms0(stepMedian('B', '80ms', key))} | ${rtts('A', key)?.toFixed(1) ?? '–'} | ${rtts('B', key)?.toFixed(1) ?? '–'} |`
    )
  }
  push(
    `| outside steps | ${ms0(outside('A', 'loopback'))} | ${ms0(outside('B', 'loopback'))} | ${ms0(outside('C', 'loopback'))} | ${ms0(outside('A', '80ms'))} | ${ms0(outside('B', '80ms'))} | ${rtts('A')?.toFixed(1) ?? '–'} | ${rtts('B')?.toFixed(1) ?? '–'} |`
  )
  const wallRtts = variant => {
    const lo = stats(of(variant, 'loopback').map(r => r.wallMs)).median
    const hi = stats(of(variant, '80ms').map(r => r.wallMs)).median
    return lo === undefined || hi === undefined ? '–' : ((hi - lo) / rtt).toFixed(1)
  }
  push(
    `| **total** | ${ms0(stats(of('A', 'loopback').map(r => r.wallMs)).median)} | ${ms0(stats(of('B', 'loopback').map(r => r.wallMs)).median)} | ${ms0(stats(of('C', 'loopback').map(r => r.wallMs)).median)} | ${ms0(stats(of('A', '80ms').map(r => r.wallMs)).median)} | ${ms0(stats(of('B', '80ms').map(r => r.wallMs)).median)} | ${wallRtts('A')} | ${wallRtts('B')} |`
  )

  // Connections and channels.
  const aRuns = runs.filter(r => r.variant === 'A')
  const bRuns = runs.filter(r => r.variant === 'B')
  const hs = stats(aRuns.map(r => r.handshakes))
  const relayConns = stats(
    runs.filter(r => r.variant === 'A' && r.net === '80ms').map(r => r.relayConnections)
  )
  const cold = stats(aRuns.map(r => r.coldStartMs))
  const coldB = stats(bRuns.map(r => r.coldStartMs))
  const first = stats(of('A', 'loopback').map(r => r.firstCommandMs))
  const firstOut = stats(aRuns.map(r => r.firstOutputMs))
  const gapA = stats(aRuns.map(r => r.gapMs))
  const gapB = stats(bRuns.map(r => r.gapMs))
  const gapC = stats(runs.filter(r => r.variant === 'C').map(r => r.gapMs))
  const rssNormal = stats(aRuns.map(r => r.peakRssKb / 1024))
  push(
    '',
    '## Connections, start-up, downtime, memory, rollback',
    '',
    '| metric | measured | target | |',
    '| ------ | -------- | ------ | - |',
    `| SSH handshakes per deploy, A (sshd "Accepted publickey") | ${hs.min}–${hs.max} (relay: ${relayConns.min ?? '–'}–${relayConns.max ?? '–'} TCP connections) | ${TARGETS.handshakes} | ${verdict(hs.max === TARGETS.handshakes && hs.min === TARGETS.handshakes)} |`,
    `| SSH handshakes per deploy, B | ${stats(bRuns.map(r => r.handshakes)).min}–${stats(bRuns.map(r => r.handshakes)).max} | | |`,
    `| exec channels per deploy, A (sshd "Starting session") | ${stats(aRuns.map(r => r.sessions)).median} | | |`,
    `| exec channels per deploy, B | ${stats(bRuns.map(r => r.sessions)).median} | | |`,
    `| cold start, A: process start → first byte on the wire (median, min–max ms) | ${ms0(cold.median)} (${ms0(cold.min)}–${ms0(cold.max)}) | < ${TARGETS.coldStartMs} | ${verdict(cold.median < TARGETS.coldStartMs)} |`,
    `| cold start, B: \`bash peer.sh\` start → first byte (median ms) | ${ms0(coldB.median)} | | |`,
    `| A: process start → first line of output (node + bundle loaded), median ms | ${ms0(firstOut.median)} (${ms0(firstOut.min)}–${ms0(firstOut.max)}) | | |`,
    `| A on loopback: process start → first remote command (the lock), median ms | ${ms0(first.median)} (${ms0(first.min)}–${ms0(first.max)}) | | |`,
    `| downtime, A: longest gap without an answer − restart delay (median, min–max ms) | ${ms0(gapA.median - RESTART_DELAY_MS)} (${ms0(gapA.min - RESTART_DELAY_MS)}–${ms0(gapA.max - RESTART_DELAY_MS)}) | | |`,
    `| downtime, B / C (median ms, same measure) | ${ms0(gapB.median - RESTART_DELAY_MS)} / ${ms0(gapC.median - RESTART_DELAY_MS)} | | |`,
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
    `| A/B ≤ ${TARGETS.ab} on loopback | ${r2(medians['A/B loopback'])} | ${verdict(medians['A/B loopback'] <= TARGETS.ab)} |`,
    `| A/B ≤ ${TARGETS.ab} at ${rtt} ms | ${r2(medians['A/B 80ms'])} | ${verdict(medians['A/B 80ms'] <= TARGETS.ab)} |`,
    `| A/C ≤ ${TARGETS.ac} | ${r2(medians['A/C loopback'])} | ${verdict(medians['A/C loopback'] <= TARGETS.ac)} |`,
    `| one handshake per deploy | ${hs.min}–${hs.max} | ${verdict(hs.max === 1 && hs.min === 1)} |`,
    `| cold start < ${TARGETS.coldStartMs} ms | ${ms0(cold.median)} ms | ${verdict(cold.median < TARGETS.coldStartMs)} |`,
    extras.memory
      ? `| peak RSS < ${TARGETS.rssMb} MB with ${options.memoryMb} MB of output (worst reader) | ${peakMb.toFixed(0)} MB (ordinary deploy: ${rssNormal.median?.toFixed(0)} MB) | ${verdict(peakMb < TARGETS.rssMb)} |`
      : '| peak RSS | not measured (--no-memory) | |'
  )

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

// --- main ------------------------------------------------------------------------------------------------
async function main() {
  const options = parseArgs(process.argv.slice(2))
  if (process.getuid?.() !== 0) throw new Error('run as root (it runs the droplet scripts)')
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
  const extras = {}
  try {
    const plan = [
      ['A', 'loopback'],
      ['B', 'loopback'],
      ['C', 'loopback'],
      ['A', '80ms'],
      ['B', '80ms']
    ]
    for (let round = 1; round <= options.rounds; round++) {
      droplet('reset.sh')
      const shift = (round - 1) % plan.length
      const order = [...plan.slice(shift), ...plan.slice(0, shift)]
      say(`round ${round}/${options.rounds}: ${order.map(([v, n]) => `${v} ${n}`).join(', ')}`)
      for (const [variant, net] of order) runs.push(await deployOnce(ctx, variant, net, round))
    }
    if (options.memory) {
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
    }
    if (options.rollback) {
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
    }
  } finally {
    ctx.relay.stop()
    try {
      droplet('reset.sh')
      if (!options.keepUp) droplet('down.sh')
    } catch (error) {
      say(`could not reset/stop the bench droplet: ${error.message}`)
    }
  }

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
