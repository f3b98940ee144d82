/**
 * `npm run fuzz [-- options]`: in-process mutation fuzzing of every parser and measure entry point
 * (targets in test/fuzz/targets.ts), each input under a watchdog (time limit, RSS bound). See
 * docs/fuzzing.md.
 *
 *   --count N        mutated inputs per target (default 10000)
 *   --target a,b     only these targets (default all)
 *   --campaign N     campaign seed (default 1)
 *   --timeout MS     per-input CPU-time limit (default 2000)
 *   --wall MS        per-input wall-clock cap (default 15 × --timeout)
 *   --rss MIB        RSS bound (default 256)
 *   --max-seed-bytes N  leave out larger seeds (at least one kept per target)
 *   --out DIR        reproducers (default fuzz-findings)
 *   --json FILE      write the results as JSON
 *   --repro FILE     run one saved input in this process (with --target) and print what it throws
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isCvmError } from '../src/errors.js';
import { runTarget, type FuzzResult } from '../test/fuzz/harness.js';
import { target, TARGETS } from '../test/fuzz/targets.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    target: { type: 'string' },
    campaign: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '2000' },
    wall: { type: 'string' },
    rss: { type: 'string', default: '256' },
    'max-seed-bytes': { type: 'string' },
    out: { type: 'string', default: 'fuzz-findings' },
    json: { type: 'string' },
    repro: { type: 'string' },
  },
});

const names = values.target ? values.target.split(',') : TARGETS.map((t) => t.name);

if (values.repro) {
  const t0 = Date.now();
  try {
    await target(names[0]!).run(new Uint8Array(readFileSync(values.repro)));
    console.log(`${names[0]}: accepted in ${Date.now() - t0} ms`);
  } catch (e) {
    console.log(`${names[0]}: ${isCvmError(e) ? 'typed' : 'UNTYPED'} error after ${Date.now() - t0} ms`);
    console.log(e);
  }
  process.exit(0);
}

const results: FuzzResult[] = [];
for (const name of names) {
  target(name);
  process.stderr.write(`${name}: ${values.count} inputs\n`);
  const r = await runTarget(name, {
    count: Number(values.count),
    campaign: Number(values.campaign),
    timeoutMs: Number(values.timeout),
    ...(values.wall ? { wallMs: Number(values.wall) } : {}),
    rssMiB: Number(values.rss),
    ...(values['max-seed-bytes'] ? { maxSeedBytes: Number(values['max-seed-bytes']) } : {}),
    outDir: values.out,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  results.push(r);
  const count = (k: string) => r.failures.filter((f) => f.kind === k).length;
  console.log(
    `${name.padEnd(18)} inputs ${r.inputs}  accepted ${r.ok}  typed ${r.typed}  untyped ${count('untyped')}  hangs ${count('hang')}  rss ${count('rss')}  crashes ${count('crash')}  peak ${r.peakRssMiB} MiB  ${(r.ms / 1000).toFixed(0)} s`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), options: values, results }, null, 2)}\n`);
}
process.exit(results.some((r) => r.failures.length > 0) ? 1 : 0);
