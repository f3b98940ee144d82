/**
 * `cvm-measure build` end to end on the CI-sized recipes (no sandbox: cpio, cmdline, extract, UKI
 * writers), plus the orchestration rules: --check, --locked, warm cache, measurements.json, the build
 * record and signing. Pinned inputs come from the apt mirror into a persistent test cache.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { explainDifference } from '../src/build/diff.js';
import { parseVarStore } from '../src/formats/efi-varstore.js';
import { writeCpio } from '../src/formats/cpio.js';
import { findSection, parsePe } from '../src/formats/pe.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

/** Shared across runs so the apt downloads happen once per machine. */
const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const env = { CVM_CACHE: CACHE, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'cvm-config-')) };
const out = () => mkdtempSync(join(tmpdir(), 'cvm-out-'));

interface BuildJson {
  components: { name: string; type: string; cached: boolean }[];
  artifacts: { name: string; path: string; size: number; sha256: string; sha384: string }[];
  measurements: string[];
  files: { measurements: string; buildRecord: string; lock: string | null; manifest: { format: string; path: string }[] };
  check: { identical: boolean; differences: unknown[]; variation: Record<string, unknown> } | null;
  signingKey: { path: string; keyId: string; generated: boolean } | null;
}

async function build(args: string[]): Promise<BuildJson> {
  const r = await cli(['build', ...args, '--json'], { env });
  if (r.code !== 0) throw new Error(`build ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as BuildJson;
}

const recipe = (name: string) => resolve(ROOT, 'recipes', `${name}.yaml`);

describe('build --check on the CI recipes (shipped locks, --locked)', () => {
  for (const name of ['cmdline', 'initrd', 'uki']) {
    it(`${name}: two builds with varied workspace, jobs, umask, hostname, locale are identical`, async () => {
      const o = out();
      const j = await build([recipe(name), '--out', o, '--check', '--locked']);
      expect(j.check).toMatchObject({ identical: true, differences: [] });
      expect(j.check!.variation).toMatchObject({ jobs: expect.any(Number), umask: '02', hostname: 'reproducibility-check-host' });
      expect(j.components.every((c) => !c.cached)).toBe(true);
      for (const a of j.artifacts) expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    }, 300_000);
  }

  it('progress: timestamped lines off a terminal (auto, plain), nothing with none, usage error otherwise', async () => {
    const stamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z /;
    for (const mode of ['auto', 'plain']) {
      const r = await cli(['build', recipe('cmdline'), '--out', out(), '--locked', '--progress', mode], { env: { ...env, CI: 'true' } });
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBeGreaterThanOrEqual(2);
      for (const l of lines) expect(l, mode).toMatch(stamp);
      expect(r.stderr).toMatch(/Z (built |cached) {2}cmdline \(\d+\.\d s\)$/m);
    }
    const none = await cli(['build', recipe('cmdline'), '--out', out(), '--locked', '--progress', 'none'], { env });
    expect([none.code, none.stderr]).toEqual([0, '']);
    const bad = await cli(['build', recipe('cmdline'), '--progress', 'tty'], { env });
    expect([bad.code, errorLine(bad)]).toEqual([2, 'cvm-measure: error: --progress: "tty" is not one of auto, plain, none']);
  });

  it('cmdline: the output is exactly the recipe bytes', async () => {
    const o = out();
    const j = await build([recipe('cmdline'), '--out', o, '--locked']);
    expect(readFileSync(join(o, 'cmdline.txt'), 'utf8')).toBe('console=ttyS0 rdinit=/init panic=-1');
    expect(j.artifacts).toEqual([expect.objectContaining({ name: 'cmdline.cmdline.txt', path: 'cmdline.txt', size: 35 })]);
  });
});

describe('uki recipe: artifacts, measurements, build record, warm cache', () => {
  it('writes measurements.json with SNP/TDX/PCR objects and an SLSA v1 build record naming every input', async () => {
    const o = out();
    const j = await build([recipe('uki'), '--out', o, '--locked']);
    expect(j.artifacts.map((a) => a.name)).toEqual(['firmware.OVMF.fd', 'kernel.vmlinuz', 'initrd.initrd.cpio', 'cmdline.cmdline.txt', 'uki.uki.efi']);
    const m = JSON.parse(readFileSync(join(o, 'measurements.json'), 'utf8')) as {
      schema: string;
      artifacts: unknown[];
      measurements: { kind: string; vmm?: string }[];
    };
    expect(m.schema).toBe('cvm-measure/measurements/v1');
    expect(m.artifacts).toEqual(j.artifacts);
    expect(m.measurements.map((x) => x.kind)).toEqual(['snp', 'snp', 'snp', 'tdx', 'pcr', 'pcr']);
    expect(m.measurements.slice(0, 3).map((x) => x.vmm)).toEqual(['qemu', 'ec2', 'gce']);

    const lock = JSON.parse(readFileSync(resolve(ROOT, 'recipes/uki.lock.json'), 'utf8')) as { inputs: Record<string, { sha256: string }> };
    const rec = JSON.parse(readFileSync(join(o, 'build-record.json'), 'utf8')) as {
      _type: string;
      subject: { name: string; digest: Record<string, string> }[];
      predicateType: string;
      predicate: {
        buildDefinition: {
          buildType: string;
          resolvedDependencies: { name: string; digest: { sha256: string } }[];
          internalParameters: { env: Record<string, string> };
        };
        runDetails: { builder: { id: string } };
      };
    };
    expect(rec._type).toBe('https://in-toto.io/Statement/v1');
    expect(rec.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(rec.subject).toEqual(j.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256, sha384: a.sha384 } })));
    const deps = new Map(rec.predicate.buildDefinition.resolvedDependencies.map((d) => [d.name, d.digest.sha256]));
    for (const [name, e] of Object.entries(lock.inputs)) expect(deps.get(`input:${name}`)).toBe(e.sha256);
    expect(rec.predicate.buildDefinition.internalParameters.env).toMatchObject({ SOURCE_DATE_EPOCH: '1700000000', TZ: 'UTC', LC_ALL: 'C.UTF-8' });
    // the Debian OVMF extracted from the pinned package is byte-identical to the ground-truth copy
    const fw = j.artifacts.find((a) => a.name === 'firmware.OVMF.fd')!;
    expect(fw.sha256).toBe('7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773');

    for (const [schema, file] of [
      ['measurements', join(o, 'measurements.json')],
      ['build-record', join(o, 'build-record.json')],
      ['build-lock', resolve(ROOT, 'recipes/uki.lock.json')],
    ]) {
      const validate = new Ajv({ strict: false, validateFormats: false }).compile(
        JSON.parse(readFileSync(resolve(ROOT, `schemas/${schema}.schema.json`), 'utf8')) as object,
      );
      expect(validate(JSON.parse(readFileSync(file!, 'utf8'))), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }

    const again = await build([recipe('uki'), '--out', o, '--locked']);
    expect(again.components.map((c) => c.cached)).toEqual([true, true, true, true, true]);
    expect(again.artifacts).toEqual(j.artifacts);
    expect(JSON.parse(readFileSync(join(o, 'measurements.json'), 'utf8'))).toEqual(m);
  }, 300_000);

  it('signs when the recipe has sign: and the manifest verifies with the public key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signed-'));
    cpSync(resolve(ROOT, 'recipes'), dir, { recursive: true });
    const k = await cli(['keys', 'generate', '--alg', 'ed25519', '--out', join(dir, 'k.pem')], { env });
    expect(k.code).toBe(0);
    writeFileSync(join(dir, 'uki.yaml'), `${readFileSync(join(dir, 'uki.yaml'), 'utf8')}sign:\n  key: k.pem\n  formats: [corim, json]\n`);
    const o = out();
    const j = await build([join(dir, 'uki.yaml'), '--out', o, '--locked']);
    expect(j.files.manifest.map((f) => f.path.split('/').pop()).sort()).toEqual([
      'pcr.corim-unsigned.cbor',
      'pcr.corim.cbor',
      'reference-values.json',
      'snp.corim-unsigned.cbor',
      'snp.corim.cbor',
      'tdx.corim-unsigned.cbor',
      'tdx.corim.cbor',
    ]);
    const pub = join(dir, 'k.pub.pem');
    const v = await cli(['manifest', 'verify', join(o, 'manifest/snp.corim.cbor'), '--trust', pub], { env });
    expect(v.code, v.stderr).toBe(0);
  }, 300_000);
  it('names every default the measure block left to the library, and records it in measurements.json', async () => {
    /** One warning per measurement with defaults, listing exactly what measurements.json records. */
    const noticesMatch = (stderr: string, o: string) => {
      const m = JSON.parse(readFileSync(join(o, 'measurements.json'), 'utf8')) as { measurements: { kind: string; defaults?: Record<string, unknown> }[] };
      const lines = stderr.split('\n').filter((l) => l.includes(': defaults '));
      const expected = m.measurements
        .filter((x) => Object.keys(x.defaults ?? {}).length > 0)
        .map(
          (x) =>
            `measure ${x.kind}: defaults ${Object.entries(x.defaults!)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')} (`,
        );
      expect(lines).toHaveLength(expected.length);
      for (const [i, e] of expected.entries()) expect(lines[i]).toContain(e);
      return m.measurements;
    };
    const o1 = out();
    const full = await cli(['build', recipe('uki'), '--out', o1, '--locked'], { env });
    expect(full.code, full.stderr).toBe(0);
    const explicit = noticesMatch(full.stderr, o1).filter((x) => x.kind === 'snp');
    expect(explicit.map((x) => Object.keys(x.defaults!))).toEqual(explicit.map(() => expect.not.arrayContaining(['vmm'])));
    // the vCPU count is never guessed: a measure block without it is refused with its line
    const dir = mkdtempSync(join(tmpdir(), 'defaults-'));
    cpSync(resolve(ROOT, 'recipes'), dir, { recursive: true });
    const text = readFileSync(join(dir, 'uki.yaml'), 'utf8');
    writeFileSync(join(dir, 'uki.yaml'), text.replace('    vcpus: "1,2,4,8"\n', ''));
    const refused = await cli(['build', join(dir, 'uki.yaml'), '--out', out(), '--locked'], { env });
    expect(errorLine(refused)).toBe(`cvm-measure: error: ${join(dir, 'uki.yaml')}:50:5: measure.snp: missing required key "vcpus"`);
    // leave the VMM to the library: it is named (it changes the launch digest) and recorded
    writeFileSync(join(dir, 'uki.yaml'), text.replace('    vmm: [qemu, ec2, gce]\n', ''));
    const o2 = out();
    const r = await cli(['build', join(dir, 'uki.yaml'), '--out', o2, '--locked'], { env });
    expect(r.code, r.stderr).toBe(0);
    const snp = noticesMatch(r.stderr, o2).filter((x) => x.kind === 'snp');
    expect(snp).toHaveLength(1);
    expect(Object.keys(snp[0]!.defaults!)).toContain('vmm');
  }, 300_000);
});

describe('--locked and the lock file', () => {
  it('refuses inputs pinned by neither the recipe nor the lock, and changed local files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'locked-'));
    const text = `name: l\nsourceDateEpoch: 1\ninputs:\n  bb: { debian-binary: busybox-static=1:1.35.0-4+deb12u1+b1 }\n  f: { file: f.txt }\ncomponents:\n  c:\n    type: cpio\n    entries:\n      - { path: bin/busybox, source: { input: bb, member: bin/busybox } }\n      - { path: f, source: f }\n    output: c.cpio\n`;
    writeFileSync(join(dir, 'l.yaml'), text);
    writeFileSync(join(dir, 'f.txt'), 'one');
    let r = await cli(['build', join(dir, 'l.yaml'), '--out', out(), '--locked'], { env });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(`cvm-measure: error: --locked: input f (file f.txt) is not in the lock`);
    // a normal build writes the lock; then --locked passes
    await build([join(dir, 'l.yaml'), '--out', out()]);
    const lock = JSON.parse(readFileSync(join(dir, 'l.lock.json'), 'utf8')) as { inputs: Record<string, { sha256: string }> };
    expect(lock.inputs.bb!.sha256).toBe('3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744');
    await build([join(dir, 'l.yaml'), '--out', out(), '--locked']);
    // a local file changed since the lock
    writeFileSync(join(dir, 'f.txt'), 'two');
    r = await cli(['build', join(dir, 'l.yaml'), '--out', out(), '--locked'], { env });
    expect(errorLine(r)).toMatch(/^cvm-measure: error: --locked: input f \(file f\.txt\) changed since the lock \([0-9a-f]{64} -> [0-9a-f]{64}\)$/);
    // an input the lock does not know (new version) is unpinned
    writeFileSync(join(dir, 'f.txt'), 'one');
    writeFileSync(join(dir, 'l.yaml'), text.replace('busybox-static=1:1.35.0-4+deb12u1+b1', 'busybox-static=1:1.35.0-4+b3'));
    r = await cli(['build', join(dir, 'l.yaml'), '--out', out(), '--locked'], { env });
    expect(errorLine(r)).toBe(`cvm-measure: error: --locked: not pinned by the recipe or ${join(dir, 'l.lock.json')}: input bb`);
  }, 120_000);

  it('a recipe sha256 pin that the download does not match is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pin-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      `name: p\nsourceDateEpoch: 1\ninputs:\n  bb: { debian-binary: busybox-static=1:1.35.0-4+deb12u1+b1, sha256: ${'ab'.repeat(32)} }\ncomponents:\n  c: { type: extract, source: { input: bb, member: bin/busybox }, output: busybox }\n`,
    );
    const r = await cli(['build', join(dir, 'p.yaml'), '--out', out()], { env });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/sha256 mismatch: expected (ab){32}, got 3d3fdbe9[0-9a-f]{56} \(refused; nothing cached\)$/);
  }, 120_000);
});

describe('--check names the part that differs', () => {
  it('cpio: the entry', () => {
    const a = writeCpio([
      { path: 'init', type: 'file', mode: 0o755, data: Buffer.from('a') },
      { path: 'etc/x', type: 'file', mode: 0o644, data: Buffer.from('x') },
    ]);
    const b = writeCpio([
      { path: 'init', type: 'file', mode: 0o755, data: Buffer.from('a') },
      { path: 'etc/x', type: 'file', mode: 0o644, data: Buffer.from('y') },
    ]);
    expect(explainDifference(a, b)).toEqual(['cpio entry etc/x differs']);
    expect(explainDifference(a, a)).toEqual([]);
  });
});

describeShared('--check names the part that differs (ground-truth images)', () => {
  it('PE: the section of a UKI', () => {
    const u = readFileSync(shared('fixtures/pcr/uki-6.1.efi'));
    const v = Buffer.from(u);
    const at = findSection(parsePe(u), '.cmdline')!.pointerToRawData;
    v[at] = v[at]! ^ 1;
    expect(explainDifference(u, v)).toEqual(['PE section .cmdline differs']);
  });
  it('firmware: the FFS file GUID inside the firmware volume', () => {
    const a = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'));
    const b = Buffer.from(a);
    b[0x1fffd0] = b[0x1fffd0]! ^ 1; // inside the reset vector file of the SEC volume
    expect(explainDifference(a, b)).toEqual(['firmware FV@0x1cc000 FFS 1ba0062e-c779-4582-8566-336ae8f78f09 differs']);
  });
  it('variable store: the variable and which of its fields; only TimeStamps, said so when the rest is byte-identical', () => {
    const a = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.ms.fd'));
    const vars = parseVarStore(a);
    const at = (name: string) => vars.find((v) => v.name === name)!;
    const PK = 'PK (8be4df61-93ca-11d2-aa0d-00e098032b8c)';
    // PK's TimeStamp (AUTHENTICATED_VARIABLE_HEADER offset 16): year + 1, second + 1
    const t = Buffer.from(a);
    t.writeUInt16LE(t.readUInt16LE(at('PK').offset + 16) + 1, at('PK').offset + 16);
    t[at('PK').offset + 22] = t[at('PK').offset + 22]! + 1;
    const [, y] = [at('PK').auth!.timeStamp, `${Number(at('PK').auth!.timeStamp.slice(0, 4)) + 1}`];
    expect(explainDifference(a, t)).toEqual([
      expect.stringMatching(new RegExp(`^variable ${PK.replace(/[()]/g, '\\$&')}: TimeStamp \\d{4}-.* → ${y}-`)),
      "the images are otherwise byte-identical: only these authenticated variables' TimeStamps (when each was written) differ",
    ]);
    // and a byte of db's data
    const d = Buffer.from(t);
    const db = at('db');
    d[db.data.byteOffset - a.byteOffset + 100] = d[db.data.byteOffset - a.byteOffset + 100]! ^ 1;
    const lines = explainDifference(a, d);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^variable db \(d719b2cb-3d3a-4596-a3bc-dad00e67656f\): data \(\d+ → \d+ bytes, sha256 [0-9a-f]{16}… → [0-9a-f]{16}…\)$/);
    // free space past the variables
    const f = Buffer.from(a);
    f[0x30000] = f[0x30000]! ^ 1;
    const before = Buffer.from(f);
    expect(explainDifference(a, f)).toEqual([
      'variable store: every live variable is the same; first difference at byte 0x30000 (deleted variables, free space or the store header)',
    ]);
    expect(f.equals(before) && t.readUInt16LE(at('PK').offset + 16) !== 0).toBe(true); // the inputs are left as they were
  });
  it("a combined OVMF.fd's variable store is named as one, not as an FFS file", () => {
    const a = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'));
    const b = Buffer.from(a);
    b[0x100] = b[0x100]! ^ 1;
    expect(explainDifference(a, b)).toEqual(['firmware FV@0x0 (variable store outside its variables) differs']);
  });
});
