/**
 * Identifiers cvm-measure mints are tag URIs under one prefix (docs/identifiers.md); the retired
 * https placeholders are refused when read, naming the old identifier.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_TYPE, BUILDER_ID } from '../src/build/provenance.js';
import { createManifest } from '../src/manifest/create.js';
import { REFERENCE_VALUES_PREDICATE, STATEMENT_V1, SLSA_PROVENANCE_V1, TAG_PREFIX } from '../src/manifest/intoto.js';
import { verifyManifest } from '../src/manifest/verify.js';
import { INDEX_PREDICATE, REPOSITORY_SCHEMA, signIndex, verifyIndex } from '../src/publish/repository.js';
import { canonicalJson } from '../src/sign/canonical-json.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../src/sign/dsse.js';
import { generateKey, parsePrivateKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { ROOT } from './helpers/shared.js';

const IDS = { REFERENCE_VALUES_PREDICATE, INDEX_PREDICATE, BUILD_TYPE, BUILDER_ID };
const OLD = 'https://cvm-measure.dev/';
const pem = generateKey('ed25519').privatePem;
const signer = localSigner(parsePrivateKey(pem, 'ed25519'));
const trusted = [createPublicKey(pem)];
const statement = (predicateType: string, predicate: unknown) =>
  Buffer.from(canonicalJson({ _type: STATEMENT_V1, subject: [{ name: 'x', digest: { sha256: '00'.repeat(32) } }], predicateType, predicate }));

describe('identifiers', () => {
  it('every minted identifier is a tag URI under TAG_PREFIX and is listed in docs/identifiers.md', () => {
    expect(TAG_PREFIX).toMatch(/^tag:[^,@]+@[^,]+,\d{4}-\d{2}:cvm-measure\/$/);
    const doc = readFileSync(join(ROOT, 'docs/identifiers.md'), 'utf8');
    for (const [name, id] of Object.entries(IDS)) {
      expect(id.startsWith(TAG_PREFIX), name).toBe(true);
      expect(doc, name).toContain(`\`${id.slice(TAG_PREFIX.length)}\``);
      expect(doc, name).toContain(name);
    }
    expect(doc).toContain(TAG_PREFIX);
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/build-record.schema.json'), 'utf8'));
    expect(schema.properties.predicate.properties.buildDefinition.properties.buildType.const).toBe(BUILD_TYPE);
  });

  it.each(['reference-values/v1', 'repository/v1'])('a DSSE Statement with the retired predicateType %s is refused, naming it', async (rest) => {
    const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, statement(OLD + rest, {}), [signer]);
    expect(() => verifyManifest(Buffer.from(JSON.stringify(env)), { trusted })).toThrow(
      `DSSE payload: predicateType ${OLD}${rest} is a retired placeholder identifier`,
    );
  });

  it('a repository index signed under the retired predicate is refused', async () => {
    const index = Buffer.from(canonicalJson({ schema: REPOSITORY_SCHEMA, version: 1, timestamp: '2026-12-01T00:00:00Z', releases: [] }));
    expect(verifyIndex(index, await signIndex(index, 1, [signer]), trusted).keyIds).toEqual([signer.keyId]);
    const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, statement(`${OLD}repository/v1`, { version: 1 }), [signer]);
    expect(() => verifyIndex(index, Buffer.from(JSON.stringify(env)), trusted)).toThrow(`${OLD}repository/v1 is a retired placeholder`);
  });

  it.each([
    ['buildType', `${OLD}build/recipe/v1`, BUILDER_ID],
    ['builder.id', BUILD_TYPE, `${OLD}builder/v1`],
  ])('a build record whose %s is a retired identifier is refused', async (field, buildType, id) => {
    const record = {
      _type: STATEMENT_V1,
      subject: [{ name: 'x', digest: { sha256: '00'.repeat(32) } }],
      predicateType: SLSA_PROVENANCE_V1,
      predicate: { buildDefinition: { buildType, externalParameters: {} }, runDetails: { builder: { id } } },
    };
    const stated = {
      schema: 'cvm-measure/stated-values/v1' as const,
      values: [{ platform: 'tdx' as const, origin: 'stated' as const, source: 't', mrtd: 'ab'.repeat(48) }],
    };
    await expect(createManifest({ stated, buildRecord: record, signer, outDir: '/nonexistent' })).rejects.toThrow(
      `build record: ${field} ${field === 'buildType' ? buildType : id} is a retired placeholder identifier`,
    );
  });
});
