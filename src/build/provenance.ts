/**
 * The build record: an in-toto Statement v1 (intoto-spec statement.md) whose subjects are the
 * artifacts and whose predicate is SLSA provenance v1 (intoto-spec provenance.proto:
 * buildDefinition {buildType, externalParameters, internalParameters, resolvedDependencies},
 * runDetails {builder, metadata, byproducts}). ResourceDescriptors per resource_descriptor.md.
 */
import { relative } from 'node:path';
import { SLSA_PROVENANCE_V1, STATEMENT_V1, TAG_PREFIX, type Statement } from '../manifest/intoto.js';
import { packageVersion } from '../util/package.js';
import { inputUri } from './inputs/index.js';
import type { BuildResult } from './types.js';

export const BUILD_TYPE = `${TAG_PREFIX}build/recipe/v1`;
export const BUILDER_ID = `${TAG_PREFIX}builder/v1`;

interface ResourceDescriptor {
  name: string;
  uri?: string;
  digest: Record<string, string>;
  annotations?: Record<string, unknown>;
}

/** The SLSA v1 provenance Statement of a build: recipe, bases and inputs as dependencies, artifacts as subjects. */
export function buildRecord(r: BuildResult, invocationId: string): Statement {
  const version = packageVersion();
  const deps: ResourceDescriptor[] = [{ name: `recipe:${relative(process.cwd(), r.recipe.path) || r.recipe.path}`, digest: { sha256: r.recipe.sha256 } }];
  for (const b of r.bases) {
    deps.push({
      name: `base:${b.suite}/${b.variant}`,
      digest: { sha256: b.sha256 },
      annotations: { tool: 'mmdebstrap', include: b.include, sourceDateEpoch: r.recipe.sourceDateEpoch },
    });
  }
  for (const [name, i] of Object.entries(r.inputs).sort(([a], [b]) => a.localeCompare(b))) {
    const uri = inputUri(i);
    deps.push({ name: `input:${name}`, ...(uri ? { uri } : {}), digest: { sha256: i.sha256 }, annotations: { kind: i.kind, ref: i.ref } });
    for (const f of i.files?.slice(1) ?? []) deps.push({ name: `input:${name}/${f.name}`, digest: { sha256: f.sha256 } });
  }
  return {
    _type: STATEMENT_V1,
    subject: r.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256, sha384: a.sha384 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: { recipe: { name: r.recipe.name, sha256: r.recipe.sha256 }, components: Object.keys(r.recipe.components) },
        internalParameters: {
          sourceDateEpoch: r.recipe.sourceDateEpoch,
          env: r.env,
          backend: r.backend ?? null,
          jobs: r.jobs,
          components: r.components.map((c) => {
            const spec = r.recipe.components[c.name]!;
            return { name: c.name, type: c.type, cacheKey: c.key, cached: c.cached, ...(spec.type === 'run' ? { env: spec.env } : {}) };
          }),
        },
        resolvedDependencies: deps,
      },
      runDetails: {
        builder: { id: BUILDER_ID, version: { 'cvm-measure': version, node: process.version } },
        metadata: { invocationId, startedOn: r.startedOn.toISOString(), finishedOn: r.finishedOn.toISOString() },
        byproducts: r.components.filter((c) => c.type === 'run' && !c.cached).map((c) => ({ name: `log:${c.name}`, uri: `logs/${c.name}.log` })),
      },
    },
  };
}
