/**
 * Fuzz smoke run: a few hundred mutated inputs per target through the same harness and watchdog as
 * `npm run fuzz` (docs/fuzzing.md); any untyped error, hang or RSS overrun fails the target.
 * Seeds above 4 MiB (the 10 MB UKI) are left out to keep each target to seconds.
 */
import { expect, it } from 'vitest';
import { runTarget } from './fuzz/harness.js';
import { TARGETS } from './fuzz/targets.js';
import { describeShared } from './helpers/shared.js';

const COUNT = Number(process.env.CVM_FUZZ_SMOKE ?? 200);

describeShared('fuzz smoke', () => {
  it.each(TARGETS.map((t) => t.name))('%s: no untyped error, hang or RSS overrun', async (name) => {
    // the limit is CPU time (a shared machine slows inputs down without making them hang); the wall cap is generous
    const r = await runTarget(name, { count: COUNT, timeoutMs: 2000, wallMs: 60_000, maxSeedBytes: 4 * 2 ** 20 });
    expect(r.failures.map((f) => `#${f.index} ${f.kind}: ${f.message.split('\n')[0]} (${f.mutation})`)).toEqual([]);
    expect(r.inputs).toBe(COUNT);
  });
});
