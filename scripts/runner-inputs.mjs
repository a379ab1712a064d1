// The inputs a GitHub runner hands a JavaScript action: every input action.yml declares, as
// INPUT_<NAME>, with its declared default when the workflow sets none (an expression default
// evaluated). Read from action.yml itself, so the tests and the demo never drift from a runner.
//
// As a command (the demo): `node scripts/runner-inputs.mjs '<with: as JSON>' TOKEN` prints the
// INPUT_* assignments NUL-separated, for `env`.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

export const ACTION_YML = join(dirname(fileURLToPath(import.meta.url)), '..', 'action.yml')

export function declaredInputs() {
  return parse(readFileSync(ACTION_YML, 'utf8')).inputs
}

/** A declared default as the runner passes it: a string, with `${{ expr }}` evaluated. */
export function evaluateDefault(value, expressions) {
  if (value === undefined || value === null) return ''
  return String(value).replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, name) => {
    if (!(name in expressions))
      throw new Error(`action.yml uses \${{ ${name} }}, which this runner stand-in cannot evaluate`)
    return expressions[name]
  })
}

/** The runner's name for an input's variable (as @actions/core reads it). */
export function inputVariable(name) {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/**
 * The INPUT_* environment of a step whose `with:` is `given`: every declared input, the
 * workflow's value or else the default. An input action.yml does not declare is refused.
 */
export function runnerInputs(given, expressions) {
  const declared = declaredInputs()
  for (const name of Object.keys(given)) {
    if (!(name in declared)) throw new Error(`input \`${name}\` is not declared in action.yml`)
  }
  const env = {}
  for (const [name, input] of Object.entries(declared)) {
    env[inputVariable(name)] =
      name in given ? given[name] : evaluateDefault(input.default, expressions)
  }
  return env
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [given = '{}', token = ''] = process.argv.slice(2)
  const env = runnerInputs(JSON.parse(given), { 'github.token': token })
  process.stdout.write(
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join('')
  )
}
