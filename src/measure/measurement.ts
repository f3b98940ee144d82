/**
 * The one typed measurement contract: what `measure/*` returns, what `build` records in
 * measurements.json and what `manifest` maps (explicitly, per platform) to signed reference values.
 * `origin` keeps predictions apart from values read off evidence (event-log replays): only predictions
 * are signed.
 */
import type { SnpMeasurementJson } from './snp/report.js';
import type { TdShimMeasurementJson, TdxMeasurementJson } from './tdx/report.js';
import type { PcrMeasurementJson } from './tpm/report.js';

/** predicted: computed from the artifacts; observed: replayed from evidence (an event log, a report). */
export type Origin = 'predicted' | 'observed';

export type Measurement = SnpMeasurementJson | TdxMeasurementJson | TdShimMeasurementJson | PcrMeasurementJson;

export type MeasurementKind = Measurement['kind'];

export const MEASUREMENT_KINDS: readonly MeasurementKind[] = ['snp', 'tdx', 'td-shim', 'pcr'];

export type { PcrMeasurementJson, SnpMeasurementJson, TdShimMeasurementJson, TdxMeasurementJson };
