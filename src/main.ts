import { Input, InputError, Output, SECRET_INPUTS } from './action-io.js'
import { deploy, type DeployReport } from './deploy.js'
import { message } from './format.js'
import { readRunContext, type RunContext } from './github/context.js'
import { deferFinish, githubSide } from './github/side.js'
import { readSettings, type HostAddress, type Settings } from './inputs.js'
import type { LockHolder } from './lock.js'
import { recover } from './post.js'
import { foldRollout, rollOut } from './rollout.js'
import { actionsRunner, type Runner } from './runner.js'
import type { RemoteShell } from './shell.js'
import { connectWithRetries } from './ssh/options.js'
import { readProgress, saveProgress, type Progress } from './state.js'
import { renderSummary } from './summary.js'
import { getInput } from './workflow-commands.js'

// The two steps of action.yml, each a function of its own: `main` deploys, `post` puts the host
// right when `main` was cancelled or killed half-way. src/index.ts picks one.

/** The deploy step: read the inputs, deploy (and roll out to every other host), report. */
export async function main(runner: Runner = actionsRunner): Promise<void> {
  const context = readRunContext()
  let settings: Settings
  try {
    settings = readInputs(runner, context)
  } catch (error) {
    writeOutputs(runner, undefined)
    fail(
      runner,
      error instanceof InputError ? `Bad input \`${error.input}\`` : 'Bad input',
      error instanceof InputError ? error.message : `Could not read the inputs: ${message(error)}`
    )
    return
  }
  const deps = sessions(settings, context, runner)

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

/** The clean-up step: from what the deploy step saved, finish or undo what it left half-done. */
export async function post(runner: Runner = actionsRunner): Promise<void> {
  const context = readRunContext()
  let settings: Settings
  try {
    settings = readInputs(runner, context)
  } catch {
    return // the main step already said what was wrong
  }
  const deps = sessions(settings, context, runner)
  try {
    await recover(settings, readProgress(), deps)
  } catch (error) {
    fail(runner, 'Clean-up failed', `Clean-up after the deploy step failed: ${message(error)}`)
  }
}

/** Mask the secrets, then read and check every input. Throws on a bad input. */
function readInputs(runner: Runner, context: RunContext): Settings {
  maskSecrets(runner)
  return readSettings(name => getInput(name), context)
}

/** What both steps connect with: to the first host, to any host, and who holds the lock. */
function sessions(settings: Settings, context: RunContext, runner: Runner) {
  return {
    runner,
    connect: () => connectWithRetries(settings, settings.hosts[0], runner),
    connectTo: (address: HostAddress) => connectWithRetries(settings, address, runner),
    holder: holder(settings, context)
  }
}

/** Fail the step with an annotation whose title says what failed (a bare failure has none). */
function fail(runner: Runner, title: string, text: string): void {
  runner.error(text, title)
  process.exitCode = 1
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
  for (const name of SECRET_INPUTS) {
    const value = getInput(name, { trimWhitespace: false })
    if (!value) continue
    runner.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim()
      if (trimmed.length >= 8 && !/^-----(BEGIN|END) /.test(trimmed)) runner.setSecret(trimmed)
    }
  }
  // build-env: the values are secret, the names are not; a line that is not NAME=value (a key
  // pasted by mistake) is secret whole.
  for (const line of getInput(Input.BuildEnv).split(/\r?\n/)) {
    const value = (line.includes('=') ? line.slice(line.indexOf('=') + 1) : line).trim()
    if (value && (line.includes('=') || (value.length >= 8 && !value.startsWith('#'))))
      runner.setSecret(value)
  }
}

function writeOutputs(runner: Runner, report: DeployReport | undefined): void {
  runner.setOutput(Output.Deployed, String(report?.outcome === 'deployed'))
  runner.setOutput(Output.Commit, report?.commit ?? '')
  runner.setOutput(Output.PreviousCommit, report?.previousCommit ?? '')
  runner.setOutput(Output.ImageId, report?.imageId ?? '')
  runner.setOutput(Output.PreviousImageId, report?.previousImageId ?? '')
  runner.setOutput(Output.ContainerId, report?.containerId ?? '')
  runner.setOutput(Output.RolledBack, String(report?.rolledBack ?? false))
}
