import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import * as actionIo from '../src/action-io.js'

// The contract between action.yml, src/action-io.ts, the README and the code: every input and
// output declared once, with the same defaults everywhere, documented, and used by its constant.

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** The module the constants live in: the one place an input name is written as a string. */
const ACTION_IO = 'src/action-io.ts'

interface Constants {
  Input: Readonly<Record<string, string>>
  Output: Readonly<Record<string, string>>
  DECLARED_DEFAULTS: Readonly<Record<string, string>>
  SECRET_INPUTS: readonly string[]
}

interface Contract {
  /** action.yml's text. */
  actionYml: string
  constants: Constants
  /** README.md's text. */
  readme: string
  /** Every file under src/, by its path from the repository root. */
  sources: Record<string, string>
}

interface ActionMetadata {
  inputs?: Record<string, { required?: boolean; default?: unknown } | null>
  outputs?: Record<string, unknown>
}

// Calls that read an input by name (`read('port')`, `core.getInput('port')`, …), write an output,
// or save or read state. A bare call only: `values.get('head')` is a Map, not an input.
const INPUT_READ = /(?:(?<![\w.$])(?:read|get|optional|value)|\bgetInput)\(\s*(['"`])([^'"`]+)\1/g
const OUTPUT_WRITE = /\bsetOutput\(\s*(['"`])([^'"`]+)\1/g
const STATE_USE = /\b(?:saveState|getState)\(\s*(['"`])([^'"`]+)\1/g

/** Every way action.yml, the constants, the README and the sources disagree; [] when they agree. */
function contractProblems({ actionYml, constants, readme, sources }: Contract): string[] {
  const problems: string[] = []
  const action = parse(actionYml) as ActionMetadata
  const declaredInputs = action.inputs ?? {}
  const declaredOutputs = action.outputs ?? {}
  const inputNames = new Set(Object.values(constants.Input))
  const outputNames = new Set(Object.values(constants.Output))

  // action.yml and the constants name the same inputs and outputs, each once.
  for (const [kind, declared, table, names] of [
    ['input', declaredInputs, constants.Input, inputNames],
    ['output', declaredOutputs, constants.Output, outputNames]
  ] as const) {
    const Kind = kind === 'input' ? 'Input' : 'Output'
    for (const name of Object.keys(declared))
      if (!names.has(name))
        problems.push(`${kind} \`${name}\` is in action.yml but not in ${Kind} (${ACTION_IO})`)
    for (const [key, name] of Object.entries(table))
      if (!(name in declared))
        problems.push(`${Kind}.${key} ('${name}') is not an ${kind} of action.yml`)
    const keys = Object.entries(table).map(([key, name]) => ({ key, name }))
    for (const { key, name } of keys) {
      const first = keys.find(other => other.name === name)!
      if (first.key !== key) problems.push(`${Kind}.${key} and ${Kind}.${first.key} are '${name}'`)
    }
  }

  // The same defaults: every literal default of action.yml, and nothing action.yml lacks.
  for (const [name, input] of Object.entries(declaredInputs)) {
    const value = input?.default === undefined ? '' : String(input.default)
    const literal = value !== '' && !value.includes('${{')
    const ours = constants.DECLARED_DEFAULTS[name]
    if (literal && ours === undefined)
      problems.push(
        `input \`${name}\` defaults to '${value}' in action.yml, but DECLARED_DEFAULTS lacks it`
      )
    else if (ours !== undefined && ours !== value)
      problems.push(
        `input \`${name}\` defaults to '${ours}' in DECLARED_DEFAULTS but to '${value}' in action.yml`
      )
  }
  for (const name of Object.keys(constants.DECLARED_DEFAULTS))
    if (!(name in declaredInputs))
      problems.push(`DECLARED_DEFAULTS has '${name}', which action.yml does not declare`)
  for (const name of constants.SECRET_INPUTS)
    if (!(name in declaredInputs))
      problems.push(`SECRET_INPUTS has '${name}', which action.yml does not declare`)

  // The README documents each, in its tables.
  for (const [heading, declared] of [
    ['Inputs', declaredInputs],
    ['Outputs', declaredOutputs]
  ] as const) {
    const kind = heading === 'Inputs' ? 'input' : 'output'
    const documented = readmeTableNames(readme, heading)
    if (!documented) {
      problems.push(`README.md has no "## ${heading}" table`)
      continue
    }
    for (const name of Object.keys(declared))
      if (!documented.includes(name))
        problems.push(`${kind} \`${name}\` is not in README.md's ${heading} table`)
    for (const name of documented)
      if (!(name in declared))
        problems.push(
          `README.md's ${heading} table has \`${name}\`, which action.yml does not declare`
        )
  }

  // The code reads every input, writes every output, and names them only by the constants.
  const code = Object.entries(sources).filter(([path]) => path !== ACTION_IO)
  for (const [Kind, table, verb] of [
    ['Input', constants.Input, 'read'],
    ['Output', constants.Output, 'written']
  ] as const) {
    for (const [key, name] of Object.entries(table)) {
      const use = new RegExp(String.raw`\b${Kind}\.${key}\b`)
      if (!code.some(([, text]) => use.test(text)))
        problems.push(`${Kind.toLowerCase()} \`${name}\` (${Kind}.${key}) is never ${verb} in src/`)
    }
  }
  const constantOf = (table: Readonly<Record<string, string>>, name: string) =>
    Object.entries(table).find(([, value]) => value === name)?.[0]
  for (const [path, text] of code) {
    for (const { name, line } of matches(text, INPUT_READ)) {
      const key = constantOf(constants.Input, name)
      problems.push(
        key
          ? `${path}:${line} reads input \`${name}\` by a string; use Input.${key}`
          : `${path}:${line} reads input \`${name}\`, which action.yml does not declare`
      )
    }
    for (const { name, line } of matches(text, OUTPUT_WRITE)) {
      const key = constantOf(constants.Output, name)
      problems.push(
        key
          ? `${path}:${line} writes output \`${name}\` by a string; use Output.${key}`
          : `${path}:${line} writes output \`${name}\`, which action.yml does not declare`
      )
    }
    for (const { name, line } of matches(text, STATE_USE))
      problems.push(`${path}:${line} uses the state key '${name}' by a string; use State`)
  }
  return problems
}

/** The quoted names `pattern` finds in `text`, with their line numbers. */
function matches(text: string, pattern: RegExp): { name: string; line: number }[] {
  return [...text.matchAll(pattern)].map(match => ({
    name: match[2],
    line: text.slice(0, match.index).split('\n').length
  }))
}

/** The first column of the table under `## <heading>`, without backticks; undefined without one. */
function readmeTableNames(readme: string, heading: string): string[] | undefined {
  const section = readme.split(/^## /m).find(part => part.startsWith(`${heading}\n`))
  if (!section) return undefined
  return section
    .split('\n')
    .filter(line => line.startsWith('|'))
    .slice(2) // the header and separator rows
    .map(line => line.split('|')[1].trim().replace(/^`|`$/g, ''))
}

function sourcesUnder(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of readdirSync(join(root, dir))) {
    const path = `${dir}/${name}`
    if (statSync(join(root, path)).isDirectory()) Object.assign(files, sourcesUnder(path))
    else if (path.endsWith('.ts')) files[path] = readFileSync(join(root, path), 'utf8')
  }
  return files
}

const real: Contract = {
  actionYml: readFileSync(join(root, 'action.yml'), 'utf8'),
  constants: actionIo,
  readme: readFileSync(join(root, 'README.md'), 'utf8'),
  sources: sourcesUnder('src')
}

describe('the contract of inputs, outputs and state', () => {
  it('holds: action.yml, src/action-io.ts, the README and the sources agree', () => {
    expect(Object.keys(real.sources)).toContain(ACTION_IO)
    expect(contractProblems(real)).toEqual([])
  })

  it('catches an input the code reads but action.yml does not declare', () => {
    const sources = { ...real.sources }
    sources['src/inputs.ts'] += "\nexport const extra = (read: InputReader) => read('new-input')\n"
    const problems = contractProblems({ ...real, sources })
    expect(problems).toEqual([
      expect.stringMatching(/^src\/inputs\.ts:\d+ reads input `new-input`, which action\.yml/)
    ])
  })

  it('catches an input action.yml no longer declares', () => {
    const action = parse(real.actionYml) as { inputs: Record<string, unknown> }
    delete action.inputs['canary-timeout']
    const problems = contractProblems({ ...real, actionYml: stringify(action) })
    expect(problems).toEqual(
      expect.arrayContaining([
        "Input.CanaryTimeout ('canary-timeout') is not an input of action.yml",
        "DECLARED_DEFAULTS has 'canary-timeout', which action.yml does not declare",
        "README.md's Inputs table has `canary-timeout`, which action.yml does not declare"
      ])
    )
  })

  it('catches a changed default, an undocumented output, a constant never read, a literal name', () => {
    const action = parse(real.actionYml) as {
      inputs: Record<string, { default?: string }>
      outputs: Record<string, unknown>
    }
    action.inputs.port.default = '2222'
    action.outputs['release-tag'] = { description: 'The tag.' }
    const sources = { ...real.sources }
    sources['src/main.ts'] = sources['src/main.ts'].replaceAll('Output.RolledBack', "'rolled-back'")
    const constants = { ...real.constants, Input: { ...real.constants.Input, Extra: 'extra' } }
    const problems = contractProblems({
      ...real,
      actionYml: stringify(action),
      constants,
      sources
    })
    expect(problems).toEqual(
      expect.arrayContaining([
        "input `port` defaults to '22' in DECLARED_DEFAULTS but to '2222' in action.yml",
        'output `release-tag` is in action.yml but not in Output (src/action-io.ts)',
        "output `release-tag` is not in README.md's Outputs table",
        "Input.Extra ('extra') is not an input of action.yml",
        'input `extra` (Input.Extra) is never read in src/',
        'output `rolled-back` (Output.RolledBack) is never written in src/',
        expect.stringMatching(
          /^src\/main\.ts:\d+ writes output `rolled-back` by a string; use Output\.RolledBack$/
        )
      ])
    )
  })
})
