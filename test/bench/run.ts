/** `npm run bench [filter]`: runs every suite's cases (optionally only names containing `filter`). */
import { report, runCases, type BenchCase } from './harness.js';
import { startupCases } from './startup.js';
import { manifestCases } from './manifest.js';
import { tdxCases } from './tdx.js';
import { snpCases } from './snp.js';
import { pcrCases } from './pcr.js';
import { buildCases } from './build.js';
import { sandboxCases } from './sandbox.js';
import { verifyThroughput } from './verify.js';

const suites: (() => BenchCase[] | Promise<BenchCase[]>)[] = [startupCases, tdxCases, snpCases, manifestCases, pcrCases, buildCases, sandboxCases];

const filter = process.argv[2];
const cases: BenchCase[] = [];
for (const suite of suites) cases.push(...(await suite()).filter((c) => !filter || c.name.includes(filter)));
const results = await runCases(cases, (name) => process.stderr.write(`bench: ${name}\n`));
process.stdout.write(`${report(results)}\n`);
if (!filter || 'verify throughput'.includes(filter)) process.stdout.write(`\n${verifyThroughput((name) => process.stderr.write(`bench: ${name}\n`))}\n`);
