import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseInteger } from '../options.js';
import { InputError, UsageError } from '../../errors.js';
import { readInput } from '../../util/fs.js';
import { tdShimMeasurement } from '../../measure/tdx/report.js';
import { printJson, printLine } from '../output.js';
import type { TeeInfoManifest } from '../../measure/tdx/td-shim.js';

interface Opts {
  kernel?: string;
  kernelSize: string;
  param?: string;
  paramSize: string;
  shim?: string;
  teeInfo?: string;
  separator: string;
  json?: boolean;
}

export function registerMeasureTdShimPayload(program: Command): void {
  const cmd = group(program, 'measure')
    .command('td-shim-payload')
    .description('td-shim reference values: payload (bzImage) and kernel-parameter hashes, and the TEE_INFO hash of a td-shim image')
    .option('--kernel <file>', 'bzImage td-shim loads as its payload (boot protocol 2.06+)')
    .option('--kernel-size <n>', 'KERNEL_SIZE of the target td-shim (payload region the image is zero-padded to)', '0x2000000')
    .option('--param <cmdline>', 'kernel parameter string')
    .option('--param-size <n>', 'KERNEL_PARAM_SIZE of the target td-shim', '0x1000')
    .option('--shim <file>', 'td-shim image: adds its MRTD (single page order) and, with --tee-info, the TEE_INFO hash')
    .option('--tee-info <manifest.json>', 'td-shim-tee-info-hash manifest (attributes, xfam, mrconfigid, mrowner, mrownerconfig; hex)')
    .option('--separator <n>', 'separator td-shim extends into RTMR0/RTMR1 for the TEE_INFO hash', '0')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      if (!opts.kernel && opts.param === undefined && !opts.shim) throw new UsageError('give --kernel, --param and/or --shim');
      if (opts.teeInfo && !opts.shim) throw new UsageError('--tee-info needs --shim');
      const kernelSize = parseInteger('--kernel-size', opts.kernelSize, 1, 1 << 30);
      const paramSize = parseInteger('--param-size', opts.paramSize, 1, 1 << 30);
      const separator = parseInteger('--separator', opts.separator, 0, 0xffffffff);
      const file = async (name: string, what: string) => ({ name, bytes: await readInput(name, what) });
      const kernel = opts.kernel ? await file(opts.kernel, 'kernel') : undefined;
      const shim = opts.shim ? await file(opts.shim, 'td-shim image') : undefined;
      let teeInfo: TeeInfoManifest | undefined;
      if (opts.teeInfo) {
        try {
          teeInfo = JSON.parse((await readInput(opts.teeInfo, 'TEE_INFO manifest')).toString('utf8')) as typeof teeInfo;
        } catch (e) {
          if (e instanceof InputError) throw e;
          throw new InputError(`${opts.teeInfo}: not JSON (${(e as Error).message})`);
        }
        for (const k of ['attributes', 'xfam', 'mrconfigid', 'mrowner', 'mrownerconfig'] as const) {
          if (typeof teeInfo?.[k] !== 'string') throw new InputError(`${opts.teeInfo}: "${k}" must be a hex string`);
        }
      }
      const out = tdShimMeasurement({ kernel, param: opts.param, shim, teeInfo }, { kernelSize, paramSize, separator });
      if (opts.json) return printJson(out);
      if (out.payload) printLine(`payload: ${out.payload.sha384}`);
      if (out.param) printLine(`param:   ${out.param.sha384}`);
      if (out.shim) printLine(`MRTD:    ${out.shim.mrtd}`);
      if (out.teeInfoHash) printLine(`TEE_INFO hash: ${out.teeInfoHash}`);
    });
  examples(cmd, [
    'cvm-measure measure td-shim-payload --kernel bzImage --kernel-size 0x10000000',
    'cvm-measure measure td-shim-payload --param "root=/dev/vda1 console=hvc0 rw" --param-size 0x1000 --json',
    'cvm-measure measure td-shim-payload --shim final.bin --tee-info manifest.json',
  ]);
}
