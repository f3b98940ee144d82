import { Option, type Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice, parseInteger } from '../options.js';

interface Opts {
  boot: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem: string;
  machine: string;
  unpatchedKernel?: boolean;
  uki?: string;
  disk?: string;
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
    .addOption(new Option('--boot <shape>', 'boot shape: direct (QEMU -kernel/-initrd/-append) or uki (UKI as the ESP boot option)').makeOptionMandatory())
    .option('--kernel <file>', 'direct: bzImage passed with QEMU -kernel')
    .option('--initrd <file>', 'direct: initrd passed with QEMU -initrd')
    .option('--append <cmdline>', 'direct: kernel command line (QEMU -append)')
    .option('--mem <MiB>', 'direct: guest RAM (QEMU -m; QEMU writes the initrd address derived from it into the setup header)', '128')
    .option('--machine <type>', 'direct: QEMU machine type q35 or pc (low-RAM split)', 'q35')
    .option('--unpatched-kernel', 'direct: the firmware measures the kernel file as is (SEV/SNP/TDX guests, where QEMU skips the setup-header patch)')
    .option('--uki <file>', 'uki: the unified kernel image')
    .option('--disk <img>', 'uki: raw disk image holding the ESP (its GPT is measured into PCR5)')
    .option('--gpt <file>', 'uki: the first LBAs of the disk (protective MBR, GPT header and entries) instead of --disk')
    .option('--vars <file>', 'OVMF VARS firmware volume (e.g. OVMF_VARS_4M.fd): Secure Boot state and PK/KEK/db/dbx for PCR7; default: an empty store')
    .option('--stub-version <n>', 'uki: systemd-stub major version (default: read from the UKI .sdmagic section)')
    .option('--banks <list>', 'PCR banks, comma-separated: sha1,sha256,sha384', 'sha1,sha256,sha384')
    .addOption(jsonOption())
    .action(async (opts: Opts) => {
      const { UsageError } = await import('../../errors.js');
      const shape = parseChoice('--boot', opts.boot, ['direct', 'uki'] as const);
      const banks = [...new Set(opts.banks.split(',').map((b) => parseChoice('--banks', b.trim(), ['sha1', 'sha256', 'sha384'] as const)))];
      const machine = parseChoice('--machine', opts.machine, ['q35', 'pc'] as const);
      const memMiB = parseInteger('--mem', opts.mem, 1, 16 << 20);
      const stubVersion = opts.stubVersion === undefined ? undefined : parseInteger('--stub-version', opts.stubVersion, 200, 999);
      const wrong = (flags: (keyof Opts)[], other: string) => {
        const f = flags.find((k) => opts[k] !== undefined);
        if (f) throw new UsageError(`--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to --boot ${shape} (it belongs to --boot ${other})`);
      };
      if (shape === 'direct') {
        wrong(['uki', 'disk', 'gpt', 'stubVersion'], 'uki');
        if (!opts.kernel) throw new UsageError('--boot direct needs --kernel');
      } else {
        wrong(['kernel', 'initrd', 'append', 'unpatchedKernel'], 'direct');
        if (!opts.uki) throw new UsageError('--boot uki needs --uki');
        if (opts.disk && opts.gpt) throw new UsageError('give --disk or --gpt, not both');
      }

      const { readInput } = await import('../../util/fs.js');
      const { createHash } = await import('node:crypto');
      const { bootEvents } = await import('../../measure/boot/index.js');
      const { pcrBanks, NOT_PREDICTED } = await import('../../measure/tpm/pcr.js');
      const { toHex } = await import('../../util/bytes.js');
      const file = (path: string, bytes: Uint8Array) => ({ path, size: bytes.length, digests: { sha256: createHash('sha256').update(bytes).digest('hex') } });

      let secureBoot: import('../../formats/efi-varstore.js').SecureBootVariables | undefined;
      let vars: Buffer | undefined;
      if (opts.vars) {
        const { parseVarStore, secureBootVariables } = await import('../../formats/efi-varstore.js');
        vars = await readInput(opts.vars, 'VARS firmware volume');
        secureBoot = secureBootVariables(parseVarStore(vars));
      }
      const firmware = secureBoot ? { secureBoot } : {};
      const { secureBootEnabled } = await import('../../measure/boot/firmware.js');
      const boot: Record<string, unknown> = { shape, secureBoot: secureBootEnabled(firmware), ...(opts.vars && vars ? { vars: file(opts.vars, vars) } : {}) };
      let events;
      if (shape === 'direct') {
        const kernel = await readInput(opts.kernel!, 'kernel');
        const initrd = opts.initrd ? await readInput(opts.initrd, 'initrd') : undefined;
        const qemu = { memMiB, machine, patchSetupHeader: !opts.unpatchedKernel };
        events = bootEvents({ shape, kernel, initrd, cmdline: opts.append ?? '', qemu }, { algs: banks, firmware });
        Object.assign(boot, { kernel: file(opts.kernel!, kernel), ...(opts.initrd && initrd ? { initrd: file(opts.initrd, initrd) } : {}), cmdline: opts.append ?? '', memMiB, machine, setupHeaderPatched: qemu.patchSetupHeader });
      } else {
        const uki = await readInput(opts.uki!, 'UKI');
        let gpt;
        if (opts.disk || opts.gpt) {
          const { parseGpt } = await import('../../formats/gpt.js');
          gpt = parseGpt(opts.disk ? await readHead(opts.disk, DISK_HEAD) : await readInput(opts.gpt!, 'GPT'));
          boot.gpt = { diskGuid: gpt.diskGuid, partitions: gpt.partitions.length };
        }
        const { parseUki } = await import('../../formats/uki.js');
        events = bootEvents({ shape, uki, ...(gpt ? { gpt } : {}), ...(stubVersion !== undefined ? { stubVersion } : {}) }, { algs: banks, firmware });
        boot.uki = { ...file(opts.uki!, uki), stubVersion: parseUki(uki).stubVersion ?? null };
      }
      const out = {
        kind: 'pcr',
        boot,
        pcrs: pcrBanks(events, banks),
        events: events.map((e) => ({
          pcr: e.pcr,
          type: e.type,
          component: e.component,
          digests: Object.fromEntries(Object.entries(e.digests).map(([a, d]) => [a, toHex(d)])),
          ...(e.eventData ? { eventData: toHex(e.eventData) } : {}),
        })),
        notPredicted: NOT_PREDICTED,
      };
      const { printJson, printLine } = await import('../output.js');
      if (opts.json) return printJson(out);
      for (const [alg, regs] of Object.entries(out.pcrs)) for (const [i, v] of Object.entries(regs)) printLine(`${alg.padEnd(6)} PCR${i.padEnd(2)} ${v}`);
      for (const [i, why] of Object.entries(NOT_PREDICTED)) printLine(`not predicted PCR${i}: ${why}`);
    });
  examples(cmd, [
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --initrd initrd.cpio --append "console=ttyS0" --mem 1024',
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --vars OVMF_VARS_4M.ms.fd --json',
    'cvm-measure measure pcr --boot direct --kernel vmlinuz --mem 2048 --unpatched-kernel --banks sha384',
  ]);
}

/** The first `n` bytes of a (possibly huge) disk image. */
async function readHead(path: string, n: number): Promise<Buffer> {
  const { open } = await import('node:fs/promises');
  const { InputError } = await import('../../errors.js');
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
