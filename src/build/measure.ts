/**
 * The recipe's `measure:` block: runs `cvm-measure measure snp|tdx|pcr --json` on the built artifacts,
 * so measurements.json carries exactly the objects those commands print (each with its "kind").
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { BuildError } from '../errors.js';
import { canonicalJson } from '../manifest/canonical-json.js';
import type { Cache } from './cache.js';
import type { Artifact } from './orchestrate.js';
import { PACKAGE_ROOT, type MeasureSpec } from './recipe.js';

export const MEASUREMENTS_SCHEMA = 'cvm-measure/measurements/v1';

export interface MeasurementsFile {
  schema: typeof MEASUREMENTS_SCHEMA;
  artifacts: Artifact[];
  measurements: Record<string, unknown>[];
}

/** argv lists (after `cvm-measure`, run in `out` so file paths in the JSON are relative) for the block. */
export async function measureCommands(m: MeasureSpec, artifacts: Artifact[], out: string): Promise<string[][]> {
  const path = (ref: string) => {
    const a = artifacts.find((x) => x.name === ref);
    if (!a) throw new BuildError(`measure: no artifact ${ref}`);
    return a.path;
  };
  const text = async (ref: string) => (await readFile(join(out, path(ref)))).toString('utf8');
  const direct = async (s: { kernel?: string; initrd?: string; cmdline?: string }) => [
    ...(s.kernel ? ['--kernel', path(s.kernel)] : []),
    ...(s.initrd ? ['--initrd', path(s.initrd)] : []),
    ...(s.cmdline ? ['--append', await text(s.cmdline)] : []),
  ];
  const cmds: string[][] = [];
  if (m.snp) {
    const s = m.snp;
    for (const vmm of s.vmm) {
      for (const type of s.vcpuType) {
        cmds.push(['measure', 'snp', '--firmware', path(s.firmware), '--vmm', vmm, '--vcpu-type', type, '--vcpus', s.vcpus, ...(s.guestFeatures ? ['--guest-features', s.guestFeatures] : []), ...(await direct(s))]);
      }
    }
  }
  if (m.tdx) {
    const t = m.tdx;
    cmds.push(['measure', 'tdx', '--firmware', path(t.firmware), ...(await direct(t)), ...(t.memory && t.kernel ? ['--mem', String(t.memory)] : [])]);
  }
  if (m.pcr) {
    const p = m.pcr;
    const banks = p.banks ? ['--banks', p.banks.join(',')] : [];
    for (const shape of p.shapes) {
      if (shape === 'direct') cmds.push(['measure', 'pcr', '--boot', 'direct', ...(await direct(p)), ...(p.memory ? ['--mem', String(p.memory)] : []), ...banks]);
      else cmds.push(['measure', 'pcr', '--boot', 'uki', '--uki', path(p.uki!), ...banks]);
    }
  }
  return cmds;
}

/** sha256 over the built CLI's code (every .js file under dist/): a cached measurement is reused only by the same code. */
async function codeDigest(): Promise<string> {
  const dist = resolve(PACKAGE_ROOT, 'dist');
  const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\0`).update(await readFile(join(dist, f)));
  return h.digest('hex');
}

/**
 * Runs the measurement commands (two at a time) and returns their JSON objects in order. A result is
 * cached under the digest of (code, argv, artifact digests): measurements are pure functions of those.
 */
export async function runMeasurements(m: MeasureSpec, artifacts: Artifact[], out: string, cache: Cache): Promise<Record<string, unknown>[]> {
  const cli = resolve(PACKAGE_ROOT, 'dist/cli/main.js');
  const cmds = await measureCommands(m, artifacts, out);
  const code = await codeDigest();
  const digests = artifacts.map((a) => [a.path, a.sha256]);
  const results: Record<string, unknown>[] = new Array(cmds.length);
  let next = 0;
  const worker = async () => {
    while (next < cmds.length) {
      const i = next++;
      const argv = [...cmds[i]!, '--json'];
      const key = createHash('sha256').update(canonicalJson({ code, argv, digests })).digest('hex');
      const cached = await cache.getJson<Record<string, unknown>>('measurements', key);
      if (cached) {
        results[i] = cached;
        continue;
      }
      const r = await new Promise<{ exitCode: number; stdout: string; stderr: string }>((res) =>
        execFile(process.execPath, [cli, ...argv], { cwd: out, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20 }, (e, stdout, stderr) =>
          res({ exitCode: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
      if (r.exitCode !== 0) {
        const err = r.stderr.split('\n').find((l) => l.includes('error:')) ?? r.stderr.trim().split('\n')[0];
        throw new BuildError(`measure: cvm-measure ${argv.slice(0, 2).join(' ')} failed: ${err?.replace(/^cvm-measure: error: /, '')}`);
      }
      results[i] = JSON.parse(r.stdout) as Record<string, unknown>;
      await cache.putJson('measurements', key, results[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}
