/**
 * The bin's entry (CommonJS, after the launcher lines esbuild.config.mjs prepends): a fast command runs
 * from its own one-file CommonJS bundle through require — Node's ES module loader is never started —
 * and anything else from the code-split ES-module CLI. Both run main.ts.
 */
import { fastCommand } from './fast.js';

const fast = fastCommand(process.argv.slice(2));
// computed specifiers: esbuild leaves them to Node, relative to dist/bin/
const bundle = fast ? `./fast/${fast}.cjs` : './cli.js';
if (fast) require(bundle);
else void import(bundle);
