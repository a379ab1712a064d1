import {
  toShell,
  type Command,
  type ExecOptions,
  type ExecResult,
  type RemoteChannel,
  type RemoteProcess,
  type RemoteShell
} from '../src/shell.js'
import { Duplex, Readable } from 'node:stream'

type Reply = Partial<ExecResult> | ((script: string, options: ExecOptions) => Partial<ExecResult>)

/**
 * A remote shell that answers from rules: the first rule whose pattern matches the command's
 * shell text replies. Every command is recorded as the text the real shell would have received.
 */
export class FakeShell implements RemoteShell {
  readonly commands: string[] = []
  readonly stdins: (string | undefined)[] = []
  closed = false
  private rules: { pattern: RegExp; reply: Reply }[] = []

  on(pattern: RegExp, reply: Reply): this {
    this.rules.unshift({ pattern, reply })
    return this
  }

  async exec(command: Command, options: ExecOptions): Promise<ExecResult> {
    const script = toShell(command)
    this.commands.push(script)
    this.stdins.push(options.stdin)
    const rule = this.rules.find(r => r.pattern.test(script))
    const reply = rule
      ? typeof rule.reply === 'function'
        ? rule.reply(script, options)
        : rule.reply
      : {}
    return { code: 0, stdout: '', stderr: '', ...reply }
  }

  /**
   * A long-running command: its reply's stdout is delivered at once, what is written to it is
   * recorded, and it ends (with the reply's code) when its input is closed.
   */
  spawn(command: Command, options: Pick<ExecOptions, 'onOutput' | 'label'>): RemoteProcess {
    const script = toShell(command)
    this.commands.push(script)
    this.stdins.push(undefined)
    const rule = this.rules.find(r => r.pattern.test(script))
    const reply = rule
      ? typeof rule.reply === 'function'
        ? rule.reply(script, { timeoutMs: 0 })
        : rule.reply
      : {}
    const result = { code: 0, stdout: '', stderr: '', ...reply }
    let finish: (r: ExecResult) => void = () => {}
    const done = new Promise<ExecResult>(resolve => (finish = resolve))
    const written: string[] = []
    this.spawned.push({ script, written })
    queueMicrotask(() => {
      if (result.stdout) options.onOutput?.(result.stdout, 'stdout')
      if (result.code !== 0) finish(result)
    })
    return { done, write: (data: string) => written.push(data), end: () => finish(result) }
  }

  readonly spawned: { script: string; written: string[] }[] = []

  /** A byte channel: its reply's stdout is what it prints; what is piped in is kept in `piped`. */
  async channel(command: Command): Promise<RemoteChannel> {
    const script = toShell(command)
    this.commands.push(script)
    this.stdins.push(undefined)
    const rule = this.rules.find(r => r.pattern.test(script))
    const reply = rule
      ? typeof rule.reply === 'function'
        ? rule.reply(script, { timeoutMs: 0 })
        : rule.reply
      : {}
    const chunks: Buffer[] = []
    let ended: () => void = () => {}
    const finished = new Promise<void>(resolve => (ended = resolve))
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk)
        callback()
      },
      final(callback) {
        ended()
        callback()
      }
    })
    stream.push(reply.stdout ?? '')
    stream.push(null)
    const input = /docker load/.test(script)
    const exit = (input ? finished : Promise.resolve()).then(() => {
      this.piped.set(script, Buffer.concat(chunks).toString())
      return reply.code ?? 0
    })
    return { stream, stderr: Readable.from([reply.stderr ?? '']), exit }
  }

  readonly piped = new Map<string, string>()

  async close(): Promise<void> {
    this.closed = true
  }

  ran(pattern: RegExp): boolean {
    return this.commands.some(c => pattern.test(c))
  }

  indexOf(pattern: RegExp): number {
    return this.commands.findIndex(c => pattern.test(c))
  }
}

/** A pattern for removing container `id`, plainly or as one that may already be gone. */
export function removal(id: string): RegExp {
  return new RegExp(`docker rm --force (${id}|"\\$1"[\\s\\S]*\\b${id}\\b)`)
}
