/** `cvm-measure rebuild`'s run; its declaration is rebuild.ts. */
import { BACKEND_PREFS } from '../../build/orchestrate.js';
import { rebuildRelease } from '../../build/rebuild.js';
import { UsageError, VerificationError } from '../../errors.js';
import { parsePrivateKey, parsePublicKey } from '../../sign/keys.js';
import { localSigner } from '../../sign/signer.js';
import { readInput } from '../../util/fs.js';
import { parseChoice, parseInteger } from '../options.js';
import { PROGRESS_MODES, printJson, printLine, progress, warn } from '../output.js';
import type { RebuildOpts } from './rebuild.js';

export async function runRebuild(source: string, opts: RebuildOpts): Promise<void> {
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
