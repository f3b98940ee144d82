/**
 * Says which part of two differing build outputs differs: the cpio entry (newc members), the PE section
 * (PE/COFF section table), the UEFI variable (and which of its header fields, or its data) of a variable
 * store such as OVMF_VARS.fd, or the firmware-volume FFS file (UEFI PI spec vol. 3 §3.2.1
 * EFI_FIRMWARE_VOLUME_HEADER, §2.2.3 EFI_FFS_FILE_HEADER / EFI_FFS_FILE_HEADER2) named by its module
 * (UI section) and, for a driver, the PE section inside it that differs. Otherwise the first differing
 * byte offset.
 */
import { createHash } from 'node:crypto';
import { readCpio } from '../formats/cpio.js';
import { gunzipIfGzip } from '../util/gzip.js';
import { parsePe, sectionData } from '../formats/pe.js';
import {
  EFI_FV_FILETYPE_FFS_PAD,
  EFI_SECTION_PE32,
  EFI_SECTION_USER_INTERFACE,
  type FfsFile,
  type FirmwareVolume,
  isFirmwareVolume,
  ovmfMemoryVolumes,
  parseFirmwareVolume,
  parseSections,
} from '../formats/firmware-volume.js';
import { AUTH_TIMESTAMP_OFFSET, parseVarStore, type EfiVariable } from '../formats/efi-varstore.js';
import { bytesEqual, u64le, utf16le } from '../util/bytes.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);

function firstDiff(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at byte 0x${i.toString(16)}`;
  return `sizes ${a.length} and ${b.length}`;
}

function mapDiff(kind: string, a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    if (!b.has(k)) out.push(`${kind} ${k} only in the first build`);
    else if (b.get(k) !== v) out.push(`${kind} ${k} differs`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`${kind} ${k} only in the second build`);
  return out;
}

function cpioParts(a: Uint8Array, b: Uint8Array): string[] | undefined {
  const magic = Buffer.from(a.subarray(0, 6)).toString('latin1');
  if (magic !== '070701' && !(a[0] === 0x1f && a[1] === 0x8b)) return undefined;
  try {
    const m = (x: Uint8Array) =>
      new Map(readCpio(gunzipIfGzip(x, 'cpio archive')).map((e) => [e.path, `${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.mtime} ${sha(e.data)}`]));
    return mapDiff('cpio entry', m(a), m(b));
  } catch {
    return undefined;
  }
}

function peParts(a: Uint8Array, b: Uint8Array): string[] | undefined {
  if (a[0] !== 0x4d || a[1] !== 0x5a) return undefined;
  try {
    const pa = parsePe(a);
    const pb = parsePe(b);
    const m = (p: typeof pa) => {
      const seen = new Map<string, number>();
      const entries: [string, string][] = p.sections.map((s) => {
        const n = (seen.get(s.name) ?? 0) + 1;
        seen.set(s.name, n);
        return [n > 1 ? `${s.name}#${n}` : s.name, `${s.virtualAddress} ${s.virtualSize} ${s.characteristics} ${sha(sectionData(p, s))}`];
      });
      entries.push(['(headers)', sha(p.bytes.subarray(0, p.sizeOfHeaders))]);
      return new Map(entries);
    };
    return mapDiff('PE section', m(pa), m(pb));
  } catch {
    return undefined;
  }
}

/** The live variables of a variable-store volume; undefined when `fv` is not one. */
function varStore(fv: Uint8Array): EfiVariable[] | undefined {
  try {
    return parseVarStore(fv);
  } catch {
    return undefined;
  }
}

/** The header fields and data of two variables of the same name and vendor GUID that differ (first → second). */
function variableFields(x: EfiVariable, y: EfiVariable): string[] {
  const hex = (n: number | bigint) => `0x${n.toString(16)}`;
  const f: string[] = [];
  if (x.attributes !== y.attributes) f.push(`Attributes ${hex(x.attributes)} → ${hex(y.attributes)}`);
  if (x.auth && y.auth) {
    if (x.auth.monotonicCount !== y.auth.monotonicCount) f.push(`MonotonicCount ${x.auth.monotonicCount} → ${y.auth.monotonicCount}`);
    if (x.auth.timeStamp !== y.auth.timeStamp) f.push(`TimeStamp ${x.auth.timeStamp} → ${y.auth.timeStamp}`);
    if (x.auth.pubKeyIndex !== y.auth.pubKeyIndex) f.push(`PubKeyIndex ${x.auth.pubKeyIndex} → ${y.auth.pubKeyIndex}`);
  }
  if (!bytesEqual(x.data, y.data)) f.push(`data (${x.data.length} → ${y.data.length} bytes, sha256 ${sha(x.data)}… → ${sha(y.data)}…)`);
  return f;
}

/**
 * Variable stores (edk2 VariableFormat.h inside a firmware volume: OVMF_VARS.fd): each live variable by
 * name and vendor GUID, and which of its header fields (Attributes; MonotonicCount, TimeStamp,
 * PubKeyIndex of an authenticated store) or its data differs; says when only TimeStamps differ.
 */
function varStoreParts(a: Uint8Array, b: Uint8Array): string[] | undefined {
  // only an image that is one variable-store volume (FvLength, PI vol. 3 §3.2.1, covers it all): a
  // combined OVMF.fd holds one too, and its variables are parts of fvParts
  const whole = (img: Uint8Array) => img.length >= 0x38 && u64le(img, 32) === BigInt(img.length);
  const va = whole(a) ? varStore(a) : undefined;
  const vb = whole(b) ? varStore(b) : undefined;
  if (!va || !vb) return undefined;
  const byKey = (vs: EfiVariable[]) => new Map(vs.map((v) => [`${v.name} (${v.guid})`, v]));
  const [ma, mb] = [byKey(va), byKey(vb)];
  const out: string[] = [];
  const fields: string[] = [];
  for (const [k, x] of ma) {
    const y = mb.get(k);
    const f = y ? variableFields(x, y) : [];
    if (!y) out.push(`variable ${k} only in the first build`);
    else if (f.length) out.push(`variable ${k}: ${f.join(', ')}`);
    fields.push(...f);
  }
  for (const k of mb.keys()) if (!ma.has(k)) out.push(`variable ${k} only in the second build`);
  if (out.length === 0) return [`variable store: every live variable is the same; ${firstDiff(a, b)} (deleted variables, free space or the store header)`];
  // the claim "only TimeStamps" holds for the whole file: with them blanked (AUTHENTICATED_VARIABLE_HEADER
  // offset 16, EFI_TIME) the two images are byte-identical
  const blank = (img: Uint8Array, vs: EfiVariable[], records: boolean) => {
    const c = new Uint8Array(img); // a copy (Buffer.prototype.slice would be a view)
    for (const v of vs) {
      if (records) c.fill(0, v.offset, v.end);
      else if (v.auth) c.fill(0, v.offset + AUTH_TIMESTAMP_OFFSET, v.offset + AUTH_TIMESTAMP_OFFSET + 16);
    }
    return c;
  };
  if (fields.length && fields.every((f) => f.startsWith('TimeStamp ')) && bytesEqual(blank(a, va, false), blank(b, vb, false))) {
    out.push("the images are otherwise byte-identical: only these authenticated variables' TimeStamps (when each was written) differ");
  } else if (va.length === vb.length && va.every((v, i) => v.offset === vb[i]!.offset && v.data.length === vb[i]!.data.length)) {
    // the same variables at the same places: say whether the bytes around them differ too
    const [oa, ob] = [blank(a, va, true), blank(b, vb, true)];
    if (!bytesEqual(oa, ob)) out.push(`outside the live variables: ${firstDiff(oa, ob)}`);
  }
  return out;
}

/** One FFS file of a volume: its bytes, module name (UI section) and PE32 image, for naming what differs. */
interface FfsPart {
  hash: string;
  pe: Uint8Array | undefined;
}

/** The module name of an FFS file: its EFI_SECTION_USER_INTERFACE (PI vol. 3 2.1.5.6, UCS-2, NUL-terminated). */
function ffsDetail(f: FfsFile): { name: string | undefined; pe: Uint8Array | undefined } {
  try {
    const sections = parseSections(f.data);
    const ui = sections.find((s) => s.type === EFI_SECTION_USER_INTERFACE);
    const name = ui ? utf16le(ui.data).replace(/\0.*$/s, '') : undefined;
    return { name: name || undefined, pe: sections.find((s) => s.type === EFI_SECTION_PE32)?.data };
  } catch {
    return { name: undefined, pe: undefined };
  }
}

function addVolume(files: Map<string, FfsPart>, label: string, fvBytes: Uint8Array, fv: FirmwareVolume): void {
  files.set(`${label} (header)`, { hash: sha(fvBytes.subarray(0, fv.headerLength)), pe: undefined });
  for (const f of fv.files) {
    if (f.type === EFI_FV_FILETYPE_FFS_PAD) continue;
    const d = ffsDetail(f);
    files.set(`${label} FFS ${f.guid}${d.name ? ` (${d.name})` : ''}`, { hash: sha(fvBytes.subarray(f.offset, f.dataOffset + f.data.length)), pe: d.pe });
  }
}

/**
 * FFS files of every firmware volume found at 4 KiB-aligned offsets and, for an OVMF flash image, of the
 * PEI and DXE volumes inside its LZMA-compressed FVMAIN_COMPACT (ovmfMemoryVolumes), so a difference
 * there names the module rather than only the compressed container.
 */
function ffsFiles(img: Uint8Array): Map<string, FfsPart> | undefined {
  const files = new Map<string, FfsPart>();
  let volumes = 0;
  for (let at = 0; at + 0x48 <= img.length; at += 0x1000) {
    if (!isFirmwareVolume(img, at)) continue;
    let fv: FirmwareVolume;
    try {
      fv = parseFirmwareVolume(img.subarray(at));
    } catch {
      continue; // a malformed volume: not counted
    }
    volumes++;
    const label = `FV@0x${at.toString(16)}`;
    const vol = img.subarray(at, at + fv.length);
    const vars = varStore(vol);
    if (vars) {
      // a variable store (OVMF.fd's first volume): its variables, and the rest of the volume, not FFS files
      const rest = new Uint8Array(vol); // a copy
      for (const v of vars) {
        files.set(`${label} variable ${v.name} (${v.guid})`, { hash: sha(vol.subarray(v.offset, v.end)), pe: undefined });
        rest.fill(0, v.offset, v.end);
      }
      files.set(`${label} (variable store outside its variables)`, { hash: sha(rest), pe: undefined });
      continue;
    }
    addVolume(files, label, img.subarray(at), fv);
  }
  if (volumes === 0) return undefined;
  try {
    const mem = ovmfMemoryVolumes(img);
    addVolume(files, 'PEIFV', mem.pei, parseFirmwareVolume(mem.pei));
    addVolume(files, 'DXEFV', mem.dxe, parseFirmwareVolume(mem.dxe));
  } catch {
    // not an OVMF flash image with FVMAIN_COMPACT (or a damaged one): the outer volumes only
  }
  return files;
}

function fvParts(a: Uint8Array, b: Uint8Array): string[] | undefined {
  try {
    const fa = ffsFiles(a);
    const fb = ffsFiles(b);
    if (!fa || !fb) return undefined;
    const hashes = (m: Map<string, FfsPart>) => new Map([...m].map(([k, v]) => [k, v.hash]));
    return mapDiff('firmware', hashes(fa), hashes(fb)).map((line) => {
      const key = line.slice('firmware '.length, -' differs'.length);
      const pa = line.endsWith(' differs') ? fa.get(key)?.pe : undefined;
      const pb = pa ? fb.get(key)?.pe : undefined;
      const inner = pa && pb ? peParts(pa, pb) : undefined;
      return inner?.length ? `${line}: ${inner.join(', ')}` : line;
    });
  } catch {
    return undefined; // a malformed volume header: fall back to the byte offset
  }
}

/** One line per differing part of two outputs (empty when they are identical). */
export function explainDifference(a: Uint8Array, b: Uint8Array): string[] {
  if (Buffer.compare(a, b) === 0) return [];
  for (const f of [cpioParts, peParts, varStoreParts, fvParts]) {
    const parts = f(a, b);
    if (parts && parts.length > 0) return parts;
  }
  return [firstDiff(a, b)];
}
