/**
 * `uki build`: a unified kernel image from files on disk, written atomically by our deterministic UKI
 * writer (src/formats/uki.ts: ukify's section layout, a fixed TimeDateStamp), and its report.
 */
import { createHash } from 'node:crypto';
import { buildUki, UKI_SECTION_ORDER, type UkiBuildInputs, type UkiSectionName } from '../formats/uki.js';
import { readInput, writeFileAtomic } from '../util/fs.js';

export interface UkiFileInputs {
  /** systemd-stub PE. */
  stub: string;
  /** Kernel (bzImage) for .linux. */
  linux: string;
  initrd?: string;
  osrel?: string;
  /** Exact text of .cmdline / .uname. */
  cmdline?: string;
  uname?: string;
  /** COFF TimeDateStamp. */
  timeDateStamp: number;
  out: string;
}

export interface UkiFileReport {
  out: string;
  size: number;
  sha256: string;
  timeDateStamp: number;
  /** Sections written, in the UKI's order. */
  sections: UkiSectionName[];
}

/** Builds the UKI and writes it to `out`; throws InputError for an unreadable file, FormatError for a bad stub. */
export async function buildUkiFile(i: UkiFileInputs): Promise<UkiFileReport> {
  const sections: UkiBuildInputs['sections'] = { '.linux': await readInput(i.linux, 'kernel') };
  if (i.osrel) sections['.osrel'] = await readInput(i.osrel, 'os-release');
  if (i.cmdline !== undefined) sections['.cmdline'] = new TextEncoder().encode(i.cmdline);
  if (i.uname !== undefined) sections['.uname'] = new TextEncoder().encode(i.uname);
  if (i.initrd) sections['.initrd'] = await readInput(i.initrd, 'initrd');
  const uki = buildUki({ stub: await readInput(i.stub, 'stub'), sections, timeDateStamp: i.timeDateStamp });
  await writeFileAtomic(i.out, uki);
  return {
    out: i.out,
    size: uki.length,
    sha256: createHash('sha256').update(uki).digest('hex'),
    timeDateStamp: i.timeDateStamp,
    sections: UKI_SECTION_ORDER.filter((n) => sections[n] !== undefined),
  };
}
