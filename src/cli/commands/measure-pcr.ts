import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice, parseInteger } from '../options.js';
import { InputError, UsageError } from '../../errors.js';
import { readInput } from '../../util/fs.js';
import { pcrMeasurement } from '../../measure/tpm/report.js';
import { x509IssuedBy as issuedBy } from '../../sign/x509.js';
import { printJson, printLine } from '../output.js';
import { open } from 'node:fs/promises';

interface Opts {
  boot: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem: string;
  machine: string;
  unpatchedKernel?: boolean;
  uki?: string;
  /** false: --no-disk. */
  disk?: string | false;
  gpt?: string;
  vars?: string;
  stubVersion?: string;
  banks: string;
  json?: boolean;
}

/** Bytes read from the start of --disk: enough for LBA 0-33 with 4096-byte sectors. */
const DISK_HEAD = 34 * 4096;

export function registerMeasurePcr(program: Command): void {
  const cmd = group(program, 'measure')
    .command('pcr')
    .description('predict vTPM PCRs (OVMF + QEMU) for a direct kernel boot or a UKI on a GPT disk, in every bank')
    .addOption(
      program.createOption('--boot <shape>', 'boot shape: direct (QEMU -kernel/-initrd/-append) or uki (UKI as the ESP boot option)').makeOptionMandatory(),
    )
    .option('--kernel <file>', 'direct: bzImage passed with QEMU -kernel')
    .option('--initrd <file>', 'direct: initrd passed with QEMU -initrd')
    .option('--append <cmdline>', 'direct: kernel command line (QEMU -append)')
    .option('--mem <MiB>', 'direct: guest RAM (QEMU -m; QEMU writes the initrd address derived from it into the setup header)', '128')
    .option('--machine <type>', 'direct: QEMU machine type q35 or pc (low-RAM split)', 'q35')
    .option('--unpatched-kernel', 'direct: the firmware measures the kernel file as is (SEV/SNP/TDX guests, where QEMU skips the setup-header patch)')
    .option('--uki <file>', 'uki: the unified kernel image')
    .option('--disk <img>', 'uki: raw disk image holding the ESP (its GPT is measured into PCR5)')
    .option('--gpt <file>', 'uki: the first LBAs of the disk (protective MBR, GPT header and entries) instead of --disk')
    .option('--no-disk', 'uki: the UKI boots from a medium without a GPT (no PCR5 GPT event); one of --disk, --gpt, --no-disk is required')
    .option('--vars <file>', 'OVMF VARS firmware volume (e.g. OVMF_VARS_4M.fd): Secure Boot state and PK/KEK/db/dbx for PCR7; default: an empty store')
    .option('--stub-version <n>', 'uki: systemd-stub major version (default: read from the UKI .sdmagic section)')
    .option('--banks <list>', 'PCR banks, comma-separated: sha1,sha256,sha384', 'sha1,sha256,sha384')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      const shape = parseChoice('--boot', opts.boot, ['direct', 'uki'] as const);
      const banks = opts.banks.split(',').map((b) => parseChoice('--banks', b.trim(), ['sha1', 'sha256', 'sha384'] as const));
      const machine = parseChoice('--machine', opts.machine, ['q35', 'pc'] as const);
      const memMiB = parseInteger('--mem', opts.mem, 1, 16 << 20);
      const stubVersion = opts.stubVersion === undefined ? undefined : parseInteger('--stub-version', opts.stubVersion, 200, 999);
      const wrong = (flags: (keyof Opts)[], other: string) => {
        const f = flags.find((k) => opts[k] !== undefined);
        if (f)
          throw new UsageError(
            `--${opts[f] === false ? 'no-' : ''}${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to --boot ${shape} (it belongs to --boot ${other})`,
          );
      };
      if (shape === 'direct') {
        wrong(['uki', 'disk', 'gpt', 'stubVersion'], 'uki');
        if (!opts.kernel) throw new UsageError('--boot direct needs --kernel');
      } else {
        wrong(['kernel', 'initrd', 'append', 'unpatchedKernel'], 'direct');
        if (!opts.uki) throw new UsageError('--boot uki needs --uki');
        // PCR5 holds the GPT of the disk the UKI boots from: never assume there is none
        const media = (['disk', 'gpt'] as const).filter((k) => opts[k] !== undefined).length;
        if (media !== 1)
          throw new UsageError(
            `--boot uki needs exactly one of --disk IMG, --gpt FILE (the disk holding the ESP, measured into PCR5) or --no-disk (a medium without a GPT)${media > 1 ? ', not several' : ''}`,
          );
      }
      const file = async (name: string, what: string) => ({ name, bytes: await readInput(name, what) });
      const vars = opts.vars ? await file(opts.vars, 'VARS firmware volume') : undefined;
      const out =
        shape === 'direct'
          ? pcrMeasurement(
              {
                shape,
                vars,
                kernel: await file(opts.kernel!, 'kernel'),
                initrd: opts.initrd ? await file(opts.initrd, 'initrd') : undefined,
                cmdline: opts.append,
              },
              { banks, memMiB, machine, patchSetupHeader: !opts.unpatchedKernel, issuedBy },
            )
          : pcrMeasurement(
              {
                shape,
                vars,
                uki: await file(opts.uki!, 'UKI'),
                gpt: opts.disk ? await readHead(opts.disk, DISK_HEAD) : opts.gpt ? await readInput(opts.gpt, 'GPT') : null,
              },
              { banks, stubVersion, issuedBy },
            );
      if (opts.json) return printJson(out);
      for (const [alg, regs] of Object.entries(out.pcrs)) for (const [i, v] of Object.entries(regs)) printLine(`${alg.padEnd(6)} PCR${i.padEnd(2)} ${v}`);
      for (const [i, why] of Object.entries(out.notPredicted)) printLine(`not predicted PCR${i}: ${why}`);
      if (out.boot.gpt === null) printLine('PCR5 without a GPT event (--no-disk): booted from a GPT disk, the same UKI gives another PCR5');
    });
  examples(cmd, [
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --initrd initrd.cpio --append "console=ttyS0" --mem 1024',
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --vars OVMF_VARS_4M.ms.fd --json',
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --mem 2048 --unpatched-kernel --banks sha384',
  ]);
}

/** The first `n` bytes of a (possibly huge) disk image. */
async function readHead(path: string, n: number): Promise<Buffer> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new InputError(`cannot read disk image ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
