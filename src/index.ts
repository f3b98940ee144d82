/**
 * Library entry `cvm-measure`: the pure library — every error class, measure, formats, tcg, sign,
 * manifest and verify (each also its own subpath, `cvm-measure/measure` …). Loads no process, spawn or network
 * package; the Node-only build lives in `cvm-measure/build`.
 */
export * from './errors.js';
export * from './entry/measure.js';
export * from './entry/formats.js';
export * from './entry/tcg.js';
export * from './entry/sign.js';
export * from './entry/manifest.js';
export * from './entry/verify.js';
