/**
 * The repository's static site as HTML text (no I/O): the page frame, the index of releases and the
 * lookup page. Plain semantic HTML that reads without JavaScript; the one script (assets/site.js)
 * only adds the verifier and the lookup filter. Every value comes from the signed index and the
 * releases' signed reference values; every text is escaped.
 */
import type { ReferenceValues } from '../manifest/model.js';
import type { ReleaseEntry, RepositoryIndex } from './index-format.js';

/** A release as the site shows it: its index entry, its reference values and who signed them. */
export interface SiteRelease {
  entry: ReleaseEntry;
  rv: ReferenceValues;
  /** Key ids on the release's reference-values.intoto.json. */
  signedBy: string[];
  /** The build record (SLSA provenance predicate) when the release carries one. */
  provenance?: unknown;
}

/** A lookup row: a measurement and the release that carries it. */
export interface LookupRow {
  platform: 'snp' | 'tdx' | 'pcr';
  value: string;
  parameters: Record<string, unknown>;
  name: string;
  version: string;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text or attribute value, escaped. */
export const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ESC[c]!);

/** Key id, shortened for reading, whole in the title and for copying. */
export const keyIdHtml = (id: string) => `<code class="keyid" title="${esc(id)}">${esc(id.slice(0, 16))}…</code>`;

/** Parameters as `k=v` chips. */
export const paramsHtml = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `<span class="param">${esc(k)}=${esc(v)}</span>`)
    .join(' ') || '<span class="muted">none</span>';

/** Link to a release page from the site root. */
export const releaseHref = (e: Pick<ReleaseEntry, 'path'>) => `${e.path}/`;

/** The page frame: `root` is the relative path back to the site root ('' or '../../../'). */
export function page(o: { title: string; root: string; body: string; script?: boolean; current?: 'index' | 'lookup' }): string {
  const nav = (href: string, label: string, key: 'index' | 'lookup') =>
    `<a href="${o.root}${href}"${o.current === key ? ' aria-current="page"' : ''}>${label}</a>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${esc(o.title)}</title>
<link rel="stylesheet" href="${o.root}assets/site.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Site">${nav('', 'Releases', 'index')} ${nav('lookup/', 'Look up a measurement', 'lookup')}</nav></header>
<main id="main">
${o.body}
</main>
<footer><p>Static pages written by <code>cvm-measure publish</code> from the signed index (<a href="${o.root}index.json">index.json</a>, <a href="${o.root}index.intoto.json">index.intoto.json</a>). Trust comes from the signatures, not from this page.</p></footer>
${o.script ? `<script src="${o.root}assets/site.js" defer></script>\n` : ''}</body>
</html>
`;
}

/** Distinct key ids that confirmed the release by rebuilding it (verdict match). */
export function confirmations(e: ReleaseEntry): number | undefined {
  if (!e.attestations) return undefined;
  return new Set(e.attestations.filter((a) => a.verdict === 'match').map((a) => a.keyid)).size;
}

function platforms(rv: ReferenceValues): string {
  const snp = rv.snp.reduce((n, s) => n + Object.keys(s.launchDigests).length, 0);
  const pcr = rv.pcr.reduce((n, p) => n + Object.values(p.banks).reduce((m, b) => m + Object.keys(b).length, 0), 0);
  const parts = [
    snp && `SNP: ${snp} digest${snp === 1 ? '' : 's'}`,
    rv.tdx.length && `TDX: ${rv.tdx.length} MRTD`,
    pcr && `vTPM: ${pcr} PCR value${pcr === 1 ? '' : 's'}`,
  ];
  return parts.filter(Boolean).join('<br>') || '<span class="muted">artifacts only</span>';
}

/** The key list with each public key's PEM (copyable) and its file. */
export function keysHtml(keys: readonly { keyId: string; pem: string }[], root: string): string {
  return keys
    .map(
      (k) =>
        `<div class="key"><p>Key id <code class="keyid-full">${esc(k.keyId)}</code> (<a href="${root}keys/${esc(k.keyId)}.pem">PEM file</a>)</p><pre class="pem" tabindex="0" aria-label="public key ${esc(k.keyId.slice(0, 16))}">${esc(k.pem.trim())}</pre></div>`,
    )
    .join('\n');
}

/** index.html: every release, newest first. */
export function indexPage(index: RepositoryIndex, releases: readonly SiteRelease[], keys: readonly { keyId: string; pem: string }[]): string {
  const rows = [...releases]
    .reverse()
    .map((r) => {
      const e = r.entry;
      const c = confirmations(e);
      return `<tr data-release="${esc(`${e.name}@${e.version}`)}">
<th scope="row"><a href="${esc(releaseHref(e))}">${esc(e.name)}</a></th>
<td>${esc(e.version)}</td>
<td>${e.published ? `<time datetime="${esc(e.published)}">${esc(e.published.slice(0, 10))}</time>` : '<span class="muted">—</span>'}</td>
<td>${platforms(r.rv)}</td>
<td>${r.signedBy.map(keyIdHtml).join('<br>') || '<span class="muted">—</span>'}</td>
<td class="num" data-confirmations="${c ?? ''}">${c === undefined ? '—' : c}</td>
</tr>`;
    })
    .join('\n');
  const body = `<h1>Reference values</h1>
<p>Index version ${index.version}, signed ${esc(index.timestamp)}. ${releases.length} release${releases.length === 1 ? '' : 's'}.</p>
<div class="scroll" tabindex="0" role="region" aria-label="Releases">
<table class="releases">
<caption>Releases, newest first</caption>
<thead><tr><th scope="col">Release</th><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Measures</th><th scope="col">Manifest signed by</th><th scope="col">Rebuild confirmations</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>
<h2>Repository signing key${keys.length === 1 ? '' : 's'}</h2>
<p>The index is signed with ${keys.length === 1 ? 'this key' : 'these keys'}. Compare the key id with one you got another way before you pin it in a verifier.</p>
${keysHtml(keys, '')}`;
  return page({ title: 'Reference values', root: '', body, current: 'index' });
}

/** lookup/index.html: every measurement of every release (so it works without JavaScript); the script filters it. */
export function lookupPage(rows: readonly LookupRow[]): string {
  const root = '../';
  const PLATFORM = { snp: 'SEV-SNP launch digest', tdx: 'TDX MRTD', pcr: 'vTPM PCR' } as const;
  const body = `<h1>Look up a measurement</h1>
<form id="lookup" class="lookup" hidden>
<label for="lookup-value">SNP launch digest, TDX MRTD or PCR value (hex)</label>
<input id="lookup-value" name="value" type="search" spellcheck="false" autocomplete="off" inputmode="latin">
<p id="lookup-result" role="status" aria-live="polite"></p>
</form>
<noscript><p>Without JavaScript, search this page for the value (Ctrl+F / ⌘F): every measurement of every release is listed below.</p></noscript>
<div class="scroll" tabindex="0" role="region" aria-label="Measurements">
<table class="lookup-table">
<caption>${rows.length} measurement${rows.length === 1 ? '' : 's'} and the releases that carry them</caption>
<thead><tr><th scope="col">Value</th><th scope="col">Kind</th><th scope="col">Release</th><th scope="col">Parameters</th></tr></thead>
<tbody>
${rows
  .map(
    (r) =>
      `<tr data-value="${esc(r.value)}"><td><code class="digest">${esc(r.value)}</code></td><td>${PLATFORM[r.platform]}</td><td><a href="${root}releases/${esc(r.name)}/${esc(r.version)}/">${esc(r.name)}@${esc(r.version)}</a></td><td>${paramsHtml(r.parameters)}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>
</div>`;
  return page({ title: 'Look up a measurement', root, body, script: true, current: 'lookup' });
}
