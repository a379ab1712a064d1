import type { DeployReport } from '../deploy.js'
import type { Host } from '../host.js'
import { findRelease } from '../release/rollback.js'
import type { Production } from '../target.js'
import { readCommit } from './production.js'
import type { Run } from './run.js'

/**
 * `rollback-to`: no build; a retained release (`previous`, or a commit) is put back in production
 * the way a release is, and the commit it holds is read from the container now serving it.
 */
export async function rollBackTo(
  run: Run,
  host: Host,
  production: Production
): Promise<DeployReport> {
  const { settings, report } = run
  const { target } = production
  const wanted = settings.rollbackTo!
  const found = await run.step(`Find the release to roll back to (${wanted})`, () =>
    findRelease(host, wanted, target.repository, production.image)
  )
  await run.startDeployment()
  await run.step(target.replaceStep, () =>
    target.replace(run, host, production, found.image, `${target.repository}:${found.tag}`)
  )
  report.commit = await readCommit(
    host,
    report.containerId ?? production.container.name,
    settings.repoPath
  ).catch(() => undefined)
  report.outcome = 'deployed'
  return report
}
