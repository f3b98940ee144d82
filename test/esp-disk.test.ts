/**
 * The default recipe's ESP disk image (recipes/esp/esp-disk.sh, the `esp` component), run on the host
 * with a small UKI: deterministic bytes whatever the directory, umask and time zone; a GPT with
 * the fixed GUIDs whose FAT32 ESP holds the UKI at the removable-media path; and the disk's GPT event in
 * the UKI prediction's PCR5. Booting such a disk for real: test/e2e-measured-boot.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGpt } from '../src/formats/gpt.js';
import { cli } from './helpers/cli.js';
import { ESP_EPOCH, ESP_SCRIPT, ESP_TOOLS, makeEspDisk } from './helpers/esp.js';
import { SHARED, shared } from './helpers/shared.js';

const missing = [...ESP_TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0), ...(SHARED ? [] : ['shared/ (a UKI fixture)'])];
if (missing.length) process.stderr.write(`\n*** SKIPPED "ESP disk image": missing ${missing.join(', ')} (run: npx cvm-measure doctor --fix --for test) ***\n`);
const suite = missing.length ? describe.skip : describe;

suite('ESP disk image (recipes/esp/esp-disk.sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-esp-'));
  const uki = SHARED ? shared('fixtures/pcr/uki-6.1.efi') : '';

  it('is the same bytes twice (other cwd, umask, time zone) and holds the UKI as \\EFI\\BOOT\\BOOTX64.EFI on a fixed GPT', () => {
    const a = makeEspDisk(uki, join(dir, 'a.img'));
    const b = makeEspDisk(uki, join(dir, 'b.img'), { TZ: 'Pacific/Kiritimati' });
    const umasked = spawnSync('sh', ['-c', `umask 077; cd / && SOURCE_DATE_EPOCH=${ESP_EPOCH} sh "$0" "$1" "$2"`, ...[ESP_SCRIPT, uki, join(dir, 'c.img')]]);
    expect(umasked.status, umasked.stderr.toString()).toBe(0);
    const bytes = readFileSync(a);
    expect(bytes.length).toBe(64 << 20);
    expect(readFileSync(b).equals(bytes)).toBe(true);
    expect(readFileSync(join(dir, 'c.img')).equals(bytes)).toBe(true);

    const gpt = parseGpt(bytes);
    expect(gpt.diskGuid).toBe('5a1d0c0e-9b3e-4c8f-8e2d-3c7a6b1f0e01');
    expect(gpt.partitions.map((p) => [p.typeGuid, p.uniqueGuid, p.startingLba, p.name])).toEqual([
      ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', '5a1d0c0e-9b3e-4c8f-8e2d-3c7a6b1f0e02', 2048n, 'ESP'],
    ]);
    // the FAT32 ESP: the UKI comes back byte for byte, dated SOURCE_DATE_EPOCH
    const esp = join(dir, 'esp.img');
    execFileSync('dd', [`if=${a}`, `of=${esp}`, 'bs=512', 'skip=2048', 'status=none']);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null', TZ: 'UTC' };
    expect(execFileSync('mcopy', ['-i', esp, '::/EFI/BOOT/BOOTX64.EFI', '-'], { env, maxBuffer: 64 << 20 }).equals(readFileSync(uki))).toBe(true);
    expect(execFileSync('mdir', ['-i', esp, '::/EFI/BOOT'], { env }).toString()).toMatch(/BOOTX64 +EFI +\d[\d ]* 2023-11-14 +22:13/);
    expect(execFileSync('minfo', ['-i', esp], { env }).toString()).toMatch(/disk type="FAT32 +"/);
  });

  it("measure pcr --disk puts this disk's GPT into PCR5 (and only PCR5 differs from --no-disk)", async () => {
    const disk = makeEspDisk(uki, join(dir, 'm.img'));
    const run = async (media: string[]) =>
      JSON.parse((await cli(['measure', 'pcr', '--boot', 'uki', '--uki', uki, ...media, '--banks', 'sha256', '--json'])).stdout);
    const [withDisk, noDisk] = [await run(['--disk', disk]), await run(['--no-disk'])];
    expect(withDisk.boot.gpt).toEqual({ diskGuid: '5a1d0c0e-9b3e-4c8f-8e2d-3c7a6b1f0e01', partitions: 1 });
    expect(withDisk.events.filter((e: { type: string }) => e.type === 'EV_EFI_GPT_EVENT').map((e: { pcr: number }) => e.pcr)).toEqual([5]);
    const differ = Object.keys(withDisk.pcrs.sha256).filter((i) => withDisk.pcrs.sha256[i] !== noDisk.pcrs.sha256[i]);
    expect(differ).toEqual(['5']);
  });
});
