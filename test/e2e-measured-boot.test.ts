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
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../src/formats/cpio.js';
import { parseGpt } from '../src/formats/gpt.js';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { cli } from './helpers/cli.js';
import { ESP_TOOLS, makeEspDisk } from './helpers/esp.js';
import { SHARED } from './helpers/shared.js';

const OVMF = '/usr/share/OVMF';
const CODE = `${OVMF}/OVMF_CODE_4M.fd`;
const VARS = `${OVMF}/OVMF_VARS_4M.fd`;
/** Debian's test-only Secure Boot store: its "snakeoil" key is PK, KEK and db; key and cert ship with ovmf. */
const VARS_SB = `${OVMF}/OVMF_VARS_4M.snakeoil.fd`;
/** Debian's Microsoft-keys store (Secure Boot on): the Debian kernel is not admitted by its db. */
const VARS_MS = `${OVMF}/OVMF_VARS_4M.ms.fd`;
const SNAKEOIL_KEY = '/usr/share/ovmf/PkKek-1-snakeoil.key';
const SNAKEOIL_CERT = '/usr/share/ovmf/PkKek-1-snakeoil.pem';
const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const BUSYBOX = '/bin/busybox';
const TOOLS = ['qemu-system-x86_64', 'swtpm', 'swtpm_setup', ...ESP_TOOLS, 'sbsign', 'openssl'];
const BANKS = ['sha1', 'sha256', 'sha384'] as const;
const BOOT_TIMEOUT_S = 300;
/** Opt-in: the --out of a `cvm-measure build` of the default recipe (its disk.img is booted on its OVMF.fd). */
const BUILD_OUT = process.env.CVM_E2E_BUILD_OUT;

function missing(): string[] {
  const tools = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  const files = [CODE, VARS, VARS_SB, VARS_MS, SNAKEOIL_KEY, SNAKEOIL_CERT, STUB, BUSYBOX].filter((f) => !existsSync(f));
  return [...tools, ...files, ...(SHARED ? [] : ['../shared (the Debian kernel fixture)'])];
}

const absent = missing();
const suite = (name: string, fn: () => void) => {
  if (absent.length === 0) return describe(name, fn);
  process.stderr.write(`\n*** SKIPPED "${name}": missing ${absent.join(', ')} (run: npx cvm-measure doctor --fix --for test) ***\n`);
  return describe.skip(`${name} [SKIPPED: missing ${absent.join(', ')}]`, fn);
};

/** Guest /init: print every PCR of the three banks and the firmware event log on ttyS1, power off. */
const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc none /proc
mount -t sysfs none /sys
mount -t devtmpfs none /dev
mount -t securityfs none /sys/kernel/security
n=0
while [ ! -e /sys/class/tpm/tpm0 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done
{
  echo "@@BEGIN"
  for bank in ${BANKS.join(' ')}; do
    for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
      [ -r /sys/class/tpm/tpm0/pcr-$bank/$i ] && echo "@@PCR $bank $i $(cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
    done
  done
  echo "@@LOG"
  base64 /sys/kernel/security/tpm0/binary_bios_measurements
  echo "@@END"
} > /dev/ttyS1 2>&1
sync
poweroff -f
`;

interface GuestResult {
  pcrs: Record<string, Record<string, string>>;
  log: Buffer;
  seconds: number;
}

/** QEMU pflash drives: Debian's split OVMF_CODE (read-only) with a private copy of a VARS store. */
function splitFirmware(dir: string, vars: string): string[] {
  mkdirSync(dir, { recursive: true });
  copyFileSync(vars, join(dir, 'vars.fd'));
  return ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`];
}

/**
 * One boot: fresh swtpm state, QEMU TCG; returns what the guest printed on ttyS1. With `shell`, the
 * guest's own init ends in a shell on ttyS0: once `shell.ready` shows on the console, INIT is typed into it.
 */
async function boot(dir: string, firmware: string[], media: string[], shell?: { ready: string }): Promise<GuestResult> {
  mkdirSync(join(dir, 'tpm'), { recursive: true });
  execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', join(dir, 'tpm'), '--pcr-banks', BANKS.join(','), '--overwrite'], { stdio: 'ignore' });
  const sock = join(dir, 'swtpm.sock');
  const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'tpm')}`, '--ctrl', `type=unixio,path=${sock}`, '--terminate'], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const data = join(dir, 'data.txt');
    const args = [
      ...['-machine', 'q35', '-accel', 'tcg', '-m', '768', '-smp', '1', '-nodefaults', '-display', 'none', '-vga', 'none', '-no-reboot'],
      ...firmware,
      ...['-chardev', `socket,id=chrtpm,path=${sock}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-crb,tpmdev=tpm0'],
      ...['-serial', shell ? 'stdio' : `file:${join(dir, 'console.log')}`, '-serial', `file:${data}`],
      ...media,
    ];
    const t0 = performance.now();
    const code = await new Promise<number | null>((res) => {
      const q = spawn('qemu-system-x86_64', args, { stdio: shell ? 'pipe' : 'ignore' });
      if (shell) {
        let console = '';
        q.stdout!.on('data', (b: Buffer) => {
          const seen = console.includes(shell.ready);
          console += b.toString('latin1');
          writeFileSync(join(dir, 'console.log'), console);
          if (!seen && console.includes(shell.ready)) q.stdin!.write(INIT.replace(/^#!.*\n/, ''));
        });
      }
      const timer = setTimeout(() => q.kill('SIGKILL'), BOOT_TIMEOUT_S * 1000);
      q.on('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    const seconds = (performance.now() - t0) / 1000;
    const text = readFileSync(data, 'latin1').replace(/\r/g, '');
    if (!text.includes('@@END')) throw new Error(`guest did not finish (qemu exit ${code}, ${seconds.toFixed(1)} s); see ${join(dir, 'console.log')}`);
    const pcrs: GuestResult['pcrs'] = {};
    for (const m of text.matchAll(/^@@PCR (\S+) (\d+) ([0-9A-Fa-f]+)$/gm)) (pcrs[m[1]!] ??= {})[m[2]!] = m[3]!.toLowerCase();
    const b64 = text.slice(text.indexOf('@@LOG\n') + 6, text.indexOf('@@END')).replace(/\s+/g, '');
    return { pcrs, log: Buffer.from(b64, 'base64'), seconds };
  } finally {
    swtpm.kill();
  }
}

/** The disk as a QEMU virtio-blk boot device. */
const diskMedia = (disk: string) => ['-drive', `if=none,id=disk0,format=raw,file=${disk}`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=1'];

suite('e2e: real measured boots (QEMU TCG + OVMF + swtpm) vs measure pcr', () => {
  const work = mkdtempSync(join(tmpdir(), 'cvm-e2e-'));
  const kernel = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64') : '';
  const cmdline = 'console=ttyS0 panic=-1 quiet';
  const initrd = join(work, 'initrd.cpio');
  const uki = join(work, 'uki.efi');
  const ukiSigned = join(work, 'uki.signed.efi');
  const timings: string[] = [];

  beforeAll(async () => {
    // The guest initrd, with our deterministic newc writer.
    const dir = (path: string) => ({ path, type: 'dir' as const, mode: 0o755 });
    writeFileSync(
      initrd,
      writeCpio([
        dir('bin'),
        dir('dev'),
        dir('proc'),
        dir('sys'),
        { path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(BUSYBOX) },
        { path: 'init', type: 'file', mode: 0o755, data: Buffer.from(INIT) },
      ]),
    );
    // The UKI, with our writer (through the CLI), then signed with the snakeoil key for the Secure Boot run.
    const r = await cli([
      'uki',
      'build',
      '--stub',
      STUB,
      '--linux',
      kernel,
      '--initrd',
      initrd,
      '--cmdline',
      cmdline,
      '--uname',
      '6.1.0-56-amd64',
      '--out',
      uki,
    ]);
    expect(r.stderr).toBe('');
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
    const guest = await boot(dir, splitFirmware(dir, VARS), ['-kernel', kernel, '-initrd', initrd, '-append', cmdline]);
    await compare('direct', guest, ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline, '--mem', '768', '--vars', VARS]);
  });

  it('direct kernel boot with the Microsoft Secure Boot store (kernel refused by db → OVMF legacy loader)', {
    timeout: BOOT_TIMEOUT_S * 1000 + 60_000,
  }, async () => {
    const dir = join(work, 'direct-ms');
    const guest = await boot(dir, splitFirmware(dir, VARS_MS), ['-kernel', kernel, '-initrd', initrd, '-append', cmdline]);
    await compare('direct-ms', guest, ['--boot', 'direct', '--kernel', kernel, '--initrd', initrd, '--append', cmdline, '--mem', '768', '--vars', VARS_MS]);
    const events = parseEventLog(guest.log).events;
    const sbVar = events.find((e) => e.decoded?.variableName === 'SecureBoot')!;
    expect(sbVar.data[sbVar.data.length - 1]).toBe(1);
    expect(events.some((e) => e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION')).toBe(false);
  });

  it('UKI (uki build) on a GPT ESP, Secure Boot off', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki');
    const firmware = splitFirmware(dir, VARS);
    const disk = makeEspDisk(uki, join(dir, 'disk.img'));
    const guest = await boot(dir, firmware, diskMedia(disk));
    await compare('uki', guest, ['--boot', 'uki', '--uki', uki, '--disk', disk, '--vars', VARS]);
  });

  it('signed UKI on a GPT ESP, Secure Boot on (snakeoil PK/KEK/db)', { timeout: BOOT_TIMEOUT_S * 1000 + 60_000 }, async () => {
    const dir = join(work, 'uki-sb');
    const firmware = splitFirmware(dir, VARS_SB);
    const disk = makeEspDisk(ukiSigned, join(dir, 'disk.img'));
    const guest = await boot(dir, firmware, diskMedia(disk));
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
      const guest = await boot(dir, ['-drive', `if=pflash,format=raw,unit=0,file=${join(dir, 'OVMF.fd')}`], diskMedia(join(dir, 'disk.img')), {
        ready: 'cvm-measure initramfs:',
      });
      await compareWith('build-out', guest, JSON.stringify(predicted));
      expect(parseEventLog(guest.log).events.some((e) => e.pcrIndex === 5 && e.typeName === 'EV_EFI_GPT_EVENT')).toBe(true);
    },
  );
});
