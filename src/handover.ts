import * as docker from './docker.js'
import type { ContainerInfo, ImageConfig } from './docker.js'
import { short } from './format.js'
import { DeployError, QUICK_MS, type Host } from './host.js'
import type { HandoverSettings } from './inputs.js'
import { caddyDrain as CADDY_DRAIN, caddySwitch as CADDY_SWITCH } from './remote/scripts.js'
import type { Runner } from './runner.js'
import { chain, shScript, type Command } from './shell.js'

/*
 * The zero-downtime handover (`handover: caddy`). The supervisor still owns production and still
 * respawns it from the image tag; what changes is who answers while it does:
 *
 *   1. a stand-in of the release starts beside production on a spare port, and must answer
 *      `ready-path` — a release that cannot is never sent a request, and production is untouched;
 *   2. the proxy is pointed at the stand-in (one config load through Caddy's admin API: requests in
 *      flight to production finish, new ones go to the stand-in);
 *   3. production is replaced as on the runbook's path (graceful stop, respawn, health, rollback);
 *   4. once production answers `ready-path` again, the proxy is pointed back, the stand-in's
 *      requests in flight finish (Caddy's count reaches 0), and it is stopped gracefully.
 *
 * Why a switch through the proxy's API rather than a static upstream pool with retries: a pool
 * sends a share of requests to whichever upstream is down and relies on retries to hide it (each
 * retry is a wait, and a release that serves errors still answers), while the switch sends no
 * request to a container that has not answered its ready check. The config is only ever
 * rewritten from one upstream port to the other, so the rest of the user's Caddy config is
 * untouched, and a restart of Caddy goes back to its Caddyfile: production's port.
 */

/** A stand-in serving through the proxy while production is replaced. */
export interface ActiveHandover {
  /** The stand-in container's name. */
  standin: string
  /**
   * Once production answers `ready-path`: point the proxy back, let the stand-in's requests
   * finish, remove it. When production does not answer, the stand-in keeps serving and this throws.
   */
  end(): Promise<void>
}

/** How long the handover waits for a container to answer, and for one to stop. */
interface Waits {
  healthTimeoutSec: number
  stopTimeoutSec?: number
}

/** The stand-in's name beside production (`texasca-api-standin`). */
export function standinName(production: string): string {
  return `${production}-standin`
}

/**
 * Start a stand-in of `releaseId` beside `production`, wait for it to answer, and point the proxy
 * at it — one round trip. A stand-in left by a run that died is taken out of the proxy and
 * replaced first. On failure the proxy is back on production and the stand-in gone.
 */
export async function startHandover(
  host: Host,
  runner: Runner,
  handover: HandoverSettings,
  production: ContainerInfo,
  release: { id: string; config: ImageConfig },
  waits: Waits
): Promise<ActiveHandover> {
  const standin = standinName(production.name)
  if (
    production.networkMode !== 'host' &&
    docker.publishedOn(production, handover.appPort).length === 0
  ) {
    throw new DeployError(
      `${production.name} is on the ${production.networkMode} network and publishes no port as host port ${handover.appPort} (\`app-port\`): production is unchanged. ` +
        `Set \`app-port\` to the host port it publishes (\`docker port ${production.name}\`), or run it on the host network with its port in a variable (\`port-variable\`).`
    )
  }
  const started = Date.now()
  const start = await host.exec(
    chain(
      // A stand-in left by a run that died may still have the traffic: give it back first.
      pointProxy(handover, handover.standinPort, handover.appPort, 'if-present'),
      docker.removeIfPresent(standin),
      docker.runStandin(production, release.id, release.config, {
        name: standin,
        appPort: handover.appPort,
        port: handover.standinPort,
        variable: handover.portVariable
      }),
      docker.httpReady(url(handover, handover.standinPort), waits.healthTimeoutSec),
      pointProxy(handover, handover.appPort, handover.standinPort, 'required')
    ),
    `docker run (stand-in ${standin}); wait for it to answer; point Caddy at port ${handover.standinPort}`,
    (waits.healthTimeoutSec + 2 * PROXY_SEC) * 1000 + QUICK_MS,
    standinEnv(production, handover)
  )
  if (start.code !== 0) {
    const why = (start.stderr || start.stdout).trim()
    const logs =
      start.code === 124
        ? (
            await host.exec(['docker', 'logs', '--tail', '20', standin], 'docker logs (stand-in)')
          ).stdout.trim()
        : ''
    await host.exec(
      giveBack(handover, standin, waits),
      'point Caddy back; remove the stand-in',
      STOP_MS(waits)
    )
    throw new DeployError(
      start.code === 124
        ? `The release's stand-in did not answer ${handover.readyPath} (\`ready-path\`) on port ${handover.standinPort} within ${waits.healthTimeoutSec} s (\`health-timeout\`), so no request was sent to it and production is unchanged.\n${why}` +
            (logs ? `\nIts log:\n${logs}` : '')
        : `The handover could not start (exit ${start.code}), and production is unchanged: ${why}\n` +
            `Check that Caddy runs on the host with its admin API at ${handover.caddyAdmin} (\`caddy-admin\`), that a reverse_proxy in its config dials port ${handover.appPort} (\`app-port\`), and that port ${handover.standinPort} (\`standin-port\`) is free.`
    )
  }
  runner.info(
    `Stand-in ${standin} of ${short(release.id)} answers on port ${handover.standinPort}; Caddy sends it the traffic (${Date.now() - started} ms)`
  )
  return {
    standin,
    end: async () => {
      const ended = Date.now()
      const back = await host.exec(
        chain(
          docker.httpReady(url(handover, handover.appPort), waits.healthTimeoutSec),
          giveBack(handover, standin, waits)
        ),
        `wait for production to answer; point Caddy at port ${handover.appPort}; drain and remove the stand-in`,
        (waits.healthTimeoutSec + PROXY_SEC) * 1000 + STOP_MS(waits)
      )
      if (back.code !== 0) {
        throw new DeployError(
          `Production does not answer ${handover.readyPath} on port ${handover.appPort}, so Caddy still sends the traffic to the stand-in ${standin} (port ${handover.standinPort}). ` +
            `${(back.stderr || back.stdout).trim()}\nFix production, then re-run the deploy: it gives the traffic back and removes the stand-in.`
        )
      }
      runner.info(
        `Caddy sends the traffic to production again; ${standin} drained and removed (${Date.now() - ended} ms)`
      )
    }
  }
}

/**
 * For the post step and a stale stand-in: when production answers, point the proxy back and
 * remove the stand-in. Returns false, changing nothing, when production does not answer.
 */
export async function giveTrafficBack(
  host: Host,
  runner: Runner,
  handover: HandoverSettings,
  standin: string,
  waits: Waits
): Promise<boolean> {
  const back = await host.exec(
    chain(
      docker.httpReady(url(handover, handover.appPort), waits.healthTimeoutSec),
      giveBack(handover, standin, waits)
    ),
    'point Caddy back at production; remove the stand-in',
    (waits.healthTimeoutSec + PROXY_SEC) * 1000 + STOP_MS(waits)
  )
  if (back.code === 0) {
    runner.info(
      `Caddy sends the traffic to production on port ${handover.appPort}; removed ${standin}`
    )
    return true
  }
  runner.warning(
    `Production does not answer on port ${handover.appPort}: the stand-in ${standin} keeps the traffic. ${(back.stderr || back.stdout).trim()}`,
    'Stand-in kept'
  )
  return false
}

/** Bound on one call to Caddy's admin API (a config load waits for old requests to finish). */
const PROXY_SEC = 130
const STOP_MS = (waits: Waits) => ((waits.stopTimeoutSec ?? 300) * 2 + 30) * 1000

/** Point the proxy's upstreams on port `from` at port `to`. */
function pointProxy(
  handover: HandoverSettings,
  from: number,
  to: number,
  mode: 'required' | 'if-present'
): Command {
  return shScript(CADDY_SWITCH, handover.caddyAdmin, String(from), String(to), mode)
}

/** Proxy back to production, the stand-in's requests finish, the stand-in goes. */
function giveBack(handover: HandoverSettings, standin: string, waits: Waits): Command {
  return chain(
    pointProxy(handover, handover.standinPort, handover.appPort, 'if-present'),
    shScript(
      CADDY_DRAIN,
      handover.caddyAdmin,
      String(handover.standinPort),
      String(waits.stopTimeoutSec ?? 30)
    ),
    docker.stopGracefully(standin, waits.stopTimeoutSec)
  )
}

function url(handover: HandoverSettings, port: number): string {
  return `http://127.0.0.1:${port}${handover.readyPath}`
}

/** Production's environment, as an env-file, with the port variable left to the stand-in's own. */
function standinEnv(production: ContainerInfo, handover: HandoverSettings): string {
  const own = production.networkMode === 'host' ? `${handover.portVariable}=` : undefined
  return (
    production.env.filter(e => !e.includes('\n') && !(own && e.startsWith(own))).join('\n') + '\n'
  )
}
