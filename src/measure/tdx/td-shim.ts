/**
 * td-shim measurements (confidential-containers/td-shim: td-payload-reference-calculator semantics,
 * and the TEE_INFO hash of td-shim-tee-info-hash). Pure functions.
 */
import { InputError } from '../../errors.js';
import { extendFromZero, hash } from '../../tcg/index.js';
import { concatBytes, fromHex, u16le, u32le, utf8 } from '../../util/bytes.js';
import { createHasher } from '../../util/hash.js';

/** td-shim's default KERNEL_SIZE (payload region) and KERNEL_PARAM_SIZE. */
export const TD_SHIM_KERNEL_SIZE = 0x2000000;
export const TD_SHIM_PARAM_SIZE = 0x1000;

function paddedSha384(data: Uint8Array, size: number, what: string): Uint8Array {
  if (data.length > size) throw new InputError(`${what} is ${data.length} bytes, larger than its ${size}-byte (0x${size.toString(16)}) region`);
  const h = createHasher('sha384').update(data);
  const zeros = new Uint8Array(Math.min(size - data.length, 1 << 20));
  for (let left = size - data.length; left > 0; left -= zeros.length) h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  return h.digest();
}

/**
 * td-shim measures the payload region as loaded: the bzImage zero-padded to KERNEL_SIZE, SHA-384.
 * The kernel must use boot protocol 2.06+ (setup header version at 0x206).
 * @throws InputError for a kernel that is not a bzImage, older than boot protocol 2.06, or larger than
 *   the region.
 */
export function tdShimPayloadHash(kernel: Uint8Array, kernelSize = TD_SHIM_KERNEL_SIZE): Uint8Array {
  if (kernel.length < 0x208 || u32le(kernel, 0x202) !== 0x53726448) throw new InputError('kernel: not a bzImage (no "HdrS" setup header at 0x202)');
  const protocol = u16le(kernel, 0x206);
  if (protocol < 0x206) throw new InputError(`kernel: boot protocol ${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, '0')} is older than 2.06`);
  return paddedSha384(kernel, kernelSize, 'kernel');
}

/** The kernel command line as td-shim measures it: its bytes zero-padded to KERNEL_PARAM_SIZE, SHA-384. */
export function tdShimParamHash(param: string, paramSize = TD_SHIM_PARAM_SIZE): Uint8Array {
  return paddedSha384(utf8(param), paramSize, 'kernel parameter string');
}

/** td-shim-tee-info-hash manifest: TD attributes/XFAM (8 bytes each) and the three 48-byte config IDs, hex. */
export interface TeeInfoManifest {
  attributes: string;
  xfam: string;
  mrconfigid: string;
  mrowner: string;
  mrownerconfig: string;
}

/** td-shim's RTMR0/RTMR1 in the TEE_INFO: one extend of SHA-384(u32 separator, little-endian). */
function separatorRtmr(separator: number): Uint8Array {
  const sep = new Uint8Array(4);
  new DataView(sep.buffer).setUint32(0, separator >>> 0, true);
  return extendFromZero('sha384', [hash('sha384', sep)]);
}

/**
 * TEE_INFO hash (TDX Module ABI TDINFO_STRUCT, 512 bytes: ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER,
 * MROWNERCONFIG, RTMR0..3, 112 reserved bytes), SHA-384 — as td-shim-tee-info-hash computes it
 * from a td-shim image's MRTD and a manifest, with RTMR0 = RTMR1 = one separator extend.
 */
export function teeInfoHash(manifest: TeeInfoManifest, mrtd: Uint8Array, separator = 0): Uint8Array {
  const s = separatorRtmr(separator);
  const fields = [
    fromHex(manifest.attributes, 'manifest attributes', 8),
    fromHex(manifest.xfam, 'manifest xfam', 8),
    mrtd,
    fromHex(manifest.mrconfigid, 'manifest mrconfigid', 48),
    fromHex(manifest.mrowner, 'manifest mrowner', 48),
    fromHex(manifest.mrownerconfig, 'manifest mrownerconfig', 48),
    s,
    s,
    new Uint8Array(48),
    new Uint8Array(48),
    new Uint8Array(0x70),
  ];
  return hash('sha384', concatBytes(...fields));
}
