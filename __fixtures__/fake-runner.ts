import type { Runner } from '../src/runner.js'

/** Records what the action tells the runner. */
export class FakeRunner implements Runner {
  readonly log: string[] = []
  readonly warnings: string[] = []
  readonly errors: string[] = []
  readonly groups: string[] = []
  readonly outputs = new Map<string, string>()
  readonly secrets: string[] = []
  streamed = ''
  summary = ''

  info(message: string) {
    this.log.push(message)
  }
  warning(message: string) {
    this.warnings.push(message)
  }
  error(message: string) {
    this.errors.push(message)
  }
  debug() {}
  stream(chunk: string) {
    this.streamed += chunk
    return true
  }
  async drained() {}
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.groups.push(title)
    return fn()
  }
  setOutput(name: string, value: string) {
    this.outputs.set(name, value)
  }
  setSecret(value: string) {
    this.secrets.push(value)
  }
  async writeSummary(markdown: string) {
    this.summary = markdown
  }
}
