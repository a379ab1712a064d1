import * as docker from '../docker.js'
import { DeployError, type Host } from '../host.js'
import type { Admin } from './admin.js'
import type { Run } from './run.js'

/** The step's name: the build command. */
export const buildStep = (run: Run) => `Build (${run.settings.buildCommand})`

/**
 * Step 9: build, streaming the output as it comes. `build-env` joins production's environment on
 * stdin: the values never appear on a command line on the host.
 */
export async function build(run: Run, host: Host, admin: Admin): Promise<void> {
  const { settings, runner } = run
  const env = [...admin.runtimeEnv, ...settings.buildEnv]
  const command = docker.exec(admin.name, ['sh', '-c', settings.buildCommand], {
    workdir: settings.repoPath,
    envFromStdin: env.length > 0
  })
  runner.debug(`$ ${command.join(' ')}`)
  const result = await host.shell.exec(command, {
    label: `build command \`${settings.buildCommand}\``,
    timeoutMs: settings.commandTimeoutSec * 1000,
    onOutput: chunk => runner.stream(chunk),
    drained: () => runner.drained(),
    stdin: env.length > 0 ? env.join('\n') + '\n' : undefined
  })
  if (result.code !== 0) {
    throw new DeployError(
      `The build command \`${settings.buildCommand}\` exited with code ${result.code}; production is unchanged. ` +
        'Its output is above; fix the build and deploy again.'
    )
  }
}
