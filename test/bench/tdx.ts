/**
 * TDX: MRTD of a 4 MiB TDVF image (whole process and in-process) next to `sha384sum` of the same file —
 * the floor for anything that reads and SHA-384s the image once. The image is synthetic (written to a
 * temporary directory): a 4 MiB MR.EXTEND BFV less its metadata page, OVMF-like TempMem/TD_HOB sections,
 * the descriptor found through the td-shim pointer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guidToBytes } from '../../src/util/bytes.js';
import { TD_SHIM_METADATA_GUID } from '../../src/formats/tdvf.js';
import { tdxMrtd } from '../../src/measure/tdx/mrtd.js';
import { tdvfDescriptor, type SectionRow } from '../helpers/tdvf.js';
import type { BenchCase } from './harness.js';

const SIZE = 4 << 20;
const META = SIZE - 0x1000;

function tdvf4MiB(): Buffer {
  const img = Buffer.alloc(SIZE);
  randomBytes(META).copy(img);
  const sections: SectionRow[] = [
    [0, 0, META, 0x100000000 - SIZE, META, 1],
    [3, 0, 0, 0x810000, 0x10000, 0],
    [2, 0, 0, 0x809000, 0x2000, 0],
    [3, 0, 0, 0x800000, 0x6000, 0],
  ];
  img.set(guidToBytes(TD_SHIM_METADATA_GUID), META);
  tdvfDescriptor(sections).copy(img, META + 16);
  img.writeUInt32LE(META + 16, SIZE - 0x20);
  return img;
}

export function tdxCases(): BenchCase[] {
  const image = tdvf4MiB();
  const dir = mkdtempSync(join(tmpdir(), 'cvm-bench-tdx-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tdvf-4MiB.fd');
  writeFileSync(file, image);
  return [
    { name: 'sha384sum 4 MiB TDVF', command: ['sha384sum', file] },
    {
      name: 'MRTD 4 MiB TDVF (single)',
      cli: ['measure', 'tdx', '--firmware', file, '--json'],
      fn: () => tdxMrtd(image, 'single'),
      relativeTo: 'sha384sum 4 MiB TDVF',
    },
    {
      name: 'MRTD 4 MiB TDVF (two-pass)',
      cli: ['measure', 'tdx', '--firmware', file, '--page-order', 'two-pass', '--json'],
      fn: () => tdxMrtd(image, 'two-pass'),
      relativeTo: 'sha384sum 4 MiB TDVF',
    },
  ];
}
