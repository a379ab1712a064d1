import * as docker from './docker.js'
import type { Runner } from './runner.js'
import {
  RemoteCommandError,
  run,
  type Command,
  type ExecResult,
  type RemoteShell
} from './shell.js'

/** Bound for quick remote commands (docker ps, inspect, tag, rm): none should take near this. */
export const QUICK_MS = 60_000
/** docker commit writes a layer; fetch talks to origin. Bounded, but given room. */
export const SLOW_MS = 10 * 60_000

/** A failure the user can act on; `step` says where the deploy stopped. */
export class DeployError extends Error {
  step?: string
  constructor(message: string) {
    super(message)
    this.name = 'DeployError'
  }
}

/** Where the previous release stays during a deploy, so a rollback is one `docker tag`. */
export function rollbackTag(repository: string): string {
  return `${repository}:hermes-previous`
}

/** The remote shell with the deploy's conventions: every command bounded, shown in debug. */
export class Host {
  constructor(
    readonly shell: RemoteShell,
    private readonly runner: Runner
  ) {}

  /** Run; a non-zero exit is an error naming `label`. Returns stdout. */
  run(command: Command, label: string, timeoutMs = QUICK_MS, stdin?: string): Promise<string> {
    this.runner.debug(`$ ${command.join(' ')}`)
    return run(this.shell, command, { label, timeoutMs, stdin })
  }

  /** `run` for a command with what it reads on stdin (a command in the admin container). */
  runIn(
    given: { command: Command; stdin?: string },
    label: string,
    timeoutMs = QUICK_MS
  ): Promise<string> {
    return this.run(given.command, label, timeoutMs, given.stdin)
  }

  /** Run and return the whole result, whatever the exit code. */
  exec(command: Command, label: string, timeoutMs = QUICK_MS, stdin?: string): Promise<ExecResult> {
    this.runner.debug(`$ ${command.join(' ')}`)
    return this.shell.exec(command, { label, timeoutMs, stdin })
  }

  /**
   * What runs: `docker ps` and the inspects (`docker.survey`), of `image` or by the survey command
   * given. `surveyed`: its result as the deploy lock's holder read it, on taking the lock.
   */
  async survey(image: string | Command, surveyed?: ExecResult): Promise<docker.HostSurvey> {
    if (surveyed && surveyed.code !== 0) throw new RemoteCommandError('docker ps', surveyed)
    const command = typeof image === 'string' ? docker.survey(image) : image
    return docker.parseSurvey(surveyed?.stdout ?? (await this.run(command, 'docker ps')))
  }
}
