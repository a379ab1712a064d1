import { createHash, createHmac } from 'node:crypto'

/** The host key the server presented, as ssh-keygen shows it. */
interface PresentedKey {
  type: string
  fingerprint: string
}

export function describeKey(blob: Buffer): PresentedKey {
  return { type: keyType(blob), fingerprint: fingerprint(blob) }
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** The key type is the first string of the SSH wire-format key blob. */
function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const length = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + length).toString('ascii')
}

interface KnownHostKey {
  type: string
  blob: Buffer
  revoked: boolean
}

/**
 * The keys that known_hosts lines list for this host and port, in OpenSSH's syntax: patterns
 * with `*`, `?` and `!`, `[host]:port`, hashed names (`|1|salt|hash`) and the `@revoked` marker.
 * `@cert-authority` lines are skipped: certificates are not supported.
 */
export function knownKeysFor(knownHosts: string, host: string, port: number): KnownHostKey[] {
  const name = port === 22 ? host : `[${host}]:${port}`
  const keys: KnownHostKey[] = []
  for (const raw of knownHosts.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    let revoked = false
    if (fields[0].startsWith('@')) {
      const marker = fields.shift()
      if (marker === '@cert-authority') continue
      revoked = marker === '@revoked'
    }
    const [patterns, type, data] = fields
    if (!patterns || !type || !data || !hostMatches(patterns, name)) continue
    keys.push({ type, blob: Buffer.from(data, 'base64'), revoked })
  }
  return keys
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|')
    const digest = createHmac('sha1', Buffer.from(salt ?? '', 'base64'))
      .update(name)
      .digest('base64')
    return digest === hash
  }
  let matched = false
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!')
    if (!globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) continue
    if (negated) return false
    matched = true
  }
  return matched
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** Host key algorithms to offer so the server presents a key type we can check (appleboy #275). */
export function algorithmsFor(types: string[]): string[] {
  const algorithms = new Set<string>()
  for (const type of types) {
    if (type === 'ssh-rsa')
      ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach(a => algorithms.add(a))
    else algorithms.add(type)
  }
  return [...algorithms]
}

export type HostKeyPolicy =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'known-hosts'; keys: KnownHostKey[] }
  | { kind: 'unchecked' }
  | { kind: 'refuse' }

type HostKeyVerdict = { ok: true; warning?: string } | { ok: false; reason: string }

/** Decide whether to trust the presented host key. Fails closed. */
export function checkHostKey(
  policy: HostKeyPolicy,
  blob: Buffer,
  where: string,
  inputs = { fingerprint: 'host-fingerprint', knownHosts: 'ssh-known-hosts' }
): HostKeyVerdict {
  const presented = describeKey(blob)
  const shown = `${presented.type} ${presented.fingerprint}`
  switch (policy.kind) {
    case 'fingerprint':
      // Some tools print the base64 with its `=` padding; ssh-keygen does not.
      if (presented.fingerprint === policy.fingerprint.replace(/=+$/, '')) return { ok: true }
      return {
        ok: false,
        reason:
          `The host key of ${where} does not match \`${inputs.fingerprint}\`. POSSIBLE ATTACK (someone in the middle), or the host was rebuilt.\n` +
          `  expected:  ${policy.fingerprint}\n  presented: ${shown}\n` +
          'If the host was rebuilt or the pinned fingerprint is of another key type, check the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update the input, or pin all its keys with `ssh-known-hosts`.'
      }
    case 'known-hosts': {
      // A revoked key stays refused even when another line lists it as trusted.
      const same =
        policy.keys.find(k => k.blob.equals(blob) && k.revoked) ??
        policy.keys.find(k => k.blob.equals(blob))
      if (same?.revoked)
        return {
          ok: false,
          reason: `The host key of ${where} (${shown}) is marked @revoked in \`${inputs.knownHosts}\`.`
        }
      if (same) return { ok: true }
      const expected = policy.keys
        .filter(k => !k.revoked)
        .map(k => `${k.type} ${fingerprint(k.blob)}`)
      return {
        ok: false,
        reason:
          `The host key of ${where} is not one listed in \`${inputs.knownHosts}\`. POSSIBLE ATTACK (someone in the middle), or the host was rebuilt.\n` +
          `  expected:  ${expected.join(', ') || '(no usable key for this host)'}\n  presented: ${shown}\n` +
          `Check the key on the host and update \`${inputs.knownHosts}\` (ssh-keyscan prints the lines).`
      }
    }
    case 'unchecked':
      return {
        ok: true,
        warning: `Host key of ${where} NOT verified (ssh-strict: false). It presented ${shown}; set \`${inputs.fingerprint}: ${presented.fingerprint}\` to pin it.`
      }
    case 'refuse':
      return {
        ok: false,
        reason:
          `Refusing to connect to ${where}: no \`${inputs.fingerprint}\` or \`${inputs.knownHosts}\` is set, so its identity cannot be checked.\n` +
          `It presented ${shown}. If that is your droplet's key (compare with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), set\n` +
          `  ${inputs.fingerprint}: ${presented.fingerprint}\n` +
          'or set `ssh-strict: false` to connect without checking (not recommended).'
      }
  }
}
