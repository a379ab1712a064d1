import pRetry from 'p-retry'
import { Input } from '../action-io.js'
import type { HostAddress, Settings } from '../inputs.js'
import type { Runner } from '../runner.js'
import type { RemoteShell } from '../shell.js'
import { connect, ConnectionError, type ConnectionOptions } from './connection.js'

/**
 * How to reach one host, from the settings: its address, the SSH user and credentials, its pinned
 * host key, and the bastion in front of it (which uses `ssh-key` unless given a key of its own).
 * Each endpoint names the inputs an error about it should cite.
 */
export function connectOptions(
  settings: Settings,
  address: HostAddress,
  runner: Pick<Runner, 'warning' | 'debug'>
): ConnectionOptions {
  const { proxy } = settings
  return {
    target: {
      host: address.host,
      port: address.port,
      username: settings.username,
      privateKey: settings.sshKey,
      passphrase: settings.sshPassphrase,
      password: settings.password,
      hostFingerprint: settings.hostFingerprint,
      knownHosts: settings.knownHosts,
      inputs: {
        key: Input.SshKey,
        fingerprint: Input.HostFingerprint,
        knownHosts: Input.SshKnownHosts,
        password: Input.Password
      }
    },
    proxy: proxy && {
      host: proxy.host,
      port: proxy.port,
      username: proxy.username,
      privateKey: proxy.sshKey ?? settings.sshKey,
      passphrase: proxy.sshKey ? proxy.sshPassphrase : settings.sshPassphrase,
      password: proxy.password,
      hostFingerprint: proxy.hostFingerprint,
      knownHosts: proxy.knownHosts,
      inputs: {
        key: proxy.sshKey ? Input.ProxySshKey : Input.SshKey,
        fingerprint: Input.ProxyHostFingerprint,
        knownHosts: Input.ProxyKnownHosts,
        password: Input.ProxyPassword
      }
    },
    strictHostKey: settings.strictHostKey,
    ciphers: settings.ciphers,
    connectTimeoutMs: settings.connectTimeoutSec * 1000,
    onWarning: text => runner.warning(text, 'SSH'),
    onDebug: text => runner.debug(text)
  }
}

/** A dropped packet or a droplet still booting deserves another try; a wrong key does not. */
export function connectWithRetries(
  settings: Settings,
  address: HostAddress,
  runner: Runner
): Promise<RemoteShell> {
  return pRetry(() => connect(connectOptions(settings, address, runner)), {
    retries: 2,
    minTimeout: 2000,
    factor: 2,
    shouldRetry: ({ error }) =>
      error instanceof ConnectionError && (error.phase === 'tcp' || error.phase === 'handshake'),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (
        retriesLeft > 0 &&
        error instanceof ConnectionError &&
        error.phase !== 'host-key' &&
        error.phase !== 'authentication'
      ) {
        runner.warning(`Connection attempt ${attemptNumber} failed: ${error.message} Retrying.`)
      }
    }
  })
}
