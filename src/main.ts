import * as core from '@actions/core'
import { deploy, type DeployReport } from './deploy.js'
import { readRunContext } from './github/context.js'
import { InputError, readSettings, type Settings } from './inputs.js'
import { actionsRunner, type Runner } from './runner.js'
import { connect } from './ssh/connection.js'
import { renderSummary } from './summary.js'

/** Read the inputs, run the deploy, write outputs and summary; fail the step on any error. */
export async function run(runner: Runner = actionsRunner): Promise<void> {
  let settings: Settings
  try {
    maskSecrets(runner)
    settings = readSettings(name => core.getInput(name), readRunContext())
  } catch (error) {
    writeOutputs(runner, undefined)
    core.setFailed(
      error instanceof InputError ? error.message : `Could not read the inputs: ${String(error)}`
    )
    return
  }

  const report = await deploy(settings, {
    runner,
    connect: () =>
      connect({
        host: settings.host,
        port: settings.port,
        username: settings.username,
        privateKey: settings.sshKey,
        passphrase: settings.sshPassphrase,
        hostFingerprint: settings.hostFingerprint,
        knownHosts: settings.knownHosts,
        strictHostKey: settings.strictHostKey,
        onWarning: message => runner.warning(message, 'Host key'),
        onDebug: message => runner.debug(message)
      })
  })
  writeOutputs(runner, report)
  await runner
    .writeSummary(renderSummary(report))
    .catch(error => runner.warning(`Could not write the job summary: ${String(error)}`))
  if (report.outcome === 'failed' || report.outcome === 'rolled-back') {
    const step = report.failedStep ? ` at "${report.failedStep}"` : ''
    const rolledBack = report.rolledBack
      ? ' Production was rolled back to the previous release.'
      : ''
    core.setFailed(`Deploy failed${step}: ${report.reason}${rolledBack}`)
  }
}

/** Every line of the key and the passphrase, before anything else can print them. */
function maskSecrets(runner: Runner): void {
  for (const name of ['ssh-key', 'ssh-passphrase']) {
    const value = core.getInput(name, { trimWhitespace: false })
    if (!value) continue
    runner.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      if (line.trim().length >= 8 && !/^-----(BEGIN|END) /.test(line.trim()))
        runner.setSecret(line.trim())
    }
  }
}

function writeOutputs(runner: Runner, report: DeployReport | undefined): void {
  runner.setOutput('deployed', String(report?.outcome === 'deployed'))
  runner.setOutput('commit', report?.commit ?? '')
  runner.setOutput('previous-commit', report?.previousCommit ?? '')
  runner.setOutput('image-id', report?.imageId ?? '')
  runner.setOutput('previous-image-id', report?.previousImageId ?? '')
  runner.setOutput('container-id', report?.containerId ?? '')
  runner.setOutput('rolled-back', String(report?.rolledBack ?? false))
}
