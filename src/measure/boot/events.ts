/**
 * Measured boot events (TCG PC Client Platform Firmware Profile 1.05, section 10 "Event Logging"):
 * what is extended, into which PCR, with which event type. Pure: bytes in, digests out.
 */
import { authenticode, type PeImage } from '../../formats/pe.js';
import type { EventType, HashAlg } from '../../tcg/index.js';
import { concatBytes, guidToBytes, latin1Bytes, utf16leBytes, view } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';
export { EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE_GUID } from '../../formats/efi-varstore.js';

/** Banks predicted by default: the ones vTPMs and TDX firmware enable (sha512 on request). */
export const HASH_ALGS = ['sha1', 'sha256', 'sha384'] as const satisfies readonly HashAlg[];

/** One predicted TCG_PCR_EVENT2: the PCR it extends, its type, what it is, and its digest per bank. */
export interface MeasuredEvent {
  /** TPM PCR index (the TDX RTMR follows from a register map). */
  pcr: number;
  type: EventType;
  /** What was measured, e.g. "kernel (QEMU-patched bzImage)", "SecureBoot", "separator", ".linux". */
  component: string;
  /** Digest per requested bank. */
  digests: Partial<Record<HashAlg, Uint8Array>>;
  /** The event data as logged (TCG_PCR_EVENT2.Event) when the inputs fully determine it. */
  eventData?: Uint8Array;
}

/** What an event's digest is computed over: plain bytes, or an image's Authenticode hash. */
export type Measured = Uint8Array | { authenticode: PeImage };

export function digestsOf(measured: Measured, algs: readonly HashAlg[]): Partial<Record<HashAlg, Uint8Array>> {
  if (measured instanceof Uint8Array) return Object.fromEntries(algs.map((a) => [a, digest(a, measured)]));
  return authenticode(measured.authenticode, algs);
}

export function event(pcr: number, type: EventType, component: string, measured: Measured, algs: readonly HashAlg[], eventData?: Uint8Array): MeasuredEvent {
  return { pcr, type, component, digests: digestsOf(measured, algs), ...(eventData ? { eventData } : {}) };
}

/** PFP 10.4.1 / 3.3.2.2: EV_SEPARATOR with a 4-byte 0x00000000 (no error) is measured into PCR0–7 at ready-to-boot. */
export function separator(pcr: number, algs: readonly HashAlg[]): MeasuredEvent {
  const data = new Uint8Array(4);
  return event(pcr, 'EV_SEPARATOR', 'separator', data, algs, data);
}

/** PFP 10.4.3: EV_EFI_ACTION — the ASCII string (no NUL) is both the data and what is hashed. */
export function efiAction(pcr: number, text: string, algs: readonly HashAlg[]): MeasuredEvent {
  const data = latin1Bytes(text);
  return event(pcr, 'EV_EFI_ACTION', text, data, algs, data);
}

export function utf16z(text: string): Uint8Array {
  return utf16leBytes(`${text}\0`);
}

/** PFP 10.3.3 UEFI_VARIABLE_DATA: VariableName GUID, UINT64 name length (chars), UINT64 data length, UTF-16 name (no NUL), data. */
export function uefiVariableData(guid: string, name: string, data: Uint8Array): Uint8Array {
  const lengths = new Uint8Array(16);
  view(lengths).setBigUint64(0, BigInt(name.length), true);
  view(lengths).setBigUint64(8, BigInt(data.length), true);
  return concatBytes(guidToBytes(guid), lengths, utf16leBytes(name), data);
}

/** EV_EFI_VARIABLE_DRIVER_CONFIG / _AUTHORITY: the whole UEFI_VARIABLE_DATA is hashed (edk2 Tcg2Dxe MeasureVariable). */
export function variableEvent(
  pcr: number,
  type: 'EV_EFI_VARIABLE_DRIVER_CONFIG' | 'EV_EFI_VARIABLE_AUTHORITY',
  guid: string,
  name: string,
  data: Uint8Array,
  algs: readonly HashAlg[],
  component = name,
): MeasuredEvent {
  const v = uefiVariableData(guid, name, data);
  return event(pcr, type, component, v, algs, v);
}

/** PFP 10.4.2 TCG_PCClientTaggedEvent: UINT32 taggedEventID, UINT32 size, data; the digest covers other bytes. */
export function taggedEvent(pcr: number, tagId: number, tagData: string, component: string, measured: Measured, algs: readonly HashAlg[]): MeasuredEvent {
  const d = latin1Bytes(`${tagData}\0`);
  const data = new Uint8Array(8 + d.length);
  view(data).setUint32(0, tagId, true);
  view(data).setUint32(4, d.length, true);
  data.set(d, 8);
  return event(pcr, 'EV_EVENT_TAG', component, measured, algs, data);
}
