/**
 * TCG2 event logs (TCG PC Client Platform Firmware Profile, section 10 "Event Logging"): the
 * crypto-agile format (TCG_PCR_EVENT2, announced by a "Spec ID Event03" header) and the legacy SHA-1
 * format (TCG_PCR_EVENT only). Used for TPM logs (binary_bios_measurements) and TDX CCEL logs, whose
 * "PCR index" field holds a CC measurement-register index (UEFI 2.10 section 38.4.1: 0 = MRTD, 1..4 = RTMR0..3).
 *
 * API: parseEventLog(bytes) → events (pcrIndex, type, digests by algorithm, raw data, decoded data);
 * replayEventLog(events, { alg, map }) → register values.
 */
import { FormatError } from '../errors.js';
import {
  EV_NO_ACTION,
  extend,
  LOG_MAPS,
  registerKey,
  startupLocalityPcr0,
  tpmAlg,
  typeName,
  zeroRegisters,
  type HashAlg,
  type LogRegisters,
  type TpmAlgName,
} from '../tcg/index.js';
import { fromHex, guidToString, latin1, toHex, u16le, u32le, u64le, utf16le } from '../util/bytes.js';

export interface TcgEvent {
  /** Position in the log (0 = the header event). */
  index: number;
  /** File offset of the event record. */
  offset: number;
  /** PCR index (TPM logs) or CC measurement-register index (CCEL). */
  pcrIndex: number;
  type: number;
  typeName: string;
  /** Lowercase hex digest by algorithm name. */
  digests: Partial<Record<TpmAlgName, string>>;
  data: Uint8Array;
  /** Structured view of `data` for the event types this parser knows; absent otherwise. */
  decoded?: Record<string, unknown>;
}

export interface EventLog {
  format: 'tcg2' | 'sha1';
  /** Banks announced by the Spec ID event (crypto-agile) or ['sha1']. */
  algorithms: TpmAlgName[];
  events: TcgEvent[];
  /** Bytes consumed by events; anything after (CCEL 0xFF fill) is padding. */
  length: number;
}

const WHAT = 'TCG event log';

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    private readonly ctx: () => string,
  ) {}
  need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) {
      throw new FormatError(
        WHAT,
        `truncated at offset 0x${this.pos.toString(16)}: ${this.ctx()} needs ${n} bytes for ${field}, ${this.buf.length - this.pos} left`,
      );
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = u16le(this.buf, this.pos);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = u32le(this.buf, this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

/** Is everything from `pos` on a fill byte (0xFF or 0x00)? CCEL areas are pre-filled; TPM logs end exactly. */
function onlyPadding(buf: Uint8Array, pos: number): boolean {
  if (pos >= buf.length) return true;
  const fill = buf[pos];
  if (fill !== 0xff && fill !== 0x00) return false;
  for (let i = pos; i < buf.length; i++) if (buf[i] !== fill) return false;
  return true;
}

/** PC Client PFP Table 22: TCG_EfiSpecIdEvent ("Spec ID Event03"): the banks of the crypto-agile log. */
function parseSpecId(data: Uint8Array): { algorithms: { id: number; size: number }[]; decoded: Record<string, unknown> } | null {
  if (data.length < 16 || latin1(data.subarray(0, 16)) !== 'Spec ID Event03\0') return null;
  const r = new Reader(data, 16, () => 'Spec ID Event03');
  const platformClass = r.u32('platformClass');
  const minor = r.u8('specVersionMinor');
  const major = r.u8('specVersionMajor');
  const errata = r.u8('specErrata');
  const uintnSize = r.u8('uintnSize');
  const n = r.u32('numberOfAlgorithms');
  if (n === 0 || n > 16) throw new FormatError(WHAT, `Spec ID Event03 announces ${n} algorithms`);
  const algorithms = [];
  for (let i = 0; i < n; i++) algorithms.push({ id: r.u16('algorithmId'), size: r.u16('digestSize') });
  for (const a of algorithms) {
    const known = tpmAlg(a.id);
    if (known && known.size !== a.size) throw new FormatError(WHAT, `Spec ID Event03 gives ${known.name} a ${a.size}-byte digest, expected ${known.size}`);
  }
  return {
    algorithms,
    decoded: {
      signature: 'Spec ID Event03',
      platformClass,
      specVersion: `${major}.${minor}.${errata}`,
      uintnSize,
      algorithms: algorithms.map((a) => ({ alg: tpmAlg(a.id)?.name ?? `0x${a.id.toString(16)}`, digestSize: a.size })),
    },
  };
}

/**
 * Parses a TCG2 event log. Crypto-agile when the first (SHA-1 format) event is a Spec ID Event03,
 * legacy SHA-1 otherwise. Trailing 0xFF/0x00 fill (CCEL) ends the log; anything else that does not
 * parse is a one-line FormatError naming the offset and event.
 * @throws FormatError naming the offset and event that does not parse.
 */
export function parseEventLog(buf: Uint8Array): EventLog {
  let index = 0;
  let start = 0;
  const r = new Reader(buf, 0, () => `event ${index} (at 0x${start.toString(16)})`);
  if (buf.length < 32) throw new FormatError(WHAT, `${buf.length} bytes is too short for a TCG_PCR_EVENT header`);
  if (onlyPadding(buf.subarray(0, 32), 0))
    throw new FormatError(WHAT, `no events: the input starts with 0x${buf[0]!.toString(16).padStart(2, '0')} fill bytes (an empty log area?)`);
  const events: TcgEvent[] = [];
  // PC Client PFP Table 19: TCG_PCR_EVENT (pcrIndex, eventType, SHA-1 digest, eventSize, event).
  const readLegacy = (): TcgEvent => {
    const pcrIndex = r.u32('pcrIndex');
    const type = r.u32('eventType');
    const sha1 = r.bytes(20, 'SHA-1 digest');
    const size = r.u32('eventSize');
    const data = r.bytes(size, `${size}-byte event data`);
    return { index, offset: start, pcrIndex, type, typeName: typeName(type), digests: { sha1: toHex(sha1) }, data };
  };
  const first = readLegacy();
  const spec = first.type === EV_NO_ACTION ? parseSpecId(first.data) : null;
  if (spec) first.decoded = spec.decoded;
  events.push(first);
  const sizes = new Map(spec?.algorithms.map((a) => [a.id, a.size]));
  for (;;) {
    index = events.length;
    start = r.pos;
    if (start + 8 > buf.length ? onlyPadding(buf, start) : isEndMarker(buf, start)) break;
    let ev: TcgEvent;
    if (!spec) {
      ev = readLegacy();
    } else {
      // PC Client PFP Table 18: TCG_PCR_EVENT2 (pcrIndex, eventType, TPML_DIGEST_VALUES, eventSize, event).
      const pcrIndex = r.u32('pcrIndex');
      const type = r.u32('eventType');
      const count = r.u32('digest count');
      if (count > sizes.size)
        throw new FormatError(WHAT, `event ${index} (at 0x${start.toString(16)}) has ${count} digests, the log announces ${sizes.size} algorithms`);
      const digests: TcgEvent['digests'] = {};
      for (let i = 0; i < count; i++) {
        const alg = r.u16('hashAlg');
        const size = sizes.get(alg);
        if (size === undefined)
          throw new FormatError(WHAT, `event ${index} (at 0x${start.toString(16)}) uses algorithm 0x${alg.toString(16)} not announced by the Spec ID event`);
        const name = tpmAlg(alg)?.name;
        const d = r.bytes(size, `${name ?? alg} digest`);
        if (name) digests[name] = toHex(d);
      }
      const size = r.u32('eventSize');
      const data = r.bytes(size, `${size}-byte event data`);
      ev = { index, offset: start, pcrIndex, type, typeName: typeName(type), digests, data };
    }
    const decoded = decodeEventData(ev.type, ev.data);
    if (decoded) ev.decoded = decoded;
    events.push(ev);
  }
  const algorithms = spec ? spec.algorithms.flatMap((a) => tpmAlg(a.id)?.name ?? []) : (['sha1'] as TpmAlgName[]);
  return { format: spec ? 'tcg2' : 'sha1', algorithms, events, length: r.pos };
}

/** A record header of all-0xFF or all-0x00 followed only by that fill byte ends the log. */
function isEndMarker(buf: Uint8Array, pos: number): boolean {
  const head = u32le(buf, pos) + u32le(buf, pos + 4);
  return (head === 0 || head === 0x1fffffffe) && onlyPadding(buf, pos);
}

/** The byte at `i`; out of range is a RangeError, as Buffer's readUInt8 (decodeEventData catches it). */
function at(b: Uint8Array, i: number): number {
  if (i >= b.length) throw new RangeError(`offset ${i} is outside ${b.length} bytes`);
  return b[i]!;
}

const utf16 = (b: Uint8Array) => utf16le(b).replace(/\0+$/, '');
const printable = (b: Uint8Array) => /^[\x20-\x7e\t\r\n]*\0?$/.test(latin1(b));
const isUtf16Text = (b: Uint8Array) =>
  b.length >= 2 && b.length % 2 === 0 && /^[\x20-\x7e\t\r\n]+\0?$/.test(utf16le(b)) && b.every((x, i) => i % 2 === 0 || x === 0);

/** Structured view of well-known event data (PC Client PFP section 10.4); undefined when unknown or malformed. */
export function decodeEventData(type: number, data: Uint8Array): Record<string, unknown> | undefined {
  try {
    switch (typeName(type)) {
      case 'EV_SEPARATOR':
        return { separator: toHex(data) };
      case 'EV_ACTION':
      case 'EV_EFI_ACTION':
      case 'EV_IPL':
      case 'EV_POST_CODE':
      case 'EV_COMPACT_HASH':
        if (printable(data)) return { text: latin1(data).replace(/\0$/, '') };
        // systemd-stub logs its PE section names (PCR11) as UTF-16LE
        if (isUtf16Text(data)) return { text: utf16(data) };
        return undefined;
      case 'EV_S_CRTM_VERSION':
        return { text: utf16(data) };
      case 'EV_NO_ACTION': {
        if (latin1(data.subarray(0, 16)) === 'StartupLocality\0') return { startupLocality: at(data, 16) };
        return undefined;
      }
      case 'EV_EVENT_TAG': {
        // PC Client PFP Table 11: TCG_PCClientTaggedEvent.
        const id = u32le(data, 0);
        const len = u32le(data, 4);
        const tag = data.subarray(8, 8 + len);
        if (tag.length !== len) return undefined;
        return { tagId: `0x${id.toString(16)}`, tagData: printable(tag) ? latin1(tag).replace(/\0$/, '') : toHex(tag) };
      }
      case 'EV_EFI_VARIABLE_DRIVER_CONFIG':
      case 'EV_EFI_VARIABLE_BOOT':
      case 'EV_EFI_VARIABLE_BOOT2':
      case 'EV_EFI_VARIABLE_AUTHORITY': {
        // PC Client PFP Table 12: UEFI_VARIABLE_DATA.
        const nameLen = Number(u64le(data, 16));
        const dataLen = Number(u64le(data, 24));
        if (32 + nameLen * 2 + dataLen > data.length) return undefined;
        return { variableGuid: guidToString(data, 0), variableName: utf16(data.subarray(32, 32 + nameLen * 2)), variableDataLength: dataLen };
      }
      case 'EV_EFI_BOOT_SERVICES_APPLICATION':
      case 'EV_EFI_BOOT_SERVICES_DRIVER':
      case 'EV_EFI_RUNTIME_SERVICES_DRIVER': {
        // PC Client PFP Table 13: UEFI_IMAGE_LOAD_EVENT.
        const dpLen = Number(u64le(data, 24));
        if (32 + dpLen > data.length) return undefined;
        return { imageBase: `0x${u64le(data, 0).toString(16)}`, imageLength: Number(u64le(data, 8)), devicePath: toHex(data.subarray(32, 32 + dpLen)) };
      }
      case 'EV_EFI_PLATFORM_FIRMWARE_BLOB':
        // PC Client PFP Table 15: UEFI_PLATFORM_FIRMWARE_BLOB.
        return { blobBase: `0x${u64le(data, 0).toString(16)}`, blobLength: Number(u64le(data, 8)) };
      case 'EV_EFI_PLATFORM_FIRMWARE_BLOB2': {
        // PC Client PFP Table 16: UEFI_PLATFORM_FIRMWARE_BLOB2.
        const n = at(data, 0);
        return {
          description: latin1(data.subarray(1, 1 + n)).replace(/\0+$/, ''),
          blobBase: `0x${u64le(data, 1 + n).toString(16)}`,
          blobLength: Number(u64le(data, 9 + n)),
        };
      }
      case 'EV_EFI_HANDOFF_TABLES2': {
        // PC Client PFP Table 17: UEFI_HANDOFF_TABLE_POINTERS2.
        const n = at(data, 0);
        return { description: latin1(data.subarray(1, 1 + n)).replace(/\0+$/, '') };
      }
      case 'EV_EFI_GPT_EVENT':
        return { gptEventLength: data.length };
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/**
 * Replays the log: every event except EV_NO_ACTION extends its register with its `alg` digest
 * (src/tcg replay). PCRs start at zero (PCR0 at the StartupLocality value when the log has one);
 * CCEL yields all four RTMRs. An event lacking the `alg` digest is a FormatError.
 * @throws FormatError for an event without the `alg` digest or a register the map does not know.
 */
export function replayEventLog(events: readonly TcgEvent[], opts: { alg: HashAlg; map: LogRegisters }): Record<string, string> {
  const map = LOG_MAPS[opts.map];
  const regs = zeroRegisters(opts.alg, opts.map === 'ccel' ? [0, 1, 2, 3] : []);
  let pcr0Extended = false;
  for (const ev of events) {
    if (ev.type === EV_NO_ACTION) {
      const loc = ev.decoded?.startupLocality;
      if (opts.map === 'pcr' && typeof loc === 'number') {
        // TCG PC Client PFP, StartupLocality event: logged to PCR0 before any PCR0 measurement; anywhere else it would let
        // a log discard the PCR0 events before it
        if (ev.pcrIndex !== 0 || pcr0Extended)
          throw new FormatError(WHAT, `event ${ev.index}: StartupLocality must be logged to PCR0 before its first measurement (PC Client PFP)`);
        regs.set(0, startupLocalityPcr0(opts.alg, loc));
      }
      continue;
    }
    if (ev.pcrIndex === 0) pcr0Extended = true;
    const reg = map.map(ev.pcrIndex);
    if (reg === undefined && opts.map === 'ccel' && ev.pcrIndex === 0) continue; // MRTD: build-time only, cannot be replayed
    if (reg === undefined)
      throw new FormatError(
        WHAT,
        `event ${ev.index} (${ev.typeName}) targets index ${ev.pcrIndex}, which is not an extendable ${opts.map === 'pcr' ? 'PCR' : 'RTMR'}`,
      );
    const d = ev.digests[opts.alg];
    if (d === undefined)
      throw new FormatError(WHAT, `event ${ev.index} (${ev.typeName}) has no ${opts.alg} digest (log banks: ${Object.keys(ev.digests).join(', ')})`);
    extend(regs, opts.alg, reg, fromHex(d, WHAT));
  }
  return Object.fromEntries([...regs.keys()].sort((a, b) => a - b).map((r) => [registerKey(opts.map, r), toHex(regs.get(r)!)]));
}
