import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT, SHARED } from './helpers/shared.js';

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
  it('a value option given twice is refused, naming it (no silent last-one-wins)', async () => {
    const r = await cli(['manifest', 'create', '--measurements', 'a.json', '--measurements', 'b.json', '--key', 'k.pem', '--out', 'o']);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe('cvm-measure: error: --measurements given twice ("a.json", then "b.json"): it takes one value');
    const snp = await cli(['measure', 'snp', '--firmware', 'OVMF.fd', '--vcpus', '1', '--vcpus', '2']);
    expect([snp.code, errorLine(snp)]).toEqual([2, 'cvm-measure: error: --vcpus given twice ("1", then "2"): it takes one value']);
  });
  it('a repeatable option takes one value per occurrence and leaves the operands alone', async () => {
    // --trust used to be variadic: it swallowed the file and reported the argument missing
    const r = await cli(['manifest', 'verify', '--trust', '/nonexistent/a.pub.pem', 'x.cbor']);
    expect([r.code, errorLine(r)]).toEqual([1, 'cvm-measure: error: cannot read public key /nonexistent/a.pub.pem: ENOENT']);
  });
  it('an unknown option is reported before a missing required one, with a suggestion on the same line', async () => {
    const r = await cli(['measure', 'snp', '--firmwar', 'OVMF.fd', '--vcpus', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("cvm-measure: error: unknown option '--firmwar': did you mean --firmware? (run with --help for usage)\n");
    const missing = await cli(['measure', 'pcr', '--kernel', 'vmlinuz']);
    expect([missing.code, errorLine(missing)]).toEqual([2, "cvm-measure: error: required option '--boot <shape>' not specified (run with --help for usage)"]);
  });
  it.each([
    ['--ovmf', '--firmware'],
    ['--vmm-type', '--vmm'],
    ['--snp-ovmf-hash', '--seed'],
  ])("sev-snp-measure's %s points to %s", async (theirs, ours) => {
    const r = await cli(['measure', 'snp', theirs, 'x', '--vcpus', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cvm-measure: error: unknown option '${theirs}' (sev-snp-measure's name): did you mean ${ours}? (run with --help for usage)\n`);
  });
  it('measure snp requires --vcpus (the digest differs per count)', async () => {
    const r = await cli(['measure', 'snp', '--firmware', 'OVMF.fd', '--vcpu-type', 'EPYC-v4']);
    expect([r.code, errorLine(r)]).toEqual([2, 'cvm-measure: error: missing --vcpus: the digest differs per vCPU count (e.g. --vcpus 2 or --vcpus 1,2,4)']);
  });
  it('no option is variadic (a variadic option swallows the operands after it)', async () => {
    const [{ createFullProgram }, { describeCommand, flatten }] = await Promise.all([import('../src/cli/program.js'), import('../src/cli/tree.js')]);
    const options = flatten(describeCommand(await createFullProgram())).flatMap((c) => c.options.map((o) => `${c.path.join(' ')} ${o.flags}`));
    expect(options.length).toBeGreaterThan(50);
    expect(options.filter((o) => o.includes('...'))).toEqual([]);
  });
  it('--json on a failure is one {ok: false, error} object for every command (each with an unknown option)', async () => {
    const [{ createFullProgram }, { describeCommand, flatten }] = await Promise.all([import('../src/cli/program.js'), import('../src/cli/tree.js')]);
    const leaves = flatten(describeCommand(await createFullProgram())).filter((c) => c.subcommands.length === 0 && c.name !== 'completion');
    expect(leaves.length).toBeGreaterThan(15);
    for (const c of leaves) {
      expect(
        c.options.some((o) => o.long === '--json'),
        c.path.join(' '),
      ).toBe(true);
      const r = await cli([...c.path, '--no-such-flag', '--json']);
      expect([c.path.join(' '), r.code, JSON.parse(r.stdout)]).toEqual([
        c.path.join(' '),
        2,
        { ok: false, error: { code: 'UsageError', message: "unknown option '--no-such-flag'" } },
      ]);
      expect(r.stderr.trim().split('\n'), c.path.join(' ')).toHaveLength(1);
    }
  });
  describe('doctor: missing rootless helpers (uidmap) are no failure as root', () => {
    /** A dpkg-query on PATH that reports every package installed except `absent`. */
    const fakeDpkg = (absent: string[]) => {
      const dir = mkdtempSync(join(tmpdir(), 'cvm-doctor-'));
      writeFileSync(
        join(dir, 'dpkg-query'),
        `#!/bin/sh\nshift 2\nfor p in "$@"; do case " ${absent.join(' ')} " in *" $p "*) ;; *) echo "$p installed";; esac; done\n`,
      );
      chmodSync(join(dir, 'dpkg-query'), 0o755);
      return { PATH: `${dir}:${process.env.PATH}` };
    };
    const root = process.getuid?.() === 0;
    it(`only uidmap missing: exit ${root ? 0 : 1} (running ${root ? '' : 'not '}as root)`, async () => {
      const env = fakeDpkg(['uidmap']);
      const r = await cli(['doctor', '--for', 'build'], { env });
      expect(r.code, r.stderr).toBe(root ? 0 : 1);
      expect(r.stdout).toMatch(root ? /^absent {3}uidmap .*\(not needed as root\)$/m : /^MISSING {2}uidmap /m);
      const j = await cli(['doctor', '--for', 'build', '--json'], { env });
      expect(JSON.parse(j.stdout).packages).toContainEqual(expect.objectContaining({ apt: 'uidmap', installed: false, needed: !root }));
    });
    it('a needed package missing: exit 1, one error line, and with --json {ok: false, error, packages}', async () => {
      const env = fakeDpkg(['uidmap', 'git']);
      const r = await cli(['doctor', '--for', 'build'], { env });
      expect([r.code, errorLine(r)]).toEqual([1, `cvm-measure: error: missing: ${root ? 'git' : 'uidmap git'} (run: cvm-measure doctor --fix)`]);
      const j = await cli(['doctor', '--for', 'build', '--json'], { env });
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: 'BuildError', message: errorLine(r).replace('cvm-measure: error: ', '') } });
      expect(JSON.parse(j.stdout).packages).toContainEqual(expect.objectContaining({ apt: 'git', installed: false, needed: true }));
    });
  });
  it('doctor --json has a stable shape', async () => {
    const r = await cli(['doctor', '--json', '--for', 'build']);
    const out = JSON.parse(r.stdout) as { ok: boolean; packages: { apt: string; installed: boolean }[] };
    expect(typeof out.ok).toBe('boolean');
    expect(out.packages.length).toBeGreaterThan(0);
    expect(r.code).toBe(out.ok ? 0 : 1);
  });
});

describe('progress reporter (--progress)', () => {
  it('plain: a timestamped line per step, a "still running" line every minute of a long step, one at its end', async () => {
    const { progress } = await import('../src/cli/output.js');
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance', 'Date'], now: Date.parse('2026-01-02T03:04:05Z') });
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const p = progress('plain');
      p.step('building kernel');
      vi.advanceTimersByTime(150_000);
      p.done('built   kernel (150.0 s)');
      p.stop();
      expect(write.mock.calls.map((c) => c[0])).toEqual([
        '2026-01-02T03:04:05Z building kernel\n',
        '2026-01-02T03:05:05Z building kernel: still running (60 s)\n',
        '2026-01-02T03:06:05Z building kernel: still running (120 s)\n',
        '2026-01-02T03:06:35Z built   kernel (150.0 s)\n',
      ]);
      write.mockClear();
      const none = progress('none');
      none.step('x');
      vi.advanceTimersByTime(120_000);
      none.done('y');
      none.stop();
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
      vi.useRealTimers();
    }
  });
});

describe('CLI bundles (esbuild.config.mjs: dist/bin/)', () => {
  const BIN = join(ROOT, 'dist/bin');
  const ENTRY = join(BIN, 'cvm-measure.cjs');
  const CLI = join(BIN, 'cli.js');
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
  const commandChunks = () => [...readFileSync(CLI, 'utf8').matchAll(/import\(["'](\.\/chunks\/[^"']+)["']\)/g)].map((m) => join(BIN, m[1]!));
  const commandSources = (files: Iterable<string>) => sources(files).filter((s) => s.includes('src/cli/commands/'));

  it('the entry is the launcher and the bundle choice (CommonJS): it loads nothing before it loads one bundle', () => {
    const text = readFileSync(ENTRY, 'utf8');
    expect(text.startsWith("#!/bin/sh\n':' //; ")).toBe(true);
    expect(text.match(/^#!/gm)).toHaveLength(1);
    expect([...graph(ENTRY)]).toEqual([ENTRY]);
    expect(sources([ENTRY]).map((s) => s.replace(/^(\.\.\/)+/, ''))).toEqual(['src/cli/fast.ts', 'src/cli/bin.ts']);
  });
  it("the code-split CLI's entry is commander and the command table: --version and a declaration load nothing else", () => {
    const entry = graph(CLI);
    expect(packages(entry)).toEqual(['commander']);
    expect(commandSources(entry)).toEqual([]);
  });
  it('each command is its own chunk, loaded by the command table; its graph holds only what it needs', () => {
    // besides the commands, the table loads measure tdx's platform.json reader (ajv) only for --platform
    const platformReader = /\/qemu-platform-[A-Z0-9]+\.js$/;
    expect(commandChunks().filter((c) => platformReader.test(c))).toHaveLength(1);
    const chunks = commandChunks().filter((c) => !platformReader.test(c));
    expect(chunks.length).toBe(readdirSync(join(ROOT, 'src/cli/commands')).filter((f) => f.endsWith('.ts')).length);
    const BUILD_STACK = ['ajv', 'execa', 'tar-stream', 'yaml'];
    for (const c of chunks) {
      const g = graph(c);
      expect(commandSources(g), c).toHaveLength(1);
      // only doctor, verify, capture qemu (boots QEMU, writes a platform.json its schema checks), manifest inspect (a
      // reference-values document against its schema), fetch (a release's measurements.json against its schema,
      // under --rebuilders), publish (the reference values it derives lookups from) and the runs of build, rebuild
      // and manifest create (*-run.ts) spawn processes, parse YAML or validate schemas
      if (!/\/(build-run|capture-qemu|doctor|fetch|manifest-create-run|manifest-inspect|publish|rebuild-run|verify)-[A-Z0-9]+\.js$/.test(c))
        expect(
          packages(g).filter((p) => BUILD_STACK.includes(p)),
          c,
        ).toEqual([]);
    }
  });
  it('every module of the code-split CLI is in one output file (one CvmError class for instanceof)', () => {
    const files = [
      CLI,
      ...readdirSync(join(BIN, 'chunks'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(BIN, 'chunks', f)),
    ];
    const all = sources(files);
    expect(all.filter((s, i) => all.indexOf(s) !== i)).toEqual([]);
    expect(all.filter((s) => s.endsWith('src/errors.ts'))).toHaveLength(1);
  });
  it('each fast command is one CommonJS file holding main.ts, its own command and no other', async () => {
    const { FAST_COMMANDS } = await import('../src/cli/fast.js');
    expect(
      readdirSync(join(BIN, 'fast'))
        .filter((f) => f.endsWith('.cjs'))
        .sort(),
    ).toEqual([...FAST_COMMANDS.values()].map((f) => `${f}.cjs`).sort());
    for (const file of FAST_COMMANDS.values()) {
      const f = join(BIN, 'fast', `${file}.cjs`);
      // no ES module syntax and no relative require: nothing else is loaded
      expect(readFileSync(f, 'utf8')).not.toMatch(/^(import|export)\s|\brequire\(["']\./m);
      expect(commandSources([f]).map((s) => s.replace(/.*src\/cli\/commands\//, ''))).toEqual([`${file}.ts`]);
      expect(sources([f]).filter((s) => s.endsWith('src/cli/main.ts') || s.endsWith('src/errors.ts'))).toHaveLength(2);
    }
  });
  it('a fast command prints what the code-split CLI prints, output and exit code alike', async () => {
    // with shared/: a real digest and a real report (verified offline against its chain); without: the failure paths
    const firmware = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd') : join(ROOT, 'no-such-OVMF.fd');
    const evidence = SHARED ? join(SHARED, 'fixtures/evidence/snp-genoa-v3-msft') : join(ROOT, 'no-such-evidence');
    const certs = join(mkdtempSync(join(tmpdir(), 'cvm-fast-')), 'certs.pem');
    if (SHARED) writeFileSync(certs, ['vcek.pem', 'ask_ark_chain.pem'].map((f) => readFileSync(join(evidence, f), 'utf8')).join(''));
    const runs = [
      ['measure', 'snp', '--firmware', firmware, '--vcpus', '1-4', '--vcpu-type', 'EPYC-Milan', '--json'],
      ['verify', join(evidence, 'report.bin'), '--certs', certs, '--at', '2026-06-01T00:00:00Z', '--json'], // a fixed time: the checks name it
      ['measure', 'pcr', '--help'],
    ];
    for (const args of runs) {
      const fast = await cli(args);
      const split = await new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
        execFile(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' }, encoding: 'utf8' }, (err, stdout, stderr) =>
          res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
      expect(fast, args.join(' ')).toEqual(split);
    }
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
