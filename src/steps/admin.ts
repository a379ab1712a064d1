import { adminUser, extraEnv } from '../decide.js'
import * as docker from '../docker.js'
import type { ContainerInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, type Host } from '../host.js'
import type { Command } from '../shell.js'
import type { Production } from '../target.js'
import type { Run } from './run.js'

/**
 * The admin container, and how commands run in it. Production's own environment (what the
 * supervisor adds beyond the image's) reaches the build and git through an env-file on stdin:
 * never on a command line, never baked into the image.
 */
export class Admin {
  /** `NAME=value` lines production runs with beyond the image's own. */
  readonly runtimeEnv: string[]
  /** The env-file sent on stdin to every command in the admin container, if there is one. */
  readonly stdin: string | undefined

  constructor(
    readonly name: string,
    private readonly repoPath: string,
    production: Production
  ) {
    this.runtimeEnv = extraEnv(production.container.env, production.image.config.Env ?? [])
    this.stdin = this.runtimeEnv.length > 0 ? this.runtimeEnv.join('\n') + '\n' : undefined
  }

  /** `command` in the checkout, with production's environment from stdin. */
  exec(command: Command): Command {
    return docker.exec(this.name, command, {
      workdir: this.repoPath,
      envFromStdin: this.stdin !== undefined
    })
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
  return new Admin(name, settings.repoPath, production)
}
