import { describe, expect, it } from '@jest/globals'
import { createHmac, randomBytes } from 'node:crypto'
import { algorithmsFor, checkHostKey, describeKey, knownKeysFor } from '../src/ssh/host-key.js'

// A host key and the fingerprint `ssh-keygen -lf` printed for it.
const KEY_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIGN1X5kOyA213wIS6quW5CigJOixwPEeMLwNzLdRMZQu'
const KEY = Buffer.from(KEY_B64, 'base64')
const FINGERPRINT = 'SHA256:cP1sFddY7yn/1GprPNRiOAmrg8Iy0O6YtlgfUFMMYBE'
const OTHER = Buffer.from(
  'AAAAC3NzaC1lZDI1NTE5AAAAIKz0DpBn5LTbbGDn6UhgRMVfZmx6Gk7ZL0l0I3PZgA9v',
  'base64'
)

describe('host keys', () => {
  it('computes the fingerprint and type as ssh-keygen shows them', () => {
    expect(describeKey(KEY)).toEqual({ type: 'ssh-ed25519', fingerprint: FINGERPRINT })
  })

  it('accepts a pinned fingerprint written with its base64 padding', () => {
    expect(
      checkHostKey({ kind: 'fingerprint', fingerprint: `${FINGERPRINT}=` }, KEY, 'core@h:22')
    ).toEqual({ ok: true })
  })

  it('accepts the pinned fingerprint and refuses another key as a possible attack, showing both', () => {
    expect(
      checkHostKey({ kind: 'fingerprint', fingerprint: FINGERPRINT }, KEY, 'core@h:22')
    ).toEqual({ ok: true })
    const verdict = checkHostKey(
      { kind: 'fingerprint', fingerprint: FINGERPRINT },
      OTHER,
      'core@h:22'
    )
    expect(verdict.ok).toBe(false)
    expect(!verdict.ok && verdict.reason).toMatch(
      /POSSIBLE ATTACK[\s\S]*expected: +SHA256:cP1s[\s\S]*presented: ssh-ed25519 SHA256:/
    )
  })

  it('fails closed without a pin, printing the fingerprint to pin', () => {
    const verdict = checkHostKey({ kind: 'refuse' }, KEY, 'core@h:22')
    expect(verdict.ok).toBe(false)
    expect(!verdict.ok && verdict.reason).toContain(`host-fingerprint: ${FINGERPRINT}`)
  })

  it('connects unchecked only when told to, with a warning', () => {
    const verdict = checkHostKey({ kind: 'unchecked' }, KEY, 'core@h:22')
    expect(verdict).toMatchObject({ ok: true, warning: expect.stringMatching(/NOT verified/) })
  })

  it('reads known_hosts lines: port form, patterns, negation, hashed names, revoked keys', () => {
    const salt = randomBytes(20)
    const hash = createHmac('sha1', salt).update('[10.0.0.5]:2222').digest('base64')
    const lines = [
      `# comment`,
      `[10.0.0.5]:2222 ssh-ed25519 ${KEY_B64}`,
      `10.0.0.5 ssh-rsa ${KEY_B64}`,
      `*.example.com,!bad.example.com ecdsa-sha2-nistp256 ${KEY_B64}`,
      `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${OTHER.toString('base64')}`,
      `@revoked [10.0.0.5]:2222 ssh-ed25519 ${OTHER.toString('base64')}`
    ].join('\n')
    expect(knownKeysFor(lines, '10.0.0.5', 2222).map(k => [k.type, k.revoked])).toEqual([
      ['ssh-ed25519', false],
      ['ssh-ed25519', false],
      ['ssh-ed25519', true]
    ])
    expect(knownKeysFor(lines, '10.0.0.5', 22).map(k => k.type)).toEqual(['ssh-rsa'])
    expect(knownKeysFor(lines, 'good.example.com', 22)).toHaveLength(1)
    expect(knownKeysFor(lines, 'bad.example.com', 22)).toHaveLength(0)
    const keys = knownKeysFor(lines, '10.0.0.5', 2222)
    expect(checkHostKey({ kind: 'known-hosts', keys }, KEY, 'h').ok).toBe(true)
    expect(checkHostKey({ kind: 'known-hosts', keys }, OTHER, 'h')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/@revoked/)
    })
  })

  it('offers the host key algorithms of the pinned key types', () => {
    expect(algorithmsFor(['ssh-rsa', 'ssh-ed25519'])).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519'
    ])
  })
})
