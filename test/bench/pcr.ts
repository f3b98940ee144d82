/**
 * vTPM PCRs: `measure pcr` for the two real boots (whole process and in-process: parse inputs, build the
 * events, replay three banks) and the Authenticode hash of the 8 MiB Debian kernel next to `sha256sum`
 * of the same file — the floor for anything that reads and hashes it once. Needs ../shared (fixtures).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { authenticode, parsePe } from '../../src/formats/pe.js';
import { parseGpt } from '../../src/formats/gpt.js';
import { parseVarStore, secureBootVariables } from '../../src/formats/efi-varstore.js';
import { bootEvents, HASH_ALGS } from '../../src/measure/boot/index.js';
import { pcrBanks } from '../../src/measure/tpm/pcr.js';
import { SHARED } from '../helpers/shared.js';
import type { BenchCase } from './harness.js';

export function pcrCases(): BenchCase[] {
  if (!SHARED) {
    process.stderr.write('bench: pcr cases skipped (../shared not found)\n');
    return [];
  }
  const f = (p: string) => `${SHARED}/fixtures/${p}`;
  const kernelPath = f('debian/debian-bookworm-vmlinuz-6.1.0-56-amd64');
  const kernel = readFileSync(kernelPath);
  const initrd = readFileSync(f('pcr/initrd-a.cpio'));
  const uki = readFileSync(f('pcr/uki-6.1.efi'));
  const gptHead = readFileSync(f('pcr/uki-disk-gpt-head.bin'));
  const varsPath = f('debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd');
  const vars = readFileSync(varsPath);
  const firmware = () => ({ secureBoot: secureBootVariables(parseVarStore(vars)) });
  return [
    { name: 'pcr: sha256sum vmlinuz (8 MiB)', command: ['sha256sum', kernelPath] },
    { name: 'pcr: sha256 vmlinuz (node:crypto)', fn: () => createHash('sha256').update(kernel).digest() },
    { name: 'pcr: authenticode sha256 vmlinuz', fn: () => authenticode(parsePe(kernel), ['sha256']) },
    {
      name: 'pcr: measure pcr --unpatched-kernel --banks sha256 (≈ one Authenticode pass)',
      cli: ['measure', 'pcr', '--boot', 'direct', '--kernel', kernelPath, '--unpatched-kernel', '--banks', 'sha256', '--json'],
      relativeTo: 'pcr: sha256sum vmlinuz (8 MiB)',
    },
    { name: 'pcr: authenticode sha1+sha256+sha384 vmlinuz', fn: () => authenticode(parsePe(kernel), HASH_ALGS) },
    {
      name: 'pcr: measure pcr --boot direct (3 banks)',
      cli: [
        'measure',
        'pcr',
        '--boot',
        'direct',
        '--kernel',
        kernelPath,
        '--initrd',
        f('pcr/initrd-a.cpio'),
        '--append',
        'console=ttyS0 panic=-1',
        '--mem',
        '1024',
        '--vars',
        varsPath,
        '--json',
      ],
      fn: () =>
        pcrBanks(
          bootEvents({ shape: 'direct', kernel, initrd, cmdline: 'console=ttyS0 panic=-1', qemu: { memMiB: 1024 } }, { firmware: firmware() }),
          HASH_ALGS,
        ),
      relativeTo: 'pcr: sha256sum vmlinuz (8 MiB)',
    },
    {
      name: 'pcr: measure pcr --boot uki (3 banks)',
      cli: ['measure', 'pcr', '--boot', 'uki', '--uki', f('pcr/uki-6.1.efi'), '--gpt', f('pcr/uki-disk-gpt-head.bin'), '--vars', varsPath, '--json'],
      fn: () => pcrBanks(bootEvents({ shape: 'uki', uki, gpt: parseGpt(gptHead) }, { firmware: firmware() }), HASH_ALGS),
      relativeTo: 'pcr: sha256sum vmlinuz (8 MiB)',
    },
  ];
}
