import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { Output } from '../src/action-io.js'
import { main, post } from '../src/main.js'

// The two steps as the entry point runs them, with the inputs in the environment as a runner
// passes them (INPUT_*), up to the point where either would connect.

const saved = { ...process.env }
const exitCode = process.exitCode
beforeEach(() => {
  for (const name of Object.keys(process.env))
    if (/^(INPUT_|STATE_|GITHUB_)/.test(name)) delete process.env[name]
})
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
  Object.assign(process.env, saved)
  process.exitCode = exitCode
})

function inputs(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values))
    process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
}

/** A runner that also keeps the titles of its error annotations. */
function recording() {
  const runner = new FakeRunner()
  const titles: (string | undefined)[] = []
  runner.error = (text: string, title?: string) => {
    runner.errors.push(text)
    titles.push(title)
  }
  return { runner, titles }
}

const valid = {
  host: '203.0.113.10',
  password: 'droplet password',
  image: 'texasca/api',
  'repo-path': '/srv/app',
  ref: 'a'.repeat(40),
  'build-env': 'API_TOKEN=s3cret=value\nDEBUG='
}

describe('the deploy step', () => {
  it('on a bad input fails the step, names the input, and still writes every output', async () => {
    inputs({ ...valid, host: '' })
    const { runner, titles } = recording()
    await main(runner)
    expect(titles).toEqual(['Bad input `host`'])
    expect(runner.errors).toEqual([
      'Input `host`: is required: the droplet IP address or host name.'
    ])
    expect(process.exitCode).toBe(1)
    expect(Object.fromEntries(runner.outputs)).toEqual({
      [Output.Deployed]: 'false',
      [Output.Commit]: '',
      [Output.PreviousCommit]: '',
      [Output.ImageId]: '',
      [Output.PreviousImageId]: '',
      [Output.ContainerId]: '',
      [Output.RolledBack]: 'false'
    })
  })

  it('masks the secrets before it reads anything else', async () => {
    inputs({ ...valid, image: 'Not An Image' })
    const { runner } = recording()
    await main(runner)
    expect(runner.secrets).toEqual(['droplet password', 'droplet password', 's3cret=value'])
    expect(runner.errors[0]).toMatch(/^Input `image`: 'Not An Image' is not an image reference/)
  })
})

describe('the clean-up step', () => {
  it('says nothing on a bad input: the deploy step has said it', async () => {
    inputs({ ...valid, host: '' })
    const { runner } = recording()
    await post(runner)
    expect(runner.errors).toEqual([])
    expect(runner.outputs.size).toBe(0)
    expect(process.exitCode).toBe(exitCode)
  })

  it('connects nowhere when the deploy step saved nothing to put right', async () => {
    inputs(valid)
    const { runner } = recording()
    await post(runner)
    expect(runner.log).toEqual(['The deploy step finished; nothing to clean up.'])
    expect(runner.errors).toEqual([])
    expect(runner.outputs.size).toBe(0)
  })
})
