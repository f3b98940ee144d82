import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice, parseCountList, parseInteger } from '../options.js';
import { InputError, UsageError } from '../../errors.js';
import { readInput } from '../../util/fs.js';
import { pcr0Matrix, pcrMeasurement } from '../../measure/tpm/report.js';
import { ovmfPcr0Model, type PciAddress } from '../../measure/boot/index.js';
import { digest } from '../../util/hash.js';
import { toHex } from '../../util/bytes.js';
import { x509IssuedBy as issuedBy } from '../../sign/x509.js';
import { noteDefaults, printJson, printLine } from '../output.js';
import { open } from 'node:fs/promises';

interface Opts {
  boot: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem?: string;
  machine?: string;
  unpatchedKernel?: boolean;
  uki?: string;
  /** false: --no-disk. */
  disk?: string | false;
  gpt?: string;
  vars?: string;
  stubVersion?: string;
  banks: string;
  json?: boolean;
  firmware?: string;
  smp?: string;
  diskPci?: string;
  vcpus?: string;
  maxVcpus?: string;
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
    .option('--mem <MiB>', 'guest RAM (QEMU -m): direct boot setup header; with --firmware PCR0 (a list with --vcpus) (default 128, noted)')
    .option('--machine <type>', 'QEMU machine type q35 or pc (low-RAM split; with --firmware the host bridge in PCR0) (default q35, noted)')
    .option('--unpatched-kernel', 'direct: the firmware measures the kernel file as is (SEV/SNP/TDX guests, where QEMU skips the setup-header patch)')
    .option('--uki <file>', 'uki: the unified kernel image')
    .option('--disk <img>', 'uki: raw disk image holding the ESP (its GPT is measured into PCR5)')
    .option('--gpt <file>', 'uki: the first LBAs of the disk (protective MBR, GPT header and entries) instead of --disk')
    .option('--no-disk', 'uki: the UKI boots from a medium without a GPT (no PCR5 GPT event); one of --disk, --gpt, --no-disk is required')
    .option('--vars <file>', 'OVMF VARS firmware volume (e.g. OVMF_VARS_4M.fd): Secure Boot state and PK/KEK/db/dbx for PCR7; default: an empty store')
    .option('--firmware <file>', 'OVMF code image (OVMF_CODE*.fd or OVMF.fd): also predict PCR0 (firmware volumes) and PCR1 (boot variables)')
    .option('--smp <N[,maxcpus=M]>', 'with --firmware: QEMU -smp (vCPUs at boot, maximum vCPUs) (default 1, noted)')
    .option('--disk-pci <slot[.fn]>', 'with --firmware, uki: PCI slot (hex) of the virtio-blk boot disk (default: first free slot, q35 1, pc 2)')
    .option('--vcpus <list>', 'with --firmware: PCR0 matrix over vCPU counts (1-8,16); with --max-vcpus and a --mem list, one pass')
    .option('--max-vcpus <list>', 'with --vcpus: maxcpus values of the PCR0 matrix (default: maxcpus = vCPUs)')
    .option('--stub-version <n>', 'uki: systemd-stub major version (default: read from the UKI .sdmagic section)')
    .option('--banks <list>', 'PCR banks, comma-separated: sha1,sha256,sha384', 'sha1,sha256,sha384')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      const shape = parseChoice('--boot', opts.boot, ['direct', 'uki'] as const);
      const banks = opts.banks.split(',').map((b) => parseChoice('--banks', b.trim(), ['sha1', 'sha256', 'sha384'] as const));
      const machine = opts.machine === undefined ? undefined : parseChoice('--machine', opts.machine, ['q35', 'pc'] as const);
      const mems = opts.mem === undefined ? undefined : parseCountList('--mem', opts.mem, 16 << 20);
      const ovmf = opts.firmware ? await loadOvmf(opts.firmware) : undefined;
      if (opts.vcpus !== undefined) {
        if (!ovmf) throw new UsageError('--vcpus (the PCR0 matrix) needs --firmware');
        const defaults = { ...(machine ? {} : { machine: 'q35' }), ...(mems ? {} : { memMiB: 128 }) };
        noteDefaults(defaults);
        const matrix = pcr0Matrix(
          ovmf.model,
          {
            machines: [machine ?? 'q35'],
            memMiB: mems ?? [128],
            cpus: parseCountList('--vcpus', opts.vcpus, 4096),
            maxCpus: opts.maxVcpus ? parseCountList('--max-vcpus', opts.maxVcpus, 4096) : [],
          },
          banks,
        );
        if (opts.json)
          return printJson({ kind: 'pcr0-matrix', origin: 'predicted', ovmf: { name: ovmf.name, sha256: ovmf.sha256 }, alternatives: matrix, defaults });
        for (const m of matrix)
          for (const [alg, v] of Object.entries(m.pcr0))
            printLine(`${m.machine} -m ${m.memMiB} -smp ${m.cpus},maxcpus=${m.maxCpus} ${alg.padEnd(6)} PCR0 ${v}`);
        return;
      }
      if (opts.maxVcpus !== undefined) throw new UsageError('--max-vcpus belongs to the PCR0 matrix (--vcpus); use --smp N,maxcpus=M for one configuration');
      if (mems && mems.length !== 1) throw new UsageError('--mem takes one size outside the PCR0 matrix (--vcpus)');
      const memMiB = mems?.[0];
      const smp = opts.smp === undefined ? undefined : parseSmp(opts.smp);
      const diskPci = opts.diskPci === undefined ? undefined : parsePci(opts.diskPci);
      if (!ovmf && (opts.diskPci !== undefined || smp)) throw new UsageError('--smp and --disk-pci describe the VM for PCR0/PCR1: give --firmware too');
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
        // --mem and --machine shape a UKI's PCRs only through the platform (PCR0/PCR1) of --firmware
        wrong(['kernel', 'initrd', 'append', 'unpatchedKernel', ...(ovmf ? [] : (['mem', 'machine'] as const))], 'direct');
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
                ovmf,
                kernel: await file(opts.kernel!, 'kernel'),
                initrd: opts.initrd ? await file(opts.initrd, 'initrd') : undefined,
                cmdline: opts.append,
              },
              { banks, memMiB, machine, patchSetupHeader: !opts.unpatchedKernel, issuedBy, ...smp },
            )
          : pcrMeasurement(
              {
                shape,
                vars,
                ovmf,
                uki: await file(opts.uki!, 'UKI'),
                gpt: opts.disk ? await readHead(opts.disk, DISK_HEAD) : opts.gpt ? await readInput(opts.gpt, 'GPT') : null,
              },
              { banks, stubVersion, issuedBy, memMiB, machine, ...smp, ...(diskPci ? { diskPci } : {}) },
            );
      noteDefaults(out.defaults);
      if (opts.json) return printJson(out);
      for (const [alg, regs] of Object.entries(out.pcrs)) for (const [i, v] of Object.entries(regs)) printLine(`${alg.padEnd(6)} PCR${i.padEnd(2)} ${v}`);
      for (const [i, why] of Object.entries(out.notPredicted)) printLine(`not predicted PCR${i}: ${why}`);
      if (out.boot.gpt === null) printLine('PCR5 without a GPT event (--no-disk): booted from a GPT disk, the same UKI gives another PCR5');
    });
  examples(cmd, [
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --initrd initrd.cpio --append "console=ttyS0" --mem 1024',
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --vars OVMF_VARS_4M.ms.fd --json',
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --mem 2048 --unpatched-kernel --banks sha384',
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --firmware OVMF_CODE_4M.fd --smp 4,maxcpus=8 --mem 2048',
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --firmware OVMF_CODE_4M.fd --vcpus 1-16 --max-vcpus 16,64 --mem 1024,2048,4096 --json',
  ]);
}

/** Reads, decompresses and locates the PCR0 model of an OVMF image (decompression takes about a second). */
async function loadOvmf(name: string) {
  const bytes = await readInput(name, 'OVMF image');
  return { name, sha256: toHex(digest('sha256', bytes)), model: ovmfPcr0Model(bytes) };
}

/** QEMU -smp syntax subset: N, or N,maxcpus=M. */
function parseSmp(v: string): { cpus: number; maxCpus: number } {
  const m = /^(\d+)(?:,maxcpus=(\d+))?$/.exec(v.trim());
  if (!m) throw new UsageError(`--smp: ${JSON.stringify(v)} is not N or N,maxcpus=M`);
  const cpus = parseInteger('--smp', m[1]!, 1, 4096);
  const maxCpus = m[2] === undefined ? cpus : parseInteger('--smp maxcpus', m[2], cpus, 4096);
  return { cpus, maxCpus };
}

/** QEMU addr=SLOT[.FN] (hex slot 0-1f, function 0-7). */
function parsePci(v: string): PciAddress {
  const m = /^(?:0x)?([0-9a-f]{1,2})(?:\.([0-7]))?$/i.exec(v.trim());
  const slot = m ? parseInt(m[1]!, 16) : NaN;
  if (!m || slot > 0x1f) throw new UsageError(`--disk-pci: ${JSON.stringify(v)} is not a PCI slot[.function] (hex slot 0-1f, function 0-7)`);
  return { slot, function: m[2] === undefined ? 0 : Number(m[2]) };
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
