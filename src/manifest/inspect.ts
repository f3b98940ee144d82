/** `manifest inspect`: what a manifest file holds, without checking signatures. */
import { FormatError } from '../errors.js';
import { decodeCbor, diagnostic, Tagged } from '../formats/cbor.js';
import { HEADER } from '../sign/cose.js';
import { corimHeader, CORIM_TAG, readCorim, type CorimSummary } from './corim.js';
import { parseEnvelope } from '../sign/dsse.js';
import { importReferenceValues } from './import.js';
import { REFERENCE_VALUES_SCHEMA, type ReferenceValues } from './model.js';

export type Inspection =
  | {
      type: 'corim';
      signed: boolean;
      alg: number | null;
      kid: string | null;
      signer: string | null;
      notBefore: string | null;
      notAfter: string | null;
      corim: Omit<CorimSummary, 'notBefore' | 'notAfter'> & { notBefore: string | null; notAfter: string | null };
    }
  | { type: 'cbor'; diagnostic: string }
  | {
      type: 'dsse';
      payloadType: string;
      signatures: { keyid: string | null; bytes: number }[];
      predicateType: string | null;
      subjects: { name: string; digest: Record<string, string> }[];
    }
  | { type: 'rvps'; messageType: string; values: unknown }
  | { type: 'reference-values'; artifacts: number; snp: number; tdx: number; pcr: number; document: ReferenceValues };

const iso = (t: number | undefined) => (t === undefined ? null : new Date(t * 1000).toISOString());

function corimJson(c: CorimSummary): Extract<Inspection, { type: 'corim' }>['corim'] {
  const { notBefore, notAfter, ...rest } = c;
  return { ...rest, notBefore: iso(notBefore), notAfter: iso(notAfter) };
}

/**
 * Describes a manifest file without verifying it: a signed CoRIM (its header and reference values), a
 * DSSE envelope or sigstore bundle (its statement), or a reference-values / measurements JSON document.
 * @throws {FormatError} when the bytes are neither CBOR of a known shape nor JSON, or a statement subject is malformed.
 * @throws {InputError} when a reference-values document does not validate against its schema.
 */
export function inspectManifest(bytes: Uint8Array): Inspection {
  const text = Buffer.from(bytes).toString('utf8').trimStart();
  if (text.startsWith('{')) return inspectJson(text);
  const top = decodeCbor(bytes, { what: 'manifest' });
  if (top instanceof Tagged && top.tag === 18) {
    const h = corimHeader(bytes);
    const kid = h.sign1.protected.get(HEADER.kid);
    const alg = h.sign1.protected.get(HEADER.alg);
    return {
      type: 'corim',
      signed: true,
      alg: typeof alg === 'number' ? alg : null,
      kid: kid instanceof Uint8Array ? Buffer.from(kid).toString('hex') : null,
      signer: h.signer ?? null,
      notBefore: iso(h.notBefore),
      notAfter: iso(h.notAfter),
      corim: corimJson(readCorim(h.sign1.payload, false)),
    };
  }
  if (top instanceof Tagged && top.tag === CORIM_TAG) {
    return { type: 'corim', signed: false, alg: null, kid: null, signer: null, notBefore: null, notAfter: null, corim: corimJson(readCorim(bytes, false)) };
  }
  return { type: 'cbor', diagnostic: diagnostic(top) };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormatError(what, 'not JSON');
  }
}

/** A Statement's subject list as shown: each entry {name, digest: {alg: hex}} (in-toto Statement v1). */
function subjects(v: unknown): { name: string; digest: Record<string, string> }[] {
  if (!Array.isArray(v)) return [];
  return v.map((s: { name?: unknown; digest?: unknown } | null, i) => {
    const digest = s?.digest;
    if (typeof s?.name !== 'string' || !digest || typeof digest !== 'object' || Object.values(digest).some((h) => typeof h !== 'string')) {
      throw new FormatError('DSSE statement', `subject[${i}] is not {name, digest: {alg: hex}}`);
    }
    return { name: s.name, digest: digest as Record<string, string> };
  });
}

function inspectJson(text: string): Inspection {
  const doc = parseJson(text, 'manifest') as Record<string, unknown>;
  if (doc.schema === REFERENCE_VALUES_SCHEMA) {
    const rv = importReferenceValues(doc);
    return { type: 'reference-values', artifacts: rv.artifacts.length, snp: rv.snp.length, tdx: rv.tdx.length, pcr: rv.pcr.length, document: rv };
  }
  if (typeof doc.type === 'string' && typeof doc.payload === 'string' && 'version' in doc) {
    const raw = Buffer.from(doc.payload, 'base64');
    return {
      type: 'rvps',
      messageType: doc.type,
      values: doc.type === 'sample' ? parseJson(raw.toString('utf8'), 'RVPS sample payload') : inspectManifest(raw),
    };
  }
  // a sigstore bundle shows as its DSSE envelope
  const env = parseEnvelope(typeof doc.mediaType === 'string' && 'dsseEnvelope' in doc ? doc.dsseEnvelope : doc);
  let st: { predicateType?: unknown; subject?: unknown } = {};
  try {
    const v: unknown = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    if (v && typeof v === 'object') st = v;
  } catch {
    // a payload that is not JSON is shown as such
  }
  return {
    type: 'dsse',
    payloadType: env.payloadType,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid ?? null, bytes: Buffer.from(s.sig, 'base64').length })),
    predicateType: typeof st.predicateType === 'string' ? st.predicateType : null,
    subjects: subjects(st.subject),
  };
}

/** Human-readable lines for an inspection. */
export function inspectText(i: Inspection): string[] {
  switch (i.type) {
    case 'corim': {
      const out = [
        `${i.signed ? 'signed' : 'unsigned'} CoRIM ${i.corim.id}${i.corim.profile ? ` profile ${i.corim.profile}` : ''}`,
        ...(i.signed ? [`alg ${i.alg}  kid ${i.kid ?? '-'}  signer ${i.signer ?? '-'}  valid ${i.notBefore ?? '-'} .. ${i.notAfter ?? '-'}`] : []),
      ];
      for (const v of i.corim.values)
        out.push(
          `  [${v.environment}] ${v.key}: ${Object.entries(v.digests)
            .map(([a, h]) => `${a}:${h}`)
            .join(' ')}`,
        );
      return out;
    }
    case 'cbor':
      return [i.diagnostic];
    case 'dsse':
      return [
        `DSSE ${i.payloadType}: ${i.predicateType ?? '(payload not a Statement)'}`,
        ...i.signatures.map((s) => `  signature ${s.keyid ?? '(no keyid)'} ${s.bytes} bytes`),
        ...i.subjects.map(
          (s) =>
            `  subject ${s.name} ${Object.entries(s.digest)
              .map(([a, h]) => `${a}:${h}`)
              .join(' ')}`,
        ),
      ];
    case 'rvps':
      return [`RVPS ${i.messageType} message`, JSON.stringify(i.values, null, 2)];
    case 'reference-values':
      return [`reference values: ${i.artifacts} artifacts, ${i.snp} SNP, ${i.tdx} TDX, ${i.pcr} PCR sets`, JSON.stringify(i.document, null, 2)];
  }
}
