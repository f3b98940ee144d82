/**
 * SEV-SNP attestation report verification: the report signature with the VCEK or VLEK (ECDSA P-384,
 * SHA-384), the chain VCEK → ASK (or VLEK → ASVK) → ARK with AMD's roots pinned by fingerprint, the
 * VCEK's TCB and hwID extensions against the report (AMD "Versioned Chip Endorsement Key (VCEK)
 * Certificate and KDS Interface Specification" §3.1 Table 8), the guest policy, and the MEASUREMENT
 * against signed reference values. Browser-capable: WebCrypto only.
 */
import { decodePolicy, decodeTcb, parseSnpReport, type SnpProduct, snpProduct, type SnpReport, type TcbVersion } from '../formats/snp-report.js';
import { derString, readDer, smallInt } from '../formats/der.js';
import type { Certificate } from '../formats/x509.js';
import type { ReferenceValues } from '../manifest/model.js';
import { concatBytes, toHex } from '../util/bytes.js';
import { chainCerts, check, type Check, releaseEntries, statedMark, type VerifyEvidenceResult } from './result.js';
import { diagnoseSnp, type SnpDiagnosis } from './diagnose-snp.js';
import { fingerprint, signedBy, verifyEcdsa } from './x509.js';

/** SHA-256 of the DER of AMD's root keys (ARK), as published by AMD's KDS; every AMD chain ends in one. */
export const AMD_ARK_SHA256: Readonly<Record<SnpProduct, string>> = {
  Milan: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
  Genoa: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
  Turin: '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
};

/** What must hold beyond the signatures (schemas/verify-policy.schema.json `snp`). */
export interface SnpPolicy {
  /** Allowed VMPLs (default: any). */
  vmpl?: number[];
  /** Allow a debug guest (default false). */
  debug?: boolean;
  /** Allow a migration agent (default false). */
  migrateMa?: boolean;
  /** Minimum REPORTED_TCB components. */
  minTcb?: Partial<Omit<TcbVersion, 'raw'>>;
}

export interface SnpVerifyOptions {
  /** Candidate certificates: ARK, ASK/ASVK, VCEK/VLEK in any order (extra ones are ignored). */
  certs: readonly Certificate[];
  /** Verification time, seconds since the epoch (default now). */
  at?: number;
  policy?: SnpPolicy;
  reference?: ReferenceValues;
  /** The release's firmware: on a MEASUREMENT mismatch, search which knob differs (see diagnose-snp.ts). */
  firmware?: Uint8Array;
}

const EXT = {
  productName: '1.3.6.1.4.1.3704.1.2',
  bl: '1.3.6.1.4.1.3704.1.3.1',
  tee: '1.3.6.1.4.1.3704.1.3.2',
  snp: '1.3.6.1.4.1.3704.1.3.3',
  ucode: '1.3.6.1.4.1.3704.1.3.8',
  fmc: '1.3.6.1.4.1.3704.1.3.9',
  hwId: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
};

function extInt(c: Certificate, oid: string): number | undefined {
  const v = c.extensions.get(oid);
  return v === undefined ? undefined : smallInt(readDer(v, 0, `certificate extension ${oid}`), `certificate extension ${oid}`);
}

function extString(c: Certificate, oid: string): string | undefined {
  const v = c.extensions.get(oid);
  return v === undefined ? undefined : derString(readDer(v, 0, `certificate extension ${oid}`));
}

/**
 * The product named by a certificate set: the VCEK/VLEK's productName ("Milan-B0"), else the pinned ARK
 * present — in that order, so a set holding several products' chains follows the endorsement key's.
 */
function productFromCerts(certs: readonly Certificate[], fps: string[]): SnpProduct | undefined {
  for (const c of certs) {
    const name = extString(c, EXT.productName)?.split('-')[0];
    if (name && name in AMD_ARK_SHA256) return name as SnpProduct;
  }
  for (const [p, fp] of Object.entries(AMD_ARK_SHA256)) if (fps.includes(fp)) return p as SnpProduct;
  return undefined;
}

function snpValues(r: SnpReport, product: SnpProduct | undefined): Record<string, unknown> {
  return {
    measurement: toHex(r.measurement),
    hostData: toHex(r.hostData),
    reportData: toHex(r.reportData),
    idKeyDigest: toHex(r.idKeyDigest),
    authorKeyDigest: toHex(r.authorKeyDigest),
    familyId: toHex(r.familyId),
    imageId: toHex(r.imageId),
    guestSvn: r.guestSvn,
    policy: `0x${r.policy.toString(16)}`,
    policyDecoded: decodePolicy(r.policy),
    vmpl: r.vmpl,
    platformInfo: `0x${r.platformInfo.toString(16)}`,
    signingKey: r.signingKey === 0 ? 'vcek' : r.signingKey === 1 ? 'vlek' : 'none',
    chipId: toHex(r.chipId),
    reportedTcb: decodeTcb(r.reportedTcb, product),
    committedTcb: decodeTcb(r.committedTcb, product),
    launchTcb: decodeTcb(r.launchTcb, product),
    currentTcb: decodeTcb(r.currentTcb, product),
    currentVersion: r.currentVersion,
    committedVersion: r.committedVersion,
    ...(r.cpuid ? { cpuid: r.cpuid } : {}),
    ...(r.launchMitVector === undefined
      ? {}
      : { launchMitVector: `0x${r.launchMitVector.toString(16)}`, currentMitVector: `0x${r.currentMitVector!.toString(16)}` }),
    ...(product ? { product } : {}),
  };
}

/** Verifies one report. Never throws for a failed check (see `ok` and `checks`); @throws FormatError for bytes that are not a report. */
export async function verifySnpReport(bytes: Uint8Array, o: SnpVerifyOptions): Promise<VerifyEvidenceResult> {
  const r = parseSnpReport(bytes);
  const at = o.at ?? Math.floor(Date.now() / 1000);
  const checks: Check[] = [];
  const fps = o.certs.map(fingerprint);
  const product = snpProduct(r) ?? productFromCerts(o.certs, fps);
  const vlek = r.signingKey === 1;
  const signer = r.signingKey === 0 ? 'vcek' : vlek ? 'vlek' : 'none';
  check(checks, 'signing key is a VCEK or VLEK', r.signingKey <= 1, 'vcek|vlek', signer);

  // chain: ARK (pinned) → ASK / ASVK → VCEK / VLEK
  const arkIndex = product ? fps.indexOf(AMD_ARK_SHA256[product]) : -1;
  const ark = arkIndex >= 0 ? o.certs[arkIndex] : undefined;
  check(
    checks,
    "ARK is AMD's pinned root",
    ark !== undefined,
    product ? AMD_ARK_SHA256[product] : 'a pinned ARK (product unknown)',
    ark ? fps[arkIndex] : 'no pinned ARK among the certificates',
  );
  const find = async (cn: string, parent: Certificate | undefined) => {
    for (const c of o.certs) if (c.subject.commonName === cn && parent && (await signedBy(c, parent))) return c;
    return undefined;
  };
  const arkOk = ark !== undefined && (await signedBy(ark, ark));
  if (ark) check(checks, 'ARK is self-signed', arkOk);
  const midName = product ? (vlek ? `SEV-VLEK-${product}` : `SEV-${product}`) : '';
  const mid = arkOk ? await find(midName, ark) : undefined;
  check(
    checks,
    `${vlek ? 'ASVK' : 'ASK'} is signed by the ARK`,
    mid !== undefined,
    midName || 'ASK',
    mid ? mid.subject.commonName : 'not found among the certificates',
  );
  const leaf = mid ? await find(vlek ? 'SEV-VLEK' : 'SEV-VCEK', mid) : undefined;
  check(
    checks,
    `${signer.toUpperCase()} is signed by the ${vlek ? 'ASVK' : 'ASK'}`,
    leaf !== undefined,
    vlek ? 'SEV-VLEK' : 'SEV-VCEK',
    leaf ? leaf.subject.commonName : 'not found among the certificates',
  );
  const certs = chainCerts(
    checks,
    [
      ['ark', ark],
      [vlek ? 'asvk' : 'ask', mid],
      [signer, leaf],
    ] as const,
    at,
  );
  const chainOk = checks.every((c) => c.ok);

  // the report signature and the endorsement key's claims about the chip
  const sigOk = leaf !== undefined && (await verifyEcdsa(leaf.spki, leaf.curve, 'SHA-384', concatBytes(r.signature.r, r.signature.s), r.signed));
  check(checks, `report signature verifies with the ${signer.toUpperCase()}`, sigOk);
  if (leaf) {
    const tcb = decodeTcb(r.reportedTcb, product);
    const certTcb = {
      ...(product === 'Turin' ? { fmc: extInt(leaf, EXT.fmc) } : {}),
      bootloader: extInt(leaf, EXT.bl),
      tee: extInt(leaf, EXT.tee),
      snp: extInt(leaf, EXT.snp),
      microcode: extInt(leaf, EXT.ucode),
    };
    for (const [k, v] of Object.entries(certTcb))
      check(checks, `REPORTED_TCB ${k} equals the ${signer.toUpperCase()}'s`, v === tcb[k as keyof TcbVersion], String(v), String(tcb[k as keyof TcbVersion]));
    if (!vlek) {
      const hwId = leaf.extensions.get(EXT.hwId);
      const ok =
        hwId !== undefined &&
        !r.maskChipKey &&
        hwId.every((b, i) => b === r.chipId[i]) &&
        r.chipId.subarray(hwId.length).every((b) => b === 0 || hwId.length === 64);
      check(checks, 'CHIP_ID matches the VCEK hwID', ok, hwId ? toHex(hwId) : 'a hwID extension', toHex(r.chipId.subarray(0, hwId?.length ?? 64)));
    } else {
      check(checks, 'the VLEK names its cloud provider (cspId)', leaf.extensions.has(EXT.cspId), 'cspId', extString(leaf, EXT.cspId) ?? 'absent');
    }
  }

  // policy
  const p = o.policy ?? {};
  const pol = decodePolicy(r.policy);
  check(checks, 'policy: debug', p.debug === true || !pol.debug, p.debug ? 'allowed' : 'forbidden', pol.debug ? 'on' : 'off');
  check(checks, 'policy: migration agent', p.migrateMa === true || !pol.migrateMa, p.migrateMa ? 'allowed' : 'forbidden', pol.migrateMa ? 'on' : 'off');
  if (p.vmpl) check(checks, 'policy: VMPL', p.vmpl.includes(r.vmpl), p.vmpl.join('|'), String(r.vmpl));
  if (p.minTcb) {
    const tcb = decodeTcb(r.reportedTcb, product);
    for (const [k, min] of Object.entries(p.minTcb))
      check(
        checks,
        `policy: REPORTED_TCB ${k} ≥ ${min}`,
        ((tcb[k as keyof TcbVersion] as number | undefined) ?? -1) >= (min as number),
        `≥ ${min}`,
        String(tcb[k as keyof TcbVersion]),
      );
  }

  // reference values
  const measurement = toHex(r.measurement);
  let match: VerifyEvidenceResult['match'];
  let diagnosis: VerifyEvidenceResult['diagnosis'];
  if (o.reference) {
    // POLICY is not part of the launch digest, so entries that differ only in it share digests: prefer the
    // one whose policy (when it states one) is the report's, else the first (its POLICY check then fails)
    const reportPolicy = `0x${r.policy.toString(16)}`;
    const hits = o.reference.snp.flatMap((s) => {
      const hit = Object.entries(s.launchDigests).find(([, d]) => d === measurement);
      return hit ? [{ s, vcpus: Number(hit[0]) }] : [];
    });
    const best = hits.find((h) => h.s.parameters.policy === undefined || h.s.parameters.policy === reportPolicy) ?? hits[0];
    if (best) match = { platform: 'snp', parameters: best.s.parameters, vcpus: best.vcpus, ...statedMark(best.s) };
    if (!match) diagnosis = diagnose(measurement, o.reference, o.firmware);
    check(
      checks,
      'MEASUREMENT is a reference value',
      match !== undefined,
      match ? `${measurement}` : `one of ${o.reference.snp.reduce((n, s) => n + Object.keys(s.launchDigests).length, 0)} signed launch digests`,
      measurement,
    );
    const policy = match?.parameters.policy;
    if (policy !== undefined) check(checks, 'POLICY equals the reference', policy === reportPolicy, String(policy), reportPolicy);
  }
  return {
    ok: checks.every((c) => c.ok),
    type: 'snp-report',
    version: r.version,
    signature: { ok: sigOk, signer },
    chain: { ok: chainOk, ...(product ? { product } : {}), ...(ark ? { root: fps[arkIndex]! } : {}), certs },
    values: snpValues(r, product),
    checks,
    ...(match ? { match } : {}),
    ...(diagnosis ? { diagnosis } : {}),
  };
}

/** Diagnoses against every release entry built from this firmware (matched by its sha256). */
function diagnose(measurement: string, reference: ReferenceValues, firmware: Uint8Array | undefined): VerifyEvidenceResult['diagnosis'] {
  const wanted = reference.snp.map((s) => s.inputs.firmware).filter((f) => f?.sha256);
  if (!firmware)
    return {
      found: null,
      differences: [],
      searched: `nothing: give the release's firmware (${wanted.map((f) => `${f!.file ?? 'firmware'} sha256 ${f!.sha256!.slice(0, 16)}…`).join(', ') || 'none named'}) to search which knob differs`,
    };
  const entries = releaseEntries(reference.snp, firmware);
  if (!Array.isArray(entries)) return entries;
  let last: SnpDiagnosis | undefined;
  for (const e of entries) {
    last = diagnoseSnp(measurement, e, firmware);
    if (last.found) break;
  }
  const f = last!.found;
  return {
    found: f ? { vmm: f.vmm, ...(f.vcpuType ? { vcpuType: f.vcpuType } : {}), guestFeatures: `0x${f.guestFeatures.toString(16)}`, vcpus: f.vcpus } : null,
    differences: last!.differences,
    searched: last!.searched,
  };
}
