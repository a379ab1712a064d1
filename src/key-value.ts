/** What a remote script printed as `key=value` lines. */
interface KeyValueLines {
  /** The value of the first line with this key; '' when there is none. */
  get(key: string): string
  /** The values of every line with this key, in the order printed. */
  all(key: string): string[]
}

/**
 * The `key=value` lines of a script's output. The key is what comes before a line's first `=`,
 * the value all that follows it (`=` included), trimmed; a line without `=` is skipped.
 */
export function parseKeyValues(output: string): KeyValueLines {
  const entries: [string, string][] = []
  for (const line of output.split('\n')) {
    const trimmed = line.trim()
    const at = trimmed.indexOf('=')
    if (at > 0) entries.push([trimmed.slice(0, at), trimmed.slice(at + 1).trim()])
  }
  return {
    get: key => entries.find(([k]) => k === key)?.[1] ?? '',
    all: key => entries.filter(([k]) => k === key).map(([, value]) => value)
  }
}
