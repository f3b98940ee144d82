import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';

describe('cli conventions', () => {
  it('prints help with examples and exits 0', async () => {
    const r = await cli(['doctor', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
  });
  it('exits 2 on an unknown option', async () => {
    const r = await cli(['doctor', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("cvm-measure: error: unknown option '--no-such-flag' (run with --help for usage)\n");
  });

  it('--json prints one object on failure too, beside the one stderr line', async () => {
    const usage = await cli(['doctor', '--no-such-flag', '--json']);
    expect([usage.code, JSON.parse(usage.stdout)]).toEqual([2, { ok: false, error: { code: 'UsageError', message: "unknown option '--no-such-flag'" } }]);
    const input = await cli(['inspect', 'firmware', '/nonexistent/OVMF.fd', '--json']);
    expect(input.code).toBe(1);
    expect(JSON.parse(input.stdout)).toMatchObject({ ok: false, error: { code: 'InputError' } });
    expect(input.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('exits 2 with one line on a bad option value', async () => {
    const r = await cli(['doctor', '--for', 'nothing']);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe('cvm-measure: error: --for: "nothing" is not one of build, test, all');
  });
  it('doctor --json has a stable shape', async () => {
    const r = await cli(['doctor', '--json', '--for', 'build']);
    const out = JSON.parse(r.stdout) as { ok: boolean; packages: { apt: string; installed: boolean }[] };
    expect(typeof out.ok).toBe('boolean');
    expect(out.packages.length).toBeGreaterThan(0);
    expect(r.code).toBe(out.ok ? 0 : 1);
  });
});

describe('CLI bundle (esbuild.config.mjs: dist/bin/, one esbuild run with code splitting)', () => {
  const BIN = join(ROOT, 'dist/bin');
  const ENTRY = join(BIN, 'cvm-measure.js');
  const staticImports = (f: string) =>
    [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)\s[^;]*?\bfrom\s*["'](\.[^"']+)["']|^import\s*["'](\.[^"']+)["']/gm)].map((m) =>
      join(dirname(f), (m[1] ?? m[2])!),
    );
  /** The output files a module loads before it runs: itself and its static imports, transitively. */
  const graph = (f: string, seen = new Set<string>()): Set<string> => {
    if (!seen.has(f)) {
      seen.add(f);
      for (const g of staticImports(f)) graph(g, seen);
    }
    return seen;
  };
  /** The sources (from the source maps) bundled into output files. */
  const sources = (files: Iterable<string>) => [...files].flatMap((f) => (JSON.parse(readFileSync(`${f}.map`, 'utf8')) as { sources: string[] }).sources);
  const packages = (files: Iterable<string>) => [...new Set(sources(files).flatMap((s) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s)?.[1] ?? []))].sort();
  const commandChunks = () => [...readFileSync(ENTRY, 'utf8').matchAll(/import\(["'](\.\/chunks\/[^"']+)["']\)/g)].map((m) => join(BIN, m[1]!));

  it('the entry is the launcher, commander and the command table: --version and a declaration load nothing else', () => {
    const text = readFileSync(ENTRY, 'utf8');
    expect(text.startsWith("#!/bin/sh\n':' //; ")).toBe(true);
    expect(text.match(/^#!/gm)).toHaveLength(1);
    const entry = graph(ENTRY);
    expect(packages(entry)).toEqual(['commander']);
    expect(sources(entry).filter((s) => s.includes('src/cli/commands/'))).toEqual([]);
  });
  it('each command is its own chunk, loaded by the command table; its graph holds only what it needs', () => {
    const chunks = commandChunks();
    expect(chunks.length).toBe(readdirSync(join(ROOT, 'src/cli/commands')).filter((f) => f.endsWith('.ts')).length);
    const BUILD_STACK = ['ajv', 'execa', 'tar-stream', 'yaml'];
    for (const c of chunks) {
      const g = graph(c);
      const own = sources(g).filter((s) => s.includes('src/cli/commands/'));
      expect(own, c).toHaveLength(1);
      // only doctor, verify and the runs of build and manifest create (*-run.ts) spawn processes, parse YAML or validate schemas
      if (!/\/(build-run|doctor|manifest-create-run|verify)-[A-Z0-9]+\.js$/.test(c))
        expect(
          packages(g).filter((p) => BUILD_STACK.includes(p)),
          c,
        ).toEqual([]);
    }
  });
  it('every module is in one output file (one CvmError class for instanceof)', () => {
    const files = [
      ENTRY,
      ...readdirSync(join(BIN, 'chunks'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(BIN, 'chunks', f)),
    ];
    const all = sources(files);
    expect(all.filter((s, i) => all.indexOf(s) !== i)).toEqual([]);
    expect(all.filter((s) => s.endsWith('src/errors.ts'))).toHaveLength(1);
  });
});

describe('completion', () => {
  it('the bin declares the whole tree for `completion` (same script as the declarations give)', async () => {
    const [{ completionScript }, { createFullProgram }, { describeCommand }] = await Promise.all([
      import('../src/cli/completion.js'),
      import('../src/cli/program.js'),
      import('../src/cli/tree.js'),
    ]);
    const expected = completionScript(describeCommand(await createFullProgram()), 'bash');
    const r = await cli(['completion', 'bash']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected);
    expect(r.stdout).toContain("'manifest') echo 'create inspect verify'");
  });
  it('exits 2 on an unknown shell', async () => {
    const r = await cli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
  });
});
