/**
 * The workflow commands a runner would obey in a step's log: lines starting with `::` (after
 * leading white space), except between `::stop-commands::<token>` and `::<token>::`.
 */
export function obeyedCommands(log: string): string[] {
  const obeyed: string[] = []
  let stoppedUntil: string | undefined
  for (const raw of log.split('\n')) {
    const line = raw.trim()
    if (stoppedUntil !== undefined) {
      if (line === stoppedUntil) stoppedUntil = undefined
      continue
    }
    if (!line.startsWith('::')) continue
    const stop = /^::stop-commands::(.+)$/.exec(line)
    if (stop) stoppedUntil = `::${stop[1]}::`
    else obeyed.push(line)
  }
  return obeyed
}
