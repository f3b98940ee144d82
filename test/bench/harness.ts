/**
 * Benchmark harness (`npm run bench`): each case is timed as a whole process (the built CLI or an
 * external command; rounds interleave the cases) and/or in-process (a function), median of N runs after
 * a warm-up. Not a test.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

export const CLI = resolve(import.meta.dirname, '../../dist/bin/cvm-measure.cjs');

export interface BenchCase {
  name: string;
  /** Whole-process: argv of cvm-measure (the bin executed as users run it, through its shebang) ... */
  cli?: string[];
  /** ... or of any external command (a baseline such as sha384sum or a reference tool). */
  command?: string[];
  /** In-process: the same work as a function call. */
  fn?: () => unknown;
  /** Print the whole-process ratio against this other case's name. */
  relativeTo?: string;
  runs?: number;
}

export interface BenchResult {
  name: string;
  processMs?: number;
  inProcessMs?: number;
  relativeTo?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(runs: number, f: () => unknown): Promise<number> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const runProcess = (argv: string[]) => () => execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });

/**
 * Runs the cases: whole-process timings interleaved (round k runs every case that wants a k-th run, so
 * slow drift in machine load hits all cases alike), then in-process timings case by case.
 */
export async function runCases(cases: BenchCase[], log: (name: string) => void): Promise<BenchResult[]> {
  const results = cases.map((c): BenchResult => ({ name: c.name, ...(c.relativeTo ? { relativeTo: c.relativeTo } : {}) }));
  const procs = cases.map((c) => {
    const argv = c.cli ? [CLI, ...c.cli] : c.command;
    return argv && { run: runProcess(argv), runs: c.runs ?? 7, times: [] as number[] };
  });
  for (const [i, p] of procs.entries()) {
    if (!p) continue;
    log(`${cases[i]!.name} (warm-up)`);
    p.run();
  }
  for (let round = 0; round < Math.max(0, ...procs.map((p) => p?.runs ?? 0)); round++) {
    for (const p of procs) {
      if (!p || round >= p.runs) continue;
      const t0 = performance.now();
      p.run();
      p.times.push(performance.now() - t0);
    }
  }
  for (const [i, c] of cases.entries()) {
    if (procs[i]) results[i]!.processMs = median(procs[i]!.times);
    if (c.fn) {
      log(`${c.name} (in-process)`);
      results[i]!.inProcessMs = await time(c.runs ?? 7, c.fn);
    }
  }
  return results;
}

export function report(results: BenchResult[]): string {
  const byName = new Map(results.map((r) => [r.name, r]));
  const fmt = (x?: number) => (x === undefined ? '-' : x.toFixed(1));
  const rows = results.map((r) => {
    const base = r.relativeTo ? byName.get(r.relativeTo)?.processMs : undefined;
    const ratio =
      base && r.processMs ? `${(r.processMs / base).toFixed(2)}x (${r.processMs >= base ? '+' : ''}${(r.processMs - base).toFixed(0)} ms) ${r.relativeTo}` : '';
    return [r.name, fmt(r.processMs), fmt(r.inProcessMs), ratio];
  });
  const head = ['case', 'process ms', 'in-process ms', 'ratio (process)'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
