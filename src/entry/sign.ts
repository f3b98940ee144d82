/**
 * `cvm-measure/sign`: keys, signers (local PEM key or an external signing command), COSE_Sign1,
 * DSSE envelopes and canonical JSON. Node's crypto; @noble/curves only when ECDSA signs.
 */
export { CvmError, BuildError, InputError, FormatError, VerificationError } from '../errors.js';
export {
  generateKey,
  keyId,
  parsePrivateKey,
  parsePublicKey,
  keyAlg,
  KEY_ALGS,
  ALGS as KEY_ALG_INFO,
  type KeyAlg,
  type AlgInfo,
  type GeneratedKey,
} from '../sign/keys.js';
export { localSigner, type Signer } from '../sign/signer.js';
export { verifySignature } from '../sign/ecdsa.js';
export { signSign1, parseSign1, verifySign1, HEADER as COSE_HEADER, COSE_SIGN1_TAG, type Sign1, type VerifiedSign1 } from '../sign/cose.js';
export { pae, signEnvelope, verifyEnvelope, parseEnvelope, INTOTO_PAYLOAD_TYPE, type Envelope, type VerifiedEnvelope } from '../sign/dsse.js';
export { canonicalJson } from '../sign/canonical-json.js';
