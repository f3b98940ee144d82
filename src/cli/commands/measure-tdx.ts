import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice, parseInteger } from '../options.js';
import { UsageError } from '../../errors.js';
import { PAGE_ORDERS } from '../../measure/tdx/mrtd.js';
import { readInput } from '../../util/fs.js';
import { tdxMeasurement } from '../../measure/tdx/report.js';
import { TDVF_EVENT_LAYOUTS } from '../../measure/tdx/rtmr0.js';
import type { loadQemuPlatform } from '../../build/qemu-platform.js';
import { noteDefaults, printJson, printLine } from '../output.js';

interface Opts {
  firmware: string;
  pageOrder?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem?: string;
  qemuVersion?: string;
  platform?: string;
  tdvfEvents?: string;
  json?: boolean;
}

/** The platform.json reader (build/qemu-platform.ts), imported only for --platform: it validates with ajv. */
export type PlatformLoader = () => Promise<typeof loadQemuPlatform>;

export function registerMeasureTdx(program: Command, platformLoader: PlatformLoader): void {
  const cmd = group(program, 'measure')
    .command('tdx')
    .description("predict a TDX TD's MRTD from its TDVF/OVMF or td-shim image, and RTMR1/RTMR2 for a direct kernel boot")
    .requiredOption('--firmware <file>', 'TDVF image: combined OVMF.fd (not a split OVMF_CODE.fd) or a td-shim image')
    .addOption(
      program.createOption(
        '--page-order <order>',
        'host order of TDH.MEM.PAGE.ADD/TDH.MR.EXTEND: single (KVM/QEMU >= 9, GCE, td-shim) or two-pass (QEMU 8.x TDX) (default single, noted)',
      ),
    )
    .option('--kernel <file>', 'bzImage loaded with QEMU -kernel: adds RTMR1 and RTMR2')
    .option('--initrd <file>', 'initrd loaded with QEMU -initrd (needs --kernel)')
    .option('--append <cmdline>', 'kernel command line (QEMU -append; needs --kernel)')
    .option('--mem <MiB>', 'guest RAM in MiB (QEMU -m; the patched setup header depends on it) (default 2048 with --kernel, noted)')
    .option(
      '--qemu-version <x.y>',
      'QEMU version of the host: before 10.2 QEMU patches the kernel setup header before OVMF measures it (default 9.2 with --kernel, noted)',
    )
    .option('--platform <file>', "platform.json of `cvm-measure capture qemu` (the VMM's fw_cfg data): adds RTMR0, a model not checked on a real TD")
    .option(
      '--tdvf-events <layout>',
      "TDVF's RTMR0 event sequence: legacy (edk2 before stable202505) or fw-cfg-cache (stable202505 on: measured fw_cfg items) (default legacy with --platform, noted)",
    )
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      const pageOrder = opts.pageOrder === undefined ? undefined : parseChoice('--page-order', opts.pageOrder, PAGE_ORDERS);
      const memMiB = opts.mem === undefined ? undefined : parseInteger('--mem', opts.mem, 1, 16 << 20);
      if (!opts.kernel && (opts.initrd || opts.append !== undefined)) throw new UsageError(`${opts.initrd ? '--initrd' : '--append'} needs --kernel`);
      const qemuVersion = opts.qemuVersion;
      if (qemuVersion !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(qemuVersion)) {
        throw new UsageError(`--qemu-version: expected a version such as 9.2 or 10.2.0, got ${JSON.stringify(qemuVersion)}`);
      }
      const tdvfEvents = opts.tdvfEvents === undefined ? undefined : parseChoice('--tdvf-events', opts.tdvfEvents, TDVF_EVENT_LAYOUTS);
      if (tdvfEvents && !opts.platform) throw new UsageError('--tdvf-events needs --platform');
      const file = async (name: string, what: string) => ({ name, bytes: await readInput(name, what) });
      const firmware = await file(opts.firmware, 'firmware');
      const kernel = opts.kernel ? await file(opts.kernel, 'kernel') : undefined;
      const initrd = opts.initrd ? await file(opts.initrd, 'initrd') : undefined;
      const p = opts.platform ? (await platformLoader())(await readInput(opts.platform, 'platform'), opts.platform) : undefined;
      const platform = p && opts.platform ? { name: opts.platform, sha256: p.sha256, qemuVersion: p.document.qemu.version, fwCfg: p.fwCfg } : undefined;
      const out = tdxMeasurement({ firmware, kernel, initrd, cmdline: opts.append, platform }, { pageOrder, memMiB, qemuVersion, tdvfEvents });
      noteDefaults(out.defaults);
      if (opts.json) return printJson(out);
      printLine(`MRTD (${out.pageOrder}): ${out.mrtd}`);
      if (out.rtmr) {
        printLine(`RTMR1: ${out.rtmr['1']}`);
        printLine(`RTMR2: ${out.rtmr['2']}`);
      }
      const r0 = out.rtmr0;
      if (r0.computed)
        printLine(`RTMR0: ${r0.value} (${r0.status}; platform ${r0.platform.path}, QEMU ${r0.platform.qemuVersion}, TDVF events ${r0.tdvfEvents})`);
      else printLine(`RTMR0: not computed; it depends on ${r0.dependsOn.join('; ')}`);
    });
  examples(cmd, [
    'cvm-measure measure tdx --firmware OVMF.fd',
    'cvm-measure measure tdx --firmware OVMF.fd --page-order two-pass --json',
    'cvm-measure measure tdx --firmware OVMF.fd --kernel vmlinuz --initrd initrd.img --append "console=hvc0" --mem 4096',
    'cvm-measure measure tdx --firmware OVMF.fd --platform platform.json --json',
  ]);
}
