/**
 * End to end: boots real guests under qemu-system-x86_64 (TCG) with Debian's OVMF and a fresh swtpm,
 * reads the PCRs and the firmware event log inside the guest, and compares them with `measure pcr`:
 * a direct kernel boot, a UKI on a GPT ESP, and the same UKI signed and booted with Secure Boot on
 * (Debian's snakeoil PK/KEK/db). The guest initrd and the UKI are built with this package's cpio and
 * UKI writers, the ESP disk by the default recipe's recipes/esp/esp-disk.sh. Skips loudly when QEMU,
 * swtpm or the other tools are missing (`cvm-measure doctor --fix --for test`).
 *
 * Opt-in: CVM_E2E_BUILD_OUT=<the --out of `cvm-measure build` of the default recipe> boots that build's
 * disk.img on its OVMF.fd and compares every PCR with its signed measurements.json (the UKI shape).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseGpt } from '../src/formats/gpt.js';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { cli } from './helpers/cli.js';
import { makeEspDisk } from './helpers/esp.js';
import {
  BANKS,
  BOOT_TIMEOUT_S,
  boot,
  buildGuest,
  directMedia,
  diskMedia,
  type GuestResult,
  SNAKEOIL_CERT,
  SNAKEOIL_KEY,
  suite,
  VARS,
  VARS_MS,
  VARS_SB,
} from './helpers/measured-boot.js';
import { SHARED } from './helpers/shared.js';

/** Opt-in: the --out of a `cvm-measure build` of the default recipe (its disk.img is booted on its OVMF.fd). */
const BUILD_OUT = process.env.CVM_E2E_BUILD_OUT;

suite('e2e: real measured boots (QEMU TCG + OVMF + swtpm) vs measure pcr', () => {
  const work = mkdtempSync(join(tmpdir(), 'cvm-e2e-'));
  const kernel = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64') : '';
  const cmdline = 'console=ttyS0 panic=-1 quiet';
  const initrd = join(work, 'initrd.cpio');
  const uki = join(work, 'uki.efi');
  const ukiSigned = join(work, 'uki.signed.efi');
  const timings: string[] = [];
  /** measure pcr's inputs for the direct boots, with boot()'s VM (q35, 768 MiB) given: a defaulted knob is a note on stderr. */
  const directArgs = ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline, '--machine', 'q35', '--mem', '768'];

  beforeAll(async () => {
    // The guest initrd (our newc writer) and the UKI (our writer, through the CLI), then signed with the snakeoil key for the Secure Boot run.
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
    const r = await cli(['measure', 'pcr', ...measureArgs, '--json']);
    expect(r.stderr).toBe('');
    await compareWith(name, guest, r.stdout);
  }

  /** compare() against a prediction already made (a `measure pcr --json` object). */
  async function compareWith(name: string, guest: GuestResult, expectedJson: string): Promise<void> {
    timings.push(`${name} ${guest.seconds.toFixed(1)} s`);
    const predicted = JSON.parse(expectedJson) as { pcrs: Record<string, Record<string, string>> };
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
    writeFileSync(join(dir, 'expected.json'), expectedJson);
    writeFileSync(join(dir, 'eventlog.bin'), guest.log);
    for (const bank of BANKS) {
      const d = await cli(['eventlog', 'diff', join(dir, 'eventlog.bin'), '--expected', join(dir, 'expected.json'), '--bank', bank, '--json']);
      expect(JSON.parse(d.stdout).firstDivergence).toBeNull();
      expect(d.code).toBe(0);
    }
  }

  it('direct kernel boot (-kernel/-initrd/-append, -m 768), Secure Boot off', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'direct');
    const guest = await boot(dir, { firmware: { vars: VARS }, media: directMedia(kernel, initrd, cmdline) });
    await compare('direct', guest, [...directArgs, '--vars', VARS]);
  });

  it('direct kernel boot with the Microsoft Secure Boot store (kernel refused by db → OVMF legacy loader)', {
    timeout: BOOT_TIMEOUT_S * 1000 + 60_000,
  }, async () => {
    const dir = join(work, 'direct-ms');
    const guest = await boot(dir, { firmware: { vars: VARS_MS }, media: directMedia(kernel, initrd, cmdline) });
    await compare('direct-ms', guest, [...directArgs, '--vars', VARS_MS]);
    const events = parseEventLog(guest.log).events;
    const sbVar = events.find((e) => e.decoded?.variableName === 'SecureBoot')!;
    expect(sbVar.data[sbVar.data.length - 1]).toBe(1);
    expect(events.some((e) => e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION')).toBe(false);
  });

  it('UKI (uki build) on a GPT ESP, Secure Boot off', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki');
    mkdirSync(dir, { recursive: true });
    const disk = makeEspDisk(uki, join(dir, 'disk.img'));
    const guest = await boot(dir, { firmware: { vars: VARS }, media: diskMedia(disk) });
    await compare('uki', guest, ['--boot', 'uki', '--uki', uki, '--disk', disk, '--vars', VARS]);
  });

  it('signed UKI on a GPT ESP, Secure Boot on (snakeoil PK/KEK/db)', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki-sb');
    mkdirSync(dir, { recursive: true });
    const disk = makeEspDisk(ukiSigned, join(dir, 'disk.img'));
    const guest = await boot(dir, { firmware: { vars: VARS_SB }, media: diskMedia(disk) });
    await compare('uki-sb', guest, ['--boot', 'uki', '--uki', ukiSigned, '--disk', disk, '--vars', VARS_SB]);
    // Secure Boot really was on: SecureBoot=1 and the db authority are in the guest's log
    const events = parseEventLog(guest.log).events;
    const sbVar = events.find((e) => e.decoded?.variableName === 'SecureBoot')!;
    expect(sbVar.data[sbVar.data.length - 1]).toBe(1);
    expect(events.some((e) => e.typeName === 'EV_EFI_VARIABLE_AUTHORITY')).toBe(true);
  });

  it.skipIf(!BUILD_OUT)(
    "the default recipe's build (CVM_E2E_BUILD_OUT): its disk.img on its OVMF.fd gives the signed UKI PCRs, PCR5 with the GPT included",
    { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 },
    async () => {
      const out = BUILD_OUT!;
      const doc = JSON.parse(readFileSync(join(out, 'measurements.json'), 'utf8')) as {
        artifacts: { name: string; path: string }[];
        measurements: { kind: string; boot: { shape: string; gpt?: unknown } }[];
      };
      const path = (name: string) => join(out, doc.artifacts.find((a) => a.name === name)!.path);
      const predicted = doc.measurements.find((m) => m.kind === 'pcr' && m.boot.shape === 'uki')!;
      expect(predicted.boot.gpt).toEqual({ diskGuid: parseGpt(readFileSync(path('esp.disk.img'))).diskGuid, partitions: 1 });
      const dir = join(work, 'build-out');
      mkdirSync(dir, { recursive: true });
      // private copies: the guest's firmware writes its variable store, and nothing may touch the build output
      copyFileSync(path('firmware.OVMF.fd'), join(dir, 'OVMF.fd'));
      copyFileSync(path('esp.disk.img'), join(dir, 'disk.img'));
      // the recipe's initramfs ends in a shell on the console: INIT is typed into it
      const guest = await boot(dir, {
        firmware: { args: ['-drive', `if=pflash,format=raw,unit=0,file=${join(dir, 'OVMF.fd')}`] },
        media: diskMedia(join(dir, 'disk.img')),
        shell: { ready: 'cvm-measure initramfs:' },
      });
      await compareWith('build-out', guest, JSON.stringify(predicted));
      expect(parseEventLog(guest.log).events.some((e) => e.pcrIndex === 5 && e.typeName === 'EV_EFI_GPT_EVENT')).toBe(true);
    },
  );
});
