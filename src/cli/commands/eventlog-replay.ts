import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { readInput } from '../../util/fs.js';
import { parseEventLog, replayEventLog } from '../../formats/tcg-eventlog.js';
import { EV_NO_ACTION, registerName, REPLAY_ALGS } from '../../tcg/index.js';
import { printJson, printLine, warn } from '../output.js';
import { parseCcelTable, type CcelTable } from '../../formats/ccel.js';
import { InputError } from '../../errors.js';
import { groupByComponent } from '../../formats/eventlog-components.js';

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
      let bytes = await readInput(path, 'event log');
      let table: CcelTable | undefined;
      if (opts.ccelTable) {
        table = parseCcelTable(await readInput(opts.ccelTable, 'CCEL table'));
        if (table.ccTypeName !== 'TDX') {
          throw new InputError(`${opts.ccelTable}: CCEL table is for CC type ${table.ccTypeName}, not TDX`);
        }
        if (bytes.length > table.laml) bytes = bytes.subarray(0, table.laml);
      }
      const ccel = Boolean(opts.ccel || table);
      const log = parseEventLog(bytes);
      const map = ccel ? 'ccel' : 'pcr';
      const algs = REPLAY_ALGS.filter((a) => log.algorithms.includes(a));
      if (!ccel && algs.length === 1 && algs[0] === 'sha384' && log.length < bytes.length) {
        warn('this looks like a TDX CCEL log (SHA-384 only, padded area): pass --ccel or --ccel-table to replay RTMRs instead of PCRs');
      }
      const banks = Object.fromEntries(algs.map((a) => [a, replayEventLog(log.events, { alg: a, map })]));
      const reg = (i: number) => {
        if (!ccel) return `PCR${i}`;
        return i === 0 ? 'MRTD' : (registerName('ccel', i)?.toUpperCase() ?? `MR${i}`);
      };
      const events = log.events.map((e) => ({
        index: e.index,
        register: e.type === EV_NO_ACTION ? 'none' : reg(e.pcrIndex),
        type: e.typeName,
        digests: e.digests,
        dataSize: e.data.length,
        ...(e.decoded ? { data: e.decoded } : {}),
      }));
      const out: Record<string, unknown> = {
        kind: ccel ? 'tdx' : 'pcr',
        origin: 'observed',
        log: { path, format: log.format, algorithms: log.algorithms, events: log.events.length, length: log.length, ...(table ? { ccelTable: table } : {}) },
      };
      if (ccel) {
        const r = banks.sha384;
        if (!r) {
          throw new InputError(`${path}: a CCEL log must carry SHA-384 digests, this one has ${log.algorithms.join(', ')}`);
        }
        out.rtmr = Object.fromEntries([0, 1, 2, 3].map((i) => [String(i), r[`rtmr${i}`]]));
      } else {
        out.pcrs = banks;
      }
      out.events = events;
      let groups: { component: string; events: number[] }[] | undefined;
      if (opts.explain) {
        groups = groupByComponent(log.events);
        out.components = groups;
      }
      if (opts.json) return printJson(out);

      printLine(
        `${path}: ${log.format === 'tcg2' ? 'TCG2 crypto-agile' : 'legacy SHA-1'} log, ${log.events.length} events, banks ${log.algorithms.join(', ')}${ccel ? ' (CCEL: MR index 0 = MRTD, 1-4 = RTMR0-3)' : ''}`,
      );
      if (ccel) for (const [k, v] of Object.entries(out.rtmr as Record<string, string>)) printLine(`RTMR${k}: ${v}`);
      else for (const [alg, regs] of Object.entries(banks)) for (const [k, v] of Object.entries(regs)) printLine(`${alg} PCR${k.padEnd(2)}: ${v}`);
      const line = (e: (typeof events)[number]) => {
        const d = e.digests.sha384 ?? e.digests.sha256 ?? e.digests.sha1 ?? '';
        const data = e.data ? ` ${JSON.stringify(e.data)}` : '';
        return `  #${String(e.index).padEnd(3)} ${e.register.padEnd(6)} ${e.type.padEnd(34)} ${d.slice(0, 16)}…${data.length > 120 ? `${data.slice(0, 119)}…` : data}`;
      };
      if (groups) {
        for (const g of groups) {
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
