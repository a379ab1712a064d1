import { describe, expect, it } from '@jest/globals'
import {
  parseImage,
  parseSurvey,
  type ContainerInfo,
  type ImageConfig,
  type Json
} from '../src/docker.js'
import { DeployError } from '../src/host.js'
import {
  checkRecreatable,
  detectRespawn,
  keptName,
  recreate,
  recreationFor,
  type Recreate
} from '../src/recreate.js'

/*
 * On a restart-policy host the action recreates production with `docker run` built from its
 * `docker inspect`. These fixtures are what Docker 20.10 records for a container (Config,
 * HostConfig, Mounts, NetworkSettings.Networks, with its defaults), and each test reads the argv
 * back the way `docker run` would: flag by flag, then the image, then the command.
 */

const ID = '4f2c9e1b7a3d58e6c0b1a2f3d4e5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3'
const SIDECAR_ID = '9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c'
const IMAGE_ID = 'sha256:7d1f0a3e5c2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f'
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const SOURCE_LABEL = 'org.opencontainers.image.source'

/** `docker image inspect texasca/api:latest`: the image production and its release run. */
const IMAGE_INSPECT: Json = {
  Id: IMAGE_ID,
  RepoTags: ['texasca/api:latest'],
  Config: {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: { '3000/tcp': {} },
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: [PATH_ENV, 'NODE_VERSION=20.11.1'],
    Cmd: ['node', 'server.js'],
    Image: 'sha256:0c5f3e1d2b4a6c8e0f1d3b5a7c9e2f4d6b8a0c1e3f5d7b9a2c4e6f8d0b1a3c5e',
    Volumes: null,
    WorkingDir: '/app',
    Entrypoint: ['docker-entrypoint.sh'],
    OnBuild: null,
    Labels: { [SOURCE_LABEL]: 'https://github.com/texasca/api' }
  },
  RootFS: { Type: 'layers', Layers: ['sha256:' + 'e'.repeat(64)] }
}
const image: ImageConfig = parseImage(IMAGE_INSPECT).config

/** What Docker 20.10 fills in for a plain `docker run -d` on a cgroup v2 host. */
function hostConfigDefaults(): Json {
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'default',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'private',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 67108864,
    Runtime: 'runc',
    ConsoleSize: [0, 0],
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    KernelMemory: 0,
    KernelMemoryTCP: 0,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: false,
    PidsLimit: null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: [
      '/proc/asound',
      '/proc/acpi',
      '/proc/kcore',
      '/proc/keys',
      '/proc/latency_stats',
      '/proc/timer_list',
      '/proc/timer_stats',
      '/proc/sched_debug',
      '/proc/scsi',
      '/sys/firmware'
    ],
    ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']
  }
}

function endpoint(network: string, ip: string, extra: Json = {}): Json {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: network.padEnd(64, '0'),
    EndpointID: ip ? 'e1'.padEnd(64, '7') : '',
    Gateway: ip ? ip.replace(/\d+$/, '1') : '',
    IPAddress: ip,
    IPPrefixLen: ip ? 16 : 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: ip ? '02:42:ac:11:00:02' : '',
    DriverOpts: null,
    ...extra
  }
}

/** `docker run -d --name api --restart always texasca/api`: a container exactly its image. */
function plainInspect(): Json {
  return {
    Id: ID,
    Created: '2024-03-01T09:15:02.123456789Z',
    Path: 'docker-entrypoint.sh',
    Args: ['node', 'server.js'],
    State: { Status: 'running', Running: true, Pid: 4242, ExitCode: 0 },
    Image: IMAGE_ID,
    Name: '/api',
    RestartCount: 0,
    Driver: 'overlay2',
    ExecIDs: null,
    HostConfig: {
      ...hostConfigDefaults(),
      RestartPolicy: { Name: 'always', MaximumRetryCount: 0 }
    },
    Mounts: [],
    Config: {
      Hostname: ID.slice(0, 12),
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: { '3000/tcp': {} },
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [PATH_ENV, 'NODE_VERSION=20.11.1'],
      Cmd: ['node', 'server.js'],
      Image: 'texasca/api',
      Volumes: null,
      WorkingDir: '/app',
      Entrypoint: ['docker-entrypoint.sh'],
      OnBuild: null,
      Labels: { [SOURCE_LABEL]: 'https://github.com/texasca/api' }
    },
    NetworkSettings: {
      Bridge: '',
      Ports: { '3000/tcp': null },
      Networks: { bridge: endpoint('bridge', '172.17.0.2') }
    }
  }
}

/**
 * Production as an operator started it, on the host network:
 *
 *   docker run -d --name api --restart on-failure:3 --network host --init -e PORT=8085 -e SECRET=x
 *     --label team=api --stop-signal SIGINT --stop-timeout 7 --tmpfs /scratch:size=1m
 *     --add-host db:10.0.0.2 --cap-add SYS_PTRACE --cap-drop NET_RAW --device /dev/fuse:/dev/fuse:rwm
 *     --log-driver json-file --log-opt max-size=1m --memory 256m --memory-swap 512m --cpus 1.5
 *     --pids-limit 200 --ulimit nofile=1024:2048 --user 1000:1000 --workdir /srv
 *     --health-cmd 'curl -f localhost' --health-interval 5s --health-retries 4 -v data:/data
 *     -v /etc/app:/etc/app:ro --mount type=tmpfs,target=/cache --dns 1.1.1.1 --privileged --read-only
 *     --group-add 999 --security-opt no-new-privileges --entrypoint /bin/app
 *     texasca/api:latest serve --port 8085
 *
 * (--hostname, -p and a net.* sysctl are on the bridge one below: on the host network Docker
 * records the host's name, discards published ports, and runc refuses net.* sysctls.)
 */
function productionInspect(): Json {
  return {
    ...plainInspect(),
    Path: '/bin/app',
    Args: ['serve', '--port', '8085'],
    HostConfig: {
      ...hostConfigDefaults(),
      Binds: ['data:/data', '/etc/app:/etc/app:ro'],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
      NetworkMode: 'host',
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      CapAdd: ['SYS_PTRACE'],
      CapDrop: ['NET_RAW'],
      Dns: ['1.1.1.1'],
      ExtraHosts: ['db:10.0.0.2'],
      GroupAdd: ['999'],
      Privileged: true,
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      Tmpfs: { '/scratch': 'size=1m' },
      Memory: 268435456,
      NanoCpus: 1500000000,
      Devices: [
        { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }
      ],
      MemorySwap: 536870912,
      PidsLimit: 200,
      Ulimits: [{ Name: 'nofile', Hard: 2048, Soft: 1024 }],
      Mounts: [{ Type: 'tmpfs', Target: '/cache' }],
      // --privileged: Docker leaves the paths unmasked.
      MaskedPaths: null,
      ReadonlyPaths: null,
      Init: true
    },
    Mounts: [
      {
        Type: 'volume',
        Name: 'data',
        Source: '/var/lib/docker/volumes/data/_data',
        Destination: '/data',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: ''
      },
      {
        Type: 'bind',
        Source: '/etc/app',
        Destination: '/etc/app',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate'
      },
      {
        Type: 'tmpfs',
        Source: '',
        Destination: '/cache',
        Mode: '',
        RW: true,
        Propagation: ''
      }
    ],
    Config: {
      ...plainInspect().Config,
      // On the host network Docker records the host's name.
      Hostname: 'droplet-ams3-01',
      User: '1000:1000',
      // The container's own first, then the image's it did not override.
      Env: ['PORT=8085', 'SECRET=x', PATH_ENV, 'NODE_VERSION=20.11.1'],
      // A new entrypoint clears the image's CMD: only what was given after the image.
      Cmd: ['serve', '--port', '8085'],
      Healthcheck: {
        Test: ['CMD-SHELL', 'curl -f localhost'],
        Interval: 5000000000,
        Retries: 4
      },
      Image: 'texasca/api:latest',
      WorkingDir: '/srv',
      Entrypoint: ['/bin/app'],
      Labels: { [SOURCE_LABEL]: 'https://github.com/texasca/api', team: 'api' },
      StopSignal: 'SIGINT',
      StopTimeout: 7
    },
    NetworkSettings: {
      Bridge: '',
      Ports: {},
      Networks: { host: endpoint('host', '') }
    }
  }
}

/**
 * On the default bridge:
 *
 *   docker run -d --name api --restart unless-stopped --hostname api.internal
 *     -p 127.0.0.1:8080:3000/tcp --expose 9229 --sysctl net.core.somaxconn=1024 texasca/api:latest
 */
function bridgeInspect(): Json {
  const raw = plainInspect()
  raw.HostConfig.RestartPolicy = { Name: 'unless-stopped', MaximumRetryCount: 0 }
  raw.HostConfig.PortBindings = { '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }
  raw.HostConfig.Sysctls = { 'net.core.somaxconn': '1024' }
  raw.Config.Hostname = 'api.internal'
  raw.Config.ExposedPorts = { '3000/tcp': {}, '9229/tcp': {} }
  raw.Config.Image = 'texasca/api:latest'
  raw.NetworkSettings.Ports = {
    '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
    '9229/tcp': null
  }
  return raw
}

/** `raw` as the action reads it: through the host survey's parser. */
function container(raw: Json): ContainerInfo {
  const [parsed] = parseSurvey(`#inspect\n${JSON.stringify(raw)}\n`).containers
  if (!parsed) throw new Error('the survey did not parse the container')
  return parsed
}

function changed(raw: Json, change: (raw: Json) => void): Json {
  const copy = structuredClone(raw)
  change(copy)
  return copy
}

// `docker run`'s flags as the argv may use them: those without a value, and those with one.
const SWITCHES = new Set([
  '--detach',
  '--rm',
  '--init',
  '--privileged',
  '--read-only',
  '--tty',
  '--interactive',
  '--no-healthcheck',
  '--oom-kill-disable',
  '--publish-all'
])
const WITH_VALUE = new Set([
  '--name',
  '--env',
  '--env-file',
  '--network',
  '--network-alias',
  '--ip',
  '--mac-address',
  '--hostname',
  '--domainname',
  '--publish',
  '--expose',
  '--volume',
  '--mount',
  '--tmpfs',
  '--add-host',
  '--dns',
  '--dns-search',
  '--dns-option',
  '--restart',
  '--user',
  '--workdir',
  '--stop-signal',
  '--stop-timeout',
  '--group-add',
  '--cap-add',
  '--cap-drop',
  '--security-opt',
  '--device',
  '--device-cgroup-rule',
  '--gpus',
  '--sysctl',
  '--ipc',
  '--pid',
  '--uts',
  '--userns',
  '--cgroupns',
  '--runtime',
  '--cgroup-parent',
  '--memory',
  '--memory-reservation',
  '--memory-swap',
  '--memory-swappiness',
  '--cpus',
  '--cpu-shares',
  '--cpu-quota',
  '--cpu-period',
  '--cpuset-cpus',
  '--cpuset-mems',
  '--pids-limit',
  '--oom-score-adj',
  '--shm-size',
  '--ulimit',
  '--log-driver',
  '--log-opt',
  '--label',
  '--health-cmd',
  '--health-interval',
  '--health-timeout',
  '--health-start-period',
  '--health-retries',
  '--entrypoint'
])

/** The argv read as `docker run` reads it (options stop at the first word that is not one). */
interface Run {
  options: [flag: string, value: string | true][]
  image: string
  command: string[]
  stdin: string
}

function read({ command, stdin }: Recreate): Run {
  expect(command.slice(0, 2)).toEqual(['docker', 'run'])
  const options: Run['options'] = []
  let i = 2
  for (; i < command.length && command[i]!.startsWith('-'); i++) {
    const flag = command[i]!
    if (SWITCHES.has(flag)) options.push([flag, true])
    else if (WITH_VALUE.has(flag) && i + 1 < command.length) options.push([flag, command[++i]!])
    else throw new Error(`${flag} is not a docker run flag, or has no value`)
  }
  if (i >= command.length) throw new Error('no image in the argv')
  return { options, image: command[i]!, command: command.slice(i + 1), stdin }
}

/** What follows each `flag`, in order; `true` for a flag without a value. */
const values = (run: Run, flag: string) => run.options.filter(([f]) => f === flag).map(([, v]) => v)
const flags = (run: Run) => [...new Set(run.options.map(([f]) => f))].sort()

const run = (raw: Json, named = 'texasca/api:latest') =>
  read(recreate(container(raw), named, image))

/**
 * The environment `docker run --env-file` reads from `text`, as docker/cli's parseKeyValueFile
 * does: a bufio.Scanner's lines (a trailing CR dropped, 64 KiB at most), leading white space
 * trimmed, blank lines and `#` comments skipped.
 */
function envFile(text: string): string[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
    .map(line => {
      if (Buffer.byteLength(line) > 64 * 1024) throw new Error('bufio.Scanner: token too long')
      return line.replace(/\r$/, '').trimStart()
    })
    .filter(line => line !== '' && !line.startsWith('#'))
}

/** The container's own environment as the recreated one gets it: env-file, then `--env`s. */
const envOf = (r: Run) => [...envFile(r.stdin), ...(values(r, '--env') as string[])]

/**
 * For a setting the argv does not give back yet: either it comes back (`given`), or the container
 * is refused before anything changes, naming it.
 */
function givenBackOrRefused(raw: Json, given: (r: Run) => void, named: RegExp) {
  let r: Run
  try {
    r = run(raw)
  } catch (error) {
    expect(error).toBeInstanceOf(DeployError)
    expect((error as Error).message).toMatch(named)
    return
  }
  given(r)
}

describe('recreating production from its docker inspect, field by field', () => {
  const production = run(productionInspect())

  it.each([
    // [what Docker records, flag, values in the order given]
    ['HostConfig.RestartPolicy {on-failure, 3}', '--restart', ['on-failure:3']],
    ['HostConfig.NetworkMode host', '--network', ['host']],
    ['HostConfig.Init', '--init', [true]],
    ['HostConfig.Privileged', '--privileged', [true]],
    ['HostConfig.ReadonlyRootfs', '--read-only', [true]],
    ['Config.StopSignal', '--stop-signal', ['SIGINT']],
    ['Config.StopTimeout (seconds)', '--stop-timeout', ['7']],
    ['HostConfig.Tmpfs', '--tmpfs', ['/scratch:size=1m']],
    ['HostConfig.ExtraHosts', '--add-host', ['db:10.0.0.2']],
    ['HostConfig.CapAdd', '--cap-add', ['SYS_PTRACE']],
    ['HostConfig.CapDrop', '--cap-drop', ['NET_RAW']],
    ['HostConfig.Devices', '--device', ['/dev/fuse:/dev/fuse:rwm']],
    ['HostConfig.LogConfig.Type', '--log-driver', ['json-file']],
    ['HostConfig.LogConfig.Config', '--log-opt', ['max-size=1m']],
    // Bytes: a bare number is bytes to docker run.
    ['HostConfig.Memory (bytes)', '--memory', ['268435456']],
    ['HostConfig.MemorySwap (bytes)', '--memory-swap', ['536870912']],
    // Billionths of a CPU.
    ['HostConfig.NanoCpus 1500000000', '--cpus', ['1.5']],
    ['HostConfig.PidsLimit', '--pids-limit', ['200']],
    ['HostConfig.Ulimits {Name, Soft, Hard}', '--ulimit', ['nofile=1024:2048']],
    ['Config.User', '--user', ['1000:1000']],
    ['Config.WorkingDir', '--workdir', ['/srv']],
    ['Config.Healthcheck.Test CMD-SHELL', '--health-cmd', ['curl -f localhost']],
    // Nanoseconds.
    ['Config.Healthcheck.Interval 5000000000', '--health-interval', ['5s']],
    ['Config.Healthcheck.Retries', '--health-retries', ['4']],
    ['HostConfig.Binds', '--volume', ['data:/data', '/etc/app:/etc/app:ro']],
    ['HostConfig.Mounts', '--mount', ['type=tmpfs,target=/cache']],
    ['HostConfig.Dns', '--dns', ['1.1.1.1']],
    ['HostConfig.GroupAdd', '--group-add', ['999']],
    ['HostConfig.SecurityOpt', '--security-opt', ['no-new-privileges']],
    ['Config.Entrypoint', '--entrypoint', ['/bin/app']],
    ['Config.Labels (the container’s own)', '--label', ['team=api']],
    ['Name', '--name', ['api']]
  ])('gives back %s as %s', (_field, flag, expected) => {
    expect(values(production, flag)).toEqual(expected)
  })

  it('gives nothing else: no daemon default or image setting becomes a flag', () => {
    // No --hostname (the host's, on the host network), --expose (the image's), --ipc private,
    // --cgroupns private, --shm-size 64m, --runtime runc, --health-timeout, --oom-score-adj 0.
    expect(flags(production)).toEqual(
      [
        '--add-host',
        '--cap-add',
        '--cap-drop',
        '--cpus',
        '--detach',
        '--device',
        '--dns',
        '--entrypoint',
        '--env-file',
        '--group-add',
        '--health-cmd',
        '--health-interval',
        '--health-retries',
        '--init',
        '--label',
        '--log-driver',
        '--log-opt',
        '--memory',
        '--memory-swap',
        '--mount',
        '--name',
        '--network',
        '--pids-limit',
        '--privileged',
        '--read-only',
        '--restart',
        '--security-opt',
        '--stop-signal',
        '--stop-timeout',
        '--tmpfs',
        '--ulimit',
        '--user',
        '--volume',
        '--workdir'
      ].sort()
    )
  })

  it('puts exactly the container’s own environment on stdin, read as an env-file', () => {
    expect(values(production, '--env-file')).toEqual(['/dev/stdin'])
    expect(production.stdin).toBe('PORT=8085\nSECRET=x\n')
    expect(envFile(production.stdin)).toEqual(['PORT=8085', 'SECRET=x'])
    expect(values(production, '--env')).toEqual([])
  })

  it('leaves what the image says to the image: its env and labels are not repeated', () => {
    const argv = recreate(container(productionInspect()), 'texasca/api:latest', image)
    const everything = [...argv.command, argv.stdin].join('\n')
    expect(everything).not.toContain('PATH=')
    expect(everything).not.toContain('NODE_VERSION')
    expect(everything).not.toContain(SOURCE_LABEL)
  })

  it('names the image last, then the command the container was given after it', () => {
    expect(production.image).toBe('texasca/api:latest')
    expect(production.command).toEqual(['serve', '--port', '8085'])
    const { command } = recreate(container(productionInspect()), 'texasca/api:latest', image)
    expect(command.slice(-4)).toEqual(['texasca/api:latest', 'serve', '--port', '8085'])
  })

  it('starts detached, under production’s name', () => {
    const { command } = recreate(container(productionInspect()), 'texasca/api:latest', image)
    expect(command.slice(0, 5)).toEqual(['docker', 'run', '--detach', '--name', 'api'])
  })

  it('can be checked before anything changes', () => {
    expect(() => checkRecreatable(container(productionInspect()), image)).not.toThrow()
  })
})

describe('recreating production on the default bridge', () => {
  const bridge = run(bridgeInspect())

  it.each([
    ['Config.Hostname', '--hostname', ['api.internal']],
    ['HostConfig.PortBindings {HostIp, HostPort}', '--publish', ['127.0.0.1:8080:3000/tcp']],
    ['Config.ExposedPorts (not the image’s, not published)', '--expose', ['9229/tcp']],
    ['HostConfig.Sysctls', '--sysctl', ['net.core.somaxconn=1024']],
    ['HostConfig.RestartPolicy {unless-stopped, 0}', '--restart', ['unless-stopped']]
  ])('gives back %s as %s', (_field, flag, expected) => {
    expect(values(bridge, flag)).toEqual(expected)
  })

  it('stays on the default network without naming it, and has no environment of its own', () => {
    expect(values(bridge, '--network')).toEqual([])
    expect(bridge.stdin).toBe('')
    expect(bridge.image).toBe('texasca/api:latest')
    expect(bridge.command).toEqual([])
  })

  it('publishes a port on every address, and a random host port, as recorded', () => {
    const r = run(
      changed(bridgeInspect(), raw => {
        raw.HostConfig.PortBindings = {
          '3000/tcp': [{ HostIp: '', HostPort: '8080' }],
          '9229/tcp': [{ HostIp: '', HostPort: '' }]
        }
      })
    )
    expect(values(r, '--publish')).toEqual(['8080:3000/tcp', ':9229/tcp'])
    expect(values(r, '--expose')).toEqual([])
  })

  it('gives no --hostname for the name Docker makes from the ID', () => {
    expect(values(run(plainInspect()), '--hostname')).toEqual([])
    expect(plainInspect().Config.Hostname).toBe(ID.slice(0, 12))
  })
})

describe('a container identical to its image', () => {
  it('is recreated with a minimal argv: its restart policy and its log driver', () => {
    const { command, stdin } = recreate(container(plainInspect()), 'texasca/api', image)
    expect(stdin).toBe('')
    expect(command).toEqual([
      'docker',
      'run',
      '--detach',
      '--name',
      'api',
      '--env-file',
      '/dev/stdin',
      '--restart',
      'always',
      '--log-driver',
      'json-file',
      'texasca/api'
    ])
  })
})

describe('what the container overrides of its image', () => {
  it('gives an env var or label whose value differs from the image’s', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.Env = ['NODE_VERSION=18.19.0', PATH_ENV]
        raw.Config.Labels[SOURCE_LABEL] = 'https://github.com/texasca/fork'
      })
    )
    expect(r.stdin).toBe('NODE_VERSION=18.19.0\n')
    expect(values(r, '--label')).toEqual([`${SOURCE_LABEL}=https://github.com/texasca/fork`])
  })

  it('gives a user or working directory the image does not have', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.User = 'root'
        raw.Config.WorkingDir = '/'
      })
    )
    expect(values(r, '--user')).toEqual(['root'])
    expect(values(r, '--workdir')).toEqual(['/'])
  })

  it('gives its own command after the image, with the image’s entrypoint left alone', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.Cmd = ['node', '--inspect=0.0.0.0:9229', 'server.js']
      })
    )
    expect(values(r, '--entrypoint')).toEqual([])
    expect(r.command).toEqual(['node', '--inspect=0.0.0.0:9229', 'server.js'])
  })

  it('gives the command again after a new entrypoint, even when it is the image’s CMD', () => {
    // `--entrypoint /bin/app texasca/api node server.js`: a new entrypoint clears the image's CMD,
    // so the recreated container needs it said again.
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.Entrypoint = ['/bin/app']
      })
    )
    expect(values(r, '--entrypoint')).toEqual(['/bin/app'])
    expect(r.command).toEqual(['node', 'server.js'])
  })

  it('gives no command after a new entrypoint when none was given (Docker records Cmd null)', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.Entrypoint = ['/bin/app']
        raw.Config.Cmd = null
      })
    )
    expect(values(r, '--entrypoint')).toEqual(['/bin/app'])
    expect(r.command).toEqual([])
  })

  it('keeps a multi-word entrypoint that is the image’s', () => {
    const multi = { ...image, Entrypoint: ['tini', '--', 'docker-entrypoint.sh'] }
    const raw = changed(plainInspect(), raw => {
      raw.Config.Entrypoint = ['tini', '--', 'docker-entrypoint.sh']
    })
    expect(() => checkRecreatable(container(raw), multi)).not.toThrow()
    const r = read(recreate(container(raw), 'texasca/api:latest', multi))
    expect(values(r, '--entrypoint')).toEqual([])
    expect(r.command).toEqual([])
  })

  it('gives a health check with its timeout and start period in seconds', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.Config.Healthcheck = {
          Test: ['CMD-SHELL', 'wget -qO- localhost:3000/health || exit 1'],
          Interval: 1500000000,
          Timeout: 3000000000,
          StartPeriod: 10000000000,
          Retries: 2
        }
      })
    )
    expect(values(r, '--health-cmd')).toEqual(['wget -qO- localhost:3000/health || exit 1'])
    expect(values(r, '--health-interval')).toEqual(['1.5s'])
    expect(values(r, '--health-timeout')).toEqual(['3s'])
    expect(values(r, '--health-start-period')).toEqual(['10s'])
    expect(values(r, '--health-retries')).toEqual(['2'])
  })

  it('gives --no-healthcheck when the container turned off the image’s health check', () => {
    const checked = { ...image, Healthcheck: { Test: ['CMD', 'node', 'health.js'] } }
    const raw = changed(plainInspect(), raw => {
      raw.Config.Healthcheck = { Test: ['NONE'] }
    })
    const r = read(recreate(container(raw), 'texasca/api:latest', checked))
    expect(values(r, '--no-healthcheck')).toEqual([true])
    expect(values(r, '--health-cmd')).toEqual([])
  })

  it('keeps an exec-form health check that is the image’s, without any --health-* flag', () => {
    const hc = { Test: ['CMD', 'node', 'health.js'], Interval: 30000000000 }
    const checked = { ...image, Healthcheck: hc }
    const raw = changed(plainInspect(), raw => {
      raw.Config.Healthcheck = hc
    })
    expect(() => checkRecreatable(container(raw), checked)).not.toThrow()
    const r = read(recreate(container(raw), 'texasca/api:latest', checked))
    expect(flags(r).filter(f => f.includes('health'))).toEqual([])
  })

  it('gives back --rm, --tty and --interactive', () => {
    const r = run(
      changed(plainInspect(), raw => {
        raw.HostConfig.AutoRemove = true
        raw.HostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 }
        raw.Config.Tty = true
        raw.Config.OpenStdin = true
      })
    )
    expect(values(r, '--rm')).toEqual([true])
    expect(values(r, '--tty')).toEqual([true])
    expect(values(r, '--interactive')).toEqual([true])
    expect(values(r, '--restart')).toEqual([])
  })
})

describe('a setting docker run cannot give back stops the deploy, naming it', () => {
  const refusal = (raw: Json, config: ImageConfig = image) => {
    try {
      checkRecreatable(container(raw), config)
    } catch (error) {
      expect(error).toBeInstanceOf(DeployError)
      const { message } = error as Error
      expect(message).toMatch(/^Production's container cannot be recreated exactly: /)
      expect(message).toContain('Nothing was changed.')
      expect(message).toContain('`respawn: supervisor`')
      return message
    }
    throw new Error('checkRecreatable did not refuse')
  }

  it('--link', () => {
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.Links = ['/db:/api/db']
    })
    expect(refusal(raw)).toMatch(/--link points at other containers/)
  })

  it('--volumes-from', () => {
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.VolumesFrom = ['api-data']
    })
    expect(refusal(raw)).toMatch(/--volumes-from points at another container/)
  })

  it('several networks', () => {
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.NetworkMode = 'front'
      raw.NetworkSettings.Networks = {
        front: endpoint('front', '172.20.0.5'),
        back: endpoint('back', '172.21.0.5')
      }
    })
    expect(refusal(raw)).toMatch(/its networks \(front, back\) are more than one/)
  })

  it('a multi-word entrypoint that differs from the image’s', () => {
    const raw = changed(plainInspect(), raw => {
      raw.Config.Entrypoint = ['/bin/sh', '-c']
      raw.Config.Cmd = ['node server.js']
    })
    expect(refusal(raw)).toMatch(
      /its entrypoint \["\/bin\/sh","-c"\] has several words, which --entrypoint cannot give/
    )
  })

  it('an exec-form (CMD) health check that differs from the image’s', () => {
    const raw = changed(plainInspect(), raw => {
      raw.Config.Healthcheck = { Test: ['CMD', 'curl', '-f', 'localhost'], Interval: 5000000000 }
    })
    expect(refusal(raw)).toMatch(
      /its health check is in the exec form \(CMD\), which --health-cmd cannot give/
    )
  })

  it('an anonymous volume (-v /var/lib/app, or the image’s VOLUME)', () => {
    const raw = changed(plainInspect(), raw => {
      raw.Config.Volumes = { '/var/lib/app': {} }
      raw.Mounts = [
        {
          Type: 'volume',
          Name: 'c0ffee'.padEnd(64, '1'),
          Source: `/var/lib/docker/volumes/${'c0ffee'.padEnd(64, '1')}/_data`,
          Destination: '/var/lib/app',
          Driver: 'local',
          Mode: '',
          RW: true,
          Propagation: ''
        }
      ]
    })
    expect(refusal(raw)).toMatch(
      /its anonymous volume at \/var\/lib\/app would be a new, empty one .*-v name:\/var\/lib\/app/
    )
  })

  it('an environment value with a newline', () => {
    const raw = changed(plainInspect(), raw => {
      raw.Config.Env = ['TLS_KEY=-----BEGIN KEY-----\nabc\n-----END KEY-----', PATH_ENV]
    })
    expect(refusal(raw)).toMatch(/the environment variable TLS_KEY has a line break in its value/)
  })

  it('a container whose docker inspect was not read', () => {
    const info = { ...container(plainInspect()), inspect: undefined }
    expect(() => recreate(info, 'texasca/api', image)).toThrow(
      /its configuration was not read \(no docker inspect\)/
    )
  })
})

describe('who brings production back', () => {
  const withPolicy = (name: string, autoRemove = false) =>
    container(
      changed(plainInspect(), raw => {
        raw.HostConfig.RestartPolicy = { Name: name, MaximumRetryCount: 0 }
        raw.HostConfig.AutoRemove = autoRemove
      })
    )

  it.each(['no', ''])('a supervisor, for restart policy %j', policy => {
    const decided = detectRespawn(withPolicy(policy))
    expect(decided.respawn).toBe('supervisor')
    expect(decided.why).toBe(
      'it has no restart policy: a supervisor outside Docker respawns it from the image tag'
    )
  })

  it('a supervisor, for a --rm container, saying so', () => {
    expect(detectRespawn(withPolicy('no', true))).toEqual({
      respawn: 'supervisor',
      why: 'it has no restart policy and is run with --rm: a supervisor outside Docker respawns it from the image tag'
    })
  })

  it('a supervisor when docker inspect has no restart policy at all', () => {
    const info = container(
      changed(plainInspect(), raw => {
        delete raw.HostConfig.RestartPolicy
      })
    )
    expect(info.restartPolicy).toBe('')
    expect(detectRespawn(info).respawn).toBe('supervisor')
  })

  it.each(['unless-stopped', 'always', 'on-failure'])(
    'the action, for restart policy %s',
    policy => {
      const decided = detectRespawn(withPolicy(policy))
      expect(decided.respawn).toBe('restart-policy')
      expect(decided.why).toBe(
        `its restart policy is ${policy}, which does not restart a container that is stopped: the action starts the release itself`
      )
    }
  )

  it('keeps production, stopped, under a name of its own', () => {
    expect(keptName('api')).toBe('api-hermes-previous')
  })
})

describe('recreationFor', () => {
  const release = { name: 'texasca/api:latest', repository: 'texasca/api' }
  const decide = (respawn: Parameters<typeof recreationFor>[0], raw: Json) => {
    const log: string[] = []
    const recreation = recreationFor(respawn, container(raw), release, image, line =>
      log.push(line)
    )
    return { recreation, log }
  }
  const policed = (named = 'texasca/api:latest') =>
    changed(productionInspect(), raw => {
      raw.Config.Image = named
    })
  const supervised = () =>
    changed(plainInspect(), raw => {
      raw.HostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 }
    })

  it('leaves a supervised container to its supervisor, and says so', () => {
    for (const respawn of ['auto', undefined] as const) {
      const { recreation, log } = decide(respawn, supervised())
      expect(recreation).toBeUndefined()
      expect(log).toEqual([
        'api comes back by its supervisor: it has no restart policy: a supervisor outside Docker respawns it from the image tag'
      ])
    }
  })

  it('takes `respawn: supervisor` at its word, whatever the restart policy', () => {
    const { recreation, log } = decide('supervisor', policed())
    expect(recreation).toBeUndefined()
    expect(log).toEqual(['api comes back by its supervisor: as `respawn` says'])
  })

  it('recreates a restart-policy container, saying why', () => {
    const { recreation, log } = decide('auto', policed())
    expect(recreation).toEqual(recreate(container(policed()), 'texasca/api:latest', image))
    expect(log).toEqual([
      'api comes back by its restart policy: its restart policy is on-failure, which does not restart a container that is stopped: the action starts the release itself'
    ])
  })

  it('takes `respawn: restart-policy` at its word, even for a container with none', () => {
    const { recreation, log } = decide('restart-policy', supervised())
    expect(recreation?.command.at(-1)).toBe('texasca/api')
    expect(log).toEqual(['api comes back by its restart policy: as `respawn` says'])
  })

  it.each([
    ['the tag', 'texasca/api:latest', 'texasca/api:latest'],
    ['the repository', 'texasca/api', 'texasca/api'],
    ['another tag', 'texasca/api:v1.4.2', 'texasca/api:latest'],
    ['an image ID', IMAGE_ID, 'texasca/api:latest']
  ])('runs the release as production names its image: %s', (_how, named, expected) => {
    const { recreation } = decide('restart-policy', policed(named))
    expect(recreation && read(recreation).image).toBe(expected)
    expect(recreation && read(recreation).command).toEqual(['serve', '--port', '8085'])
  })
})

describe('settings Docker 20.10 records that are easy to miss', () => {
  // Once missed: `--network container:<sidecar>`. At start Docker copies the joined container's hostname
  // into Config.Hostname (daemon initializeNetworking), which is not this container's ID, so the
  // argv gives `--hostname <sidecar's>`; docker run then refuses: "conflicting options: hostname
  // and the network mode" (runconfig validateNetContainerMode), with production already stopped.
  it('gives no --hostname to a container on another container’s network', () => {
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.NetworkMode = `container:${SIDECAR_ID}`
      raw.HostConfig.Dns = []
      raw.Config.Hostname = SIDECAR_ID.slice(0, 12)
      raw.NetworkSettings.Networks = {}
    })
    givenBackOrRefused(
      raw,
      r => {
        expect(values(r, '--network')).toEqual([`container:${SIDECAR_ID}`])
        expect(values(r, '--hostname')).toEqual([])
      },
      /network|hostname/
    )
  })

  // Once missed: `--mount type=volume,target=/var/lib/app` makes an anonymous volume too, but the check
  // counts any HostConfig.Mounts entry at that target as "given": the argv gives
  // `--mount type=volume,target=/var/lib/app`, a new, empty volume.
  it('refuses an anonymous volume made with --mount, or reuses it by name', () => {
    const anonymous = 'd15ea5e'.padEnd(64, '2')
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.Mounts = [{ Type: 'volume', Target: '/var/lib/app' }]
      raw.Mounts = [
        {
          Type: 'volume',
          Name: anonymous,
          Source: `/var/lib/docker/volumes/${anonymous}/_data`,
          Destination: '/var/lib/app',
          Driver: 'local',
          Mode: 'z',
          RW: true,
          Propagation: ''
        }
      ]
    })
    givenBackOrRefused(
      raw,
      r => expect(values(r, '--mount')).toEqual([expect.stringContaining(`source=${anonymous}`)]),
      /anonymous volume at \/var\/lib\/app/
    )
  })

  // Once missed: `--security-opt seccomp=profile.json`. The CLI reads the file and sends its JSON, which
  // Docker records as `seccomp={...}`; given back as is, docker run tries to open a file named
  // `{...}` ("opening seccomp profile ... failed").
  it('gives a custom seccomp profile in a form docker run reads, or refuses it', () => {
    const profile =
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}'
    const raw = changed(plainInspect(), raw => {
      raw.HostConfig.SecurityOpt = [`seccomp=${profile}`]
    })
    givenBackOrRefused(
      raw,
      r =>
        expect(
          (values(r, '--security-opt') as string[]).filter(v => v.startsWith('seccomp={'))
        ).toEqual([]),
      /seccomp/
    )
  })

  // Once missed: docker run reads --env-file with a bufio.Scanner: a value ending in CR loses it (the
  // scanner drops a CR before the newline), and a line over 64 KiB fails the run ("token too
  // long"). Only a newline is refused today.
  it.each([
    ['ending in a carriage return', 'TOKEN=abc\r'],
    ['over 64 KiB', `BLOB=${'x'.repeat(70_000)}`]
  ])('gives an env value %s exactly, or refuses it', (_what, entry) => {
    const raw = changed(plainInspect(), raw => {
      raw.Config.Env = [entry, PATH_ENV]
    })
    givenBackOrRefused(raw, r => expect(envOf(r)).toEqual([entry]), /environment variable/)
  })

  // Once missed: each is recorded by Docker 20.10 and has a docker run flag, but recreate() neither gives
  // it back nor refuses it: the recreated container silently differs from production.
  it.each([
    [
      '-P (HostConfig.PublishAllPorts)',
      (raw: Json) => {
        raw.HostConfig.PublishAllPorts = true
      },
      (r: Run) => expect(values(r, '--publish-all')).toEqual([true]),
      /publish/
    ],
    [
      '--network-alias (NetworkSettings.Networks.<net>.Aliases)',
      (raw: Json) => {
        raw.HostConfig.NetworkMode = 'backend'
        raw.NetworkSettings.Networks = {
          backend: endpoint('backend', '172.20.0.10', { Aliases: ['api', ID.slice(0, 12)] })
        }
      },
      (r: Run) => expect(values(r, '--network-alias')).toContain('api'),
      /alias/
    ],
    [
      '--ip (NetworkSettings.Networks.<net>.IPAMConfig)',
      (raw: Json) => {
        raw.HostConfig.NetworkMode = 'backend'
        raw.NetworkSettings.Networks = {
          backend: endpoint('backend', '172.20.0.10', {
            IPAMConfig: { IPv4Address: '172.20.0.10' }
          })
        }
      },
      (r: Run) => expect(values(r, '--ip')).toEqual(['172.20.0.10']),
      /IP|address/i
    ],
    [
      '--mac-address (Config.MacAddress)',
      (raw: Json) => {
        raw.Config.MacAddress = '02:42:ac:11:00:99'
      },
      (r: Run) => expect(values(r, '--mac-address')).toEqual(['02:42:ac:11:00:99']),
      /mac/i
    ],
    [
      '--gpus all (HostConfig.DeviceRequests)',
      (raw: Json) => {
        raw.HostConfig.DeviceRequests = [
          { Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']], Options: {} }
        ]
      },
      (r: Run) => expect(values(r, '--gpus')).toEqual(['all']),
      /gpu|device request/i
    ],
    [
      '--device-cgroup-rule (HostConfig.DeviceCgroupRules)',
      (raw: Json) => {
        raw.HostConfig.DeviceCgroupRules = ['c 10:229 rwm']
      },
      (r: Run) => expect(values(r, '--device-cgroup-rule')).toEqual(['c 10:229 rwm']),
      /cgroup rule/
    ],
    [
      '--cpuset-mems (HostConfig.CpusetMems)',
      (raw: Json) => {
        raw.HostConfig.CpusetMems = '0'
      },
      (r: Run) => expect(values(r, '--cpuset-mems')).toEqual(['0']),
      /cpuset-mems|CpusetMems/
    ],
    [
      '--memory-swappiness (HostConfig.MemorySwappiness, cgroup v1)',
      (raw: Json) => {
        raw.HostConfig.MemorySwappiness = 10
      },
      (r: Run) => expect(values(r, '--memory-swappiness')).toEqual(['10']),
      /swappiness/
    ],
    [
      '--security-opt systempaths=unconfined (HostConfig.MaskedPaths/ReadonlyPaths [])',
      (raw: Json) => {
        raw.HostConfig.MaskedPaths = []
        raw.HostConfig.ReadonlyPaths = []
      },
      (r: Run) => expect(values(r, '--security-opt')).toEqual(['systempaths=unconfined']),
      /paths/
    ],
    [
      '--mount tmpfs-mode=1770 (HostConfig.Mounts[].TmpfsOptions.Mode, 0o1770)',
      (raw: Json) => {
        raw.HostConfig.Mounts = [
          { Type: 'tmpfs', Target: '/cache', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 } }
        ]
        raw.Mounts = [
          {
            Type: 'tmpfs',
            Source: '',
            Destination: '/cache',
            Mode: '',
            RW: true,
            Propagation: ''
          }
        ]
      },
      (r: Run) =>
        expect(values(r, '--mount')).toEqual([expect.stringContaining('tmpfs-mode=1770')]),
      /tmpfs/
    ]
  ])('gives back %s', (_what, change, given, named) => {
    givenBackOrRefused(changed(plainInspect(), change), given, named)
  })
})
