/**
 * The bin's entry (after the launcher lines esbuild.config.mjs prepends): imports the bundle for this
 * run — a fast command's own one-file bundle, else the code-split CLI. Both run main.ts.
 */
import { fastCommand } from './fast.js';

const fast = fastCommand(process.argv.slice(2));
// a computed specifier: esbuild leaves it to Node, relative to dist/bin/
const bundle = fast ? `./fast/${fast}.js` : './cli.js';
await import(bundle);
