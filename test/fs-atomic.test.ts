/** The one atomic-replace helper behind writeFileAtomic and copyFileAtomic (build outputs, manifests, locks). */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileAtomic, writeFileAtomic } from '../src/util/fs.js';

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
