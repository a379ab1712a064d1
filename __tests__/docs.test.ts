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
