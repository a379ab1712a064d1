import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { renderReadme } from '../scripts/docs.mjs'

// action.yml is what the Marketplace and the runner read; the README's tables are made from it.
const actionYml = readFileSync(new URL('../action.yml', import.meta.url), 'utf8')
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const action = parse(actionYml) as {
  description: string
  branding: { icon: string; color: string }
  inputs: Record<string, { description?: string; default?: string; required?: boolean }>
  outputs: Record<string, { description?: string }>
}

describe('action.yml for the Marketplace', () => {
  it('has a description the Marketplace takes (125 characters at most) and branding', () => {
    expect(action.description.length).toBeLessThanOrEqual(125)
    expect(action.branding).toEqual({ icon: expect.any(String), color: expect.any(String) })
  })

  it('says of every time input that it takes a duration', () => {
    const times = Object.keys(action.inputs).filter(name => /-(timeout|seconds)$/.test(name))
    expect(times.length).toBeGreaterThan(8)
    for (const name of times)
      expect([name, action.inputs[name].description]).toEqual([
        name,
        expect.stringMatching(/seconds.*duration|duration.*seconds/)
      ])
  })
})

describe("the README's Inputs and Outputs tables", () => {
  it('are what `npm run docs` makes from action.yml', async () => {
    expect(await renderReadme(readme, actionYml)).toBe(readme)
  })

  it('would differ if action.yml gained an input (so the check above can fail)', async () => {
    const more = actionYml.replace(
      /^inputs:\n/m,
      "inputs:\n  new-input:\n    description: A new input nobody documented.\n    default: ''\n"
    )
    const made = await renderReadme(readme, more)
    expect(made).not.toBe(readme)
    expect(made).toContain('`new-input`')
  })
})

// The README's "What it does on the host" is the procedure in src/deploy.ts, step for step: the
// same numbers, and each step's name there begins the comment that numbers it in the code.
describe("the README's numbered steps and src/deploy.ts", () => {
  const deploySource = readFileSync(new URL('../src/deploy.ts', import.meta.url), 'utf8')

  /** Every way the README's numbered list and the numbered comments of deploy() disagree. */
  function stepProblems(readmeText: string, source: string): string[] {
    const section = readmeText
      .split(/^## /m)
      .find(part => part.startsWith('What it does on the host\n'))
    const listed = [...(section ?? '').matchAll(/^(\d+)\. \*\*([^*]+)\*\*/gm)].map(m => ({
      n: Number(m[1]),
      name: m[2]
    }))
    const commented = [...source.matchAll(/^ {4}\/\/ (\d+)\. (.*)$/gm)].map(m => ({
      n: Number(m[1]),
      text: m[2]
    }))
    const problems: string[] = []
    if (listed.length === 0) problems.push('the README lists no steps')
    listed.forEach((step, i) => {
      if (step.n !== i + 1) problems.push(`README step ${step.n} should be ${i + 1}`)
    })
    commented.forEach((step, i) => {
      if (step.n !== i + 1) problems.push(`deploy.ts step ${step.n} should be ${i + 1}`)
    })
    if (listed.length !== commented.length)
      problems.push(
        `the README lists ${listed.length} steps, deploy.ts numbers ${commented.length}`
      )
    for (const step of listed) {
      const code = commented.find(c => c.n === step.n)
      if (code && !code.text.toLowerCase().startsWith(step.name.toLowerCase()))
        problems.push(
          `step ${step.n}: the README's "${step.name}" is not deploy.ts's "${code.text}"`
        )
    }
    return problems
  }

  it('agree', () => {
    expect(stepProblems(readme, deploySource)).toEqual([])
  })

  it('would disagree if a step were added to one and not the other (so the check above can fail)', () => {
    const added = deploySource.replace(
      /^( {4}\/\/ )12\. Canary/m,
      '$112. Run something new\n$113. Canary'
    )
    expect(stepProblems(readme, added)).not.toEqual([])
    const renamed = readme.replace('**Canary**', '**Smoke test**')
    expect(stepProblems(renamed, deploySource)).toEqual([
      `step 12: the README's "Smoke test" is not deploy.ts's "${/\/\/ 12\. (.*)/.exec(deploySource)![1]}"`
    ])
  })
})
