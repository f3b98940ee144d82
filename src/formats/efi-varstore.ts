/**
 * The UEFI variable store inside a firmware-volume image such as OVMF_VARS.fd: an
 * EFI_FIRMWARE_VOLUME_HEADER (PI 1.8 vol. 3 section 3.2.1) whose body starts with a VARIABLE_STORE_HEADER
 * followed by (AUTHENTICATED_)VARIABLE_HEADER records (edk2 MdeModulePkg/Include/Guid/VariableFormat.h).
 */
import { FormatError } from '../errors.js';
import { checkRange, guidToString, u16le, u32le, u64le, utf16le } from '../util/bytes.js';

const WHAT = 'EFI variable store';
/** UEFI 2.10 section 3.3 / 32.6: EFI_GLOBAL_VARIABLE and EFI_IMAGE_SECURITY_DATABASE_GUID. */
export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
export const EFI_IMAGE_SECURITY_DATABASE_GUID = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';
/** PI vol. 3 3.2.1: "_FVH" at offset 40 of the firmware volume header. */
const FV_SIGNATURE = 0x4856465f;
/** VariableFormat.h: gEfiAuthenticatedVariableGuid / gEfiVariableGuid as the store signature. */
const AUTH_VARIABLE_STORE = 'aaf32c78-947b-439a-a180-2e144ec37792';
const VARIABLE_STORE = 'ddcf3616-3275-4164-98b6-fe85707ffe7d';
/** VariableFormat.h: VARIABLE_STORE_HEADER is 28 bytes; variables start 4-byte aligned after it. */
const STORE_HEADER_SIZE = 28;
const VARIABLE_START_ID = 0x55aa;
/** VariableFormat.h variable State values (bits are cleared as a variable ages). */
const VAR_ADDED = 0x3f;
const VAR_IN_DELETED_TRANSITION = 0xfe;

export interface EfiVariable {
  /** Where its VARIABLE_HEADER starts in the firmware volume, and where its data ends. */
  offset: number;
  end: number;
  guid: string;
  name: string;
  attributes: number;
  data: Uint8Array;
  /** AUTHENTICATED_VARIABLE_HEADER fields (an authenticated store only). */
  auth?: { monotonicCount: bigint; timeStamp: string; pubKeyIndex: number };
}

/**
 * UEFI 2.10 section 8.3 EFI_TIME (16 bytes: Year u16, Month, Day, Hour, Minute, Second, Pad1, Nanosecond
 * u32, TimeZone i16, Daylight, Pad2) as text: `YYYY-MM-DD hh:mm:ss`, then the nanoseconds, time zone
 * (minutes; 0x7FF is EFI_UNSPECIFIED_TIMEZONE) and daylight flags when set.
 */
export function efiTimeText(b: Uint8Array, at: number): string {
  checkRange(b, at, 16, 'EFI_TIME');
  const p2 = (n: number) => String(n).padStart(2, '0');
  let t = `${String(u16le(b, at)).padStart(4, '0')}-${p2(b[at + 2]!)}-${p2(b[at + 3]!)} ${p2(b[at + 4]!)}:${p2(b[at + 5]!)}:${p2(b[at + 6]!)}`;
  const ns = u32le(b, at + 8);
  const tz = (u16le(b, at + 12) << 16) >> 16;
  if (ns) t += ` +${ns} ns`;
  if (tz !== 0 && tz !== 0x7ff) t += ` TimeZone ${tz}`;
  if (b[at + 14]) t += ` Daylight 0x${b[at + 14]!.toString(16)}`;
  return t;
}

/** AUTHENTICATED_VARIABLE_HEADER: where its 16-byte TimeStamp (EFI_TIME) starts. */
export const AUTH_TIMESTAMP_OFFSET = 16;

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Lists the live variables (State VAR_ADDED, possibly in deleted transition) of a VARS firmware volume.
 * @throws FormatError for a missing _FVH signature, an unknown store signature or a variable that runs past the store.
 */
export function parseVarStore(fv: Uint8Array): EfiVariable[] {
  checkRange(fv, 0, 0x38, `${WHAT} firmware volume header`);
  const b = fv;
  if (u32le(b, 40) !== FV_SIGNATURE) throw new FormatError(WHAT, 'no "_FVH" firmware volume signature at offset 40');
  const headerLength = u16le(b, 48);
  checkRange(fv, headerLength, STORE_HEADER_SIZE, `${WHAT} header`);
  const sig = guidToString(b, headerLength);
  const auth = sig === AUTH_VARIABLE_STORE;
  if (!auth && sig !== VARIABLE_STORE) throw new FormatError(WHAT, `unknown variable store signature ${sig} at 0x${headerLength.toString(16)}`);
  const storeSize = u32le(b, headerLength + 16);
  checkRange(fv, headerLength, storeSize, `${WHAT} (Size 0x${storeSize.toString(16)})`);
  const end = headerLength + storeSize;
  // VariableFormat.h: AUTHENTICATED_VARIABLE_HEADER is 60 bytes, VARIABLE_HEADER 32.
  const hdrSize = auth ? 60 : 32;
  const out: EfiVariable[] = [];
  let o = align4(headerLength + STORE_HEADER_SIZE);
  while (o + hdrSize <= end && u16le(b, o) === VARIABLE_START_ID) {
    const state = b[o + 2]!;
    const attributes = u32le(b, o + 4);
    const nameSize = u32le(b, o + (auth ? 36 : 8));
    const dataSize = u32le(b, o + (auth ? 40 : 12));
    const guid = guidToString(b, o + (auth ? 44 : 16));
    const nameAt = o + hdrSize;
    if (nameAt + nameSize + dataSize > end)
      throw new FormatError(WHAT, `variable at 0x${o.toString(16)} (NameSize ${nameSize}, DataSize ${dataSize}) runs past the store end 0x${end.toString(16)}`);
    if (state === VAR_ADDED || state === (VAR_ADDED & VAR_IN_DELETED_TRANSITION)) {
      const name = utf16le(b.subarray(nameAt, nameAt + nameSize)).replace(/\0+$/, '');
      const data = b.subarray(nameAt + nameSize, nameAt + nameSize + dataSize);
      // AUTHENTICATED_VARIABLE_HEADER: MonotonicCount at 8, TimeStamp (EFI_TIME) at 16, PubKeyIndex at 32
      const a = auth ? { auth: { monotonicCount: u64le(b, o + 8), timeStamp: efiTimeText(b, o + AUTH_TIMESTAMP_OFFSET), pubKeyIndex: u32le(b, o + 32) } } : {};
      out.push({ offset: o, end: nameAt + nameSize + dataSize, guid, name, attributes, data, ...a });
    }
    o = align4(nameAt + nameSize + dataSize);
  }
  return out;
}

/** The Secure Boot policy variables firmware measures into PCR7 (absent ones are undefined). */
export interface SecureBootVariables {
  PK?: Uint8Array;
  KEK?: Uint8Array;
  db?: Uint8Array;
  dbx?: Uint8Array;
  /** "SecureBootEnable" (edk2 SecureBootConfig), when the store has it. */
  secureBootEnable?: number;
}

/**
 * PK, KEK (EFI global variable GUID), db, dbx (image security database GUID) and edk2's SecureBootEnable
 * picked from a parsed store; absent ones are left out.
 */
export function secureBootVariables(vars: readonly EfiVariable[]): SecureBootVariables {
  const get = (guid: string, name: string) => vars.find((v) => v.guid === guid && v.name === name)?.data;
  const sbe = vars.find((v) => v.name === 'SecureBootEnable')?.data;
  const r: SecureBootVariables = {};
  const pk = get(EFI_GLOBAL_VARIABLE, 'PK');
  const kek = get(EFI_GLOBAL_VARIABLE, 'KEK');
  const db = get(EFI_IMAGE_SECURITY_DATABASE_GUID, 'db');
  const dbx = get(EFI_IMAGE_SECURITY_DATABASE_GUID, 'dbx');
  if (pk) r.PK = pk;
  if (kek) r.KEK = kek;
  if (db) r.db = db;
  if (dbx) r.dbx = dbx;
  if (sbe && sbe.length > 0) r.secureBootEnable = sbe[0]!;
  return r;
}
