// The action's contract with the workflow, in one place: the inputs action.yml declares and their
// defaults, the outputs it writes, and the keys the main step saves for the post step. The code
// reads inputs, writes outputs and saves state only by these names; a contract test
// (__tests__/action-io.test.ts) holds them to action.yml, the README and the sources.

/** Every input of action.yml, by its name there. */
export const Input = {
  Host: 'host',
  MaxParallel: 'max-parallel',
  Port: 'port',
  Username: 'username',
  SshKey: 'ssh-key',
  SshKeyPath: 'ssh-key-path',
  Password: 'password',
  SshPassphrase: 'ssh-passphrase',
  HostFingerprint: 'host-fingerprint',
  SshKnownHosts: 'ssh-known-hosts',
  SshStrict: 'ssh-strict',
  ProxyHost: 'proxy-host',
  ProxyPort: 'proxy-port',
  ProxyUsername: 'proxy-username',
  ProxySshKey: 'proxy-ssh-key',
  ProxySshKeyPath: 'proxy-ssh-key-path',
  ProxySshPassphrase: 'proxy-ssh-passphrase',
  ProxyPassword: 'proxy-password',
  ProxyHostFingerprint: 'proxy-host-fingerprint',
  ProxyKnownHosts: 'proxy-known-hosts',
  Ciphers: 'ciphers',
  Image: 'image',
  Container: 'container',
  AdminContainer: 'admin-container',
  RepoPath: 'repo-path',
  Branch: 'branch',
  Ref: 'ref',
  BuildEnv: 'build-env',
  BuildCommand: 'build-command',
  PreDeployCommand: 'pre-deploy-command',
  PostDeployCommand: 'post-deploy-command',
  PostDeployMustPass: 'post-deploy-must-pass',
  HealthCommand: 'health-command',
  HealthTimeout: 'health-timeout',
  RespawnTimeout: 'respawn-timeout',
  StopTimeout: 'stop-timeout',
  CommandTimeout: 'command-timeout',
  ConnectTimeout: 'connect-timeout',
  LockTimeout: 'lock-timeout',
  Rollback: 'rollback',
  Force: 'force',
  DryRun: 'dry-run',
  Paths: 'paths',
  Environment: 'environment',
  EnvironmentUrl: 'environment-url',
  MaxLayers: 'max-layers',
  KeepReleases: 'keep-releases',
  CanarySeconds: 'canary-seconds',
  CanaryCommand: 'canary-command',
  CanaryTimeout: 'canary-timeout',
  StableSeconds: 'stable-seconds',
  RollbackTo: 'rollback-to',
  Service: 'service',
  Registry: 'registry',
  RegistryUsername: 'registry-username',
  RegistryPassword: 'registry-password',
  UpdateTimeout: 'update-timeout',
  UpdateOrder: 'update-order',
  Respawn: 'respawn',
  Handover: 'handover',
  AppPort: 'app-port',
  StandinPort: 'standin-port',
  PortVariable: 'port-variable',
  ReadyPath: 'ready-path',
  CaddyAdmin: 'caddy-admin',
  GithubToken: 'github-token'
} as const

/** An input's name in action.yml (`ssh-key`). */
export type InputName = (typeof Input)[keyof typeof Input]

/**
 * The defaults action.yml declares, for the inputs that have one besides '' (and besides an
 * expression: `github-token`). A runner passes them when the workflow sets none; a local run or a
 * test may not, so they are read from here too.
 */
export const DECLARED_DEFAULTS = {
  [Input.MaxParallel]: '1',
  [Input.Port]: '22',
  [Input.Username]: 'core',
  [Input.SshStrict]: 'true',
  [Input.ProxyPort]: '22',
  [Input.BuildCommand]: 'grunt build',
  [Input.PostDeployMustPass]: 'false',
  [Input.HealthTimeout]: '60',
  [Input.RespawnTimeout]: '120',
  [Input.CommandTimeout]: '1800',
  [Input.ConnectTimeout]: '30',
  [Input.LockTimeout]: '300',
  [Input.Rollback]: 'true',
  [Input.Force]: 'false',
  [Input.DryRun]: 'false',
  [Input.MaxLayers]: '100',
  [Input.KeepReleases]: '5',
  [Input.CanarySeconds]: '5',
  [Input.CanaryTimeout]: '30',
  [Input.StableSeconds]: '10',
  [Input.UpdateTimeout]: '600',
  [Input.Respawn]: 'auto',
  [Input.Handover]: 'none',
  [Input.PortVariable]: 'PORT',
  [Input.ReadyPath]: '/',
  [Input.CaddyAdmin]: 'http://localhost:2019'
} as const satisfies Partial<Record<InputName, string>>

/** An input with a declared default. */
export type DefaultedInput = keyof typeof DECLARED_DEFAULTS

/** The declared default of any input; undefined when it has none. */
export function declaredDefault(name: InputName): string | undefined {
  return (DECLARED_DEFAULTS as Partial<Record<InputName, string>>)[name]
}

/** Inputs whose whole value, and each line of it, is masked in the log before anything runs. */
export const SECRET_INPUTS: readonly InputName[] = [
  Input.SshKey,
  Input.SshPassphrase,
  Input.Password,
  Input.ProxySshKey,
  Input.ProxySshPassphrase,
  Input.ProxyPassword,
  Input.RegistryPassword
]

/** Every output of action.yml, by its name there. */
export const Output = {
  Deployed: 'deployed',
  Commit: 'commit',
  PreviousCommit: 'previous-commit',
  ImageId: 'image-id',
  PreviousImageId: 'previous-image-id',
  ContainerId: 'container-id',
  RolledBack: 'rolled-back'
} as const

export type OutputName = (typeof Output)[keyof typeof Output]

/** The keys the main step saves (core.saveState) for the post step to read. */
export const State = {
  /** 'true' once the main step has started: the next run of the entry point is the post step. */
  IsPost: 'isPost',
  /** How far the deploy got (src/state.ts's Progress, as JSON). */
  Progress: 'progress'
} as const

/** A bad input: names the input, says what is wrong and what is expected. */
export class InputError extends Error {
  constructor(
    readonly input: InputName,
    message: string
  ) {
    super(`Input \`${input}\`: ${message}`)
    this.name = 'InputError'
  }
}
