import * as core from '@actions/core'
import pRetry from 'p-retry'
import { deploy, type DeployReport } from './deploy.js'
import { message } from './format.js'
import { readRunContext, type RunContext } from './github/context.js'
import { deferFinish, githubSide } from './github/side.js'
import { InputError, readSettings, type HostAddress, type Settings } from './inputs.js'
import type { LockHolder } from './lock.js'
import { recover } from './post.js'
import { foldRollout, rollOut } from './rollout.js'
import { actionsRunner, type Runner } from './runner.js'
import { connect, ConnectionError } from './ssh/connection.js'
import type { RemoteShell } from './shell.js'
import { isPost, markMainStarted, readProgress, saveProgress, type Progress } from './state.js'
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
    fail(
      runner,
      error instanceof InputError ? `Bad input \`${error.input}\`` : 'Bad input',
      error instanceof InputError ? error.message : `Could not read the inputs: ${message(error)}`
    )
    return
  }
  const deps = {
    runner,
    connect: () => connectWithRetries(settings, settings.hosts[0], runner),
    connectTo: (address: HostAddress) => connectWithRetries(settings, address, runner),
    holder: holder(settings, context)
  }

  if (post) {
    try {
      await recover(settings, readProgress(), deps)
    } catch (error) {
      fail(runner, 'Clean-up failed', `Clean-up after the deploy step failed: ${message(error)}`)
    }
    return
  }

  // With several hosts, the first host's connection outlives its deploy: the image streams from it.
  const first = settings.hosts.length > 1 ? keepOpen() : undefined
  // The deploy's progress and each other host's, saved together for the post step.
  let saved: Progress = { phase: 'started' }
  const save = (next: Progress) => saveProgress((saved = next))
  const github = githubSide(settings, context)
  const deployment = first && github.deployment ? deferFinish(github.deployment) : undefined
  const report = await deploy(settings, {
    ...deps,
    connect: first ? () => first.open(deps.connect) : deps.connect,
    progress: progress => save({ ...progress, others: saved.others }),
    ...github,
    deployment: deployment?.record ?? github.deployment
  })
  if (
    first?.shell &&
    report.imageId &&
    (report.outcome === 'deployed' || report.outcome === 'unchanged')
  ) {
    const results = await rollOut(
      settings,
      { imageId: report.imageId, commit: report.commit },
      first.shell,
      {
        ...deps,
        progress: (host, progress) =>
          save({ ...saved, others: { ...saved.others, [host]: progress } })
      }
    )
    foldRollout(report, results)
  }
  await first?.close()
  if (deployment) {
    const success = report.outcome === 'deployed' || report.outcome === 'unchanged'
    const { warning } = await deployment.settle(
      success ? 'success' : 'failure',
      success ? undefined : report.reason?.split('\n')[0]
    )
    if (warning) runner.warning(warning, 'GitHub deployment')
  }
  writeOutputs(runner, report)
  await runner
    .writeSummary(renderSummary(report))
    .catch(error => runner.warning(`Could not write the job summary: ${message(error)}`))
  if (report.outcome === 'failed' || report.outcome === 'rolled-back') {
    const step = report.failedStep ? ` at "${report.failedStep}"` : ''
    const rolledBack = report.rolledBack
      ? ' Production was rolled back to the previous release.'
      : ''
    const title = report.rolledBack ? 'Deploy failed and was rolled back' : `Deploy failed${step}`
    fail(runner, title, `Deploy failed${step}: ${report.reason}${rolledBack}`)
  }
}

/** Fail the step with an annotation whose title says what failed (core.setFailed gives none). */
function fail(runner: Runner, title: string, text: string): void {
  runner.error(text, title)
  process.exitCode = core.ExitCode.Failure
}

/** A dropped packet or a droplet still booting deserves another try; a wrong key does not. */
function connectWithRetries(
  settings: Settings,
  address: HostAddress,
  runner: Runner
): Promise<RemoteShell> {
  return pRetry(
    () =>
      connect({
        target: {
          host: address.host,
          port: address.port,
          username: settings.username,
          privateKey: settings.sshKey,
          passphrase: settings.sshPassphrase,
          password: settings.password,
          hostFingerprint: settings.hostFingerprint,
          knownHosts: settings.knownHosts,
          inputs: {
            key: 'ssh-key',
            fingerprint: 'host-fingerprint',
            knownHosts: 'ssh-known-hosts',
            password: 'password'
          }
        },
        proxy: settings.proxy && {
          host: settings.proxy.host,
          port: settings.proxy.port,
          username: settings.proxy.username,
          privateKey: settings.proxy.sshKey ?? settings.sshKey,
          passphrase: settings.proxy.sshKey ? settings.proxy.sshPassphrase : settings.sshPassphrase,
          password: settings.proxy.password,
          hostFingerprint: settings.proxy.hostFingerprint,
          knownHosts: settings.proxy.knownHosts,
          inputs: {
            key: settings.proxy.sshKey ? 'proxy-ssh-key' : 'ssh-key',
            fingerprint: 'proxy-host-fingerprint',
            knownHosts: 'proxy-known-hosts',
            password: 'proxy-password'
          }
        },
        strictHostKey: settings.strictHostKey,
        ciphers: settings.ciphers,
        connectTimeoutMs: settings.connectTimeoutSec * 1000,
        onWarning: text => runner.warning(text, 'SSH'),
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

/** A connection whose `close()` from the deploy is put off until the rollout is done with it. */
function keepOpen() {
  const kept: {
    shell?: RemoteShell
    open: (connect: () => Promise<RemoteShell>) => Promise<RemoteShell>
    close: () => Promise<void>
  } = {
    open: async connect => {
      const shell = await connect()
      kept.shell = shell
      return {
        exec: shell.exec.bind(shell),
        spawn: shell.spawn.bind(shell),
        channel: shell.channel.bind(shell),
        close: async () => {}
      }
    },
    close: async () => kept.shell?.close()
  }
  return kept
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

/** Every secret input, whole and line by line, before anything else can print them. */
function maskSecrets(runner: Runner): void {
  const secrets = [
    'ssh-key',
    'ssh-passphrase',
    'password',
    'proxy-ssh-key',
    'proxy-ssh-passphrase',
    'proxy-password',
    'registry-password'
  ]
  for (const name of secrets) {
    const value = core.getInput(name, { trimWhitespace: false })
    if (!value) continue
    runner.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim()
      if (trimmed.length >= 8 && !/^-----(BEGIN|END) /.test(trimmed)) runner.setSecret(trimmed)
    }
  }
  // build-env: the values are secret, the names are not; a line that is not NAME=value (a key
  // pasted by mistake) is secret whole.
  for (const line of core.getInput('build-env').split(/\r?\n/)) {
    const value = (line.includes('=') ? line.slice(line.indexOf('=') + 1) : line).trim()
    if (value && (line.includes('=') || (value.length >= 8 && !value.startsWith('#'))))
      runner.setSecret(value)
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
