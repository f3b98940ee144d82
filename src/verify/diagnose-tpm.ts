/**
 * TPM diagnosis: when the replayed PCRs match no signed entry, the release's prediction (the `measure
 * pcr --json` output it was signed from: its PCR values and predicted events) is compared with the log
 * event for event by the `eventlog diff` engine (src/measure/tpm/eventlog-diff.ts), and the first
 * differing predicted event is named. The prediction counts only when its PCR values equal a signed
 * entry's and its events replay to them (TCG PC Client PFP §3.3.4, PCR extend), so a prediction from
 * another release cannot explain this one.
 */
import type { TcgEvent } from '../formats/tcg-eventlog.js';
import type { PcrValues } from '../manifest/model.js';
import { diffEventLog, type ExpectedEvent } from '../measure/tpm/eventlog-diff.js';
import { type HashAlg, replay, TPM_PCR_MAP } from '../tcg/index.js';
import { fromHex, toHex } from '../util/bytes.js';
import type { VerifyEvidenceResult } from './result.js';

/** A `measure pcr --json` output, as far as the diagnosis reads it. */
export interface PcrPrediction {
  pcrs: Record<string, Record<string, string>>;
  events: ExpectedEvent[];
}

type Diagnosis = NonNullable<VerifyEvidenceResult['diagnosis']>;

/** Does the prediction hold exactly the entry's signed values in `bank`, and do its events replay to them? */
function isRelease(p: PcrPrediction, entry: PcrValues, bank: HashAlg): boolean {
  const signed = entry.banks[bank];
  if (!signed || Object.entries(signed).some(([i, v]) => p.pcrs[bank]?.[i] !== v)) return false;
  const events = p.events
    .filter((e) => e.type !== 'EV_NO_ACTION')
    .map((e) => ({
      pcr: e.pcr,
      type: e.type,
      component: e.component,
      digests: e.digests[bank] ? { [bank]: fromHex(e.digests[bank], 'predicted digest') } : {},
    }));
  try {
    const replayed = replay(events, TPM_PCR_MAP, bank);
    return Object.entries(signed).every(([i, v]) => toHex(replayed.get(Number(i)) ?? new Uint8Array(v.length / 2)) === v);
  } catch {
    return false; // an event without a digest in this bank
  }
}

/** The first predicted event the log leaves, or why none could be named. */
export function diagnoseTpm(
  events: readonly TcgEvent[],
  logBanks: readonly string[],
  entries: readonly PcrValues[],
  predictions: readonly PcrPrediction[] | undefined,
): Diagnosis {
  if (!predictions?.length)
    return {
      found: null,
      differences: [],
      searched: "nothing: give the release's prediction (--expected, its `measure pcr --json` output) to name the first differing event",
    };
  for (const p of predictions)
    for (const entry of entries) {
      const bank = (['sha256', 'sha384', 'sha1'] as const).find((b) => logBanks.includes(b) && entry.banks[b] && isRelease(p, entry, b));
      if (!bank) continue;
      const pcrs = Object.keys(entry.banks[bank]!).map(Number);
      const searched = `the ${p.events.filter((e) => pcrs.includes(e.pcr)).length} predicted events of PCR${pcrs.join(', ')} against the log, event for event (${bank}, eventlog diff)`;
      const diff = diffEventLog(events, p.events, pcrs, bank);
      const d = diff.firstDivergence;
      if (!d) return { found: null, differences: [], searched: `${searched}: every event matches` };
      const text = typeof d.actual?.data?.text === 'string' ? ` "${d.actual.data.text}"` : '';
      const where = `PCR${d.pcr} event ${d.position + 1} (log event #${d.logIndex})`;
      const differences = [
        d.expected
          ? `${where}: the release predicts ${d.expected.component} (${d.expected.type} ${d.expected.digest.slice(0, 16)}…), the log has ${d.actual ? `${d.actual.type} ${d.actual.digest.slice(0, 16)}…${text}` : 'no further event'}`
          : `${where}: the log has ${d.actual!.type} ${d.actual!.digest.slice(0, 16)}…${text} after the last predicted event`,
        ...(d.explanation ? [d.explanation] : []),
      ];
      return {
        found: {
          pcr: d.pcr,
          logEvent: d.logIndex,
          ...(d.expected ? { component: d.expected.component, type: d.expected.type } : {}),
          ...(d.actual ? { actual: d.actual.type } : {}),
        },
        differences,
        searched,
      };
    }
  return {
    found: null,
    differences: [],
    searched: `nothing: no prediction given holds a signed PCR set of the release (its PCR values differ or its events do not replay to them)`,
  };
}
