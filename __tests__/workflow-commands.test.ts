import { afterEach, describe, expect, it } from '@jest/globals'
import * as core from '@actions/core'
import fc from 'fast-check'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as workflow from '../src/workflow-commands.js'

// src/workflow-commands.ts speaks the runner's protocol as @actions/core 3 does, without loading
// it. These tests hold the two side by side: the same calls must write the same bytes, to stdout
// and to the runner's files, for any text (the random delimiter of a file command aside).

const saved = { ...process.env }
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
  Object.assign(process.env, saved)
})

/** What `fn` writes to stdout (the runner reads workflow commands there). */
async function stdoutOf(fn: () => unknown): Promise<string> {
  const written: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stdout.write
  try {
    await fn()
  } finally {
    process.stdout.write = write
  }
  return written.join('')
}

/** A runner's file command file, empty. */
function runnerFile(name: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hermes-workflow-')), name)
  writeFileSync(path, '')
  return path
}

const sameDelimiter = (text: string) =>
  text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_X')

/** Text with what the protocol must escape: %, CR, LF, and in properties `:` and `,`. */
const text = fc.string({
  unit: fc.constantFrom('a', 'Z', ' ', '%', '\r', '\n', ':', ',', '::', '=', 'é')
})

describe('workflow commands, as @actions/core writes them', () => {
  it('annotations, debug, masks and groups', async () => {
    await fc.assert(
      fc.asyncProperty(text, text, async (message, title) => {
        const pairs: [() => unknown, () => unknown][] = [
          [() => core.info(message), () => workflow.info(message)],
          [() => core.debug(message), () => workflow.debug(message)],
          [() => core.warning(message), () => workflow.warning(message)],
          [() => core.warning(message, { title }), () => workflow.warning(message, title)],
          [() => core.error(message, { title }), () => workflow.error(message, title)],
          [() => core.setSecret(message), () => workflow.setSecret(message)],
          [
            () => core.group(title, async () => core.info(message)),
            () => workflow.group(title, async () => workflow.info(message))
          ]
        ]
        for (const [theirs, ours] of pairs) {
          expect(await stdoutOf(ours)).toBe(await stdoutOf(theirs))
        }
      })
    )
  })

  it('ends a group when what it holds fails', async () => {
    const failing = () =>
      workflow.group('Build', async () => {
        throw new Error('exit 2')
      })
    const out = await stdoutOf(() => failing().catch(() => undefined))
    expect(out).toBe('::group::Build\n::endgroup::\n')
  })

  it('outputs and state, to the runner’s files', async () => {
    await fc.assert(
      fc.property(text, text, (name, value) => {
        for (const [file, theirs, ours] of [
          ['GITHUB_OUTPUT', core.setOutput, workflow.setOutput],
          ['GITHUB_STATE', core.saveState, workflow.saveState]
        ] as const) {
          const a = runnerFile('a')
          const b = runnerFile('b')
          process.env[file] = a
          theirs(name, value)
          process.env[file] = b
          ours(name, value)
          expect(sameDelimiter(readFileSync(b, 'utf8'))).toBe(
            sameDelimiter(readFileSync(a, 'utf8'))
          )
        }
      })
    )
  })

  it('outputs and state without the files (an old runner): the deprecated commands', async () => {
    delete process.env.GITHUB_OUTPUT
    delete process.env.GITHUB_STATE
    const value = 'a%b\nc'
    expect(await stdoutOf(() => workflow.setOutput('commit', value))).toBe(
      await stdoutOf(() => core.setOutput('commit', value))
    )
    expect(await stdoutOf(() => workflow.saveState('progress', value))).toBe(
      await stdoutOf(() => core.saveState('progress', value))
    )
    // A file named but missing is an error, not a silent loss.
    process.env.GITHUB_OUTPUT = join(tmpdir(), 'hermes-no-such-dir', 'output')
    expect(() => workflow.setOutput('commit', 'x')).toThrow(/Missing file at path/)
  })

  it('inputs and saved state, from the environment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('host', 'ssh key', 'Build-Env', 'repo-path'),
        text,
        (name, value) => {
          process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
          process.env[`STATE_${name}`] = value
          expect(workflow.getInput(name)).toBe(core.getInput(name))
          expect(workflow.getInput(name, { trimWhitespace: false })).toBe(
            core.getInput(name, { trimWhitespace: false })
          )
          expect(workflow.getState(name)).toBe(core.getState(name))
        }
      )
    )
    expect(workflow.getInput('not-set-anywhere')).toBe('')
  })

  it('the job summary, appended', async () => {
    const a = runnerFile('a')
    const b = runnerFile('b')
    for (const markdown of ['# Deployed\n', '| a | b |', '']) {
      process.env.GITHUB_STEP_SUMMARY = a
      await core.summary.addRaw(markdown, true).write()
      process.env.GITHUB_STEP_SUMMARY = b
      await workflow.appendSummary(markdown)
    }
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'))
    process.env.GITHUB_STEP_SUMMARY = join(tmpdir(), 'hermes-no-such-dir', 'summary')
    await expect(workflow.appendSummary('x')).rejects.toThrow(/Unable to access summary file/)
  })
})
