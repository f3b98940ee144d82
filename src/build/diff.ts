/**
 * Says which part of two differing build outputs differs: the cpio entry (newc members), the PE section
 * (PE/COFF section table), or the firmware-volume FFS file (UEFI PI spec vol. 3 §3.2.1
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
import { utf16le } from '../util/bytes.js';

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
    addVolume(files, `FV@0x${at.toString(16)}`, img.subarray(at), fv);
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
  for (const f of [cpioParts, peParts, fvParts]) {
    const parts = f(a, b);
    if (parts && parts.length > 0) return parts;
  }
  return [firstDiff(a, b)];
}
