import * as core from '@actions/core'

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
  setOutput(name: string, value: string): void
  setSecret(value: string): void
  writeSummary(markdown: string): Promise<void>
}

export const actionsRunner: Runner = {
  info: message => core.info(message),
  warning: (message, title) => core.warning(message, title ? { title } : {}),
  error: (message, title) => core.error(message, title ? { title } : {}),
  debug: message => core.debug(message),
  stream: chunk => process.stdout.write(chunk),
  drained: () => new Promise(resolve => process.stdout.once('drain', () => resolve())),
  group: (title, fn) => core.group(title, fn),
  setOutput: (name, value) => core.setOutput(name, value),
  setSecret: value => core.setSecret(value),
  writeSummary: async markdown => {
    // Without GITHUB_STEP_SUMMARY (a local run) there is nowhere to write it; the log has it all.
    if (!process.env.GITHUB_STEP_SUMMARY) return
    await core.summary.addRaw(markdown, true).write()
  }
}
