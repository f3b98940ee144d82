/** `cvm-measure rebuild`'s run (a published release, or a Debian package with --debian); its declaration is rebuild.ts. */
import { rebuildDebian } from '../../build/debian/rebuild.js';
import { BACKEND_PREFS } from '../../build/types.js';
import { rebuildRelease } from '../../build/rebuild.js';
import { UsageError, VerificationError } from '../../errors.js';
import { parsePrivateKey, parsePublicKey } from '../../sign/keys.js';
import { localSigner } from '../../sign/signer.js';
import { readInput } from '../../util/fs.js';
import { parseChoice, parseInteger } from '../options.js';
import { PROGRESS_MODES, printJson, printLine, progress, warn } from '../output.js';
import type { RebuildOpts } from './rebuild.js';

export async function runRebuild(source: string | undefined, opts: RebuildOpts): Promise<void> {
  if (opts.debian !== undefined) {
    if (source !== undefined) throw new UsageError('--debian rebuilds a Debian package: give no repository <source> with it');
    return runDebianRebuild(opts);
  }
  if (source === undefined) throw new UsageError('missing <source>: the repository to rebuild a release from (or --debian PKG[=VERSION])');
  if (opts.buildinfo !== undefined) throw new UsageError('--buildinfo goes with --debian');
  const trust = opts.trust ?? [];
  if (trust.length === 0) throw new UsageError('--trust is required: the release is used only after the repository index verifies');
  const trusted = [];
  for (const p of trust) trusted.push(parsePublicKey(await readInput(p, 'public key'), p));
  const signer = localSigner(parsePrivateKey(await readInput(opts.key, 'key'), opts.key));
  const p = progress(parseChoice('--progress', opts.progress, PROGRESS_MODES));
  const r = await rebuildRelease(source, {
    trusted,
    threshold: parseInteger('--threshold', opts.threshold, 1, trusted.length),
    ...(opts.release ? { release: opts.release } : {}),
    signer,
    out: opts.out ?? `rebuild-${(opts.release ?? 'latest').replace('@', '-')}`,
    backend: parseChoice('--backend', opts.backend, BACKEND_PREFS),
    ...(opts.timeout ? { timeoutMs: parseInteger('--timeout', opts.timeout, 1, 3_600_000) } : {}),
    notice: warn,
    onProgress: (e) => (e.kind === 'step' ? p.step(e.text) : p.done(`${e.cached ? 'cached' : 'built '}  ${e.component} (${e.seconds.toFixed(1)} s)`)),
  }).finally(() => p.done());
  const bad = [...r.artifacts, ...r.measurements].filter((c) => c.verdict === 'mismatch');
  if (opts.json) printJson(r);
  else {
    const from = (w: string) => r.inputs.filter((i) => i.from === w).map((i) => i.name);
    for (const w of ['release', 'cache', 'mirror'])
      if (from(w).length > 0) printLine(`inputs from the ${w === 'mirror' ? 'live mirror' : w}: ${from(w).join(', ')}`);
    for (const c of r.artifacts) printLine(`${c.verdict.padEnd(8)} ${c.name.slice('artifact:'.length)}  ${c.actual ?? '(absent)'}`);
    for (const c of bad) {
      printLine(`MISMATCH ${c.name}: release ${c.expected ?? '(absent)'}, rebuilt ${c.actual ?? '(absent)'}`);
      for (const part of c.parts ?? []) printLine(`  ${part}`);
    }
    const n = (l: typeof r.artifacts) => `${l.filter((c) => c.verdict === 'match').length}/${l.length}`;
    printLine(
      `${r.verdict}: ${r.release.name}@${r.release.version}: ${n(r.artifacts)} artifacts and ${n(r.measurements)} measured values match (${r.seconds} s); attestation ${r.attestation.path} (key ${r.attestation.keyId.slice(0, 16)}…)`,
    );
  }
  if (r.verdict === 'mismatch') {
    process.exitCode = 1;
    if (!opts.json) {
      const first = bad[0]!;
      throw new VerificationError(
        `${r.release.name}@${r.release.version} does not rebuild: ${bad.length} mismatches; ${first.name}${first.parts?.length ? `: ${first.parts.slice(0, 3).join('; ')}` : ''}`,
      );
    }
  }
}

/** `rebuild --debian PKG[=VERSION]`. */
async function runDebianRebuild(opts: RebuildOpts): Promise<void> {
  const m = /^([a-z0-9][a-z0-9.+-]+)(?:=(\S+))?$/.exec(opts.debian ?? '');
  if (!m) throw new UsageError(`--debian ${JSON.stringify(opts.debian)}: expected PKG or PKG=VERSION (a Debian binary package)`);
  if (opts.trust?.length || opts.release) throw new UsageError('--trust and --release are for repository releases, not --debian');
  const signer = localSigner(parsePrivateKey(await readInput(opts.key, 'key'), opts.key));
  const buildinfo = opts.buildinfo ? { text: (await readInput(opts.buildinfo, '.buildinfo')).toString('utf8'), name: opts.buildinfo } : undefined;
  const backend = parseChoice('--backend', opts.backend, BACKEND_PREFS);
  if (backend === 'buildkit') throw new UsageError('--backend buildkit: a --debian rebuild runs in a local sandbox (auto, docker, podman, bwrap or chroot)');
  const p = progress(parseChoice('--progress', opts.progress, PROGRESS_MODES));
  const r = await rebuildDebian({
    pkg: m[1]!,
    ...(m[2] ? { version: m[2] } : {}),
    signer,
    out: opts.out ?? `rebuild-${m[1]}`,
    backend,
    ...(buildinfo ? { buildinfo } : {}),
    onProgress: (e) => (e.kind === 'step' ? p.step(e.text) : p.done(e.text)),
  }).finally(() => p.stop());
  const differs = r.files.filter((f) => f.status === 'differs');
  if (opts.json) printJson(r);
  else {
    printLine(
      `${r.package.name} ${r.package.version}${r.package.versionFrom === 'apt candidate' ? ' (the apt candidate)' : ''}, source ${r.source.name} ${r.source.version}; inputs from the ${r.inputsFrom}`,
    );
    printLine(
      `built at ${r.environment.buildPath} with \`${r.environment.command}\` (${r.environment.backend}, rootfs ${r.environment.rootfs.sha256.slice(0, 16)}…)`,
    );
    for (const s of r.steps) printLine(`  step ${s.index}/${r.steps.length} ${s.status.padEnd(7)} ${s.what}${s.seconds === null ? '' : ` (${s.seconds} s)`}`);
    for (const f of r.files) {
      const sha = 'sha256' in f.shipped ? f.shipped.sha256.slice(0, 16) : `-> ${f.shipped.symlink}`;
      printLine(`${f.status.padEnd(13)} /${f.path}  ${sha}${f.reason ? `  (${f.reason})` : ''}`);
      for (const part of (f.parts ?? []).slice(0, 12)) printLine(`    ${part}`);
      if ((f.parts?.length ?? 0) > 12) printLine(`    … ${f.parts!.length - 12} more parts (result.json)`);
    }
    for (const fm of r.measurements) {
      const snp = fm.measurements.filter((x) => x.kind === 'snp').length;
      const tdx = fm.measurements.find((x) => x.kind === 'tdx');
      printLine(
        `measured /${fm.path}: ${snp ? `SNP digests (qemu; ${snp} vCPU types x vCPUs 1-64)` : 'no SEV metadata'}; ${tdx && tdx.kind === 'tdx' ? `MRTD ${tdx.mrtd}` : fm.tdx ? 'TDX metadata, no MRTD' : 'no TDX metadata'}`,
      );
      for (const n of fm.notes) printLine(`  note: ${n}`);
    }
    const s = r.summary;
    printLine(
      `${s.reproduced} reproduced, ${s.differs} differ, ${s['not attempted']} not attempted (${r.seconds} s); ${r.attestation ? `attestation ${r.attestation.path} for ${r.attestation.subjects} reproduced firmware files (key ${r.attestation.keyId.slice(0, 16)}…)` : 'no firmware reproduced: no attestation'}; details in ${r.out}/result.json`,
    );
  }
  if (differs.length > 0) {
    process.exitCode = 1;
    if (!opts.json)
      throw new VerificationError(
        `${r.package.name} ${r.package.version}: ${differs.length} shipped files differ from the rebuild; first /${differs[0]!.path}${differs[0]!.parts?.length ? `: ${differs[0]!.parts[0]}` : ''}`,
      );
  }
}
