/**
 * `cvm-measure rebuild`: an independent rebuild of a published release. Fetches the release (signed
 * index, every file's digest), re-creates its recipe, lock and file inputs in a fresh workspace, seeds
 * the build cache with the downloads the release carries (the rest come from the rebuilder's cache or a
 * live mirror, and the result says which), builds with --locked and no cache reads under another
 * workspace path, umask, job count, hostname and locale, measures again, compares every artifact and
 * every measured value with the release's, and signs a rebuild attestation
 * (manifest/rebuild-attestation.ts) with the rebuilder's key.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { release as kernelRelease, tmpdir } from 'node:os';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { compareValues, type RebuildPredicate, rebuildStatement, releaseValues, type ValueComparison, type Verdict } from '../manifest/rebuild-attestation.js';
import { statementBytes } from '../manifest/intoto.js';
import { MEASUREMENTS_SCHEMA, type MeasurementsDocument } from '../manifest/model.js';
import { fetchRepository } from '../publish/fetch.js';
import { INDEX_FILE, parseIndex, type ReleaseEntry, sha256 } from '../publish/repository.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../sign/dsse.js';
import type { Signer } from '../sign/signer.js';
import { writeFileAtomic } from '../util/fs.js';
import { packageVersion } from '../util/package.js';
import { Cache } from './cache.js';
import { explainDifference } from './diff.js';
import { type Lock, lockPath } from './lock.js';
import { runMeasurements } from './measure.js';
import { build } from './orchestrate.js';
import type { BuildBackend, ProgressEvent, Variation } from './types.js';
import { parseRecipe } from './recipe.js';
import { inputFile, lockedBlobs } from './source-bundle.js';

/** What differs from the publisher's build (which used the defaults): path, umask, jobs, hostname, locale. */
export const REBUILD_VARIATION: Variation = {
  jobs: 0,
  umask: 0o027,
  hostname: 'cvm-measure-rebuilder',
  env: { LANGUAGE: 'de_DE:de', LC_CTYPE: 'de_DE.UTF-8', LC_COLLATE: 'de_DE.UTF-8', LC_TIME: 'de_DE.UTF-8' },
  workspaceName: 'independent-rebuild-workspace',
};

export interface RebuildOptions {
  /** Keys trusted to sign the repository index (k-of-n with `threshold`). */
  trusted: readonly KeyObject[];
  threshold?: number;
  /** NAME or NAME@VERSION; default: the release published last. */
  release?: string;
  /** The rebuilder's key: signs the attestation. */
  signer: Signer;
  /** Where the attestation, the rebuilt artifacts and logs go. */
  out: string;
  backend: BuildBackend;
  cache?: Cache;
  timeoutMs?: number;
  onProgress?: (e: ProgressEvent) => void;
  notice?: (line: string) => void;
}

export interface RebuildResult {
  release: RebuildPredicate['release'];
  verdict: Verdict;
  artifacts: ValueComparison[];
  measurements: ValueComparison[];
  inputs: RebuildPredicate['inputs'];
  environment: RebuildPredicate['environment'];
  attestation: { path: string; sha256: string; keyId: string };
  out: string;
  seconds: number;
}

/** The release's rebuild material; every missing item is named. */
function requireMaterial(r: ReleaseEntry): { recipe: string; lock: string } {
  const names = Object.keys(r.files);
  const recipe = names.filter((n) => /\.ya?ml$/.test(n));
  const lock = names.filter((n) => n.endsWith('.lock.json'));
  const missing = [
    ...(recipe.length === 1 ? [] : [recipe.length === 0 ? 'the recipe (*.yaml)' : `one recipe (it has ${recipe.join(', ')})`]),
    ...(lock.length === 1 ? [] : ['the lock (*.lock.json)']),
    ...['build-record.json', 'measurements.json', 'reference-values.intoto.json'].filter((n) => !r.files[n]),
  ];
  if (missing.length > 0)
    throw new InputError(`${r.name}@${r.version} cannot be rebuilt: the release lacks ${missing.join(', ')} (publish it with --build DIR)`);
  return { recipe: recipe[0]!, lock: lock[0]! };
}

/**
 * Rebuilds a published release and signs a rebuild attestation (written to `o.out`/rebuild.intoto.json,
 * also on a mismatch: a mismatch is a result, not an error).
 * @throws {VerificationError} when the repository index or a release file does not verify.
 * @throws {InputError} when the release lacks its recipe, lock, build record, measurements, an artifact
 * or a file input (each named), or an input does not match its pin.
 * @throws {BuildError} when the rebuild fails.
 */
export async function rebuildRelease(source: string, o: RebuildOptions): Promise<RebuildResult> {
  const t0 = performance.now();
  const startedOn = new Date();
  const cache = o.cache ?? new Cache();
  const tmp = await mkdtemp(join(tmpdir(), 'cvm-rebuild-'));
  try {
    // 1. the release, verified (index signature, rollback, every file's digest) before anything is used
    o.onProgress?.({ kind: 'step', text: `fetch ${source}` });
    const repo = join(tmp, 'release');
    const f = await fetchRepository(source, {
      trusted: o.trusted,
      threshold: o.threshold ?? 1,
      out: repo,
      ...(o.release ? { release: o.release } : { latest: true }),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    });
    const entry = parseIndex(await readFile(join(repo, INDEX_FILE))).releases.find((r) => r.path === f.releases[0]!.path)!;
    const dir = join(repo, entry.path);
    const file = (n: string) => readFile(join(dir, n));
    const material = requireMaterial(entry);
    const published = JSON.parse((await file('measurements.json')).toString('utf8')) as MeasurementsDocument;
    const lock = JSON.parse((await file(material.lock)).toString('utf8')) as Lock;
    const missing = [
      ...published.artifacts.filter((a) => !entry.files[`artifact-${a.path ?? a.name}`]).map((a) => `artifact ${a.name} (artifact-${a.path ?? a.name})`),
      ...Object.entries(lock.inputs)
        .filter(([, i]) => i.kind === 'file' && !entry.files[inputFile(i.sha256)])
        .map(([n, i]) => `file input ${n} (${inputFile(i.sha256)})`),
    ];
    if (missing.length > 0) throw new InputError(`${entry.name}@${entry.version} cannot be rebuilt: the release lacks ${missing.join(', ')}`);

    // 2. the recipe, its lock and file inputs in a fresh source directory
    const srcDir = join(tmp, 'recipe-source');
    const recipe = parseRecipe((await file(material.recipe)).toString('utf8'), join(srcDir, material.recipe));
    await writeFileAtomic(recipe.path, await file(material.recipe));
    await writeFileAtomic(lockPath(recipe), await file(material.lock));
    for (const [n, i] of Object.entries(lock.inputs)) {
      if (i.kind !== 'file') continue;
      if (isAbsolute(i.ref) || normalize(i.ref).startsWith('..')) throw new InputError(`lock: file input ${n} (${i.ref}) lies outside the recipe directory`);
      await writeFileAtomic(resolve(srcDir, i.ref), await file(inputFile(i.sha256)));
    }

    // 3. the downloads the release carries go into the cache (by digest); say where each input came from
    const inputs: RebuildPredicate['inputs'] = [];
    for (const [n, i] of Object.entries(lock.inputs)) if (i.kind === 'file') inputs.push({ name: n, sha256: i.sha256, from: 'release' });
    for (const b of lockedBlobs(lock)) {
      if (entry.files[inputFile(b.sha256)]) {
        await cache.putBytes(await file(inputFile(b.sha256)));
        inputs.push({ name: b.name, sha256: b.sha256, from: 'release' });
      } else inputs.push({ name: b.name, sha256: b.sha256, from: (await cache.has(b.sha256)) ? 'cache' : 'mirror' });
    }

    // 4. the rebuild: locked, no component cache, another workspace path, umask, jobs, hostname, locale
    const out = resolve(o.out);
    const rebuilt = join(out, 'rebuilt');
    await rm(rebuilt, { recursive: true, force: true });
    await mkdir(rebuilt, { recursive: true });
    const b = await build(recipe, {
      out: rebuilt,
      backend: o.backend,
      locked: true,
      rebuild: true,
      readOnlyLock: true,
      cache,
      variation: REBUILD_VARIATION,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.notice ? { notice: o.notice } : {}),
    });
    o.onProgress?.({ kind: 'step', text: 'measuring' });
    const measured: MeasurementsDocument = {
      schema: MEASUREMENTS_SCHEMA,
      artifacts: b.artifacts,
      measurements: recipe.measure ? await runMeasurements(recipe.measure, b.artifacts, rebuilt) : [],
    };
    await writeFileAtomic(join(rebuilt, 'measurements.json'), `${JSON.stringify(measured, null, 2)}\n`);

    // 5. compare: artifacts (with the differing parts) and every measured value
    const all = compareValues(releaseValues(published), releaseValues(measured));
    const artifacts = all.filter((c) => c.name.startsWith('artifact:'));
    for (const c of artifacts.filter((x) => x.verdict === 'mismatch' && x.expected && x.actual)) {
      const name = c.name.slice('artifact:'.length);
      const pa = published.artifacts.find((a) => a.name === name)!;
      const ba = b.artifacts.find((a) => a.name === name)!;
      c.parts = explainDifference(await file(`artifact-${pa.path ?? pa.name}`), await readFile(join(rebuilt, ba.path)));
    }
    const measurements = all.filter((c) => !c.name.startsWith('artifact:'));
    const verdict: Verdict = all.every((c) => c.verdict === 'match') ? 'match' : 'mismatch';

    // 6. the signed attestation
    const environment: RebuildPredicate['environment'] = {
      backend: b.backend ?? null,
      kernel: kernelRelease(),
      tool: `cvm-measure ${packageVersion()}`,
      node: process.version,
      variation: { ...REBUILD_VARIATION, umask: `0${REBUILD_VARIATION.umask.toString(8)}`, jobs: b.jobs },
    };
    const predicate: RebuildPredicate = {
      release: { name: entry.name, version: entry.version, source, indexSha256: f.indexSha256 },
      rebuilder: { keyId: o.signer.keyId },
      environment,
      inputs,
      verdict,
      artifacts,
      measurements,
      startedOn: startedOn.toISOString(),
      finishedOn: new Date().toISOString(),
    };
    const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, statementBytes(rebuildStatement(entry.files, predicate)), [o.signer]);
    const bytes = Buffer.from(canonicalJson(env), 'utf8');
    const path = join(out, 'rebuild.intoto.json');
    await writeFileAtomic(path, bytes);
    return {
      release: predicate.release,
      verdict,
      artifacts,
      measurements,
      inputs,
      environment,
      attestation: { path, sha256: sha256(bytes), keyId: o.signer.keyId },
      out,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
