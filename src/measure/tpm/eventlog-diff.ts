/**
 * Compares a real TCG2 event log with a prediction (the events of `measure pcr`): per predicted PCR, the
 * log's events for that PCR must equal the predicted ones, digest for digest, in order. The first log
 * position where they part is reported with the component, expected and actual digests.
 */
import type { TcgEvent } from '../../formats/tcg-eventlog.js';
import type { HashAlg } from '../../tcg/index.js';
import { fromHex } from '../../util/bytes.js';
import { describeBootVariable } from '../boot/boot-options.js';

/** One predicted event as `measure pcr --json` prints it. */
export interface ExpectedEvent {
  pcr: number;
  type: string;
  component: string;
  digests: Partial<Record<HashAlg, string>>;
  /** The predicted event data (hex) when the inputs determine it. */
  eventData?: string;
}

export interface Divergence {
  pcr: number;
  /** Index of the log event where the prediction is left (the log's length when the log ran out). */
  logIndex: number;
  /** How many events of this PCR matched before the divergence. */
  position: number;
  expected: { component: string; type: string; digest: string } | null;
  actual: { type: string; digest: string; data?: Record<string, unknown> } | null;
  /** What differs, in words, and the setting behind it (boot variables; PCR0 with the firmware, see findPlatform). */
  explanation?: string;
}

export interface EventlogDiff {
  alg: HashAlg;
  match: boolean;
  firstDivergence: Divergence | null;
  /** Every predicted PCR with the first divergence in it (if any). */
  pcrs: Record<string, { match: boolean; divergence?: Divergence }>;
}

/**
 * Compares a real event log with the predicted events for `pcrs`, PCR by PCR in log order, and names the
 * first divergence in each (missing, extra or differing event, with the knob behind it when known).
 */
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
      const explanation = a && w ? explainBootVariable(a, w) : undefined;
      if (explanation) div.explanation = explanation;
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

/** PCR1: the boot variable the log holds against the predicted one, and the knob behind the difference. */
function explainBootVariable(a: TcgEvent, w: ExpectedEvent): string | undefined {
  if (a.typeName !== 'EV_EFI_VARIABLE_BOOT' || w.type !== 'EV_EFI_VARIABLE_BOOT' || !w.eventData) return undefined;
  const actual = describeBootVariable(a.data);
  const expected = describeBootVariable(fromHex(w.eventData, 'predicted event data'));
  if (!actual || !expected) return undefined;
  const pci = (s: string) => /PCI [0-9a-f:.]+/.exec(s)?.[0];
  const knob = actual.startsWith('BootOrder')
    ? 'the boot options: direct kernel boot vs disk boot, or other boot devices'
    : pci(actual) && pci(expected) && pci(actual) !== pci(expected)
      ? "the boot disk's PCI address (--disk-pci)"
      : 'the boot device type (virtio-blk is modelled) or the boot shape';
  return `boot entry: ${actual}, predicted ${expected} (${knob})`;
}
