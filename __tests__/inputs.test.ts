import { beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { imageRef, readSettings, type InputReader } from '../src/inputs.js'
import type { RunContext } from '../src/github/context.js'

let key = ''
let encryptedKey = ''
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-keys-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'plain')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-f', join(dir, 'enc')])
  key = readFileSync(join(dir, 'plain'), 'utf8')
  encryptedKey = readFileSync(join(dir, 'enc'), 'utf8')
})

const push: RunContext = { eventName: 'push', sha: 'a'.repeat(40), branch: 'main' }

function reader(values: Record<string, string>): InputReader {
  const all: Record<string, string> = {
    host: '203.0.113.10',
    'ssh-key': key,
    image: 'texasca/api',
    'repo-path': '/srv/app',
    ...values
  }
  return name => all[name] ?? ''
}

describe('reading the inputs', () => {
  it('fills the defaults a user expects', () => {
    const settings = readSettings(reader({}), push)
    expect(settings).toMatchObject({
      port: 22,
      username: 'core',
      strictHostKey: true,
      image: { repository: 'texasca/api', tag: 'latest', name: 'texasca/api:latest' },
      branch: 'main',
      ref: 'a'.repeat(40),
      buildCommand: 'grunt build',
      healthTimeoutSec: 60,
      respawnTimeoutSec: 120,
      rollback: true,
      dryRun: false
    })
  })

  it('falls back to master when the run is not for a branch', () => {
    expect(
      readSettings(reader({}), { eventName: 'workflow_dispatch', sha: 'b'.repeat(40) }).branch
    ).toBe('master')
  })

  it('trims a trailing space in the user name and host (appleboy #349)', () => {
    const settings = readSettings(reader({ username: 'core ', host: ' 203.0.113.10 ' }), push)
    expect(settings.username).toBe('core')
    expect(settings.host).toBe('203.0.113.10')
  })

  it('takes a Swarm service with its registry, and refuses it with several hosts', () => {
    const settings = readSettings(
      reader({
        service: 'texasca-api',
        registry: '127.0.0.1:5000/',
        'registry-username': 'deployer',
        'registry-password': "s3cret 'pass\n"
      }),
      push
    )
    expect(settings).toMatchObject({
      service: 'texasca-api',
      registry: '127.0.0.1:5000',
      registryUsername: 'deployer',
      registryPassword: "s3cret 'pass",
      updateTimeoutSec: 600
    })
    expect(() =>
      readSettings(reader({ service: 'texasca-api', host: '10.0.0.1\n10.0.0.2' }), push)
    ).toThrow(/Input `host`: lists 2 hosts, but production is the Swarm service texasca-api/)
  })

  it('accepts a host fingerprint written with its base64 padding, and pins it without', () => {
    const fingerprint = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'
    expect(
      readSettings(reader({ 'host-fingerprint': `${fingerprint}=` }), push).hostFingerprint
    ).toBe(fingerprint)
  })

  it('accepts a key pasted with CRLF line ends', () => {
    expect(() =>
      readSettings(reader({ 'ssh-key': key.replace(/\n/g, '\r\n') }), push)
    ).not.toThrow()
  })

  it.each([
    [
      'host',
      'droplet; rm -rf /',
      /Input `host`: 'droplet; rm -rf \/' is not an IP address or host name/
    ],
    ['port', '0', /Input `port`: '0' is not a whole number from 1 to 65535/],
    ['port', '22 -oProxyCommand=x', /Input `port`/],
    ['username', '-oProxyCommand', /Input `username`/],
    ['image', 'Texasca/API', /Input `image`: 'Texasca\/API' is not an image reference/],
    ['image', 'texasca/api@sha256:' + 'a'.repeat(64), /Input `image`.*no digest/],
    ['image', 'texasca/api:$(id)', /Input `image`/],
    ['container', 'x', /Input `container`/],
    ['container', 'api;reboot', /Input `container`/],
    ['admin-container', '--privileged', /Input `admin-container`/],
    ['repo-path', 'srv/app', /Input `repo-path`: 'srv\/app' is not an absolute path/],
    ['repo-path', '/srv/../etc', /Input `repo-path`/],
    ['branch', '--upload-pack=touch /tmp/x', /Input `branch`: .* is not a valid git branch name/],
    ['branch', 'feature..x', /Input `branch`/],
    ['ref', 'HEAD~1', /Input `ref`/],
    ['ref', 'a b', /Input `ref`/],
    ['health-timeout', '-5', /Input `health-timeout`/],
    ['respawn-timeout', '1e3', /Input `respawn-timeout`/],
    ['rollback', 'maybe', /Input `rollback`: 'maybe' is not a boolean/],
    ['host-fingerprint', 'MD5:aa:bb', /Input `host-fingerprint`: .* is not a SHA256 fingerprint/],
    ['image', 'texasca/api\nrm -rf /', /Input `image`: contains a control character/],
    ['service', 'api;reboot', /Input `service`: 'api;reboot' is not a Swarm service name/],
    ['registry', 'https://ghcr.io', /Input `registry`: .* is not a registry/],
    ['registry', '127.0.0.1:5000/$(id)', /Input `registry`/],
    ['registry-username', 'deployer', /Input `registry-password`: is required with the other/],
    ['registry-password', 'hunter2', /Input `registry-username`: is required with the other/],
    ['update-timeout', '0', /Input `update-timeout`/]
  ])('rejects %s = %j, naming the input', (name, value, message) => {
    expect(() => readSettings(reader({ [name]: value }), push)).toThrow(message)
  })

  it('asks for the passphrase of an encrypted key, and says when it is wrong', () => {
    expect(() => readSettings(reader({ 'ssh-key': encryptedKey }), push)).toThrow(
      /Input `ssh-passphrase`: the key in `ssh-key` is encrypted/
    )
    expect(() =>
      readSettings(reader({ 'ssh-key': encryptedKey, 'ssh-passphrase': 'wrong' }), push)
    ).toThrow(/Input `ssh-passphrase`: does not decrypt/)
    expect(() =>
      readSettings(reader({ 'ssh-key': encryptedKey, 'ssh-passphrase': 'open sesame' }), push)
    ).not.toThrow()
  })

  it('rejects something that is not a key without echoing it', () => {
    const secretish = 'not-a-key-but-a-secret-value'
    let message = ''
    try {
      readSettings(reader({ 'ssh-key': secretish }), push)
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/Input `ssh-key`: is not a private key/)
    expect(message).not.toContain(secretish)
  })

  it('refuses an admin container named like the production container', () => {
    expect(() =>
      readSettings(reader({ container: 'api', 'admin-container': 'api' }), push)
    ).toThrow(/Input `admin-container`/)
  })

  it('refuses two host-key pins at once, naming both inputs', () => {
    expect(() =>
      readSettings(
        reader({
          'host-fingerprint': 'SHA256:' + 'a'.repeat(43),
          'ssh-known-hosts': 'h ssh-ed25519 AAAA'
        }),
        push
      )
    ).toThrow(/Input `ssh-known-hosts`: is set together with `host-fingerprint`/)
  })

  it('requires a commit when the event has none', () => {
    expect(() => readSettings(reader({}), { eventName: 'repository_dispatch', sha: '' })).toThrow(
      /Input `ref`/
    )
  })
})

describe('image references', () => {
  it.each([
    ['texasca/api', 'texasca/api', 'latest'],
    ['texasca/api:v2.1', 'texasca/api', 'v2.1'],
    ['registry.example.com:5000/team/api:prod', 'registry.example.com:5000/team/api', 'prod'],
    ['api', 'api', 'latest']
  ])('reads %s', (value, repository, tag) => {
    expect(imageRef(value)).toMatchObject({ repository, tag })
  })
})

describe('connection and build inputs', () => {
  it('takes a key from a file on the runner, or a password alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hermes-keyfile-'))
    const path = join(dir, 'id')
    writeFileSync(path, key)
    expect(readSettings(reader({ 'ssh-key': '', 'ssh-key-path': path }), push).sshKey).toBe(key)
    expect(readSettings(reader({ 'ssh-key': '', password: 'hunter22' }), push)).toMatchObject({
      password: 'hunter22',
      sshKey: undefined
    })
    expect(() =>
      readSettings(reader({ 'ssh-key': '', 'ssh-key-path': join(dir, 'missing') }), push)
    ).toThrow(/Input `ssh-key-path`: cannot read '.*missing' on the runner: ENOENT/)
    expect(() => readSettings(reader({ 'ssh-key': '' }), push)).toThrow(
      /Input `ssh-key`: is required \(or `ssh-key-path`, or `password`\)/
    )
  })

  it('reads a bastion, defaulting its user and key to the droplet’s', () => {
    const settings = readSettings(
      reader({
        'proxy-host': 'bastion.example.com',
        'proxy-host-fingerprint': 'SHA256:' + 'b'.repeat(43)
      }),
      push
    )
    expect(settings.proxy).toMatchObject({
      host: 'bastion.example.com',
      port: 22,
      username: 'core',
      sshKey: undefined
    })
    expect(() => readSettings(reader({ 'proxy-port': '2200' }), push)).toThrow(
      /Input `proxy-port`: is set but `proxy-host` is not/
    )
    expect(() => readSettings(reader({ 'proxy-host': 'b;id' }), push)).toThrow(/Input `proxy-host`/)
    expect(() =>
      readSettings(reader({ 'proxy-host': 'b', 'proxy-ssh-key': 'nope' }), push)
    ).toThrow(/Input `proxy-ssh-key`: is not a private key/)
  })

  it('reads ciphers and build-env, rejecting what is not a name', () => {
    const settings = readSettings(
      reader({
        ciphers: 'aes256-ctr, aes128-cbc',
        'build-env': 'API_TOKEN=s3cr=t\n# a comment\nMODE=x'
      }),
      push
    )
    expect(settings.ciphers).toEqual(['aes256-ctr', 'aes128-cbc'])
    expect(() => readSettings(reader({ 'build-env': 'A=1\nBAD NAME=x' }), push)).toThrow(
      /Input `build-env`: line 2 is not NAME=value/
    )
    // A key pasted by mistake: the error names the line, never a character of it.
    const pasted = () => readSettings(reader({ 'build-env': `TOKEN=x\n${key}` }), push)
    expect(pasted).toThrow(/Input `build-env`: line 2 is not NAME=value/)
    try {
      pasted()
    } catch (error) {
      for (const line of key.split('\n').filter(Boolean))
        expect((error as Error).message).not.toContain(line.slice(0, 12))
    }
    expect(readSettings(reader({ 'build-env': 'API_TOKEN=s3cr=t' }), push).buildEnv).toEqual([
      'API_TOKEN=s3cr=t'
    ])
    expect(() => readSettings(reader({ ciphers: 'aes;id' }), push)).toThrow(/Input `ciphers`/)
  })
})

describe('several hosts', () => {
  it('reads one host per line, each with its own port if given, and wants known_hosts to pin them', () => {
    const settings = readSettings(
      reader({
        host: '10.0.0.1\n10.0.0.2:2200\n[::1]:2201',
        port: '2222',
        'ssh-known-hosts': 'x ssh-ed25519 AAAA'
      }),
      push
    )
    expect(settings.hosts).toEqual([
      { host: '10.0.0.1', port: 2222 },
      { host: '10.0.0.2', port: 2200 },
      { host: '::1', port: 2201 }
    ])
    expect(settings).toMatchObject({ host: '10.0.0.1', port: 2222 })
    expect(() =>
      readSettings(reader({ host: 'a\nb', 'host-fingerprint': 'SHA256:' + 'a'.repeat(43) }), push)
    ).toThrow(/Input `host-fingerprint`: pins one host key, but `host` lists several hosts/)
    expect(() => readSettings(reader({ host: 'a\na' }), push)).toThrow(
      /Input `host`: lists a host twice/
    )
    expect(() => readSettings(reader({ host: 'a\nb;id' }), push)).toThrow(/Input `host`/)
  })
})

describe('durations', () => {
  it.each([
    ['90', 90],
    ['30s', 30],
    ['2m', 120],
    ['1h', 3600],
    ['1h30m', 5400],
    ['1.5m', 90],
    ['1.1m', 66],
    ['0', 0]
  ])('reads a time input written %s as %i s', (written, seconds) => {
    if (seconds <= 3600)
      expect(readSettings(reader({ 'stable-seconds': written }), push).stableSeconds).toBe(seconds)
    if (seconds > 0)
      expect(readSettings(reader({ 'command-timeout': written }), push).commandTimeoutSec).toBe(
        seconds
      )
  })

  it.each(['2 minutes', '-5s', '10 m', '1.5s', '5d', 'soon', '1e3'])(
    'refuses %p, naming the input and the forms it takes',
    written => {
      expect(() => readSettings(reader({ 'health-timeout': written }), push)).toThrow(
        /Input `health-timeout`: .* is not a duration in whole seconds\. Write seconds \(90\) or numbers with h, m and s \(30s, 10m, 1h30m\)\./
      )
    }
  )

  it('says the range when a duration is out of it', () => {
    expect(() => readSettings(reader({ 'health-timeout': '2h' }), push)).toThrow(
      /Input `health-timeout`: '2h' is 7200 s; give 1 s to 3600 s\./
    )
  })
})

describe('the handover inputs', () => {
  const caddy = (values: Record<string, string> = {}) =>
    readSettings(reader({ handover: 'caddy', 'app-port': '8080', ...values }), push)

  it('is off unless set to caddy, whatever its other inputs say', () => {
    expect(readSettings(reader({}), push).handover).toBeUndefined()
    expect(readSettings(reader({ handover: 'none', 'app-port': '8080' }), push).handover).toBe(
      undefined
    )
    // Its inputs are read only with it: a stray one is not refused.
    expect(readSettings(reader({ 'ready-path': 'health' }), push).handover).toBeUndefined()
  })

  it('fills the defaults: the stand-in on the next port, PORT, /, Caddy on localhost:2019', () => {
    expect(caddy().handover).toEqual({
      proxy: 'caddy',
      appPort: 8080,
      standinPort: 8081,
      portVariable: 'PORT',
      readyPath: '/',
      caddyAdmin: 'http://localhost:2019'
    })
    expect(
      caddy({
        'standin-port': '9001',
        'port-variable': 'HTTP_PORT',
        'ready-path': '/health?full=1',
        'caddy-admin': 'http://127.0.0.1:2020/'
      }).handover
    ).toMatchObject({
      standinPort: 9001,
      portVariable: 'HTTP_PORT',
      readyPath: '/health?full=1',
      caddyAdmin: 'http://127.0.0.1:2020'
    })
  })

  it('needs app-port', () => {
    expect(() => readSettings(reader({ handover: 'caddy' }), push)).toThrow(
      /Input `app-port`: is required with `handover`/
    )
  })

  it.each([
    ['handover', 'nginx', /Input `handover`: 'nginx' is not a handover this action knows/],
    ['app-port', '0', /Input `app-port`: '0' is not a whole number from 1 to 65535/],
    ['app-port', '80 80', /Input `app-port`/],
    [
      'standin-port',
      '8080',
      /Input `standin-port`: must be a free port other than `app-port` \(8080\)/
    ],
    ['standin-port', '70000', /Input `standin-port`: '70000' is not a whole number/],
    [
      'port-variable',
      '1PORT',
      /Input `port-variable`: '1PORT' is not an environment variable name/
    ],
    ['port-variable', 'PORT=80', /Input `port-variable`/],
    ['ready-path', 'health', /Input `ready-path`: 'health' is not a URL path/],
    ['ready-path', '/health check', /Input `ready-path`: '\/health check' is not a URL path/],
    ['ready-path', '/x"y', /Input `ready-path`/],
    ['ready-path', '/#top', /Input `ready-path`/],
    ['caddy-admin', 'localhost:2019', /Input `caddy-admin`: 'localhost:2019' is not the address/],
    ['caddy-admin', 'http://localhost:2019/config', /Input `caddy-admin`: .* is not the address/],
    ['caddy-admin', 'http://localhost:2019/?x=1', /Input `caddy-admin`/],
    ['caddy-admin', 'http://admin:pw@localhost:2019', /Input `caddy-admin`/],
    ['caddy-admin', 'http://admin@localhost:2019', /Input `caddy-admin`/],
    ['caddy-admin', 'ftp://localhost:2019', /Input `caddy-admin`/]
  ])('refuses %s = %j, naming the input', (name, value, message) => {
    expect(() => caddy({ [name]: value })).toThrow(message)
  })

  it('cannot put the stand-in past the last port', () => {
    expect(() => caddy({ 'app-port': '65535' })).toThrow(
      /Input `standin-port`: must be a free port other than `app-port` \(65535\); set it, e.g. 65534/
    )
    expect(caddy({ 'app-port': '65535', 'standin-port': '65534' }).handover?.standinPort).toBe(
      65534
    )
  })

  it('is refused for a Swarm service, naming handover', () => {
    expect(() => caddy({ service: 'texasca-api' })).toThrow(
      /Input `handover`: is for a container that a supervisor respawns; production is the Swarm service texasca-api: set `update-order: start-first`/
    )
  })

  it('takes a Swarm update order, and refuses another word', () => {
    expect(readSettings(reader({}), push).updateOrder).toBeUndefined()
    expect(readSettings(reader({ 'update-order': 'start-first' }), push).updateOrder).toBe(
      'start-first'
    )
    expect(readSettings(reader({ 'update-order': 'stop-first' }), push).updateOrder).toBe(
      'stop-first'
    )
    expect(() => readSettings(reader({ 'update-order': 'rolling' }), push)).toThrow(
      /Input `update-order`: 'rolling' is not an update order; use start-first or stop-first/
    )
  })
})

describe('respawn', () => {
  it('is auto unless told, and takes supervisor or restart-policy', () => {
    expect(readSettings(reader({}), push).respawn).toBe('auto')
    expect(readSettings(reader({ respawn: 'supervisor' }), push).respawn).toBe('supervisor')
    expect(readSettings(reader({ respawn: 'restart-policy' }), push).respawn).toBe('restart-policy')
  })

  it('refuses another word, naming the ones it takes', () => {
    expect(() => readSettings(reader({ respawn: 'kubernetes' }), push)).toThrow(
      /Input `respawn`: 'kubernetes' is not a way production comes back; use auto, supervisor, restart-policy/
    )
  })
})
