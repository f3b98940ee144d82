/**
 * Fuzz harness (parent side): runs a target's mutated inputs in a child process (worker.ts) under a
 * watchdog. An input fails when it throws anything but our typed errors (CvmError), spends more CPU
 * time than the limit or waits past the wall-clock cap (the child is killed: a hang), or pushes the
 * child's RSS past the bound (polled from /proc/<pid>/stat[m] while it runs, and the child's peak RSS
 * after it). The limit is CPU time so that a busy machine does not turn slow inputs into hangs. Each failing input is saved
 * as a reproducer (bytes + JSON description) and the child restarted after it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inputOf, loadSeeds, type RunRequest, type WorkerMessage } from './worker.js';

export interface FuzzOptions {
  /** Mutated inputs for the target. */
  count: number;
  /** Campaign seed (input i of a target is the same bytes for the same campaign). */
  campaign?: number;
  /** Per-input CPU-time limit of the child (default 2 s). */
  timeoutMs?: number;
  /** Per-input wall-clock cap, for inputs that block instead of compute (default 15 × timeoutMs). */
  wallMs?: number;
  /** RSS bound of the child process (default 256 MiB). */
  rssMiB?: number;
  /** Seeds larger than this are left out (at least one seed is kept). */
  maxSeedBytes?: number;
  /** Where reproducers go; none saved when absent. */
  outDir?: string;
  /** Progress lines (e.g. process.stderr.write). */
  log?: (line: string) => void;
}

export type FailureKind = 'untyped' | 'hang' | 'rss' | 'crash';

export interface Failure {
  index: number;
  kind: FailureKind;
  message: string;
  mutation: string;
  reproducer?: string;
}

export interface FuzzResult {
  target: string;
  inputs: number;
  /** Accepted inputs / inputs refused with a typed error. */
  ok: number;
  typed: number;
  failures: Failure[];
  peakRssMiB: number;
  ms: number;
}

const WORKER = join(import.meta.dirname, 'worker.ts');
const PAGE = 4096;

/** /proc exposes CPU times in USER_HZ, which is 100 on every Linux architecture. */
const USER_HZ = 100;

function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]) * PAGE;
  } catch {
    return 0;
  }
}

/** utime + stime of a process in ms (proc(5): fields 14 and 15, counted after the ")" of comm). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}

export async function runTarget(name: string, o: FuzzOptions): Promise<FuzzResult> {
  const campaign = o.campaign ?? 1;
  const timeoutMs = o.timeoutMs ?? 2000;
  const wallMs = o.wallMs ?? 15 * timeoutMs;
  const rssBytes = (o.rssMiB ?? 256) * 1024 * 1024;
  const maxSeedBytes = o.maxSeedBytes ?? Number.MAX_SAFE_INTEGER;
  const seeds = await loadSeeds(name, maxSeedBytes);
  const result: FuzzResult = { target: name, inputs: 0, ok: 0, typed: 0, failures: [], peakRssMiB: 0, ms: 0 };
  const t0 = Date.now();
  const fail = (index: number, kind: FailureKind, message: string) => {
    const m = inputOf(name, campaign, index, seeds);
    const f: Failure = { index, kind, message, mutation: m.description };
    if (o.outDir) {
      mkdirSync(o.outDir, { recursive: true });
      f.reproducer = join(o.outDir, `${name}-${campaign}-${index}.bin`);
      writeFileSync(f.reproducer, m.bytes);
      writeFileSync(`${f.reproducer}.json`, `${JSON.stringify({ target: name, campaign, ...f }, null, 2)}\n`);
    }
    result.failures.push(f);
    o.log?.(`  ${name} #${index}: ${kind}: ${message.split('\n')[0]} (${m.description})`);
  };

  let next = 0;
  while (next < o.count) {
    next = await new Promise<number>((resolveNext, reject) => {
      const child: ChildProcess = fork(WORKER, [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-4000);
      });
      let current: number | undefined;
      let startCpu = 0;
      let resumeAt = next;
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      let killed = false;
      const stop = (i: number, kind: FailureKind, message: string) => {
        if (killed) return;
        killed = true;
        clearTimeout(timer);
        clearInterval(poll);
        fail(i, kind, message);
        result.inputs++;
        resumeAt = i + 1;
        child.kill('SIGKILL');
      };
      child.on('message', (m: WorkerMessage) => {
        if (killed) return;
        if (m.type === 'ready') {
          poll = setInterval(() => {
            const rss = rssOf(child.pid!);
            result.peakRssMiB = Math.max(result.peakRssMiB, Math.round(rss / 2 ** 20));
            if (current === undefined) return;
            if (rss > rssBytes) stop(current, 'rss', `RSS ${Math.round(rss / 2 ** 20)} MiB while running`);
            const cpu = cpuMsOf(child.pid!) - startCpu;
            if (cpu > timeoutMs) stop(current, 'hang', `${cpu} ms of CPU time without a result (limit ${timeoutMs} ms)`);
          }, 20);
        } else if (m.type === 'start') {
          current = m.i;
          startCpu = cpuMsOf(child.pid!);
          timer = setTimeout(() => stop(m.i, 'hang', `no result after ${wallMs} ms of wall-clock time`), wallMs);
        } else {
          clearTimeout(timer);
          current = undefined;
          result.peakRssMiB = Math.max(result.peakRssMiB, Math.round(m.rss / 2 ** 20));
          if (m.outcome === 'untyped' || m.outcome === 'rss') {
            stop(m.i, m.outcome, m.outcome === 'rss' ? `peak RSS ${Math.round(m.rss / 2 ** 20)} MiB` : m.error!);
            return;
          }
          result.inputs++;
          if (m.outcome === 'ok') result.ok++;
          else result.typed++;
          resumeAt = m.i + 1;
          if ((m.i + 1) % 1000 === 0) o.log?.(`  ${name}: ${m.i + 1}/${o.count}`);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (!killed && code !== 0) {
          // the child died on its own (out of memory, native crash): blame the input it was running
          if (current === undefined) {
            reject(new Error(`fuzz worker for ${name} failed outside an input: ${stderr}`));
            return;
          }
          fail(current, 'crash', `worker exited with ${code}: ${stderr.split('\n').slice(-5).join(' ')}`);
          result.inputs++;
          resumeAt = current + 1;
        }
        resolveNext(resumeAt);
      });
      const req: RunRequest = { target: name, campaign, from: next, to: o.count, maxSeedBytes, rssBytes };
      child.send(req);
    });
  }
  result.ms = Date.now() - t0;
  return result;
}
