import { describe, expect, it } from '@jest/globals'
import { parseKeyValues } from '../src/key-value.js'

describe('the key=value lines a script prints', () => {
  const lines = parseKeyValues(
    [
      'state=rollback_completed',
      'message=update rolled back: task x: non-zero exit (1) with a=b',
      '  kept=aaaaaaaaaaaa  ',
      'kept=bbbbbbbbbbbb',
      'Untagged: texasca/api:old',
      '=no key',
      'empty=',
      'state=second'
    ].join('\n')
  )

  it('keeps a value whole after the first `=`', () => {
    expect(lines.get('message')).toBe('update rolled back: task x: non-zero exit (1) with a=b')
  })

  it('gives the first line of a key, or every line, in order', () => {
    expect(lines.get('state')).toBe('rollback_completed')
    expect(lines.all('state')).toEqual(['rollback_completed', 'second'])
    expect(lines.all('kept')).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb'])
  })

  it("gives '' or [] for a key no line has, and skips lines that are not key=value", () => {
    expect(lines.get('empty')).toBe('')
    expect(lines.get('Untagged: texasca/api:old')).toBe('')
    expect(lines.get('')).toBe('')
    expect(lines.all('absent')).toEqual([])
  })
})
