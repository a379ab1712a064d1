import { randomUUID } from 'node:crypto'
import type { OutputName } from './action-io.js'
import * as workflow from './workflow-commands.js'

/**
 * What the procedure needs from the GitHub runner: logging, log groups, outputs, the job summary.
 * The action passes `actionsRunner`; unit tests pass a recording fake.
 */
export interface Runner {
  info(message: string): void
  warning(message: string, title?: string): void
  error(message: string, title?: string): void
  debug(message: string): void
  /** Raw live output (the build's), passed through as it arrives; `false` when the log is backed up. */
  stream(chunk: string): boolean
  /** Resolves when the log can take more output. */
  drained(): Promise<void>
  /** A collapsible log group around one step. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>
  /** One of action.yml's outputs. */
  setOutput(name: OutputName, value: string): void
  setSecret(value: string): void
  writeSummary(markdown: string): Promise<void>
}

/**
 * Text from the host (the build's output, a health command's) must never act as a workflow
 * command: a line `::add-mask::`, `::error::` or `::stop-commands::` in it would otherwise be
 * obeyed by the runner. Such text is written between `::stop-commands::<token>` and `::<token>::`,
 * with a token the host cannot know; the action's own commands are always written outside.
 */
export class CommandGuard {
  private readonly token = randomUUID()
  private stopped = false
  private atLineStart = true

  constructor(private readonly write: (text: string) => boolean) {}

  /** Host output, as it arrives. */
  untrusted(text: string): boolean {
    if (!text) return true
    if (!this.stopped) {
      this.raw(`::stop-commands::${this.token}\n`)
      this.stopped = true
    }
    return this.raw(text)
  }

  /** A message of the action's own that may quote host output on lines of its own. */
  message(text: string, print: (text: string) => void): void {
    if (/^\s*::/m.test(text)) {
      this.untrusted(text.endsWith('\n') ? text : `${text}\n`)
      this.resume()
    } else {
      this.resume()
      print(text)
    }
  }

  /** Before any command of the action's own: workflow commands work again. */
  resume(): void {
    if (!this.stopped) return
    if (!this.atLineStart) this.raw('\n')
    this.raw(`::${this.token}::\n`)
    this.stopped = false
  }

  private raw(text: string): boolean {
    this.atLineStart = text.endsWith('\n')
    return this.write(text)
  }
}

const guard = new CommandGuard(text => process.stdout.write(text))

export const actionsRunner: Runner = {
  info: message => guard.message(message, text => workflow.info(text)),
  // Annotations escape their text (a newline is %0A), so quoted output cannot start a command.
  warning: (message, title) => {
    guard.resume()
    workflow.warning(message, title || undefined)
  },
  error: (message, title) => {
    guard.resume()
    workflow.error(message, title || undefined)
  },
  debug: message => {
    guard.resume()
    workflow.debug(message)
  },
  stream: chunk => guard.untrusted(chunk),
  drained: () => new Promise(resolve => process.stdout.once('drain', () => resolve())),
  group: (title, fn) => {
    guard.resume()
    return workflow.group(title, async () => {
      try {
        return await fn()
      } finally {
        guard.resume()
      }
    })
  },
  setOutput: (name, value) => {
    guard.resume()
    workflow.setOutput(name, value)
  },
  setSecret: value => {
    guard.resume()
    workflow.setSecret(value)
  },
  writeSummary: async markdown => {
    // Without GITHUB_STEP_SUMMARY (a local run) there is nowhere to write it; the log has it all.
    if (!process.env.GITHUB_STEP_SUMMARY) return
    await workflow.appendSummary(markdown)
  }
}
