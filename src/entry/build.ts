/**
 * `cvm-measure/build` (Node only): recipes, the reproducible build in a sandbox, the measure-and-sign
 * pipeline behind `cvm-measure build`, lock files and host requirements. Runs processes (execa) and
 * reads tarballs (tar-stream); nothing else in the package does.
 */
export { CvmError, BuildError, InputError, UsageError, VerificationError } from '../errors.js';
export {
  loadRecipe,
  parseRecipe,
  DEFAULT_RECIPE,
  type Recipe,
  type BaseSpec,
  type InputSpec,
  type SourceRef,
  type ComponentSpec,
  type CpioEntrySpec,
  type MeasureSpec,
} from '../build/recipe.js';
export { build } from '../build/orchestrate.js';
export {
  BACKEND_PREFS,
  DEFAULT_VARIATION,
  type BuildOptions,
  type BuildResult,
  type ComponentResult,
  type ProgressEvent,
  type Variation,
  type Artifact as BuildArtifact,
} from '../build/types.js';
export { loadQemuPlatform, qemuPlatformDocument, QEMU_PLATFORM_SCHEMA, type QemuPlatform, type QemuPlatformDocument } from '../build/qemu-platform.js';
export { runPipeline, type PipelineOptions, type PipelineResult } from '../build/pipeline.js';
export { checkBuild, type CheckResult, type CheckDifference } from '../build/check.js';
export { buildUkiFile, type UkiFileInputs, type UkiFileReport } from '../build/uki-file.js';
export { commandSigner } from '../sign/command-signer.js';
export { buildRecord, BUILD_TYPE, BUILDER_ID } from '../build/provenance.js';
export { LOCK_SCHEMA, lockPath, readLock, type Lock, type LockedBase } from '../build/lock.js';
export type { ResolvedInput, PinnedFile } from '../build/inputs/index.js';
export { checkRequirements, REQUIREMENTS, type Purpose, type Requirement, type RequirementStatus } from '../build/system.js';
export type { BackendPref } from '../build/sandbox/index.js';
export { publishRelease, publishAttestations, type PublishOptions, type PublishResult, type PublishAttestationsResult } from '../publish/publish.js';
export { rebuildRelease, REBUILD_VARIATION, type RebuildOptions, type RebuildResult } from '../build/rebuild.js';
export { SOURCE_DIR, writeSourceBundle, lockedBlobs, inputFile } from '../build/source-bundle.js';
export { fetchRepository, type FetchOptions, type FetchResult, type RebuildCheck } from '../publish/fetch.js';
export { serveRepository, type ServeOptions, type Serving } from '../publish/serve.js';
