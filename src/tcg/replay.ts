/**
 * Replay: registers start at zero and every measured event extends one, new = H(old || digest)
 * (TPM 2.0 Library Part 1, PCR extend; TDX RTMRs extend the same way with SHA-384, TDG.MR.RTMR.EXTEND).
 */
import { InputError } from '../errors.js';
import { digestSize, hash, type HashAlg } from './alg.js';
import type { MappedEvent, RegisterMap } from './registers.js';

/** Register index → value. */
export type RegisterValues = Map<number, Uint8Array>;

/** Zero registers of `alg`'s size, keyed by the given indexes. */
export function zeroRegisters(alg: HashAlg, indexes: Iterable<number>): RegisterValues {
  return new Map([...indexes].map((i) => [i, new Uint8Array(digestSize(alg))]));
}

/**
 * PCR0's value before the first extend when the log has a StartupLocality EV_NO_ACTION event
 * (TCG PC Client Platform Firmware Profile, "Startup Locality Event"): all zero but
 * the last byte, which holds the locality the TPM was started from (3 for an H-CRTM).
 */
export function startupLocalityPcr0(alg: HashAlg, locality: number): Uint8Array {
  const v = new Uint8Array(digestSize(alg));
  v[v.length - 1] = locality;
  return v;
}

/** Extends `register` in `regs` (zero when unset) with `digest`. */
export function extend(regs: RegisterValues, alg: HashAlg, register: number, digest: Uint8Array): void {
  regs.set(register, hash(alg, regs.get(register) ?? new Uint8Array(digestSize(alg)), digest));
}

/** One register after extending `digests` in order from zero (e.g. a TDX RTMR holding one separator). */
export function extendFromZero(alg: HashAlg, digests: readonly Uint8Array[]): Uint8Array {
  const regs = zeroRegisters(alg, [0]);
  for (const d of digests) extend(regs, alg, 0, d);
  return regs.get(0)!;
}

/** A predicted event: its TPM PCR, EV_* type, a name for errors, and its digest per bank. */
export interface ReplayEvent extends MappedEvent {
  component?: string;
  digests: Partial<Record<HashAlg, Uint8Array>>;
}

/**
 * Extends each event's `alg` digest into its register under `map` (events the map does not select are
 * skipped); `registers` start at zero even when nothing extends them.
 * @throws InputError when a selected event has no digest in `alg`.
 */
export function replay(events: readonly ReplayEvent[], map: RegisterMap, alg: HashAlg, registers: readonly number[] = []): RegisterValues {
  const out = zeroRegisters(alg, registers);
  for (const e of map.select(events)) {
    const d = e.digests[alg];
    if (!d) throw new InputError(`event ${e.component ?? e.type} (PCR${e.pcr}) has no ${alg} digest`);
    extend(out, alg, map.map(e.pcr)!, d);
  }
  return out;
}
