/**
 * Compares a real TCG2 event log with a prediction (the events of `measure pcr`): per predicted PCR, the
 * log's events for that PCR must equal the predicted ones, digest for digest, in order. The first log
 * position where they part is reported with the component, expected and actual digests.
 */
import type { TcgEvent } from '../../formats/tcg-eventlog.js';
import type { HashAlg } from '../../tcg/index.js';

/** One predicted event as `measure pcr --json` prints it. */
export interface ExpectedEvent {
  pcr: number;
  type: string;
  component: string;
  digests: Partial<Record<HashAlg, string>>;
}

export interface Divergence {
  pcr: number;
  /** Index of the log event where the prediction is left (the log's length when the log ran out). */
  logIndex: number;
  /** How many events of this PCR matched before the divergence. */
  position: number;
  expected: { component: string; type: string; digest: string } | null;
  actual: { type: string; digest: string; data?: Record<string, unknown> } | null;
}

export interface EventlogDiff {
  alg: HashAlg;
  match: boolean;
  firstDivergence: Divergence | null;
  /** Every predicted PCR with the first divergence in it (if any). */
  pcrs: Record<string, { match: boolean; divergence?: Divergence }>;
}

export function diffEventLog(logEvents: readonly TcgEvent[], expected: readonly ExpectedEvent[], pcrs: readonly number[], alg: HashAlg): EventlogDiff {
  const out: EventlogDiff = { alg, match: true, firstDivergence: null, pcrs: {} };
  const measured = logEvents.filter((e) => e.typeName !== 'EV_NO_ACTION');
  for (const pcr of pcrs) {
    const actual = measured.filter((e) => e.pcrIndex === pcr);
    const want = expected.filter((e) => e.pcr === pcr);
    let div: Divergence | undefined;
    for (let i = 0; i < Math.max(actual.length, want.length); i++) {
      const a = actual[i];
      const w = want[i];
      const ad = a?.digests[alg];
      const wd = w?.digests[alg];
      if (a && w && ad !== undefined && ad === wd) continue;
      div = {
        pcr,
        logIndex: a ? a.index : (measured[measured.length - 1]?.index ?? 0) + 1,
        position: i,
        expected: w ? { component: w.component, type: w.type, digest: wd ?? '' } : null,
        actual: a ? { type: a.typeName, digest: ad ?? '', ...(a.decoded ? { data: a.decoded } : {}) } : null,
      };
      break;
    }
    out.pcrs[String(pcr)] = div ? { match: false, divergence: div } : { match: true };
    if (div) {
      out.match = false;
      if (!out.firstDivergence || div.logIndex < out.firstDivergence.logIndex) out.firstDivergence = div;
    }
  }
  return out;
}
