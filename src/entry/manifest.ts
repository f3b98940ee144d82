/**
 * `cvm-measure/manifest`: the reference-values model and its signed encodings — CoRIM, in-toto
 * statements in DSSE, RVPS messages — plus creating, verifying and inspecting manifests.
 */
export { CvmError, InputError, FormatError, VerificationError } from '../errors.js';
export { importMeasurements, importReferenceValues, importStatedValues } from '../manifest/import.js';
export {
  referenceValuesFrom,
  canonicalReferenceValues,
  REFERENCE_VALUES_SCHEMA,
  MEASUREMENTS_SCHEMA,
  STATED_VALUES_SCHEMA,
  SNP_SIGNED,
  TDX_SIGNED,
  PCR_SIGNED,
  type MeasurementsDocument,
  type StatedValuesDocument,
  type ReferenceValues,
  type SnpValues,
  type TdxValues,
  type PcrValues,
  type Artifact,
} from '../manifest/model.js';
export {
  corimFor,
  signCorim,
  readCorim,
  SNP_PROFILES,
  type SnpProfile,
  type CorimOptions,
  type CorimSummary,
  type CorimReferenceValue,
  type Platform,
} from '../manifest/corim.js';
export {
  referenceValuesStatement,
  checkStatement,
  STATEMENT_V1,
  SLSA_PROVENANCE_V1,
  REFERENCE_VALUES_PREDICATE,
  TAG_PREFIX,
  type Statement,
} from '../manifest/intoto.js';
export { rvpsValues, rvpsSampleMessage, rvpsCorimMessage, type RvpsMessage } from '../manifest/rvps.js';
export {
  createManifest,
  MANIFEST_FORMATS,
  type CreateManifestOptions,
  type CreatedManifest,
  type ManifestFormat,
  type ManifestFile,
} from '../manifest/create.js';
export { verifyManifest, verifyCorim, verifyDsse, type VerifyOptions, type VerifyResult } from '../manifest/verify.js';
export { inspectManifest, inspectText, type Inspection } from '../manifest/inspect.js';
