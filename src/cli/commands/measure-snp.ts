import type { Command } from 'commander';
import { InputError, UsageError } from '../../errors.js';
import { examples, group, jsonOption, repeatable } from '../command.js';
import { stat } from 'node:fs/promises';
import { DEFAULT_MODE, DEFAULT_VMM } from '../../measure/snp/launch.js';
import { snpMeasurement, snpSeedMeasurement, type SnpMeasurementInputs } from '../../measure/snp/report.js';
import { fromHex } from '../../util/bytes.js';
import { readInput } from '../../util/fs.js';
import { parseBigInt, parseChoice, parseCountList, parseInteger } from '../options.js';
import { noteDefaults, printJson, printLine, warn } from '../output.js';

interface Opts {
  firmware: string;
  mode?: string;
  vcpus?: string;
  vcpuType?: string;
  vcpuSig?: string;
  vcpuFamily?: string;
  vcpuModel?: string;
  vcpuStepping?: string;
  vmm?: string;
  guestFeatures?: string;
  policy?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  svsm?: string;
  varsSize?: string;
  varsFile?: string;
  seed?: string;
  printSeed?: boolean;
  quirk?: string[];
  outputFormat: string;
  json?: boolean;
}

export function registerMeasureSnp(program: Command): void {
  const cmd = group(program, 'measure')
    .command('snp')
    .description('SEV / SEV-ES / SEV-SNP launch digest of an OVMF guest (semantics of virtee/sev-snp-measure 0.0.13)')
    .requiredOption('--firmware <file>', 'OVMF image (e.g. OVMF.fd, AmdSevX64 OVMF.fd, OVMF_CODE.fd)')
    .option('--mode <mode>', 'snp, sev-es or sev (default snp, noted)')
    .option('--vcpus <list>', 'vCPU counts: 1 | 1,2,4 | 1-64 | 1-8,16,32 (all computed in one pass; required but for --mode sev: the digest differs per count)')
    .option('--vcpu-type <name>', 'QEMU CPU model (EPYC, EPYC-v4, EPYC-Rome, EPYC-Milan, EPYC-Genoa, EPYC-Turin, ...)')
    .option('--vcpu-sig <value>', 'vCPU signature (CPUID Fn0000_0001_EAX), e.g. 0xa00f11')
    .option('--vcpu-family <n>', 'vCPU family (with --vcpu-model and --vcpu-stepping)')
    .option('--vcpu-model <n>', 'vCPU model')
    .option('--vcpu-stepping <n>', 'vCPU stepping')
    .option('--vmm <vmm>', 'qemu, ec2 or gce, case-insensitive (default qemu, noted)')
    .option('--guest-features <value>', 'SEV_FEATURES of SNP VMSAs (default 0x1, noted)')
    .option('--policy <value>', 'guest policy the launch must use (not in the digest; signed by manifest create as POLICY)')
    .option('--kernel <file>', 'measured direct boot: kernel (needs an AmdSev OVMF with a kernel-hashes page)')
    .option('--initrd <file>', 'measured direct boot: initrd (with --kernel)')
    .option('--append <cmdline>', 'measured direct boot: kernel command line (with --kernel)')
    .option('--svsm <file>', 'coconut-svsm flat binary loaded below OVMF (qemu only; with --vars-size or --vars-file)')
    .option('--vars-size <bytes>', 'size of the OVMF_VARS flash between SVSM and OVMF')
    .option('--vars-file <file>', 'OVMF_VARS file whose size to use')
    .option('--seed <hex>', 'start from a precomputed firmware digest (from --print-seed): skip hashing the firmware pages')
    .option('--print-seed', 'print the SNP digest after the firmware pages only (sev-snp-measure --mode snp:ovmf-hash)')
    .addOption(
      repeatable(program, '--quirk <name=value>', 'version-dependent VMM behaviour: ec2-rdx=0x600|0, qemu-fpu=sev-init2|sev-init, vmsa-gpa-bits=48|52'),
    )
    .addOption(program.createOption('--output-format <format>', 'digest encoding in text output').choices(['hex', 'base64']).default('hex'))
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      await run(opts);
    });
  examples(cmd, [
    'cvm-measure measure snp --firmware OVMF.fd --vcpu-type EPYC-Milan --vcpus 4',
    'cvm-measure measure snp --firmware OVMF.fd --vcpu-type EPYC-Genoa --vcpus 1-64 --json',
    'cvm-measure measure snp --firmware OVMF.fd --vmm ec2 --vcpus 2 --quirk ec2-rdx=0',
    'cvm-measure measure snp --firmware AmdSev-OVMF.fd --vcpu-sig 0xa00f11 --vcpus 2 --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"',
    'cvm-measure measure snp --firmware OVMF.fd --print-seed',
    'cvm-measure measure snp --firmware OVMF.fd --mode sev-es --vcpu-type EPYC-v4 --vcpus 2',
  ]);
}

/** Flag-level checks (exit 2) that need no file. */
function checkUsage(o: Opts, mode: string, vmm: string): void {
  if (o.initrd !== undefined && o.kernel === undefined) throw new UsageError('--initrd requires --kernel');
  if (o.append !== undefined && o.kernel === undefined) throw new UsageError('--append requires --kernel');
  const fms = [o.vcpuFamily, o.vcpuModel, o.vcpuStepping].filter((x) => x !== undefined).length;
  if (fms !== 0 && fms !== 3) throw new UsageError('--vcpu-family, --vcpu-model and --vcpu-stepping go together');
  const given = [o.vcpuType, o.vcpuSig, fms ? 'fms' : undefined].filter((x) => x !== undefined).length;
  if (given > 1) throw new UsageError('give only one of --vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping');
  if (given === 0 && vmm === 'qemu' && mode !== 'sev' && !o.printSeed) {
    throw new UsageError(`missing --vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping: QEMU ${mode} VMSAs carry the vCPU signature`);
  }
  if (o.svsm !== undefined && (o.varsSize === undefined) === (o.varsFile === undefined))
    throw new UsageError('--svsm needs exactly one of --vars-size or --vars-file');
  if (o.svsm === undefined && (o.varsSize !== undefined || o.varsFile !== undefined)) throw new UsageError('--vars-size/--vars-file apply only with --svsm');
  if (o.printSeed && o.seed !== undefined) throw new UsageError('--print-seed computes the seed; drop --seed');
  if (o.printSeed && mode !== 'snp') throw new UsageError(`--print-seed applies to --mode snp, not ${mode}`);
  // SEV-ES and SNP digests differ per vCPU count (one VMSA each): no default, as sev-snp-measure; SEV has no VMSAs
  if (o.vcpus === undefined && mode !== 'sev' && !o.printSeed)
    throw new UsageError('missing --vcpus: the digest differs per vCPU count (e.g. --vcpus 2 or --vcpus 1,2,4)');
}

const QUIRKS = {
  'ec2-rdx': (v: string) => ({ ec2Rdx: parseInteger('--quirk ec2-rdx', v, 0, 0xffffffff) }),
  'qemu-fpu': (v: string) => ({ qemuFpu: parseChoice('--quirk qemu-fpu', v, ['sev-init2', 'sev-init'] as const) }),
  'vmsa-gpa-bits': (v: string) => ({ vmsaGpaBits: Number(parseChoice('--quirk vmsa-gpa-bits', v, ['48', '52'] as const)) as 48 | 52 }),
} as const;

function parseQuirks(list: string[]) {
  let out = {};
  for (const q of list) {
    const m = /^([a-z0-9-]+)=(.*)$/.exec(q);
    const f = m && QUIRKS[m[1] as keyof typeof QUIRKS];
    if (!m || !f) throw new UsageError(`--quirk: expected NAME=VALUE with NAME one of ${Object.keys(QUIRKS).join(', ')}, got ${JSON.stringify(q)}`);
    out = { ...out, ...f(m[2]!) };
  }
  return out;
}

function vcpuSpec(o: Opts) {
  if (o.vcpuType !== undefined) return { type: o.vcpuType };
  if (o.vcpuSig !== undefined) return { signature: parseInteger('--vcpu-sig', o.vcpuSig, 0, 0xffffffff) };
  if (o.vcpuFamily !== undefined) {
    return {
      family: parseInteger('--vcpu-family', o.vcpuFamily, 0, 0xff + 0xf),
      model: parseInteger('--vcpu-model', o.vcpuModel!, 0, 0xff),
      stepping: parseInteger('--vcpu-stepping', o.vcpuStepping!, 0, 0xf),
    };
  }
  return undefined;
}

async function run(o: Opts): Promise<void> {
  const mode = o.mode === undefined ? undefined : parseChoice('--mode', o.mode, ['snp', 'sev-es', 'sev'] as const);
  const vmm = o.vmm === undefined ? undefined : parseChoice('--vmm', o.vmm, ['qemu', 'ec2', 'gce'] as const);
  checkUsage(o, mode ?? DEFAULT_MODE, vmm ?? DEFAULT_VMM);
  const vcpus = o.vcpus === undefined ? undefined : parseCountList('--vcpus', o.vcpus);
  const guestFeatures = o.guestFeatures === undefined ? undefined : parseBigInt('--guest-features', o.guestFeatures);
  const quirks = parseQuirks(o.quirk ?? []);
  const seed = o.seed === undefined ? undefined : fromHex(o.seed, '--seed', 48);
  const file = async (name: string, what: string) => ({ name, bytes: await readInput(name, what) });

  const firmware = await file(o.firmware, 'firmware');
  let svsm: SnpMeasurementInputs['svsm'];
  if (o.svsm !== undefined) {
    const varsSize =
      o.varsFile === undefined
        ? parseInteger('--vars-size', o.varsSize!)
        : (
            await stat(o.varsFile).catch((e: NodeJS.ErrnoException) => {
              throw new InputError(`cannot read --vars-file ${o.varsFile}: ${e.code ?? String(e)}`);
            })
          ).size;
    svsm = { ...(await file(o.svsm, 'SVSM image')), varsSize };
  }
  const encode = (hex: string) => (o.outputFormat === 'base64' ? Buffer.from(hex, 'hex').toString('base64') : hex);

  if (o.printSeed) {
    const r = snpSeedMeasurement({ firmware, svsm });
    return o.json ? printJson(r) : printLine(encode(r.seed));
  }
  const kernel = o.kernel === undefined ? undefined : await file(o.kernel, 'kernel');
  const initrd = o.initrd === undefined ? undefined : await file(o.initrd, 'initrd');
  const inputs = { firmware, svsm, kernel, initrd, cmdline: o.append };
  const policy = o.policy === undefined ? undefined : parseBigInt('--policy', o.policy);
  const r = snpMeasurement(inputs, { mode, vcpus, vcpu: vcpuSpec(o), vmm, guestFeatures, seed, quirks, ...(policy === undefined ? {} : { policy }) });
  for (const w of r.warnings) warn(w);
  noteDefaults(r.defaults);
  if (o.json) return printJson(r);
  const digests = Object.entries(r.digests);
  printLine(digests.length === 1 ? encode(digests[0]![1]) : digests.map(([n, d]) => `${n} ${encode(d)}`).join('\n'));
}
