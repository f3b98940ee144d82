/**
 * End to end: boots real guests under qemu-system-x86_64 (TCG) with Debian's OVMF and a fresh swtpm,
 * reads the PCRs and the firmware event log inside the guest, and compares them with `measure pcr`:
 * a direct kernel boot, a UKI on a GPT ESP, and the same UKI signed and booted with Secure Boot on
 * (Debian's snakeoil PK/KEK/db). The guest initrd and the UKI are built with this package's cpio and
 * UKI writers. Skips loudly when QEMU, swtpm or the other tools are missing (`cvm-measure doctor --fix --for test`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { cli } from './helpers/cli.js';
import {
  BANKS,
  BOOT_TIMEOUT_S,
  boot,
  buildGuest,
  type GuestResult,
  makeEspDisk,
  SNAKEOIL_CERT,
  SNAKEOIL_KEY,
  suite,
  VARS,
  VARS_MS,
  VARS_SB,
} from './helpers/measured-boot.js';
import { SHARED } from './helpers/shared.js';

suite('e2e: real measured boots (QEMU TCG + OVMF + swtpm) vs measure pcr', () => {
  const work = mkdtempSync(join(tmpdir(), 'cvm-e2e-'));
  const kernel = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64') : '';
  const cmdline = 'console=ttyS0 panic=-1 quiet';
  const initrd = join(work, 'initrd.cpio');
  const uki = join(work, 'uki.efi');
  const ukiSigned = join(work, 'uki.signed.efi');
  const timings: string[] = [];

  beforeAll(async () => {
    await buildGuest(kernel, cmdline, initrd, uki);
    const key = join(work, 'snakeoil.key');
    execFileSync('openssl', ['rsa', '-in', SNAKEOIL_KEY, '-passin', 'pass:snakeoil', '-out', key], { stdio: 'ignore' });
    execFileSync('sbsign', ['--key', key, '--cert', SNAKEOIL_CERT, '--output', ukiSigned, uki], { stdio: 'ignore' });
  });

  afterAll(() => {
    if (timings.length) process.stderr.write(`e2e boot wall times: ${timings.join(', ')}\n`);
    rmSync(work, { recursive: true, force: true });
  });

  /** The guest's PCRs must equal the prediction for every predicted PCR in every bank, and its log must match event for event. */
  async function compare(name: string, guest: GuestResult, measureArgs: string[]): Promise<void> {
    timings.push(`${name} ${guest.seconds.toFixed(1)} s`);
    const r = await cli(['measure', 'pcr', ...measureArgs, '--json']);
    expect(r.stderr).toBe('');
    const predicted = JSON.parse(r.stdout) as { pcrs: Record<string, Record<string, string>> };
    for (const bank of BANKS) {
      expect(Object.keys(predicted.pcrs[bank]!)).toHaveLength(13);
      for (const [i, v] of Object.entries(predicted.pcrs[bank]!)) expect({ bank, pcr: i, value: guest.pcrs[bank]?.[i] }).toEqual({ bank, pcr: i, value: v });
    }
    // the guest's own log replays to its PCRs (all but PCR10, which IMA extends in the kernel)
    const log = parseEventLog(guest.log);
    for (const bank of BANKS) {
      const replayed = replayEventLog(log.events, { alg: bank, map: 'pcr' });
      for (let i = 0; i < 16; i++)
        if (i !== 10)
          expect({ bank, pcr: i, value: replayed[String(i)] ?? '0'.repeat(guest.pcrs[bank]![String(i)]!.length) }).toEqual({
            bank,
            pcr: i,
            value: guest.pcrs[bank]![String(i)],
          });
    }
    const dir = join(work, name);
    writeFileSync(join(dir, 'expected.json'), r.stdout);
    writeFileSync(join(dir, 'eventlog.bin'), guest.log);
    for (const bank of BANKS) {
      const d = await cli(['eventlog', 'diff', join(dir, 'eventlog.bin'), '--expected', join(dir, 'expected.json'), '--bank', bank, '--json']);
      expect(JSON.parse(d.stdout).firstDivergence).toBeNull();
      expect(d.code).toBe(0);
    }
  }

  it('direct kernel boot (-kernel/-initrd/-append, -m 768), Secure Boot off', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'direct');
    const guest = await boot(dir, VARS, ['-kernel', kernel, '-initrd', initrd, '-append', cmdline]);
    await compare('direct', guest, ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline, '--mem', '768', '--vars', VARS]);
  });

  it('direct kernel boot with the Microsoft Secure Boot store (kernel refused by db → OVMF legacy loader)', {
    timeout: BOOT_TIMEOUT_S * 1000 + 60_000,
  }, async () => {
    const dir = join(work, 'direct-ms');
    const guest = await boot(dir, VARS_MS, ['-kernel', kernel, '-initrd', initrd, '-append', cmdline]);
    await compare('direct-ms', guest, ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline, '--mem', '768', '--vars', VARS_MS]);
    const events = parseEventLog(guest.log).events;
    const sbVar = events.find((e) => e.decoded?.variableName === 'SecureBoot')!;
    expect(sbVar.data[sbVar.data.length - 1]).toBe(1);
    expect(events.some((e) => e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION')).toBe(false);
  });

  it('UKI (uki build) on a GPT ESP, Secure Boot off', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki');
    mkdirSync(dir, { recursive: true });
    const disk = makeEspDisk(dir, uki);
    const guest = await boot(dir, VARS, ['-drive', `if=none,id=disk0,format=raw,file=${disk}`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=1']);
    await compare('uki', guest, ['--boot', 'uki', '--uki', uki, '--disk', disk, '--vars', VARS]);
  });

  it('signed UKI on a GPT ESP, Secure Boot on (snakeoil PK/KEK/db)', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki-sb');
    mkdirSync(dir, { recursive: true });
    const disk = makeEspDisk(dir, ukiSigned);
    const guest = await boot(dir, VARS_SB, ['-drive', `if=none,id=disk0,format=raw,file=${disk}`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=1']);
    await compare('uki-sb', guest, ['--boot', 'uki', '--uki', ukiSigned, '--disk', disk, '--vars', VARS_SB]);
    // Secure Boot really was on: SecureBoot=1 and the db authority are in the guest's log
    const events = parseEventLog(guest.log).events;
    const sbVar = events.find((e) => e.decoded?.variableName === 'SecureBoot')!;
    expect(sbVar.data[sbVar.data.length - 1]).toBe(1);
    expect(events.some((e) => e.typeName === 'EV_EFI_VARIABLE_AUTHORITY')).toBe(true);
  });
});
