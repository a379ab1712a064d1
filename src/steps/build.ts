import { DeployError, type Host } from '../host.js'
import type { Admin } from './admin.js'
import type { Run } from './run.js'

/** The step's name: the build command. */
export const buildStep = (run: Run) => `Build (${run.settings.buildCommand})`

/**
 * Step 9: build, streaming the output as it comes, with production's environment and `build-env`
 * (see Admin): the values never appear on a command line on the host.
 */
export async function build(run: Run, host: Host, admin: Admin): Promise<void> {
  const { settings, runner } = run
  const { command, stdin } = admin.command(['sh', '-c', settings.buildCommand], true)
  runner.debug(`$ ${command.join(' ')}`)
  const result = await host.shell.exec(command, {
    label: `build command \`${settings.buildCommand}\``,
    timeoutMs: settings.commandTimeoutSec * 1000,
    onOutput: chunk => runner.stream(chunk),
    drained: () => runner.drained(),
    stdin
  })
  if (result.code !== 0) {
    throw new DeployError(
      `The build command \`${settings.buildCommand}\` exited with code ${result.code}; production is unchanged. ` +
        'Its output is above; fix the build and deploy again.'
    )
  }
}
