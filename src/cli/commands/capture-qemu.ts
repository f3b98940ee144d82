import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseInteger } from '../options.js';
import { UsageError } from '../../errors.js';
import { captureQemu } from '../../build/capture-qemu.js';
import { writeFileAtomic } from '../../util/fs.js';
import { noteDefaults, printJson, printLine, warn } from '../output.js';

interface Opts {
  kernel: string;
  fwCfgModule?: string;
  busybox?: string;
  qemu?: string;
  out?: string;
  timeout?: string;
  json?: boolean;
}

export function registerCaptureQemu(program: Command): void {
  const cmd = group(program, 'capture')
    .command('qemu')
    .description(
      'boot a tiny capture guest under the given QEMU arguments and record the fw_cfg files the firmware will measure (ACPI tables, table-loader, e820, bootorder) into a content-addressed platform.json for `measure tdx --platform`',
    )
    .argument('<qemu-args...>', 'the QEMU arguments of the TD, after `--` (TDX-only options are dropped with a note)')
    .requiredOption('--kernel <file>', 'Linux bzImage of the capture guest (any x86-64 kernel with qemu_fw_cfg, e.g. /boot/vmlinuz-$(uname -r))')
    .option(
      '--fw-cfg-module <file>',
      "that kernel's qemu_fw_cfg.ko when CONFIG_FW_CFG_SYSFS=m (Debian: /lib/modules/<version>/kernel/drivers/firmware/qemu_fw_cfg.ko)",
    )
    .option('--busybox <file>', 'static busybox for the capture initrd (default /bin/busybox, noted)')
    .option('--qemu <binary>', 'QEMU system emulator (default qemu-system-x86_64, noted)')
    .option('--out <file>', 'where to write platform.json (default platform.json)')
    .option('--timeout <seconds>', 'give up on the capture guest after this long (default 300)')
    .addOption(jsonOption(program))
    .action(async (qemuArgs: string[], opts: Opts) => {
      if (qemuArgs.length === 0) throw new UsageError('give the QEMU arguments after --');
      const timeoutS = opts.timeout === undefined ? 300 : parseInteger('--timeout', opts.timeout, 1, 3600);
      const out = opts.out ?? 'platform.json';
      noteDefaults({ ...(opts.busybox ? {} : { busybox: '/bin/busybox' }), ...(opts.qemu ? {} : { qemu: 'qemu-system-x86_64' }) }, 'captured');
      const doc = await captureQemu({
        args: qemuArgs,
        kernel: opts.kernel,
        module: opts.fwCfgModule,
        busybox: opts.busybox ?? '/bin/busybox',
        qemu: opts.qemu,
        timeoutS,
      });
      await writeFileAtomic(out, `${JSON.stringify(doc, null, 2)}\n`);
      for (const n of doc.qemu.notes) warn(n);
      const files = Object.fromEntries(Object.entries(doc.fwCfg).map(([k, v]) => [k, v.size]));
      if (opts.json) return printJson({ kind: 'qemu-platform', out, qemuVersion: doc.qemu.version, bootMenu: doc.bootMenu, files, notes: doc.qemu.notes });
      printLine(`${out}: ${Object.keys(files).length} fw_cfg files from QEMU ${doc.qemu.version} (${Object.keys(files).join(', ')})`);
    });
  examples(cmd, [
    'cvm-measure capture qemu --kernel /boot/vmlinuz-$(uname -r) --fw-cfg-module qemu_fw_cfg.ko --out platform.json -- -machine q35 -m 4096 -smp 4 -bios OVMF.fd',
    'cvm-measure measure tdx --firmware OVMF.fd --platform platform.json',
  ]);
}
