import type { BenchCase } from './harness.js';

/** CLI start-up: what every command pays before doing any work. */
export function startupCases(): BenchCase[] {
  return [
    { name: 'node -e 0 (floor)', command: [process.execPath, '-e', '0'] },
    { name: 'cvm-measure --version', cli: ['--version'], relativeTo: 'node -e 0 (floor)' },
  ];
}
