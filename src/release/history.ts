import { shScript, type Command } from '../shell.js'

/** One line per deploy, rollback and failed attempt, in ~/.hermes-deploy/history on the host. */
export interface HistoryEntry {
  time: string
  action: 'deploy' | 'rollback'
  result: 'deployed' | 'rolled-back' | 'failed'
  by?: string
  run?: string
  fromCommit?: string
  toCommit?: string
  fromImage?: string
  toImage?: string
  durationSec: number
  reason?: string
}

const APPEND = `
dir="$HOME/.hermes-deploy/history"
mkdir -p "$dir" || exit 1
file="$dir/$1.jsonl"
printf '%s\\n' "$2" >>"$file"
tail -n "$3" "$file"
`

/** Append an entry and print the last `show` entries. */
export function appendHistory(name: string, entry: HistoryEntry, show: number): Command {
  return shScript(APPEND, name, JSON.stringify(entry), String(show))
}

export function parseHistory(output: string): HistoryEntry[] {
  return output
    .split('\n')
    .filter(line => line.startsWith('{'))
    .flatMap(line => {
      try {
        return [JSON.parse(line) as HistoryEntry]
      } catch {
        return []
      }
    })
}
