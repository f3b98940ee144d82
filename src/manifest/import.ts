/**
 * The one door for foreign JSON into the typed contract: a measurements.json of a build
 * (schemas/measurements.schema.json) or one `measure snp|tdx|td-shim-payload|pcr --json` output, each
 * measurement validated against its own schema (snp-measurement, tdx-measure, tdx-td-shim-payload,
 * pcr-measure). Anything else — a misspelled field, an event-log replay, a hand-edited digest — is
 * rejected with the JSON path of the first problem.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import { MEASUREMENT_KINDS, type Measurement, type MeasurementKind } from '../measure/measurement.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { MEASUREMENTS_SCHEMA, type MeasurementsDocument, type ReferenceValues, type StatedValuesDocument } from './model.js';

const SCHEMA_FILES: Record<MeasurementKind | 'document' | 'reference-values' | 'stated-values', string> = {
  document: 'measurements.schema.json',
  'reference-values': 'reference-values.schema.json',
  'stated-values': 'stated-values.schema.json',
  snp: 'snp-measurement.schema.json',
  tdx: 'tdx-measure.schema.json',
  'td-shim': 'tdx-td-shim-payload.schema.json',
  pcr: 'pcr-measure.schema.json',
};

let ajv: Ajv | undefined;
/** Every schema is loaded: measurement schemas refer to shared definitions by $id. */
function validator(kind: keyof typeof SCHEMA_FILES): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: false });
    const dir = join(PACKAGE_ROOT, 'schemas');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object, f);
  }
  return ajv.getSchema(SCHEMA_FILES[kind])!;
}

function problem(where: string, e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const at = `${where}${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') return `${at}: unknown field ${JSON.stringify(p.additionalProperty)}`;
  if (e.keyword === 'const' && e.instancePath === '/origin')
    return `${at}: ${JSON.stringify(p.allowedValue)} expected — only predicted values are signed, never values read off evidence`;
  return `${at}: ${e.message ?? e.keyword}`;
}

function check(kind: keyof typeof SCHEMA_FILES, value: unknown, where: string): void {
  const v = validator(kind);
  if (!v(value)) throw new InputError(problem(where, v.errors![0]!));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function measurement(value: unknown, where: string): Measurement {
  if (!isObject(value)) throw new InputError(`${where}: expected a measurement object`);
  const kind = value.kind;
  if (value.origin === 'observed')
    throw new InputError(`${where}: origin "observed" (an event-log replay): only predicted values are signed, never values read off evidence`);
  if (typeof kind !== 'string' || !(MEASUREMENT_KINDS as readonly string[]).includes(kind))
    throw new InputError(`${where}.kind: ${JSON.stringify(kind)} is not one of snp, tdx, td-shim, pcr`);
  check(kind as MeasurementKind, value, where);
  return value as unknown as Measurement;
}

/**
 * Validates parsed JSON as a combined measurements document or a single measurement.
 * @throws {InputError} naming the JSON path of the first problem.
 */
export function importMeasurements(json: unknown): MeasurementsDocument | Measurement {
  if (!isObject(json)) throw new InputError('measurements: expected a JSON object');
  if (!('schema' in json)) return measurement(json, 'measurements');
  if (json.schema !== MEASUREMENTS_SCHEMA) throw new InputError(`measurements.schema: ${JSON.stringify(json.schema)} is not ${MEASUREMENTS_SCHEMA}`);
  check('document', json, 'measurements');
  for (const [i, m] of (json.measurements as unknown[]).entries()) measurement(m, `measurements.measurements[${i}]`);
  return json as unknown as MeasurementsDocument;
}

/**
 * Validates a reference-values document (schemas/reference-values.schema.json), e.g. the predicate of
 * a verified in-toto Statement. @throws InputError naming the JSON path of the first problem.
 */
export function importReferenceValues(json: unknown, what = 'reference values'): ReferenceValues {
  check('reference-values', json, what);
  return json as ReferenceValues;
}

/** Validates a stated-values file (schemas/stated-values.schema.json). @throws InputError naming the JSON path of the first problem. */
export function importStatedValues(json: unknown, what = 'stated values'): StatedValuesDocument {
  check('stated-values', json, what);
  return json as StatedValuesDocument;
}
