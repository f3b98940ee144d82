// Bundles the CLI from the TypeScript sources into dist/bin/ (`npm run build`; tsc writes the library to
// dist/ and never to dist/bin/):
// - dist/bin/cvm-measure.cjs: the launcher lines and src/cli/bin.ts, which loads one of the two below;
// - dist/bin/cli.js + dist/bin/chunks/: one esbuild run with code splitting from main.ts. cli.js holds the
//   command table and commander: all that --version and a command's declaration need before its file is
//   imported; each command file becomes a chunk loaded only by the command table's dynamic import
//   (src/cli/program.ts), and modules that commands share (errors.ts, output.ts, the npm packages) become
//   shared chunks, so every module, CvmError included, exists once;
// - dist/bin/fast/<command>.cjs: for each of src/cli/fast.ts's commands, main.ts with only that command,
//   one CommonJS file (the other commands' files are stand-ins that are never imported: bin.ts sends only
//   that command's runs here). CommonJS because Node 20's ES module loader costs ~4 ms at start-up.
// Node 20 pays ~1 ms per ES module, so npm packages are bundled too: a run loads a few chunks instead
// of hundreds of package files, a fast command one file. Running it again replaces dist/bin/ (the input is
// never the output). Then dist/site/: the repository pages' script and style (below).
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/bin';
const ENTRY = `${OUT}/cvm-measure.cjs`;

// the fast commands' table, from its TypeScript source
const fastSource = await build({ entryPoints: ['src/cli/fast.ts'], bundle: true, write: false, format: 'esm', logLevel: 'warning' });
const { FAST_COMMANDS } = await import(`data:text/javascript,${encodeURIComponent(fastSource.outputFiles[0].text)}`);

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

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, write: false, logLevel: 'warning' };
const esm = {
  ...common,
  format: 'esm',
  // bundled CommonJS packages call require() for Node built-ins
  banner: { js: "import { createRequire as __cvmCreateRequire } from 'node:module'; const require = __cvmCreateRequire(import.meta.url);" },
};
// util/package.ts finds the package root from import.meta.dirname
const cjs = { ...common, format: 'cjs', outExtension: { '.js': '.cjs' }, define: { 'import.meta.dirname': '__dirname' } };

/** A fast bundle: the command table's imports other than `file`'s become stand-ins that throw if imported. */
const onlyCommand = (file) => ({
  name: 'only-command',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (a) =>
      /[\\/]src[\\/]cli[\\/]program\.ts$/.test(a.importer) && a.path !== `./commands/${file}.js` && a.kind === 'dynamic-import'
        ? { path: a.path, namespace: 'not-in-this-bundle' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'not-in-this-bundle' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path} is not in the ${file} bundle`)});`,
      loader: 'js',
    }));
  },
});

const results = await Promise.all([
  build({ ...cjs, entryPoints: { 'cvm-measure': 'src/cli/bin.ts' }, outdir: OUT }),
  build({
    ...esm,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: OUT,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [commanderLazyChildProcess],
  }),
  ...[...FAST_COMMANDS.values()].map((file) =>
    build({
      ...cjs,
      // less to compile at each start (~1 ms for measure snp); identifiers stay, for stack traces
      minifyWhitespace: true,
      minifySyntax: true,
      entryPoints: { [file]: 'src/cli/main.ts' },
      outdir: `${OUT}/fast`,
      plugins: [commanderLazyChildProcess, onlyCommand(file)],
    }),
  ),
]);

rmSync(OUT, { recursive: true, force: true });
for (const f of results.flatMap((r) => r.outputFiles)) {
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
