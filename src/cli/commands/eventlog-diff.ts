import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseChoice } from '../options.js';
import { readInput } from '../../util/fs.js';
import { InputError, VerificationError } from '../../errors.js';
import { parseEventLog } from '../../formats/tcg-eventlog.js';
import { diffEventLog, type ExpectedEvent } from '../../measure/tpm/eventlog-diff.js';
import { printJson, printLine, withDetails } from '../output.js';
import type { HashAlg } from '../../tcg/index.js';

interface Opts {
  expected: string;
  bank?: string;
  json?: boolean;
}

export function registerEventlogDiff(program: Command): void {
  const cmd = group(program, 'eventlog')
    .command('diff')
    .description('compare a real TPM event log with a `measure pcr --json` prediction and name the first event where they part')
    .argument('<log>', 'TCG2 event log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements)')
    .requiredOption('--expected <file>', 'output of `cvm-measure measure pcr --json`')
    .option('--bank <alg>', 'bank to compare: sha1, sha256 or sha384 (default: sha256 if both have it)')
    .addOption(jsonOption(program))
    .action(async (path: string, opts: Opts) => {
      const log = parseEventLog(await readInput(path, 'event log'));
      let expected: { kind?: string; pcrs?: Record<string, Record<string, string>>; events?: ExpectedEvent[] };
      try {
        expected = JSON.parse((await readInput(opts.expected, 'prediction')).toString('utf8')) as typeof expected;
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`${opts.expected}: not JSON (${(e as Error).message.split('\n')[0]})`);
      }
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
        printLine(`  differing: ${other.join(', ')}`);
      }
      throw withDetails(new VerificationError(`${path}: differs from the prediction in ${other.join(', ')} from log event #${d.logIndex} on (${alg})`), out);
    });
  examples(cmd, [
    'cvm-measure measure pcr --boot uki --uki uki.efi --disk disk.img --json > expected.json && cvm-measure eventlog diff binary_bios_measurements --expected expected.json',
    'cvm-measure eventlog diff eventlog.bin --expected expected.json --bank sha384 --json',
  ]);
}
