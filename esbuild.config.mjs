// Bundles the CLI after tsc (`npm run build`), for start-up time: Node 20 pays ~1 ms per ES module
// here, and the library stays tsc's per-module output. Three shapes:
// - dist/cli/main.js: the entry with commander (whose eager child_process load is deferred);
// - commands that import no npm package: one self-contained file each, loaded only when invoked;
// - build, doctor, manifest create, publish: split at their lazy imports, so `--help` loads only declarations
//   while a run gets execa, yaml and ajv as a few files instead of ~250 modules.
// Each bundle has its own copy of src/errors.ts; the CLI recognises errors by a brand, not a class.
import { readdirSync } from 'node:fs';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: false, allowOverwrite: true, logLevel: 'warning' };
// bundled CommonJS packages call require() for Node built-ins
const requireShim = { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" };
const SPLIT = ['build', 'doctor', 'manifest-create', 'publish'];
const commands = readdirSync('dist/cli/commands').filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3));
const paths = (names) => names.map((n) => `dist/cli/commands/${n}.js`);
// npm packages stay external (loaded on use), except @noble/hashes: src/util/hash.ts imports it at module
// level (its browser fallback; Node hashes natively), so the single-file commands carry the few KB of it they need.
const packagesButNobleHashes = {
  name: 'packages-but-noble-hashes',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('node:') || a.path.startsWith('@noble/hashes/') ? undefined : { path: a.path, external: true }));
  },
};

// The bin is a sh/JS polyglot: sh runs line 2 (`:` ignores its argument), which re-executes the file
// with node, NODE_EXTRA_CA_CERTS moved to CVM_EXTRA_CA_CERTS: Node 20 parses that certificate file
// at start-up (~45 ms), and only downloads need it. For JS, line 2 is a string and a comment.
// (Plain sh, not `env -S`, which BusyBox's env lacks.)
const launcher = `#!/bin/sh
':' //; CVM_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; export CVM_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
`;

await build({
  ...common,
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/cli/main.js',
  external: ['./commands/*'],
  alias: { 'node:child_process': './src/cli/lazy-child-process.cjs' },
  banner: { js: launcher + requireShim.js },
});
await build({
  ...common,
  entryPoints: paths(commands.filter((c) => !SPLIT.includes(c))),
  outdir: 'dist/cli/commands',
  plugins: [packagesButNobleHashes],
});
await build({
  ...common,
  entryPoints: paths(SPLIT),
  outdir: 'dist/cli/commands',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  banner: requireShim,
});
