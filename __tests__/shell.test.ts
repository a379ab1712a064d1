import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { forLoginShell, quote, shScript, together, toShell, type Command } from '../src/shell.js'

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

/** Whether a shell is installed here (`command -v` in sh). */
function installed(shell: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', shell]).status === 0
}

/** Run our text the way sshd does: `$SHELL -c text`. */
function viaLoginShell(shell: string, text: string, input?: string) {
  return spawnSync(shell, ['-c', text], { encoding: 'utf8', input })
}

const anyArgs = fc.array(
  fc.string({ unit: 'binary' }).filter(s => !s.includes('\0')),
  { minLength: 1, maxLength: 4 }
)

describe('commands side by side (together)', () => {
  const run = (command: Command) =>
    spawnSync('sh', ['-c', toShell(command)], { encoding: 'utf8', timeout: 10_000 })

  it('runs them at the same time, and waits for every one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hermes-together-'))
    try {
      // The first waits for what only the second makes: one after the other, it never ends.
      const result = run(
        together(
          shScript('while [ ! -e "$1/made" ]; do sleep 0.01; done; echo first', dir),
          shScript('sleep 0.2; touch "$1/made"; echo second', dir)
        )
      )
      expect(result.status).toBe(0)
      expect(result.stdout.split('\n').sort()).toEqual(['', 'first', 'second'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('fails when any one fails, after all have ended', () => {
    expect(run(together(['false'], ['true'])).status).toBe(1)
    const late = run(together(['true'], ['sh', '-c', 'sleep 0.2; echo late; exit 3']))
    expect(late.status).toBe(1)
    expect(late.stdout).toBe('late\n')
    expect(run(together(['true'], ['true'])).status).toBe(0)
  })
})

describe('text for the login shell', () => {
  it('uses no character any login shell treats specially', () => {
    fc.assert(
      fc.property(anyArgs, args => {
        expect(forLoginShell(args)).toMatch(
          /^sh -c 'c="\$\(echo [A-Za-z0-9+/=]* \| base64 -d\)" && eval "\$c"'$/
        )
      })
    )
  })

  it('fails rather than runs nothing when the host cannot decode', () => {
    // A PATH with sh but no base64.
    const bin = mkdtempSync(join(tmpdir(), 'hermes-shell-'))
    try {
      symlinkSync(
        execFileSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).trim(),
        join(bin, 'sh')
      )
      const result = spawnSync(join(bin, 'sh'), ['-c', forLoginShell(['echo', 'ran'])], {
        encoding: 'utf8',
        env: { PATH: bin }
      })
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/base64/)
      expect(result.status).toBe(127)
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })

  // Why it exists: the plain POSIX text is not safe under zsh. Never skipped: zsh must be here.
  it('is needed: zsh expands an unquoted =word in the plain text', () => {
    const out = execFileSync('zsh', ['-c', toShell(['printf', '%s', '=ls'])], { encoding: 'utf8' })
    expect(out).not.toBe('=ls')
    expect(out).toMatch(/^\/.*\/ls$/)
  })
})

// Login shells a deploy user may have. zsh is required (scripts/install-deps.sh installs it, with
// tcsh): its `=word` expansion is the hole the wrapper closes. The others run where installed.
const REQUIRED = ['sh', 'bash', 'zsh']
describe.each([...REQUIRED, 'dash', 'ksh', 'tcsh', 'csh', 'fish'])('under %s', shell => {
  const test = REQUIRED.includes(shell) || installed(shell) ? it : it.skip

  test('the command gets exactly its arguments', () => {
    const args = [
      '=ls',
      "it's",
      'a\\\\b',
      'line1\nline2',
      '$HOME',
      '`id`',
      '*',
      '~',
      '!x',
      '%1',
      "\\'",
      'trailing\n\n',
      ''
    ]
    const result = viaLoginShell(shell, forLoginShell(['printf', '%s\\n', ...args]))
    expect(result).toMatchObject({
      status: 0,
      stderr: '',
      stdout: args.map(a => `${a}\n`).join('')
    })
  })

  test('any string passes through unchanged', () => {
    fc.assert(
      fc.property(anyArgs, args => {
        const result = viaLoginShell(shell, forLoginShell(['printf', '%s\\0', ...args]))
        expect(result.stdout).toBe(args.map(arg => `${arg}\0`).join(''))
      }),
      { numRuns: 10 }
    )
  })

  test('stdin reaches the command', () => {
    const input = 'first line\n=ls $HOME\nno newline at the end'
    expect(viaLoginShell(shell, forLoginShell(['cat']), input).stdout).toBe(input)
  })

  test("the command's exit code and both streams come back", () => {
    const result = viaLoginShell(
      shell,
      forLoginShell(['sh', '-c', 'echo out; echo err >&2; exit 7'])
    )
    expect(result).toMatchObject({ status: 7, stdout: 'out\n', stderr: 'err\n' })
  })
})
