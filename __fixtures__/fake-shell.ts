import {
  toShell,
  type Command,
  type ExecOptions,
  type ExecResult,
  type RemoteShell
} from '../src/shell.js'

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
