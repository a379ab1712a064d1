import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fc from 'fast-check'
import { quote, shScript, toShell } from '../src/shell.js'

/** What a real POSIX shell receives as arguments from our shell text. */
function argvThroughSh(text: string): string[] {
  const script = `set -- ${text}\nfor a in "$@"; do printf '%s\\0' "$a"; done`
  return execFileSync('sh', ['-c', script], { encoding: 'utf8' }).split('\0').slice(0, -1)
}

describe('quoting for the remote shell', () => {
  it('passes any string through sh as exactly one argument, unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'binary' }).filter(s => !s.includes('\0')),
          { minLength: 1, maxLength: 4 }
        ),
        args => {
          expect(argvThroughSh(toShell(args))).toEqual(args)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('never runs what an argument says', () => {
    const hostile = [
      '$(touch /tmp/hermes-pwned)',
      '`id`',
      "'; id; '",
      '"; id; "',
      '\n id',
      '$HOME',
      '*',
      '-rf',
      '\\'
    ]
    expect(argvThroughSh(toShell(hostile))).toEqual(hostile)
  })

  it('refuses a NUL byte rather than truncating', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/)
  })

  it('keeps script values as positional parameters, not code', () => {
    const command = shScript('printf %s "$1"', '$(id); echo pwned')
    expect(execFileSync('sh', ['-c', `exec ${toShell(command)}`], { encoding: 'utf8' })).toBe(
      '$(id); echo pwned'
    )
  })
})
