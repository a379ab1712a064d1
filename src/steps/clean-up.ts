import * as docker from '../docker.js'
import { message } from '../format.js'
import type { Host } from '../host.js'
import type { HeldLock } from '../lock.js'
import { recordAttempt } from '../release/history.js'
import type { Run } from './run.js'

/**
 * The last step, whatever happened: record the attempt in the host's history, finish the GitHub
 * deployment, remove the admin container, release the lock, end the session.
 */
export async function cleanUp(run: Run, host: Host, lock: HeldLock | undefined): Promise<void> {
  const { report, runner, deps, settings } = run
  if (lock && (report.outcome !== 'unchanged' || report.action === 'rollback')) {
    await recordAttempt(host, settings, deps, report, run.now() - run.started, {
      lock,
      shown: run.history
    })
  }
  if (run.deploymentStarted && deps.deployment) {
    const success = report.outcome === 'deployed' || report.outcome === 'unchanged'
    const result = await deps.deployment.finish(
      success ? 'success' : 'failure',
      success ? undefined : report.reason?.split('\n')[0]
    )
    if (result.warning) runner.warning(result.warning, 'GitHub deployment')
  }
  const admin = run.adminContainer
  try {
    if (admin) await host.run(docker.removeContainer(admin), 'docker rm -f (admin container)')
    // Nothing is half-done any more unless a release is out unconfirmed; then the post step checks.
    if (report.outcome !== 'failed' || !report.imageId) run.progress({ phase: 'done' })
  } catch (error) {
    runner.warning(
      `Could not remove the admin container ${admin}: ${message(error).replace(/\.$/, '')}. The next run removes it.`
    )
  }
  await lock
    ?.release()
    .catch(error => runner.warning(`Could not release the deploy lock: ${message(error)}`))
  await host.shell.close()
}
