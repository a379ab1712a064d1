import * as core from '@actions/core'
import pRetry from 'p-retry'
import { deploy, type DeployReport } from './deploy.js'
import { message } from './format.js'
import { compareCommits, rangeBase } from './github/compare.js'
import { readRunContext, type RunContext } from './github/context.js'
import { GitHubDeployment } from './github/deployments.js'
import { InputError, readSettings, type Settings } from './inputs.js'
import type { LockHolder } from './lock.js'
import { recover } from './post.js'
import { actionsRunner, type Runner } from './runner.js'
import { connect, ConnectionError } from './ssh/connection.js'
import type { RemoteShell } from './shell.js'
import { isPost, markMainStarted, readProgress, saveProgress } from './state.js'
import { renderSummary } from './summary.js'

/** Entry point for both steps of action.yml: the deploy (main) and the clean-up (post). */
export async function run(runner: Runner = actionsRunner): Promise<void> {
  const post = isPost()
  if (!post) markMainStarted()
  const context = readRunContext()
  let settings: Settings
  try {
    maskSecrets(runner)
    settings = readSettings(name => core.getInput(name), context)
  } catch (error) {
    if (post) return // the main step already said what was wrong
    writeOutputs(runner, undefined)
    core.setFailed(
      error instanceof InputError ? error.message : `Could not read the inputs: ${message(error)}`
    )
    return
  }
  const deps = {
    runner,
    connect: () => connectWithRetries(settings, runner),
    holder: holder(settings, context)
  }

  if (post) {
    try {
      await recover(settings, readProgress(), deps)
    } catch (error) {
      core.setFailed(`Clean-up after the deploy step failed: ${message(error)}`)
    }
    return
  }

  const report = await deploy(settings, {
    ...deps,
    progress: saveProgress,
    compare: (base, head) =>
      compareCommits({
        token: settings.githubToken,
        apiUrl: process.env.GITHUB_API_URL,
        repository: context.repository ?? '',
        base: rangeBase(base, context.before)?.sha ?? base,
        head
      }),
    deployment: settings.environment
      ? new GitHubDeployment({
          token: settings.githubToken,
          apiUrl: process.env.GITHUB_API_URL,
          repository: context.repository ?? '',
          environment: settings.environment,
          sha: settings.ref,
          environmentUrl: settings.environmentUrl,
          logUrl: context.runUrl,
          description: `${settings.rollbackTo ? 'Roll back' : 'Deploy'} ${settings.image.name} on ${settings.host}`
        })
      : undefined
  })
  writeOutputs(runner, report)
  await runner
    .writeSummary(renderSummary(report))
    .catch(error => runner.warning(`Could not write the job summary: ${message(error)}`))
  if (report.outcome === 'failed' || report.outcome === 'rolled-back') {
    const step = report.failedStep ? ` at "${report.failedStep}"` : ''
    const rolledBack = report.rolledBack
      ? ' Production was rolled back to the previous release.'
      : ''
    core.setFailed(`Deploy failed${step}: ${report.reason}${rolledBack}`)
  }
}

/** A dropped packet or a droplet still booting deserves another try; a wrong key does not. */
function connectWithRetries(settings: Settings, runner: Runner): Promise<RemoteShell> {
  return pRetry(
    () =>
      connect({
        host: settings.host,
        port: settings.port,
        username: settings.username,
        privateKey: settings.sshKey,
        passphrase: settings.sshPassphrase,
        hostFingerprint: settings.hostFingerprint,
        knownHosts: settings.knownHosts,
        strictHostKey: settings.strictHostKey,
        connectTimeoutMs: settings.connectTimeoutSec * 1000,
        onWarning: text => runner.warning(text, 'Host key'),
        onDebug: text => runner.debug(text)
      }),
    {
      retries: 2,
      minTimeout: 2000,
      factor: 2,
      shouldRetry: ({ error }) =>
        error instanceof ConnectionError && (error.phase === 'tcp' || error.phase === 'handshake'),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (
          retriesLeft > 0 &&
          error instanceof ConnectionError &&
          error.phase !== 'host-key' &&
          error.phase !== 'authentication'
        ) {
          runner.warning(`Connection attempt ${attemptNumber} failed: ${error.message} Retrying.`)
        }
      }
    }
  )
}

function holder(settings: Settings, context: RunContext): LockHolder {
  return {
    repository: context.repository,
    run: context.runUrl,
    commit: settings.ref,
    actor: context.actor,
    since: new Date().toISOString()
  }
}

/** Every line of the key and the passphrase, before anything else can print them. */
function maskSecrets(runner: Runner): void {
  for (const name of ['ssh-key', 'ssh-passphrase']) {
    const value = core.getInput(name, { trimWhitespace: false })
    if (!value) continue
    runner.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim()
      if (trimmed.length >= 8 && !/^-----(BEGIN|END) /.test(trimmed)) runner.setSecret(trimmed)
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
