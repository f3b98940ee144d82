/**
 * in-toto Statement v1 (intoto-spec statement.md): `_type`, `subject[]` (name + DigestSet with
 * lowercase algorithm names and lowercase hex), `predicateType`, `predicate`. Two statements: the
 * build's SLSA provenance v1 (as the build wrote it) and one whose predicate is the reference values.
 */
import { InputError } from '../errors.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { utf8 } from '../util/bytes.js';
import type { ReferenceValues } from './model.js';

export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/**
 * The root of every identifier cvm-measure mints (predicate types, SLSA buildType and builder id): an
 * RFC 4151 tag URI under the project's commit identity. Names, not locations: nothing is fetched from
 * them. docs/identifiers.md lists them.
 */
export const TAG_PREFIX = 'tag:maintainers@users.noreply.h-seed-5a5a6f63.example,2026-12:cvm-measure/';
/** predicateType of the reference-values statement (the document's schema, see schemas/reference-values.schema.json). */
export const REFERENCE_VALUES_PREDICATE = `${TAG_PREFIX}reference-values/v1`;
/** The placeholder https identifiers used before TAG_PREFIX, in a domain the project does not own: refused when read. */
const RETIRED_PREFIX = 'https://cvm-measure.dev/';

export interface Statement {
  _type: typeof STATEMENT_V1;
  subject: { name: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: unknown;
}

/** Seconds since the epoch as the validity window's RFC 3339 form, e.g. 2026-01-01T00:00:00Z. */
const rfc3339 = (t: number) => new Date(t * 1000).toISOString().replace(/\.000Z$/, 'Z');

/**
 * Subjects = the build's artifacts; with none, the canonical reference-values document itself. The
 * predicate is the document plus the validity window the CoRIMs carry (`validity`, RFC 3339 UTC).
 */
export function referenceValuesStatement(rv: ReferenceValues, documentSha256: string, window: { notBefore: number; notAfter: number }): Statement {
  const subject = rv.artifacts
    .filter((a) => a.sha256 || a.sha384)
    .map((a) => ({ name: a.name, digest: { ...(a.sha256 ? { sha256: a.sha256 } : {}), ...(a.sha384 ? { sha384: a.sha384 } : {}) } }));
  return {
    _type: STATEMENT_V1,
    subject: subject.length > 0 ? subject : [{ name: 'reference-values.json', digest: { sha256: documentSha256 } }],
    predicateType: REFERENCE_VALUES_PREDICATE,
    predicate: { ...rv, validity: { notBefore: rfc3339(window.notBefore), notAfter: rfc3339(window.notAfter) } },
  };
}

/**
 * Checks the parts of a Statement v1 every consumer relies on; returns it typed.
 * @throws {InputError} naming `what` when `_type`, `subject[].digest` or `predicateType` is missing or wrong, or an
 * identifier is one of the retired `https://cvm-measure.dev/` placeholders.
 */
export function checkStatement(v: unknown, what: string): Statement {
  const s = v as Partial<Statement> | null;
  if (!s || typeof s !== 'object') throw new InputError(`${what}: not a JSON object`);
  if (s._type !== STATEMENT_V1) throw new InputError(`${what}: _type must be ${STATEMENT_V1}, got ${JSON.stringify(s._type)}`);
  if (!Array.isArray(s.subject) || s.subject.length === 0) throw new InputError(`${what}: subject must be a non-empty array`);
  for (const [i, sub] of s.subject.entries()) {
    const d = sub?.digest;
    if (!d || typeof d !== 'object' || Object.keys(d).length === 0) throw new InputError(`${what}: subject[${i}].digest missing`);
    for (const [alg, h] of Object.entries(d)) {
      if (alg !== alg.toLowerCase() || alg.includes('-'))
        throw new InputError(`${what}: subject[${i}].digest key ${JSON.stringify(alg)} must be lowercase without '-'`);
      if (alg.startsWith('sha') && !/^[0-9a-f]+$/.test(String(h))) throw new InputError(`${what}: subject[${i}].digest.${alg} must be lowercase hex`);
    }
  }
  if (typeof s.predicateType !== 'string') throw new InputError(`${what}: predicateType missing`);
  refuseRetired(what, 'predicateType', s.predicateType);
  if (s.predicateType === SLSA_PROVENANCE_V1) {
    const p = s.predicate as
      | { buildDefinition?: { buildType?: unknown; externalParameters?: unknown }; runDetails?: { builder?: { id?: unknown } } }
      | undefined;
    if (typeof p?.buildDefinition?.buildType !== 'string') throw new InputError(`${what}: SLSA v1 predicate.buildDefinition.buildType missing`);
    if (typeof p.buildDefinition.externalParameters !== 'object' || p.buildDefinition.externalParameters === null) {
      throw new InputError(`${what}: SLSA v1 predicate.buildDefinition.externalParameters missing`);
    }
    if (typeof p.runDetails?.builder?.id !== 'string') throw new InputError(`${what}: SLSA v1 predicate.runDetails.builder.id missing`);
    refuseRetired(what, 'buildType', p.buildDefinition.buildType);
    refuseRetired(what, 'builder.id', p.runDetails.builder.id);
  }
  return s as Statement;
}

function refuseRetired(what: string, field: string, id: string): void {
  if (id.startsWith(RETIRED_PREFIX))
    throw new InputError(
      `${what}: ${field} ${id} is a retired placeholder identifier (a domain the project does not own); cvm-measure identifiers are tag URIs under ${TAG_PREFIX} (docs/identifiers.md)`,
    );
}

/** A Statement's bytes as signed: canonical JSON. */
export function statementBytes(s: Statement): Uint8Array {
  return utf8(canonicalJson(s));
}
