/**
 * Fuzz child process: runs one target's inputs in order and reports each to the parent (harness.ts),
 * which owns the watchdog (time limit, RSS bound) and kills this process when an input overruns.
 * The parent imports the protocol, seeds and input generation from here too.
 */
import { isCvmError } from '../../src/errors.js';
import { keyOf, mutate } from './mutate.js';
import { target, type Seeds } from './targets.js';

export interface RunRequest {
  target: string;
  campaign: number;
  from: number;
  to: number;
  maxSeedBytes: number;
  rssBytes: number;
}

export type WorkerMessage =
  | { type: 'ready'; seeds: number }
  | { type: 'start'; i: number }
  | { type: 'done'; i: number; outcome: 'ok' | 'typed' | 'untyped' | 'rss'; error?: string; rss: number };

/** A target's seeds, filtered by size (the smoke test skips the 10 MB UKI), at least one kept. */
export async function loadSeeds(name: string, maxSeedBytes: number): Promise<Seeds> {
  const all = await target(name).seeds();
  if (all.bytes.length === 0) throw new Error(`fuzz target ${name}: no seeds (is ../shared there?)`);
  const keep = all.bytes.map((_, i) => i).filter((i) => all.bytes[i]!.length <= maxSeedBytes);
  const idx = keep.length > 0 ? keep : [0];
  return { bytes: idx.map((i) => all.bytes[i]!), hot: idx.map((i) => all.hot?.[i] ?? []) };
}

/** Input `i` of a campaign: the same bytes in the parent (for the reproducer) and here. */
export function inputOf(name: string, campaign: number, i: number, s: Seeds) {
  return mutate(s.bytes, keyOf(name, campaign, i), s.hot);
}
const send = (m: WorkerMessage) => new Promise<void>((ok) => process.send!(m, () => ok()));

async function main(req: RunRequest): Promise<void> {
  const t = target(req.target);
  const s = await loadSeeds(req.target, req.maxSeedBytes);
  // warm-up outside the watchdog: schema compilation, lazy imports and JIT are not an input's time
  for (const b of s.bytes) {
    try {
      await t.run(b);
    } catch {
      // a seed the target refuses (e.g. an unsigned CoRIM for COSE) still warms it up
    }
  }
  await send({ type: 'ready', seeds: s.bytes.length });
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = req.from; i < req.to; i++) {
    const input = inputOf(req.target, req.campaign, i, s).bytes;
    await send({ type: 'start', i });
    let outcome: 'ok' | 'typed' | 'untyped' | 'rss' = 'ok';
    let error: string | undefined;
    try {
      await t.run(input);
    } catch (e) {
      outcome = isCvmError(e) ? 'typed' : 'untyped';
      if (outcome === 'untyped') error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n')}` : String(e);
    }
    // peak RSS of this process so far (KiB): sticky, so the parent restarts us after an 'rss' report
    const peak = process.resourceUsage().maxRSS * 1024;
    if (peak > req.rssBytes) outcome = 'rss';
    await send({ type: 'done', i, outcome, ...(error ? { error } : {}), rss: peak });
    if (i % 64 === 63) gc?.();
  }
}

// run as the child only when this file is the entry point (the harness and the smoke test import it too)
if (process.send && process.argv[1] === import.meta.filename) {
  process.on('message', (req: RunRequest) => {
    main(req).then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`fuzz worker: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(3);
      },
    );
  });
}
