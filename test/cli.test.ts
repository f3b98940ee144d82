import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
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

describe('CLI bundles (esbuild.config.mjs)', () => {
  it('the entry and every command file load no npm package when imported, so --help and --version stay lean', () => {
    const dir = join(ROOT, 'dist/cli/commands');
    const files = [join(ROOT, 'dist/cli/main.js'), ...readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => join(dir, f))];
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const packages = [...readFileSync(f, 'utf8').matchAll(/^import\s+(?:[^;]*?\bfrom\s*)?["']([^"']+)["']/gm)].map((m) => m[1]!).filter((p) => !p.startsWith('.') && !p.startsWith('node:'));
      expect(packages, f).toEqual([]);
    }
  });
});

describe('completion', () => {
  it('the bin declares the whole tree for `completion` (same script as the declarations give)', async () => {
    const [{ completionScript }, { createFullProgram }, { describeCommand }] = await Promise.all([import('../src/cli/completion.js'), import('../src/cli/program.js'), import('../src/cli/tree.js')]);
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
