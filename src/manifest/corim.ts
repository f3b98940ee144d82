/**
 * CoRIM (draft-ietf-rats-corim): one signed CoRIM per platform, #6.18(COSE_Sign1) around
 * #6.501(corim-map) whose tags are #6.506(bytes .cbor concise-mid-tag) with reference triples.
 *  - SNP per draft-deeglaze-amd-sev-snp-corim-profile: class-id 1.3.6.1.4.1.3704.3.1 (by chip),
 *    MEASUREMENT under mkey 641 as digests [[7 (sha-384), launch digest]], one triple per configuration.
 *  - TDX per draft-cds-rats-intel-corim-profile: MRTD as tee.mrtee in its mkey form (mkey 83,
 *    digests), also under mkey "mrtd"; RTMRs as integrity-registers {index: digests} and mkey "rtmrN".
 *  - vTPM PCRs as integrity-registers {pcr: [[alg, value], ...]} (one entry per bank).
 */
import { createHash } from 'node:crypto';
import { FormatError, InputError } from '../errors.js';
import { asArray, asBytes, asInt, asMap, decodeCbor, encodeCbor, Tagged, untag, type CborMap, type CborValue } from '../formats/cbor.js';
import { HEADER, parseSign1, signSign1 } from '../sign/cose.js';
import type { PcrValues, ReferenceValues, SnpValues, TdxValues } from './model.js';
import type { Signer } from '../sign/signer.js';

export const CORIM_TAG = 501;
export const COMID_TAG = 506;
export const CONTENT_TYPE = 'application/rim+cbor';
/**
 * AMD SEV-SNP profile ids (draft-deeglaze-amd-sev-snp-corim-profile §"AMD SEV-SNP CoRIM Profile"), plain
 * uris as the corim-map CDDL wants: 2024 is what the last published draft and Veraison's SEV-SNP scheme
 * register (the default); 2025 is the editor's copy. Readers accept both.
 */
export const SNP_PROFILES = { '2024': 'tag:amd.com,2024:snp-corim-profile', '2025': 'tag:amd.com,2025:snp-corim-profile' } as const;
export type SnpProfile = keyof typeof SNP_PROFILES;
/** Intel profile OID 2.16.840.1.113741.1.16.1, DER body for #6.111. */
export const INTEL_PROFILE_OID = Buffer.from('6086480186f84d011001', 'hex');
/** SEV-SNP "by chip" class-id 1.3.6.1.4.1.3704.3.1 (VCEK-signed reports): the OID's contents octets only (RFC 9090 §2). */
export const SNP_CLASS_BY_CHIP = Buffer.from('2b060104019c780301', 'hex');
/** IANA Named Information hash algorithm ids (RFC 6920 §9.4). */
export const NI_ALG: Record<string, number> = { sha256: 1, sha384: 7, sha512: 8 };
export const MKEY = { snpMeasurement: 641, snpPolicy: 2, teeMrtee: 83 } as const;

export type Platform = 'snp' | 'tdx' | 'pcr';

export interface CorimOptions {
  /** Entity name for corim-meta signer, CWT iss, entities. */
  issuer: string;
  /** Signature validity, seconds since the epoch. */
  notBefore: number;
  notAfter: number;
  /** SNP profile id to emit (default 2024). */
  snpProfile?: SnpProfile;
}

const m = (entries: [CborValue, CborValue][]): CborMap => new Map(entries);
const hex = (h: string) => Buffer.from(h, 'hex');
const tagged = (tag: number, v: CborValue) => new Tagged(tag, v);

/** A name-based UUID (RFC 9562 §5.8 layout, version 8) from sha-256 of `label`: stable ids for stable input. */
export function stableUuid(label: string): Buffer {
  const b = createHash('sha256').update(label).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

function digests(values: Record<string, string>): CborValue[] {
  return Object.entries(values)
    .filter(([alg]) => alg in NI_ALG)
    .sort(([a], [b]) => NI_ALG[a]! - NI_ALG[b]!)
    .map(([alg, v]) => [NI_ALG[alg]!, hex(v)]);
}

function snpTriples(list: SnpValues[]): CborValue[] {
  const env = m([[0, m([[0, tagged(111, SNP_CLASS_BY_CHIP)]])]]);
  const out: CborValue[] = [];
  for (const s of list) {
    for (const vcpus of Object.keys(s.launchDigests).sort((a, b) => Number(a) - Number(b))) {
      const claims: CborValue[] = [
        m([
          [0, MKEY.snpMeasurement],
          [1, m([[2, [[NI_ALG.sha384!, hex(s.launchDigests[vcpus]!)]]]])],
        ]),
      ];
      const policy = s.parameters.policy;
      if (policy !== undefined) {
        if (!/^(0x[0-9a-f]{1,16}|\d+)$/i.test(String(policy)) || BigInt(policy) >= 1n << 64n)
          throw new InputError(`snp policy: ${JSON.stringify(policy)} is not a 64-bit integer`);
        const p = Buffer.alloc(8); // ATTESTATION_REPORT POLICY R[0x008:0x010], little-endian
        p.writeBigUInt64LE(BigInt(policy));
        claims.push(
          m([
            [0, MKEY.snpPolicy],
            [1, m([[4, tagged(560, p)]])],
          ]),
        );
      }
      out.push([env, claims]);
    }
  }
  return out;
}

function tdxTriples(list: TdxValues[]): CborValue[] {
  const env = m([
    [
      0,
      m([
        [1, 'Intel Corporation'],
        [2, 'TDX TD'],
      ]),
    ],
  ]);
  return list.map((t) => {
    const mrtd = [[NI_ALG.sha384!, hex(t.mrtd)]];
    const claims: CborValue[] = [
      m([
        [0, MKEY.teeMrtee],
        [1, m([[2, mrtd]])],
      ]),
      m([
        [0, 'mrtd'],
        [1, m([[2, mrtd]])],
      ]),
    ];
    const idx = Object.keys(t.rtmr).sort();
    if (idx.length > 0) {
      claims.push(m([[1, m([[14, m(idx.map((i) => [Number(i), [[NI_ALG.sha384!, hex(t.rtmr[i]!)]]]))]])]]));
      for (const i of idx)
        claims.push(
          m([
            [0, `rtmr${i}`],
            [1, m([[2, [[NI_ALG.sha384!, hex(t.rtmr[i]!)]]]])],
          ]),
        );
    }
    return [env, claims];
  });
}

function pcrTriples(list: PcrValues[]): CborValue[] {
  return list.flatMap((p) => {
    const byIndex = new Map<number, Record<string, string>>();
    for (const [bank, regs] of Object.entries(p.banks)) {
      for (const [i, v] of Object.entries(regs)) byIndex.set(Number(i), { ...byIndex.get(Number(i)), [bank]: v });
    }
    const regs = [...byIndex].map(([i, d]) => [i, digests(d)] as [number, CborValue[]]).filter(([, d]) => d.length > 0);
    if (regs.length === 0) return [];
    const shape = p.parameters['boot.shape'];
    const env = m([[0, m([[2, shape === undefined ? 'vTPM PCRs' : `vTPM PCRs (${String(shape)})`]])]]);
    return [[env, [m([[1, m([[14, m(regs)]])]])]]];
  });
}

/** The unsigned #6.501 corim-map for one platform, or undefined when the document has none of it. */
export function corimFor(platform: Platform, rv: ReferenceValues, digest: string, opts: CorimOptions): Tagged | undefined {
  const triples = platform === 'snp' ? snpTriples(rv.snp) : platform === 'tdx' ? tdxTriples(rv.tdx) : pcrTriples(rv.pcr);
  if (triples.length === 0) return undefined;
  const id = stableUuid(`cvm-measure corim ${platform} ${digest}`);
  const comid = m([
    [
      1,
      m([
        [0, stableUuid(`cvm-measure comid ${platform} ${digest}`)],
        [1, 0],
      ]),
    ],
    [
      2,
      [
        m([
          [0, opts.issuer],
          [2, [0]],
        ]),
      ],
    ],
    [4, m([[0, triples]])],
  ]);
  const corim = m([
    [0, id],
    [1, [tagged(COMID_TAG, encodeCbor(comid))]],
    [
      4,
      m([
        [0, tagged(1, opts.notBefore)],
        [1, tagged(1, opts.notAfter)],
      ]),
    ],
    [
      5,
      [
        m([
          [0, opts.issuer],
          [2, [1, 2]],
        ]),
      ],
    ],
  ]);
  if (platform === 'snp') corim.set(3, tagged(32, SNP_PROFILES[opts.snpProfile ?? '2024']));
  if (platform === 'tdx') corim.set(3, tagged(111, INTEL_PROFILE_OID));
  return tagged(CORIM_TAG, corim);
}

/**
 * Signs an unsigned CoRIM: protected header alg, content-type, kid, corim-meta and CWT claims.
 * @throws {BuildError} or {VerificationError} from a commandSigner whose command fails or returns a bad signature.
 */
export async function signCorim(corim: Tagged, signer: Signer, opts: CorimOptions): Promise<Uint8Array> {
  const meta = m([
    [0, m([[0, opts.issuer]])],
    [
      1,
      m([
        [0, tagged(1, opts.notBefore)],
        [1, tagged(1, opts.notAfter)],
      ]),
    ],
  ]);
  const headers = m([
    [HEADER.contentType, CONTENT_TYPE],
    [HEADER.corimMeta, encodeCbor(meta)],
    [
      HEADER.cwtClaims,
      m([
        [1, opts.issuer],
        [5, opts.notBefore],
        [4, opts.notAfter],
      ]),
    ],
  ]);
  return signSign1(headers, encodeCbor(corim), signer);
}

// ---- reading back (manifest inspect / verify)

export interface CorimReferenceValue {
  /** mkey as text ("641", "mrtd", "rtmr1") or "ir<N>" for integrity register N. */
  key: string;
  /** Hash algorithm id → hex. */
  digests: Record<number, string>;
  environment: string;
}

export interface CorimSummary {
  id: string;
  profile?: string;
  notBefore?: number;
  notAfter?: number;
  values: CorimReferenceValue[];
}

/** ECMAScript Date range (ECMA-262 "Time Values and Time Range"): ±8.64e15 ms, here in seconds. */
const MAX_TIME_SECONDS = 8.64e12;

/** RFC 8949 §3.4.2 epoch-based date/time (#6.1), within what a Date can show. */
function time(v: CborValue | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const t = v instanceof Tagged && v.tag === 1 ? v.value : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new FormatError(what, 'expected a time (#6.1 number)');
  if (Math.abs(t) > MAX_TIME_SECONDS) throw new FormatError(what, `time ${t} lies outside the representable range`);
  return t;
}

export function validityOf(v: CborValue | undefined, what: string): { notBefore?: number; notAfter?: number } {
  if (v === undefined) return {};
  const vm = asMap(v, what);
  const nb = time(vm.get(0), `${what} not-before`);
  const na = time(vm.get(1), `${what} not-after`);
  if (na === undefined) throw new FormatError(what, 'validity-map without not-after');
  return { ...(nb === undefined ? {} : { notBefore: nb }), notAfter: na };
}

function envText(env: CborValue): string {
  const e = asMap(env, 'environment-map');
  const c = e.get(0);
  if (!(c instanceof Map)) return 'environment';
  const id = c.get(0);
  if (id instanceof Tagged && id.tag === 111 && id.value instanceof Uint8Array) return `oid:${Buffer.from(id.value).toString('hex')}`;
  return [c.get(1), c.get(2)].filter((x) => typeof x === 'string').join(' / ') || 'environment';
}

function digestMap(v: CborValue, what: string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const d of asArray(v, what)) {
    const [alg, val] = asArray(d, what);
    out[asInt(alg, `${what} alg`)] = Buffer.from(asBytes(val, `${what} value`)).toString('hex');
  }
  return out;
}

/**
 * Decodes an unsigned corim-map payload (#6.501) and lists its reference values; `deterministic` also demands RFC 8949 §4.2.1.
 * @throws {FormatError} when the payload is not a corim-map of the expected shape (or not deterministic).
 */
export function readCorim(payload: Uint8Array, deterministic = true): CorimSummary {
  const corim = asMap(untag(decodeCbor(payload, { what: 'CoRIM', deterministic }), CORIM_TAG, 'CoRIM'), 'corim-map');
  const idv = corim.get(0);
  const id = idv instanceof Uint8Array ? Buffer.from(idv).toString('hex') : String(idv);
  const prof = corim.get(3);
  const profile =
    prof instanceof Tagged ? (typeof prof.value === 'string' ? prof.value : `oid:${Buffer.from(asBytes(prof.value, 'profile')).toString('hex')}`) : undefined;
  const values: CorimReferenceValue[] = [];
  for (const t of asArray(corim.get(1), 'corim-map tags')) {
    if (!(t instanceof Tagged) || t.tag !== COMID_TAG) continue;
    const comid = asMap(decodeCbor(asBytes(t.value, 'CoMID'), { what: 'CoMID', deterministic }), 'concise-mid-tag');
    const triples = asMap(comid.get(4), 'triples-map');
    for (const rt of asArray(triples.get(0) ?? [], 'reference-triples')) {
      const [env, claims] = asArray(rt, 'reference-triple-record');
      const environment = envText(env);
      for (const mmv of asArray(claims, 'measurement-maps')) {
        const mm = asMap(mmv, 'measurement-map');
        const mval = asMap(mm.get(1), 'measurement-values-map');
        const mkey = mm.get(0);
        if (mval.has(2)) values.push({ key: String(mkey), digests: digestMap(mval.get(2)!, 'digests'), environment });
        const ir = mval.get(14);
        if (ir !== undefined)
          for (const [i, d] of asMap(ir, 'integrity-registers'))
            values.push({ key: `ir${String(i)}`, digests: digestMap(d, 'integrity-register'), environment });
      }
    }
  }
  return { id, ...(profile ? { profile } : {}), ...validityOf(corim.get(4), 'rim-validity'), values };
}

/** Parses a signed CoRIM's protected header fields this project writes and checks the payload shape. */
export function corimHeader(bytes: Uint8Array): { sign1: ReturnType<typeof parseSign1>; signer?: string; notBefore?: number; notAfter?: number } {
  const sign1 = parseSign1(bytes, 'signed CoRIM');
  const ct = sign1.protected.get(HEADER.contentType);
  if (ct !== CONTENT_TYPE) throw new InputError(`signed CoRIM: content-type must be ${CONTENT_TYPE}, got ${JSON.stringify(ct)}`);
  const metaBytes = sign1.protected.get(HEADER.corimMeta);
  if (metaBytes === undefined) return { sign1 };
  const meta = asMap(decodeCbor(asBytes(metaBytes, 'corim-meta'), { what: 'corim-meta' }), 'corim-meta');
  const signer = asMap(meta.get(0), 'corim-meta signer').get(0);
  return { sign1, ...(typeof signer === 'string' ? { signer } : {}), ...validityOf(meta.get(1), 'corim-meta signature-validity') };
}
