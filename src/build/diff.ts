/**
 * Says which part of two differing build outputs differs: the cpio entry (newc members), the PE section
 * (PE/COFF section table), or the firmware-volume FFS file (UEFI PI spec vol. 3 §3.2.1
 * EFI_FIRMWARE_VOLUME_HEADER, §2.2.3 EFI_FFS_FILE_HEADER / EFI_FFS_FILE_HEADER2). Otherwise the first
 * differing byte offset.
 */
import { createHash } from 'node:crypto';
import { readCpio } from '../formats/cpio.js';
import { gunzipIfGzip } from '../util/gzip.js';
import { parsePe, sectionData } from '../formats/pe.js';
import { guidToString } from '../util/bytes.js';

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

const FVH = 0x4856465f; // "_FVH"

/** FFS files of every firmware volume found at 4 KiB-aligned offsets (nested volumes inside compressed sections are not opened). */
function ffsFiles(img: Uint8Array): Map<string, string> | undefined {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const files = new Map<string, string>();
  let volumes = 0;
  for (let fv = 0; fv + 0x48 <= img.length; fv += 0x1000) {
    if (dv.getUint32(fv + 40, true) !== FVH) continue;
    const fvLen = Number(dv.getBigUint64(fv + 32, true));
    const hdrLen = dv.getUint16(fv + 48, true);
    const extOff = dv.getUint16(fv + 52, true);
    if (fvLen < hdrLen || fv + fvLen > img.length) continue;
    volumes++;
    const fvName = `FV@0x${fv.toString(16)}`;
    files.set(`${fvName} (header)`, sha(img.subarray(fv, fv + hdrLen)));
    let o = fv + (extOff ? extOff + dv.getUint32(fv + extOff + 16, true) : hdrLen);
    const end = fv + fvLen;
    while (true) {
      o = fv + Math.ceil((o - fv) / 8) * 8;
      if (o + 24 > end) break;
      const hdr = img.subarray(o, o + 24);
      if (hdr.every((x) => x === 0xff)) break;
      const large = (img[o + 19]! & 0x01) !== 0;
      const size = large ? dv.getUint32(o + 24, true) : img[o + 20]! | (img[o + 21]! << 8) | (img[o + 22]! << 16);
      if (size < 24 || o + size > end) break;
      const type = img[o + 18]!;
      if (type !== 0xf0) files.set(`${fvName} FFS ${guidToString(img, o)}`, sha(img.subarray(o, o + size)));
      o += size;
    }
  }
  return volumes > 0 ? files : undefined;
}

function fvParts(a: Uint8Array, b: Uint8Array): string[] | undefined {
  try {
    const fa = ffsFiles(a);
    const fb = ffsFiles(b);
    return fa && fb ? mapDiff('firmware', fa, fb) : undefined;
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
