/**
 * The release page's verifier: the user pins the repository key (kept in localStorage, its key id
 * shown), drops evidence; the page fetches the signed index and the release's reference values from
 * its own repository, checks them against the pinned key, and verifies the evidence with
 * `cvm-measure/verify` — all in the browser; nothing is uploaded.
 */
import { checkReleaseFile, INDEX_ENVELOPE, INDEX_FILE, referenceValuesOf } from '../publish/index-format.js';
import { esc } from '../publish/site-html.js';
import { verifyEvidence } from '../verify/evidence.js';
import { type PinnedKey, pinKey, verifyRepositoryIndex } from '../verify/repository.js';
import { type DroppedFile, sortDropped } from './evidence-files.js';
import { type Row, verdictHtml } from './verdict.js';

const STORE = 'cvm-measure.pinned-key';
const RV_FILE = 'reference-values.intoto.json';

async function get(url: string): Promise<Uint8Array> {
  const r = await fetch(url, { cache: 'no-cache' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Repository checks, then the evidence; every failure becomes a failed row, never an exception. */
async function run(section: HTMLElement, pinned: PinnedKey, files: DroppedFile[]): Promise<string> {
  const root = section.dataset.root ?? '';
  const id = section.dataset.release ?? '';
  const rows: Row[] = [];
  const fail = (name: string, e: unknown) => verdictHtml(id, [...rows, { name, ok: false, actual: (e as Error).message }]);
  let dropped: ReturnType<typeof sortDropped>;
  try {
    dropped = sortDropped(files);
  } catch (e) {
    return fail('evidence files', e);
  }
  let index: Awaited<ReturnType<typeof verifyRepositoryIndex>>;
  try {
    const [ib, eb] = await Promise.all([get(root + INDEX_FILE), get(root + INDEX_ENVELOPE)]);
    index = await verifyRepositoryIndex(ib, eb, [pinned]);
    rows.push({ name: 'repository index signature', ok: true, expected: `key ${pinned.keyId}`, actual: `index version ${index.index.version}` });
  } catch (e) {
    return fail('repository index signature', e);
  }
  const entry = index.index.releases.find((r) => `${r.name}@${r.version}` === id);
  if (!entry) return fail('release in the signed index', new Error(`${id} is not in the signed index`));
  let reference: ReturnType<typeof referenceValuesOf>;
  try {
    const bytes = await get(`${root}${entry.path}/${RV_FILE}`);
    checkReleaseFile(entry, RV_FILE, bytes);
    reference = referenceValuesOf(bytes, `${entry.path}/${RV_FILE}`);
    rows.push({ name: 'release reference values signed by the index', ok: true, actual: `${entry.path}/${RV_FILE}` });
  } catch (e) {
    return fail('release reference values signed by the index', e);
  }
  try {
    const result = await verifyEvidence(dropped.evidence.bytes, {
      certs: dropped.certs,
      reference,
      ...(dropped.pcrs ? { pcrs: dropped.pcrs } : {}),
      ...(dropped.ccel ? { ccel: dropped.ccel } : {}),
      ...(dropped.firmware ? { firmware: dropped.firmware } : {}),
    });
    return verdictHtml(`${dropped.evidence.name} against ${id}`, rows, result);
  } catch (e) {
    return fail(`evidence ${dropped.evidence.name}`, e);
  }
}

/** Shows the form (hidden for readers without JavaScript) and wires key pinning and file drops. */
export function setUpVerifier(section: HTMLElement): void {
  const form = section.querySelector<HTMLFormElement>('#verify-form')!;
  const key = section.querySelector<HTMLTextAreaElement>('#pinned-key')!;
  const keyInfo = section.querySelector<HTMLElement>('#pinned-id')!;
  const input = section.querySelector<HTMLInputElement>('#evidence')!;
  const drop = section.querySelector<HTMLElement>('#drop')!;
  const verdict = section.querySelector<HTMLElement>('#verdict')!;
  form.hidden = false;
  form.addEventListener('submit', (e) => e.preventDefault());
  let pinned: PinnedKey | undefined;
  const pin = () => {
    pinned = undefined;
    if (key.value.trim() === '') {
      keyInfo.textContent = 'No key pinned.';
      return;
    }
    try {
      pinned = pinKey(key.value);
      localStorage.setItem(STORE, key.value);
      keyInfo.innerHTML = `Pinned key id <code class="keyid-full" data-pinned="${esc(pinned.keyId)}">${esc(pinned.keyId)}</code>`;
    } catch (e) {
      keyInfo.textContent = (e as Error).message;
    }
  };
  key.value = localStorage.getItem(STORE) ?? '';
  key.addEventListener('input', pin);
  pin();
  const verify = async (list: FileList | null) => {
    if (!list || list.length === 0) return;
    if (!pinned) {
      verdict.innerHTML = '<p class="fail">Pin the repository key first: paste its PEM public key above.</p>';
      return;
    }
    verdict.innerHTML = '<p>Checking…</p>';
    const files = await Promise.all([...list].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    verdict.innerHTML = await run(section, pinned, files);
    verdict.querySelector<HTMLElement>('.verdict')?.focus();
  };
  input.addEventListener('change', () => void verify(input.files));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void verify(e.dataTransfer?.files ?? null);
  });
}
