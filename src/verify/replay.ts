/**
 * The `eventlog replay` report (schemas/eventlog-replay.schema.json): a TCG2 event log (TPM or TDX CCEL)
 * parsed and replayed — values read off evidence, so `origin: observed`, never signed as predictions.
 * Pure: bytes in, report out.
 */
import { InputError } from '../errors.js';
import { type CcelTable, parseCcelTable } from '../formats/ccel.js';
import { groupByComponent } from '../formats/eventlog-components.js';
import { type EventLog, parseEventLog, replayEventLog } from '../formats/tcg-eventlog.js';
import { EV_NO_ACTION, REPLAY_ALGS, registerName } from '../tcg/index.js';

export interface ReplayedEvent {
  index: number;
  register: string;
  type: string;
  digests: Record<string, string>;
  dataSize: number;
  data?: Record<string, unknown>;
}

export interface EventLogReport {
  kind: 'tdx' | 'pcr';
  origin: 'observed';
  log: { path: string; format: EventLog['format']; algorithms: string[]; events: number; length: number; ccelTable?: CcelTable };
  rtmr?: Record<string, string>;
  pcrs?: Record<string, Record<string, string>>;
  events: ReplayedEvent[];
  components?: { component: string; events: number[] }[];
}

export interface EventLogReportOptions {
  /** ACPI CCEL table bytes: read the log as a TDX CCEL log of LAML bytes. */
  ccelTable?: Uint8Array;
  /** Read the log as a TDX CCEL log (MR index 0 MRTD, 1–4 RTMR0–3) without the table. */
  ccel?: boolean;
  /** Group events by component (firmware, variables, boot loader, kernel, cmdline, initrd). */
  explain?: boolean;
}

/**
 * Parses and replays a log; `warnings` are for the caller to show.
 * @throws {FormatError} for a malformed log or table; {InputError} for a table of another CC type or a CCEL log without SHA-384.
 */
export function eventLogReport(bytes: Uint8Array, path: string, o: EventLogReportOptions = {}): { report: EventLogReport; warnings: string[] } {
  let logBytes = bytes;
  let table: CcelTable | undefined;
  if (o.ccelTable) {
    table = parseCcelTable(o.ccelTable);
    if (table.ccTypeName !== 'TDX') throw new InputError(`CCEL table is for CC type ${table.ccTypeName}, not TDX`);
    if (logBytes.length > table.laml) logBytes = logBytes.subarray(0, table.laml);
  }
  const ccel = Boolean(o.ccel || table);
  const log = parseEventLog(logBytes);
  const map = ccel ? 'ccel' : 'pcr';
  const algs = REPLAY_ALGS.filter((a) => log.algorithms.includes(a));
  const warnings: string[] = [];
  if (!ccel && algs.length === 1 && algs[0] === 'sha384' && log.length < logBytes.length) {
    warnings.push('this looks like a TDX CCEL log (SHA-384 only, padded area): pass --ccel or --ccel-table to replay RTMRs instead of PCRs');
  }
  const banks = Object.fromEntries(algs.map((a) => [a, replayEventLog(log.events, { alg: a, map })]));
  const reg = (i: number) => (!ccel ? `PCR${i}` : i === 0 ? 'MRTD' : (registerName('ccel', i)?.toUpperCase() ?? `MR${i}`));
  const events = log.events.map((e) => ({
    index: e.index,
    register: e.type === EV_NO_ACTION ? 'none' : reg(e.pcrIndex),
    type: e.typeName,
    digests: e.digests,
    dataSize: e.data.length,
    ...(e.decoded ? { data: e.decoded } : {}),
  }));
  const report: EventLogReport = {
    kind: ccel ? 'tdx' : 'pcr',
    origin: 'observed',
    log: { path, format: log.format, algorithms: log.algorithms, events: log.events.length, length: log.length, ...(table ? { ccelTable: table } : {}) },
    events,
  };
  if (ccel) {
    const r = banks.sha384;
    if (!r) throw new InputError(`${path}: a CCEL log must carry SHA-384 digests, this one has ${log.algorithms.join(', ')}`);
    report.rtmr = Object.fromEntries([0, 1, 2, 3].map((i) => [String(i), r[`rtmr${i}`]!]));
  } else report.pcrs = banks;
  if (o.explain) report.components = groupByComponent(log.events);
  // key order as the schema documents it
  return {
    report: {
      kind: report.kind,
      origin: report.origin,
      log: report.log,
      ...(report.rtmr ? { rtmr: report.rtmr } : { pcrs: report.pcrs! }),
      events,
      ...(report.components ? { components: report.components } : {}),
    },
    warnings,
  };
}
