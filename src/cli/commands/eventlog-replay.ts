import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { readInput } from '../../util/fs.js';
import { printJson, printLine, warn } from '../output.js';
import { InputError } from '../../errors.js';
import { eventLogReport } from '../../verify/replay.js';

interface Opts {
  ccelTable?: string;
  ccel?: boolean;
  explain?: boolean;
  json?: boolean;
}

export function registerEventlogReplay(program: Command): void {
  const cmd = group(program, 'eventlog')
    .command('replay')
    .description('parse a TCG2 event log (TPM binary_bios_measurements or TDX CCEL), replay it and print the registers and events')
    .argument('<log>', 'event log file (e.g. /sys/kernel/security/tpm0/binary_bios_measurements or /sys/firmware/acpi/tables/data/CCEL)')
    .option('--ccel-table <file>', 'ACPI CCEL table (/sys/firmware/acpi/tables/CCEL): read LOG as a TDX CCEL log of LAML bytes')
    .option('--ccel', 'read LOG as a TDX CCEL log (event index = MR index: 0 MRTD, 1-4 RTMR0-3) without the table')
    .option('--explain', 'group events by component (firmware, variables, boot loader, kernel, cmdline, initrd)')
    .addOption(jsonOption(program))
    .action(async (path: string, opts: Opts) => {
      const bytes = await readInput(path, 'event log');
      const ccelTable = opts.ccelTable ? await readInput(opts.ccelTable, 'CCEL table') : undefined;
      let r: ReturnType<typeof eventLogReport>;
      try {
        r = eventLogReport(bytes, path, { ...(ccelTable ? { ccelTable } : {}), ccel: Boolean(opts.ccel), explain: Boolean(opts.explain) });
      } catch (e) {
        if (e instanceof InputError && e.message.startsWith('CCEL table')) e.message = `${opts.ccelTable}: ${e.message}`;
        throw e;
      }
      for (const w of r.warnings) warn(w);
      const { report: out } = r;
      const { log, events } = out;
      const ccel = out.kind === 'tdx';
      if (opts.json) return printJson(out);

      printLine(
        `${path}: ${log.format === 'tcg2' ? 'TCG2 crypto-agile' : 'legacy SHA-1'} log, ${log.events} events, banks ${log.algorithms.join(', ')}${ccel ? ' (CCEL: MR index 0 = MRTD, 1-4 = RTMR0-3)' : ''}`,
      );
      if (ccel) for (const [k, v] of Object.entries(out.rtmr!)) printLine(`RTMR${k}: ${v}`);
      else for (const [alg, regs] of Object.entries(out.pcrs!)) for (const [k, v] of Object.entries(regs)) printLine(`${alg} PCR${k.padEnd(2)}: ${v}`);
      const line = (e: (typeof events)[number]) => {
        const d = e.digests.sha384 ?? e.digests.sha256 ?? e.digests.sha1 ?? '';
        const data = e.data ? ` ${JSON.stringify(e.data)}` : '';
        return `  #${String(e.index).padEnd(3)} ${e.register.padEnd(6)} ${e.type.padEnd(34)} ${d.slice(0, 16)}…${data.length > 120 ? `${data.slice(0, 119)}…` : data}`;
      };
      if (out.components) {
        for (const g of out.components) {
          printLine(`${g.component}:`);
          for (const i of g.events) printLine(line(events[i]!));
        }
      } else {
        printLine('events:');
        for (const e of events) printLine(line(e));
      }
    });
  examples(cmd, [
    'cvm-measure eventlog replay /sys/kernel/security/tpm0/binary_bios_measurements',
    'cvm-measure eventlog replay /sys/firmware/acpi/tables/data/CCEL --ccel-table /sys/firmware/acpi/tables/CCEL --json',
    'cvm-measure eventlog replay ccel_data.dat --ccel --explain',
  ]);
}
