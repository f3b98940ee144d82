/**
 * EFI_SIGNATURE_LIST (UEFI 2.10 section 32.4.1 "Signature Database"): the content of PK, KEK, db and
 * dbx — lists of EFI_SIGNATURE_DATA (owner GUID + an X.509 certificate or an image hash).
 */
import { FormatError } from '../errors.js';
import { checkRange, guidToString, u32le } from '../util/bytes.js';

const WHAT = 'EFI signature list';
/** UEFI 2.10 32.4.1: signature types. */
export const EFI_CERT_X509_GUID = 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072';
export const EFI_CERT_SHA256_GUID = 'c1c41626-504c-4092-aca9-41f936934328';

export interface EfiSignature {
  type: string;
  owner: string;
  /** The certificate (DER) or hash. */
  data: Uint8Array;
  /** The whole EFI_SIGNATURE_DATA (owner GUID + data), as DxeImageVerificationLib measures an authority. */
  signatureData: Uint8Array;
}

export function parseSignatureLists(b: Uint8Array): EfiSignature[] {
  const out: EfiSignature[] = [];
  let o = 0;
  while (o < b.length) {
    checkRange(b, o, 28, `${WHAT} header at 0x${o.toString(16)}`);
    const type = guidToString(b, o);
    const listSize = u32le(b, o + 16);
    const headerSize = u32le(b, o + 20);
    const sigSize = u32le(b, o + 24);
    if (listSize < 28 + headerSize || sigSize < 16 || (listSize - 28 - headerSize) % sigSize !== 0) {
      throw new FormatError(WHAT, `list at 0x${o.toString(16)} has inconsistent sizes (list ${listSize}, header ${headerSize}, signature ${sigSize})`);
    }
    checkRange(b, o, listSize, `${WHAT} at 0x${o.toString(16)}`);
    for (let s = o + 28 + headerSize; s < o + listSize; s += sigSize) {
      out.push({ type, owner: guidToString(b, s), data: b.subarray(s + 16, s + sigSize), signatureData: b.subarray(s, s + sigSize) });
    }
    o += listSize;
  }
  return out;
}
