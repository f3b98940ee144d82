// Bundles the CLI from the TypeScript sources into dist/bin/ (`npm run build`; tsc writes the library to
// dist/ and never to dist/bin/). One esbuild run with code splitting:
// - dist/bin/cvm-measure.js: the entry (main.ts, the command table, commander): all that --version and
//   a command's declaration need before its file is imported;
// - dist/bin/chunks/: each command file becomes a chunk loaded only by the command table's dynamic
//   import (src/cli/program.ts), and modules that commands share (errors.ts, output.ts, the npm
//   packages) become shared chunks, so every module, CvmError included, exists once.
// Node 20 pays ~1 ms per ES module, so npm packages are bundled too: a run loads a few chunks instead
// of hundreds of package files. Running it again replaces dist/bin/ (the input is never the output).
// Then dist/site/: the repository pages' script and style (below).
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/bin';
const ENTRY = `${OUT}/cvm-measure.js`;

// The bin is a sh/JS polyglot: sh runs line 2 (`:` ignores its argument), which re-executes the file
// with node, NODE_EXTRA_CA_CERTS moved to CVM_EXTRA_CA_CERTS: Node 20 parses that certificate file
// at start-up (~45 ms), and only downloads need it. For JS, line 2 is a string and a comment.
// (Plain sh, not `env -S`, which BusyBox's env lacks.) Prepended to the entry only.
const launcher = `#!/bin/sh
':' //; CVM_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; export CVM_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
`;

// commander requires node:child_process when it loads but uses it only for executable subcommands,
// which cvm-measure has none of; loading it (dgram, net, ...) costs every start-up, --version included,
// ~10 ms on a loaded 2-core box (`require` timed in-process). Only commander gets the stand-in; execa
// and the build code import the real module.
const commanderLazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (a) =>
      /[\\/]commander[\\/]/.test(a.importer) ? { path: resolve('src/cli/lazy-child-process.cjs') } : undefined,
    );
  },
};

const result = await build({
  entryPoints: { 'cvm-measure': 'src/cli/main.ts' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // bundled CommonJS packages call require() for Node built-ins
  banner: { js: "import { createRequire as __cvmCreateRequire } from 'node:module'; const require = __cvmCreateRequire(import.meta.url);" },
  write: false,
  plugins: [commanderLazyChildProcess],
  logLevel: 'warning',
});

rmSync(OUT, { recursive: true, force: true });
for (const f of result.outputFiles) {
  const path = relative(process.cwd(), f.path);
  let text = f.text;
  if (path === ENTRY) text = launcher + text;
  // the launcher's two lines shift the entry's generated lines: one `;` per line in the mappings
  if (path === `${ENTRY}.map`) text = text.replace('"mappings": "', `"mappings": "${';'.repeat(launcher.split('\n').length - 1)}`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
chmodSync(ENTRY, 0o755);

// The repository pages' script and style (`publish` copies them into a repository's assets/): the
// browser build of the verifier (src/site/main.ts; a node: import anywhere it reaches fails the
// bundle) as one classic script, and the CSS, both minified.
await build({
  entryPoints: { site: 'src/site/main.ts' },
  outdir: 'dist/site',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await build({ entryPoints: { site: 'src/site/site.css' }, outdir: 'dist/site', bundle: true, minify: true, logLevel: 'warning' });
