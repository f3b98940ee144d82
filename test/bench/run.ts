/** `npm run bench [filter]`: runs every suite's cases (optionally only names containing `filter`). */
import { report, runCase, type BenchCase } from './harness.js';
import { startupCases } from './startup.js';
import { manifestCases } from './manifest.js';
import { tdxCases } from './tdx.js';
import { snpCases } from './snp.js';
import { pcrCases } from './pcr.js';
import { buildCases } from './build.js';
import { sandboxCases } from './sandbox.js';

const suites: (() => BenchCase[] | Promise<BenchCase[]>)[] = [startupCases, tdxCases, snpCases, manifestCases, pcrCases, buildCases, sandboxCases];

const filter = process.argv[2];
const results = [];
for (const suite of suites) {
  for (const c of await suite()) {
    if (filter && !c.name.includes(filter)) continue;
    process.stderr.write(`bench: ${c.name}\n`);
    results.push(await runCase(c));
  }
}
process.stdout.write(`${report(results)}\n`);
