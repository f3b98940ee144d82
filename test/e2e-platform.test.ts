/**
 * End to end, PCR0 and PCR1: real measured boots (QEMU TCG + Debian OVMF 2022.11 + swtpm) in VM
 * configurations that differ in vCPUs, maxcpus, memory and machine type, direct kernel boot and UKI on a
 * virtio-blk GPT disk (also at a non-default PCI slot), each compared in all three banks with
 * `measure pcr --firmware`; and `eventlog diff` on a real log names the knob of a wrong prediction.
 * Nothing here feeds the model: the predictions come from the firmware image and the flags alone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makeEspDisk } from './helpers/esp.js';
import { BANKS, BOOT_TIMEOUT_S, boot, buildGuest, CODE, directMedia, diskMedia, suite, VARS, type VmShape } from './helpers/measured-boot.js';
import { SHARED } from './helpers/shared.js';

interface Config {
  name: string;
  shape: 'direct' | 'uki';
  vm: Required<VmShape>;
  /** uki: QEMU addr= of the virtio-blk disk (default: the first free slot). */
  diskSlot?: number;
}

const CONFIGS: Config[] = [
  { name: 'direct-q35-m2048-smp2', shape: 'direct', vm: { machine: 'q35', memMiB: 2048, smp: '2' } },
  { name: 'direct-pc-m1536-smp1-max4', shape: 'direct', vm: { machine: 'pc', memMiB: 1536, smp: '1,maxcpus=4' } },
  { name: 'direct-q35-m3072-smp3-max8', shape: 'direct', vm: { machine: 'q35', memMiB: 3072, smp: '3,maxcpus=8' } },
  { name: 'uki-q35-m1024-smp2-max6', shape: 'uki', vm: { machine: 'q35', memMiB: 1024, smp: '2,maxcpus=6' } },
  { name: 'uki-pc-m768-smp2', shape: 'uki', vm: { machine: 'pc', memMiB: 768, smp: '2' } },
  { name: 'uki-q35-m512-smp1-slot5', shape: 'uki', vm: { machine: 'q35', memMiB: 512, smp: '1' }, diskSlot: 5 },
];

suite('e2e: PCR0/PCR1 of real boots in several VM configurations vs measure pcr --firmware', () => {
  const work = mkdtempSync(join(tmpdir(), 'cvm-e2e-platform-'));
  const kernel = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64') : '';
  const cmdline = 'console=ttyS0 panic=-1 quiet';
  const initrd = join(work, 'initrd.cpio');
  const uki = join(work, 'uki.efi');
  const timings: string[] = [];

  beforeAll(() => buildGuest(kernel, cmdline, initrd, uki));
  afterAll(() => {
    if (timings.length) process.stderr.write(`e2e platform boot wall times: ${timings.join(', ')}\n`);
    rmSync(work, { recursive: true, force: true });
  });

  const inputs = (c: Config, disk: string) =>
    c.shape === 'direct'
      ? ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline]
      : // without diskSlot QEMU puts the disk at the first free slot (q35 1, pc 2): named, so that no default is noted on stderr
        ['--boot', 'uki', '--uki', uki, '--disk', disk, '--disk-pci', (c.diskSlot ?? (c.vm.machine === 'pc' ? 2 : 1)).toString(16)];

  for (const c of CONFIGS) {
    it(`${c.name}: PCR0, PCR1 (and the rest) equal the prediction in every bank`, { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
      const dir = join(work, c.name);
      mkdirSync(dir, { recursive: true });
      const disk = c.shape === 'uki' ? makeEspDisk(uki, join(dir, 'disk.img')) : '';
      const media = c.shape === 'direct' ? directMedia(kernel, initrd, cmdline) : diskMedia(disk, c.diskSlot);
      const guest = await boot(dir, { firmware: { vars: VARS }, media, vm: c.vm });
      timings.push(`${c.name} ${guest.seconds.toFixed(1)} s`);
      const vmArgs = ['--firmware', CODE, '--machine', c.vm.machine, '--mem', String(c.vm.memMiB), '--smp', c.vm.smp, '--vars', VARS];
      const r = await cli(['measure', 'pcr', ...inputs(c, disk), ...vmArgs, '--json']);
      expect(r.stderr).toBe('');
      const predicted = JSON.parse(r.stdout) as { pcrs: Record<string, Record<string, string>> };
      for (const bank of BANKS) {
        expect(Object.keys(predicted.pcrs[bank]!)).toHaveLength(15);
        for (const [i, v] of Object.entries(predicted.pcrs[bank]!)) expect({ bank, pcr: i, value: guest.pcrs[bank]?.[i] }).toEqual({ bank, pcr: i, value: v });
      }
      writeFileSync(join(dir, 'expected.json'), r.stdout);
      writeFileSync(join(dir, 'eventlog.bin'), guest.log);
      const d = await cli(['eventlog', 'diff', join(dir, 'eventlog.bin'), '--expected', join(dir, 'expected.json'), '--json']);
      expect(JSON.parse(d.stdout).firstDivergence).toBeNull();
      if (c.name === CONFIGS[0]!.name) {
        // a prediction for another -smp: eventlog diff on the real log names the vCPU count
        const wrong = await cli(['measure', 'pcr', ...inputs(c, disk), ...vmArgs.slice(0, -4), '--smp', '1', '--vars', VARS, '--json']);
        writeFileSync(join(dir, 'wrong.json'), wrong.stdout);
        const w = await cli(['eventlog', 'diff', join(dir, 'eventlog.bin'), '--expected', join(dir, 'wrong.json'), '--firmware', CODE]);
        expect(w.stdout).toContain('what differs: PEI platform data: 2 vCPUs, predicted 1; maxcpus 2, predicted 1');
      }
    });
  }
});
