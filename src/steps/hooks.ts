import { Input, type InputName } from '../action-io.js'
import type { DeployReport } from '../deploy.js'
import { formatDuration, message, short } from '../format.js'
import { DeployError, type Host } from '../host.js'
import { runBounded } from '../remote/scripts.js'
import { shScript, type Command } from '../shell.js'
import { removeAdmin, type Admin } from './admin.js'
import type { Run } from './run.js'

export const PRE_DEPLOY_STEP = 'Run the pre-deploy command'
export const POST_DEPLOY_STEP = 'Run the post-deploy command'

type HookRecord = NonNullable<DeployReport['hooks']>[number]

/** The lines of a hook's output the job summary keeps, and how much of each. */
const TAIL_LINES = 10
const TAIL_LINE_CHARS = 200
/** The exit code of a hook stopped at `command-timeout`, as timeout(1) exits. */
const TIMED_OUT = 124
/** The exit code recorded when the session ended under a hook: ssh's own for a lost command. */
const NO_EXIT_CODE = 255
/** On the host, timeout(1) stops the post-deploy command; this is for a host that lacks it. */
const HOST_TIMEOUT_GRACE_MS = 10_000

/**
 * Step 11: the pre-deploy command (migrations), in the admin container exactly as the build ran:
 * in `repo-path`, with production's environment and `build-env`, production's network, and by
 * now the release's code. After the commit, so nothing it writes goes into the release; before the
 * canary and the swap, so a failure leaves production untouched. The admin container goes after.
 */
export async function preDeploy(run: Run, host: Host, admin: Admin): Promise<void> {
  const { settings } = run
  const code = settings.preDeployCommand!
  const { command, stdin } = admin.command(['sh', '-c', code], true)
  const hook = await runHook(run, host, Input.PreDeployCommand, command, {
    timeoutMs: settings.commandTimeoutSec * 1000,
    stdin
  })
  if (hook.code !== 0) {
    const what =
      hook.code === TIMED_OUT
        ? `did not finish within ${settings.commandTimeoutSec} s (\`command-timeout\`); removing the admin container stops it`
        : `exited with code ${hook.code}`
    throw new DeployError(
      `The pre-deploy command (\`${Input.PreDeployCommand}\`) ${what}; production is unchanged. Its output is above. ` +
        'What it did before it stopped is not undone (a migration outside a transaction may be half-applied): check, fix and deploy again.'
    )
  }
  // Its work is done; should removing it fail, the clean-up tries again.
  await removeAdmin(run, host, admin.name).catch(() => undefined)
}

/**
 * Step 15: the post-deploy command, on the host, once the release is confirmed healthy. What the
 * deploy did reaches it as HERMES_* variables, passed by `env` as arguments of their own, never
 * as code. A failure is a warning (with `post-deploy-must-pass`, a failed job); the release stays
 * either way: it passed its checks, and a notification that failed is no reason to take it out.
 */
export async function postDeploy(run: Run, host: Host): Promise<void> {
  const { settings, runner, report } = run
  const code = settings.postDeployCommand!
  const variables = {
    HERMES_COMMIT: report.commit,
    HERMES_PREVIOUS_COMMIT: report.previousCommit,
    HERMES_IMAGE_ID: report.imageId,
    HERMES_PREVIOUS_IMAGE_ID: report.previousImageId,
    HERMES_CONTAINER_ID: report.containerId
  }
  const command: Command = [
    'env',
    ...Object.entries(variables).map(([name, value]) => `${name}=${value ?? ''}`),
    ...shScript(runBounded, code, String(settings.commandTimeoutSec))
  ]
  try {
    await run.step(POST_DEPLOY_STEP, async () => {
      const hook = await runHook(run, host, Input.PostDeployCommand, command, {
        timeoutMs: settings.commandTimeoutSec * 1000 + HOST_TIMEOUT_GRACE_MS
      })
      if (hook.code === 0) return
      const what =
        hook.code === TIMED_OUT
          ? `did not finish within ${settings.commandTimeoutSec} s (\`command-timeout\`)`
          : `exited with code ${hook.code}`
      throw new DeployError(
        `The post-deploy command (\`${Input.PostDeployCommand}\`) ${what}. ` +
          `Production keeps the release ${short(report.imageId)}: a post-deploy command never rolls back.` +
          (hook.tail ? ` Its last output:\n${hook.tail}` : '')
      )
    })
  } catch (error) {
    if (settings.postDeployMustPass) {
      throw Object.assign(
        new DeployError(
          `${message(error)}\nThe job fails because \`${Input.PostDeployMustPass}\` is on.`
        ),
        { step: POST_DEPLOY_STEP }
      )
    }
    runner.warning(message(error), 'Post-deploy command')
  }
}

/**
 * Run a hook with its output streamed to the log as the build's is (host text, never a workflow
 * command), and recorded in the report with its exit code, time and the tail of its output.
 */
async function runHook(
  run: Run,
  host: Host,
  name: InputName,
  command: Command,
  options: { timeoutMs: number; stdin?: string }
): Promise<HookRecord> {
  const { runner, report } = run
  const output = new OutputTail()
  const begun = run.now()
  runner.debug(`$ ${command.join(' ')}`)
  let code: number
  try {
    const result = await host.shell.exec(command, {
      label: `\`${name}\``,
      timeoutMs: options.timeoutMs,
      onOutput: chunk => {
        output.push(chunk)
        return runner.stream(chunk)
      },
      drained: () => runner.drained(),
      stdin: options.stdin
    })
    code = result.code
  } catch (error) {
    // Abandoned at the timeout, or the session ended under it: either way it did not pass.
    code = run.now() - begun >= options.timeoutMs ? TIMED_OUT : NO_EXIT_CODE
    output.push(`\n${message(error)}\n`)
  }
  const hook = { name, code, durationMs: run.now() - begun, tail: output.tail() }
  report.hooks = [...(report.hooks ?? []), hook]
  runner.info(`\`${name}\` exited with code ${code} after ${formatDuration(hook.durationMs)}`)
  return hook
}

/** The last lines of a command's output, as a terminal would have left them: no colours, no \r. */
class OutputTail {
  private text = ''

  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-16 * 1024)
  }

  tail(): string {
    return (
      this.text
        // eslint-disable-next-line no-control-regex
        .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '')
        .split(/\r?\n/)
        .map(line => line.slice(line.lastIndexOf('\r') + 1).trimEnd())
        .filter(Boolean)
        .slice(-TAIL_LINES)
        .map(line => (line.length > TAIL_LINE_CHARS ? `${line.slice(0, TAIL_LINE_CHARS)}…` : line))
        .join('\n')
    )
  }
}
