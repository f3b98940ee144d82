/**
 * `cvm-measure rebuild --debian PKG[=VERSION]`: confirms a Debian binary package's firmware by rebuilding
 * its source package. The binary and source packages come pinned by the archive's signed metadata
 * (fetch.ts); the source is unpacked and built with Debian's own rules (`dpkg-buildpackage
 * --rules-target=build-PKG`, the rules' plan read first: plan.ts) in the sandbox — no network, every
 * capability dropped — on a pinned bookworm rootfs holding the Build-Depends, at Debian's builder path
 * (edk2's GenFw pads .data by the absolute build path's length, so the path is part of the bytes). Every
 * file the package ships is then reproduced / differs / not attempted (compare.ts); the reproduced
 * firmware is measured (measure.ts) and named in a signed rebuild attestation. The unpacked tree and
 * make's stamps stay in the cache: an interrupted run resumes where make stopped.
 */
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { release as kernelRelease } from 'node:os';
import { join, posix } from 'node:path';
import { execa } from 'execa';
import { BuildError, InputError } from '../../errors.js';
import type { RebuildPredicate } from '../../manifest/rebuild-attestation.js';
import { rebuildStatement } from '../../manifest/rebuild-attestation.js';
import { statementBytes } from '../../manifest/intoto.js';
import { canonicalJson } from '../../sign/canonical-json.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../../sign/dsse.js';
import type { Signer } from '../../sign/signer.js';
import { pidLock, writeDirAtomic, writeFileAtomic } from '../../util/fs.js';
import { packageVersion } from '../../util/package.js';
import { cachedBase, ensureRootfs } from '../base.js';
import { Cache } from '../cache.js';
import { listArchive } from '../inputs/member.js';
import { Logger } from '../logger.js';
import { selectSandbox, sandboxEnv } from '../sandbox/index.js';
import type { BackendPref, Sandbox } from '../sandbox/types.js';
import { comparePackage, type FileResult } from './compare.js';
import { aptCandidate, buildDepends, fetchDebian, type DebianPackages } from './fetch.js';
import { CLOUD_VMMS_NOT_APPLICABLE, type FirmwareMeasurements, measureFirmware, SNP_VCPU_TYPES } from './measure.js';
import { DH_TMP, installMap, parseInstall, parseLinks, type PlanStep, planSteps } from './plan.js';
import { type Buildinfo, installedPackages, parseBuildinfo } from './rootfs.js';

/** Build-Depends a rules target of another binary package needs, left out of the rootfs (per source package). */
export const OMITTED_BUILD_DEPENDS: Readonly<Record<string, { packages: string[]; why: string }>> = {
  edk2: {
    packages: ['gcc-aarch64-linux-gnu', 'gcc-arm-linux-gnueabi', 'qemu-system-arm'],
    why: 'the ARM cross toolchains and emulator of the build-qemu-efi-aarch64 / build-qemu-efi-arm targets (packages qemu-efi-aarch64, qemu-efi-arm)',
  },
};

const BUILD_ARCH = 'amd64';

export type DebianProgress = { kind: 'step'; text: string } | { kind: 'done'; text: string };

export interface DebianRebuildOptions {
  /** Binary package name. */
  pkg: string;
  /** Default: the candidate apt sees (the result says so). */
  version?: string;
  signer: Signer;
  out: string;
  backend: BackendPref;
  /** A .buildinfo's text: the rootfs gets exactly its Installed-Build-Depends versions and its Build-Path. */
  buildinfo?: { text: string; name: string };
  cache?: Cache;
  onProgress?: (e: DebianProgress) => void;
}

export interface StepResult {
  index: number;
  what: string;
  status: 'built' | 'failed' | 'not run';
  seconds: number | null;
  outputs: string[];
}

export interface DebianRebuildResult {
  package: { name: string; version: string; versionFrom: 'argument' | 'apt candidate'; sha256: string };
  source: { name: string; version: string; dscSha256: string; files: { name: string; sha256: string }[] };
  inputsFrom: 'cache' | 'mirror';
  environment: DebianEnvironment;
  steps: StepResult[];
  files: FileResult[];
  summary: Record<'reproduced' | 'differs' | 'not attempted', number>;
  measurements: FirmwareMeasurements[];
  attestation: { path: string; sha256: string; keyId: string; subjects: number } | null;
  out: string;
  seconds: number;
}

export interface DebianEnvironment {
  backend: string;
  buildPath: string;
  target: string;
  command: string;
  env: Record<string, string>;
  rootfs: { suite: string; variant: string; sha256: string; include: string[]; omitted: string[]; omittedWhy: string | null; buildinfo: string | null };
  /** Every package installed in the rootfs (dpkg status), name → version. */
  installed: Record<string, string>;
  snpVcpuTypes: readonly string[];
  notMeasured: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `edk2 (2022.11-6+deb12u2)` → the directory dpkg-source unpacks to: `edk2-2022.11` (upstream version without epoch). */
function treeName(src: { name: string; version: string }): string {
  return `${src.name}-${src.version.replace(/^\d+:/, '').replace(/-[^-]+$/, '')}`;
}

/** The changelog's first trailer date as SOURCE_DATE_EPOCH, the way dpkg-buildpackage sets it. */
function changelogEpoch(changelog: string): number {
  const m = /^ -- .*?> {2}(.+)$/m.exec(changelog);
  const t = m ? Date.parse(m[1]!) : Number.NaN;
  if (!Number.isFinite(t)) throw new InputError('debian/changelog: no maintainer trailer with a date');
  return Math.floor(t / 1000);
}

/**
 * Rebuilds `o.pkg`'s source package and compares every file it ships; writes `o.out` (result.json,
 * measurements.json, rebuild.intoto.json when some firmware was reproduced, build.log) as a unit.
 * @throws {InputError} when apt does not know the package or a pinned file does not match.
 * @throws {BuildError} when the sandbox, rootfs or plan cannot be set up (a failing build step is a result).
 */
export async function rebuildDebian(o: DebianRebuildOptions): Promise<DebianRebuildResult> {
  const t0 = performance.now();
  const startedOn = new Date();
  const cache = o.cache ?? new Cache();
  const step = (text: string) => o.onProgress?.({ kind: 'step', text });
  const done = (text: string) => o.onProgress?.({ kind: 'done', text });

  // 1. the packages, pinned
  const version = o.version ?? (await aptCandidate(o.pkg));
  step(`fetch ${o.pkg}=${version} and its source package`);
  const pk = await fetchDebian(cache, o.pkg, version);
  const dsc = await readFile(cache.blobPath(pk.source.dsc.sha256), 'utf8');
  done(`${pk.from === 'cache' ? 'cached' : 'fetched'} ${o.pkg}=${version} (source ${pk.source.name} ${pk.source.version})`);

  // 2. the rootfs: Build-Depends (or the .buildinfo's exact versions) on bookworm's buildd variant
  const omit = OMITTED_BUILD_DEPENDS[pk.source.name];
  const bi = o.buildinfo ? parseBuildinfo(o.buildinfo.text, o.buildinfo.name) : undefined;
  if (bi) checkBuildinfo(bi, pk, o.buildinfo!.name);
  // dpkg is Essential (always installed; bookworm's meets the Build-Depends version); dpkg-dev runs the build
  const deps = buildDepends(dsc, BUILD_ARCH).filter((p) => p !== 'dpkg' && !omit?.packages.includes(p));
  const include = bi ? bi.installed.map((p) => `${p.name}=${p.version}`) : [...new Set([...deps, 'dpkg-dev'])].sort();
  const base = { suite: 'bookworm', variant: 'buildd', include };
  const work = join(cache.root, 'debian-rebuild', `${pk.source.name}_${pk.source.version}`);
  await mkdir(work, { recursive: true });
  // one run at a time per source tree, from the copy of the source files to the reading of the rebuilt ones
  const release = await pidLock(`${work}.lock`, (pid) => {
    throw new BuildError(`${work} is being built by process ${pid}; wait for it (the next run resumes from its tree)`);
  });
  try {
    const log = new Logger(join(work, 'cvm-measure.log'));
    const debTar = await fetchTree(cache, pk, work);
    const epoch = changelogEpoch(debTar.changelog);
    const rootfsSha = await cachedBase(cache, base, epoch, log, () => step(`rootfs bookworm/buildd with ${include.length} build dependencies (mmdebstrap)`));
    const rootfs = await ensureRootfs(cache, base, rootfsSha, epoch, log, (l) => step(l));
    const sandbox = await selectSandbox(o.backend);
    const buildPath = bi?.buildPath ?? `/build/reproducible-path/${treeName(pk.source)}`;
    if (!/^\/build\/[A-Za-z0-9._+-]+\/[A-Za-z0-9._+-]+$/.test(buildPath))
      throw new InputError(`build path ${buildPath}: must be /build/<dir>/<tree> (the sandbox's writable /build)`);
    const target = `build-${o.pkg}`;
    const env = sandboxEnv({ sourceDateEpoch: epoch, jobs: 2, home: `${posix.dirname(buildPath)}/.home` });
    const command = `dpkg-buildpackage --no-sign -d --rules-target=${target}`;
    const environment: DebianEnvironment = {
      backend: sandbox.name,
      buildPath,
      target,
      command,
      env,
      rootfs: {
        suite: base.suite,
        variant: base.variant,
        sha256: rootfsSha,
        include,
        omitted: bi ? [] : (omit?.packages ?? []),
        omittedWhy: bi ? null : (omit?.why ?? null),
        buildinfo: o.buildinfo?.name ?? null,
      },
      installed: await installedPackages(rootfs),
      snpVcpuTypes: SNP_VCPU_TYPES,
      notMeasured: CLOUD_VMMS_NOT_APPLICABLE,
    };

    // 3. the plan, from the rules alone (a bare copy of debian/, so a half-built tree does not shorten it)
    const run = (dir: string, script: string, logFile: string, binds: { source: string; target: string; writable: boolean }[] = []) =>
      runIn(sandbox, rootfs, dir, buildPath, env, script, logFile, binds);
    const buildLog = join(work, 'build.log');
    // a tree built for another target, rootfs, path, environment or backend is not this build: start over
    await resetIfOtherBuild(work, { target, rootfs: rootfsSha, buildPath, env, backend: sandbox.name });
    const plan = await planFor(work, debTar.dir, posix.basename(buildPath), target, o.pkg, run);
    // 4. the build (resumed by make's own stamps when an earlier run stopped)
    const steps = await buildWithProgress(work, buildPath, plan, command, buildLog, run, step, done);

    // 5. every shipped file against the tree
    const tree = join(work, 'build', posix.basename(buildPath));
    const rules = parseInstall(await readFile(join(tree, 'debian', `${o.pkg}.install`), 'utf8').catch(() => ''), `debian/${o.pkg}.install`);
    const links = parseLinks(await readFile(join(tree, 'debian', `${o.pkg}.links`), 'utf8').catch(() => ''), `debian/${o.pkg}.links`);
    const planned = plan.flatMap((s) => s.outputs);
    const candidates = new Set(planned);
    for (const r of rules)
      for (const s of r.sources)
        for (const dir of r.dest === undefined ? [posix.dirname(`${DH_TMP}${s}`), posix.dirname(s)] : [posix.dirname(s)])
          for (const f of await listDir(tree, dir)) candidates.add(f);
    const origins = installMap(rules, [...candidates]);
    const rebuilt = new Map<string, Uint8Array>();
    for (const f of new Set(origins.values())) {
      // regular files only: a symbolic link in the tree could point anywhere on the host
      const st = await lstat(join(tree, f)).catch(() => undefined);
      if (st?.isFile()) rebuilt.set(f, await readFile(join(tree, f)));
    }
    const files = comparePackage({
      shipped: await listArchive(cache.blobPath(pk.binary.deb.sha256), `${o.pkg}=${version}`),
      origins,
      links,
      rebuilt,
      notBuilt: (f) => whyNotBuilt(f, steps),
      pkg: o.pkg,
    });

    // 6. measurements of the reproduced firmware, and the signed attestation naming it
    const reproduced = files.filter((f) => f.status === 'reproduced' && f.firmware && 'sha256' in f.shipped);
    const measurements = reproduced.map((f) => measureFirmware(f.path, rebuilt.get(f.from!)!)).filter((m) => m.sev || m.tdx);
    const summary = { reproduced: 0, differs: 0, 'not attempted': 0 };
    for (const f of files) summary[f.status]++;
    const outFiles: { name: string; data: string | Uint8Array }[] = [];
    let attestation: DebianRebuildResult['attestation'] = null;
    const finishedOn = new Date();
    if (reproduced.length > 0) {
      const predicate: RebuildPredicate = {
        release: { name: `debian:${o.pkg}`, version, source: `debian source package ${pk.source.name} ${pk.source.version}` },
        rebuilder: { keyId: o.signer.keyId },
        environment: {
          backend: sandbox.name,
          kernel: kernelRelease(),
          tool: `cvm-measure ${packageVersion()}`,
          node: process.version,
          variation: { ...environment },
        },
        inputs: [
          { name: pk.binary.deb.name, sha256: pk.binary.deb.sha256, from: pk.from },
          { name: pk.source.dsc.name, sha256: pk.source.dsc.sha256, from: pk.from },
          ...pk.source.files.map((f) => ({ name: f.name, sha256: f.sha256, from: pk.from })),
          { name: `rootfs ${base.suite}/${base.variant}`, sha256: rootfsSha, from: 'cache' as const },
        ],
        verdict: 'match',
        artifacts: reproduced.map((f) => ({ name: `artifact:${f.path}`, verdict: 'match' as const, expected: f.rebuilt!.sha256, actual: f.rebuilt!.sha256 })),
        measurements: measurementValues(measurements),
        startedOn: startedOn.toISOString(),
        finishedOn: finishedOn.toISOString(),
        debian: { files },
      };
      const subjects = Object.fromEntries(reproduced.map((f) => [f.path, { sha256: f.rebuilt!.sha256 }]));
      const envlp = await signEnvelope(INTOTO_PAYLOAD_TYPE, statementBytes(rebuildStatement(subjects, predicate)), [o.signer]);
      const bytes = Buffer.from(canonicalJson(envlp), 'utf8');
      outFiles.push({ name: 'rebuild.intoto.json', data: bytes });
      attestation = { path: join(o.out, 'rebuild.intoto.json'), sha256: sha256(bytes), keyId: o.signer.keyId, subjects: reproduced.length };
    }
    const result: DebianRebuildResult = {
      package: { name: o.pkg, version, versionFrom: o.version ? 'argument' : 'apt candidate', sha256: pk.binary.deb.sha256 },
      source: { name: pk.source.name, version: pk.source.version, dscSha256: pk.source.dsc.sha256, files: pk.source.files },
      inputsFrom: pk.from,
      environment,
      steps,
      files,
      summary,
      measurements,
      attestation,
      out: o.out,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    outFiles.push(
      { name: 'measurements.json', data: `${JSON.stringify(measurements, null, 2)}\n` },
      { name: 'build.log', data: await readFile(buildLog).catch(() => Buffer.alloc(0)) },
      { name: 'result.json', data: `${JSON.stringify(result, null, 2)}\n` },
    );
    await writeDirAtomic(o.out, outFiles);
    return result;
  } finally {
    await release();
  }
}

/** The measured values as rebuild-attestation comparisons (the rebuilt bytes are the shipped bytes). */
function measurementValues(ms: FirmwareMeasurements[]): RebuildPredicate['measurements'] {
  const out: RebuildPredicate['measurements'] = [];
  for (const f of ms)
    for (const m of f.measurements) {
      const values: [string, string][] =
        m.kind === 'snp'
          ? Object.entries(m.digests).map(([n, d]) => [`snp:${m.vmm}/${m.vcpu?.type ?? 'any'}/${m.mode}/vcpus=${n}`, d])
          : m.kind === 'tdx'
            ? [['tdx:mrtd', m.mrtd]]
            : [];
      for (const [name, v] of values) out.push({ name: `${f.path}:${name}`, verdict: 'match', expected: v.toLowerCase(), actual: v.toLowerCase() });
    }
  return out;
}

/** Files directly in `rel` of the tree (relative paths), or none. */
async function listDir(tree: string, rel: string): Promise<string[]> {
  const names = await readdir(join(tree, rel)).catch(() => [] as string[]);
  return names.map((n) => posix.join(rel, n));
}

function whyNotBuilt(f: string, steps: StepResult[]): string {
  const s = steps.find((x) => x.outputs.includes(f));
  if (!s) return `${f} is not made by the rules' plan for this package`;
  const failed = steps.find((x) => x.status === 'failed');
  return s.status === 'failed'
    ? `its step ${s.index}/${steps.length} (${s.what}) failed; see build.log`
    : `its step ${s.index}/${steps.length} (${s.what}) was not run${failed ? `: step ${failed.index} failed before it` : ''}`;
}

type Run = (dir: string, script: string, logFile: string, binds?: { source: string; target: string; writable: boolean }[]) => Promise<number>;

/** One sandboxed script with `dir` as the writable parent of the build path (cwd: the build path). */
async function runIn(
  sandbox: Sandbox,
  rootfs: string,
  dir: string,
  buildPath: string,
  env: Record<string, string>,
  script: string,
  logFile: string,
  binds: { source: string; target: string; writable: boolean }[],
): Promise<number> {
  const parent = posix.dirname(buildPath);
  await mkdir(join(dir, '.home'), { recursive: true });
  await writeFile(join(dir, '.step.sh'), script);
  const { exitCode } = await sandbox.run({
    rootfs,
    binds: [{ source: dir, target: parent, writable: true }, ...binds],
    env,
    argv: ['/bin/sh', '-eu', `${parent}/.step.sh`],
    cwd: parent,
    umask: 0o022,
    logFile,
  });
  return exitCode;
}

/**
 * A .buildinfo pins the rootfs only for the build it records: its Source must be the package's source and
 * its Version the source's (or the binary's, for a binNMU).
 * @throws {InputError} naming both when it records another build.
 */
export function checkBuildinfo(bi: Buildinfo, pk: Pick<DebianPackages, 'binary' | 'source'>, what: string): void {
  if (bi.source !== pk.source.name || (bi.version !== pk.source.version && bi.version !== pk.binary.version))
    throw new InputError(
      `${what}: a .buildinfo of ${bi.source} ${bi.version}, not of ${pk.source.name} ${pk.source.version} (the source of ${pk.binary.name}=${pk.binary.version})`,
    );
}

/** What a tree in the work directory was built for; a different identity means another build. */
export interface BuildIdentity {
  target: string;
  rootfs: string;
  buildPath: string;
  env: Record<string, string>;
  backend: string;
}

/**
 * Removes the unpacked tree, the plan, the done stamp and the build log when they belong to another build
 * (or to one that recorded no identity), then records `id`: a resumed or cached build is always this one.
 */
export async function resetIfOtherBuild(work: string, id: BuildIdentity): Promise<void> {
  const file = join(work, 'build.identity.json');
  const want = canonicalJson(id);
  const have = await readFile(file, 'utf8').catch(() => undefined);
  if (have === want) return;
  for (const n of ['build', 'plan.txt', 'build.done.json', 'build.log']) await rm(join(work, n), { recursive: true, force: true });
  await writeFileAtomic(file, want);
}

/** A JSON stamp written by an earlier run; an unreadable or damaged one counts as absent. */
async function readStamp<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The source files in `work/src` (read-only in the sandbox at /src) and the debian/ directory read from the tarball. */
async function fetchTree(cache: Cache, pk: DebianPackages, work: string): Promise<{ dir: string; changelog: string }> {
  const src = join(work, 'src');
  await mkdir(src, { recursive: true });
  for (const f of [pk.source.dsc, ...pk.source.files]) {
    const have = await readFile(join(src, f.name)).catch(() => undefined);
    if (!have || sha256(have) !== f.sha256) await cache.materialize(f.sha256, join(src, f.name), f.name);
  }
  const debianTar = pk.source.files.find((f) => /\.debian\.tar\.[a-z0-9]+$/.test(f.name));
  if (!debianTar) throw new InputError(`${pk.source.name} ${pk.source.version}: not a 3.0 (quilt) source package (no .debian.tar)`);
  // GNU tar detects the compression (xz, gzip, bzip2) itself
  const r = await execa('tar', ['-xOf', join(src, debianTar.name), 'debian/changelog'], { reject: false, maxBuffer: 16 << 20 });
  if (r.exitCode !== 0) throw new InputError(`${debianTar.name}: no debian/changelog (${String(r.stderr).trim().split('\n')[0]})`);
  return { dir: src, changelog: String(r.stdout) };
}

/** Unpacks the source (once) and reads the rules' plan for `target` from a bare copy of debian/. */
async function planFor(work: string, src: string, treeDir: string, target: string, pkg: string, run: Run): Promise<PlanStep[]> {
  const build = join(work, 'build');
  await mkdir(build, { recursive: true });
  const dscName = (await readdir(src)).find((n) => n.endsWith('.dsc'))!;
  const tree = (await readdir(build).catch(() => [] as string[])).length;
  if (!(await stat(join(build, '.extracted')).catch(() => undefined))) {
    if (tree > 0) await rm(build, { recursive: true, force: true }).then(() => mkdir(build, { recursive: true }));
    const code = await run(build, `dpkg-source -x /src/${dscName} ${treeDir}\ntouch .extracted\n`, join(work, 'unpack.log'), [
      { source: src, target: '/src', writable: false },
    ]);
    if (code !== 0) throw new BuildError(`dpkg-source -x ${dscName} failed (exit ${code}); log: ${join(work, 'unpack.log')}`);
  }
  const planFile = join(work, 'plan.txt');
  let dry = await readFile(planFile, 'utf8').catch(() => undefined);
  if (dry === undefined) {
    const bare = join(work, 'plan');
    await rm(bare, { recursive: true, force: true });
    const name = treeDir;
    await cp(join(build, name, 'debian'), join(bare, name, 'debian'), { recursive: true });
    const logFile = join(work, 'plan.log');
    await rm(logFile, { force: true });
    const code = await run(bare, `cd ${name} && make -n -f debian/rules ${target}\n`, logFile);
    const text = await readFile(logFile, 'utf8');
    if (code !== 0) throw new BuildError(`debian/rules has no target ${target} for package ${pkg} (make -n exit ${code}): ${text.trim().split('\n').pop()}`);
    await writeFileAtomic(planFile, text);
    await rm(bare, { recursive: true, force: true });
    dry = text;
  }
  const steps = planSteps(dry, [`debian/${pkg}-install`, 'debian/tmp']);
  if (steps.length === 0) throw new BuildError(`debian/rules ${target}: no build steps found in its plan (${planFile})`);
  return steps;
}

const describeStep = (s: PlanStep) =>
  s.kind === 'edk2-build'
    ? `${posix.basename(s.platform ?? '?')} ${s.arch?.join('+')} ${(s.defines ?? []).filter((d) => /FD_SIZE|SMM_REQUIRE/.test(d)).join(' ')}`.trim()
    : `${s.command.split(' ').find((w) => /\.(py|sh)$/.test(w)) ?? s.command.split(' ')[0]} -> ${s.outputs.map((f) => posix.basename(f)).join(', ')}`;

/** A marker in make's echo of the step's command that says the step started. */
const startMarker = (s: PlanStep) => (s.kind === 'edk2-build' ? `-p ${s.platform}` : (s.outputs[0] ?? s.command));

/**
 * Runs the build, following make's echo in the log to report each plan step with its elapsed time;
 * a `build.done` stamp makes a finished build a cache hit.
 */
async function buildWithProgress(
  work: string,
  buildPath: string,
  plan: PlanStep[],
  command: string,
  buildLog: string,
  run: Run,
  step: (t: string) => void,
  done: (t: string) => void,
): Promise<StepResult[]> {
  const results: StepResult[] = plan.map((s) => ({ index: s.index, what: describeStep(s), status: 'not run', seconds: null, outputs: s.outputs }));
  const stamp = join(work, 'build.done.json');
  const prior = await readStamp<StepResult[]>(stamp);
  if (Array.isArray(prior) && prior.length === results.length) {
    for (const r of prior) done(`cached  step ${r.index}/${prior.length} ${r.what}${r.seconds === null ? '' : ` (built in ${r.seconds} s)`}`);
    return prior;
  }
  const tree = posix.basename(buildPath);
  const script = `cd ${tree}\n${command}\n`;
  const offset = (await stat(buildLog).catch(() => undefined))?.size ?? 0;
  let current = -1;
  let since = performance.now();
  let seen = offset;
  let carry = '';
  const advance = (to: number) => {
    const now = performance.now();
    if (current >= 0) {
      results[current]!.status = 'built';
      results[current]!.seconds = Math.round((now - since) / 100) / 10;
      done(`built   step ${current + 1}/${plan.length} ${results[current]!.what} (${results[current]!.seconds} s)`);
    }
    current = to;
    since = now;
    if (to < plan.length) step(`step ${to + 1}/${plan.length} ${results[to]!.what}`);
  };
  // markers lie within one physical line of make's echo; a partial last line waits for the next poll
  const poll = async () => {
    const text = await readFile(buildLog).catch(() => Buffer.alloc(0));
    const fresh = carry + text.subarray(seen).toString('utf8');
    seen = text.length;
    const cut = fresh.lastIndexOf('\n') + 1;
    carry = fresh.slice(cut);
    let pos = 0;
    for (let i = current + 1; i < plan.length; i++) {
      const at = fresh.slice(0, cut).indexOf(startMarker(plan[i]!), pos);
      if (at < 0) break;
      advance(i);
      pos = at + 1;
    }
  };
  step(`step 1/${plan.length} ${results[0]!.what}`);
  const timer = setInterval(() => void poll(), 5000);
  let code: number;
  try {
    code = await run(join(work, 'build'), script, buildLog);
  } finally {
    clearInterval(timer);
  }
  await poll();
  if (code === 0) {
    if (current < 0) current = 0;
    advance(plan.length);
    for (const r of results) if (r.status === 'not run') r.status = 'built'; // made before this run (make found it up to date)
    await writeFileAtomic(stamp, `${JSON.stringify(results, null, 2)}\n`);
  } else {
    const at = Math.max(current, 0);
    results[at]!.status = 'failed';
    results[at]!.seconds = Math.round((performance.now() - since) / 100) / 10;
    done(`FAILED  step ${at + 1}/${plan.length} ${results[at]!.what} (exit ${code}; log ${buildLog})`);
    for (let i = 0; i < at; i++) results[i]!.status = 'built';
  }
  return results;
}
