/**
 * Independent rebuilds end to end, with the built CLI: build a small release (the uki recipe, its
 * initrd's /init replaced by one that prints the PCRs and the TPM log), publish it with --build, rebuild
 * it in another workspace (other path, umask, hostname, locale, later time) with two rebuilder keys,
 * publish their attestations, boot the UKI under QEMU + swtpm and verify its TPM log with
 * `--rebuilders A --rebuilders B --rebuild-threshold 2`; a release whose sources do not produce its
 * artifacts rebuilds to a mismatch naming the cpio entry and PE section; tampered, foreign and
 * duplicate-key attestations are refused; the CoRIM consumer's check.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAttestation, checkRebuildThreshold, type RebuildPredicate } from '../src/manifest/rebuild-attestation.js';
import { parsePrivateKey, parsePublicKey } from '../src/sign/keys.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../src/sign/dsse.js';
import { localSigner } from '../src/sign/signer.js';
import { canonicalJson } from '../src/sign/canonical-json.js';
import { cli, errorLine } from './helpers/cli.js';
import { boot, CODE, diskMedia, INIT, makeFatImage, missingOf, QEMU_TOOLS, VARS } from './helpers/measured-boot.js';
import { ROOT } from './helpers/shared.js';

/** Shared across runs so the apt downloads happen once per machine (as in build.test.ts). */
const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const dir = mkdtempSync(join(tmpdir(), 'cvm-rebuild-test-'));
const env = { CVM_CACHE: CACHE, XDG_CONFIG_HOME: join(dir, 'config') };
const schema = (n: string) => new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, `schemas/${n}.schema.json`), 'utf8')));
const p = (...parts: string[]) => join(dir, ...parts);

interface RebuildJson {
  verdict: 'match' | 'mismatch';
  artifacts: { name: string; verdict: string; expected: string | null; actual: string | null; parts?: string[] }[];
  measurements: { name: string; verdict: string }[];
  inputs: { name: string; from: string }[];
  environment: { variation: { umask: string; workspaceName: string } };
  attestation: { path: string; keyId: string };
}

async function run(args: string[], cwd?: string) {
  return cli(args, { env, ...(cwd ? { cwd } : {}) });
}
async function ok(args: string[], cwd?: string): Promise<string> {
  const r = await run(args, cwd);
  if (r.code !== 0) throw new Error(`${args.slice(0, 2).join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** The uki recipe with another /init; `extra` appended to it (an input change). */
function recipeCopy(name: string, extra = ''): string {
  const d = p(name);
  cpSync(join(ROOT, 'recipes'), d, { recursive: true });
  writeFileSync(join(d, 'initrd/init'), INIT + extra);
  return join(d, 'uki.yaml');
}

const REPO = p('repo');
/** `--rebuilders` for each key name, then the threshold. */
const rebuilders = (k: string, ...keys: string[]) => [...keys.flatMap((n) => ['--rebuilders', p(`${n}.pub.pem`)]), '--rebuild-threshold', k];
/** `fetch REPO --release R` with `--rebuilders` for each key name and the threshold. */
const fetchWith = (repo: string, release: string, k: string, keys: string[], json = false) =>
  run(['fetch', repo, '--trust', p('rel.pub.pem'), '--release', release, ...rebuilders(k, ...keys), ...(json ? ['--json'] : [])]);
const rebuild = (release: string, key: string, out: string, cwd: string) =>
  run(['rebuild', REPO, '--trust', p('rel.pub.pem'), '--release', release, '--key', p(`${key}.pem`), '--out', out, '--json'], cwd);

describe('rebuild: independent rebuilds, attestations, k-of-n rebuilders', () => {
  beforeAll(async () => {
    mkdirSync(p('config'), { recursive: true });
    for (const k of ['rel', 'r1', 'r2', 'r3']) await ok(['keys', 'generate', '--alg', k === 'r2' ? 'ecdsa-p256' : 'ed25519', '--out', p(`${k}.pem`)]);
    // uki@1: built, manifests, published with its rebuild material
    await ok(['build', recipeCopy('recipe-a'), '--out', p('a')]);
    await ok([
      'manifest',
      'create',
      '--measurements',
      p('a/measurements.json'),
      '--build-record',
      p('a/build-record.json'),
      '--key',
      p('rel.pem'),
      '--out',
      p('a-manifest'),
    ]);
    await ok(['publish', p('a-manifest'), '--build', p('a'), '--repo', REPO, '--name', 'uki', '--version', '1', '--key', p('rel.pem')]);
    // uki@2: the same artifacts and manifests, but the sources of a build whose /init differs by one line
    await ok(['build', recipeCopy('recipe-b', '# changed\n'), '--out', p('b')]);
    cpSync(p('a'), p('ab'), { recursive: true });
    rmSync(p('ab/source'), { recursive: true });
    cpSync(p('b/source'), p('ab/source'), { recursive: true });
    await ok(['publish', p('a-manifest'), '--build', p('ab'), '--repo', REPO, '--name', 'uki', '--version', '2', '--key', p('rel.pem')]);
    // uki@0: manifests only (no --build)
    await ok(['publish', p('a-manifest'), '--repo', REPO, '--name', 'uki', '--version', '0', '--key', p('rel.pem')]);
  }, 600_000);

  it('rebuilds uki@1 in a second workspace with two rebuilder keys: every artifact and value matches', async () => {
    const ws = p('rebuilder-workspace-with-another-path');
    mkdirSync(ws);
    const outs: RebuildJson[] = [];
    for (const k of ['r1', 'r2']) {
      const r = await rebuild('uki@1', k, join(ws, k), ws);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as RebuildJson;
      expect(schema('rebuild')(j)).toBe(true);
      outs.push(j);
    }
    for (const j of outs) {
      expect(j.verdict).toBe('match');
      expect(j.artifacts.map((a) => [a.name, a.verdict])).toEqual(
        ['firmware.OVMF.fd', 'kernel.vmlinuz', 'initrd.initrd.cpio', 'cmdline.cmdline.txt', 'uki.uki.efi'].map((n) => [`artifact:${n}`, 'match']),
      );
      expect(j.measurements.length).toBe(93);
      expect(j.measurements.every((m) => m.verdict === 'match')).toBe(true);
      expect(j.environment.variation).toMatchObject({ umask: '027', workspaceName: 'independent-rebuild-workspace' });
      // the file inputs came from the release, the .debs from the rebuilder's cache
      expect(j.inputs.filter((i) => i.from === 'release').map((i) => i.name)).toEqual(['init', 'os-release']);
    }
    // the attestation's subjects are the release files, bound by digest
    const att = JSON.parse(readFileSync(outs[0]!.attestation.path, 'utf8')) as { payload: string };
    const st = JSON.parse(Buffer.from(att.payload, 'base64').toString('utf8')) as { subject: { name: string }[]; predicate: RebuildPredicate };
    expect(st.subject.map((s) => s.name)).toEqual(
      expect.arrayContaining(['reference-values.intoto.json', 'pcr.corim.cbor', 'artifact-uki.efi', 'measurements.json']),
    );
    expect(schema('rebuild-attestation')(st.predicate)).toBe(true);

    const pub = JSON.parse(
      await ok([
        'publish',
        '--attestation',
        join(ws, 'r1/rebuild.intoto.json'),
        '--attestation',
        join(ws, 'r2/rebuild.intoto.json'),
        '--repo',
        REPO,
        '--key',
        p('rel.pem'),
        '--json',
      ]),
    );
    expect(schema('publish')(pub)).toBe(true);
    const index = JSON.parse(readFileSync(join(REPO, 'index.json'), 'utf8'));
    expect(schema('repository-index')(index)).toBe(true);
    const entry = index.releases.find((r: { version: string }) => r.version === '1');
    expect(entry.attestations).toEqual([
      { path: expect.stringMatching(/^attestations\/uki\/1\/rebuild-[0-9a-f]{16}\.intoto\.json$/), keyid: outs[0]!.attestation.keyId, verdict: 'match' },
      { path: expect.stringMatching(/^attestations\/uki\/1\/rebuild-[0-9a-f]{16}\.intoto\.json$/), keyid: outs[1]!.attestation.keyId, verdict: 'match' },
    ]);
    const fr = await fetchWith(REPO, 'uki@1', '2', ['r1', 'r2'], true);
    expect(fr.code, fr.stderr).toBe(0);
    const f = JSON.parse(fr.stdout);
    expect(schema('fetch')(f)).toBe(true);
    expect(f.rebuilds).toEqual([expect.objectContaining({ name: 'uki', version: '1', threshold: 2, values: 98, attestations: 2, refused: [] })]);
    expect(f.rebuilds[0].keyIds).toHaveLength(2);
  }, 300_000);

  it('publish --with-inputs carries every locked download: a rebuilder with an empty cache takes them all from the release', async () => {
    const repo = p('repo-with-inputs');
    await ok(['publish', p('a-manifest'), '--build', p('a'), '--with-inputs', '--repo', repo, '--name', 'uki', '--version', '1', '--key', p('rel.pem')]);
    const ws = p('rebuilder-with-an-empty-cache');
    mkdirSync(ws);
    const r = await cli(['rebuild', repo, '--trust', p('rel.pub.pem'), '--release', 'uki@1', '--key', p('r3.pem'), '--out', join(ws, 'out'), '--json'], {
      env: { ...env, CVM_CACHE: join(ws, 'cache') },
      cwd: ws,
    });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as RebuildJson;
    expect(j.verdict).toBe('match');
    // the .debs and the base tarball besides the two file inputs, every one from the release
    expect(j.inputs.length).toBeGreaterThan(3);
    expect(j.inputs.filter((i) => i.from !== 'release')).toEqual([]);
  }, 300_000);

  it('a release whose sources do not produce its artifacts: mismatch naming the cpio entry and PE section, exit 1', async () => {
    const ws = p('mismatch-workspace');
    mkdirSync(ws);
    const r = await rebuild('uki@2', 'r1', join(ws, 'r1'), ws);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as RebuildJson;
    expect(j.verdict).toBe('mismatch');
    const by = new Map(j.artifacts.map((a) => [a.name, a]));
    expect(by.get('artifact:firmware.OVMF.fd')!.verdict).toBe('match');
    expect(by.get('artifact:initrd.initrd.cpio')).toMatchObject({ verdict: 'mismatch', parts: ['cpio entry init differs'] });
    expect(by.get('artifact:uki.uki.efi')!.parts).toContain('PE section .initrd differs');
    expect(j.measurements.some((m) => m.verdict === 'mismatch')).toBe(true);
    // the attestation is written (and signed) on a mismatch too; published, it makes the threshold fail
    await ok(['publish', '--attestation', join(ws, 'r1/rebuild.intoto.json'), '--repo', REPO, '--key', p('rel.pem')]);
    const index = JSON.parse(readFileSync(join(REPO, 'index.json'), 'utf8'));
    expect(index.releases.find((x: { version: string }) => x.version === '2').attestations[0].verdict).toBe('mismatch');
    const f = await fetchWith(REPO, 'uki@2', '2', ['r1', 'r2']);
    expect(f.code).toBe(1);
    expect(errorLine(f)).toMatch(/rebuild threshold not met for uki@2: .*missing confirmation of artifact:initrd\.initrd\.cpio \(0 of 2\)/);
  }, 300_000);

  it('refuses a release without its rebuild material, naming what is missing', async () => {
    const r = await rebuild('uki@0', 'r1', p('r0'), dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false });
    const h = await run(['rebuild', REPO, '--trust', p('rel.pub.pem'), '--release', 'uki@0', '--key', p('r1.pem'), '--out', p('r0')]);
    expect(errorLine(h)).toMatch(
      /uki@0 cannot be rebuilt: the release lacks the recipe \(\*\.yaml\), the lock \(\*\.lock\.json\), build-record\.json, measurements\.json/,
    );
  });

  it("a release whose signed reference values are not its measurements.json's is refused under --rebuilders; so is one with no values", async () => {
    // uki@1's manifests over the measurements of another build (its /init differs): a rebuild would confirm b's values, consumers would use a's
    const repo = p('repo-mismatch');
    await ok(['publish', p('a-manifest'), '--build', p('b'), '--repo', repo, '--name', 'uki', '--version', '1', '--key', p('rel.pem')]);
    const r = await fetchWith(repo, 'uki@1', '1', ['r1']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      /uki@1: its signed reference values are not the ones its measurements\.json and build record give; a rebuild confirms only the latter/,
    );
    expect(() => checkRebuildThreshold({ name: 'x', version: '1' }, new Map(), [], 1)).toThrow(/x@1: its measurements\.json holds no values/);
  });

  it('refuses a tampered attestation, one for another release, and the same key counted twice', async () => {
    const index = JSON.parse(readFileSync(join(REPO, 'index.json'), 'utf8'));
    const [a1, a2] = index.releases.find((x: { version: string }) => x.version === '1').attestations as { path: string }[];
    const mismatch = index.releases.find((x: { version: string }) => x.version === '2').attestations[0] as { path: string };
    const fetch2 = (repo: string, ...keys: string[]) => fetchWith(repo, 'uki@1', '2', keys);

    // tampered: one verdict flipped inside r2's signed payload (the index does not pin attestation bytes; the signature does)
    const t = p('repo-tampered');
    cpSync(REPO, t, { recursive: true });
    const env2 = JSON.parse(readFileSync(join(t, a2!.path), 'utf8'));
    const st = JSON.parse(Buffer.from(env2.payload, 'base64').toString('utf8'));
    st.predicate.measurements[0].expected = 'ff'.repeat(48);
    env2.payload = Buffer.from(canonicalJson(st)).toString('base64');
    writeFileSync(join(t, a2!.path), JSON.stringify(env2));
    const rt = await fetch2(t, 'r1', 'r2');
    expect(rt.code).toBe(1);
    expect(errorLine(rt)).toContain(`not counted: ${a2!.path}: DSSE: signatures[0] names trusted key`);
    expect(errorLine(rt)).toMatch(/but does not verify with it$/);

    // another release's attestation (uki@2's, by r1) in the place of r1's uki@1 attestation
    const o = p('repo-other');
    cpSync(REPO, o, { recursive: true });
    cpSync(join(REPO, mismatch.path), join(o, a1!.path));
    const ro = await fetch2(o, 'r1', 'r2');
    expect(ro.code).toBe(1);
    expect(errorLine(ro)).toContain('an attestation for uki@2, not for uki@1');
    expect(() =>
      checkAttestation(
        readFileSync(join(REPO, mismatch.path), 'utf8'),
        [parsePublicKey(readFileSync(p('r1.pub.pem')), 'r1')],
        {
          name: 'uki',
          version: '1',
          files: index.releases.find((x: { version: string }) => x.version === '1').files,
        },
        'x',
      ),
    ).toThrow(/an attestation for uki@2, not for uki@1/);

    // the same key twice on the command line
    cpSync(p('r1.pub.pem'), p('r1-copy.pub.pem'));
    const rd = await fetch2(REPO, 'r1', 'r1-copy');
    expect(rd.code).toBe(2);
    expect(errorLine(rd)).toMatch(/r1-copy\.pub\.pem and .*r1\.pub\.pem are the same key/);

    // the same key behind two attestations counts once: a second r1 attestation (re-signed, other bytes) + r3 with none
    const d = p('repo-dup');
    cpSync(REPO, d, { recursive: true });
    const st1 = JSON.parse(Buffer.from(JSON.parse(readFileSync(join(REPO, a1!.path), 'utf8')).payload, 'base64').toString('utf8'));
    st1.predicate.finishedOn = new Date(0).toISOString();
    const signer = localSigner(parsePrivateKey(readFileSync(p('r1.pem')), 'r1'));
    writeFileSync(p('r1-again.intoto.json'), canonicalJson(await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(st1)), [signer])));
    await ok(['publish', '--attestation', p('r1-again.intoto.json'), '--repo', d, '--key', p('rel.pem')]);
    const rr = await fetch2(d, 'r1', 'r3');
    expect(rr.code).toBe(1);
    expect(errorLine(rr)).toMatch(/missing confirmation of artifact:firmware\.OVMF\.fd \(1 of 2\)/);
  }, 120_000);

  it('a CoRIM consumer: manifest verify counts match attestations naming the CoRIM digest', async () => {
    const index = JSON.parse(readFileSync(join(REPO, 'index.json'), 'utf8'));
    const atts = (v: string) =>
      (index.releases.find((x: { version: string }) => x.version === v).attestations as { path: string }[]).map((a) => join(REPO, a.path));
    const corim = p('a-manifest/pcr.corim.cbor');
    const base = ['manifest', 'verify', corim, '--trust', p('rel.pub.pem'), ...rebuilders('2', 'r1', 'r2')];
    const good = JSON.parse(await ok([...base, ...atts('1').flatMap((a) => ['--attestation', a]), '--json']));
    expect(schema('manifest-verify')(good)).toBe(true);
    expect(good.results[0].rebuilds.keyIds).toHaveLength(2);
    // r1's mismatch attestation (uki@2 names the same CoRIM) and r2's match: one key
    const bad = await run([...base, '--attestation', atts('2')[0]!, '--attestation', atts('1')[1]!]);
    expect(bad.code).toBe(1);
    expect(errorLine(bad)).toMatch(/rebuild threshold not met: 2 distinct rebuilder keys must attest match .*, 1 did \(not counted: uki@2: verdict mismatch\)/);
  });

  const absent = missingOf([...QEMU_TOOLS, 'mkfs.vfat', 'mmd', 'mcopy'], [CODE, VARS]);
  it.skipIf(absent.length > 0)(
    `real evidence: the UKI's TPM log (QEMU + OVMF + swtpm) verifies with --rebuild-threshold 2, and not for the mismatched release${absent.length ? ` [SKIPPED: missing ${absent.join(', ')}]` : ''}`,
    async () => {
      const b = p('boot');
      mkdirSync(b);
      const guest = await boot(b, { firmware: { vars: VARS }, media: diskMedia(makeFatImage(b, p('a/uki.efi'))) });
      writeFileSync(join(b, 'eventlog.bin'), guest.log);
      writeFileSync(join(b, 'pcrs.json'), JSON.stringify(guest.pcrs));
      const verify = (release: string, k: string) =>
        run([
          'verify',
          join(b, 'eventlog.bin'),
          '--pcrs',
          join(b, 'pcrs.json'),
          '--reference',
          `${REPO}#${release}`,
          '--trust',
          p('rel.pub.pem'),
          ...rebuilders(k, 'r1', 'r2'),
        ]);
      const v = await verify('uki@1', '2');
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/match: pcr .*boot\.shape=uki/);
      const bad = await verify('uki@2', '2');
      expect(bad.code).toBe(1);
      expect(errorLine(bad)).toMatch(/rebuild threshold not met for uki@2: .*missing confirmation of artifact:initrd\.initrd\.cpio \(0 of 2\)/);
      expect(existsSync(p('boot/eventlog.bin'))).toBe(true);
    },
    400_000,
  );
});
