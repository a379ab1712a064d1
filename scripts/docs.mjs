// Writes the README's Inputs and Outputs tables from action.yml, between their markers, so the
// two never drift (`npm run docs`). With --check it writes nothing and fails when the README's
// tables are not what action.yml makes (the unit tests run it).
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as prettier from 'prettier'
import { parse } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The README with its tables made from `actionYml`'s text. */
export async function renderReadme(readme, actionYml) {
  const action = parse(actionYml)
  const cell = text => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const inputs = [
    '| input | default | description |',
    '| --- | --- | --- |',
    ...Object.entries(action.inputs).map(([name, input]) => {
      const fallback = input.required ? 'required' : input.default ? `\`${input.default}\`` : ''
      return `| \`${name}\` | ${cell(fallback)} | ${cell(input.description ?? '')} |`
    })
  ]
  const outputs = [
    '| output | description |',
    '| --- | --- |',
    ...Object.entries(action.outputs).map(
      ([name, output]) => `| \`${name}\` | ${cell(output.description ?? '')} |`
    )
  ]
  let text = readme
  for (const [section, table] of [
    ['inputs', inputs],
    ['outputs', outputs]
  ]) {
    const start = `<!-- ${section}: made by \`npm run docs\` from action.yml -->`
    const end = `<!-- end of ${section} -->`
    const from = text.indexOf(start)
    const to = text.indexOf(end)
    if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} markers`)
    text = `${text.slice(0, from + start.length)}\n\n${table.join('\n')}\n\n${text.slice(to)}`
  }
  const options = await prettier.resolveConfig(join(root, 'README.md'))
  return prettier.format(text, { ...options, parser: 'markdown' })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = join(root, 'README.md')
  const readme = readFileSync(path, 'utf8')
  const made = await renderReadme(readme, readFileSync(join(root, 'action.yml'), 'utf8'))
  if (process.argv.includes('--check')) {
    if (made !== readme) {
      console.error(
        "README.md's Inputs or Outputs table differs from action.yml: run `npm run docs`."
      )
      process.exit(1)
    }
  } else if (made !== readme) writeFileSync(path, made)
}
