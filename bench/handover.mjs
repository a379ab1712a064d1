// The zero-downtime handover benchmark: what users see through Caddy while the bundled action
// (dist/index.js, run as a GitHub runner runs it) deploys, on the runbook's path (`handover:
// none`), on the runbook's path behind a Caddy that retries (`lb_try_duration 10s`), and with
// `handover: caddy`; the same for a release that serves 404 at / (its health check fails, it is
// rolled back or never sent traffic); and the same load with no deploy (idle, the baseline).
// 8 clients, a fresh connection per request (bench/load.mjs), through the droplet's Caddy.
// Writes bench/HANDOVER.md.
//
// It runs against its own droplet instance (state /tmp/hermes-bench-load, ssh 2242, app 18100,
// proxy 18020, Caddy admin 2039, image benchload/api, container benchload-api), never the
// default one (/tmp/hermes-droplet) nor bench/run.mjs's (/tmp/hermes-bench). Loopback only.
//
//   node bench/handover.mjs [--rounds 5] [--out bench/HANDOVER.md] [--max-minutes 14]
//                           [--keep-up] [--report-from results.json]
//
// Bounded: every droplet script and every action run has a timeout (the action is killed after
// 150 s), the load stops by itself after 180 s, no new run starts after --max-minutes (the report
// then says how many rounds ran), and a watchdog ends the process 8 minutes after that.
// Every run's figures are kept in /tmp/hermes-bench-load/handover-logs/results.json;
// --report-from FILE writes the report again from such a file, running nothing.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { clearTimeout, setTimeout } from 'node:timers'
import { fileURLToPath, URL } from 'node:url'
import { runnerInputs } from '../scripts/runner-inputs.mjs'
import { formatLoadRow, LOAD_TABLE_HEADER, startLoad } from './load.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DROPLET = join(ROOT, 'e2e', 'droplet')
const ACTION = join(ROOT, 'dist', 'index.js')

/** This benchmark's own droplet instance. */
const INSTANCE = {
  HERMES_DROPLET_STATE: '/tmp/hermes-bench-load',
  HERMES_DROPLET_SSH_PORT: '2242',
  HERMES_DROPLET_GIT_PORT: '9438',
  HERMES_DROPLET_APP_PORT: '18100',
  HERMES_DROPLET_PROXY_PORT: '18020',
  HERMES_DROPLET_CADDY_ADMIN_PORT: '2039',
  HERMES_DROPLET_IMAGE: 'benchload/api',
  HERMES_DROPLET_CONTAINER: 'benchload-api',
  HERMES_DROPLET_RESTART_DELAY: '1'
}
const APP_PORT = Number(INSTANCE.HERMES_DROPLET_APP_PORT)
const STANDIN_PORT = APP_PORT + 7
const LOGS = join(INSTANCE.HERMES_DROPLET_STATE, 'handover-logs')
const CLIENTS = 8
const IDLE_MS = 8000
const ACTION_TIMEOUT_MS = 150_000

/** The runs of one round: [key, label in the report]. */
const SCENARIOS = [
  ['runbook', 'deploy, runbook path (Caddy, no retries)'],
  ['runbook-retry', 'deploy, runbook path, Caddy retries'],
  ['handover', 'deploy, handover'],
  ['fail-retry', 'failing release (404), runbook path, Caddy retries'],
  ['fail-handover', 'failing release (404), handover'],
  ['idle', 'idle (no deploy, 8 s)']
]

function parseArgs(argv) {
  const options = {
    rounds: 5,
    out: join(ROOT, 'bench', 'HANDOVER.md'),
    maxMinutes: 14,
    keepUp: false
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const number = () => {
      const value = Number(argv[++i])
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number`)
      return value
    }
    if (arg === '--rounds') options.rounds = Math.floor(number())
    else if (arg === '--out') options.out = argv[++i]
    else if (arg === '--max-minutes') options.maxMinutes = number()
    else if (arg === '--keep-up') options.keepUp = true
    else if (arg === '--report-from') options.reportFrom = argv[++i]
    else throw new Error(`unknown option ${arg} (see the header of bench/handover.mjs)`)
  }
  if (options.rounds < 1) throw new Error('--rounds must be at least 1')
  return options
}

const say = text => console.log(`handover-bench: ${text}`)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const epochMs = () => performance.timeOrigin + performance.now()
const load1 = () =>
  loadavg()
    .map(l => l.toFixed(2))
    .join(' ')

function droplet(script, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('bash', [join(DROPLET, script)], {
        env: { ...process.env, ...INSTANCE },
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 180_000
      })
      return
    } catch (error) {
      // Another instance on the same dockerd may be pruning ("a prune operation is already
      // running"): try again shortly.
      if (attempt >= attempts) throw error
      say(`${script} failed (${error.message}); trying again in 3 s`)
      execFileSync('sleep', ['3'])
    }
  }
}

function git(env, ...args) {
  return execFileSync('git', ['-C', env.WORK_DIR, ...args], {
    encoding: 'utf8',
    timeout: 60_000
  }).trim()
}

/** Commit files in the droplet's work clone and push them to origin (as e2e/harness.ts). */
function pushCommit(env, message, files = {}) {
  writeFileSync(join(env.WORK_DIR, 'bench.txt'), `${message} ${new Date().toISOString()}\n`)
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(env.WORK_DIR, name), content, { mode: 0o755 })
  git(env, 'add', '--all')
  git(env, 'commit', '--quiet', '--allow-empty', '-m', message)
  git(env, 'push', '--quiet', '--force', 'origin', 'HEAD:master')
  return git(env, 'rev-parse', 'HEAD')
}

// --- Caddy's config, through its admin API ------------------------------------------------------------
function caddyfile(env, retries) {
  const dir = join(INSTANCE.HERMES_DROPLET_STATE, 'caddy')
  const app = new URL(env.APP_URL)
  const proxy = new URL(env.PROXY_URL)
  const admin = new URL(env.CADDY_ADMIN)
  // As up.sh writes it, plus the retries.
  const upstream = retries
    ? `reverse_proxy ${app.hostname}:${app.port} {\n\t\tlb_try_duration 10s\n\t\tlb_try_interval 100ms\n\t}`
    : `reverse_proxy ${app.hostname}:${app.port}`
  return [
    '{',
    `\tadmin ${admin.hostname}:${admin.port}`,
    '\tauto_https off',
    `\tstorage file_system ${dir}/data`,
    '}',
    '',
    `http://${proxy.hostname}:${proxy.port} {`,
    `\tbind ${proxy.hostname}`,
    `\t${upstream}`,
    '}',
    ''
  ].join('\n')
}

function loadCaddy(env, retries) {
  const path = join(LOGS, retries ? 'Caddyfile.retry' : 'Caddyfile.plain')
  writeFileSync(path, caddyfile(env, retries))
  execFileSync(
    'curl',
    [
      '-fsS',
      '--max-time',
      '10',
      '-X',
      'POST',
      '-H',
      'Content-Type: text/caddyfile',
      '--data-binary',
      `@${path}`,
      `${env.CADDY_ADMIN}/load`
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 15_000 }
  )
}

/** Whether Caddy's running config has the retries (read back from the admin API). */
function caddyRetries(env) {
  const config = execFileSync('curl', ['-fsS', '--max-time', '5', `${env.CADDY_ADMIN}/config/`], {
    encoding: 'utf8',
    timeout: 10_000
  })
  return config.includes('"try_duration"')
}

// --- the action, run as a runner runs it (as bench/run.mjs and e2e/harness.ts do) ---------------------
async function runAction(ctx, inputs, { label, sha }) {
  const dir = join(LOGS, label)
  mkdirSync(dir, { recursive: true })
  const files = {
    event: join(dir, 'event.json'),
    output: join(dir, 'output'),
    summary: join(dir, 'summary.md'),
    state: join(dir, 'state')
  }
  writeFileSync(
    files.event,
    JSON.stringify({ ref: 'refs/heads/master', before: '0'.repeat(40), after: sha })
  )
  for (const file of [files.output, files.summary, files.state]) writeFileSync(file, '')
  const env = {
    PATH: `${dirname(ctx.node24)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: files.event,
    GITHUB_SHA: sha,
    GITHUB_REF: 'refs/heads/master',
    GITHUB_REPOSITORY: 'texasca/api',
    GITHUB_RUN_ID: '4242',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    RUNNER_TEMP: dir,
    GITHUB_API_URL: 'http://127.0.0.1:9',
    ...runnerInputs(inputs, { 'github.token': 'ghs_bench_token' })
  }
  const started = epochMs()
  const child = spawn(ctx.node24, [ACTION], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const append = chunk => {
    if (log.length < 2_000_000) log += chunk
  }
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', append)
  child.stderr.on('data', append)
  let timedOut = false
  const killer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, ACTION_TIMEOUT_MS)
  const code = await new Promise(resolve => child.on('close', c => resolve(c ?? 1)))
  clearTimeout(killer)
  const ended = epochMs()
  writeFileSync(join(dir, 'log.txt'), log)
  const outputs = {}
  // GITHUB_OUTPUT: name<<delimiter\nvalue\ndelimiter
  const text = readFileSync(files.output, 'utf8')
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]] = m[3]
  return {
    code,
    timedOut,
    started,
    ended,
    wallMs: ended - started,
    outputs,
    log,
    logPath: join(dir, 'log.txt')
  }
}

// --- one measured run ---------------------------------------------------------------------------------
async function measure(ctx, key, round) {
  const { env } = ctx
  const label = `${key}-r${round}`
  const failing = key.startsWith('fail')
  const handover = key.endsWith('handover')
  const retries = key.endsWith('retry')
  droplet('reset.sh')
  if (retries) {
    loadCaddy(env, true)
    if (!caddyRetries(env)) throw new Error('Caddy did not take the config with retries')
  }
  try {
    let sha
    if (key !== 'idle') {
      sha = pushCommit(
        env,
        `bench ${label}`,
        failing
          ? { 'build.sh': ctx.brokenBuild }
          : { 'build.sh': ctx.build, 'greeting.txt': `${label}\n` }
      )
    }
    // 'broken': served by the failing release. Its answers at / are busybox httpd's 404 page,
    // which does not name the commit; the only thing that answers 404 here is that release
    // (the baseline answers 200, Caddy with no upstream 502), so a 404 counts as broken too.
    const classify = (status, body) =>
      failing && (body.includes(sha) || status === 404)
        ? 'broken'
        : status === 200 && body.startsWith('commit=')
          ? 'good'
          : 'bad'
    const load = startLoad({
      url: env.PROXY_URL,
      clients: CLIENTS,
      maxSeconds: 180,
      maxRequests: 1_000_000,
      timeoutMs: 15_000,
      classify,
      keepSamples: true
    })
    const loadStarted = epochMs()
    let run
    let stats
    try {
      await sleep(1000)
      if (key === 'idle') {
        await sleep(IDLE_MS - 2000)
      } else {
        const inputs = {
          host: env.HOST,
          port: env.PORT,
          username: env.USERNAME,
          'ssh-key': readFileSync(env.KEY_PATH, 'utf8'),
          'host-fingerprint': env.HOST_FINGERPRINT,
          image: env.IMAGE,
          'repo-path': env.REPO_PATH,
          'build-command': env.BUILD_COMMAND,
          'health-command': env.HEALTH_COMMAND,
          'health-timeout': failing ? '10' : '15',
          'respawn-timeout': '30',
          'canary-seconds': '0',
          'stable-seconds': '0',
          ...(handover
            ? {
                handover: 'caddy',
                'app-port': String(APP_PORT),
                'standin-port': String(STANDIN_PORT),
                'caddy-admin': env.CADDY_ADMIN,
                'ready-path': '/'
              }
            : {})
        }
        run = await runAction(ctx, inputs, { label, sha })
      }
      await sleep(1000)
    } finally {
      stats = await load.stop()
    }
    const loadMs = epochMs() - loadStarted
    // What the failed requests came to: error codes and bad statuses, counted.
    const failedAs = {}
    for (const record of stats.samples ?? []) {
      if (record.outcome !== 'failed' && record.outcome !== 'bad') continue
      const what = record.error ?? String(record.status)
      failedAs[what] = (failedAs[what] ?? 0) + 1
    }
    delete stats.samples
    const result = {
      key,
      round,
      label,
      sha,
      stats,
      loadMs,
      failedAs,
      wallMs: run?.wallMs,
      code: run?.code,
      timedOut: run?.timedOut,
      deployed: run?.outputs.deployed,
      rolledBack: run?.outputs['rolled-back'],
      logPath: run?.logPath
    }
    // What the run should have done, so a wrong run is not measured silently.
    const problems = []
    if (run) {
      if (run.timedOut) problems.push('the action timed out')
      if (!failing && run.code !== 0) problems.push(`exit ${run.code}`)
      if (failing && run.code === 0) problems.push('the failing release deployed')
      if (handover && !failing && !/Caddy sends it/.test(run.log))
        problems.push('no handover in the log')
      if (key === 'fail-retry' && run.outputs['rolled-back'] !== 'true')
        problems.push('did not roll back')
    }
    result.problems = problems
    say(
      `${label}: ${stats.requests} requests, ${stats.failed} failed, ${stats.broken} broken, ` +
        `max ${stats.latency.max} ms, gap ${Math.round(stats.longestGapMs)} ms` +
        (run ? `, action ${(run.wallMs / 1000).toFixed(1)} s, exit ${run.code}` : '') +
        (problems.length ? ` — PROBLEM: ${problems.join('; ')} (${run.logPath})` : '')
    )
    return result
  } finally {
    if (retries) {
      try {
        loadCaddy(env, false)
      } catch (error) {
        say(`could not put Caddy's config back: ${error.message} (reset.sh will)`)
      }
    }
  }
}

/** One health check as the action runs it on the host (the health command, locally), ms. */
function healthCheckMs(env) {
  const times = []
  for (let i = 0; i < 5; i++) {
    const start = epochMs()
    spawnSync('bash', ['-c', env.HEALTH_COMMAND], { stdio: 'ignore', timeout: 10_000 })
    times.push(epochMs() - start)
  }
  return median(times)
}

// --- the report ---------------------------------------------------------------------------------------
function median(values) {
  const v = values.filter(x => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}
const maxOf = values => {
  const v = values.filter(x => typeof x === 'number' && Number.isFinite(x))
  return v.length ? Math.max(...v) : null
}
const s1 = ms => (ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(1))
const ms1 = ms => (ms === null || ms === undefined ? '–' : ms.toFixed(1))

function report(data) {
  const { runs, machine, options, roundsRun, healthMs } = data
  const of = key => runs.filter(r => r.key === key)
  const medianStats = rs => ({
    requests: Math.round(median(rs.map(r => r.stats.requests))),
    failed: median(rs.map(r => r.stats.failed)),
    broken: median(rs.map(r => r.stats.broken)),
    latency: {
      p50: median(rs.map(r => r.stats.latency.p50)),
      p99: median(rs.map(r => r.stats.latency.p99)),
      max: median(rs.map(r => r.stats.latency.max))
    },
    longestGapMs: median(rs.map(r => r.stats.longestGapMs))
  })
  const header = LOAD_TABLE_HEADER.split('\n')
  const lines = []
  const push = (...l) => lines.push(...l)
  push(
    '# The zero-downtime handover under load',
    '',
    'Written by `node bench/handover.mjs`' +
      (roundsRun < options.rounds
        ? ` (asked for ${options.rounds} rounds; ${roundsRun} ran within --max-minutes ${options.maxMinutes}).`
        : ` (${roundsRun} round${roundsRun === 1 ? '' : 's'}).`),
    '',
    `- Date: ${new Date(data.started).toISOString()}, ${s1(data.finished - data.started)} s in all.`,
    `- Machine: ${machine.cpus} CPUs (${machine.cpu}); load average (1, 5, 15 min) ${machine.loadStart} at the start, ${machine.loadEnd} at the end. The machine is shared and busy (other builds and tests run on it), so the timings are noisy; compare the rows with each other, not with another machine.`,
    `- The action: \`dist/index.js\` on Node 24, as a runner runs it, against the droplet instance in ${INSTANCE.HERMES_DROPLET_STATE} (local dockerd, sshd on loopback, a supervisor that respawns the app 1 s after it stops, Caddy 2.6 in front). \`canary-seconds: 0\`, \`stable-seconds: 0\`; \`health-timeout: 10\` for the failing release. The droplet is reset before every run; the order of the runs is rotated and reversed from round to round.`,
    `- The load: ${CLIENTS} clients, a fresh connection per request, through Caddy (${data.proxyUrl}), from 1 s before the action starts to 1 s after it exits. "failed": errors, timeouts and non-good answers that are not broken; "broken": answers from the failing release (its 404 at /); "max ms": the longest wait of a good answer; "longest gap": the longest stretch with no good answer completing.`,
    `- Caddy without retries is the droplet's Caddyfile as up.sh writes it; "Caddy retries" loads the same with \`lb_try_duration 10s\` and \`lb_try_interval 100ms\` in \`reverse_proxy\` through the admin API, and the original is loaded back after the run.`,
    '',
    '## Requests during the run (median over rounds)',
    '',
    header[0] + ' failed, worst round | max ms, worst round | runs with problems |',
    header[1] + ' ------------------- | ------------------- | ------------------ |'
  )
  for (const [key, name] of SCENARIOS) {
    const rs = of(key)
    if (rs.length === 0) continue
    push(
      formatLoadRow(name, medianStats(rs)) +
        ` ${maxOf(rs.map(r => r.stats.failed))} | ${ms1(maxOf(rs.map(r => r.stats.latency.max)))} | ${rs.filter(r => r.problems.length).length} of ${rs.length} |`
    )
  }

  // Wall time: the handover against the runbook's path, paired by round.
  const wall = key => median(of(key).map(r => r.wallMs))
  const pairs = (a, b) =>
    of(a)
      .map(r => {
        const other = of(b).find(o => o.round === r.round)
        return other ? r.wallMs - other.wallMs : undefined
      })
      .filter(x => x !== undefined)
  const extra = median(pairs('handover', 'runbook'))
  const extraFail = median(pairs('fail-handover', 'fail-retry'))
  push(
    '',
    "## The action's wall time (s)",
    '',
    '| | runbook path | handover | handover − runbook, median of the rounds’ pairs |',
    '| - | ------------ | -------- | ----------------------------------------------- |',
    `| deploy (runbook: Caddy without retries) | ${s1(wall('runbook'))} | ${s1(wall('handover'))} | ${s1(extra)} |`,
    `| deploy (runbook: Caddy retries) | ${s1(wall('runbook-retry'))} | ${s1(wall('handover'))} | ${s1(median(pairs('handover', 'runbook-retry')))} |`,
    `| failing release (runbook: Caddy retries; rolls back) | ${s1(wall('fail-retry'))} | ${s1(wall('fail-handover'))} | ${s1(extraFail)} |`,
    '',
    `One health check (the health command, run on the host): ${ms1(healthMs)} ms (median of 5).`
  )

  // The targets.
  const hand = of('handover')
  const failHand = of('fail-handover')
  const idleMax = median(of('idle').map(r => r.stats.latency.max))
  const handMaxMedian = median(hand.map(r => r.stats.latency.max))
  const handMaxWorst = maxOf(hand.map(r => r.stats.latency.max))
  const failedRounds = rs => rs.filter(r => r.stats.failed > 0).length
  const targetWall = 2000 + (healthMs ?? 0)
  const verdict = ok => (ok ? 'met' : '**missed**')
  const t1 = failedRounds(hand) === 0 && failedRounds(failHand) === 0
  const t2 = handMaxWorst !== null && idleMax !== null && handMaxWorst <= 2 * idleMax
  const t2median = handMaxMedian !== null && idleMax !== null && handMaxMedian <= 2 * idleMax
  const t3 = failHand.every(r => r.stats.broken === 0)
  const t4 = extra !== null && extra <= targetWall
  const rb = of('runbook')
  const rr = of('runbook-retry')
  const fr = of('fail-retry')
  push(
    '',
    '## Against the targets',
    '',
    '| target | result | |',
    '| ------ | ------ | - |',
    `| the handover deploy and the failing release with the handover fail 0 requests in every round | failed in ${failedRounds(hand)} of ${hand.length} deploy rounds (worst ${maxOf(hand.map(r => r.stats.failed))}), ${failedRounds(failHand)} of ${failHand.length} failing-release rounds (worst ${maxOf(failHand.map(r => r.stats.failed))}) | ${verdict(t1)} |`,
    `| the longest wait of a request during a handover deploy ≤ 2 × idle's (idle max: median ${ms1(idleMax)} ms, so ≤ ${ms1(idleMax === null ? null : 2 * idleMax)} ms) | median over rounds ${ms1(handMaxMedian)} ms, worst round ${ms1(handMaxWorst)} ms | ${t2 ? 'met in every round' : t2median ? '**missed** in the worst round, met by the median' : verdict(false)} |`,
    `| a failing release never answers with the handover (0 broken) | broken ${failHand.map(r => r.stats.broken).join(', ')} | ${verdict(t3)} |`,
    `| the handover's extra wall time < 2 s + one health check (${s1(targetWall)} s) | ${s1(extra)} s (median of the rounds' pairs) | ${verdict(t4)} |`,
    ''
  )

  // The sentences.
  const sentences = []
  sentences.push(
    `On the runbook's path Caddy without retries failed a median of ${median(rb.map(r => r.stats.failed))} requests per deploy (worst ${maxOf(rb.map(r => r.stats.failed))}, longest gap ${ms1(median(rb.map(r => r.stats.longestGapMs)))} ms); with retries it failed ${median(rr.map(r => r.stats.failed))} (worst ${maxOf(rr.map(r => r.stats.failed))}) but held requests up to ${ms1(median(rr.map(r => r.stats.latency.max)))} ms (median of the rounds' max), against ${ms1(idleMax)} ms when idle.`
  )
  sentences.push(
    t1
      ? `With the handover no request failed in any round, neither during a deploy nor with the failing release.`
      : `With the handover requests failed in ${failedRounds(hand)} of ${hand.length} deploy rounds and ${failedRounds(failHand)} of ${failHand.length} failing-release rounds: the "0 failed in every round" target is missed (see the raw runs below).`
  )
  sentences.push(
    t2
      ? `The longest wait of a good answer during a handover deploy (${ms1(handMaxMedian)} ms by the median, ${ms1(handMaxWorst)} ms in the worst round) stayed within 2 × idle's (${ms1(idleMax)} ms, the median of the idle rounds' max).`
      : `The longest wait during a handover deploy was ${ms1(handMaxMedian)} ms by the median and ${ms1(handMaxWorst)} ms in the worst round, against idle's ${ms1(idleMax)} ms: the "≤ 2 × idle" target is ${t2median ? 'met by the median but missed in the worst round' : 'missed'}.`
  )
  sentences.push(
    `A release that serves 404 answered ${median(fr.map(r => r.stats.broken))} requests (median; worst ${maxOf(fr.map(r => r.stats.broken))}) on the runbook's path behind retries before the rollback, and ${t3 ? '0 in every round with the handover (target met)' : `${failHand.map(r => r.stats.broken).join(', ')} with the handover (target missed)`}.`
  )
  sentences.push(
    `The handover cost ${s1(extra)} s of wall time over the runbook's path (median of the rounds' pairs; ${s1(wall('runbook'))} s vs ${s1(wall('handover'))} s), ${t4 ? 'under' : '**over**'} the target of 2 s plus one health check (${s1(targetWall)} s).`
  )
  push(sentences.join(' '), '')

  push(
    '## Raw runs',
    '',
    header[0] + ' failed as | action s | exit | problems |',
    header[1] + ' --------- | -------- | ---- | -------- |',
    ...runs.map(
      r =>
        formatLoadRow(r.label, r.stats) +
        ` ${
          Object.entries(r.failedAs ?? {})
            .map(([what, n]) => `${what} × ${n}`)
            .join(', ') || '–'
        } | ${s1(r.wallMs)} | ${r.code ?? '–'} | ${r.problems.join('; ').replace(/\|/g, '\\|') || '–'} |`
    ),
    '',
    `Logs of every run: \`${LOGS}/<run>/log.txt\`; the figures: \`${LOGS}/results.json\`.`,
    ''
  )
  return lines.join('\n')
}

function writeReport(data, out) {
  writeFileSync(out, report(data))
  const prettier = join(ROOT, 'node_modules', '.bin', 'prettier')
  if (existsSync(prettier))
    spawnSync(prettier, ['--write', '--log-level', 'warn', out], {
      stdio: 'inherit',
      timeout: 60_000
    })
  say(`wrote ${out}`)
  console.log(readFileSync(out, 'utf8'))
}

// --- main ---------------------------------------------------------------------------------------------
async function main() {
  const options = parseArgs(process.argv.slice(2))
  if (options.reportFrom) {
    const data = JSON.parse(readFileSync(options.reportFrom, 'utf8'))
    writeReport(data, options.out)
    return
  }
  if (process.getuid?.() !== 0) throw new Error('run as root (it runs the droplet scripts)')
  if (!existsSync(ACTION)) throw new Error(`${ACTION} is missing`)
  // The watchdog: the process ends even if something hangs.
  const watchdog = setTimeout(
    () => {
      console.error('handover-bench: ERROR: the watchdog ended the run')
      try {
        droplet('down.sh')
      } catch {
        // as it can
      }
      process.exit(2)
    },
    (options.maxMinutes + 8) * 60_000
  )
  watchdog.unref()
  const started = Date.now()
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadStart: load1() }
  say(`machine: ${machine.cpus} CPUs, load ${machine.loadStart}`)
  const node24 = execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000
  }).trim()
  mkdirSync(LOGS, { recursive: true })
  say(`bringing up the droplet instance ${INSTANCE.HERMES_DROPLET_STATE}`)
  droplet('up.sh')
  const env = JSON.parse(readFileSync(join(INSTANCE.HERMES_DROPLET_STATE, 'env.json'), 'utf8'))
  if (
    env.CONTAINER !== INSTANCE.HERMES_DROPLET_CONTAINER ||
    env.PORT !== INSTANCE.HERMES_DROPLET_SSH_PORT
  )
    throw new Error('the droplet came up with another instance; refusing to go on')
  for (const url of [env.PROXY_URL, env.APP_URL, env.CADDY_ADMIN])
    if (new URL(url).hostname !== '127.0.0.1') throw new Error(`not on loopback: ${url}`)

  const build = readFileSync(join(ROOT, 'e2e', 'sample-app', 'build.sh'), 'utf8')
  // The release serves, but 404 at /: its build writes no index.html (as e2e/handover.test.ts).
  const brokenBuild = build.replace(
    'printf \'commit=%s\\nmessage=%s\\n\' "$sha" "$subject" >build/index.html',
    'printf \'commit=%s\\n\' "$sha" >build/other.html'
  )
  if (brokenBuild === build) throw new Error('could not break e2e/sample-app/build.sh')
  const ctx = { env, node24, build, brokenBuild }

  const runs = []
  let roundsRun = 0
  let healthMs
  const deadline = started + options.maxMinutes * 60_000
  try {
    healthMs = healthCheckMs(env)
    for (let round = 1; round <= options.rounds; round++) {
      if (Date.now() > deadline) {
        say(`--max-minutes ${options.maxMinutes} reached: no more rounds`)
        break
      }
      const keys = SCENARIOS.map(([key]) => key)
      const shift = (round - 1) % keys.length
      let order = [...keys.slice(shift), ...keys.slice(0, shift)]
      if (round % 2 === 0) order = order.reverse()
      say(`round ${round}/${options.rounds}: ${order.join(', ')}`)
      for (const key of order) runs.push(await measure(ctx, key, round))
      roundsRun = round
      // Keep what ran so far, in case a later round hangs.
      writeFileSync(
        join(LOGS, 'results.json'),
        JSON.stringify({
          runs,
          machine,
          options,
          roundsRun,
          healthMs,
          started,
          proxyUrl: env.PROXY_URL
        })
      )
    }
  } finally {
    try {
      droplet('reset.sh')
    } catch (error) {
      say(`could not reset the droplet: ${error.message}`)
    }
    if (!options.keepUp) {
      try {
        droplet('down.sh')
      } catch (error) {
        say(`could not stop the droplet: ${error.message}`)
      }
    }
  }
  machine.loadEnd = load1()
  const data = {
    runs,
    machine,
    options,
    roundsRun,
    healthMs,
    started,
    finished: Date.now(),
    proxyUrl: env.PROXY_URL
  }
  writeFileSync(join(LOGS, 'results.json'), JSON.stringify(data))
  writeReport(data, options.out)
  clearTimeout(watchdog)
}

main().catch(error => {
  console.error(`handover-bench: ERROR: ${error.message}`)
  process.exit(1)
})
