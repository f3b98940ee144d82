/**
 * vTPM PCR banks predicted from the boot-event model (TCG PC Client PFP section 2.3.4 "PCR Usage").
 * PCRs that depend on the VMM or the firmware build rather than on the boot inputs are reported as not
 * predicted, with the reason, never guessed.
 */
import { toHex } from '../../util/bytes.js';
import { replay, TPM_PCR_MAP, type HashAlg } from '../../tcg/index.js';
import type { MeasuredEvent } from '../boot/index.js';

/** PCRs 0–15 whose values follow from the boot inputs (8 and 12–15 stay zero on these shapes). */
export const PREDICTED_PCRS = [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15] as const;
/** With the OVMF image and the VM configuration, PCR0 and PCR1 too. */
export const PLATFORM_PCRS = [0, 1, ...PREDICTED_PCRS] as const;

export const NOT_PREDICTED: Readonly<Record<string, string>> = {
  // (signed into reference values: a change of wording changes every manifest's bytes)
  '0': 'S-CRTM version and firmware volumes measured by OVMF PEI: depend on the OVMF build and the VM configuration (-m), not on the boot inputs',
  '1': 'BootOrder/Boot#### variables (and on other firmware SMBIOS/ACPI handoff tables): depend on the VM devices and the firmware build',
  '10': 'IMA (boot_aggregate plus runtime file measurements): written by the running kernel, not by the boot chain',
};

/** What stays unpredicted when PCR0 and PCR1 are modelled from the firmware image. */
export const NOT_PREDICTED_WITH_PLATFORM: Readonly<Record<string, string>> = { '10': NOT_PREDICTED['10']! };

export type PcrBanks = Partial<Record<HashAlg, Record<string, string>>>;

/** Replays the events per bank; returns the predicted PCRs as lowercase hex, keyed by decimal index. */
export function pcrBanks(events: readonly MeasuredEvent[], algs: readonly HashAlg[], pcrs: readonly number[] = PREDICTED_PCRS): PcrBanks {
  const out: PcrBanks = {};
  for (const alg of algs) {
    const regs = replay(events, TPM_PCR_MAP, alg, pcrs);
    out[alg] = Object.fromEntries(pcrs.map((i) => [String(i), toHex(regs.get(i)!)]));
  }
  return out;
}
