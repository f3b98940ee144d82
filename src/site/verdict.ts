/**
 * The verifier's verdict as HTML: one line saying verified or not, then a row per field — the
 * repository signature, the release's signed files, the evidence signature and chain, every check with
 * what was expected and what the evidence holds — then the matching release entry or the diagnosis.
 */
import { esc, paramsHtml } from '../publish/site-html.js';
import type { VerifyEvidenceResult } from '../verify/result.js';

export interface Row {
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
}

const row = (r: Row) =>
  `<tr data-check="${esc(r.name)}" data-ok="${r.ok}"><td>${r.ok ? '<span class="pass">✓ passed</span>' : '<span class="fail">✗ failed</span>'}</td><th scope="row">${esc(r.name)}</th><td>${r.expected === undefined ? '' : `<code class="digest">${esc(r.expected)}</code>`}</td><td>${r.actual === undefined ? '' : `<code class="digest">${esc(r.actual)}</code>`}</td></tr>`;

/** The verdict for `rows` (repository checks) and `result` (the evidence; absent when a repository check failed first). */
export function verdictHtml(title: string, rows: readonly Row[], result?: VerifyEvidenceResult): string {
  const all: Row[] = [...rows];
  if (result?.signature) all.push({ name: 'evidence signature', ok: result.signature.ok, actual: result.signature.signer });
  if (result?.chain) all.push({ name: 'certificate chain', ok: result.chain.ok, ...(result.chain.product ? { actual: result.chain.product } : {}) });
  all.push(...(result?.checks ?? []));
  const ok = result?.ok === true && all.every((r) => r.ok);
  const failed = all.filter((r) => !r.ok).map((r) => r.name);
  const match = result?.match
    ? `<p>Matches the release entry ${paramsHtml({ ...result.match.parameters, ...(result.match.vcpus ? { vcpus: result.match.vcpus } : {}) })}.</p>`
    : '';
  const d = result?.diagnosis;
  const diagnosis = d
    ? `<h4>Diagnosis</h4><p>${d.found ? `Reproduced with ${paramsHtml(d.found)}.` : 'No knob combination reproduces it.'} Searched: ${esc(d.searched)}</p>${d.differences.length ? `<ul>${d.differences.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}`
    : '';
  return `<h3 class="verdict ${ok ? 'ok' : 'bad'}" data-verdict="${ok ? 'verified' : 'failed'}" tabindex="-1">${ok ? '✓ verified' : '✗ not verified'}: ${esc(title)}</h3>
${ok ? '' : `<p>Failed: ${failed.map(esc).join('; ') || 'see below'}</p>`}
<div class="scroll" tabindex="0" role="region" aria-label="Checks"><table class="checks">
<thead><tr><th scope="col">Result</th><th scope="col">Check</th><th scope="col">Expected</th><th scope="col">Evidence</th></tr></thead>
<tbody>
${all.map(row).join('\n')}
</tbody></table></div>
${match}${diagnosis}`;
}
