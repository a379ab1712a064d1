import { readFileSync } from 'node:fs'
import parseDuration from 'parse-duration'
import { isIP } from 'node:net'
import { utils as sshUtils } from 'ssh2'
import {
  DECLARED_DEFAULTS,
  declaredDefault,
  Input,
  InputError,
  type DefaultedInput,
  type InputName
} from './action-io.js'
import type { RunContext } from './github/context.js'
import { parsePatterns } from './github/paths.js'
import type { Respawn } from './recreate.js'

/** Every input of action.yml, read and checked into one object before anything connects. */
export interface Settings {
  /** The first of `hosts`: where the release is built. */
  host: string
  /** Every host to deploy to, in order, each with its SSH port (`port` unless given as host:port). */
  hosts: HostAddress[]
  /** Hosts replaced at once after the first. */
  maxParallel: number
  port: number
  username: string
  /** From `ssh-key`, or read from `ssh-key-path`; absent when only `password` is given. */
  sshKey?: string
  password?: string
  /** A bastion to connect through (`proxy-*` inputs). */
  proxy?: ProxySettings
  ciphers?: string[]
  /** `NAME=value` lines given to the build command only. */
  buildEnv: string[]
  sshPassphrase?: string
  hostFingerprint?: string
  knownHosts?: string
  strictHostKey: boolean
  image: ImageRef
  container?: string
  adminContainer?: string
  repoPath: string
  branch: string
  ref: string
  buildCommand: string
  /** Run in the admin container after the commit, before the canary: migrations. */
  preDeployCommand?: string
  /** Run on the host once the release is confirmed healthy. */
  postDeployCommand?: string
  /** A failing post-deploy command fails the job (production keeps the release either way). */
  postDeployMustPass?: boolean
  healthCommand?: string
  healthTimeoutSec: number
  respawnTimeoutSec: number
  /** How long production may take to stop; undefined: the container's own StopTimeout. */
  stopTimeoutSec?: number
  commandTimeoutSec: number
  connectTimeoutSec: number
  lockTimeoutSec: number
  rollback: boolean
  dryRun: boolean
  githubToken?: string
  /** Deploy only when a changed file matches (GitHub's `on.push.paths` rules). */
  paths: string[]
  environment?: string
  environmentUrl?: string
  /** Past this many layers the release is written as a flattened image. */
  maxLayers: number
  keepReleases: number
  canarySeconds: number
  canaryCommand?: string
  canaryTimeoutSec: number
  stableSeconds: number
  /** `previous` or a retained commit: roll back instead of deploying. */
  rollbackTo?: string
  /** Build and release even when production runs `ref` already, or `paths` matches nothing. */
  force: boolean
  /** Production is this Docker Swarm service (also detected from the task container's label). */
  service?: string
  /** Where a Swarm release is pushed: `host[:port][/namespace]`. */
  registry?: string
  registryUsername?: string
  registryPassword?: string
  /** How long Swarm's rolling update may take to converge or roll back. */
  updateTimeoutSec: number
  /** Swarm's `--update-order`; undefined: the service's own. */
  updateOrder?: 'start-first' | 'stop-first'
  /** Who brings production back once stopped; `auto`: read from its restart policy. */
  respawn?: 'auto' | Respawn
  /** The zero-downtime handover through the host's reverse proxy; undefined: the runbook's respawn. */
  handover?: HandoverSettings
}

/** `handover` and its inputs: how a stand-in takes production's traffic while it is replaced. */
export interface HandoverSettings {
  proxy: 'caddy'
  /** The host port production serves on: what the proxy's upstream dials. */
  appPort: number
  /** A free host port for the stand-in. */
  standinPort: number
  /** On the host network, the variable the app reads its port from. */
  portVariable: string
  /** Must answer 2xx or 3xx before a container gets traffic. */
  readyPath: string
  /** Caddy's admin API, as reached on the host. */
  caddyAdmin: string
}

export interface HostAddress {
  host: string
  port: number
}

/** `host:port` as people write it; `[v6]:port` for IPv6. */
export function addressLabel(address: HostAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
}

export interface ProxySettings {
  host: string
  port: number
  username: string
  sshKey?: string
  sshPassphrase?: string
  password?: string
  hostFingerprint?: string
  knownHosts?: string
}

export interface ImageRef {
  /** `texasca/api` */
  repository: string
  /** `latest` unless given */
  tag: string
  /** `texasca/api:latest` */
  name: string
}

/** Reads one input by its action.yml name; '' when unset (as @actions/core's getInput). */
export type InputReader = (name: InputName) => string

/**
 * Whether the workflow asked for something with this input: set, and not to its declared default.
 * A runner passes every declared input with its default, so presence says nothing of intent.
 */
function setByWorkflow(read: InputReader, name: InputName): boolean {
  const value = read(name).trim()
  return value !== '' && value !== declaredDefault(name)
}

/** The ways an input is read: raw, trimmed and checked, optional, or with its declared default. */
interface Inputs {
  read: InputReader
  get: (name: InputName) => string
  optional: (name: InputName) => string | undefined
  value: (name: DefaultedInput) => string
}

export function readSettings(read: InputReader, run: RunContext): Settings {
  const get = (name: InputName) => clean(name, read(name))
  const inputs: Inputs = {
    read,
    get,
    optional: name => get(name) || undefined,
    value: name => get(name) || DECLARED_DEFAULTS[name]
  }
  const settings: Settings = {
    ...connection(inputs),
    ...production(inputs, run),
    ...release(inputs),
    ...github(inputs),
    ...swarm(read, get),
    ...hooks(inputs),
    respawn: respawn(inputs),
    handover: handover(inputs)
  }
  if (settings.handover && settings.service) {
    throw new InputError(
      Input.Handover,
      `is for a container that a supervisor respawns; production is the Swarm service ${settings.service}: set \`update-order: start-first\` instead.`
    )
  }
  if (settings.service && settings.hosts.length > 1) {
    throw new InputError(
      Input.Host,
      `lists ${settings.hosts.length} hosts, but production is the Swarm service ${settings.service}: Swarm rolls the release out to its nodes. List one manager node.`
    )
  }
  if (settings.container && settings.adminContainer === settings.container) {
    throw new InputError(
      Input.AdminContainer,
      `'${settings.adminContainer}' is the production container named by \`container\`; set \`admin-container\` to another name.`
    )
  }
  return settings
}

/** Where to connect and how: the hosts, the user, the key or password, the host-key pins. */
function connection({ read, get, optional, value }: Inputs) {
  const sshPassphrase = read(Input.SshPassphrase) || undefined
  const password = read(Input.Password) || undefined
  const sshKey = privateKey(
    read,
    Input.SshKey,
    Input.SshKeyPath,
    Input.SshPassphrase,
    sshPassphrase
  )
  if (!sshKey && !password) {
    throw new InputError(
      Input.SshKey,
      'is required (or `ssh-key-path`, or `password`): the private deploy key, OpenSSH or PEM format.'
    )
  }
  const hosts = hostList(read(Input.Host), integer(Input.Port, value(Input.Port), 1, 65535))
  const hostFingerprint = fingerprint(Input.HostFingerprint, optional(Input.HostFingerprint))
  if (hostFingerprint && hosts.length > 1) {
    throw new InputError(
      Input.HostFingerprint,
      'pins one host key, but `host` lists several hosts: pin each with `ssh-known-hosts` (one line per host key, as ssh-keyscan prints them).'
    )
  }
  const knownHosts = read(Input.SshKnownHosts).trim() || undefined
  if (hostFingerprint && knownHosts) {
    throw new InputError(
      Input.SshKnownHosts,
      'is set together with `host-fingerprint`; set one of the two, so it is clear which pins the host key.'
    )
  }
  return {
    host: hosts[0].host,
    hosts,
    maxParallel: integer(Input.MaxParallel, value(Input.MaxParallel), 1, 100),
    port: hosts[0].port,
    username: username(Input.Username, value(Input.Username)),
    sshKey,
    sshPassphrase,
    password,
    proxy: proxy(read, get, value),
    ciphers: list(read(Input.Ciphers)),
    hostFingerprint,
    knownHosts,
    strictHostKey: boolean(Input.SshStrict, value(Input.SshStrict)),
    connectTimeoutSec: duration(Input.ConnectTimeout, value(Input.ConnectTimeout), 1, 600),
    lockTimeoutSec: duration(Input.LockTimeout, value(Input.LockTimeout), 0, 6 * 3600)
  }
}

/** One host per line (or comma-separated), each `host` or `host:port`; the first builds the release. */
function hostList(value: string, port: number): HostAddress[] {
  const hosts = value
    .split(/[\n,]/)
    .map(h => h.trim())
    .filter(Boolean)
    .map(line => {
      const withPort = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(line)
      if (!withPort) return { host: hostName(Input.Host, line), port }
      return {
        host: hostName(Input.Host, withPort[1] ?? withPort[2]),
        port: integer(Input.Host, withPort[3], 1, 65535)
      }
    })
  if (hosts.length === 0) hostName(Input.Host, '')
  if (new Set(hosts.map(addressLabel)).size !== hosts.length)
    throw new InputError(Input.Host, 'lists a host twice.')
  return hosts
}

/** What production is, and how a release of it is made: the runbook's steps 3 to 9. */
function production({ read, get, optional, value }: Inputs, run: RunContext) {
  const ref = optional(Input.Ref) ?? run.sha
  if (!ref) {
    throw new InputError(
      Input.Ref,
      'no commit to deploy: the event has none, so set `ref` to a commit SHA.'
    )
  }
  const container = optional(Input.Container)
  const adminContainer = optional(Input.AdminContainer)
  const shellCode = (name: InputName) =>
    read(name).trim() ? command(name, read(name).trim()) : undefined
  return {
    image: imageRef(get(Input.Image)),
    container: container && containerName(Input.Container, container),
    adminContainer: adminContainer && containerName(Input.AdminContainer, adminContainer),
    repoPath: absolutePath(Input.RepoPath, get(Input.RepoPath)),
    branch: gitRef(Input.Branch, optional(Input.Branch) ?? run.branch ?? 'master'),
    ref: gitRef(Input.Ref, ref),
    buildEnv: buildEnv(read(Input.BuildEnv)),
    buildCommand: shellCode(Input.BuildCommand) ?? DECLARED_DEFAULTS[Input.BuildCommand],
    commandTimeoutSec: duration(Input.CommandTimeout, value(Input.CommandTimeout), 1, 6 * 3600),
    healthCommand: shellCode(Input.HealthCommand),
    canaryCommand: shellCode(Input.CanaryCommand)
  }
}

/** The deploy hooks: shell code run before the canary (in the admin container) and after the swap. */
function hooks({
  read,
  value
}: Inputs): Pick<Settings, 'preDeployCommand' | 'postDeployCommand' | 'postDeployMustPass'> {
  const shellCode = (name: InputName) =>
    read(name).trim() ? command(name, read(name).trim()) : undefined
  const postDeployCommand = shellCode(Input.PostDeployCommand)
  const postDeployMustPass = boolean(Input.PostDeployMustPass, value(Input.PostDeployMustPass))
  if (postDeployMustPass && !postDeployCommand) {
    throw new InputError(
      Input.PostDeployMustPass,
      'is true but `post-deploy-command` is not set; set the command it is about, or remove it.'
    )
  }
  return {
    preDeployCommand: shellCode(Input.PreDeployCommand),
    postDeployCommand,
    postDeployMustPass
  }
}

/** How a release goes out and is kept: the canary, the swap's waits, rollback, retention. */
function release({ get, value }: Inputs) {
  return {
    healthTimeoutSec: duration(Input.HealthTimeout, value(Input.HealthTimeout), 1, 3600),
    respawnTimeoutSec: duration(Input.RespawnTimeout, value(Input.RespawnTimeout), 1, 3600),
    stopTimeoutSec: get(Input.StopTimeout)
      ? duration(Input.StopTimeout, get(Input.StopTimeout), 0, 3600)
      : undefined,
    rollback: boolean(Input.Rollback, value(Input.Rollback)),
    dryRun: boolean(Input.DryRun, value(Input.DryRun)),
    force: boolean(Input.Force, value(Input.Force)),
    maxLayers: integer(Input.MaxLayers, value(Input.MaxLayers), 2, 120),
    keepReleases: integer(Input.KeepReleases, value(Input.KeepReleases), 1, 1000),
    canarySeconds: duration(Input.CanarySeconds, value(Input.CanarySeconds), 0, 600),
    canaryTimeoutSec: duration(Input.CanaryTimeout, value(Input.CanaryTimeout), 1, 3600),
    stableSeconds: duration(Input.StableSeconds, value(Input.StableSeconds), 0, 3600),
    rollbackTo: rollbackTarget(get(Input.RollbackTo)),
    updateTimeoutSec: duration(Input.UpdateTimeout, value(Input.UpdateTimeout), 1, 6 * 3600)
  }
}

/** The GitHub side: the token, the path filter, the environment. */
function github({ read, get, optional }: Inputs) {
  return {
    githubToken: read(Input.GithubToken).trim() || undefined,
    paths: parsePatterns(read(Input.Paths)),
    environment: optional(Input.Environment),
    environmentUrl: url(Input.EnvironmentUrl, get(Input.EnvironmentUrl))
  }
}

function respawn({ value }: Inputs): Settings['respawn'] {
  const given = value(Input.Respawn)
  if (['auto', 'supervisor', 'restart-policy', 'compose'].includes(given))
    return given as Settings['respawn']
  throw new InputError(
    Input.Respawn,
    `'${given}' is not a way production comes back; use auto, supervisor, restart-policy or compose.`
  )
}

/** The zero-downtime handover's inputs: all are read only when `handover` is not `none`. */
function handover({ get, optional, value }: Inputs): HandoverSettings | undefined {
  const proxy = value(Input.Handover)
  if (proxy === 'none') return undefined
  if (proxy !== 'caddy') {
    throw new InputError(
      Input.Handover,
      `'${proxy}' is not a handover this action knows; use none or caddy (nginx is not supported yet).`
    )
  }
  const port = (name: InputName) => integer(name, get(name), 1, 65535)
  if (!optional(Input.AppPort)) {
    throw new InputError(
      Input.AppPort,
      "is required with `handover`: the host port production serves on, as your Caddyfile's reverse_proxy names it (e.g. 8080)."
    )
  }
  const appPort = port(Input.AppPort)
  const standinPort = optional(Input.StandinPort) ? port(Input.StandinPort) : appPort + 1
  if (standinPort === appPort || standinPort > 65535) {
    throw new InputError(
      Input.StandinPort,
      `must be a free port other than \`app-port\` (${appPort}); set it, e.g. ${appPort === 65535 ? appPort - 1 : appPort + 1}.`
    )
  }
  const portVariable = value(Input.PortVariable)
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(portVariable)) {
    throw new InputError(
      Input.PortVariable,
      `'${portVariable}' is not an environment variable name (letters, digits and '_', not starting with a digit).`
    )
  }
  const readyPath = value(Input.ReadyPath)
  if (!/^\/[A-Za-z0-9._~!$&()*+,;=:@%/?-]*$/.test(readyPath)) {
    throw new InputError(
      Input.ReadyPath,
      `'${readyPath}' is not a URL path: it starts with / and has no spaces or quotes, e.g. /health.`
    )
  }
  return {
    proxy,
    appPort,
    standinPort,
    portVariable,
    readyPath,
    caddyAdmin: adminUrl(value(Input.CaddyAdmin))
  }
}

/** Caddy's admin endpoint: `http://host:port`, nothing after it. */
function adminUrl(value: string): string {
  try {
    const parsed = new URL(value)
    if (
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      !parsed.username &&
      !parsed.password &&
      parsed.pathname === '/' &&
      !parsed.search &&
      !parsed.hash
    )
      return parsed.origin
  } catch {
    // reported below
  }
  throw new InputError(
    Input.CaddyAdmin,
    `'${value}' is not the address of Caddy's admin API: http://host:port, e.g. http://localhost:2019 (Caddy's \`admin\` option).`
  )
}

/** Trim and refuse control characters: they are never part of a legitimate single-line value. */
function clean(name: InputName, value: string): string {
  const trimmed = value.trim()
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InputError(
      name,
      'contains a control character (a newline or tab?); give a single-line value.'
    )
  }
  return trimmed
}

function hostName(name: InputName, value: string): string {
  if (!value) throw new InputError(name, 'is required: the droplet IP address or host name.')
  const bare = value.replace(/^\[(.*)\]$/, '$1')
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/
  if (isIP(bare) || (bare.length <= 253 && bare.split('.').every(part => label.test(part))))
    return bare
  throw new InputError(name, `'${value}' is not an IP address or host name.`)
}

function username(name: InputName, value: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(value)) return value
  throw new InputError(name, `'${value}' is not a valid user name.`)
}

function integer(name: InputName, value: string, min: number, max: number): number {
  if (/^\d+$/.test(value)) {
    const n = Number(value)
    if (n >= min && n <= max) return n
  }
  throw new InputError(name, `'${value}' is not a whole number from ${min} to ${max}.`)
}

/**
 * A time input: whole seconds (`90`), or numbers with units as users of SSH actions write them
 * (`30s`, `10m`, `1h30m`, `1.5m`); read by parse-duration once the form is checked, since the
 * library also takes phrases (`2 minutes`) and negatives that a workflow should not rely on.
 */
function duration(name: InputName, value: string, min: number, max: number): number {
  const ms = /^\d+$/.test(value)
    ? Number(value) * 1000
    : /^(\d+(\.\d+)?[hms])+$/.test(value)
      ? parseDuration(value)
      : null
  // To the millisecond first: 1.1m is 66000.00000000001 ms in floating point.
  const seconds = ms === null ? NaN : Math.round(ms) / 1000
  if (!Number.isInteger(seconds)) {
    throw new InputError(
      name,
      `'${value}' is not a duration in whole seconds. Write seconds (90) or numbers with h, m and s (30s, 10m, 1h30m).`
    )
  }
  if (seconds < min || seconds > max) {
    throw new InputError(name, `'${value}' is ${seconds} s; give ${min} s to ${max} s.`)
  }
  return seconds
}

function boolean(name: InputName, value: string): boolean {
  if (/^(true|yes|on)$/i.test(value)) return true
  if (/^(false|no|off)$/i.test(value)) return false
  throw new InputError(name, `'${value}' is not a boolean; use true or false.`)
}

// Docker's reference grammar (distribution/reference), without a digest: we commit to a tag.
const DOMAIN = String.raw`(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*(?::[0-9]+)?`
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
const REFERENCE = new RegExp(
  String.raw`^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?$`
)

export function imageRef(value: string): ImageRef {
  if (!value)
    throw new InputError(Input.Image, 'is required: the image to update, e.g. texasca/api.')
  const match = REFERENCE.exec(value)
  if (!match || match[1].length > 255) {
    throw new InputError(
      Input.Image,
      `'${value}' is not an image reference. Expected repository[:tag] in lower case, e.g. texasca/api or texasca/api:latest (no digest: the action commits to a tag).`
    )
  }
  const repository = match[1]
  const tag = match[2] ?? 'latest'
  return { repository, tag, name: `${repository}:${tag}` }
}

function containerName(input: InputName, value: string): string {
  const name = value.replace(/^\//, '')
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]+$/.test(name)) return name
  throw new InputError(
    input,
    `'${value}' is not a container name (letters, digits, '_', '.', '-'; at least two characters).`
  )
}

function absolutePath(name: InputName, value: string): string {
  if (!value)
    throw new InputError(
      name,
      'is required: the app’s git checkout inside the container, e.g. /srv/app.'
    )
  if (!value.startsWith('/') || value.split('/').includes('..')) {
    throw new InputError(name, `'${value}' is not an absolute path without '..' segments.`)
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value
}

/** git check-ref-format's rules, so a ref can never be read as an option or a revision range. */
function gitRef(name: InputName, value: string): string {
  const bad =
    !value ||
    value.startsWith('-') ||
    value.startsWith('/') ||
    value.endsWith('/') ||
    value.endsWith('.') ||
    value.endsWith('.lock') ||
    value === '@' ||
    // eslint-disable-next-line no-control-regex
    /\.\.|\/\/|@\{|[\s~^:?*[\\\u0000-\u001f\u007f]/.test(value) ||
    value.split('/').some(part => part.startsWith('.'))
  if (bad) {
    throw new InputError(
      name,
      `'${value}' is not a valid git ${name === Input.Branch ? 'branch name' : 'commit or ref'}.`
    )
  }
  return value
}

function url(name: InputName, value: string): string | undefined {
  if (!value) return undefined
  try {
    const parsed = new URL(value)
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') return value
  } catch {
    // reported below
  }
  throw new InputError(name, `'${value}' is not an http(s) URL.`)
}

function rollbackTarget(value: string): string | undefined {
  if (!value) return undefined
  if (value === 'previous' || /^[0-9a-f]{7,40}$/.test(value)) return value
  throw new InputError(
    Input.RollbackTo,
    `'${value}' is neither \`previous\` nor a commit SHA (7 to 40 hex digits).`
  )
}

function command(name: InputName, value: string): string {
  if (value.includes('\0')) throw new InputError(name, 'contains a NUL byte.')
  return value
}

/** `SHA256:` and 43 base64 digits; the `=` padding some tools print is dropped, as ssh-keygen does. */
function fingerprint(name: InputName, value: string | undefined): string | undefined {
  if (value && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) {
    throw new InputError(
      name,
      `'${value}' is not a SHA256 fingerprint. Expected the form ssh-keygen -lf prints, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s.`
    )
  }
  return value?.replace(/=$/, '')
}

/** The key pasted in `keyInput`, or read from the runner's file at `pathInput`; checked. */
function privateKey(
  read: InputReader,
  keyInput: InputName,
  pathInput: InputName,
  passphraseInput: InputName,
  passphrase: string | undefined
): string | undefined {
  const pasted = normalizeKey(read(keyInput))
  const path = read(pathInput).trim()
  if (pasted && path)
    throw new InputError(pathInput, `is set together with \`${keyInput}\`; give the key one way.`)
  let key = pasted
  if (path) {
    try {
      key = normalizeKey(readFileSync(path, 'utf8'))
    } catch (error) {
      throw new InputError(
        pathInput,
        `cannot read '${path}' on the runner: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`
      )
    }
  }
  if (!key) return undefined
  checkKey(key, passphrase, path ? pathInput : keyInput, passphraseInput)
  return key
}

function proxy(
  read: InputReader,
  get: (name: InputName) => string,
  value: (name: DefaultedInput) => string
): ProxySettings | undefined {
  const host = get(Input.ProxyHost)
  const others = [
    Input.ProxyPort,
    Input.ProxyUsername,
    Input.ProxySshKey,
    Input.ProxySshPassphrase,
    Input.ProxyPassword,
    Input.ProxyHostFingerprint,
    Input.ProxyKnownHosts
  ]
  if (!host) {
    const stray = others.find(name => setByWorkflow(read, name))
    if (stray)
      throw new InputError(
        stray,
        'is set but `proxy-host` is not; set `proxy-host` to the bastion, or remove it.'
      )
    return undefined
  }
  const sshPassphrase = read(Input.ProxySshPassphrase) || undefined
  const settings: ProxySettings = {
    host: hostName(Input.ProxyHost, host),
    port: integer(Input.ProxyPort, value(Input.ProxyPort), 1, 65535),
    username: username(Input.ProxyUsername, get(Input.ProxyUsername) || value(Input.Username)),
    sshKey: privateKey(
      read,
      Input.ProxySshKey,
      Input.ProxySshKeyPath,
      Input.ProxySshPassphrase,
      sshPassphrase
    ),
    sshPassphrase,
    password: read(Input.ProxyPassword) || undefined,
    hostFingerprint: fingerprint(
      Input.ProxyHostFingerprint,
      get(Input.ProxyHostFingerprint) || undefined
    ),
    knownHosts: read(Input.ProxyKnownHosts).trim() || undefined
  }
  if (settings.hostFingerprint && settings.knownHosts) {
    throw new InputError(
      Input.ProxyKnownHosts,
      'is set together with `proxy-host-fingerprint`; set one of the two.'
    )
  }
  return settings
}

/** The Swarm service and the registry its releases are pushed to. */
function swarm(
  read: InputReader,
  get: (name: InputName) => string
): Pick<
  Settings,
  'service' | 'registry' | 'registryUsername' | 'registryPassword' | 'updateOrder'
> {
  const service = get(Input.Service)
  if (service && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(service)) {
    throw new InputError(
      Input.Service,
      `'${service}' is not a Swarm service name (letters, digits, '_', '.', '-'; up to 63 characters).`
    )
  }
  const registry = get(Input.Registry).replace(/\/+$/, '')
  if (registry && !new RegExp(String.raw`^${DOMAIN}(?:/${COMPONENT})*$`).test(registry)) {
    throw new InputError(
      Input.Registry,
      `'${registry}' is not a registry. Expected host[:port] with an optional namespace, e.g. registry.example.com:5000 or ghcr.io/texasca.`
    )
  }
  const registryUsername = get(Input.RegistryUsername) || undefined
  // A password is used as given: only a final newline (from a pasted secret) is dropped.
  const registryPassword = read(Input.RegistryPassword).replace(/\r?\n$/, '') || undefined
  if (registryPassword?.includes('\n'))
    throw new InputError(Input.RegistryPassword, 'has more than one line.')
  if (Boolean(registryUsername) !== Boolean(registryPassword)) {
    throw new InputError(
      registryUsername ? Input.RegistryPassword : Input.RegistryUsername,
      'is required with the other: `registry-username` and `registry-password` log in together.'
    )
  }
  if (registryUsername && !/^[^\s:]{1,255}$/.test(registryUsername)) {
    throw new InputError(
      Input.RegistryUsername,
      `'${registryUsername}' is not a registry user name.`
    )
  }
  const order = get(Input.UpdateOrder)
  const updateOrder = order === 'start-first' || order === 'stop-first' ? order : undefined
  if (order && !updateOrder) {
    throw new InputError(
      Input.UpdateOrder,
      `'${order}' is not an update order; use start-first or stop-first.`
    )
  }
  return {
    service: service || undefined,
    registry: registry || undefined,
    registryUsername,
    registryPassword,
    updateOrder
  }
}

/** Comma- or line-separated names. */
function list(value: string): string[] | undefined {
  const items = value
    .split(/[\s,]+/)
    .map(item => item.trim())
    .filter(Boolean)
  for (const item of items) {
    if (!/^[a-z0-9@.+-]+$/i.test(item))
      throw new InputError(Input.Ciphers, `'${item}' is not a cipher name (e.g. aes256-ctr).`)
  }
  return items.length > 0 ? items : undefined
}

/** `NAME=value` lines; the values are secrets to the log, so an error names the line, never its text. */
function buildEnv(value: string): string[] {
  return value.split(/\r?\n/).flatMap((line, index) => {
    if (!line.trim() || line.trim().startsWith('#')) return []
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (!match) {
      throw new InputError(
        Input.BuildEnv,
        `line ${index + 1} is not NAME=value (NAME of letters, digits and _; one variable a line).`
      )
    }
    return [`${match[1]}=${match[2]}`]
  })
}

/** Keys pasted into secrets often carry CRLF line ends or lost their final newline. */
function normalizeKey(value: string): string {
  const key = value.replace(/\r\n?/g, '\n').trim()
  return key ? `${key}\n` : ''
}

function checkKey(
  key: string,
  passphrase: string | undefined,
  keyInput: InputName,
  passphraseInput: InputName
): void {
  const parsed = sshUtils.parseKey(key, passphrase)
  if (!(parsed instanceof Error)) {
    if (Array.isArray(parsed) ? parsed.length === 0 : !parsed) {
      throw new InputError(keyInput, 'holds no private key.')
    }
    return
  }
  // Name the cause without echoing anything of the key itself.
  const reason = parsed.message
  if (/no passphrase/i.test(reason)) {
    throw new InputError(
      passphraseInput,
      `the key in \`${keyInput}\` is encrypted; set \`${passphraseInput}\` to its passphrase.`
    )
  }
  if (/passphrase|decrypt|bad decrypt/i.test(reason) && passphrase) {
    throw new InputError(passphraseInput, `does not decrypt the key in \`${keyInput}\`.`)
  }
  throw new InputError(
    keyInput,
    'is not a private key this action can read. Give the whole private key file (OpenSSH or PEM; ed25519, RSA or ECDSA), including its BEGIN and END lines.'
  )
}
