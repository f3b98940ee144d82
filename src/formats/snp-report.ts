/**
 * The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI Specification rev 1.58, §7.3 Table 23;
 * TCB_VERSION Table 3 for Milan/Genoa and its Turin layout with an FMC byte). Versions 2, 3 and 5:
 * v3 adds CPUID_FAM_ID/MOD_ID/STEP, v5 the launch and current mitigation vectors. The signature
 * (Table 139, ECDSA P-384 with SHA-384) covers bytes 0x000–0x29F; R and S are little-endian.
 */
import { FormatError } from '../errors.js';
import { checkRange } from '../util/bytes.js';

export const SNP_REPORT_SIZE = 0x4a0;
export const SNP_REPORT_SIGNED_SIZE = 0x2a0;

export interface TcbVersion {
  /** Turin only. */
  fmc?: number;
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  /** The 64-bit value as 16 hex digits (most significant byte first). */
  raw: string;
}

export type SnpProduct = 'Milan' | 'Genoa' | 'Turin';

export interface SnpReport {
  version: number;
  guestSvn: number;
  policy: bigint;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  currentTcb: Uint8Array;
  platformInfo: bigint;
  authorKeyEn: boolean;
  maskChipKey: boolean;
  /** 0: VCEK, 1: VLEK, 7: none. */
  signingKey: number;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: Uint8Array;
  /** v3+: CPUID family/model/stepping of the chip (absent in v2). */
  cpuid?: { family: number; model: number; stepping: number };
  chipId: Uint8Array;
  committedTcb: Uint8Array;
  currentVersion: string;
  committedVersion: string;
  launchTcb: Uint8Array;
  /** v5+. */
  launchMitVector?: bigint;
  currentMitVector?: bigint;
  /** The signed bytes (0x000–0x29F). */
  signed: Uint8Array;
  /** R and S as big-endian 48-byte integers (P1363 order, what WebCrypto verifies). */
  signature: { r: Uint8Array; s: Uint8Array };
}

/** Guest policy bits (ABI Table 9). */
export function decodePolicy(p: bigint): { abiMinor: number; abiMajor: number; smt: boolean; migrateMa: boolean; debug: boolean; singleSocket: boolean } {
  return {
    abiMinor: Number(p & 0xffn),
    abiMajor: Number((p >> 8n) & 0xffn),
    smt: Boolean((p >> 16n) & 1n),
    migrateMa: Boolean((p >> 18n) & 1n),
    debug: Boolean((p >> 19n) & 1n),
    singleSocket: Boolean((p >> 20n) & 1n),
  };
}

/** The product from the report's CPUID fields (v3+): family 19h models 0–Fh Milan, 10h–1Fh and A0h–AFh Genoa; family 1Ah Turin. */
export function snpProduct(r: SnpReport): SnpProduct | undefined {
  if (!r.cpuid) return undefined;
  const { family, model } = r.cpuid;
  if (family === 0x19 && model <= 0x0f) return 'Milan';
  if (family === 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf))) return 'Genoa';
  if (family === 0x1a) return 'Turin';
  return undefined;
}

/** TCB_VERSION fields: Milan/Genoa put BOOT_LOADER, TEE at bytes 0–1 and SNP, MICROCODE at 6–7; Turin has FMC, BOOT_LOADER, TEE, SNP at 0–3. */
export function decodeTcb(b: Uint8Array, product: SnpProduct | undefined): TcbVersion {
  const raw = Array.from(b)
    .reverse()
    .map((x) => x.toString(16).padStart(2, '0'))
    .join('');
  if (product === 'Turin') return { fmc: b[0]!, bootloader: b[1]!, tee: b[2]!, snp: b[3]!, microcode: b[7]!, raw };
  return { bootloader: b[0]!, tee: b[1]!, snp: b[6]!, microcode: b[7]!, raw };
}

const bigEndian = (le: Uint8Array) => Uint8Array.from(le).reverse();

/** Parses a report (a longer buffer is an error: evidence files are exactly one report). @throws FormatError */
export function parseSnpReport(buf: Uint8Array): SnpReport {
  const what = 'SNP attestation report';
  if (buf.length !== SNP_REPORT_SIZE) throw new FormatError(what, `expected ${SNP_REPORT_SIZE} bytes, got ${buf.length}`);
  checkRange(buf, 0, SNP_REPORT_SIZE, what);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => v.getBigUint64(o, true);
  const at = (o: number, n: number) => buf.subarray(o, o + n);
  const version = u32(0x00);
  if (version < 2 || version > 5) throw new FormatError(what, `unsupported report version ${version} (2 to 5 are known)`);
  const signatureAlgo = u32(0x34);
  if (signatureAlgo !== 1) throw new FormatError(what, `SIGNATURE_ALGO ${signatureAlgo} is not 1 (ECDSA P-384 with SHA-384)`);
  const keyInfo = u32(0x48);
  const ver = (o: number) => `${buf[o + 2]}.${buf[o + 1]}.${buf[o]}`;
  // R and S: 72-byte little-endian fields of which the low 48 bytes are significant (ABI Table 139)
  const r = at(0x2a0, 72);
  const s = at(0x2a0 + 72, 72);
  if (r.subarray(48).some((x) => x !== 0) || s.subarray(48).some((x) => x !== 0))
    throw new FormatError(what, 'signature R or S has non-zero bytes above 384 bits');
  return {
    version,
    guestSvn: u32(0x04),
    policy: u64(0x08),
    familyId: at(0x10, 16),
    imageId: at(0x20, 16),
    vmpl: u32(0x30),
    signatureAlgo,
    currentTcb: at(0x38, 8),
    platformInfo: u64(0x40),
    authorKeyEn: Boolean(keyInfo & 1),
    maskChipKey: Boolean(keyInfo & 2),
    signingKey: (keyInfo >> 2) & 7,
    reportData: at(0x50, 64),
    measurement: at(0x90, 48),
    hostData: at(0xc0, 32),
    idKeyDigest: at(0xe0, 48),
    authorKeyDigest: at(0x110, 48),
    reportId: at(0x140, 32),
    reportIdMa: at(0x160, 32),
    reportedTcb: at(0x180, 8),
    ...(version >= 3 ? { cpuid: { family: buf[0x188]!, model: buf[0x189]!, stepping: buf[0x18a]! } } : {}),
    chipId: at(0x1a0, 64),
    committedTcb: at(0x1e0, 8),
    currentVersion: ver(0x1e8),
    committedVersion: ver(0x1ec),
    launchTcb: at(0x1f0, 8),
    ...(version >= 5 ? { launchMitVector: u64(0x1f8), currentMitVector: u64(0x200) } : {}),
    signed: at(0, SNP_REPORT_SIGNED_SIZE),
    signature: { r: bigEndian(r.subarray(0, 48)), s: bigEndian(s.subarray(0, 48)) },
  };
}
