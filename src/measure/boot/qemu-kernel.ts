/**
 * The bzImage OVMF measures on a QEMU `-kernel` boot. QEMU's x86_load_linux (hw/i386/x86.c) patches the
 * Linux boot-protocol setup header (Documentation/arch/x86/boot.rst "The Real-Mode Kernel Header")
 * before passing setup+kernel to the firmware over fw_cfg; OVMF's QemuKernelLoaderFsDxe re-joins them
 * and LoadImage measures that patched image. Modelled on QEMU 7.2 (verified against 7.2.22 boots); the
 * same patch applies through QEMU 10.1. QEMU skips it for SEV guests (measured direct boot hashes the
 * unmodified file) and, from 10.2.0 (commit a7542a38f399), for every confidential guest incl. TDX;
 * hence `patchSetupHeader` (see qemuPatchesSetupHeader in src/measure/tdx/rtmr.ts).
 */
import { InputError } from '../../errors.js';
import { latin1, u16le, u32le, view } from '../../util/bytes.js';

export interface QemuDirectBoot {
  /** Guest RAM (-m), MiB. */
  memMiB: number;
  /** QEMU machine type: q35 keeps at most 2 GiB below 4 GiB when RAM >= 2.75 GiB, i440fx ("pc") 3 GiB when >= 3.5 GiB. */
  machine?: 'q35' | 'pc';
  /** false where QEMU leaves the setup header alone (SEV/SEV-SNP guests; TDX guests from QEMU 10.2). Default true. */
  patchSetupHeader?: boolean;
}

/** QEMU pc machine class acpi_data_size: 0x20000 + 0x8000 (ACPI tables reserved below the top of low RAM). */
const ACPI_DATA_SIZE = 0x20000 + 0x8000;
/** x86_load_linux: real-mode setup at 0x10000, command line at 0x20000 for protocol >= 2.02 "high" kernels. */
const REAL_ADDR = 0x10000;
const CMDLINE_ADDR = 0x20000;
const XLF_CAN_BE_LOADED_ABOVE_4G = 0x2;

/** Low RAM (below 4 GiB) as QEMU's pc_q35_init / pc_init1 split it. */
export function below4g(memMiB: number, machine: 'q35' | 'pc'): number {
  const ram = memMiB * 1024 * 1024;
  const lowmem = machine === 'q35' ? (ram >= 0xb0000000 ? 0x80000000 : ram) : ram >= 0xe0000000 ? 0xc0000000 : ram;
  return Math.min(ram, lowmem);
}

/** x86_load_linux's "vga=" parsing into vid_mode (0x1fa). */
function vgaMode(cmdline: string): number | undefined {
  const m = /(?:^|\s)vga=(\S*)/.exec(cmdline);
  if (!m) return undefined;
  const v = m[1]!;
  if (v.startsWith('normal')) return 0xffff;
  if (v.startsWith('ext')) return 0xfffe;
  if (v.startsWith('ask')) return 0xfffd;
  const n = /^0x[0-9a-f]+/i.test(v) ? parseInt(v, 16) : /^0[0-7]*/.test(v) ? parseInt(v, 8) : parseInt(v, 10);
  if (!Number.isFinite(n)) throw new InputError(`kernel command line: vga=${v} is not a number QEMU accepts`);
  return n & 0xffff;
}

/** Returns the kernel bytes as the firmware sees them (a patched copy, or `kernel` itself when not patched). */
export function qemuPatchedKernel(kernel: Uint8Array, opts: QemuDirectBoot, initrdSize: number | undefined, cmdline: string): Uint8Array {
  if (opts.patchSetupHeader === false) return kernel;
  const k = new Uint8Array(kernel); // a copy: the caller's bytes stay as they are
  const dv = view(k);
  if (k.length < 0x268 || latin1(k.subarray(0x202, 0x206)) !== 'HdrS') throw new InputError('kernel: no Linux boot protocol header ("HdrS" at 0x202)');
  const protocol = u16le(k, 0x206);
  // Only the "high", recent (boot protocol >= 2.02, LOADED_HIGH) layout that every EFI-stub bzImage has.
  if (protocol < 0x202 || (k[0x211]! & 1) === 0) throw new InputError(`kernel: boot protocol ${protocol.toString(16)} without LOADED_HIGH is not supported`);
  const low = below4g(opts.memMiB, opts.machine ?? 'q35');
  let initrdMax = protocol >= 0x20c && (u16le(k, 0x236) & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0 ? 0xffffffff : u32le(k, 0x22c);
  if (initrdMax >= low - ACPI_DATA_SIZE) initrdMax = low - ACPI_DATA_SIZE - 1;
  dv.setUint32(0x228, CMDLINE_ADDR, true); // cmd_line_ptr
  const vga = vgaMode(cmdline);
  if (vga !== undefined) dv.setUint16(0x1fa, vga, true); // vid_mode
  k[0x210] = 0xb0; // type_of_loader: QEMU
  k[0x211] = k[0x211]! | 0x80; // loadflags |= CAN_USE_HEAP
  dv.setUint16(0x224, CMDLINE_ADDR - REAL_ADDR - 0x200, true); // heap_end_ptr
  if (initrdSize !== undefined) {
    if (initrdSize >= initrdMax) throw new InputError(`initrd: ${initrdSize} bytes do not fit below 0x${initrdMax.toString(16)} with -m ${opts.memMiB}`);
    dv.setUint32(0x218, Math.floor((initrdMax - initrdSize) / 4096) * 4096, true); // ramdisk_image
    dv.setUint32(0x21c, initrdSize, true); // ramdisk_size
  }
  return k;
}
