import type { BenchCase } from './harness.js';

/** CLI start-up: what every command pays before doing any work. */
export function startupCases(): BenchCase[] {
  return [
    { name: 'node -e 0 (floor)', command: [process.execPath, '-e', '0'], runs: 21 },
    // Node 20 parses NODE_EXTRA_CA_CERTS eagerly; the bin's shebang hides it (see src/util/download.ts)
    { name: 'node -e 0 without NODE_EXTRA_CA_CERTS', command: ['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'], runs: 21 },
    { name: 'cvm-measure --version', cli: ['--version'], relativeTo: 'node -e 0 (floor)', runs: 21 },
    { name: 'cvm-measure --help (declares every command)', cli: ['--help'], relativeTo: 'node -e 0 (floor)', runs: 21 },
  ];
}
