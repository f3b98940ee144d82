/**
 * TDX quote verification (Intel TDX DCAP Quote Generation Library and Quote Verification Library API,
 * appendix "Quote Format": Quote Signature Data, QE Report Certification Data, PCK Certificate Chain
 * Data): the quote's ECDSA P-256 signature with its attestation key, the QE report's signature with
 * the PCK leaf, the QE report binding the attestation key (REPORTDATA = SHA-256(key || QE auth data)),
 * the PCK chain to Intel's SGX Root CA pinned by fingerprint, TD attributes, and MRTD/RTMRs against
 * signed reference values. WebCrypto only (browser-capable).
 */
import { FormatError } from '../errors.js';
import { parseEventLog, replayEventLog } from '../formats/tcg-eventlog.js';
import { parseTdxQuote, type TdxQuote } from '../formats/tdx-quote.js';
import { PAGE_ORDERS, tdxMrtd } from '../measure/tdx/mrtd.js';
import { type Certificate, readCertificates } from '../formats/x509.js';
import type { ReferenceValues } from '../manifest/model.js';
import { fromHex, toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { chainCerts, check, type Check, releaseEntries, statedMark, type VerifyEvidenceResult } from './result.js';
import { fingerprint, memo, signedBy, verifyEcdsa } from './x509.js';

/** SHA-256 of the DER of Intel's SGX Root CA, the root of every PCK chain. */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

const HEADER_SIZE = 48;
const QE_REPORT_SIZE = 384;
/** Certification data types: 5 = PCK certificate chain (PEM), 6 = QE Report Certification Data. */
const CERT_PCK_CHAIN = 5;
const CERT_QE_REPORT = 6;
/** TDX_ATTRIBUTES bit 0: the TD is debuggable (its memory and registers are visible to the host). */
const TD_ATTRIBUTES_DEBUG = 1n;
/** Intel's TD Quoting Enclave identity (PCS `tdx/certification/v4/qe/identity`, id TD_QE): its signer and product. */
const TD_QE_MRSIGNER = 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5';
const TD_QE_ISVPRODID = 2;
/** SGX ATTRIBUTES.FLAGS bit 1: a debug enclave (its memory readable by the host). */
const SGX_ATTRIBUTES_DEBUG = 0x02;

export interface TdxPolicy {
  /** Allow a debug TD (default false). */
  debug?: boolean;
}

export interface TdxVerifyOptions {
  at?: number;
  policy?: TdxPolicy;
  reference?: ReferenceValues;
  /** The TD's CCEL event log: RTMR0–3 must replay from it. */
  ccel?: Uint8Array;
  /** The release's TDVF image: on an MRTD mismatch, try the other page order (QEMU 8.x two-pass vs single). */
  firmware?: Uint8Array;
}

/** The uncompressed P-256 point x||y as a SubjectPublicKeyInfo (RFC 5480). */
function p256Spki(xy: Uint8Array): Uint8Array {
  const prefix = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    0x04,
  ];
  return Uint8Array.from([...prefix, ...xy]);
}

interface SignatureData {
  signed: Uint8Array;
  quoteSignature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  pckChainPem: Uint8Array;
}

/** Splits the signature data by its length fields; bytes after the quote (padding, text) are ignored. */
function signatureData(bytes: Uint8Array, q: TdxQuote): SignatureData {
  const what = 'TDX quote signature data';
  const bodySize = q.bodyType === 3 ? 648 : 584;
  const signedLen = HEADER_SIZE + (q.version === 5 ? 6 : 0) + bodySize;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = signedLen + 4 + q.signatureDataLength;
  let o = signedLen + 4;
  const take = (n: number, name: string) => {
    if (o + n > end) throw new FormatError(what, `${name} (${n} bytes at offset ${o}) runs past the signature data, which ends at ${end}`);
    const b = bytes.subarray(o, o + n);
    o += n;
    return b;
  };
  const u16 = (name: string) => v.getUint16(take(2, name).byteOffset - bytes.byteOffset, true);
  const u32 = (name: string) => v.getUint32(take(4, name).byteOffset - bytes.byteOffset, true);
  const quoteSignature = take(64, 'quote signature');
  const attestationKey = take(64, 'attestation key');
  const outerType = u16('certification data type');
  const outerSize = u32('certification data size');
  if (outerType !== CERT_QE_REPORT) throw new FormatError(what, `certification data type ${outerType} is not 6 (QE report certification data)`);
  if (o + outerSize > end) throw new FormatError(what, `certification data of ${outerSize} bytes runs past the signature data`);
  const qeReport = take(QE_REPORT_SIZE, 'QE report');
  const qeReportSignature = take(64, 'QE report signature');
  const qeAuthData = take(u16('QE authentication data size'), 'QE authentication data');
  const innerType = u16('PCK certification data type');
  const innerSize = u32('PCK certification data size');
  if (innerType !== CERT_PCK_CHAIN)
    throw new FormatError(what, `PCK certification data type ${innerType} is not 5 (PEM certificate chain); other types need a PCCS`);
  const pckChainPem = take(innerSize, 'PCK certificate chain');
  return { signed: bytes.subarray(0, signedLen), quoteSignature, attestationKey, qeReport, qeReportSignature, qeAuthData, pckChainPem };
}

/** PCK chains parsed once per chain (every quote of a platform carries the same PEM). */
const pckChains = memo<Certificate[]>(256);

/** Verifies one quote. Never throws for a failed check; @throws FormatError for bytes that are not a quote. */
export async function verifyTdxQuote(bytes: Uint8Array, o: TdxVerifyOptions = {}): Promise<VerifyEvidenceResult> {
  const q = parseTdxQuote(bytes);
  const s = signatureData(bytes, q);
  const at = o.at ?? Math.floor(Date.now() / 1000);
  const checks: Check[] = [];

  // PCK chain: leaf → intermediate CA → Intel SGX Root CA (pinned)
  const pem = pckChains(toHex(digest('sha256', s.pckChainPem)), () => readCertificates(s.pckChainPem, 'PCK certificate chain'));
  const fps = pem.map(fingerprint);
  const rootIndex = fps.indexOf(INTEL_SGX_ROOT_CA_SHA256);
  const root = pem[rootIndex];
  check(
    checks,
    "root is Intel's pinned SGX Root CA",
    root !== undefined,
    INTEL_SGX_ROOT_CA_SHA256,
    root ? fps[rootIndex] : `${pem.length} certificates, none of them the pinned root`,
  );
  const rootOk = root !== undefined && (await signedBy(root, root));
  if (root) check(checks, 'root is self-signed', rootOk);
  const leaf = pem[0];
  const mid = pem.find((c, i) => i !== rootIndex && c !== leaf);
  const midOk = rootOk && mid !== undefined && (await signedBy(mid, root!));
  check(checks, 'PCK CA is signed by the root', midOk, 'Intel SGX PCK Platform/Processor CA', mid?.subject.commonName ?? 'absent');
  const leafOk = midOk && leaf !== undefined && (await signedBy(leaf, mid!));
  check(checks, 'PCK certificate is signed by the PCK CA', leafOk, 'Intel SGX PCK Certificate', leaf?.subject.commonName ?? 'absent');
  const certs = chainCerts(
    checks,
    [
      ['root', root],
      ['pck-ca', mid],
      ['pck', leaf],
    ] as const,
    at,
  );
  const chainOk = checks.every((c) => c.ok);

  // QE report (signed by the PCK key) binds the attestation key, which signs the quote
  const qeOk = leaf !== undefined && (await verifyEcdsa(leaf.spki, leaf.curve, 'SHA-256', s.qeReportSignature, s.qeReport));
  check(checks, 'QE report signature verifies with the PCK key', qeOk);
  const binding = digest('sha256', s.attestationKey, s.qeAuthData);
  const reportData = s.qeReport.subarray(320, 384);
  check(
    checks,
    'QE report data binds the attestation key',
    binding.every((b, i) => b === reportData[i]) && reportData.subarray(32).every((b) => b === 0),
    toHex(binding),
    toHex(reportData.subarray(0, 32)),
  );
  // the QE itself (SGX REPORT body, SDM vol. 3D §38.15: ATTRIBUTES at 48, MRSIGNER at 128, ISVPRODID at 256):
  // the PCK certifies the key of any provisioning enclave on the platform, the host's own included, so only
  // Intel's TD Quoting Enclave, not in debug mode, may vouch for the attestation key (Intel's TD_QE identity)
  const qeSigner = toHex(s.qeReport.subarray(128, 160));
  const qeProdId = s.qeReport[256]! | (s.qeReport[257]! << 8);
  check(
    checks,
    "QE is Intel's TD Quoting Enclave (MRSIGNER, ISVPRODID)",
    qeSigner === TD_QE_MRSIGNER && qeProdId === TD_QE_ISVPRODID,
    `${TD_QE_MRSIGNER} / ${TD_QE_ISVPRODID}`,
    `${qeSigner} / ${qeProdId}`,
  );
  const qeDebug = (s.qeReport[48]! & SGX_ATTRIBUTES_DEBUG) !== 0;
  check(checks, 'QE is not a debug enclave', !qeDebug, 'DEBUG clear', qeDebug ? 'DEBUG set' : 'DEBUG clear');
  const sigOk = await verifyEcdsa(p256Spki(s.attestationKey), '1.2.840.10045.3.1.7', 'SHA-256', s.quoteSignature, s.signed);
  check(checks, 'quote signature verifies with the attestation key', sigOk);

  // policy
  const b = q.body;
  const attributes = new DataView(fromHex(b.tdAttributes, 'TD attributes').buffer).getBigUint64(0, true);
  const debug = (attributes & TD_ATTRIBUTES_DEBUG) !== 0n;
  check(checks, 'policy: debug', o.policy?.debug === true || !debug, o.policy?.debug ? 'allowed' : 'forbidden', debug ? 'on' : 'off');

  // the CCEL log, when given, must replay to the quoted RTMRs (then its events explain them)
  if (o.ccel) {
    const log = parseEventLog(o.ccel);
    const replayed = replayEventLog(log.events, { alg: 'sha384', map: 'ccel' });
    for (const i of [0, 1, 2, 3])
      check(checks, `RTMR${i} replays from the CCEL log`, replayed[`rtmr${i}`] === b.rtmr[i], b.rtmr[i], replayed[`rtmr${i}`] ?? 'not extended');
  }

  // reference values
  let match: VerifyEvidenceResult['match'];
  let diagnosis: VerifyEvidenceResult['diagnosis'];
  if (o.reference) {
    const entry = o.reference.tdx.find((t) => t.mrtd === b.mrTd && Object.entries(t.rtmr).every(([i, v]) => b.rtmr[Number(i)] === v));
    if (entry) match = { platform: 'tdx', parameters: entry.parameters, ...statedMark(entry) };
    const mrtdHit = o.reference.tdx.find((t) => t.mrtd === b.mrTd);
    check(checks, 'MRTD is a reference value', mrtdHit !== undefined, `one of ${o.reference.tdx.length} signed MRTDs`, b.mrTd);
    if (!mrtdHit) diagnosis = diagnoseMrtd(b.mrTd, o.reference, o.firmware);
    // the RTMRs of the entry that matches whole, else (for the diagnosis) of the first with this MRTD: one
    // firmware usually has several entries (kernels, command lines) that differ only in RTMR1/RTMR2
    const ref = entry ?? mrtdHit;
    if (ref) for (const [i, v] of Object.entries(ref.rtmr)) check(checks, `RTMR${i} equals the reference`, b.rtmr[Number(i)] === v, v, b.rtmr[Number(i)]);
  }
  return {
    ok: checks.every((c) => c.ok),
    type: 'tdx-quote',
    version: q.version,
    signature: { ok: sigOk && qeOk, signer: 'pck' },
    chain: { ok: chainOk, ...(root ? { root: fps[rootIndex]! } : {}), certs },
    values: {
      mrtd: b.mrTd,
      rtmr: b.rtmr,
      mrConfigId: b.mrConfigId,
      mrOwner: b.mrOwner,
      mrOwnerConfig: b.mrOwnerConfig,
      tdAttributes: b.tdAttributes,
      debug,
      xfam: b.xfam,
      teeTcbSvn: b.teeTcbSvn,
      mrSeam: b.mrSeam,
      reportData: b.reportData,
      attestationKey: toHex(s.attestationKey),
      ...(q.bodyType !== undefined ? { bodyType: q.bodyType } : {}),
      ...(b.teeTcbSvn2 ? { teeTcbSvn2: b.teeTcbSvn2, mrServiceTd: b.mrServiceTd } : {}),
    },
    checks,
    ...(match ? { match } : {}),
    ...(diagnosis ? { diagnosis } : {}),
  };
}

/** An MRTD mismatch: the same firmware under the other page order (two-pass: QEMU 8.x TDX builds), checked against the release's firmware digest. */
export function diagnoseMrtd(mrtd: string, reference: ReferenceValues, firmware: Uint8Array | undefined): VerifyEvidenceResult['diagnosis'] {
  if (!firmware) return { found: null, differences: [], searched: "nothing: give the release's firmware (--firmware) to try the other page order" };
  const entries = releaseEntries(reference.tdx, firmware);
  if (!Array.isArray(entries)) return entries;
  for (const order of PAGE_ORDERS) {
    if (toHex(tdxMrtd(firmware, order).mrtd) !== mrtd) continue;
    const released = String(entries[0]!.parameters.pageOrder ?? 'single');
    return {
      found: { pageOrder: order },
      differences: order === released ? [] : [`page order: ${order}${order === 'two-pass' ? ' (QEMU 8.x TDX)' : ''}; the release is for ${released}`],
      searched: `page orders ${PAGE_ORDERS.join(', ')}`,
    };
  }
  return {
    found: null,
    differences: [],
    searched: `page orders ${PAGE_ORDERS.join(', ')} of the release firmware; none gives ${mrtd.slice(0, 16)}… (a different firmware or TD configuration)`,
  };
}
