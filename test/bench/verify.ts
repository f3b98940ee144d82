/**
 * Verify throughput (`npm run bench verify`): SNP reports/s and TDX quotes/s verified in-process with
 * the chain cached (real evidence from ../shared: the Milan v2 report with its VCEK chain, the v4 SPR
 * quote with its embedded PCK chain), each in its own process pinned to one core (taskset -c 0), next
 * to `openssl speed -seconds 3 ecdsap384 ecdsap256` pinned the same way in the same run. Rates are per
 * wall second and per CPU second; `openssl speed` divides by user CPU time (unless -elapsed), so the
 * ratio compares CPU-second rates (what a loaded machine leaves comparable).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SECONDS = 3;

function sharedDir(): string | undefined {
  const candidates = [process.env.CVM_SHARED, resolve(import.meta.dirname, '../../../shared')].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(join(p, 'fixtures/evidence')));
}

/** argv pinned to CPU 0 when taskset exists (else unpinned, and said so). */
function pinned(argv: string[]): { argv: string[]; pinned: boolean } {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return { argv: ['taskset', '-c', '0', ...argv], pinned: true };
  } catch {
    return { argv, pinned: false };
  }
}

/** stdout of argv; `quiet` drops stderr (openssl speed narrates there). */
const run = (argv: string[], quiet = false) =>
  execFileSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    cwd: resolve(import.meta.dirname, '../..'),
    stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'],
  });

/** `openssl speed` verify/s of P-384 and P-256 (the "256 bits ecdsa (nistp256)" rows' last column). */
function opensslVerify(): Record<'p256' | 'p384', number> {
  const out = run(pinned(['openssl', 'speed', '-seconds', String(SECONDS), 'ecdsap384', 'ecdsap256']).argv, true);
  const rate = (bits: number) => Number(new RegExp(`^\\s*${bits} bits ecdsa \\(nistp${bits}\\)\\s+\\S+s\\s+\\S+s\\s+\\S+\\s+(\\S+)`, 'm').exec(out)?.[1]);
  return { p256: rate(256), p384: rate(384) };
}

function verifyRate(kind: 'snp' | 'tdx' | 'p384' | 'p256', shared: string): { n: number; wallS: number; cpuS: number } {
  const loop = join(import.meta.dirname, 'verify-loop.ts');
  return JSON.parse(run(pinned([process.execPath, '--import', 'tsx', loop, kind, String(SECONDS), shared]).argv)) as { n: number; wallS: number; cpuS: number };
}

/** The throughput block `npm run bench` prints after its table. */
export function verifyThroughput(log: (name: string) => void): string {
  const shared = sharedDir();
  if (!shared) return 'verify throughput: SKIPPED (no ../shared or $CVM_SHARED)';
  const one = pinned([]).pinned ? 'one core (taskset -c 0)' : 'UNPINNED (no taskset)';
  log('verify throughput: openssl speed');
  const ssl = opensslVerify();
  const rows: string[][] = [['openssl speed ecdsap384 (raw P-384 verify)', '-', `${ssl.p384.toFixed(0)}/cpu-s`, '']];
  rows.push(['openssl speed ecdsap256 (raw P-256 verify)', '-', `${ssl.p256.toFixed(0)}/cpu-s`, '']);
  for (const [kind, what] of [
    ['p384', 'node:crypto verify, P-384'],
    ['p256', 'node:crypto verify, P-256'],
  ] as const) {
    log(`verify throughput: ${what}`);
    const r = verifyRate(kind, shared);
    rows.push([what, `${(r.n / r.wallS).toFixed(0)}/s`, `${(r.n / r.cpuS).toFixed(0)}/cpu-s`, '']);
  }
  for (const [kind, goal, what] of [
    ['snp', 1000, 'SNP reports verified (1 P-384 verify each)'],
    ['tdx', 3000, 'TDX quotes verified (2 P-256 verifies each)'],
  ] as const) {
    log(`verify throughput: ${kind}`);
    const r = verifyRate(kind, shared);
    const base = kind === 'snp' ? ssl.p384 : ssl.p256 / 2;
    const perCpu = r.n / r.cpuS;
    rows.push([
      what,
      `${(r.n / r.wallS).toFixed(0)}/s`,
      `${perCpu.toFixed(0)}/cpu-s`,
      `goal ${goal}/s; ${((perCpu / base) * 100).toFixed(0)}% of openssl's raw verify rate`,
    ]);
  }
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [
    `verify throughput, ${one}, ${SECONDS} s each (wall rate, CPU-second rate):`,
    ...rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')),
  ].join('\n');
}
