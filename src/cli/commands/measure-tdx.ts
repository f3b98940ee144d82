import { Option, type Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice, parseInteger } from '../options.js';

interface Opts {
  firmware: string;
  pageOrder: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem?: string;
  qemuVersion?: string;
  json?: boolean;
}

export function registerMeasureTdx(program: Command): void {
  const cmd = group(program, 'measure')
    .command('tdx')
    .description('predict a TDX TD\'s MRTD from its TDVF/OVMF or td-shim image, and RTMR1/RTMR2 for a direct kernel boot')
    .requiredOption('--firmware <file>', 'TDVF image: combined OVMF.fd (not a split OVMF_CODE.fd) or a td-shim image')
    .addOption(new Option('--page-order <order>', 'host order of TDH.MEM.PAGE.ADD/TDH.MR.EXTEND: single (KVM/QEMU >= 9, GCE, td-shim) or two-pass (QEMU 8.x TDX)').default('single'))
    .option('--kernel <file>', 'bzImage loaded with QEMU -kernel: adds RTMR1 and RTMR2')
    .option('--initrd <file>', 'initrd loaded with QEMU -initrd (needs --kernel)')
    .option('--append <cmdline>', 'kernel command line (QEMU -append; needs --kernel)')
    .option('--mem <MiB>', 'guest RAM in MiB (QEMU -m; the patched setup header depends on it)', '2048')
    .option('--qemu-version <x.y>', 'QEMU version of the host: before 10.2 QEMU patches the kernel setup header before OVMF measures it', '9.2')
    .addOption(jsonOption())
    .action(async (opts: Opts) => {
      const { tdxMrtd, sectionPages, PAGE_ORDERS } = await import('../../measure/tdx/mrtd.js');
      const pageOrder = parseChoice('--page-order', opts.pageOrder, PAGE_ORDERS);
      const memMiB = parseInteger('--mem', opts.mem ?? '2048', 1, 16 << 20);
      if (!opts.kernel && (opts.initrd || opts.append !== undefined)) {
        const { UsageError } = await import('../../errors.js');
        throw new UsageError(`${opts.initrd ? '--initrd' : '--append'} needs --kernel`);
      }
      const { readInput } = await import('../../util/fs.js');
      const { createHash } = await import('node:crypto');
      const { toHex } = await import('../../util/bytes.js');
      const image = await readInput(opts.firmware, 'firmware');
      const { mrtd, metadata } = tdxMrtd(image, pageOrder);
      const out: Record<string, unknown> = {
        kind: 'tdx',
        mrtd: toHex(mrtd),
        pageOrder,
        firmware: { path: opts.firmware, size: image.length, sha256: createHash('sha256').update(image).digest('hex'), metadata: metadata.locator, descriptorOffset: metadata.descriptorOffset },
        sections: metadata.sections.map((s) => ({
          index: s.index,
          type: s.type,
          dataOffset: s.dataOffset,
          rawDataSize: s.rawDataSize,
          memoryAddress: `0x${s.memoryAddress.toString(16)}`,
          memoryDataSize: s.memoryDataSize,
          attributes: [...(s.mrExtend ? ['MR.EXTEND'] : []), ...(s.pageAug ? ['PAGE.AUG'] : [])],
          ...sectionPages(s),
        })),
      };
      if (opts.kernel) {
        const { tdxDirectBootRtmrs, qemuPatchesSetupHeader } = await import('../../measure/tdx/rtmr.js');
        const kernel = await readInput(opts.kernel, 'kernel');
        const initrd = opts.initrd ? await readInput(opts.initrd, 'initrd') : undefined;
        const qemuVersion = opts.qemuVersion ?? '9.2';
        if (!/^\d+\.\d+(\.\d+)?$/.test(qemuVersion)) {
          const { UsageError } = await import('../../errors.js');
          throw new UsageError(`--qemu-version: expected a version such as 9.2 or 10.2.0, got ${JSON.stringify(qemuVersion)}`);
        }
        const patch = qemuPatchesSetupHeader(qemuVersion);
        const r = tdxDirectBootRtmrs({ kernel, initrd, cmdline: opts.append ?? '', memMiB, patchSetupHeader: patch });
        out.rtmr = { '1': toHex(r.rtmr[1]!), '2': toHex(r.rtmr[2]!) };
        out.boot = { shape: 'direct', qemuVersion, setupHeaderPatched: patch, memMiB, measuredCmdline: r.measuredCmdline };
        out.events = r.events;
      }
      const { RTMR0_DEPENDS_ON } = await import('../../measure/tdx/rtmr.js');
      out.rtmr0 = { computed: false, dependsOn: RTMR0_DEPENDS_ON };
      const { printJson, printLine } = await import('../output.js');
      if (opts.json) return printJson(out);
      printLine(`MRTD (${pageOrder}): ${out.mrtd as string}`);
      if (out.rtmr) {
        const rt = out.rtmr as Record<string, string>;
        printLine(`RTMR1: ${rt['1']}`);
        printLine(`RTMR2: ${rt['2']}`);
      }
      printLine(`RTMR0: not computed; it depends on ${RTMR0_DEPENDS_ON.join('; ')}`);
    });
  examples(cmd, [
    'cvm-measure measure tdx --firmware OVMF.fd',
    'cvm-measure measure tdx --firmware OVMF.fd --page-order two-pass --json',
    'cvm-measure measure tdx --firmware OVMF.fd --kernel vmlinuz --initrd initrd.img --append "console=hvc0" --mem 4096',
  ]);
}
