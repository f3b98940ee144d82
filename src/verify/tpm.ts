/**
 * TPM event-log verification (TCG PC Client Platform Firmware Profile §10: crypto-agile logs): the log
 * is replayed in every bank the PCR values are given for and must reproduce them; then every PCR the
 * reference predicts must equal the replayed value. On a mismatch the check names the log events that
 * extended that PCR, so the first suspect is visible.
 */
import { InputError } from '../errors.js';
import { parseEventLog, replayEventLog, type TcgEvent } from '../formats/tcg-eventlog.js';
import type { ReferenceValues } from '../manifest/model.js';
import type { HashAlg } from '../tcg/index.js';
import { diagnoseTpm, type PcrPrediction } from './diagnose-tpm.js';
import { check, type Check, statedMark, type VerifyEvidenceResult } from './result.js';

/** PCR values by bank and index, lowercase hex (from a TPM quote or `tpm2_pcrread`). */
export type QuotedPcrs = Record<string, Record<string, string>>;

export interface TpmVerifyOptions {
  pcrs: QuotedPcrs;
  reference?: ReferenceValues;
  /** The release's predictions (`measure pcr --json`): on a mismatch, the first differing event is named (see diagnose-tpm.ts). */
  predictions?: readonly PcrPrediction[];
}

const BANKS: readonly HashAlg[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/**
 * PCR values as JSON ({"sha256": {"0": "hex", ...}}) or as `tpm2_pcrread` prints them
 * ("sha256:" then "  0 : 0x…" lines). @throws InputError naming the first bad line or value.
 */
export function parsePcrValues(text: string, what: string): QuotedPcrs {
  const out: QuotedPcrs = {};
  const add = (bank: string, index: string, value: string) => {
    const b = bank.toLowerCase();
    const v = value.replace(/^0x/i, '').toLowerCase();
    if (!BANKS.includes(b as HashAlg)) throw new InputError(`${what}: unknown bank ${JSON.stringify(bank)}`);
    if (!/^\d+$/.test(index) || Number(index) > 23) throw new InputError(`${what}: bad PCR index ${JSON.stringify(index)}`);
    if (!/^[0-9a-f]+$/.test(v)) throw new InputError(`${what}: ${b} PCR${index}: not hex`);
    (out[b] ??= {})[String(Number(index))] = v;
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${what}: not JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null) throw new InputError(`${what}: expected {bank: {index: hex}}`);
    for (const [bank, regs] of Object.entries(json)) {
      if (typeof regs !== 'object' || regs === null) throw new InputError(`${what}: ${bank}: expected {index: hex}`);
      for (const [i, v] of Object.entries(regs)) add(bank, i, String(v));
    }
    return out;
  }
  let bank: string | undefined;
  for (const [n, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const head = /^\s*(\w+):\s*$/.exec(line);
    const reg = /^\s*(\d+)\s*:\s*(0x[0-9a-fA-F]+)\s*$/.exec(line);
    if (head) bank = head[1]!;
    else if (reg && bank) add(bank, reg[1]!, reg[2]!);
    else throw new InputError(`${what}:${n + 1}: expected "bank:" or "  N : 0xHEX"`);
  }
  return out;
}

/** Verifies a log against PCR values. @throws FormatError for bytes that are not a TCG event log. */
export function verifyTpmEventLog(bytes: Uint8Array, o: TpmVerifyOptions): VerifyEvidenceResult {
  const log = parseEventLog(bytes);
  const checks: Check[] = [];
  const replayed: QuotedPcrs = {};
  const banks = Object.keys(o.pcrs).filter((b) => log.algorithms.includes(b as never)) as HashAlg[];
  check(checks, 'the log has a bank the PCR values are given for', banks.length > 0, Object.keys(o.pcrs).join(', '), log.algorithms.join(', '));
  for (const bank of banks) {
    replayed[bank] = replayEventLog(log.events, { alg: bank, map: 'pcr' });
    // a given PCR the log extends must replay to it; so must one of PCR0-7 it does not (the firmware's PCRs,
    // which only this log extends: else still at the reset value, all zeros); others (IMA's PCR10, …) belong to other logs
    for (const [i, given] of Object.entries(o.pcrs[bank]!)) {
      const v = replayed[bank]![i] ?? (Number(i) <= 7 ? '0'.repeat(given.length) : undefined);
      if (v !== undefined)
        check(checks, `${bank} PCR${i}: the log replays to the given value`, given === v, given, replayed[bank]![i] ?? `${v} (not extended by the log)`);
    }
  }
  const covered = banks.some((b) => Object.keys(o.pcrs[b]!).some((i) => replayed[b]![i] !== undefined));
  check(checks, 'the given PCR values cover PCRs the log extends', covered, 'at least one', covered ? 'yes' : 'none: nothing in the log is checked');
  const extendedBy = (pcr: number) =>
    log.events
      .filter((e: TcgEvent) => e.pcrIndex === pcr && e.typeName !== 'EV_NO_ACTION')
      .map((e) => `${e.index} ${e.typeName}`)
      .join(', ');
  let match: VerifyEvidenceResult['match'];
  let diagnosis: VerifyEvidenceResult['diagnosis'];
  if (o.reference) {
    let diffs: Check[] = [];
    for (const entry of o.reference.pcr) {
      diffs = [];
      // only the given values count (the log's replay is checked against them above): a PCR the entry names
      // must be given, else the entry cannot match — an unauthenticated replayed value proves nothing
      for (const [bank, regs] of Object.entries(entry.banks)) {
        if (!replayed[bank]) continue;
        for (const [i, v] of Object.entries(regs)) {
          const actual = o.pcrs[bank]![i];
          if (actual !== v)
            diffs.push({
              name: `${bank} PCR${i} equals the reference (extended by events ${extendedBy(Number(i)) || 'none'})`,
              ok: false,
              expected: v,
              actual: actual ?? 'not among the given PCR values',
            });
        }
      }
      if (diffs.length === 0 && Object.keys(entry.banks).some((b) => replayed[b])) {
        match = { platform: 'pcr', parameters: entry.parameters, ...statedMark(entry) };
        break;
      }
    }
    // the last entry's differences, when none matched
    if (!match) {
      checks.push(...diffs.slice(0, 8));
      diagnosis = diagnoseTpm(log.events, banks, o.reference.pcr, o.predictions);
    }
    check(
      checks,
      'the replayed PCRs match a reference entry',
      match !== undefined,
      `one of ${o.reference.pcr.length} signed PCR sets`,
      match ? 'matched' : 'none matched',
    );
  }
  return {
    ok: checks.every((c) => c.ok),
    type: 'tpm-eventlog',
    version: log.format === 'tcg2' ? 2 : 1,
    values: { format: log.format, algorithms: log.algorithms, events: log.events.length, pcrs: replayed },
    checks,
    ...(match ? { match } : {}),
    ...(diagnosis ? { diagnosis } : {}),
  };
}
