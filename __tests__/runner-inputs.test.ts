import { afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  declaredInputs,
  evaluateDefault,
  inputVariable,
  runnerInputs
} from '../scripts/runner-inputs.mjs'
import type { RunContext } from '../src/github/context.js'
import { DECLARED_DEFAULTS } from '../src/action-io.js'
import { readSettings, type Settings } from '../src/inputs.js'
import { getInput } from '../src/workflow-commands.js'

// A runner hands the action every input action.yml declares, with its default when the workflow
// sets none. These tests build exactly that environment and read it as the bundled action does
// on a runner (src/workflow-commands.ts, which reads inputs as @actions/core does).

const push: RunContext = { eventName: 'push', sha: 'a'.repeat(40), branch: 'master' }
const expressions = { 'github.token': 'ghs_runner_token' }
let key = ''

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-runner-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  key = readFileSync(join(dir, 'key'), 'utf8')
})

const saved = { ...process.env }
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
  Object.assign(process.env, saved)
})

/** Read the settings from exactly the INPUT_* environment a runner gives for `with:`. */
function onRunner(inputs: Record<string, string>): Settings {
  for (const name of Object.keys(process.env))
    if (name.startsWith('INPUT_')) delete process.env[name]
  Object.assign(process.env, runnerInputs(inputs, expressions))
  return readSettings(name => getInput(name), push)
}

/** The `with:` of the README's first workflow, its secrets and variables given values. */
function readmeMinimalWorkflow(): Record<string, string> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map(m => m[1])
    .find(text => /^\s*jobs:/m.test(text) && text.includes('uses: texasca/hermes-deploy@'))
  if (!block) throw new Error('the README has no workflow that uses the action')
  const workflow = parse(block) as {
    jobs: Record<string, { steps: { uses?: string; with?: Record<string, string> }[] }>
  }
  const step = Object.values(workflow.jobs)
    .flatMap(job => job.steps)
    .find(s => s.uses?.startsWith('texasca/hermes-deploy@'))!
  const values: Record<string, string> = {
    'secrets.DROPLET_IP': '203.0.113.10',
    'secrets.DEPLOY_KEY': key,
    'vars.DROPLET_HOST_FINGERPRINT': 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'
  }
  return Object.fromEntries(
    Object.entries(step.with ?? {}).map(([name, value]) => [
      name,
      String(value).replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, expr: string) => {
        if (!(expr in values)) throw new Error(`no value for \${{ ${expr} }} in the README`)
        return values[expr]
      })
    ])
  )
}

describe('the inputs as a GitHub runner passes them', () => {
  it("reads the README's minimal workflow, every declared input present with its default", () => {
    const workflow = readmeMinimalWorkflow()
    const settings = onRunner(workflow)
    expect(settings).toMatchObject({
      host: '203.0.113.10',
      port: 22,
      username: 'core',
      image: { name: 'texasca/api:latest' },
      proxy: undefined,
      githubToken: 'ghs_runner_token'
    })
    // Every declared input really was in the environment, as on a runner.
    for (const name of Object.keys(declaredInputs()))
      expect(process.env).toHaveProperty([inputVariable(name)])
  })

  const withDefaults = Object.entries(declaredInputs()).filter(([, input]) => input.default)
  it.each(withDefaults.map(([name]) => name))(
    'takes the declared default of `%s` alone without an error',
    name => {
      const minimal = readmeMinimalWorkflow()
      // Only the required inputs and this one default: as an older runner or a local run passes.
      for (const variable of Object.keys(process.env))
        if (variable.startsWith('INPUT_')) delete process.env[variable]
      for (const [input, value] of Object.entries(minimal))
        process.env[inputVariable(input)] = value
      process.env[inputVariable(name)] = evaluateDefault(
        declaredInputs()[name].default,
        expressions
      )
      expect(() => readSettings(n => getInput(n), push)).not.toThrow()
    }
  )

  it('still refuses a bastion input the workflow set without `proxy-host`', () => {
    expect(() => onRunner({ ...readmeMinimalWorkflow(), 'proxy-port': '2222' })).toThrow(
      /Input `proxy-port`: is set but `proxy-host` is not/
    )
    expect(() => onRunner({ ...readmeMinimalWorkflow(), 'proxy-username': 'jump' })).toThrow(
      /Input `proxy-username`: is set but `proxy-host` is not/
    )
  })

  it('uses the default bastion port when only `proxy-host` is set', () => {
    const settings = onRunner({ ...readmeMinimalWorkflow(), 'proxy-host': 'bastion.example.com' })
    expect(settings.proxy).toMatchObject({ host: 'bastion.example.com', port: 22 })
  })

  it("knows the same defaults as action.yml (the code's fallbacks for a local run)", () => {
    const declared = Object.fromEntries(
      Object.entries(declaredInputs())
        .filter(([, input]) => input.default && !String(input.default).includes('${{'))
        .map(([name, input]) => [name, String(input.default)])
    )
    expect(DECLARED_DEFAULTS).toEqual(declared)
  })
})
