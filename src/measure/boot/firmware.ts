/**
 * Events OVMF (edk2 SecurityPkg Tcg2Dxe, DxeTpm2MeasureBootLib, DxeImageVerificationLib) logs on every
 * boot shape: the Secure Boot policy in PCR7, ready-to-boot separators, the boot-option action in PCR4
 * and the ExitBootServices actions in PCR5.
 */
import { InputError } from '../../errors.js';
import { EFI_CERT_SHA256_GUID, EFI_CERT_X509_GUID, parseSignatureLists } from '../../formats/efi-siglist.js';
import { EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE_GUID, type SecureBootVariables } from '../../formats/efi-varstore.js';
import { authenticode, signatureCertificates, type PeImage } from '../../formats/pe.js';
import type { HashAlg } from '../../tcg/index.js';
import { bytesEqual } from '../../util/bytes.js';
import { efiAction, separator, variableEvent, type MeasuredEvent } from './events.js';

export interface FirmwareParams {
  /** PK/KEK/db/dbx from the VARS store; absent → an empty store (Secure Boot off). */
  secureBoot?: SecureBootVariables;
  /**
   * X.509 check for db certificate entries: does DER `cert` (from the image's Authenticode signature)
   * name DER `ca` as issuer with a signature `ca`'s key verifies? In Node pass x509IssuedBy from
   * src/sign/x509.ts; without it a db certificate admits an image only when it is the signing certificate itself.
   */
  issuedBy?: X509IssuedBy;
}

/** Certificate parsing lives with the caller (Node: src/sign/x509.ts), so this layer stays browser-ready. */
export type X509IssuedBy = (cert: Uint8Array, ca: Uint8Array) => boolean;

/** SecureBoot is 1 when a PK is enrolled and SecureBootEnable (if present) is not 0 (edk2 AuthVariableLib). */
export function secureBootEnabled(fw: FirmwareParams): boolean {
  const sb = fw.secureBoot;
  return Boolean(sb?.PK && sb.PK.length > 0 && sb.secureBootEnable !== 0);
}

/**
 * PCR7 (PFP 3.3.4.8): EV_EFI_VARIABLE_DRIVER_CONFIG for SecureBoot, PK, KEK, db, dbx (absent → empty
 * data), then the PCR7 separator (Tcg2Dxe MeasureAllSecureVariables + MeasureSecureBootPolicy).
 */
export function secureBootPolicyEvents(fw: FirmwareParams, algs: readonly HashAlg[]): MeasuredEvent[] {
  const sb = fw.secureBoot ?? {};
  const empty = new Uint8Array(0);
  return [
    variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', EFI_GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(secureBootEnabled(fw) ? 1 : 0), algs),
    variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', EFI_GLOBAL_VARIABLE, 'PK', sb.PK ?? empty, algs),
    variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', EFI_GLOBAL_VARIABLE, 'KEK', sb.KEK ?? empty, algs),
    variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', EFI_IMAGE_SECURITY_DATABASE_GUID, 'db', sb.db ?? empty, algs),
    variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', EFI_IMAGE_SECURITY_DATABASE_GUID, 'dbx', sb.dbx ?? empty, algs),
    separator(7, algs),
  ];
}

/**
 * The db entry (EFI_SIGNATURE_DATA) that lets `image` load under Secure Boot, as DxeImageVerificationLib
 * IsAllowedByDb finds it: the first X.509 entry that is, or issued, a certificate of the image's
 * Authenticode signature; else the first SHA-256 entry equal to the image's Authenticode hash.
 */
export function dbAuthority(db: Uint8Array, image: PeImage, issuedBy?: X509IssuedBy): Uint8Array | undefined {
  const sigs = parseSignatureLists(db);
  const embedded = signatureCertificates(image);
  for (const s of sigs) {
    if (s.type !== EFI_CERT_X509_GUID) continue;
    const trusted = embedded.some((der) => bytesEqual(der, s.data) || issuedBy?.(der, s.data));
    if (trusted) return s.signatureData;
  }
  const hash = authenticode(image, ['sha256']).sha256;
  return sigs.find((s) => s.type === EFI_CERT_SHA256_GUID && bytesEqual(s.data, hash))?.signatureData;
}

/**
 * Secure Boot on: EV_EFI_VARIABLE_AUTHORITY (PFP 3.3.4.8) for the db entry that verified `image`
 * (DxeImageVerificationLib logs each distinct entry once per boot; these shapes verify one image).
 * Secure Boot off: nothing. An image no db entry admits would not load, which is an InputError.
 */
export function authorityEvents(fw: FirmwareParams, image: PeImage, what: string, algs: readonly HashAlg[]): MeasuredEvent[] {
  if (!secureBootEnabled(fw)) return [];
  const a = dbAuthority(fw.secureBoot?.db ?? new Uint8Array(0), image, fw.issuedBy);
  if (!a)
    throw new InputError(
      `${what}: Secure Boot is on but no db entry verifies this image (not signed by a db certificate nor listed by hash); the firmware would refuse it${fw.issuedBy ? '' : ' (no X.509 check was given: pass issuedBy to match db CA certificates)'}`,
    );
  return [variableEvent(7, 'EV_EFI_VARIABLE_AUTHORITY', EFI_IMAGE_SECURITY_DATABASE_GUID, 'db', a, algs, `db authority for ${what}`)];
}

/** BDS: "Calling EFI Application from Boot Option" (PCR4) when the first boot option starts. */
export function bootAttemptEvent(algs: readonly HashAlg[]): MeasuredEvent {
  return efiAction(4, 'Calling EFI Application from Boot Option', algs);
}

/** Ready-to-boot separators for PCR0–6 (PCR7's comes with the policy). */
export function readyToBootSeparators(algs: readonly HashAlg[]): MeasuredEvent[] {
  return [0, 1, 2, 3, 4, 5, 6].map((pcr) => separator(pcr, algs));
}

/** PFP 3.3.4.5: PCR5 actions around a successful ExitBootServices. */
export function exitBootServicesEvents(algs: readonly HashAlg[]): MeasuredEvent[] {
  return [efiAction(5, 'Exit Boot Services Invocation', algs), efiAction(5, 'Exit Boot Services Returned with Success', algs)];
}
