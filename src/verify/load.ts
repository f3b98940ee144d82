/**
 * Node-side inputs of `verify`: certificate files, a policy file (YAML or JSON, schemas/verify-policy.schema.json)
 * and signed reference values — a `manifest create` output directory or its reference-values.intoto.json,
 * whose DSSE signature must verify with a trusted key before anything in it is used.
 */
import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { readCertificates, type Certificate } from '../formats/x509.js';
import { importReferenceValues } from '../manifest/import.js';
import { REFERENCE_VALUES_PREDICATE } from '../manifest/intoto.js';
import type { ReferenceValues } from '../manifest/model.js';
import { verifyDsse } from '../manifest/verify.js';
import { defaultCacheDir } from '../build/cache.js';
import { fetchRepository, isUrl } from '../publish/fetch.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { parseYamlText } from '../util/yaml.js';
import type { PcrPrediction } from './diagnose-tpm.js';
import type { VerifyPolicy } from './evidence.js';

/** Every certificate in the files given (PEM bundles or DER); a directory contributes its .pem/.der/.crt/.cer files. */
export function loadCertificates(paths: readonly string[]): Certificate[] {
  const files = paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((n) => /\.(pem|der|crt|cer)$/i.test(n))
          .sort()
          .map((n) => join(p, n))
      : [p],
  );
  return files.flatMap((f) => readCertificates(new Uint8Array(readFileSync(f)), f));
}

let policySchema: ReturnType<Ajv['compile']> | undefined;

/** @throws InputError naming the file and the first problem. */
export function loadPolicy(path: string): VerifyPolicy {
  const doc = parseYamlText(readFileSync(path, 'utf8'), path);
  policySchema ??= new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schemas/verify-policy.schema.json'), 'utf8')) as object);
  if (!policySchema(doc ?? {})) {
    const e = policySchema.errors![0]!;
    const extra = e.keyword === 'additionalProperties' ? ` ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}` : '';
    throw new InputError(`${path}: policy${e.instancePath.replace(/\//g, '.')}: ${e.message}${extra}`);
  }
  return (doc ?? {}) as VerifyPolicy;
}

/**
 * Reads signed reference values: a directory written by `manifest create` (its
 * reference-values.intoto.json) or an envelope file. The signature is checked first (k-of-n with
 * `threshold`); an unsigned document is refused.
 * @throws VerificationError when no trusted key signed it; InputError for a document that is not reference values.
 */
export function loadReference(path: string, trusted: readonly KeyObject[], o: { threshold?: number; now?: number } = {}): ReferenceValues {
  const file = statSync(path).isDirectory() ? join(path, 'reference-values.intoto.json') : path;
  let v: ReturnType<typeof verifyDsse>;
  try {
    v = verifyDsse(readFileSync(file, 'utf8'), { trusted, ...o });
  } catch (e) {
    if (e instanceof Error) e.message = `${file}: ${e.message}`;
    throw e;
  }
  if (v.type !== 'dsse' || v.predicateType !== REFERENCE_VALUES_PREDICATE)
    throw new VerificationError(`${file}: predicateType ${v.type === 'dsse' ? v.predicateType : v.type} is not ${REFERENCE_VALUES_PREDICATE}`);
  return importReferenceValues(v.predicate, `${file}: predicate`);
}

/**
 * `verify --reference`: a `manifest create` directory or envelope (loadReference), or a repository
 * — a URL or a directory holding index.json, optionally followed by `#NAME[@VERSION]` (default: the
 * release published last). A repository is fetched into the cache first (signed index checked with
 * the same trusted keys, rollback refused against the cached version), then the release's
 * reference-values.intoto.json is loaded. With `rebuilders`, the release's rebuild attestations must
 * confirm every value (`rebuildThreshold` distinct keys; see fetchRepository).
 * @throws {VerificationError} for a bad signature, digest, rollback or too few rebuild confirmations.
 * @throws {UsageError} for `rebuilders` with a reference that is not a repository.
 */
export async function resolveReference(
  spec: string,
  trusted: readonly KeyObject[],
  o: { threshold?: number; now?: number; timeoutMs?: number; rebuilders?: readonly KeyObject[]; rebuildThreshold?: number } = {},
): Promise<ReferenceValues> {
  const hash = spec.lastIndexOf('#');
  const [base, release] = hash > 0 && !existsSync(spec) ? [spec.slice(0, hash), spec.slice(hash + 1)] : [spec, undefined];
  if (!isUrl(base) && !existsSync(join(base, 'index.json'))) {
    if (o.rebuilders)
      throw new UsageError('--rebuilders: rebuild attestations are listed by a repository; give --reference a repository (URL or directory with index.json)');
    return loadReference(spec, trusted, o);
  }
  const cache = join(defaultCacheDir(), 'repositories', createHash('sha256').update(base).digest('hex').slice(0, 32));
  const r = await fetchRepository(base, {
    trusted,
    threshold: o.threshold ?? 1,
    out: cache,
    ...(release ? { release } : { latest: true }),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.rebuilders ? { rebuilders: o.rebuilders, rebuildThreshold: o.rebuildThreshold ?? 1 } : {}),
  });
  return loadReference(join(cache, r.releases[0]!.path), trusted, {
    ...(o.threshold ? { threshold: o.threshold } : {}),
    ...(o.now === undefined ? {} : { now: o.now }),
  });
}

/**
 * `verify --expected`: the release's `measure pcr --json` output, or a build's measurements.json
 * (its pcr measurements). @throws InputError for anything else.
 */
export function loadPredictions(path: string): PcrPrediction[] {
  let doc: { kind?: unknown; pcrs?: unknown; events?: unknown; measurements?: unknown };
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as typeof doc;
  } catch (e) {
    throw new InputError(`${path}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const list = (Array.isArray(doc?.measurements) ? doc.measurements : [doc]) as (typeof doc)[];
  const pcr = list.filter((m) => m?.kind === 'pcr' && typeof m.pcrs === 'object' && m.pcrs !== null && Array.isArray(m.events));
  if (pcr.length === 0) throw new InputError(`${path}: holds no \`measure pcr --json\` prediction (kind "pcr" with pcrs and events)`);
  return pcr as unknown as PcrPrediction[];
}
