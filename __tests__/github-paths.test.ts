import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { decidePaths, filterPaths, parsePatterns } from '../src/github/paths.js'
import { InputError } from '../src/action-io.js'

const matches = (pattern: string | string[], file: string) =>
  filterPaths(Array.isArray(pattern) ? pattern : [pattern], [file]).length === 1

describe('path patterns, as GitHub matches on.push.paths', () => {
  // The examples of GitHub's "Filter pattern cheat sheet" for paths.
  it.each([
    ['*', 'README.md'],
    ['*', 'server.rb'],
    ['*.jsx?', 'page.js'],
    ['*.jsx?', 'page.jsx'],
    ['**', 'all/the/files.md'],
    ['*.js', 'app.js'],
    ['*.js', 'index.js'],
    ['**.js', 'index.js'],
    ['**.js', 'js/index.js'],
    ['**.js', 'src/js/app.js'],
    ['docs/*', 'docs/README.md'],
    ['docs/*', 'docs/file.txt'],
    ['docs/**', 'docs/README.md'],
    ['docs/**', 'docs/mona/octocat.txt'],
    ['docs/**/*.md', 'docs/README.md'],
    ['docs/**/*.md', 'docs/mona/hello-world.md'],
    ['docs/**/*.md', 'docs/a/markdown/file.md'],
    ['**/docs/**', 'docs/hello.md'],
    ['**/docs/**', 'dir/docs/my-file.txt'],
    ['**/docs/**', 'space/docs/plan/space.doc'],
    ['**/README.md', 'README.md'],
    ['**/README.md', 'js/README.md'],
    ['**/*src/**', 'a/src/app.js'],
    ['**/*src/**', 'my-src/code/js/app.js'],
    ['**/*-post.md', 'my-post.md'],
    ['**/*-post.md', 'path/their-post.md'],
    ['**/migrate-*.sql', 'migrate-10909.sql'],
    ['**/migrate-*.sql', 'db/migrate-v1.0.sql'],
    ['**/migrate-*.sql', 'db/sept/migrate-v1.sql']
  ])('%s matches %s', (pattern, file) => {
    expect(matches(pattern, file)).toBe(true)
  })

  it.each([
    ['*', 'docs/README.md'],
    ['*.js', 'src/app.js'],
    ['*.jsx?', 'page.jsxx'],
    ['docs/*', 'docs/mona/octocat.txt'],
    ['docs/**', 'doc/README.md'],
    ['docs/**', 'docs'],
    ['**/README.md', 'README.markdown'],
    ['src/**', 'SRC/app.js'],
    ['.yml', 'fyml']
  ])('%s does not match %s', (pattern, file) => {
    expect(matches(pattern, file)).toBe(false)
  })

  it('lets a later ! pattern exclude and a later positive pattern include again', () => {
    const patterns = ['*.md', '!README.md', 'README*']
    expect(filterPaths(patterns, ['hello.md', 'README.md', 'README.doc', 'docs/hello.md'])).toEqual(
      ['hello.md', 'README.md', 'README.doc']
    )
    expect(filterPaths(['*.md', '!README.md'], ['hello.md', 'README.md'])).toEqual(['hello.md'])
  })

  it('selects the dashboard and not the store', () => {
    const patterns = ['texasca-dashboard/**', 'shared/**', '!**/*.md']
    const files = [
      'texasca-store/src/cart.js',
      'texasca-dashboard/src/chart.js',
      'shared/ui/button.js',
      'texasca-dashboard/README.md'
    ]
    expect(filterPaths(patterns, files)).toEqual([
      'texasca-dashboard/src/chart.js',
      'shared/ui/button.js'
    ])
  })

  it('matches dotfiles with * and **', () => {
    expect(matches('*', '.gitignore')).toBe(true)
    expect(matches('**', '.github/workflows/deploy.yml')).toBe(true)
    expect(matches('src/*', 'src/.env')).toBe(true)
  })

  it('reads ? and + as repeats of the character before them', () => {
    expect(matches('v[12].[0-9]+.[0-9]+', 'v1.10.1')).toBe(true)
    expect(matches('v[12].[0-9]+.[0-9]+', 'v2.0.0')).toBe(true)
    expect(matches('v[12].[0-9]+.[0-9]+', 'v3.0.0')).toBe(false)
    expect(matches('colou?r.css', 'color.css')).toBe(true)
    expect(matches('colou?r.css', 'colour.css')).toBe(true)
  })

  it('takes braces, parentheses and escaped specials literally', () => {
    expect(matches('\\!file', '!file')).toBe(true)
    expect(matches('a\\*b', 'a*b')).toBe(true)
    expect(matches('a\\*b', 'axb')).toBe(false)
    expect(matches('{a,b}.js', '{a,b}.js')).toBe(true)
    expect(matches('{a,b}.js', 'a.js')).toBe(false)
    expect(matches('lib/(old)/x.js', 'lib/(old)/x.js')).toBe(true)
    expect(matches('what\\?.txt', 'what?.txt')).toBe(true)
  })

  it("agrees with GitHub's reading of a pattern as a regular expression", () => {
    // GitHub's documented rules written as a regex: `**/` is `(.+/)?`, `**` is `.*`, `*` is
    // `[^/]*`, `?` and `+` repeat the atom before them. Checked against random patterns and paths.
    const toRegex = (pattern: string): RegExp => {
      let re = ''
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]
        if (pattern.startsWith('**/', i)) {
          re += '(.+/)?'
          i += 2
        } else if (pattern.startsWith('**', i)) {
          re += '.*'
          i += 1
        } else if (c === '*') re += '[^/]*'
        else if (c === '?' || c === '+') re += c
        else if (c === '[') {
          const end = pattern.indexOf(']', i)
          re += pattern.slice(i, end + 1)
          i = end
        } else re += c.replace(/[.\\]/g, m => `\\${m}`)
      }
      return new RegExp(`^${re}$`)
    }
    const atom = fc.constantFrom('a', 'b', '.', '[ab]')
    const piece = fc.oneof(
      atom,
      atom.map(a => `${a}?`),
      atom.map(a => `${a}+`),
      fc.constant('*'),
      fc.constant('**'),
      fc.constant('/')
    )
    const pattern = fc
      .array(piece, { minLength: 1, maxLength: 6 })
      .map(pieces => pieces.join(''))
      // Paths have no empty segment, and GitHub's `a**/b` (a glued `**/`) is left out: it reads
      // as `a(.+/)?b`, which matches `ab` and `a/x/b` but not `a/b`.
      .filter(p => !/^\.?\//.test(p) && !p.includes('//') && !/[^/]\*\*\//.test(p))
      .filter(p => !/\*\*\*/.test(p))
      // A segment that can only match empty text (`a?*`) matches no path under GitHub's rules
      // (no path has an empty segment), while picomatch may fold it into a neighbouring `**`.
      .filter(p =>
        p.split('/').every(s => s === '*' || s === '**' || s.replace(/(\[ab\]|[ab.])\?|\*/g, ''))
      )
    const path = fc
      .array(fc.stringMatching(/^[ab.]{1,3}$/), { minLength: 1, maxLength: 3 })
      // A name ending in a dot is left out: picomatch's `*.*` does not match `a.` (a star after
      // a dot matches at least one character), which GitHub's `[^/]*\.[^/]*` does.
      .filter(segments => segments.every(s => !s.endsWith('.')))
      .map(segments => segments.join('/'))
    fc.assert(
      fc.property(pattern, path, (p, file) => {
        expect([p, file, matches(p, file)]).toEqual([p, file, toRegex(p).test(file)])
      }),
      { numRuns: 3000 }
    )
  })

  it('selects every file when there are no patterns', () => {
    expect(filterPaths([], ['a', 'b/c'])).toEqual(['a', 'b/c'])
  })
})

describe('the paths input', () => {
  it('takes one pattern a line, without comments and blank lines', () => {
    const input = `
      # the API and what it shares
      api/**

      shared/**
      !**/*.md   
    `
    expect(parsePatterns(input)).toEqual(['api/**', 'shared/**', '!**/*.md'])
    expect(parsePatterns('')).toEqual([])
  })

  it.each([
    ['[a-', /has no closing \]/],
    ['src/[]/x', /is empty/],
    ['[z-a].js', /runs backwards/],
    ['!', /a pattern must follow !/],
    ['?.js', /repeats the character before it/],
    ['src/*+', /repeats the character before it.* but a wildcard/],
    ['/src/**', /without a leading \/ or \.\/ \(write 'src\/\*\*'\)/],
    ['./src/**', /without a leading \/ or \.\//]
  ])('rejects %s, naming the input', (pattern, why) => {
    const parse = () => parsePatterns(`api/**\n${pattern}`)
    expect(parse).toThrow(InputError)
    expect(parse).toThrow(/^Input `paths`: /)
    expect(parse).toThrow(why)
  })

  it('rejects a list that only excludes, since nothing would ever deploy', () => {
    expect(() => parsePatterns('!docs/**\n!*.md')).toThrow(
      /Input `paths`: every pattern excludes .* Put a pattern that includes first, e.g. '\*\*'/
    )
  })
})

describe('whether a change deploys under paths', () => {
  const patterns = ['api/**']

  it('deploys when a changed file matches', () => {
    expect(decidePaths(patterns, { files: ['api/a.js', 'README.md'], truncated: false })).toEqual({
      deploy: true,
      matched: ['api/a.js']
    })
  })

  it('skips when no changed file matches, and says which files changed', () => {
    const decision = decidePaths(patterns, {
      files: ['client/app.js', 'README.md'],
      truncated: false
    })
    expect(decision).toEqual({
      deploy: false,
      reason:
        'No changed file matches `paths` (api/**); nothing to deploy. Changed: client/app.js, README.md.'
    })
  })

  it('deploys when the list of changed files is incomplete', () => {
    const decision = decidePaths(patterns, { files: ['client/app.js'], truncated: true })
    expect(decision).toMatchObject({ deploy: true, reason: expect.stringMatching(/incomplete/) })
  })

  it('deploys when the changed files are unknown', () => {
    expect(decidePaths(patterns, undefined)).toMatchObject({ deploy: true })
  })

  it('deploys everything without patterns', () => {
    expect(decidePaths([], { files: ['x'], truncated: false })).toEqual({
      deploy: true,
      matched: ['x']
    })
  })
})
