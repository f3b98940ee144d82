/** The one TCG home: hash algorithms, event types, register maps (TPM PCRs, CC MR → RTMR) and replay. */
export * from './alg.js';
export * from './event-types.js';
export * from './registers.js';
export * from './replay.js';
