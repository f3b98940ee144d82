/**
 * Register maps: which register an event's index extends. A TPM log's index is a PCR (identity); a
 * TDX CCEL log's index is a CC measurement-register (MR) index; predicted boot events carry TPM PCRs,
 * which a TDX guest's firmware maps to MR indexes before extending RTMRs.
 */

/** An event as a register map sees it: its TPM PCR (or CC MR) index and its EV_* name. */
export interface MappedEvent {
  pcr: number;
  type: string;
}

export interface RegisterMap {
  name: 'pcr' | 'rtmr';
  /** Register an event with index `index` extends, or undefined when it is not extended here. */
  map(index: number): number | undefined;
  /** The events as they land in this register file, in order (unmapped ones dropped). */
  select<E extends MappedEvent>(events: readonly E[]): E[];
}

/** TPM PCRs 0–23 (TCG PC Client Platform TPM Profile; their use: PC Client Platform Firmware Profile "PCR Usage"): identity. */
export const TPM_PCR_MAP: RegisterMap = {
  name: 'pcr',
  map: (pcr) => (pcr >= 0 && pcr <= 23 ? pcr : undefined),
  select(events) {
    return events.filter((e) => this.map(e.pcr) !== undefined);
  },
};

/**
 * UEFI 2.10 section 38.4.1 "EFI_CC_MEASUREMENT_PROTOCOL" (MR index) with Intel TDX: MR index 0 = MRTD
 * (build time, not extendable), 1..4 = RTMR0..3.
 */
export const CC_MR_NAMES = ['MRTD', 'RTMR0', 'RTMR1', 'RTMR2', 'RTMR3'] as const;

/** RTMR index (0..3) for a CC MR index, or undefined for MRTD and anything outside 1..4. */
export function ccMrToRtmr(mr: number): number | undefined {
  return mr >= 1 && mr <= 4 ? mr - 1 : undefined;
}

/**
 * UEFI 2.10 section 38.4 (CC measurement protocol), TDX mapping of TPM PCRs to CC MR indexes (edk2 TdTcg2Dxe MapPcrToMrIndex):
 * PCR0 → MR0 (MRTD), PCR1,7 → MR1 (RTMR0), PCR2–6 → MR2 (RTMR1), PCR8–15 → MR3 (RTMR2); others none.
 */
export function pcrToCcMr(pcr: number): number | undefined {
  if (pcr === 0) return 0;
  if (pcr === 1 || pcr === 7) return 1;
  if (pcr >= 2 && pcr <= 6) return 2;
  if (pcr >= 8 && pcr <= 15) return 3;
  return undefined;
}

/** A CCEL log: the event index is already the CC MR index; MRTD (0) is not replayable. */
export const CC_MR_MAP: RegisterMap = {
  name: 'rtmr',
  map: ccMrToRtmr,
  select(events) {
    return events.filter((e) => this.map(e.pcr) !== undefined);
  },
};

/**
 * Predicted TPM events on a TDX guest: PCR → MR index → RTMR. edk2's TdTcg2Dxe logs the ready-to-boot
 * EV_SEPARATOR once per RTMR where a TPM gets one per PCR (PCR2–6 carry five, RTMR1 one: compare a
 * real CCEL log), so this map keeps the first separator per RTMR.
 */
export const CC_RTMR_MAP: RegisterMap = {
  name: 'rtmr',
  map(pcr) {
    const mr = pcrToCcMr(pcr);
    return mr === undefined ? undefined : ccMrToRtmr(mr);
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

/** How a log's event indexes become registers: TPM PCRs, or CCEL MR indexes. */
export type LogRegisters = 'pcr' | 'ccel';
export const LOG_MAPS: Record<LogRegisters, RegisterMap> = { pcr: TPM_PCR_MAP, ccel: CC_MR_MAP };

/** Key of register `reg` in replay output: "7" for PCR7, "rtmr0" for RTMR0. */
export function registerKey(map: LogRegisters, reg: number): string {
  return map === 'pcr' ? String(reg) : `rtmr${reg}`;
}

/** Register key for a log index under `map`, or null when the event extends nothing replayable. */
export function registerName(map: LogRegisters, index: number): string | null {
  const r = LOG_MAPS[map].map(index);
  return r === undefined ? null : registerKey(map, r);
}
