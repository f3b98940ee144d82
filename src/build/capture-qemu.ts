/**
 * `capture qemu`: boots a tiny capture guest (the given Linux kernel + a busybox initrd that loads
 * qemu_fw_cfg and dumps /sys/firmware/qemu_fw_cfg) under the user's QEMU configuration, so the fw_cfg
 * files the firmware will download (ACPI tables and table-loader, e820, bootorder, …) are recorded as
 * QEMU serves them to that configuration. TDX-only options are dropped (this QEMU may predate TDX), each
 * change noted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { writeCpio } from '../formats/cpio.js';
import { qemuPlatformDocument, type QemuPlatformDocument } from './qemu-platform.js';

/** Guest /init: load the fw_cfg sysfs driver (unless built in), print every fw_cfg file (by_key: name, size, base64 data) on ttyS0, power off. */
const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc none /proc
/bin/busybox mount -t sysfs none /sys
/bin/busybox mount -t devtmpfs none /dev
[ -d /sys/firmware/qemu_fw_cfg ] || /bin/busybox insmod /qemu_fw_cfg.ko
{
  echo "@@BEGIN"
  for d in /sys/firmware/qemu_fw_cfg/by_key/*; do
    [ -r "$d/raw" ] || continue
    echo "@@FILE $(/bin/busybox cat "$d/size") $(/bin/busybox cat "$d/name")"
    /bin/busybox base64 "$d/raw"
  done
  echo "@@END"
} > /dev/ttyS0 2>&1
/bin/busybox sync
/bin/busybox poweroff -f
`;

/** Options of a TDX launch that a QEMU without TDX refuses or that need KVM. */
export interface CaptureArgs {
  args: string[];
  notes: string[];
}

/** One -machine/-M value without `confidential-guest-support` (and accel=kvm without KVM). */
function machineValue(v: string, kvm: boolean, notes: string[]): string {
  const parts = v.split(',').filter((p) => {
    if (p.startsWith('confidential-guest-support=')) {
      notes.push(`dropped the TDX option -machine ${p}`);
      return false;
    }
    return true;
  });
  return parts.map((p) => (!kvm && /^accel=.*kvm/.test(p) ? (notes.push(`-machine ${p}: no KVM here, the capture runs under TCG`), 'accel=tcg') : p)).join(',');
}

/**
 * The capture guest's arguments from the user's: drops `-object tdx-guest` and confidential-guest-support,
 * KVM-only settings without /dev/kvm (→ TCG, `-cpu max`), `-daemonize`, the user's -kernel/-initrd/-append
 * (replaced by the capture kernel; without them the capture adds a direct boot, which adds bootorder's
 * linuxboot entry); routes the first serial port (or QEMU's default one) to `serialFile`.
 */
export function captureArgs(user: readonly string[], o: { kernel: string; initrd: string; serialFile: string; kvm: boolean }): CaptureArgs {
  const notes: string[] = [];
  const out: string[] = [];
  let serial = false;
  let direct = false;
  let display = false;
  const takesValue = (a: string) =>
    /^-[a-zA-Z]/.test(a) && !['-nographic', '-enable-kvm', '-daemonize', '-nodefaults', '-no-reboot', '-no-shutdown', '-S', '-no-acpi', '-no-hpet'].includes(a);
  for (let i = 0; i < user.length; i++) {
    const a = user[i]!;
    const opt = a.replace(/^--/, '-');
    const v = takesValue(opt) ? user[i + 1] : undefined;
    if (v !== undefined) i++;
    if (opt === '-object' && v?.startsWith('tdx-guest')) notes.push(`dropped the TDX option -object ${v}`);
    else if (opt === '-machine' || opt === '-M') out.push(opt, machineValue(v ?? '', o.kvm, notes));
    else if (opt === '-enable-kvm' && !o.kvm) notes.push('-enable-kvm: no KVM here, the capture runs under TCG');
    else if (opt === '-accel' && !o.kvm && v?.startsWith('kvm')) {
      notes.push(`-accel ${v}: no KVM here, the capture runs under TCG`);
      out.push('-accel', 'tcg');
    } else if (opt === '-cpu' && !o.kvm && v?.startsWith('host')) {
      notes.push(`-cpu ${v} needs KVM: the capture uses -cpu max (CPU models do not enter the fw_cfg files)`);
      out.push('-cpu', 'max');
    } else if (opt === '-kernel' || opt === '-initrd' || opt === '-append') direct = true;
    else if (opt === '-daemonize') notes.push('dropped -daemonize');
    else if (opt === '-serial' && !serial) {
      serial = true;
      out.push('-serial', `file:${o.serialFile}`);
    } else if (opt === '-nographic') {
      display = true;
      out.push('-display', 'none');
    } else {
      if (opt === '-display') display = true;
      out.push(a, ...(v === undefined ? [] : [v]));
    }
  }
  if (!direct) notes.push('the configuration has no -kernel: the capture boots its kernel with -kernel, so bootorder names the linuxboot option ROM');
  if (!serial) {
    if (user.includes('-nodefaults'))
      notes.push('-nodefaults without -serial: the capture adds a serial port (COM1), which the ACPI DSDT then describes; the configuration itself has none');
    out.push('-serial', `file:${o.serialFile}`);
  }
  if (!display) out.push('-display', 'none');
  out.push('-kernel', o.kernel, '-initrd', o.initrd, '-append', 'quiet panic=-1', '-no-reboot');
  return { args: out, notes };
}

/** The fw_cfg files in the guest's dump ("@@FILE size name" + base64, between @@BEGIN and @@END). */
export function parseCaptureDump(text: string): Map<string, Uint8Array> {
  const body = text.replace(/\r/g, '');
  const begin = body.indexOf('@@BEGIN\n');
  const end = body.indexOf('@@END', begin);
  if (begin < 0 || end < 0) throw new InputError('capture guest: no complete fw_cfg dump on its serial port');
  const files = new Map<string, Uint8Array>();
  for (const part of body
    .slice(begin + 8, end)
    .split('@@FILE ')
    .slice(1)) {
    const nl = part.indexOf('\n');
    const m = /^(\d+) (\S+)$/.exec(part.slice(0, nl));
    if (!m) throw new InputError(`capture guest: bad fw_cfg dump header ${JSON.stringify(part.slice(0, Math.min(nl, 80)))}`);
    const data = Buffer.from(part.slice(nl + 1).replace(/\s+/g, ''), 'base64');
    if (data.length !== Number(m[1])) throw new InputError(`capture guest: fw_cfg ${m[2]} dumped ${data.length} bytes of ${m[1]}`);
    files.set(m[2]!, data);
  }
  if (files.size === 0) throw new InputError('capture guest: no fw_cfg files (is qemu_fw_cfg built for this kernel?)');
  return files;
}

/** QEMU -boot menu=on|off (fw_cfg BootMenu, hw/nvram/fw_cfg.c fw_cfg_bootsplash: 1 when on). */
export function bootMenu(args: readonly string[]): number {
  for (let i = 0; i < args.length - 1; i++) if (args[i] === '-boot' && /(^|,)menu=(on|yes|true)(,|$)/.test(args[i + 1]!)) return 1;
  return 0;
}

export interface CaptureOptions {
  /** The user's QEMU arguments (after `--`). */
  args: readonly string[];
  /** Linux bzImage of the capture guest. */
  kernel: string;
  /** qemu_fw_cfg.ko of that kernel (unless CONFIG_FW_CFG_SYSFS=y). */
  module?: string;
  /** A static busybox. */
  busybox: string;
  qemu?: string;
  timeoutS?: number;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** `qemu --version` → "7.2.22". */
function qemuVersion(qemu: string): string {
  let out: string;
  try {
    out = execFileSync(qemu, ['--version'], { encoding: 'utf8' });
  } catch (e) {
    throw new InputError(`cannot run ${qemu} --version: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]}`);
  }
  const m = /version (\d+\.\d+(\.\d+)?)/.exec(out);
  if (!m) throw new InputError(`${qemu} --version: no version in ${JSON.stringify(out.split('\n')[0])}`);
  return m[1]!;
}

/** QEMU's report that KVM cannot run the guest: it then pauses the VM instead of exiting. */
const KVM_FAILURE = /KVM internal error[^\n]*|kvm run failed[^\n]*|failed to initialize kvm[^\n]*|Could not access KVM kernel module[^\n]*/i;

/** Runs the capture guest to its exit (or SIGKILL after `timeoutS`, or at once when QEMU reports a KVM failure). */
function runGuest(qemu: string, args: string[], timeoutS: number): Promise<{ code: number | null; stderr: string; kvmFailed?: string }> {
  return new Promise((res, rej) => {
    const q = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let kvmFailed: string | undefined;
    q.stderr.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString('utf8');
      kvmFailed ??= KVM_FAILURE.exec(err)?.[0]?.trim();
      if (kvmFailed) q.kill('SIGKILL');
    });
    const timer = setTimeout(() => q.kill('SIGKILL'), timeoutS * 1000);
    q.on('error', (e) => {
      clearTimeout(timer);
      rej(new InputError(`cannot run ${qemu}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    q.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stderr: err, ...(kvmFailed ? { kvmFailed } : {}) });
    });
  });
}

/**
 * Boots the capture guest and returns the platform document.
 * @throws {InputError} when QEMU refuses the arguments, the guest does not finish in time, or dumps nothing.
 */
export async function captureQemu(o: CaptureOptions): Promise<QemuPlatformDocument> {
  const qemu = o.qemu ?? 'qemu-system-x86_64';
  const version = qemuVersion(qemu);
  const dir = mkdtempSync(join(tmpdir(), 'cvm-capture-'));
  try {
    const initrd = join(dir, 'initrd.cpio');
    const file = (path: string, data: Uint8Array) => ({ path, type: 'file' as const, mode: 0o755, data });
    writeFileSync(
      initrd,
      writeCpio([
        { path: 'bin', type: 'dir', mode: 0o755 },
        file('bin/busybox', readFile(o.busybox, 'busybox')),
        file('init', Buffer.from(INIT)),
        ...(o.module ? [file('qemu_fw_cfg.ko', readFile(o.module, 'fw_cfg module'))] : []),
      ]),
    );
    readFile(o.kernel, 'kernel');
    const serialFile = join(dir, 'serial.txt');
    const timeoutS = o.timeoutS ?? 120;
    let c = captureArgs(o.args, { kernel: o.kernel, initrd, serialFile, kvm: existsSync('/dev/kvm') });
    let { code, stderr, kvmFailed } = await runGuest(qemu, c.args, timeoutS);
    if (kvmFailed) {
      // /dev/kvm is there but cannot run this guest (nested or restricted virtualization): TCG, said
      c = captureArgs(o.args, { kernel: o.kernel, initrd, serialFile, kvm: false });
      c.notes.unshift(`KVM failed here (${kvmFailed}): captured under TCG instead`);
      rmSync(serialFile, { force: true });
      ({ code, stderr } = await runGuest(qemu, c.args, timeoutS));
    }
    const text = existsSync(serialFile) ? readFileSync(serialFile, 'latin1') : '';
    if (!text.includes('@@END')) {
      const why = stderr.trim().split('\n')[0] || (code === null ? `no dump within ${timeoutS} s` : `exit ${code}`);
      throw new InputError(`capture guest did not finish: ${why}`);
    }
    const files = parseCaptureDump(text);
    return qemuPlatformDocument(
      { binary: qemu, version, args: [...o.args], captureArgs: c.args.map((a) => a.replaceAll(dir, '<capture>')), notes: c.notes },
      bootMenu(o.args),
      files,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
