/** src/util/fs.ts: the one atomic-replace helper (writeFileAtomic, copyFileAtomic) and the pid lock. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileAtomic, pidLock, writeFileAtomic } from '../src/util/fs.js';

describe('atomic writes', () => {
  it('copyFileAtomic replaces the destination with the source bytes and the given mode', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cvm-atomic-'));
    writeFileSync(join(d, 'src'), 'new bytes');
    writeFileSync(join(d, 'dest'), 'old');
    await copyFileAtomic(join(d, 'src'), join(d, 'dest'), 0o640);
    expect(readFileSync(join(d, 'dest'), 'utf8')).toBe('new bytes');
    expect(statSync(join(d, 'dest')).mode & 0o777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(['dest', 'src']);
  });

  it('a failed copy leaves the destination untouched and no temporary file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cvm-atomic-'));
    writeFileSync(join(d, 'dest'), 'old');
    await expect(copyFileAtomic(join(d, 'missing'), join(d, 'dest'))).rejects.toThrow(/ENOENT/);
    expect(readFileSync(join(d, 'dest'), 'utf8')).toBe('old');
    expect(readdirSync(d)).toEqual(['dest']);
  });

  it('writeFileAtomic creates missing directories and leaves only the file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cvm-atomic-'));
    await writeFileAtomic(join(d, 'a', 'b.json'), '{}\n');
    expect(readFileSync(join(d, 'a', 'b.json'), 'utf8')).toBe('{}\n');
    expect(readdirSync(join(d, 'a'))).toEqual(['b.json']);
  });
});

describe('pidLock', () => {
  it('breaks a lock whose holder is gone, and removes it on release', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cvm-lock-'));
    const file = join(d, 'lock');
    writeFileSync(file, '2147483646'); // no such process
    const busy: number[] = [];
    const release = await pidLock(file, (pid) => busy.push(pid));
    expect(busy).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    await release();
    expect(readdirSync(d)).toEqual([]);
  });

  it('waits while a live process holds the lock, then takes it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cvm-lock-'));
    const file = join(d, 'lock');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    writeFileSync(file, String(holder.pid));
    const busy: number[] = [];
    const locked = pidLock(file, (pid) => {
      busy.push(pid);
      if (busy.length === 2) holder.kill('SIGKILL');
    });
    const release = await locked;
    expect(busy.slice(0, 2)).toEqual([holder.pid, holder.pid]);
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    await release();
    expect(existsSync(file)).toBe(false);
  });
});
