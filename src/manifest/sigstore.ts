/**
 * Sigstore bundle v0.3 (sigstore protobuf-specs Bundle) around a DSSE envelope, with public-key
 * verification material (`publicKey.hint` = key id) and no transparency-log entries or timestamps:
 * for offline verification against a trusted key (e.g. @sigstore/verify with tlog/timestamp thresholds 0).
 * A bundle carries exactly one signature, so it gets the envelope's first one.
 */
import type { Envelope } from '../sign/dsse.js';

export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface SigstoreBundle {
  mediaType: typeof SIGSTORE_BUNDLE_V03;
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: []; timestampVerificationData: { rfc3161Timestamps: [] } };
  dsseEnvelope: Envelope;
}

export function sigstoreBundle(env: Envelope): SigstoreBundle {
  const sig = env.signatures[0]!;
  return {
    mediaType: SIGSTORE_BUNDLE_V03,
    verificationMaterial: { publicKey: { hint: sig.keyid ?? '' }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: { ...env, signatures: [sig] },
  };
}
