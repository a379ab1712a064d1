import type { ContainerInfo } from './docker.js'

/** Image and container IDs as docker shows them. */
export function short(id: string | undefined): string {
  if (!id) return ''
  return id.replace(/^sha256:/, '').slice(0, 12)
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** Containers as `docker ps` lists them, for error messages. */
export function psTable(containers: ContainerInfo[]): string {
  if (containers.length === 0) return '  (no containers are running)'
  const rows = [
    ['CONTAINER ID', 'IMAGE', 'STATUS', 'NAMES'],
    ...containers.map(c => [short(c.id), c.imageName, c.status, c.name])
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows
    .map(
      r =>
        '  ' +
        r
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('   ')
          .trimEnd()
    )
    .join('\n')
}
