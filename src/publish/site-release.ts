/**
 * A release's page (releases/<name>/<version>/index.html, no I/O): artifacts, the SEV-SNP digest
 * matrix (vCPU counts × VMM / vCPU type, one matrix per set of other knobs), TDX MRTD and RTMRs, vTPM
 * PCRs per bank with what each PCR holds, the build provenance summary, every signed file, and the
 * verifier's form (hidden until the script shows it). Values carry data-* attributes naming what
 * they are, so a reader (or a test) can take them from the DOM.
 */
import type { PcrValues, ReferenceValues, SnpValues } from '../manifest/model.js';
import { esc, keyIdHtml, page, paramsHtml, type SiteRelease } from './site-html.js';

/** What a PCR holds (TCG PC Client Platform Firmware Profile, "PCR Usage"; 8–15 as Linux boot chains use them). */
const PCR_USE: Record<string, string> = {
  '0': 'firmware code (SRTM, UEFI firmware volumes)',
  '1': 'firmware configuration (platform config, boot order)',
  '2': 'option ROMs and UEFI drivers',
  '3': 'option ROM configuration',
  '4': 'boot manager code: boot loader, UKI or kernel image',
  '5': 'boot configuration: GPT, boot variables',
  '6': 'platform manufacturer events',
  '7': 'Secure Boot policy: PK, KEK, db, dbx and the authorities used',
  '8': 'kernel command line (GRUB)',
  '9': 'initrd and files the boot loader read',
  '11': 'UKI sections (systemd-stub)',
  '12': 'kernel command line and credentials (systemd-stub)',
  '13': 'system extensions (systemd-stub)',
  '14': 'shim MOK list',
};

const SNP_AXES = ['vmm', 'vcpu.type', 'vcpu.signature'];

/** SNP entries grouped by every knob except the matrix axes (VMM, vCPU type) and the vCPU count. */
function snpGroups(snp: readonly SnpValues[]): { knobs: Record<string, unknown>; entries: SnpValues[] }[] {
  const groups = new Map<string, { knobs: Record<string, unknown>; entries: SnpValues[] }>();
  for (const s of snp) {
    const knobs = Object.fromEntries(Object.entries(s.parameters).filter(([k]) => !SNP_AXES.includes(k)));
    const key = JSON.stringify([knobs, s.origin ?? '', s.source ?? '']);
    if (!groups.has(key))
      groups.set(key, { knobs: { ...knobs, ...(s.origin ? { origin: s.origin } : {}), ...(s.source ? { source: s.source } : {}) }, entries: [] });
    groups.get(key)!.entries.push(s);
  }
  return [...groups.values()];
}

const column = (s: SnpValues) => [s.parameters.vmm ?? 'any VMM', s.parameters['vcpu.type'] ?? s.parameters['vcpu.signature'] ?? 'any vCPU'].join(' · ');

function snpHtml(snp: readonly SnpValues[]): string {
  if (snp.length === 0) return '';
  const groups = snpGroups(snp);
  const tables = groups.map((g, gi) => {
    const vcpus = [...new Set(g.entries.flatMap((e) => Object.keys(e.launchDigests).map(Number)))].sort((a, b) => a - b);
    const head = g.entries.map((e) => `<th scope="col">${esc(column(e))}</th>`).join('');
    const rows = vcpus
      .map(
        (n) =>
          `<tr><th scope="row">${n}</th>${g.entries
            .map((e) => {
              const d = e.launchDigests[String(n)];
              return `<td data-label="${esc(column(e))}">${d ? `<code class="digest" data-snp="${esc(d)}" data-vcpus="${n}" data-vmm="${esc(e.parameters.vmm ?? '')}" data-vcpu-type="${esc(e.parameters['vcpu.type'] ?? '')}">${esc(d)}</code>` : '<span class="muted">—</span>'}</td>`;
            })
            .join('')}</tr>`,
      )
      .join('\n');
    return `<div class="scroll matrix" tabindex="0" role="region" aria-label="SNP launch digests, set ${gi + 1}">
<table>
<caption>Launch digests (MEASUREMENT) by vCPU count${groups.length > 1 ? `, set ${gi + 1}` : ''}: ${paramsHtml(g.knobs)}</caption>
<thead><tr><th scope="col">vCPUs</th>${head}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>`;
  });
  return `<section aria-labelledby="snp"><h2 id="snp">AMD SEV-SNP</h2>\n${tables.join('\n')}\n</section>`;
}

function tdxHtml(rv: ReferenceValues): string {
  if (rv.tdx.length === 0) return '';
  const entries = rv.tdx.map((t, i) => {
    const rtmr = ['0', '1', '2', '3']
      .map((r) =>
        t.rtmr[r]
          ? `<tr><th scope="row">RTMR${r}</th><td><code class="digest" data-tdx="rtmr${r}" data-entry="${i}">${esc(t.rtmr[r])}</code></td></tr>`
          : `<tr><th scope="row">RTMR${r}</th><td class="muted">not predicted: ${esc(t.notPredicted[r] ?? 'not signed')}</td></tr>`,
      )
      .join('\n');
    return `<div class="scroll" tabindex="0" role="region" aria-label="TDX values ${i + 1}"><table>
<caption>${paramsHtml({ ...t.parameters, ...(t.origin ? { origin: t.origin } : {}), ...(t.source ? { source: t.source } : {}) })}</caption>
<tbody>
<tr><th scope="row">MRTD</th><td><code class="digest" data-tdx="mrtd" data-entry="${i}">${esc(t.mrtd)}</code></td></tr>
${rtmr}
</tbody></table></div>`;
  });
  return `<section aria-labelledby="tdx"><h2 id="tdx">Intel TDX</h2>\n${entries.join('\n')}\n</section>`;
}

function pcrHtml(pcr: readonly PcrValues[]): string {
  if (pcr.length === 0) return '';
  const sets = pcr.map((p, i) => {
    const banks = Object.entries(p.banks).map(
      ([bank, regs]) => `<div class="scroll" tabindex="0" role="region" aria-label="PCRs ${esc(bank)}, set ${i + 1}"><table>
<caption>${esc(bank)} bank</caption>
<thead><tr><th scope="col">PCR</th><th scope="col">Value</th><th scope="col">Depends on</th></tr></thead>
<tbody>
${Object.entries(regs)
  .sort(([a], [b]) => Number(a) - Number(b))
  .map(
    ([r, v]) =>
      `<tr><th scope="row">${esc(r)}</th><td><code class="digest" data-pcr="${esc(v)}" data-bank="${esc(bank)}" data-index="${esc(r)}" data-entry="${i}">${esc(v)}</code></td><td>${esc(PCR_USE[r] ?? 'as the boot chain uses it')}</td></tr>`,
  )
  .join('\n')}
</tbody></table></div>`,
    );
    const notPredicted = Object.entries(p.notPredicted);
    const inputs = Object.entries(p.inputs);
    return `<h3>PCR set ${i + 1}</h3>
<p>${paramsHtml({ ...p.parameters, ...(p.origin ? { origin: p.origin } : {}), ...(p.source ? { source: p.source } : {}) })}</p>
${inputs.length ? `<p>Boot files: ${inputs.map(([k, f]) => `${esc(k)} <code title="sha256 ${esc(f.sha256 ?? '')}">${esc(f.file ?? '')}</code>`).join(', ')}</p>` : ''}
${banks.join('\n')}
${notPredicted.length ? `<p>Not predicted: ${notPredicted.map(([r, why]) => `PCR ${esc(r)} (${esc(why)})`).join('; ')}</p>` : ''}`;
  });
  return `<section aria-labelledby="pcr"><h2 id="pcr">vTPM PCRs</h2>\n${sets.join('\n')}\n</section>`;
}

interface Dependency {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
}

/** The build record's summary: recipe (name, digest), base images, inputs, builder and time. */
function provenanceHtml(r: SiteRelease): string {
  const p = r.provenance as
    | {
        buildDefinition?: { externalParameters?: { recipe?: { name?: string; sha256?: string } }; resolvedDependencies?: Dependency[] };
        runDetails?: { builder?: { id?: string; version?: Record<string, string> }; metadata?: { finishedOn?: string } };
      }
    | undefined;
  const link = r.rv.buildRecord ? `<p>Signed link to the build record: sha256 <code class="digest">${esc(r.rv.buildRecord.sha256)}</code></p>` : '';
  if (!p?.buildDefinition)
    return `<section aria-labelledby="provenance"><h2 id="provenance">Build provenance</h2>${link}<p class="muted">This release carries no build record (its values were measured outside <code>cvm-measure build</code>).</p></section>`;
  const deps = p.buildDefinition.resolvedDependencies ?? [];
  const row = (d: Dependency) =>
    `<tr><th scope="row">${esc(d.name ?? '')}</th><td><code class="digest">${esc(d.digest?.sha256 ?? '')}</code>${d.uri ? `<br><span class="muted">${esc(d.uri)}</span>` : ''}</td></tr>`;
  const recipe = p.buildDefinition.externalParameters?.recipe;
  const builder = p.runDetails?.builder;
  return `<section aria-labelledby="provenance"><h2 id="provenance">Build provenance</h2>
<dl>
<dt>Recipe</dt><dd>${esc(recipe?.name ?? '?')}, sha256 <code class="digest">${esc(recipe?.sha256 ?? '?')}</code></dd>
<dt>Builder</dt><dd>${esc(builder?.id ?? '?')} ${esc(
    Object.entries(builder?.version ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  )}</dd>
${p.runDetails?.metadata?.finishedOn ? `<dt>Built</dt><dd><time datetime="${esc(p.runDetails.metadata.finishedOn)}">${esc(p.runDetails.metadata.finishedOn)}</time></dd>` : ''}
</dl>
${link}
<div class="scroll" tabindex="0" role="region" aria-label="Build inputs"><table>
<caption>Recipe, base images and inputs</caption>
<tbody>
${deps.map(row).join('\n')}
</tbody></table></div>
</section>`;
}

const ROOT = '../../../';

/** releases/<name>/<version>/index.html */
export function releasePage(r: SiteRelease): string {
  const e = r.entry;
  const id = `${e.name}@${e.version}`;
  const artifacts = r.rv.artifacts.length
    ? `<div class="scroll" tabindex="0" role="region" aria-label="Artifacts"><table>
<caption>Artifacts</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">sha256</th></tr></thead>
<tbody>
${r.rv.artifacts.map((a) => `<tr><th scope="row">${esc(a.name)}</th><td class="num">${a.size ?? ''}</td><td><code class="digest">${esc(a.sha256 ?? '')}</code></td></tr>`).join('\n')}
</tbody></table></div>`
    : '<p class="muted">No artifacts listed.</p>';
  const files = Object.entries(e.files)
    .map(
      ([n, f]) =>
        `<tr><th scope="row"><a href="${esc(n)}">${esc(n)}</a></th><td class="num">${f.size}</td><td><code class="digest">${esc(f.sha256)}</code></td></tr>`,
    )
    .join('\n');
  const body = `<h1>${esc(e.name)} <span class="version">${esc(e.version)}</span></h1>
<dl class="facts">
${e.published ? `<dt>Published</dt><dd><time datetime="${esc(e.published)}">${esc(e.published)}</time></dd>` : ''}
<dt>Reference values signed by</dt><dd>${r.signedBy.map(keyIdHtml).join(' ') || '—'}</dd>
</dl>
<nav aria-label="On this page" class="toc"><a href="#artifacts">Artifacts</a>${r.rv.snp.length ? ' <a href="#snp">SEV-SNP</a>' : ''}${r.rv.tdx.length ? ' <a href="#tdx">TDX</a>' : ''}${r.rv.pcr.length ? ' <a href="#pcr">vTPM</a>' : ''} <a href="#provenance">Provenance</a> <a href="#files">Signed files</a> <a href="#verify">Verify evidence</a></nav>
<section aria-labelledby="artifacts"><h2 id="artifacts">Artifacts</h2>
${artifacts}
</section>
${snpHtml(r.rv.snp)}
${tdxHtml(r.rv)}
${pcrHtml(r.rv.pcr)}
${provenanceHtml(r)}
<section aria-labelledby="files"><h2 id="files">Signed files</h2>
<p>Each file's sha256 and size are in the signed <a href="${ROOT}index.json">index.json</a> (signature: <a href="${ROOT}index.intoto.json">index.intoto.json</a>).</p>
<div class="scroll" tabindex="0" role="region" aria-label="Signed files"><table>
<thead><tr><th scope="col">File</th><th scope="col">Bytes</th><th scope="col">sha256</th></tr></thead>
<tbody>
${files}
</tbody></table></div>
</section>
<section aria-labelledby="verify" id="verifier" data-release="${esc(id)}" data-root="${ROOT}">
<h2 id="verify">Verify evidence</h2>
<noscript><p>Checking evidence in the page needs JavaScript. Without it: <code>cvm-measure verify EVIDENCE --reference URL#${esc(id)} --trust KEY.pem</code>.</p></noscript>
<form id="verify-form" hidden>
<p>Everything is checked in this browser; nothing is uploaded. The index signature is checked against the key you pin, then this release's signed reference values.</p>
<label for="pinned-key">Pinned repository key (PEM public key)</label>
<textarea id="pinned-key" rows="5" spellcheck="false" placeholder="-----BEGIN PUBLIC KEY-----"></textarea>
<p id="pinned-id" class="muted" aria-live="polite"></p>
<div id="drop" class="drop">
<label for="evidence">Evidence: an SNP report with its VCEK/VLEK and ASK/ARK certificates, a TDX quote (and its CCEL log), or a TPM event log with its PCR values (JSON); optionally the release's firmware for a diagnosis. Drop the files here or choose them.</label>
<input id="evidence" type="file" multiple>
</div>
</form>
<div id="verdict" role="status" aria-live="polite"></div>
</section>`;
  return page({ title: `${id} — reference values`, root: ROOT, body, script: true });
}
