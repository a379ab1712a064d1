import { StringDecoder } from 'node:string_decoder'
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2'
import {
  OUTPUT_TAIL_BYTES,
  toShell,
  type Command,
  type ExecOptions,
  type ExecResult,
  type RemoteProcess,
  type RemoteShell
} from '../shell.js'
import { algorithmsFor, checkHostKey, knownKeysFor, type HostKeyPolicy } from './host-key.js'

interface SshProcess extends RemoteProcess {
  end(data?: string): void
  /** Close the channel: the remote side sees EOF. */
  kill(): void
}

export interface ConnectionOptions {
  host: string
  port: number
  username: string
  privateKey: string
  passphrase?: string
  hostFingerprint?: string
  knownHosts?: string
  strictHostKey: boolean
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

/** One SSH connection to the host: every remote command of a deploy runs over it. */
export async function connect(options: ConnectionOptions): Promise<RemoteShell> {
  const where = `${options.username}@${options.host}:${options.port}`
  const policy = hostKeyPolicy(options)
  const client = new Client()
  let hostKeyFailure: string | undefined

  const config: ConnectConfig = {
    host: options.host,
    port: options.port,
    username: options.username,
    privateKey: options.privateKey,
    passphrase: options.passphrase,
    readyTimeout: options.connectTimeoutMs ?? 30_000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    // Only public-key authentication: never fall back to an agent or keyboard prompts on a runner.
    agent: undefined,
    tryKeyboard: false,
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(policy, key, where)
      if (!verdict.ok) {
        hostKeyFailure = verdict.reason
        return false
      }
      if (verdict.warning) options.onWarning?.(verdict.warning)
      return true
    }
  }
  if (policy.kind === 'known-hosts') {
    const types = [...new Set(policy.keys.filter(k => !k.revoked).map(k => k.type))]
    if (types.length > 0) config.algorithms = { serverHostKey: algorithmsFor(types) as never }
  }

  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve())
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      client.end()
      reject(describeConnectError(error, where, hostKeyFailure))
    })
    client.connect(config)
  })
  options.onDebug?.(`Connected to ${where}`)
  return new SshShell(client, where)
}

function hostKeyPolicy(options: ConnectionOptions): HostKeyPolicy {
  if (options.hostFingerprint) return { kind: 'fingerprint', fingerprint: options.hostFingerprint }
  if (options.knownHosts) {
    const keys = knownKeysFor(options.knownHosts, options.host, options.port)
    if (keys.length === 0) {
      throw new ConnectionError(
        'host-key',
        `\`ssh-known-hosts\` has no line for ${options.port === 22 ? options.host : `[${options.host}]:${options.port}`}; add the host's keys (ssh-keyscan -p ${options.port} ${options.host} prints them).`
      )
    }
    return { kind: 'known-hosts', keys }
  }
  return options.strictHostKey ? { kind: 'refuse' } : { kind: 'unchecked' }
}

function describeConnectError(
  error: Error & { level?: string; code?: string },
  where: string,
  hostKeyFailure?: string
): ConnectionError {
  if (hostKeyFailure) return new ConnectionError('host-key', hostKeyFailure)
  if (error.level === 'client-authentication') {
    return new ConnectionError(
      'authentication',
      `Authentication as ${where} failed: the server refused the key in \`ssh-key\` (method tried: publickey). ` +
        'Check that its public key is in ~/.ssh/authorized_keys of that user on the host and that `username` is right.'
    )
  }
  if (error.level === 'client-timeout') {
    return new ConnectionError(
      'tcp',
      `Timed out connecting to ${where}: no SSH handshake completed. Check \`host\` and \`port\`, and that a firewall lets the runner reach the droplet.`
    )
  }
  if (error.level === 'client-socket' || error.code) {
    return new ConnectionError(
      'tcp',
      `Could not reach ${where}: ${error.message}. Check \`host\` and \`port\`, and that sshd runs on the droplet.`
    )
  }
  return new ConnectionError('handshake', `SSH handshake with ${where} failed: ${error.message}`)
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

  spawn(command: Command, options: Pick<ExecOptions, 'onOutput' | 'label'>): SshProcess {
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
      this.client.exec(toShell(command), (error, stream) => {
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
          options.onOutput?.(text, 'stdout')
        })
        stream.stderr.on('data', (chunk: Buffer) => {
          const text = errDecoder.write(chunk)
          stderr.push(text)
          options.onOutput?.(text, 'stderr')
        })
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
