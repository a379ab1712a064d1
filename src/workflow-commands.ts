import { randomUUID } from 'node:crypto'
import { appendFileSync, existsSync } from 'node:fs'
import { access, appendFile, constants } from 'node:fs/promises'
import { EOL } from 'node:os'

/*
 * The runner's protocol, for what the action uses of it: inputs and saved state from the
 * environment, workflow commands on stdout (`::warning title=…::…`), outputs and state appended to
 * the files the runner reads (GITHUB_OUTPUT, GITHUB_STATE), the job summary (GITHUB_STEP_SUMMARY).
 * Written as @actions/core 3 writes them (__tests__/workflow-commands.test.ts holds the two side
 * by side), without importing it: its index also loads an HTTP client (undici) for OIDC tokens,
 * which this action never asks for, and that alone took about a fifth of the action's start-up,
 * paid by every run before its first byte to the host.
 */

/** An input's value: `INPUT_<NAME>`, spaces as `_`, trimmed unless asked not to; '' when unset. */
export function getInput(name: string, options: { trimWhitespace?: boolean } = {}): string {
  const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? ''
  return options.trimWhitespace === false ? value : value.trim()
}

/** What the main step saved with `saveState`, as the post step reads it ('' when unset). */
export function getState(name: string): string {
  return process.env[`STATE_${name}`] ?? ''
}

// Without the file (an old runner), the deprecated command on stdout, as @actions/core writes it.

export function saveState(name: string, value: string): void {
  if (!fileCommand('GITHUB_STATE', name, value)) issue('save-state', value, { name })
}

export function setOutput(name: string, value: string): void {
  if (fileCommand('GITHUB_OUTPUT', name, value)) return
  process.stdout.write(EOL)
  issue('set-output', value, { name })
}

export function info(message: string): void {
  process.stdout.write(message + EOL)
}

export function debug(message: string): void {
  issue('debug', message)
}

export function warning(message: string, title?: string): void {
  issue('warning', message, title === undefined ? {} : { title })
}

export function error(message: string, title?: string): void {
  issue('error', message, title === undefined ? {} : { title })
}

/** Mask a value in the log from now on. */
export function setSecret(value: string): void {
  issue('add-mask', value)
}

/** A collapsible group around `fn`'s output. */
export async function group<T>(title: string, fn: () => Promise<T>): Promise<T> {
  issue('group', title)
  try {
    return await fn()
  } finally {
    issue('endgroup', '')
  }
}

/** Append Markdown to the job summary; fails when GITHUB_STEP_SUMMARY is unset or unwritable. */
export async function appendSummary(markdown: string): Promise<void> {
  const path = process.env.GITHUB_STEP_SUMMARY
  if (!path) {
    throw new Error(
      'Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.'
    )
  }
  try {
    await access(path, constants.R_OK | constants.W_OK)
  } catch {
    throw new Error(
      `Unable to access summary file: '${path}'. Check if the file has correct read/write permissions.`
    )
  }
  await appendFile(path, markdown + EOL, { encoding: 'utf8' })
}

/** `::command key=value,…::message`, each part escaped so that no text can end it early. */
export function issue(
  command: string,
  message: string,
  properties: Record<string, string> = {}
): void {
  const entries = Object.entries(properties)
  const props = entries
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${escapeProperty(value)}`)
    .join(',')
  process.stdout.write(
    `::${command}${entries.length ? ` ${props}` : ''}::${escapeData(message)}${EOL}`
  )
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

/**
 * `name<<delimiter` / value / `delimiter` appended to the runner's file `file` names, with a
 * delimiter no value can contain, so that no value can end its own entry and write another.
 * Returns false when `file` is unset.
 */
function fileCommand(file: string, name: string, value: string): boolean {
  const path = process.env[file]
  if (!path) return false
  if (!existsSync(path)) throw new Error(`Missing file at path: ${path}`)
  const delimiter = `ghadelimiter_${randomUUID()}`
  if (name.includes(delimiter) || value.includes(delimiter)) {
    throw new Error(`Unexpected input: the value contains the delimiter ${delimiter}`)
  }
  appendFileSync(path, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8')
  return true
}
