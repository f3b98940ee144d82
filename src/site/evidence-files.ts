/**
 * Sorts the files a user drops onto the verifier by their bytes and names: certificates (PEM or DER),
 * PCR values (JSON or tpm2_pcrread text), the evidence itself (SNP report, TDX quote), a large firmware
 * image (for the diagnosis) and TCG event logs — the CCEL log of a TDX quote, or the TPM log itself.
 */
import { UsageError } from '../errors.js';
import { type Certificate, readCertificates } from '../formats/x509.js';
import { detectEvidence } from '../verify/evidence.js';
import { parsePcrValues, type QuotedPcrs } from '../verify/tpm.js';

export interface DroppedFile {
  name: string;
  bytes: Uint8Array;
}

export interface Evidence {
  evidence: DroppedFile;
  certs: Certificate[];
  pcrs?: QuotedPcrs;
  ccel?: Uint8Array;
  firmware?: Uint8Array;
}

const CERT = /\.(pem|der|crt|cer|testcer)$/i;
const FIRMWARE_MIN = 1 << 20;

/** @throws {UsageError} when no evidence is among the files; {FormatError} / {InputError} for a certificate or PCR file that does not parse. */
export function sortDropped(files: readonly DroppedFile[]): Evidence {
  const certs: Certificate[] = [];
  const logs: DroppedFile[] = [];
  let evidence: DroppedFile | undefined;
  let pcrs: QuotedPcrs | undefined;
  let firmware: Uint8Array | undefined;
  for (const f of files) {
    const head = new TextDecoder().decode(f.bytes.subarray(0, 64));
    if (CERT.test(f.name) || head.startsWith('-----BEGIN CERTIFICATE')) certs.push(...readCertificates(f.bytes, f.name));
    else if (/\.(json|txt)$/i.test(f.name)) pcrs = parsePcrValues(new TextDecoder().decode(f.bytes), f.name);
    else if (detectEvidence(f.bytes) !== 'tpm-eventlog') evidence = f;
    else if (f.bytes.length >= FIRMWARE_MIN) firmware = f.bytes;
    else logs.push(f);
  }
  const quote = evidence && detectEvidence(evidence.bytes) === 'tdx-quote';
  const log = logs[0];
  if (!evidence && log) evidence = log;
  if (!evidence) throw new UsageError('no evidence among the files: drop an SNP report, a TDX quote or a TPM event log');
  return { evidence, certs, ...(pcrs ? { pcrs } : {}), ...(quote && log ? { ccel: log.bytes } : {}), ...(firmware ? { firmware } : {}) };
}
