import { describe, expect, it } from '@jest/globals'
import { obeyedCommands } from '../__fixtures__/workflow-commands.js'
import { CommandGuard } from '../src/runner.js'

// Output from the host is data: the runner must never obey a workflow command in it.
const HOSTILE = [
  'build: step 1\n',
  '::add-mask::build\n',
  '::error title=pwned::from the build\n',
  '::save-state name=progress::{}\n',
  '  ::set-env name=X::y\n',
  '::stop-commands::guess\n',
  '::guess::\n',
  '::warning::after a guessed token\n',
  'no newline at the end'
]

/** A guard writing to one log, and the action's own commands written to it as core does. */
function guarded() {
  let log = ''
  const guard = new CommandGuard(text => {
    log += text
    return true
  })
  const own = (line: string) => {
    guard.resume()
    log += `${line}\n`
  }
  return { guard, own, log: () => log }
}

describe('output from the host in the log', () => {
  it('is never obeyed as a workflow command, whatever it prints, in whatever chunks', () => {
    const { guard, own, log } = guarded()
    own('::group::Build')
    for (const chunk of HOSTILE.join('').match(/[\s\S]{1,7}/g)!) guard.untrusted(chunk)
    own('::endgroup::')
    own('::error title=Deploy failed::the action’s own error')
    expect(obeyedCommands(log())).toEqual([
      '::group::Build',
      '::endgroup::',
      '::error title=Deploy failed::the action’s own error'
    ])
    // The host's text is all there, as it was printed.
    expect(log()).toContain(HOSTILE.join(''))
  })

  it('quotes a message of the action’s own that carries host output on a line of its own', () => {
    const { guard, log } = guarded()
    const printed: string[] = []
    guard.message('Health command passed:\n::add-mask::ok', text => printed.push(text))
    guard.message('A plain message', text => printed.push(text))
    expect(printed).toEqual(['A plain message'])
    expect(obeyedCommands(log())).toEqual([])
    expect(log()).toContain('::add-mask::ok')
  })

  it('uses a token the host cannot guess: a new one for every run', () => {
    const tokens = [guarded(), guarded()].map(({ guard, log }) => {
      guard.untrusted('x\n')
      return /::stop-commands::(.+)/.exec(log())![1]
    })
    expect(tokens[0]).not.toBe(tokens[1])
    expect(tokens[0]).toMatch(/^[0-9a-f-]{36}$/)
  })
})
