/**
 * Live measured boots for the e2e tests: QEMU (TCG) + Debian's OVMF + a fresh swtpm per boot; the guest's
 * busybox /init prints every PCR of the three banks and the firmware event log on ttyS1 and powers off.
 * Suites skip loudly when a tool is missing (`cvm-measure doctor --fix --for test`). GPT ESP disks come
 * from ./esp.ts (the default recipe's recipes/esp/esp-disk.sh).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { writeCpio } from '../../src/formats/cpio.js';
import { cli } from './cli.js';
import { ESP_TOOLS } from './esp.js';
import { SHARED } from './shared.js';

export const OVMF = '/usr/share/OVMF';
export const CODE = `${OVMF}/OVMF_CODE_4M.fd`;
export const VARS = `${OVMF}/OVMF_VARS_4M.fd`;
/** Debian's test-only Secure Boot store: its "snakeoil" key is PK, KEK and db; key and cert ship with ovmf. */
export const VARS_SB = `${OVMF}/OVMF_VARS_4M.snakeoil.fd`;
/** Debian's Microsoft-keys store (Secure Boot on): the Debian kernel is not admitted by its db. */
export const VARS_MS = `${OVMF}/OVMF_VARS_4M.ms.fd`;
export const SNAKEOIL_KEY = '/usr/share/ovmf/PkKek-1-snakeoil.key';
export const SNAKEOIL_CERT = '/usr/share/ovmf/PkKek-1-snakeoil.pem';
export const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
export const BUSYBOX = '/bin/busybox';
/** What boot() itself runs. */
export const QEMU_TOOLS = ['qemu-system-x86_64', 'swtpm', 'swtpm_setup'];
/** What the default `suite` needs: boot(), the ESP disk (./esp.ts), signing a UKI with the snakeoil key. */
export const TOOLS = [...QEMU_TOOLS, ...ESP_TOOLS, 'sbsign', 'openssl'];
export const BANKS = ['sha1', 'sha256', 'sha384'] as const;
export const BOOT_TIMEOUT_S = 300;

/** The tools and files of `tools`/`files` this machine lacks. */
export function missingOf(tools: readonly string[], files: readonly string[]): string[] {
  return [...tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0), ...files.filter((f) => !existsSync(f))];
}

/** `describe` when nothing is absent; otherwise a loudly skipped suite naming what is missing. */
export function suiteUnless(absent: readonly string[]): (name: string, fn: () => void) => void {
  return (name, fn) => {
    if (absent.length === 0) return describe(name, fn);
    process.stderr.write(`\n*** SKIPPED "${name}": missing ${absent.join(', ')} (run: npx cvm-measure doctor --fix --for test) ***\n`);
    return describe.skip(`${name} [SKIPPED: missing ${absent.join(', ')}]`, fn);
  };
}

/** The e2e suites' `describe`: every TOOLS tool, Debian's OVMF stores, the snakeoil key, the stub, busybox and ../shared's Debian kernel. */
export const suite = suiteUnless([
  ...missingOf(TOOLS, [CODE, VARS, VARS_SB, VARS_MS, SNAKEOIL_KEY, SNAKEOIL_CERT, STUB, BUSYBOX]),
  ...(SHARED ? [] : ['../shared (the Debian kernel fixture)']),
]);

/** Guest /init: print every PCR of the three banks and the firmware event log on ttyS1, power off. */
export const INIT = `#!/bin/busybox sh
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

export interface GuestResult {
  pcrs: Record<string, Record<string, string>>;
  log: Buffer;
  seconds: number;
}

/** The VM knobs PCR0/PCR1 depend on (QEMU -machine, -m, -smp); default q35, 768 MiB, 1 vCPU. */
export interface VmShape {
  machine?: 'q35' | 'pc';
  memMiB?: number;
  smp?: string;
}

export interface BootOptions {
  /**
   * `{ vars }`: Debian's split OVMF_CODE (read-only pflash) with a private copy of that VARS store;
   * `{ args }`: the QEMU firmware arguments as given (e.g. one pflash drive of a unified OVMF.fd).
   */
  firmware: { vars: string } | { args: string[] };
  /** The boot media: -kernel/-initrd/-append (directMedia) or a disk (diskMedia). */
  media: string[];
  vm?: VmShape;
  /** The guest's own init ends in a shell on ttyS0: once `ready` shows on the console, INIT is typed into it. */
  shell?: { ready: string };
}

/** A direct kernel boot's media. */
export const directMedia = (kernel: string, initrd: string, append: string) => ['-kernel', kernel, '-initrd', initrd, '-append', append];

/** The disk as a QEMU virtio-blk boot device (at PCI slot `slot` when given, else the first free one). */
export const diskMedia = (disk: string, slot?: number) => [
  '-drive',
  `if=none,id=disk0,format=raw,file=${disk}`,
  '-device',
  `virtio-blk-pci,drive=disk0,bootindex=1${slot ? `,addr=${slot}` : ''}`,
];

/** One boot in `dir`: fresh swtpm state, the firmware, QEMU TCG; returns what the guest printed on ttyS1. */
export async function boot(dir: string, { firmware, media, vm = {}, shell }: BootOptions): Promise<GuestResult> {
  mkdirSync(join(dir, 'tpm'), { recursive: true });
  let fw: string[];
  if ('vars' in firmware) {
    copyFileSync(firmware.vars, join(dir, 'vars.fd'));
    fw = ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`];
  } else fw = firmware.args;
  execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', join(dir, 'tpm'), '--pcr-banks', BANKS.join(','), '--overwrite'], { stdio: 'ignore' });
  const sock = join(dir, 'swtpm.sock');
  const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'tpm')}`, '--ctrl', `type=unixio,path=${sock}`, '--terminate'], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const data = join(dir, 'data.txt');
    const args = [
      ...['-machine', vm.machine ?? 'q35', '-accel', 'tcg', '-m', String(vm.memMiB ?? 768), '-smp', vm.smp ?? '1'],
      ...['-nodefaults', '-display', 'none', '-vga', 'none', '-no-reboot'],
      ...fw,
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

/** A FAT image without a partition table (a "superfloppy") holding `efi` as the removable-media boot path: no GPT event in PCR5. */
export function makeFatImage(dir: string, efi: string): string {
  const img = join(dir, 'fat.img');
  writeFileSync(img, '');
  execFileSync('truncate', ['-s', '48M', img]);
  execFileSync('mkfs.vfat', ['-F', '32', '-i', '0badcafe', '-n', 'ESP', img], { stdio: 'ignore' });
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  execFileSync('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT'], { env });
  execFileSync('mcopy', ['-i', img, efi, '::/EFI/BOOT/BOOTX64.EFI'], { env });
  return img;
}

/** The guest initrd (busybox + INIT, with this package's newc writer) and a UKI of it (`uki build` through the CLI). */
export async function buildGuest(kernel: string, cmdline: string, initrd: string, uki: string): Promise<void> {
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
  const r = await cli(['uki', 'build', '--stub', STUB, '--linux', kernel, '--initrd', initrd, '--cmdline', cmdline, '--uname', '6.1.0-56-amd64', '--out', uki]);
  if (r.stderr !== '') throw new Error(`uki build: ${r.stderr}`);
}
