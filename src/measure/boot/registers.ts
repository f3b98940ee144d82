/**
 * Register maps: the same measured events land in TPM PCRs (identity) or, on a TDX guest, in RTMRs
 * through edk2's CC mapping (MdePkg/Include/Protocol/CcMeasurement.h, TdTcg2Dxe MapPcrToMrIndex:
 * PCR1,7 → RTMR0; PCR2–6 → RTMR1; PCR8–15 → RTMR2; PCR0 → MRTD, which is not extendable at runtime).
 * edk2's TdTcg2Dxe logs the ready-to-boot EV_SEPARATOR once per RTMR where a TPM gets one per PCR
 * (PCR2–6 carry five, RTMR1 one: compare a real CCEL log), so the CC map keeps the first per RTMR.
 * Replay is extend-only: R_new = H(R_old || digest), starting from all-zero registers.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../../errors.js';
import { DIGEST_SIZE, type HashAlg, type MeasuredEvent } from './events.js';

export interface RegisterMap {
  name: 'pcr' | 'rtmr';
  /** Register index an event for TPM PCR `pcr` extends, or undefined when it is not extended. */
  map(pcr: number): number | undefined;
  /** The events as they land in this register file, in order (unmapped ones dropped). */
  select(events: readonly MeasuredEvent[]): MeasuredEvent[];
}

/** TPM PCRs 0–23 (TCG PC Client Platform TPM Profile): identity. */
export const TPM_PCR_MAP: RegisterMap = {
  name: 'pcr',
  map: (pcr) => (pcr >= 0 && pcr <= 23 ? pcr : undefined),
  select(events) {
    return events.filter((e) => this.map(e.pcr) !== undefined);
  },
};

/** edk2 CC mapping to TDX RTMR index 0–2 (CC MR index minus one; MRTD is index 0 there). */
export const CC_RTMR_MAP: RegisterMap = {
  name: 'rtmr',
  map(pcr) {
    if (pcr === 1 || pcr === 7) return 0;
    if (pcr >= 2 && pcr <= 6) return 1;
    if (pcr >= 8 && pcr <= 15) return 2;
    return undefined;
  },
  select(events) {
    const separated = new Set<number>();
    return events.filter((e) => {
      const r = this.map(e.pcr);
      if (r === undefined) return false;
      if (e.type !== 'EV_SEPARATOR') return true;
      if (separated.has(r)) return false;
      separated.add(r);
      return true;
    });
  },
};

/** Extends each event's `alg` digest into its mapped register; returns register index → value. */
export function replay(events: readonly MeasuredEvent[], map: RegisterMap, alg: HashAlg, registers: readonly number[] = []): Map<number, Buffer> {
  const out = new Map<number, Buffer>(registers.map((r) => [r, Buffer.alloc(DIGEST_SIZE[alg])]));
  for (const e of map.select(events)) {
    const r = map.map(e.pcr)!;
    const d = e.digests[alg];
    if (!d) throw new InputError(`event ${e.component} (PCR${e.pcr}) has no ${alg} digest`);
    const cur = out.get(r) ?? Buffer.alloc(DIGEST_SIZE[alg]);
    out.set(r, createHash(alg).update(cur).update(d).digest());
  }
  return out;
}
