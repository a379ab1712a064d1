import { adminUser, extraEnv } from '../decide.js'
import * as docker from '../docker.js'
import type { ContainerInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, type Host } from '../host.js'
import { withEnv as WITH_ENV } from '../remote/scripts.js'
import { quote, shScript, type Command } from '../shell.js'
import type { Production } from '../target.js'
import type { Run } from './run.js'

/** Where the admin container keeps the environment: its own tmpfs, never part of a commit. */
const ENV_FILE = '/dev/shm/hermes-deploy.env'
const BUILD_ENV_FILE = '/dev/shm/hermes-deploy.build.env'

/** A command in the admin container, and what it reads on stdin. */
export interface AdminCommand {
  command: Command
  stdin?: string
}

/**
 * The admin container, and how commands run in it. Production's own environment (what the
 * supervisor adds beyond the image's), and for the build and the pre-deploy command `build-env`
 * too, reach them without ever being on a command line or baked into the image: the first
 * command in the container takes them on stdin and writes them into its /dev/shm (a tmpfs, which
 * `docker commit` does not take); every command reads them from there. So only the first sends
 * anything on stdin, which costs a round trip. A variable whose name a shell cannot export goes
 * as an env-file on stdin to every command instead.
 */
export class Admin {
  /** `NAME=value` lines production runs with beyond the image's own. */
  readonly runtimeEnv: string[]
  /** `NAME=value` lines of `build-env`. */
  private readonly buildEnv: string[]
  /** Whether the environment goes into the container's /dev/shm; else on stdin, every time. */
  private readonly inShm: boolean
  /** Whether a command has been given the environment to write. */
  private written = false

  constructor(
    readonly name: string,
    private readonly repoPath: string,
    production: Production,
    buildEnv: string[]
  ) {
    this.runtimeEnv = extraEnv(production.container.env, production.image.config.Env ?? [])
    this.buildEnv = buildEnv
    this.inShm = [...this.runtimeEnv, ...buildEnv].every(entry =>
      /^[A-Za-z_][A-Za-z0-9_]*=/.test(entry)
    )
  }

  /** `command` in the checkout, with production's environment (and with `build`, `build-env`). */
  command(command: Command, build = false): AdminCommand {
    const workdir = this.repoPath
    if (this.runtimeEnv.length + this.buildEnv.length === 0) {
      return { command: docker.exec(this.name, command, { workdir }) }
    }
    if (!this.inShm) {
      const env = build ? [...this.runtimeEnv, ...this.buildEnv] : this.runtimeEnv
      return {
        command: docker.exec(this.name, command, { workdir, envFromStdin: env.length > 0 }),
        stdin: env.length > 0 ? env.join('\n') + '\n' : undefined
      }
    }
    const write = !this.written
    this.written = true
    const exports = (env: string[]) =>
      env.map(entry => {
        const at = entry.indexOf('=')
        return `export ${entry.slice(0, at)}=${quote(entry.slice(at + 1))}\n`
      })
    const withEnv = shScript(
      WITH_ENV,
      ENV_FILE,
      BUILD_ENV_FILE,
      build ? 'build' : '',
      write ? 'write' : '',
      ...command
    )
    return {
      command: docker.exec(this.name, withEnv, { workdir, interactive: write }),
      stdin: write
        ? [...exports(this.runtimeEnv), '#build-env\n', ...exports(this.buildEnv)].join('')
        : undefined
    }
  }
}

/**
 * Step 6: the admin container, a copy of production in which the release is made. A stale one
 * of an earlier run is removed (never production, never one a person is working in).
 */
export async function createAdminContainer(
  run: Run,
  host: Host,
  production: Production,
  containers: ContainerInfo[]
): Promise<Admin> {
  const { runner, settings } = run
  const { admin: name, container, image } = production
  const stale = containers.find(c => c.name === name)
  if (name === container.name || stale?.id === container.id) {
    throw new DeployError(
      `The admin container name ${name} is the production container; set \`admin-container\` to another name.`
    )
  }
  // Under the lock, an admin container of ours is a dead run's, whatever still runs in it.
  if (stale?.running && stale.execIds.length > 0 && !docker.isOurAdmin(stale)) {
    throw new DeployError(
      `Someone is working in ${name}: it has ${stale.execIds.length} open \`docker exec\` session(s), as when the runbook is followed by hand. ` +
        'Production is unchanged. Finish that session (or remove the container if it is abandoned), then deploy again.'
    )
  }
  if (stale) {
    runner.warning(
      `Removing ${name} (${short(stale.id)}, ${stale.status}, created ${stale.created}): an admin container left by an earlier run. It is not production.`,
      'Stale admin container'
    )
    await host.run(docker.removeContainer(stale.id), 'docker rm -f (stale admin container)')
  }
  run.adminContainer = name
  run.progress({ phase: 'admin', adminContainer: name })
  await host.run(
    docker.runAdmin({
      name,
      imageId: image.id,
      hasEntrypoint: docker.hasEntrypoint(image.config),
      networkMode: container.networkMode,
      user: adminUser(container, image)
    }),
    'docker run (admin container)'
  )
  runner.info(`Created ${name} from ${short(image.id)}`)
  return new Admin(name, settings.repoPath, production, settings.buildEnv)
}

/**
 * Remove the admin container, its work done. That decides nothing about the deploy: under the
 * deploy lock its holder removes it after the job, as it prunes releases (the next deploy waits
 * for it; one that finds it anyway removes it as stale); without a lock, here and now.
 */
export async function removeAdmin(run: Run, host: Host, name: string): Promise<void> {
  if (run.lock) run.lock.after(docker.removeContainer(name))
  else await host.run(docker.removeContainer(name), 'docker rm -f (admin container)')
  run.adminContainer = undefined
}
