import { adminUser, extraEnv } from '../decide.js'
import * as docker from '../docker.js'
import type { ContainerInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, type Host } from '../host.js'
import { writeEnv as WRITE_ENV } from '../remote/scripts.js'
import { chain, quote, shScript, type Command } from '../shell.js'
import type { Production } from '../target.js'
import type { Run } from './run.js'

/** Where the admin container keeps the environment: its own tmpfs, never part of a commit. */
const ENV_FILE = '/dev/shm/hermes-deploy.env'
const BUILD_ENV_FILE = '/dev/shm/hermes-deploy.build.env'

/**
 * The admin container, and how commands run in it. Production's own environment (what the
 * supervisor adds beyond the image's), and for the build and the pre-deploy command `build-env`
 * too, reach them without ever being on a command line or baked into the image: written once,
 * at its creation, into its /dev/shm (a tmpfs that `docker commit` does not take), and read by
 * each command from there. So no command sends it on stdin, which would cost a round trip each.
 * A variable whose name a shell cannot export goes as an env-file on stdin to each instead.
 */
export class Admin {
  /** `NAME=value` lines production runs with beyond the image's own. */
  readonly runtimeEnv: string[]
  /** `NAME=value` lines of `build-env`. */
  private readonly buildEnv: string[]
  /** Whether the environment is in the container's /dev/shm; else it goes on stdin. */
  private readonly inShm: boolean

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

  /**
   * Run right after the container is created, in the same round trip: writes the environment
   * into it. Undefined when there is nothing to write, or it goes on stdin.
   */
  writeEnv(): { command: Command; stdin: string } | undefined {
    if (!this.inShm || this.runtimeEnv.length + this.buildEnv.length === 0) return undefined
    const exports = (env: string[]) =>
      env.map(entry => {
        const at = entry.indexOf('=')
        return `export ${entry.slice(0, at)}=${quote(entry.slice(at + 1))}\n`
      })
    return {
      command: docker.exec(this.name, shScript(WRITE_ENV, ENV_FILE, BUILD_ENV_FILE), {
        interactive: true
      }),
      stdin: [...exports(this.runtimeEnv), '#build-env\n', ...exports(this.buildEnv)].join('')
    }
  }

  /** `command` in the checkout, with production's environment (and with `build`, `build-env`). */
  exec(command: Command, build = false): Command {
    const env = build ? [...this.runtimeEnv, ...this.buildEnv] : this.runtimeEnv
    if (env.length === 0) return docker.exec(this.name, command, { workdir: this.repoPath })
    if (!this.inShm) {
      return docker.exec(this.name, command, { workdir: this.repoPath, envFromStdin: true })
    }
    const files = build ? [ENV_FILE, BUILD_ENV_FILE] : [ENV_FILE]
    const source = files.map(file => `. ${file}`).join(' && ')
    return docker.exec(this.name, ['sh', '-c', `${source} && exec "$@"`, 'sh', ...command], {
      workdir: this.repoPath
    })
  }

  /** What `exec(command, build)` reads on stdin: the env-file when it is not in /dev/shm. */
  stdin(build = false): string | undefined {
    const env = build ? [...this.runtimeEnv, ...this.buildEnv] : this.runtimeEnv
    return this.inShm || env.length === 0 ? undefined : env.join('\n') + '\n'
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
  const admin = new Admin(name, settings.repoPath, production, settings.buildEnv)
  const create = docker.runAdmin({
    name,
    imageId: image.id,
    hasEntrypoint: docker.hasEntrypoint(image.config),
    networkMode: container.networkMode,
    user: adminUser(container, image)
  })
  const env = admin.writeEnv()
  await host.run(
    env ? chain(create, env.command) : create,
    env ? 'docker run (admin container); write its environment' : 'docker run (admin container)',
    undefined,
    env?.stdin
  )
  runner.info(`Created ${name} from ${short(image.id)}`)
  return admin
}
