/**
 * writeSite: the repository's static site, rendered from the signed index after every publish —
 * index.html, lookup/index.html, releases/<name>/<version>/index.html, keys/<keyid>.pem (the
 * repository keys, to compare and pin) and assets/ (the page script and style `npm run build` puts in
 * dist/site/). Each file by temp + rename. The pages are a view: trust comes from the signatures.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Signer } from '../sign/signer.js';
import { parseEnvelope, strictBase64 } from '../sign/envelope.js';
import { writeFileAtomic } from '../util/fs.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { type ReleaseEntry, type RepositoryIndex, referenceValuesOf } from './index-format.js';
import { lookupsFor } from './repository.js';
import { indexPage, type LookupRow, lookupPage, type SiteRelease } from './site-html.js';
import { releasePage } from './site-release.js';

export const SITE_ASSETS = ['site.js', 'site.css'] as const;

/** The build record's SLSA predicate (a Statement or a DSSE envelope around one), or undefined. */
function provenanceOf(bytes: Buffer | undefined): unknown {
  if (!bytes) return undefined;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { payload?: unknown; predicate?: unknown };
    const st = typeof doc.payload === 'string' ? JSON.parse(new TextDecoder().decode(strictBase64(parseEnvelope(doc).payload, 'payload'))) : doc;
    return (st as { predicate?: unknown }).predicate;
  } catch {
    return undefined;
  }
}

async function siteRelease(repo: string, entry: ReleaseEntry): Promise<SiteRelease> {
  const dir = join(repo, entry.path);
  const envelope = await readFile(join(dir, 'reference-values.intoto.json'));
  const rv = referenceValuesOf(envelope, `${entry.path}/reference-values.intoto.json`);
  const signedBy = [...new Set(parseEnvelope(JSON.parse(envelope.toString('utf8'))).signatures.flatMap((s) => (s.keyid ? [s.keyid] : [])))];
  const record = entry.files['build-record.json'] ? await readFile(join(dir, 'build-record.json')) : undefined;
  const provenance = provenanceOf(record);
  return { entry, rv, signedBy, ...(provenance === undefined ? {} : { provenance }) };
}

/**
 * Renders and writes the site for `index` (already signed and written) into `repo`.
 * @throws {InputError} when the page assets are missing (run `npm run build`) or a release's reference values cannot be read.
 */
export async function writeSite(repo: string, index: RepositoryIndex, signers: readonly Signer[]): Promise<void> {
  const assets = await Promise.all(
    SITE_ASSETS.map((n) =>
      readFile(join(PACKAGE_ROOT, 'dist', 'site', n)).catch(() => {
        throw new InputError(`dist/site/${n} is missing: the repository pages need the built page assets (npm run build)`);
      }),
    ),
  );
  const releases = await Promise.all(index.releases.map((e) => siteRelease(repo, e)));
  const keys = signers.map((s) => ({ keyId: s.keyId, pem: s.publicKey.export({ type: 'spki', format: 'pem' }).toString() }));
  const rows: LookupRow[] = releases.flatMap((r) =>
    lookupsFor(r.rv).map((l) => ({ platform: l.platform, value: l.value, parameters: l.parameters, name: r.entry.name, version: r.entry.version })),
  );
  for (const [i, n] of SITE_ASSETS.entries()) await writeFileAtomic(join(repo, 'assets', n), assets[i]!);
  for (const k of keys) await writeFileAtomic(join(repo, 'keys', `${k.keyId}.pem`), k.pem);
  for (const r of releases) await writeFileAtomic(join(repo, r.entry.path, 'index.html'), releasePage(r));
  await writeFileAtomic(join(repo, 'lookup', 'index.html'), lookupPage(rows));
  await writeFileAtomic(join(repo, 'index.html'), indexPage(index, releases, keys));
}
