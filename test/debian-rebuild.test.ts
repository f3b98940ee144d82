import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparePackage } from '../src/build/debian/compare.js';
import { measureFirmware } from '../src/build/debian/measure.js';
import { buildDepends, controlField, sourceOf } from '../src/build/debian/fetch.js';
import { parseBuildinfo } from '../src/build/debian/rootfs.js';
import { globRegExp, installMap, parseInstall, parseLinks, planSteps } from '../src/build/debian/plan.js';
import { checkBuildinfo, resetIfOtherBuild } from '../src/build/debian/rebuild.js';
import { InputError } from '../src/errors.js';
import { listArchive } from '../src/build/inputs/member.js';
import { parseFirmwareVolume, parseSections, EFI_SECTION_PE32 } from '../src/formats/firmware-volume.js';
import { findSection, parsePe } from '../src/formats/pe.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, shared } from './helpers/shared.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'debian');

describe('the build plan read from debian/rules (make -n of edk2 2022.11-6+deb12u2, target build-ovmf)', () => {
  const steps = planSteps(readFileSync(join(FIXTURES, 'edk2-2022.11-6+deb12u2.build-ovmf.dry-run.txt'), 'utf8'), ['debian/ovmf-install']);

  it('four edk2 platform builds in the rules order, each once, with their flags and outputs', () => {
    const builds = steps.filter((s) => s.kind === 'edk2-build');
    expect(builds.map((s) => [s.platform, s.arch!.join('+'), s.defines!.filter((d) => /FD_SIZE|SMM/.test(d)).join(' ')])).toEqual([
      ['OvmfPkg/OvmfPkgX64.dsc', 'X64', '-DFD_SIZE_2MB'],
      ['OvmfPkg/OvmfPkgIa32X64.dsc', 'IA32+X64', '-DFD_SIZE_4MB'],
      ['OvmfPkg/OvmfPkgX64.dsc', 'X64', '-DFD_SIZE_2MB -DSMM_REQUIRE=TRUE'],
      ['OvmfPkg/OvmfPkgIa32X64.dsc', 'IA32+X64', '-DFD_SIZE_4MB -DSMM_REQUIRE=TRUE'],
    ]);
    expect(builds[0]!.outputs).toEqual(['debian/ovmf-install/OVMF_CODE.fd', 'debian/ovmf-install/OVMF.fd', 'debian/ovmf-install/OVMF_VARS.fd']);
    expect(builds[3]!.outputs).toEqual(['debian/ovmf-install/OVMF_CODE_4M.secboot.fd']);
    expect(builds.every((s) => s.buildType === 'RELEASE' && s.toolchain === 'GCC5' && s.defines!.includes('-DSECURE_BOOT_ENABLE=TRUE'))).toBe(true);
  });

  it('then the three pre-enrolled variable stores, each a separate step', () => {
    const vars = steps.filter((s) => s.kind === 'command');
    expect(vars.map((s) => s.outputs)).toEqual([
      ['debian/ovmf-install/OVMF_VARS.ms.fd'],
      ['debian/ovmf-install/OVMF_VARS_4M.ms.fd'],
      ['debian/ovmf-install/OVMF_VARS_4M.snakeoil.fd'],
    ]);
    expect(steps.map((s) => s.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

/** A byte inside SecMain's .text: SEC is the one volume of OVMF_CODE.fd that is not compressed. */
function secMainTextOffset(image: Buffer): number {
  for (let at = 0; at < image.length; at += 0x1000) {
    if (image.readUInt32LE(at + 40) !== 0x4856465f) continue;
    const fv = parseFirmwareVolume(image.subarray(at));
    for (const f of fv.files) {
      const pe = parseSections(f.data).find((s) => s.type === EFI_SECTION_PE32);
      if (f.guid !== 'df1ccef6-f301-4a63-9661-fc6030dcc880' || !pe) continue; // SecMain's FILE_GUID (OvmfPkg/Sec/SecMain.inf)
      return at + f.dataOffset + pe.dataOffset + findSection(parsePe(pe.data), '.text')!.pointerToRawData + 0x40;
    }
  }
  throw new Error('no SecMain');
}

/** A binary package built locally with dpkg-deb from `files` (path → bytes or a symlink target). */
function deb(dir: string, files: Record<string, Uint8Array | { symlink: string }>): string {
  const root = join(dir, 'pkg');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(join(root, 'DEBIAN', 'control'), 'Package: ovmf\nVersion: 1\nArchitecture: all\nMaintainer: test <t@example.org>\nDescription: synthetic\n');
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    if ('symlink' in v) symlinkSync(v.symlink, join(root, p));
    else writeFileSync(join(root, p), v);
  }
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, join(dir, 'ovmf.deb')], { stdio: 'ignore' });
  return join(dir, 'ovmf.deb');
}

describeShared('a binary package against its rebuilt source tree (synthetic package, real OVMF image)', () => {
  const code = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE.fd'));
  const vars = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd'));
  const rules = parseInstall('debian/ovmf-install/OVMF_CODE*.fd\t/usr/share/OVMF\ndebian/ovmf-install/OVMF_VARS*.fd /usr/share/OVMF\n', 'ovmf.install');
  const links = parseLinks('usr/share/OVMF/OVMF_CODE.secboot.fd usr/share/OVMF/OVMF_CODE.ms.fd\n', 'ovmf.links');
  // the rebuild produced OVMF_CODE.fd and OVMF_VARS.fd; the step making OVMF_CODE.secboot.fd did not run
  const rebuilt = new Map<string, Uint8Array>([
    ['debian/ovmf-install/OVMF_CODE.fd', code],
    ['debian/ovmf-install/OVMF_VARS.fd', vars],
  ]);
  const planned = [...rebuilt.keys(), 'debian/ovmf-install/OVMF_CODE.secboot.fd'];
  const run = async (shippedCode: Uint8Array) => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-deb-'));
    const path = deb(dir, {
      'usr/share/OVMF/OVMF_CODE.fd': shippedCode,
      'usr/share/OVMF/OVMF_VARS.fd': vars,
      'usr/share/OVMF/OVMF_CODE.secboot.fd': code,
      'usr/share/OVMF/OVMF_CODE.ms.fd': { symlink: 'OVMF_CODE.secboot.fd' },
      'usr/share/doc/ovmf/copyright': Buffer.from('synthetic\n'),
    });
    const results = comparePackage({
      shipped: await listArchive(path, 'ovmf.deb'),
      origins: installMap(rules, planned),
      links,
      rebuilt,
      notBuilt: (f) => `${f}: its step (4/7) was not run`,
      pkg: 'ovmf',
    });
    return new Map(results.map((r) => [r.path, r]));
  };

  it('the untampered package: the rebuilt files are reproduced; every other file has its reason', async () => {
    const r = await run(code);
    expect(r.get('usr/share/OVMF/OVMF_CODE.fd')).toMatchObject({ status: 'reproduced', firmware: true, from: 'debian/ovmf-install/OVMF_CODE.fd' });
    expect(r.get('usr/share/OVMF/OVMF_VARS.fd')!.status).toBe('reproduced');
    expect(r.get('usr/share/OVMF/OVMF_CODE.secboot.fd')).toMatchObject({
      status: 'not attempted',
      reason: 'debian/ovmf-install/OVMF_CODE.secboot.fd: its step (4/7) was not run',
    });
    expect(r.get('usr/share/OVMF/OVMF_CODE.ms.fd')).toMatchObject({ status: 'not attempted', shipped: { symlink: 'OVMF_CODE.secboot.fd' } });
    expect(r.get('usr/share/OVMF/OVMF_CODE.ms.fd')!.reason).toMatch(/^symlink to usr\/share\/OVMF\/OVMF_CODE.secboot.fd \(debian\/ovmf.links\); /);
    expect(r.get('usr/share/doc/ovmf/copyright')).toMatchObject({ status: 'not attempted', firmware: false });
    expect(r.get('usr/share/doc/ovmf/copyright')!.reason).toMatch(/not a build output/);
  });

  it('one byte changed in a firmware file of the package: differs, naming the volume, the module and its PE section', async () => {
    const tampered = Buffer.from(code);
    const at = secMainTextOffset(tampered);
    tampered[at] = tampered[at]! ^ 0x01;
    const r = (await run(tampered)).get('usr/share/OVMF/OVMF_CODE.fd')!;
    expect(r.status).toBe('differs');
    expect(r.rebuilt!.sha256).toBe(
      execFileSync('sha256sum', [shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE.fd')], { encoding: 'utf8' }).split(' ')[0],
    );
    expect(r.parts).toEqual([
      expect.stringMatching(/^firmware FV@0x[0-9a-f]+ FFS df1ccef6-f301-4a63-9661-fc6030dcc880 \(SecMain\) differs: PE section \.text differs$/),
    ]);
  });
});

describe('the source package and the build environment, as Debian records them', () => {
  const dsc = readFileSync(join(FIXTURES, 'edk2_2022.11-6+deb12u2.dsc'), 'utf8');

  it("Build-Depends of the archive's edk2 .dsc for amd64 and i386 (the [i386] restriction, debhelper-compat)", () => {
    const common = ['bc', 'debhelper', 'dosfstools', 'dpkg', 'gcc-aarch64-linux-gnu', 'gcc-arm-linux-gnueabi', 'iasl', 'mtools', 'nasm', 'python3'];
    const rest = ['python3-distutils', 'python3-pexpect', 'qemu-system-arm', 'qemu-system-x86', 'qemu-utils', 'uuid-dev', 'xorriso'];
    expect(buildDepends(dsc, 'amd64')).toEqual([...common, ...rest]);
    expect(buildDepends(dsc, 'i386')).toEqual([...common.slice(0, 6), 'gcc-multilib', ...common.slice(6), ...rest]);
    expect(controlField(dsc, 'Binary')).toBe('ovmf, ovmf-ia32, qemu-efi-arm, qemu-efi-aarch64, qemu-efi');
  });

  it('the source of a binary package (Source field with and without a version; absent: itself, binNMU suffix dropped)', () => {
    expect(sourceOf('Package: ovmf\nSource: edk2\n', 'ovmf', '2022.11-6+deb12u2')).toEqual({ name: 'edk2', version: '2022.11-6+deb12u2' });
    expect(sourceOf('Package: x\nSource: y (1.0-1)\n', 'x', '1.0-1+b2')).toEqual({ name: 'y', version: '1.0-1' });
    expect(sourceOf('Package: z\n', 'z', '2.0-3+b1')).toEqual({ name: 'z', version: '2.0-3' });
    expect(() => sourceOf('Source: a b c\n', 'x', '1')).toThrow(/malformed Source field/);
  });

  it('a .buildinfo pins the rootfs (Installed-Build-Depends) and the build path; anything else is refused', () => {
    const bi = parseBuildinfo(
      'Format: 1.0\nSource: edk2\nVersion: 2022.11-6+deb12u2\nBuild-Path: /build/reproducible-path/edk2-2022.11\nInstalled-Build-Depends:\n autoconf (= 2.71-3),\n gcc-12 (= 12.2.0-14),\n libc6:amd64 (= 2.36-9+deb12u9)\n',
      'x.buildinfo',
    );
    expect(bi).toEqual({
      source: 'edk2',
      version: '2022.11-6+deb12u2',
      buildPath: '/build/reproducible-path/edk2-2022.11',
      installed: [
        { name: 'autoconf', version: '2.71-3' },
        { name: 'gcc-12', version: '12.2.0-14' },
        { name: 'libc6', version: '2.36-9+deb12u9' },
      ],
    });
    expect(() => parseBuildinfo('Source: a\nVersion: 1\n', 'x.buildinfo')).toThrow(/not a \.buildinfo/);
    expect(() => parseBuildinfo('Source: a\nVersion: 1\nInstalled-Build-Depends: gcc (>= 1)\n', 'x.buildinfo')).toThrow(/not "name \(= version\)"/);
  });
});

describe('hostile or unusual package metadata (review findings)', () => {
  it('Build-Depends: architecture wildcards, alternatives past an excluded one, build profiles (none active)', () => {
    const dsc =
      'Source: t\nBuild-Depends: debhelper-compat (= 13), libselinux1-dev [linux-any], libcap-dev [any-amd64], libfoo-dev [i386] | libbar-dev,\n gcc-multilib [amd64], libcross <cross>, libtest <!nocheck>, libnot [!amd64], libeither <cross> <!nocheck>\n';
    expect(buildDepends(dsc, 'amd64')).toEqual(['debhelper', 'gcc-multilib', 'libbar-dev', 'libcap-dev', 'libeither', 'libselinux1-dev', 'libtest']);
    expect(buildDepends(dsc, 'i386')).toEqual(['debhelper', 'libeither', 'libfoo-dev', 'libnot', 'libselinux1-dev', 'libtest']);
  });

  it('a .buildinfo of another source or version is refused before it pins anything', () => {
    const pk = {
      binary: { name: 'ovmf', version: '2022.11-6+deb12u2', deb: { name: 'd', sha256: '0' } },
      source: { name: 'edk2', version: '2022.11-6+deb12u2', dsc: { name: 'e', sha256: '0' }, files: [] },
    };
    const bi = (source: string, version: string) => ({ source, version, installed: [], buildPath: undefined });
    expect(() => checkBuildinfo(bi('edk2', '2022.11-6+deb12u2'), pk, 'a.buildinfo')).not.toThrow();
    expect(() => checkBuildinfo(bi('linux', '6.1-1'), pk, 'a.buildinfo')).toThrow(
      /a\.buildinfo: a \.buildinfo of linux 6\.1-1, not of edk2 2022\.11-6\+deb12u2/,
    );
    expect(() => checkBuildinfo(bi('edk2', '2022.11-6+deb12u1'), pk, 'a.buildinfo')).toThrow(InputError);
  });

  it('.install globs and paths: a bad class is one line, `..` destinations and links are refused, one-path lines read debian/tmp', () => {
    expect(() => parseInstall('debian/ovmf-install/OVMF_[z-a].fd usr/share/OVMF\n', 'ovmf.install')).toThrow(/ovmf\.install: bad glob/);
    expect(() => parseInstall('debian/x/a.fd ../../etc\n', 'ovmf.install')).toThrow(/destination "\.\.\/\.\.\/etc" leaves/);
    expect(() => parseLinks('usr/a ../../etc/b\n', 'ovmf.links')).toThrow(/link "\.\.\/\.\.\/etc\/b" leaves/);
    expect(globRegExp('a[]]b').test('a]b')).toBe(true);
    expect(globRegExp('[!a]x').test('bx')).toBe(true);
    expect(globRegExp('[!a]x').test('ax')).toBe(false);
    expect(globRegExp('a^b').test('a^b')).toBe(true);
    const rules = parseInstall('usr/lib/foo*\nbin/tool\n', 'p.install');
    expect([...installMap(rules, ['debian/tmp/usr/lib/foo.so', 'bin/tool'])]).toEqual([
      ['usr/lib/foo.so', 'debian/tmp/usr/lib/foo.so'],
      ['bin/tool', 'bin/tool'],
    ]);
  });

  it("a dry run's copy out of the staging directory is not a planned output", () => {
    const steps = planSteps(
      'build -a X64 -p OvmfPkg/OvmfPkgX64.dsc\ncp Build/a.fd debian/ovmf-install/../../../../etc/foo\ncp Build/b.fd debian/ovmf-install/b.fd\n',
      ['debian/ovmf-install'],
    );
    expect(steps.flatMap((s) => s.outputs)).toEqual(['debian/ovmf-install/b.fd']);
  });

  it('a work directory built for another target, rootfs, path, environment or backend is emptied before use', async () => {
    const work = mkdtempSync(join(tmpdir(), 'cvm-debwork-'));
    const id = { target: 'build-ovmf', rootfs: 'a'.repeat(64), buildPath: '/build/x/edk2-2022.11', env: { TZ: 'UTC' }, backend: 'bwrap' };
    const seed = () => {
      mkdirSync(join(work, 'build', 'edk2-2022.11'), { recursive: true });
      for (const f of ['plan.txt', 'build.done.json', 'build.log']) writeFileSync(join(work, f), '{truncated');
    };
    seed(); // a tree from before identities were recorded: emptied
    await resetIfOtherBuild(work, id);
    expect(readdirSync(work).sort()).toEqual(['build.identity.json']);
    seed(); // the same build again: kept (a resumed or cached build)
    await resetIfOtherBuild(work, id);
    expect(readdirSync(work).sort()).toEqual(['build', 'build.done.json', 'build.identity.json', 'build.log', 'plan.txt']);
    for (const other of [{ target: 'build-ovmf32' }, { rootfs: 'b'.repeat(64) }, { buildPath: '/build/y/edk2-2022.11' }, { env: {} }, { backend: 'podman' }]) {
      seed();
      await resetIfOtherBuild(work, { ...id, ...other });
      expect(readdirSync(work), JSON.stringify(other)).toEqual(['build.identity.json']);
      await resetIfOtherBuild(work, id);
    }
  });
});

describe('rebuild --debian: usage', () => {
  it('refuses a malformed package, a repository source beside it, --buildinfo without it, and no source at all (exit 2)', async () => {
    const key = join(mkdtempSync(join(tmpdir(), 'cvm-key-')), 'k.pem');
    expect((await cli(['keys', 'generate', '--alg', 'ed25519', '--out', key])).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [['--debian', 'Not A Package'], /--debian "Not A Package": expected PKG or PKG=VERSION/],
      [['/srv/rv', '--debian', 'ovmf'], /give no repository <source> with it/],
      [['/srv/rv', '--buildinfo', 'x.buildinfo', '--trust', key], /--buildinfo goes with --debian/],
      [[], /missing <source>/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['rebuild', ...args, '--key', key]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLine(r)).toMatch(re);
    }
  });
});

describeShared("the measurements of a confirmed image (Debian's OVMF.fd) against sev-snp-measure and the TDX vectors", () => {
  const vector = (file: string, id: string) => {
    const v = JSON.parse(readFileSync(shared(`vectors/${file}`), 'utf8')) as {
      cases?: { id: string; expected: { digest: string } }[];
      vectors?: { id: string; expected: { mrtd_single_pass: string } }[];
    };
    return [...(v.cases ?? []), ...(v.vectors ?? [])].find((c) => c.id === id)!.expected as { digest?: string; mrtd_single_pass?: string };
  };
  it('SNP on QEMU per vCPU type and count, and the MRTD', () => {
    const m = measureFirmware('usr/share/ovmf/OVMF.fd', readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd')));
    expect([m.sev, m.tdx, m.notes]).toEqual([true, true, []]);
    const snp = (type: string) => m.measurements.find((x) => x.kind === 'snp' && x.vcpu?.type === type);
    const digest = (type: string, n: number) => {
      const s = snp(type);
      return s?.kind === 'snp' ? s.digests[String(n)] : undefined;
    };
    expect(digest('EPYC-Milan', 4)).toBe(vector('snp.json', 'snp-qemu-bookworm-EPYC-Milan-4vcpu').digest);
    expect(digest('EPYC-Genoa', 4)).toBe(vector('snp.json', 'snp-qemu-bookworm-EPYC-Genoa-4vcpu').digest);
    expect(digest('EPYC-Turin', 4)).toBe(vector('snp.json', 'snp-qemu-bookworm-EPYC-Turin-4vcpu').digest);
    expect(Object.keys((snp('EPYC-Milan') as { digests: Record<string, string> }).digests)).toHaveLength(64);
    const tdx = m.measurements.find((x) => x.kind === 'tdx');
    expect(tdx?.kind === 'tdx' ? tdx.mrtd : undefined).toBe(vector('tdx.json', 'debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd').mrtd_single_pass);
  });
  it('the split OVMF_CODE.fd: SNP digests; no MRTD, with the reason', () => {
    const m = measureFirmware('usr/share/OVMF/OVMF_CODE.fd', readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE.fd')));
    expect(m.measurements.map((x) => x.kind)).toEqual(['snp', 'snp', 'snp']);
    expect(m.notes).toEqual([expect.stringMatching(/^tdx: .*past the end of the 0x1e0000-byte file/)]);
  });
});
