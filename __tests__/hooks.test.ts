import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeployReport } from '../src/deploy.js'
import type { RunContext } from '../src/github/context.js'
import { readSettings } from '../src/inputs.js'
import { runBounded } from '../src/remote/scripts.js'
import { renderSummary } from '../src/summary.js'

// The deploy hooks' inputs, the host script that bounds the post-deploy command, and how the
// summary shows a hook. The hooks in the procedure are in deploy.test.ts ("the deploy hooks").

const push: RunContext = { eventName: 'push', sha: 'a'.repeat(40), branch: 'main' }
const read = (values: Record<string, string>) => {
  const all: Record<string, string> = {
    host: '203.0.113.10',
    password: 'pw',
    image: 'texasca/api',
    'repo-path': '/srv/app',
    ...values
  }
  return readSettings(name => all[name] ?? '', push)
}

describe('the hook inputs', () => {
  it('are off by default', () => {
    const settings = read({})
    expect(settings.preDeployCommand).toBeUndefined()
    expect(settings.postDeployCommand).toBeUndefined()
    expect(settings.postDeployMustPass).toBe(false)
    // As a runner passes them: every declared input, with its default.
    expect(read({ 'post-deploy-must-pass': 'false' }).postDeployMustPass).toBe(false)
  })

  it('take shell code as given, several lines too', () => {
    const settings = read({
      'pre-deploy-command': '  npm run migrate\n',
      'post-deploy-command': 'curl -fsS -X POST "$HOOK" \\\n  -d "commit=$HERMES_COMMIT"',
      'post-deploy-must-pass': 'true'
    })
    expect(settings).toMatchObject({
      preDeployCommand: 'npm run migrate',
      postDeployCommand: 'curl -fsS -X POST "$HOOK" \\\n  -d "commit=$HERMES_COMMIT"',
      postDeployMustPass: true
    })
  })

  it('refuse a post-deploy-must-pass that is not a boolean, naming the input', () => {
    expect(() =>
      read({ 'post-deploy-command': 'notify', 'post-deploy-must-pass': 'maybe' })
    ).toThrow("Input `post-deploy-must-pass`: 'maybe' is not a boolean; use true or false.")
  })

  it('refuse post-deploy-must-pass without a post-deploy command', () => {
    expect(() => read({ 'post-deploy-must-pass': 'true' })).toThrow(
      /Input `post-deploy-must-pass`: is true but `post-deploy-command` is not set/
    )
  })

  it('refuse a NUL byte in a hook, naming the input', () => {
    expect(() => read({ 'pre-deploy-command': 'npm run\0migrate' })).toThrow(
      /Input `pre-deploy-command`: contains a NUL byte/
    )
  })
})

// Under the machine's real sh, as the host runs it: `env … sh -c <run-bounded.sh> sh <code> <s>`.
describe('run-bounded.sh', () => {
  const run = (code: string, seconds: number, env: Record<string, string> = {}) =>
    spawnSync('sh', ['-c', runBounded, 'sh', code, String(seconds)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env }
    })

  it('runs the code with the environment it was given, and exits with its code', () => {
    const result = run('echo "$HERMES_COMMIT"; exit 7', 5, { HERMES_COMMIT: 'abc' })
    expect(result.stdout).toBe('abc\n')
    expect(result.status).toBe(7)
  })

  it('stops the code past its limit, with 124', () => {
    const started = Date.now()
    const result = run('sleep 10', 1)
    expect(result.status).toBe(124)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('runs the code unbounded on a host without timeout(1)', () => {
    // A PATH with sh alone.
    const bin = mkdtempSync(join(tmpdir(), 'hermes-no-timeout-'))
    const sh = execFileSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).trim()
    symlinkSync(sh, join(bin, 'sh'))
    const result = run('echo "$HERMES_COMMIT"; exit 3', 5, { PATH: bin, HERMES_COMMIT: 'abc' })
    expect(result.stdout).toBe('abc\n')
    expect(result.status).toBe(3)
  })
})

describe('the job summary of a deploy with hooks', () => {
  const report = (hooks: DeployReport['hooks']): DeployReport => ({
    outcome: 'deployed',
    action: 'deploy',
    image: 'texasca/api:latest',
    host: '203.0.113.10',
    steps: [],
    commits: [],
    rolledBack: false,
    hooks
  })

  it('shows each hook with its exit code, time and output tail', () => {
    const summary = renderSummary(
      report([
        { name: 'pre-deploy-command', code: 0, durationMs: 2500, tail: 'Migrated 0042' },
        { name: 'post-deploy-command', code: 7, durationMs: 300, tail: '' }
      ])
    )
    expect(summary).toContain(
      '### Hooks\n\n`pre-deploy-command`: ✓ exit code 0, 2.5 s; the last lines of its output:\n\n```\nMigrated 0042\n```\n\n' +
        '`post-deploy-command`: ✗ exit code 7, 300 ms, no output.\n'
    )
    expect(renderSummary(report(undefined))).not.toContain('### Hooks')
  })

  it('fences the output so that backticks in it cannot close the block', () => {
    const summary = renderSummary(
      report([{ name: 'pre-deploy-command', code: 1, durationMs: 10, tail: '```\n# Owned' }])
    )
    expect(summary).toContain('\n````\n```\n# Owned\n````\n')
  })
})
