/**
 * kill -9 at random moments of `keys generate --force` and `manifest create` (the CVM_TEST_PAUSE_MS
 * hook spreads the writes out so kills land inside them): a private key is only ever present beside its
 * own public key, a manifest directory holds exactly the old set or the new one (or, for the instant
 * between two renames, is absent), and the next run finishes or removes what a killed one left, so no
 * staging directory or temporary file remains.
 */
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';

const PAUSE = { CVM_TEST_PAUSE_MS: '40' };
const TRIALS = 24;
const STATED = JSON.stringify({
  schema: 'cvm-measure/stated-values/v1',
  values: [{ platform: 'tdx', origin: 'stated', source: 'test', mrtd: 'ab'.repeat(48), rtmr: { '1': 'cd'.repeat(48) } }],
});

/**
 * Runs the CLI and kills it with SIGKILL at a random moment of its write: once a staging entry for
 * `target` appears beside it, after a random part of `windowMs` (half the trials), or at a random
 * moment of the whole run (the others, `totalMs`). Returns whether the process was still running.
 */
async function killDuringWrite(args: string[], target: string, windowMs: number, totalMs: number, i: number): Promise<boolean> {
  const child = spawn(process.execPath, [resolve(ROOT, 'dist/cli/main.js'), ...args], { stdio: 'ignore', env: { ...process.env, ...PAUSE } });
  let done = false;
  const exited = new Promise((r) => child.once('exit', r)).then(() => {
    done = true;
  });
  const prefix = `.${basename(target)}.`;
  if (i % 2) await new Promise((r) => setTimeout(r, Math.random() * totalMs));
  else {
    while (!done && !readdirSync(dirname(target)).some((n) => n.startsWith(prefix))) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, Math.random() * windowMs));
  }
  const killed = !done;
  child.kill('SIGKILL');
  await exited;
  return killed;
}

/** How long a paused run takes, and how long its write (from the first staging entry for `target` on). */
async function duration(args: string[], target: string): Promise<{ total: number; write: number }> {
  const t0 = Date.now();
  let staged = 0;
  const poll = setInterval(() => {
    if (!staged && readdirSync(dirname(target)).some((n) => n.startsWith(`.${basename(target)}.`))) staged = Date.now();
  }, 2);
  const r = await cli(args, { env: PAUSE });
  clearInterval(poll);
  expect(r.code, r.stderr).toBe(0);
  expect(staged, 'the write was seen').toBeGreaterThan(0);
  return { total: Date.now() - t0, write: Date.now() - staged };
}

/** A fresh directory with a signing key k.pem and stated values m.json. */
async function manifestInputs(): Promise<{ dir: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-mset-'));
  const key = join(dir, 'k.pem');
  expect((await cli(['keys', 'generate', '--alg', 'ed25519', '--out', key])).code).toBe(0);
  writeFileSync(join(dir, 'm.json'), STATED);
  return { dir, key };
}

const hidden = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'));
const spki = (pem: string | Buffer) => createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

describe('sets are written as units', () => {
  it('keys generate --force: a private key is never beside another public key, and the next run cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-keyset-'));
    writeFileSync(join(dir, 'notes.txt'), 'unrelated');
    const key = join(dir, 'k.pem');
    const pub = join(dir, 'k.pub.pem');
    const args = ['keys', 'generate', '--alg', 'ed25519', '--out', key, '--force'];
    const t = await duration(args, key);
    const seen = { pair: 0, publicOnly: 0, staged: 0, killed: 0 };
    for (let i = 0; i < TRIALS; i++) {
      const before = readFileSync(pub, 'utf8');
      if (await killDuringWrite(args, key, t.write, t.total, i)) seen.killed++;
      if (existsSync(key)) {
        expect(readFileSync(pub, 'utf8'), `trial ${i}: the private key's own public key`).toBe(spki(readFileSync(key)));
        seen.pair++;
      } else {
        expect(existsSync(pub), `trial ${i}: a public key remains`).toBe(true);
        seen.publicOnly++;
      }
      if (hidden(dir).length > 0) seen.staged++;
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      // the next run finishes the killed one's set or removes it, then writes its own
      const next = await cli(['keys', 'generate', '--alg', 'ecdsa-p256', '--out', key, '--force']);
      expect(next.code, next.stderr).toBe(0);
      expect(hidden(dir), `trial ${i}: staging left after the next run`).toEqual([]);
      expect(readFileSync(pub, 'utf8')).toBe(spki(readFileSync(key)));
      expect(readFileSync(pub, 'utf8')).not.toBe(before);
    }
    process.stderr.write(`keys generate kill -9 outcomes: ${JSON.stringify(seen)}\n`);
    expect(seen.pair).toBeGreaterThan(0);
    expect(seen.killed).toBeGreaterThan(TRIALS / 2);
    expect(seen.staged).toBeGreaterThan(0); // kills did land inside the write
    expect(readdirSync(dir).sort()).toEqual(['k.pem', 'k.pub.pem', 'notes.txt']);
  }, 600_000);

  it('manifest create: the directory is the old set, the new set or (between two renames) absent; the next run restores a whole set', async () => {
    const { dir, key } = await manifestInputs();
    const out = join(dir, 'out');
    const args = (nb: string, formats: string) => [
      'manifest',
      'create',
      '--values',
      join(dir, 'm.json'),
      '--key',
      key,
      '--out',
      out,
      '--not-before',
      nb,
      '--formats',
      formats,
    ];
    // two different sets (other validity, other formats: the second has files the first does not)
    const A = args('2026-01-01', 'intoto,json');
    const B = args('2026-02-01', 'corim,intoto,rvps,json');
    const snapshot = () => Object.fromEntries(readdirSync(out).map((n) => [n, readFileSync(join(out, n)).toString('base64')]));
    await duration(A, out);
    const setA = snapshot();
    const t = await duration(B, out);
    const setB = snapshot();
    expect(Object.keys(setB).length).toBeGreaterThan(Object.keys(setA).length);
    const seen = { old: 0, new: 0, absent: 0, staged: 0, killed: 0 };
    let before = setB;
    for (let i = 0; i < TRIALS; i++) {
      // each run starts from what the last one left (its first step finishes or removes that)
      if (await killDuringWrite(i % 4 < 2 ? A : B, out, t.write, t.total, i)) seen.killed++;
      if (hidden(dir).length > 0) seen.staged++;
      if (!existsSync(out)) seen.absent++;
      else {
        const s = snapshot();
        expect([setA, setB], `trial ${i}: a mixed directory`).toContainEqual(s);
        if (JSON.stringify(s) === JSON.stringify(before)) seen.old++;
        else seen.new++;
        before = s;
      }
    }
    process.stderr.write(`manifest create kill -9 outcomes: ${JSON.stringify(seen)}\n`);
    expect(seen.killed).toBeGreaterThan(TRIALS / 2);
    expect(seen.staged).toBeGreaterThan(0);
    // the next run cleans up whatever the last kill left
    expect((await cli(A)).code).toBe(0);
    expect(snapshot()).toEqual(setA);
    expect(hidden(dir)).toEqual([]);
  }, 600_000);

  it('manifest create refuses to replace a directory holding files it did not write', async () => {
    const { dir, key } = await manifestInputs();
    const r = await cli(['manifest', 'create', '--values', join(dir, 'm.json'), '--key', key, '--out', dir]);
    expect([r.code, errorLine(r)]).toEqual([
      1,
      `cvm-measure: error: --out ${dir}: holds "k.pem", which manifest create did not write; the directory is replaced as a whole, so give a new or empty one`,
    ]);
    expect(readdirSync(dir).sort()).toEqual(['k.pem', 'k.pub.pem', 'm.json']);
  });
});
