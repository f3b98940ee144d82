/**
 * One `build`: artifacts (orchestrate.ts, or twice with --check), measurements.json (measure.ts),
 * build-record.json (provenance.ts) and, with `sign:`, the signed manifest (src/manifest/create.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { exists, pidLock, writeFileAtomic, writeFileSetAtomic } from '../util/fs.js';
import type { CheckDifference } from './check.js';
import { MEASUREMENTS_SCHEMA } from '../manifest/model.js';
import { runMeasurements, type MeasurementsFile } from './measure.js';
import { build } from './orchestrate.js';
import type { BuildOptions, BuildResult } from './types.js';
import { buildRecord } from './provenance.js';
import { writeSourceBundle } from './source-bundle.js';
import { BUILD_FILES, type Recipe } from './recipe.js';
import { generateKey, parsePrivateKey } from '../sign/keys.js';
import { checkBuild } from './check.js';
import { localSigner } from '../sign/signer.js';
import { createManifest, MANIFEST_FORMATS } from '../manifest/create.js';

export interface PipelineOptions extends BuildOptions {
  check?: boolean;
}

export interface PipelineResult {
  build: BuildResult;
  measurements: MeasurementsFile;
  files: { measurements: string; buildRecord: string; source: string; manifest: { format: string; path: string; sha256: string }[] };
  check?: { identical: boolean; differences: CheckDifference[]; variation: Record<string, unknown> };
  signingKey?: { path: string; keyId: string; generated: boolean };
}

/**
 * The per-user build key used by `sign: {key: default}`: generated once (ECDSA P-256, mode 0600). A lock
 * makes the check and the generation one step, so concurrent builds (a matrix, two processes) share one
 * key instead of replacing each other's.
 */
async function defaultKey(notice: (l: string) => void): Promise<{ path: string; generated: boolean }> {
  const dir = join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'cvm-measure');
  const path = join(dir, 'build-key.pem');
  if (await exists(path)) return { path, generated: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const release = await pidLock(join(dir, 'build-key.lock'), () => {});
  try {
    if (await exists(path)) return { path, generated: false };
    const k = generateKey('ecdsa-p256');
    await writeFileSetAtomic(dir, [
      { name: 'build-key.pub.pem', data: k.publicPem },
      { name: 'build-key.pem', data: k.privatePem, mode: 0o600 },
    ]);
    notice(
      `generated a signing key for this user: ${path} (ecdsa-p256, key id ${k.keyId}); publish ${join(dir, 'build-key.pub.pem')} so verifiers can trust it`,
    );
    return { path, generated: true };
  } finally {
    await release();
  }
}

/**
 * What `cvm-measure build` does: build (or, with `opts.check`, build twice and compare), run the
 * recipe's `measure:` block, write measurements.json and the build record, and sign manifests when the
 * recipe has `sign:` (generating the per-user key for `sign: {key: default}` once).
 * @throws {InputError} on an unreadable signing key or an input that does not match its pin.
 * @throws {BuildError} when the build fails (see build()).
 */
export async function runPipeline(recipe: Recipe, opts: PipelineOptions): Promise<PipelineResult> {
  const out = resolve(opts.out);
  await mkdir(out, { recursive: true });
  const o = { ...opts, out };
  let result: BuildResult;
  let check: PipelineResult['check'];
  if (opts.check) {
    const c = await checkBuild(recipe, o);
    result = c.first;
    const { env, ...rest } = c.variation;
    check = { identical: c.differences.length === 0, differences: c.differences, variation: { ...rest, umask: `0${rest.umask.toString(8)}`, env } };
  } else result = await build(recipe, o);

  opts.onProgress?.({ kind: 'step', text: 'measuring' });
  const measurements: MeasurementsFile = {
    schema: MEASUREMENTS_SCHEMA,
    artifacts: result.artifacts,
    measurements: recipe.measure ? await runMeasurements(recipe.measure, result.artifacts, out) : [],
  };
  // defaults change measurements: say which the recipe's measure block left to them (measurements.json records them)
  for (const m of measurements.measurements) {
    const d = 'defaults' in m ? Object.entries(m.defaults) : [];
    if (d.length)
      opts.notice?.(`measure ${m.kind}: defaults ${d.map(([k, v]) => `${k}=${v}`).join(', ')} (set them in the recipe's measure block to silence this)`);
  }
  const mPath = join(out, BUILD_FILES.measurements);
  await writeFileAtomic(mPath, `${JSON.stringify(measurements, null, 2)}\n`);
  const record = buildRecord(result, randomUUID());
  const bPath = join(out, BUILD_FILES.buildRecord);
  await writeFileAtomic(bPath, `${JSON.stringify(record, null, 2)}\n`);

  const files: PipelineResult['files'] = { measurements: mPath, buildRecord: bPath, source: await writeSourceBundle(result, out), manifest: [] };
  let signingKey: PipelineResult['signingKey'];
  if (recipe.sign) {
    opts.onProgress?.({ kind: 'step', text: 'signing' });
    const k = recipe.sign.key === 'default' ? await defaultKey(opts.notice ?? (() => {})) : { path: resolve(recipe.dir, recipe.sign.key), generated: false };
    const pem = await readFile(k.path).catch(() => {
      throw new InputError(`sign.key: cannot read ${k.path}`);
    });
    const signer = localSigner(parsePrivateKey(pem, k.path));
    const m = await createManifest({
      measurements,
      buildRecord: record,
      signer,
      outDir: join(out, BUILD_FILES.manifest),
      formats: (recipe.sign.formats as typeof MANIFEST_FORMATS | undefined) ?? MANIFEST_FORMATS,
    });
    files.manifest = m.files.map((f) => ({ format: f.format, path: f.path, sha256: f.sha256 }));
    signingKey = { path: k.path, keyId: signer.keyId, generated: k.generated };
  }
  return { build: result, measurements, files, ...(check ? { check } : {}), ...(signingKey ? { signingKey } : {}) };
}
