/**
 * Sandbox start-up cost: one `true` step per usable backend on the (cached) minimal test rootfs, in
 * process, so the number is what every build step pays on top of its own work.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchCase } from './harness.js';
import { BACKEND_ORDER, probeBackend, sandboxEnv, selectSandbox } from '../../src/build/sandbox/index.js';
import { rootfsUnavailable, testRootfs } from '../sandbox.fixture.js';

export async function sandboxCases(): Promise<BenchCase[]> {
  if (await rootfsUnavailable()) return [];
  const { dir: rootfs } = await testRootfs();
  const work = await mkdtemp(join(tmpdir(), 'cvm-bench-sandbox-'));
  const cases: BenchCase[] = [];
  for (const b of BACKEND_ORDER) {
    if ((await probeBackend(b.name)) !== undefined) continue;
    const sb = await selectSandbox(b.name);
    cases.push({
      name: `sandbox ${b.name}: one empty step (true)`,
      runs: 5,
      fn: () =>
        sb.run({
          rootfs,
          binds: [{ source: work, target: '/out', writable: true }],
          env: sandboxEnv({ sourceDateEpoch: 1_700_000_000, jobs: 1, home: '/out' }),
          argv: ['/bin/true'],
          cwd: '/out',
          umask: 0o022,
          logFile: join(work, 'log'),
        }),
    });
  }
  return cases;
}
