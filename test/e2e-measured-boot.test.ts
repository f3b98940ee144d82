/**
 * End to end: boots real guests under qemu-system-x86_64 (TCG) with Debian's OVMF and a fresh swtpm,
 * reads the PCRs and the firmware event log inside the guest, and compares them with `measure pcr`:
 * a direct kernel boot, a UKI on a GPT ESP, and the same UKI signed and booted with Secure Boot on
 * (Debian's snakeoil PK/KEK/db). The guest initrd and the UKI are built with this package's cpio and
 * UKI writers. Skips loudly when QEMU, swtpm or the other tools are missing (`cvm-measure doctor --fix --for test`).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../src/formats/cpio.js';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { cli } from './helpers/cli.js';
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
const TOOLS = ['qemu-system-x86_64', 'swtpm', 'swtpm_setup', 'sfdisk', 'mkfs.vfat', 'mmd', 'mcopy', 'sbsign', 'openssl'];
const BANKS = ['sha1', 'sha256', 'sha384'] as const;
const BOOT_TIMEOUT_S = 300;

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

/** One boot: fresh swtpm state, private VARS copy, QEMU TCG; returns what the guest printed. */
async function boot(dir: string, vars: string, media: string[]): Promise<GuestResult> {
  mkdirSync(join(dir, 'tpm'), { recursive: true });
  copyFileSync(vars, join(dir, 'vars.fd'));
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
      ...['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`],
      ...['-chardev', `socket,id=chrtpm,path=${sock}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-crb,tpmdev=tpm0'],
      ...['-serial', `file:${join(dir, 'console.log')}`, '-serial', `file:${data}`],
      ...media,
    ];
    const t0 = performance.now();
    const code = await new Promise<number | null>((res) => {
      const q = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
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

/** A 64 MiB GPT disk (fixed GUIDs) whose FAT32 ESP holds `efi` as the removable-media boot path. */
function makeEspDisk(dir: string, efi: string): string {
  const img = join(dir, 'disk.img');
  const esp = join(dir, 'esp.img');
  writeFileSync(img, '');
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('sfdisk', ['-q', img], {
    input:
      'label: gpt\nlabel-id: 0C0FFEE0-1111-2222-3333-444455556666\nfirst-lba: 2048\nstart=2048, size=126976, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=7E57E57E-AAAA-BBBB-CCCC-DDDDEEEEFFFF, name="ESP"\n',
  });
  execFileSync('truncate', ['-s', `${126976 * 512}`, esp]);
  execFileSync('mkfs.vfat', ['-F', '32', '-i', '0badcafe', '-n', 'ESP', esp], { stdio: 'ignore' });
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  execFileSync('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT'], { env });
  execFileSync('mcopy', ['-i', esp, efi, '::/EFI/BOOT/BOOTX64.EFI'], { env });
  execFileSync('dd', [`if=${esp}`, `of=${img}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
  rmSync(esp);
  return img;
}

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
