/**
 * `cvm-measure/tcg`: TCG vocabulary shared by TPM PCRs and confidential-computing RTMRs — hash
 * algorithms, EV_* event types, register maps (TPM PCRs; CC MR index → RTMR) and replay.
 */
export {
  TPM_ALGS,
  REPLAY_ALGS,
  tpmAlg,
  digestSize,
  hash,
  EVENT_TYPES,
  EV_NO_ACTION,
  eventTypeName,
  typeName,
  TPM_PCR_MAP,
  CC_MR_MAP,
  CC_RTMR_MAP,
  CC_MR_NAMES,
  LOG_MAPS,
  ccMrToRtmr,
  pcrToCcMr,
  registerName,
  replay,
  extend,
  type TpmAlgName,
  type HashAlg,
  type EventType,
  type RegisterMap,
  type MappedEvent,
  type LogRegisters,
  type RegisterValues,
  type ReplayEvent,
} from '../tcg/index.js';
