/**
 * One verify throughput measurement (started by ./verify.ts, pinned to one core): verifies the same
 * real evidence in a loop for `seconds`, the chain cached after the first round, and prints
 * {kind, n, wallS, cpuS} as JSON. cpuS counts every thread of the process (WebCrypto's pool too).
 * Kinds p384 and p256: node:crypto's bare ECDSA verify of a 672-byte message (the floor under ours).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyEvidence } from '../../src/verify/evidence.js';
import { loadCertificates } from '../../src/verify/load.js';

const [kind, seconds, shared] = process.argv.slice(2) as ['snp' | 'tdx' | 'p384' | 'p256', string, string];
const E = join(shared, 'fixtures/evidence');

/** A bare verify on `curve`, shaped like an evidence check (async, returns {ok}). */
function bare(curve: string, hash: string): () => Promise<{ ok: boolean }> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const data = new Uint8Array(672).fill(1);
  const sig = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return async () => ({ ok: verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig) });
}

const run =
  kind === 'p384'
    ? bare('secp384r1', 'sha384')
    : kind === 'p256'
      ? bare('prime256v1', 'sha256')
      : kind === 'snp'
        ? (() => {
            const report = new Uint8Array(readFileSync(join(E, 'snp-milan-v2-virtee/report.bin')));
            const certs = loadCertificates([join(E, 'snp-milan-v2-virtee/ask_ark_chain.pem'), join(E, 'snp-milan-v2-virtee/vcek.der')]);
            return () => verifyEvidence(report, { certs });
          })()
        : (() => {
            const quote = new Uint8Array(readFileSync(join(E, 'tdx-v4-spr-go-tdx-guest/quote.bin')));
            return () => verifyEvidence(quote);
          })();
if (!(await run()).ok) throw new Error(`${kind}: the evidence does not verify`);
const t0 = performance.now();
const c0 = process.cpuUsage();
let n = 0;
while (performance.now() - t0 < Number(seconds) * 1000) {
  await run();
  n++;
}
const c = process.cpuUsage(c0);
process.stdout.write(`${JSON.stringify({ kind, n, wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 })}\n`);
