// Compiled add-ons are built for one machine, and ssh2 falls back to pure JS without them;
// pagent.exe serves only Windows' Pageant. The committed bundle carries neither.
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = process.argv[2] ?? 'dist'

function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) prune(path)
    else if (entry.name.endsWith('.node') || entry.name.endsWith('.exe')) rmSync(path)
  }
  if (dir !== root && readdirSync(dir).length === 0) rmSync(dir, { recursive: true })
}

prune(root)
