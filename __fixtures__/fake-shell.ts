import { split } from 'shlex'
import * as remote from '../src/remote/scripts.js'
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

/** A script of src/remote by its name there (`survey` for survey.sh). */
export type ScriptName = keyof typeof remote

const SCRIPT_NAMES = new Map<string, ScriptName>(
  Object.entries(remote).map(([name, text]) => [text, name as ScriptName])
)

/**
 * The remote scripts a command runs, by name: every `sh -c <script>` in it, with the commands a
 * `chain` joined unpacked. A script is known by its whole text, never by a fragment of it.
 */
export function scriptsIn(command: readonly string[]): ScriptName[] {
  const found: ScriptName[] = []
  for (let i = 0; i + 2 < command.length; i++) {
    if (command[i] !== 'sh' || command[i + 1] !== '-c') continue
    const text = command[i + 2]
    const name = SCRIPT_NAMES.get(text)
    if (name) {
      found.push(name)
      continue
    }
    // A chain: `a && b`, each part a quoted command.
    let words: string[]
    try {
      words = split(text)
    } catch {
      continue
    }
    let part: string[] = []
    for (const word of [...words, '&&']) {
      if (word !== '&&') part.push(word)
      else {
        found.push(...scriptsIn(part))
        part = []
      }
    }
  }
  return found
}

/** What a rule or a look-up matches: a remote script by name, or the command's shell text. */
type Pattern = ScriptName | RegExp

function matches(pattern: Pattern, command: readonly string[], text: string): boolean {
  return typeof pattern === 'string' ? scriptsIn(command).includes(pattern) : pattern.test(text)
}

/**
 * A remote shell that answers from rules: the first rule whose pattern matches the command
 * replies. A pattern names a remote script (`'survey'`), or is a RegExp on the command's shell
 * text. Every command is recorded as the text the real shell would have received.
 */
export class FakeShell implements RemoteShell {
  readonly commands: string[] = []
  readonly argvs: (readonly string[])[] = []
  readonly stdins: (string | undefined)[] = []
  closed = false
  private rules: { pattern: Pattern; reply: Reply }[] = []

  on(pattern: Pattern, reply: Reply): this {
    this.rules.unshift({ pattern, reply })
    return this
  }

  private record(command: Command): { script: string; rule?: { reply: Reply } } {
    const script = toShell(command)
    this.commands.push(script)
    this.argvs.push(command)
    return { script, rule: this.rules.find(r => matches(r.pattern, command, script)) }
  }

  async exec(command: Command, options: ExecOptions): Promise<ExecResult> {
    const marked = splitAtEcho(command)
    if (marked) {
      // `a && echo mark && b`: each side answered on its own, run one after the other as on a host.
      this.commands.push(toShell(command))
      this.argvs.push(command)
      this.stdins.push(options.stdin)
      const first = await this.answer(marked.before, options)
      if (first.code !== 0) return first
      const second = await this.answer(marked.after, options)
      return {
        code: second.code,
        stdout: `${first.stdout}${marked.mark}\n${second.stdout}`,
        stderr: first.stderr + second.stderr
      }
    }
    this.record(command)
    this.stdins.push(options.stdin)
    return this.answer(command, options)
  }

  /** The reply of the first rule that matches `command`. */
  private async answer(command: Command, options: ExecOptions): Promise<ExecResult> {
    const script = toShell(command)
    const rule = this.rules.find(r => matches(r.pattern, command, script))
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
    const { script, rule } = this.record(command)
    this.stdins.push(undefined)
    const reply = rule
      ? typeof rule.reply === 'function'
        ? rule.reply(script, { timeoutMs: 0 })
        : rule.reply
      : {}
    const result = { code: 0, stdout: '', stderr: '', ...reply }
    // The lock's holder runs the command it was given once it holds the lock (lock.sh's $5), and
    // prints its output as `then <base64>`: answered here by the rules, as if run on its own.
    const then = scriptsIn(command).includes('lock') ? command[8] : undefined
    if (then && result.stdout.includes('acquired\n')) {
      const ran = this.exec(split(Buffer.from(then, 'base64').toString()), { timeoutMs: 0 })
      void ran.then(r => {
        const text = `${r.stdout}${r.stderr}${r.stdout || r.stderr ? '\n' : ''}#exit ${r.code}\n`
        options.onOutput?.(`then ${Buffer.from(text).toString('base64')}\n`, 'stdout')
      })
    }
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
    const { script, rule } = this.record(command)
    this.stdins.push(undefined)
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

  ran(pattern: Pattern): boolean {
    return this.indexOf(pattern) >= 0
  }

  indexOf(pattern: Pattern): number {
    return this.commands.findIndex((text, i) => matches(pattern, this.argvs[i], text))
  }
}

/** A chain with an `echo <mark>` in it: the commands before it and after it, as chains. */
function splitAtEcho(
  command: Command
): { before: Command; mark: string; after: Command } | undefined {
  if (command.length !== 3 || command[0] !== 'sh' || command[1] !== '-c') return undefined
  if (SCRIPT_NAMES.has(command[2])) return undefined
  let words: string[]
  try {
    words = split(command[2])
  } catch {
    return undefined
  }
  const parts: string[][] = [[]]
  for (const word of words) {
    if (word === '&&') parts.push([])
    else parts.at(-1)!.push(word)
  }
  const at = parts.findIndex(part => part.length === 2 && part[0] === 'echo')
  if (at <= 0 || at === parts.length - 1) return undefined
  const join = (list: string[][]): Command =>
    list.length === 1 ? list[0] : ['sh', '-c', list.map(toShell).join(' && ')]
  return { before: join(parts.slice(0, at)), mark: parts[at][1], after: join(parts.slice(at + 1)) }
}

/** A pattern for removing container `id`, plainly or as one that may already be gone. */
export function removal(id: string): RegExp {
  return new RegExp(`docker rm --force (${id}|"\\$1"[\\s\\S]*\\b${id}\\b)`)
}
