/**
 * Trustee RVPS messages ({version, type, payload}, trustee rvps/README "Message"). The "sample"
 * extractor base64-decodes `payload` into {reference-value name: value} and stores each as-is; the
 * names are the ones Trustee's default attestation policy queries (snp_launch_measurement, mr_td,
 * rtmr_1, rtmr_2, tpm_pcrN) and each value is the list of accepted lowercase hex digests.
 * RVPS keeps no parameters: every accepted digest is accepted for every configuration.
 */
import type { ReferenceValues } from './model.js';

export interface RvpsMessage {
  version: '0.1.0';
  type: string;
  payload: string;
}

const add = (out: Record<string, string[]>, name: string, v: string) => {
  const list = (out[name] ??= []);
  if (!list.includes(v)) list.push(v);
};

/** Reference-value name → accepted values (what the sample payload carries). */
export function rvpsValues(rv: ReferenceValues): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of rv.snp) for (const d of Object.values(s.launchDigests)) add(out, 'snp_launch_measurement', d);
  for (const t of rv.tdx) {
    add(out, 'mr_td', t.mrtd);
    for (const [i, v] of Object.entries(t.rtmr)) add(out, `rtmr_${i}`, v);
  }
  for (const p of rv.pcr) for (const [i, v] of Object.entries(p.banks.sha256 ?? {})) add(out, `tpm_pcr${i}`, v);
  return out;
}

/** The RVPS "sample" message: rvpsValues as base64 JSON (trustee's sample extractor; unsigned). */
export function rvpsSampleMessage(rv: ReferenceValues): RvpsMessage {
  return { version: '0.1.0', type: 'sample', payload: Buffer.from(JSON.stringify(rvpsValues(rv)), 'utf8').toString('base64') };
}

/** The CoRIM extractor (trustee rvps/src/extractors/corim) reads a base64 CoRIM; it does not check the signature. */
export function rvpsCorimMessage(corim: Uint8Array): RvpsMessage {
  return { version: '0.1.0', type: 'corim', payload: Buffer.from(corim).toString('base64') };
}
