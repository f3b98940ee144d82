import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice } from '../options.js';
import { readInput } from '../../util/fs.js';
import { InputError, VerificationError } from '../../errors.js';
import { parseEventLog } from '../../formats/tcg-eventlog.js';
import { diffEventLog, type EventlogDiff, type ExpectedEvent } from '../../measure/tpm/eventlog-diff.js';
import { findPlatform, ovmfPcr0Model, platformDifference, type QemuPlatform } from '../../measure/boot/platform.js';
import { printJson, printLine, withDetails } from '../output.js';
import { diffRtmr0 } from '../../measure/tdx/rtmr0-diff.js';
import type { Rtmr0Json } from '../../measure/tdx/report.js';
import { eventLogReport } from '../../verify/replay.js';
import type { HashAlg } from '../../tcg/index.js';
import { toHex } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';

interface Opts {
  expected: string;
  ccelTable?: string;
  ccel?: boolean;
  bank?: string;
  json?: boolean;
  firmware?: string;
}

export function registerEventlogDiff(program: Command): void {
  const cmd = group(program, 'eventlog')
    .command('diff')
    .description(
      'compare a real TPM event log with a `measure pcr --json` prediction and name the first event where they part; or a TDX CCEL log with the modelled RTMR0 of `measure tdx --platform --json`, event by event',
    )
    .argument('<log>', 'TCG2 event log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements, or a CCEL log with --ccel-table/--ccel)')
    .requiredOption('--expected <file>', 'output of `cvm-measure measure pcr --json` (or `measure tdx --platform --json` for a CCEL log)')
    .option('--ccel-table <file>', 'ACPI CCEL table: LOG is a TDX CCEL log of LAML bytes, compared with the RTMR0 of a `measure tdx` prediction')
    .option('--ccel', 'LOG is a TDX CCEL log (without its table)')
    .option('--firmware <file>', 'the OVMF image of the prediction: name the VM setting (vCPUs, maxcpus, machine, memory) behind a differing PEI blob in PCR0')
    .option('--bank <alg>', 'bank to compare: sha1, sha256 or sha384 (default: sha256 if both have it)')
    .addOption(jsonOption(program))
    .action(async (path: string, opts: Opts) => {
      const log = parseEventLog(await readInput(path, 'event log'));
      let expected: {
        kind?: string;
        rtmr0?: Rtmr0Json;
        pcrs?: Record<string, Record<string, string>>;
        events?: ExpectedEvent[];
        boot?: { platform?: QemuPlatform & { ovmf?: { sha256?: string } } };
      };
      try {
        expected = JSON.parse((await readInput(opts.expected, 'prediction')).toString('utf8')) as typeof expected;
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`${opts.expected}: not JSON (${(e as Error).message.split('\n')[0]})`);
      }
      if (opts.ccel || opts.ccelTable) return diffCcel(path, opts, expected);
      if (expected.kind !== 'pcr' || !expected.pcrs || !Array.isArray(expected.events))
        throw new InputError(`${opts.expected}: not the --json output of \`measure pcr\` (needs kind "pcr", pcrs and events)`);
      const banks = Object.keys(expected.pcrs).filter((b) => (log.algorithms as string[]).includes(b));
      const alg = opts.bank
        ? parseChoice('--bank', opts.bank, ['sha1', 'sha256', 'sha384'] as const)
        : ((banks.includes('sha256') ? 'sha256' : banks[0]) as HashAlg | undefined);
      if (!alg || !banks.includes(alg))
        throw new InputError(`no common bank: the log has ${log.algorithms.join(', ')}, the prediction ${Object.keys(expected.pcrs).join(', ')}`);
      const pcrs = Object.keys(expected.pcrs[alg]!).map(Number);
      const diff = diffEventLog(log.events, expected.events, pcrs, alg);
      await explainPei(diff, expected.boot?.platform, opts.firmware);
      const out = { kind: 'pcr', log: path, ...diff };
      if (diff.match) return opts.json ? printJson(out) : printLine(`${path}: every predicted PCR (${pcrs.join(', ')}) matches event for event (${alg})`);
      const d = diff.firstDivergence!;
      const other = Object.entries(diff.pcrs)
        .filter(([, v]) => !v.match)
        .map(([k]) => `PCR${k}`);
      if (!opts.json) {
        printLine(`${path}: leaves the prediction at log event #${d.logIndex} (PCR${d.pcr}, event ${d.position + 1} of that PCR, ${alg}):`);
        printLine(`  expected: ${d.expected ? `${d.expected.component} ${d.expected.type} ${d.expected.digest}` : '(no further event)'}`);
        printLine(
          `  actual:   ${d.actual ? `${d.actual.type} ${d.actual.digest}${d.actual.data ? ` ${JSON.stringify(d.actual.data)}` : ''}` : '(no further event)'}`,
        );
        if (d.explanation) printLine(`  what differs: ${d.explanation}`);
        printLine(`  differing: ${other.join(', ')}`);
      }
      throw withDetails(new VerificationError(`${path}: differs from the prediction in ${other.join(', ')} from log event #${d.logIndex} on (${alg})`), out);
    });
  examples(cmd, [
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --json > expected.json && cvm-measure eventlog diff binary_bios_measurements --expected expected.json',
    'cvm-measure eventlog diff eventlog.bin --expected expected.json --bank sha384 --json',
    'cvm-measure eventlog diff eventlog.bin --expected expected.json --firmware OVMF_CODE_4M.fd',
    'cvm-measure measure tdx --firmware OVMF.fd --platform platform.json --json > td.json && cvm-measure eventlog diff CCEL --ccel-table CCEL.table --expected td.json',
  ]);
}

/** A CCEL log against the modelled RTMR0 of `measure tdx --platform --json`: every RTMR0 event, matched or explained. */
async function diffCcel(path: string, opts: Opts, expected: { kind?: string; rtmr0?: Rtmr0Json }): Promise<void> {
  const r0 = expected.rtmr0;
  if (expected.kind !== 'tdx' || !r0?.computed || !Array.isArray(r0.events))
    throw new InputError(`${opts.expected}: not the --json output of \`measure tdx --platform\` (needs kind "tdx" and a computed rtmr0 with events)`);
  const ccelTable = opts.ccelTable ? await readInput(opts.ccelTable, 'CCEL table') : undefined;
  const bytes = await readInput(path, 'event log');
  // eventLogReport checks the table (TDX, LAML) and the log; the diff needs the parsed events themselves.
  const { report } = eventLogReport(bytes, path, { ...(ccelTable ? { ccelTable } : {}), ccel: true });
  const log = parseEventLog(bytes.subarray(0, report.log.length));
  const diff = diffRtmr0(log.events, r0.events);
  const out = { kind: 'tdx', log: path, register: 'rtmr0', status: r0.status, ...diff };
  if (!opts.json) {
    printLine(`${path}: RTMR0 ${diff.matched} of ${diff.events.length} events match the model (${r0.status})`);
    for (const e of diff.events) {
      const what = e.expected ? `${e.expected.component} (${e.expected.type})` : `(not predicted) ${e.actual!.type}`;
      printLine(
        `  ${e.match ? '=' : '≠'} ${e.logIndex === undefined ? '   -' : `#${String(e.logIndex).padEnd(3)}`} ${what}${e.explanation ? `: ${e.explanation}` : ''}`,
      );
    }
  }
  if (diff.match) return opts.json ? printJson(out) : undefined;
  throw withDetails(
    new VerificationError(`${path}: RTMR0 differs from the model in ${diff.events.length - diff.matched} of ${diff.events.length} events`),
    out,
  );
}

/** PCR0's PEI blob differs: search the VM configuration whose PEI platform data gives the logged digest. */
async function explainPei(
  diff: EventlogDiff,
  predicted: (QemuPlatform & { ovmf?: { sha256?: string } }) | undefined,
  firmware: string | undefined,
): Promise<void> {
  const d = diff.pcrs['0']?.divergence;
  if (!d?.expected?.component.startsWith('PEI firmware volume') || d.actual?.type !== 'EV_EFI_PLATFORM_FIRMWARE_BLOB') return;
  if (!firmware || !predicted) {
    d.explanation = 'PEI platform data (vCPUs, maxcpus, machine type or memory) or the firmware build: give --firmware to name the setting';
  } else {
    const bytes = await readInput(firmware, 'OVMF image');
    if (predicted.ovmf?.sha256 && toHex(digest('sha256', bytes)) !== predicted.ovmf.sha256)
      throw new InputError(`--firmware ${firmware} is not the image the prediction was made for (sha256 ${predicted.ovmf.sha256})`);
    const found = findPlatform(ovmfPcr0Model(bytes), predicted, diff.alg, d.actual.digest);
    d.explanation = found
      ? `PEI platform data: ${platformDifference(found, predicted)}`
      : 'PEI platform data: no configuration tried (vCPUs and maxcpus up to 64, q35/pc, common memory sizes) gives the logged PEI volume: another firmware build or VM setting';
  }
}
