/**
 * Live measured boots for the e2e suites: QEMU (TCG) + Debian's OVMF + a fresh swtpm per boot; the guest's
 * busybox /init prints every PCR of the three banks and the firmware event log on ttyS1 and powers off.
 * Suites skip loudly when a tool is missing (`cvm-measure doctor --fix --for test`).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { writeCpio } from '../../src/formats/cpio.js';
import { cli } from './cli.js';
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
const TOOLS = ['qemu-system-x86_64', 'swtpm', 'swtpm_setup', 'sfdisk', 'mkfs.vfat', 'mmd', 'mcopy', 'sbsign', 'openssl'];
export const BANKS = ['sha1', 'sha256', 'sha384'] as const;
export const BOOT_TIMEOUT_S = 300;

function missing(): string[] {
  const tools = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  const files = [CODE, VARS, VARS_SB, VARS_MS, SNAKEOIL_KEY, SNAKEOIL_CERT, STUB, BUSYBOX].filter((f) => !existsSync(f));
  return [...tools, ...files, ...(SHARED ? [] : ['../shared (the Debian kernel fixture)'])];
}

const absent = missing();
export const suite = (name: string, fn: () => void) => {
  if (absent.length === 0) return describe(name, fn);
  process.stderr.write(`\n*** SKIPPED "${name}": missing ${absent.join(', ')} (run: npx cvm-measure doctor --fix --for test) ***\n`);
  return describe.skip(`${name} [SKIPPED: missing ${absent.join(', ')}]`, fn);
};

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

/** The VM knobs PCR0/PCR1 depend on (QEMU -machine, -m, -smp). */
export interface VmShape {
  machine?: 'q35' | 'pc';
  memMiB?: number;
  smp?: string;
}

/** One boot: fresh swtpm state, private VARS copy, QEMU TCG; returns what the guest printed. */
export async function boot(dir: string, vars: string, media: string[], vm: VmShape = {}): Promise<GuestResult> {
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
      ...[
        '-machine',
        vm.machine ?? 'q35',
        '-accel',
        'tcg',
        '-m',
        String(vm.memMiB ?? 768),
        '-smp',
        vm.smp ?? '1',
        '-nodefaults',
        '-display',
        'none',
        '-vga',
        'none',
        '-no-reboot',
      ],
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
export function makeEspDisk(dir: string, efi: string): string {
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
