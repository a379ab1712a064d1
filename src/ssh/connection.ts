import { StringDecoder } from 'node:string_decoder'
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2'
import {
  forLoginShell,
  OUTPUT_TAIL_BYTES,
  type Command,
  type ExecOptions,
  type ExecResult,
  type RemoteChannel,
  type RemoteProcess,
  type RemoteShell
} from '../shell.js'
import { algorithmsFor, checkHostKey, knownKeysFor, type HostKeyPolicy } from './host-key.js'

interface SshProcess extends RemoteProcess {
  end(data?: string): void
  /** Close the channel: the remote side sees EOF. */
  kill(): void
}

/** One SSH server to log in to: the droplet, or the bastion in front of it. */
interface Endpoint {
  host: string
  port: number
  username: string
  privateKey?: string
  passphrase?: string
  password?: string
  hostFingerprint?: string
  knownHosts?: string
  /** The input names to cite in errors: `ssh-key`/`proxy-ssh-key`, and so on. */
  inputs: { key: string; fingerprint: string; knownHosts: string; password: string }
}

export interface ConnectionOptions {
  target: Endpoint
  /** A bastion to go through, as `ssh -J` does: the target is reached over a forwarded channel. */
  proxy?: Endpoint
  strictHostKey: boolean
  /** Cipher names to offer instead of ssh2's defaults, for servers that need an older one. */
  ciphers?: string[]
  connectTimeoutMs?: number
  onWarning?: (message: string) => void
  onDebug?: (message: string) => void
}

/** A failure to connect, with the phase that failed so the user knows where to look. */
export class ConnectionError extends Error {
  constructor(
    readonly phase: 'tcp' | 'host-key' | 'authentication' | 'handshake',
    message: string
  ) {
    super(message)
    this.name = 'ConnectionError'
  }
}

/** Ciphers a server may still need but that are weak: warned about when chosen. */
const WEAK_CIPHER = /cbc$|3des|arcfour|blowfish|cast128/

/** One SSH connection to the host (through the bastion, if any): every remote command runs over it. */
export async function connect(options: ConnectionOptions): Promise<RemoteShell> {
  const weak = options.ciphers?.filter(c => WEAK_CIPHER.test(c)) ?? []
  if (weak.length > 0) {
    options.onWarning?.(
      `\`ciphers\` offers weak ciphers (${weak.join(', ')}): upgrade the server's OpenSSH and drop them.`
    )
  }
  if (!options.proxy) {
    const client = await open(options.target, options)
    return new SshShell(client, where(options.target))
  }
  const bastion = await open(options.proxy, options)
  try {
    const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
      bastion.forwardOut(
        '127.0.0.1',
        0,
        options.target.host,
        options.target.port,
        (error, stream) =>
          error
            ? reject(
                new ConnectionError(
                  'tcp',
                  `The bastion ${where(options.proxy!)} could not reach ${options.target.host}:${options.target.port}: ${error.message}. Check \`host\` and \`port\` as the bastion sees them, and that it allows TCP forwarding.`
                )
              )
            : resolve(stream)
      )
    )
    const client = await open(options.target, options, tunnel)
    client.on('close', () => bastion.end())
    return new SshShell(client, `${where(options.target)} via ${where(options.proxy)}`)
  } catch (error) {
    bastion.end()
    throw error
  }
}

function where(endpoint: Endpoint): string {
  return `${endpoint.username}@${endpoint.host}:${endpoint.port}`
}

/** Log in to one endpoint, over `sock` when it is behind a bastion, checking its host key. */
async function open(
  endpoint: Endpoint,
  options: ConnectionOptions,
  sock?: ClientChannel
): Promise<Client> {
  const at = where(endpoint)
  const policy = hostKeyPolicy(endpoint, options.strictHostKey)
  const client = new Client()
  let hostKeyFailure: string | undefined
  const config: ConnectConfig = {
    ...(sock ? { sock } : { host: endpoint.host, port: endpoint.port }),
    username: endpoint.username,
    privateKey: endpoint.privateKey,
    passphrase: endpoint.passphrase,
    password: endpoint.password,
    readyTimeout: options.connectTimeoutMs ?? 30_000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    // Only what the inputs give: never an agent or keyboard prompts on a runner.
    agent: undefined,
    tryKeyboard: false,
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(policy, key, at, endpoint.inputs)
      if (!verdict.ok) {
        hostKeyFailure = verdict.reason
        return false
      }
      if (verdict.warning) options.onWarning?.(verdict.warning)
      return true
    }
  }
  const algorithms: NonNullable<ConnectConfig['algorithms']> = {}
  if (policy.kind === 'known-hosts') {
    const types = [...new Set(policy.keys.filter(k => !k.revoked).map(k => k.type))]
    if (types.length > 0) algorithms.serverHostKey = algorithmsFor(types) as never
  }
  if (options.ciphers?.length) algorithms.cipher = options.ciphers as never
  if (Object.keys(algorithms).length > 0) config.algorithms = algorithms

  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve())
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      client.end()
      reject(describeConnectError(error, endpoint, hostKeyFailure))
    })
    client.connect(config)
    // Without it, each small SSH packet waits on the peer's delayed ACK: ~40 ms per command.
    if (!sock) client.setNoDelay(true)
  })
  options.onDebug?.(`Connected to ${at}`)
  return client
}

function hostKeyPolicy(endpoint: Endpoint, strict: boolean): HostKeyPolicy {
  if (endpoint.hostFingerprint)
    return { kind: 'fingerprint', fingerprint: endpoint.hostFingerprint }
  if (endpoint.knownHosts) {
    const keys = knownKeysFor(endpoint.knownHosts, endpoint.host, endpoint.port)
    if (keys.length === 0) {
      const name = endpoint.port === 22 ? endpoint.host : `[${endpoint.host}]:${endpoint.port}`
      throw new ConnectionError(
        'host-key',
        `\`${endpoint.inputs.knownHosts}\` has no line for ${name}; add the host's keys (ssh-keyscan -p ${endpoint.port} ${endpoint.host} prints them).`
      )
    }
    return { kind: 'known-hosts', keys }
  }
  return strict ? { kind: 'refuse' } : { kind: 'unchecked' }
}

function describeConnectError(
  error: Error & { level?: string; code?: string },
  endpoint: Endpoint,
  hostKeyFailure?: string
): ConnectionError {
  const at = where(endpoint)
  if (hostKeyFailure) return new ConnectionError('host-key', hostKeyFailure)
  if (error.level === 'client-authentication') {
    const tried = [endpoint.privateKey && 'publickey', endpoint.password && 'password']
      .filter(Boolean)
      .join(', ')
    const advice = [
      endpoint.privateKey &&
        `that the public key of \`${endpoint.inputs.key}\` is in ~/.ssh/authorized_keys of that user`,
      endpoint.password &&
        `that \`${endpoint.inputs.password}\` is right and the server allows password login`
    ]
      .filter(Boolean)
      .join(', and ')
    return new ConnectionError(
      'authentication',
      `Authentication as ${at} failed: the server refused every method tried (${tried}). Check ${advice}, and that the user name is right.`
    )
  }
  if (error.level === 'client-timeout') {
    return new ConnectionError(
      'tcp',
      `Timed out connecting to ${at}: no SSH handshake completed. Check the host and port, and that a firewall lets the runner reach it.`
    )
  }
  if (/no matching/i.test(error.message)) {
    return new ConnectionError(
      'handshake',
      `SSH handshake with ${at} failed: ${error.message}. The server needs an algorithm ssh2 does not offer by default; set \`ciphers\` to one the server accepts (see its sshd_config).`
    )
  }
  if (error.level === 'client-socket' || error.code) {
    return new ConnectionError(
      'tcp',
      `Could not reach ${at}: ${error.message}. Check the host and port, and that sshd runs there.`
    )
  }
  return new ConnectionError('handshake', `SSH handshake with ${at} failed: ${error.message}`)
}

class SshShell implements RemoteShell {
  private closed = false
  private disconnected = false
  private lostReason?: string

  constructor(
    private readonly client: Client,
    private readonly where: string
  ) {
    client.on('close', () => {
      this.disconnected = true
      if (!this.closed) this.lostReason ??= `The SSH connection to ${where} was lost`
    })
    client.on('error', (error: Error) => {
      this.lostReason = `The SSH connection to ${where} failed: ${error.message}`
    })
  }

  exec(command: Command, options: ExecOptions): Promise<ExecResult> {
    const label = options.label ?? command.join(' ')
    const process = this.spawn(command, options)
    process.end(options.stdin)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        process.kill()
        reject(
          new Error(
            `${label} did not finish within ${Math.round(options.timeoutMs / 1000)} s; it was abandoned.`
          )
        )
      }, options.timeoutMs)
    })
    return Promise.race([process.done, timeout]).finally(() => clearTimeout(timer))
  }

  spawn(
    command: Command,
    options: Pick<ExecOptions, 'onOutput' | 'drained' | 'label'>
  ): SshProcess {
    const label = options.label ?? command.join(' ')
    const stdout = new Tail()
    const stderr = new Tail()
    let channel: ClientChannel | undefined
    const pending: { data: string[]; ended: boolean; killed: boolean } = {
      data: [],
      ended: false,
      killed: false
    }

    const done = new Promise<ExecResult>((resolve, reject) => {
      if (this.lostReason) return reject(new Error(`${this.lostReason}; could not run ${label}.`))
      const onClose = () =>
        reject(
          new Error(
            `${this.lostReason ?? `The SSH connection to ${this.where} closed`} while running ${label}.`
          )
        )
      this.client.once('close', onClose)
      this.client.exec(forLoginShell(command), (error, stream) => {
        if (error) {
          this.client.off('close', onClose)
          return reject(new Error(`Could not start ${label}: ${error.message}`))
        }
        channel = stream
        // A write after the connection dropped must not crash the process: the close below reports it.
        stream.on('error', () => undefined)
        let code: number | null = null
        // Decoders keep a multi-byte character that straddles two chunks whole.
        const outDecoder = new StringDecoder('utf8')
        const errDecoder = new StringDecoder('utf8')
        stream.on('data', (chunk: Buffer) => {
          const text = outDecoder.write(chunk)
          stdout.push(text)
          if (options.onOutput?.(text, 'stdout') === false) pauseUntilDrained()
        })
        stream.stderr.on('data', (chunk: Buffer) => {
          const text = errDecoder.write(chunk)
          stderr.push(text)
          if (options.onOutput?.(text, 'stderr') === false) pauseUntilDrained()
        })
        // A reader slower than the build (the runner's log) holds the channel back instead of
        // letting output pile up in memory: SSH flow control then slows the build's writes.
        let paused = false
        const pauseUntilDrained = () => {
          if (paused || !options.drained) return
          paused = true
          stream.pause()
          stream.stderr.pause()
          void options.drained().then(() => {
            paused = false
            stream.resume()
            stream.stderr.resume()
          })
        }
        stream.on('exit', (exitCode: number | null, signal?: string) => {
          code = exitCode ?? (signal ? 128 : 255)
        })
        stream.on('close', () => {
          this.client.off('close', onClose)
          resolve({ code: code ?? 255, stdout: stdout.text(), stderr: stderr.text() })
        })
        for (const data of pending.data) stream.write(data)
        if (pending.ended) stream.end()
        if (pending.killed) stream.close()
      })
    })
    done.catch(() => {}) // observed by the caller; never an unhandled rejection

    return {
      done,
      write: (data: string) => {
        if (!channel) pending.data.push(data)
        else if (channel.writable) channel.write(data)
      },
      end: (data?: string) => {
        if (!channel) {
          if (data) pending.data.push(data)
          pending.ended = true
        } else channel.end(data)
      },
      kill: () => (channel ? channel.close() : (pending.killed = true))
    }
  }

  channel(command: Command, label: string): Promise<RemoteChannel> {
    if (this.lostReason)
      return Promise.reject(new Error(`${this.lostReason}; could not run ${label}.`))
    return new Promise((resolve, reject) =>
      this.client.exec(forLoginShell(command), (error, stream) => {
        if (error) return reject(new Error(`Could not start ${label}: ${error.message}`))
        stream.on('error', () => undefined)
        let code: number | null = null
        stream.on('exit', (exitCode: number | null) => (code = exitCode))
        const exit = new Promise<number>(done => stream.on('close', () => done(code ?? 255)))
        resolve({ stream, stderr: stream.stderr, exit })
      })
    )
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.disconnected) return
    await new Promise<void>(resolve => {
      // end() can wait on a peer that is gone; do not let closing hang the job.
      const timer = setTimeout(resolve, 2000)
      this.client.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      this.client.end()
    })
  }
}

/** Keeps the last OUTPUT_TAIL_BYTES of a stream: a build may print hundreds of megabytes. */
class Tail {
  private chunks: string[] = []
  private size = 0

  push(text: string): void {
    this.chunks.push(text)
    this.size += text.length
    while (this.size > OUTPUT_TAIL_BYTES && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length
    }
  }

  text(): string {
    return this.chunks.join('')
  }
}
