// ssh2's pure-JS poly1305 (an Emscripten module) reads __dirname at load, which an ES module
// bundle does not define. This module is imported first by the entry point.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const scope = globalThis as { __dirname?: string }
scope.__dirname ??= dirname(fileURLToPath(import.meta.url))
