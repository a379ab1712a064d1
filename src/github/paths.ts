import picomatch from 'picomatch'
import { Input, InputError } from '../action-io.js'

// The `paths` input reads like a workflow's `on.push.paths`, with GitHub's rules:
// - patterns apply in order; a file is deployed when the last pattern that matches it is a
//   positive one (`!pattern` excludes, a later positive pattern includes again);
// - `*` matches within one directory, `**` across directories (`docs/**`, `**/README.md`, and
//   also glued, `**.js` = every .js file); `*` and `**` match dotfiles too;
// - `?` and `+` are quantifiers of the character (or `[class]`) before them, as in a regular
//   expression: `*.jsx?` matches page.js and page.jsx; `[0-9]+` one or more digits;
// - `\` escapes one of `[ ] ? * + \ !`; every other character is literal, braces and parentheses
//   included.
// Matching is picomatch's: each GitHub pattern is translated into one or two picomatch globs
// (GitHub's quantifiers become extglobs, `?(x)` and `+(x)`). picomatch over minimatch: it has no
// dependencies, compiles a glob once into a matcher, and is what fast-glob, micromatch and
// dorny/paths-filter (the action most workflows use for this very job) match with.
// A property test checks the translation against GitHub's rules written as a regular expression.
// They differ only on oddities: a `**/` glued to characters before it (GitHub reads `a**/b` as
// `a(.+/)?b`, matching `ab` and not `a/b`; here it is `a*/b` or deeper), `*.*` on a name ending
// in a dot, and a segment that can only match empty text (`x/a?`).

type Token =
  | { kind: 'literal'; text: string }
  | { kind: 'class'; text: string }
  | { kind: 'star' }
  | { kind: 'globstar' }
  | { kind: 'quantifier'; text: '?' | '+' }

const ESCAPABLE = new Set(['[', '?', '*', '+', '\\', '!', ']'])

/** One line a pattern, `#` comments and blank lines ignored; an invalid pattern names `paths`. */
export function parsePatterns(input: string): string[] {
  const patterns = input
    .split(/\r?\n/)
    .map(line => line.trim())
    .filter(line => line && !line.startsWith('#'))
  for (const pattern of patterns) compile(pattern)
  if (patterns.length > 0 && patterns.every(p => p.startsWith('!'))) {
    throw new InputError(
      Input.Paths,
      `every pattern excludes (${patterns.join(', ')}), so no change would ever deploy. ` +
        "Put a pattern that includes first, e.g. '**' to deploy on any change except those."
    )
  }
  return patterns
}

/**
 * The files the patterns select, in the order given. No patterns select every file (no filter).
 */
export function filterPaths(patterns: string[], files: string[]): string[] {
  if (patterns.length === 0) return [...files]
  const compiled = patterns.map(compile)
  return files.filter(file => {
    let included = false
    for (const pattern of compiled) {
      if (pattern.matches(file)) included = !pattern.negative
    }
    return included
  })
}

type PathsDecision =
  { deploy: true; matched: string[]; reason?: string } | { deploy: false; reason: string }

/**
 * Whether a change deploys under `paths`. Only a complete list of changed files can skip a
 * deploy: a truncated or unknown list deploys (with the reason said).
 */
export function decidePaths(
  patterns: string[],
  changed: { files: string[]; truncated: boolean } | undefined
): PathsDecision {
  if (patterns.length === 0) return { deploy: true, matched: changed?.files ?? [] }
  if (!changed) {
    return {
      deploy: true,
      matched: [],
      reason: 'The changed files are unknown, so `paths` cannot rule the change out: deploying.'
    }
  }
  const matched = filterPaths(patterns, changed.files)
  if (matched.length > 0) return { deploy: true, matched }
  if (changed.truncated) {
    return {
      deploy: true,
      matched,
      reason: `None of the ${changed.files.length} changed files listed matches \`paths\`, but the list is incomplete: deploying.`
    }
  }
  const listed = changed.files.slice(0, 10).join(', ')
  const more = changed.files.length > 10 ? `, and ${changed.files.length - 10} more` : ''
  return {
    deploy: false,
    reason:
      changed.files.length === 0
        ? 'No file changed, so none matches `paths`; nothing to deploy.'
        : `No changed file matches \`paths\` (${patterns.join(', ')}); nothing to deploy. Changed: ${listed}${more}.`
  }
}

interface Compiled {
  negative: boolean
  matches: (file: string) => boolean
}

const cache = new Map<string, Compiled>()

function compile(pattern: string): Compiled {
  const known = cache.get(pattern)
  if (known) return known
  const negative = pattern.startsWith('!')
  const body = negative ? pattern.slice(1) : pattern
  const globs = toPicomatch(tokenize(body, pattern))
  const matchers = globs.map(glob => picomatch(glob, { dot: true, windows: false }))
  const compiled = { negative, matches: (file: string) => matchers.some(m => m(file)) }
  cache.set(pattern, compiled)
  return compiled
}

function invalid(pattern: string, why: string): InputError {
  return new InputError(Input.Paths, `'${pattern}' is not a valid pattern: ${why}`)
}

function tokenize(body: string, pattern: string): Token[] {
  if (!body) throw invalid(pattern, 'a pattern must follow !')
  if (body.startsWith('/') || body.startsWith('./')) {
    throw invalid(
      pattern,
      `paths are relative to the repository root, without a leading / or ./ (write '${body.replace(/^\.?\/+/, '')}')`
    )
  }
  const tokens: Token[] = []
  let i = 0
  while (i < body.length) {
    const c = body[i]
    if (c === '\\' && ESCAPABLE.has(body[i + 1])) {
      tokens.push({ kind: 'literal', text: body[i + 1] })
      i += 2
    } else if (c === '*') {
      if (body[i + 1] === '*') {
        tokens.push({ kind: 'globstar' })
        i += 2
      } else {
        tokens.push({ kind: 'star' })
        i += 1
      }
    } else if (c === '?' || c === '+') {
      const previous = tokens.at(-1)
      if (!previous || (previous.kind !== 'literal' && previous.kind !== 'class')) {
        throw invalid(
          pattern,
          `'${c}' at ${i + 1} repeats the character before it (zero or one for ?, one or more for +), and there is none` +
            (previous ? ' but a wildcard' : '') +
            `. For a literal '${c}', write '\\${c}'.`
        )
      }
      tokens.push({ kind: 'quantifier', text: c })
      i += 1
    } else if (c === '[') {
      const end = body.indexOf(']', i + 1)
      if (end < 0) throw invalid(pattern, `the [ at ${i + 1} has no closing ]`)
      const content = body.slice(i + 1, end)
      if (!content) throw invalid(pattern, `the [] at ${i + 1} is empty`)
      tokens.push({ kind: 'class', text: bracket(content, pattern) })
      i = end + 1
    } else {
      tokens.push({ kind: 'literal', text: c })
      i += 1
    }
  }
  return tokens
}

/** A character class for picomatch: ranges kept, everything else literal. */
function bracket(content: string, pattern: string): string {
  let out = ''
  for (let i = 0; i < content.length; i++) {
    const c = content[i]
    if (content[i + 1] === '-' && i + 2 < content.length) {
      const last = content[i + 2]
      if (c > last) throw invalid(pattern, `the range ${c}-${last} runs backwards`)
      out += `${escape(c)}-${escape(last)}`
      i += 2
    } else if (c === '-' && i > 0 && i === content.length - 1) {
      throw invalid(pattern, `the range in [${content}] has no end`)
    } else {
      out += escape(c)
    }
  }
  return `[${out}]`
}

function escape(c: string): string {
  return /[A-Za-z0-9/_.-]/.test(c) ? c : `\\${c}`
}

/**
 * The picomatch globs that together match what the GitHub pattern matches. A `**` that is a whole
 * path segment is picomatch's globstar; a `**` glued to other characters (`**.js`) is GitHub's
 * "any characters, `/` included", which is either no directory (`*.js`) or some (`*\/**\/*.js`).
 */
function toPicomatch(tokens: Token[]): string[] {
  let globs = ['']
  const atom = (t: Token): string =>
    t.kind === 'literal' ? escape(t.text) : t.kind === 'class' ? t.text : ''
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    const next = tokens[i + 1]
    let pieces: string[]
    if (t.kind === 'globstar') {
      const before = tokens[i - 1]
      const segmentStart = !before || (before.kind === 'literal' && before.text === '/')
      const segmentEnd = !next || (next.kind === 'literal' && next.text === '/')
      // A trailing `/**` needs something below: picomatch's `docs/**` also matches a file `docs`.
      if (segmentStart && segmentEnd) pieces = before && !next ? ['**/*'] : ['**']
      else pieces = ['*', '*/**/*']
    } else if (t.kind === 'star') {
      pieces = ['*']
    } else if (next?.kind === 'quantifier') {
      pieces = [`${next.text}(${atom(t)})`]
      i += 1
    } else {
      pieces = [atom(t)]
    }
    globs = globs.flatMap(glob => pieces.map(piece => glob + piece))
  }
  return globs
}
