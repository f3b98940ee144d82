import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseInteger } from '../options.js';
import { buildUkiFile } from '../../build/uki-file.js';
import { printJson, printLine } from '../output.js';

interface Opts {
  stub: string;
  linux: string;
  initrd?: string;
  cmdline?: string;
  osrel?: string;
  uname?: string;
  sourceDateEpoch?: string;
  out: string;
  json?: boolean;
}

export function registerUkiBuild(program: Command): void {
  const cmd = group(program, 'uki')
    .command('build')
    .description('build a unified kernel image deterministically (ukify layout, fixed TimeDateStamp): same inputs, same bytes')
    .requiredOption('--stub <file>', 'systemd-stub PE (e.g. /usr/lib/systemd/boot/efi/linuxx64.efi.stub)')
    .requiredOption('--linux <file>', 'kernel (bzImage) for the .linux section')
    .option('--initrd <file>', 'initrd for the .initrd section')
    .option('--cmdline <str>', 'kernel command line for the .cmdline section')
    .option('--osrel <file>', 'os-release file for the .osrel section')
    .option('--uname <str>', 'kernel release for the .uname section')
    .option('--source-date-epoch <s>', 'COFF TimeDateStamp (default $SOURCE_DATE_EPOCH or 0)')
    .requiredOption('--out <file>', 'output UKI (written atomically)')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      const epochText = opts.sourceDateEpoch ?? process.env.SOURCE_DATE_EPOCH ?? '0';
      const timeDateStamp = parseInteger(opts.sourceDateEpoch ? '--source-date-epoch' : 'SOURCE_DATE_EPOCH', epochText, 0, 0xffffffff);
      const { stub, linux, initrd, cmdline, osrel, uname, out: file } = opts;
      const out = await buildUkiFile({ stub, linux, initrd, cmdline, osrel, uname, timeDateStamp, out: file });
      if (opts.json) return printJson(out);
      printLine(`${opts.out}: ${out.size} bytes, sha256 ${out.sha256} (sections ${out.sections.join(' ')})`);
    });
  examples(cmd, [
    'cvm-measure uki build --stub /usr/lib/systemd/boot/efi/linuxx64.efi.stub --linux vmlinuz --initrd initrd.cpio --cmdline "console=ttyS0" --out uki.efi',
    'SOURCE_DATE_EPOCH=1700000000 cvm-measure uki build --stub linuxx64.efi.stub --linux vmlinuz --osrel os-release --uname 6.1.0-56-amd64 --out uki.efi --json',
  ]);
}
