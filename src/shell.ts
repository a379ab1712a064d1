import type { Duplex, Readable } from 'node:stream'
import { quote as shlexQuote } from 'shlex'

/**
 * A remote command as data: an argument vector. Every command the action runs on the host is
 * built as one of these and turned into shell text in exactly one place, `toShell`, so no input
 * value is ever spliced into shell code.
 */
export type Command = readonly string[]

/** Quote one argument for a POSIX shell. */
export function quote(arg: string): string {
  // A NUL byte cannot be passed through exec(); reject it rather than silently truncate.
  if (arg.includes('\0')) throw new Error('A command argument contains a NUL byte')
  return shlexQuote(arg)
}

/** The shell text for a command: each argument quoted, joined by spaces. */
export function toShell(command: Command): string {
  if (command.length === 0) throw new Error('Empty command')
  return command.map(quote).join(' ')
}

/**
 * The text to hand sshd for a command. sshd runs it through the SSH user's login shell
 * (`$SHELL -c text`), which need not be sh: zsh expands a word that starts with `=` (a ref `=ls`
 * becomes /usr/bin/ls), fish reads `\\` and `\'` inside single quotes as escapes, csh/tcsh refuse
 * a newline inside them. So the POSIX text of `toShell` travels as base64 — letters, digits, `+`,
 * `/`, `=` — inside single quotes with no `'`, `\` or newline: every one of those shells passes it
 * unchanged to an explicit `sh`, which decodes and evals it. `$(…)` strips trailing newlines, but
 * the text never ends in one: its last word ends in `'`, `"` or an unquoted safe character. Only
 * the substitution reads the pipe, so stdin, stdout, stderr and the exit code are the command's; a
 * failed decode (no base64 on the host) fails with its own code instead of running nothing.
 */
export function forLoginShell(command: Command): string {
  const encoded = Buffer.from(toShell(command), 'utf8').toString('base64')
  return `sh -c 'c="$(echo ${encoded} | base64 -d)" && eval "$c"'`
}

/**
 * Commands run one after another in one channel (one round trip), stopping at the first that
 * fails. Each is quoted by `toShell`, and the whole by it again as one argument of `sh -c`.
 */
export function chain(...commands: Command[]): Command {
  return ['sh', '-c', commands.map(toShell).join(' && ')]
}

/**
 * Commands run side by side in one channel, for calls that do not depend on each other (each
 * docker command costs tens of milliseconds to start): it waits for every one, and fails when one
 * did.
 */
export function together(...commands: Command[]): Command {
  const started = commands.map((command, i) => `${toShell(command)} & p${i}=$!; `).join('')
  const waited = commands.map((_, i) => `wait "$p${i}" || s=1; `).join('')
  return ['sh', '-c', `${started}s=0; ${waited}exit "$s"`]
}

/**
 * Run a fixed POSIX sh script with values as positional parameters ($1, $2, …). The script text
 * is ours and constant; the values never become code.
 */
export function shScript(script: string, ...args: string[]): Command {
  return ['sh', '-c', script, 'sh', ...args]
}

export interface ExecOptions {
  /** Bytes sent to the command's standard input, then closed. */
  stdin?: string
  /** Live output, as it arrives; `false` asks to hold the stream back until `drained`. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => boolean | void
  /** Resolves when the reader of `onOutput` can take more. */
  drained?: () => Promise<void>
  /** Upper bound for the command; it is abandoned and an error raised after this. */
  timeoutMs: number
  /** What the command is, for error messages ("docker commit"). */
  label?: string
}

export interface ExecResult {
  code: number
  /** Captured output; long output keeps only its tail (see OUTPUT_TAIL_BYTES). */
  stdout: string
  stderr: string
}

/** The captured tail of each stream: enough to parse and to diagnose, never the whole build log. */
export const OUTPUT_TAIL_BYTES = 1024 * 1024

/** A command that keeps running while the caller talks to it (the deploy lock's holder). */
export interface RemoteProcess {
  write(data: string): void
  /** Close its standard input. */
  end(): void
  readonly done: Promise<ExecResult>
}

/** A command's raw byte streams, for piping one host's output into another's input. */
export interface RemoteChannel {
  /** Its standard output (readable) and standard input (writable). */
  stream: Duplex
  stderr: Readable
  /** Its exit code, once it ended. */
  exit: Promise<number>
}

/** A shell on the Docker host. The SSH connection implements it; unit tests pass a fake. */
export interface RemoteShell {
  exec(command: Command, options: ExecOptions): Promise<ExecResult>
  spawn(command: Command, options: Pick<ExecOptions, 'onOutput' | 'label'>): RemoteProcess
  channel(command: Command, label: string): Promise<RemoteChannel>
  close(): Promise<void>
}

/** A remote command that exited non-zero. */
export class RemoteCommandError extends Error {
  constructor(
    readonly label: string,
    readonly result: ExecResult
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n')
    super(`${label} exited with code ${result.code}${detail ? `:\n${detail}` : ''}`)
    this.name = 'RemoteCommandError'
  }
}

/** Run a command and return its stdout; a non-zero exit becomes a RemoteCommandError. */
export async function run(
  shell: RemoteShell,
  command: Command,
  options: ExecOptions
): Promise<string> {
  const result = await shell.exec(command, options)
  if (result.code !== 0) throw new RemoteCommandError(options.label ?? command.join(' '), result)
  return result.stdout
}
