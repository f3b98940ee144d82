/**
 * A real TDX CCEL log's RTMR0 events (CC MR index 1) against the modelled ones (`measure tdx --platform
 * --json`), event by event, each differing event explained by what enters it: the VMM's memory map (TD
 * HOB), the firmware's variable store (CFV, Secure Boot keys), the VMM's ACPI data, the boot entries.
 */
import type { TcgEvent } from '../../formats/tcg-eventlog.js';
import { describeBootVariable } from '../boot/boot-options.js';
import type { RtmrEvent } from './rtmr.js';

export interface Rtmr0EventDiff {
  position: number;
  match: boolean;
  /** Index of the log event (absent when the log has fewer RTMR0 events). */
  logIndex?: number;
  expected: { component: string; type: string; sha384: string } | null;
  actual: { type: string; sha384: string; data?: Record<string, unknown> } | null;
  explanation?: string;
}

export interface Rtmr0Diff {
  match: boolean;
  matched: number;
  events: Rtmr0EventDiff[];
}

/** What differs in one event of the same type, and the setting behind it. */
function explain(a: TcgEvent, w: RtmrEvent): string {
  const d = a.decoded ?? {};
  switch (a.typeName) {
    case 'EV_EFI_HANDOFF_TABLES2':
      return `TD HOB: the VMM's memory map differs from the predicted ${w.component} (guest RAM size and layout, accepted ranges; another VMM builds its own HOB)`;
    case 'EV_EFI_PLATFORM_FIRMWARE_BLOB2':
      return `CFV: the log measured ${String(d.description ?? 'a blob')} at ${String(d.blobBase ?? '?')}+${String(d.blobLength ?? '?')}, predicted ${w.component}: another firmware image or variable store`;
    case 'EV_EFI_VARIABLE_DRIVER_CONFIG':
      return `Secure Boot variable ${String(d.variableName ?? '?')} (${String(d.variableDataLength ?? '?')} bytes in the log): the firmware's variable store holds other keys`;
    case 'EV_PLATFORM_CONFIG_FLAGS':
      return `VMM data (predicted ${w.component}): the VMM serves other ACPI tables / fw_cfg data (another VMM, QEMU version, machine type, vCPUs, memory or devices)`;
    case 'EV_EFI_VARIABLE_BOOT':
    case 'EV_EFI_VARIABLE_BOOT2':
      return `boot entry: ${describeBootVariable(a.data) ?? 'a boot variable'}, predicted ${w.component} (the boot devices or the firmware's boot manager)`;
    default:
      return `${a.typeName}: predicted ${w.component}`;
  }
}

/** Why an unmatched pair (or a lone event) differs. */
function why(a: TcgEvent | undefined, w: RtmrEvent | undefined): string {
  if (!a) return `the log has no ${w!.component} here: the firmware or VMM does not measure it`;
  if (!w) {
    if (a.typeName === 'EV_EFI_VARIABLE_BOOT' || a.typeName === 'EV_EFI_VARIABLE_BOOT2')
      return `boot entry ${describeBootVariable(a.data) ?? ''} not predicted: the model has the entries of a QEMU direct kernel boot (other boot devices add entries)`;
    if (a.typeName === 'EV_EFI_VARIABLE_AUTHORITY')
      return `${String(a.decoded?.variableName ?? 'authority')}: measured by the boot loader (shim) after the firmware's events; the model covers a direct kernel boot`;
    return `an event the model does not predict (${a.typeName}): the firmware measures more (another TDVF version, boot manager or VMM)`;
  }
  if (a.typeName !== w.type)
    return `event type ${a.typeName}, predicted ${w.type} (${w.component}): the firmware logs another sequence (another TDVF version: see --tdvf-events)`;
  return explain(a, w);
}

/**
 * Compares `log` (every event of a CCEL log) with `expected` (the predicted RTMR0 events, in order). Events
 * are paired in order; when a predicted digest appears further on in the log, the log events before it
 * are reported as unpredicted (and the other way round), so one extra event does not shift every pair.
 */
export function diffRtmr0(log: readonly TcgEvent[], expected: readonly RtmrEvent[]): Rtmr0Diff {
  const actual = log.filter((e) => e.pcrIndex === 1 && e.typeName !== 'EV_NO_ACTION');
  const events: Rtmr0EventDiff[] = [];
  const push = (a: TcgEvent | undefined, w: RtmrEvent | undefined) => {
    const match = Boolean(a && w && a.digests.sha384 === w.sha384);
    events.push({
      position: events.length,
      match,
      ...(a ? { logIndex: a.index } : {}),
      expected: w ? { component: w.component, type: w.type, sha384: w.sha384 } : null,
      actual: a ? { type: a.typeName, sha384: a.digests.sha384 ?? '', ...(a.decoded ? { data: a.decoded } : {}) } : null,
      ...(match ? {} : { explanation: why(a, w) }),
    });
  };
  let i = 0;
  let j = 0;
  while (i < actual.length || j < expected.length) {
    const a = actual[i];
    const w = expected[j];
    if (a && w && a.digests.sha384 !== w.sha384) {
      const later = actual.findIndex((x, k) => k > i && x.digests.sha384 === w.sha384);
      const earlier = expected.findIndex((x, k) => k > j && x.sha384 === a.digests.sha384);
      if (later >= 0 && (earlier < 0 || later - i <= earlier - j)) {
        while (i < later) push(actual[i++], undefined);
        continue;
      }
      if (earlier >= 0) {
        while (j < earlier) push(undefined, expected[j++]);
        continue;
      }
    }
    push(a, w);
    if (a) i++;
    if (w) j++;
  }
  const matched = events.filter((e) => e.match).length;
  return { match: matched === events.length, matched, events };
}
