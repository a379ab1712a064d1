import { describe, expect, it } from '@jest/globals'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import type { ProxySettings, Settings } from '../src/inputs.js'
import { connectOptions } from '../src/ssh/options.js'

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\ndeploy\n-----END OPENSSH PRIVATE KEY-----\n'
const BASTION_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nbastion\n-----END OPENSSH PRIVATE KEY-----\n'

const settings = (over: Partial<Settings> = {}): Settings =>
  ({
    host: 'droplet.example.com',
    port: 22,
    username: 'core',
    sshKey: KEY,
    sshPassphrase: 'deploy passphrase',
    password: 'droplet password',
    hostFingerprint: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
    strictHostKey: true,
    ciphers: ['aes256-ctr'],
    connectTimeoutSec: 30,
    ...over
  }) as Settings

const bastion = (over: Partial<ProxySettings> = {}): ProxySettings => ({
  host: 'bastion.example.com',
  port: 2222,
  username: 'jump',
  knownHosts: 'bastion.example.com ssh-ed25519 AAAA',
  ...over
})

describe('the SSH options built from the settings', () => {
  it('logs in to the given address with the host’s credentials, citing their inputs', () => {
    const options = connectOptions(
      settings(),
      { host: '203.0.113.11', port: 2200 },
      new FakeRunner()
    )
    expect(options).toMatchObject({
      target: {
        host: '203.0.113.11',
        port: 2200,
        username: 'core',
        privateKey: KEY,
        passphrase: 'deploy passphrase',
        password: 'droplet password',
        hostFingerprint: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
        inputs: {
          key: 'ssh-key',
          fingerprint: 'host-fingerprint',
          knownHosts: 'ssh-known-hosts',
          password: 'password'
        }
      },
      proxy: undefined,
      strictHostKey: true,
      ciphers: ['aes256-ctr'],
      connectTimeoutMs: 30_000
    })
  })

  it('gives a bastion without a key of its own `ssh-key` (and its passphrase), and says so in errors', () => {
    const { proxy } = connectOptions(
      settings({ proxy: bastion({ password: 'bastion password' }) }),
      { host: '10.0.0.5', port: 22 },
      new FakeRunner()
    )
    expect(proxy).toEqual({
      host: 'bastion.example.com',
      port: 2222,
      username: 'jump',
      privateKey: KEY,
      passphrase: 'deploy passphrase',
      password: 'bastion password',
      hostFingerprint: undefined,
      knownHosts: 'bastion.example.com ssh-ed25519 AAAA',
      inputs: {
        key: 'ssh-key',
        fingerprint: 'proxy-host-fingerprint',
        knownHosts: 'proxy-known-hosts',
        password: 'proxy-password'
      }
    })
  })

  it('gives a bastion with its own key that key and only its passphrase, citing `proxy-ssh-key`', () => {
    const { proxy } = connectOptions(
      settings({ proxy: bastion({ sshKey: BASTION_KEY }) }),
      { host: '10.0.0.5', port: 22 },
      new FakeRunner()
    )
    expect(proxy).toMatchObject({
      privateKey: BASTION_KEY,
      passphrase: undefined,
      inputs: { key: 'proxy-ssh-key' }
    })
  })

  it('passes the connection’s warnings to the log under SSH, and its debug lines', () => {
    const runner = new FakeRunner()
    const warned: [string, string | undefined][] = []
    runner.warning = (text: string, title?: string) => void warned.push([text, title])
    const options = connectOptions(settings(), { host: 'droplet.example.com', port: 22 }, runner)
    options.onWarning?.('weak cipher')
    expect(warned).toEqual([['weak cipher', 'SSH']])
  })
})
