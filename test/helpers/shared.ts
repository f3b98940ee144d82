/**
 * Locates the ground-truth folder (../shared or $CVM_SHARED). When it is absent, suites that need it
 * are skipped loudly: a banner on stderr and a skipped suite named after the reason, never a pass.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');

function locate(): string | undefined {
  const candidates = [process.env.CVM_SHARED, resolve(ROOT, '../shared')].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(resolve(p, 'vectors')));
}

export const SHARED = locate();

/** Absolute path inside shared/ (only valid inside describeShared). */
export function shared(...parts: string[]): string {
  if (!SHARED) throw new Error('shared/ not found');
  return resolve(SHARED, ...parts);
}

export function loadVectors<T = unknown>(name: 'snp' | 'tdx' | 'pcr' | 'snp-report'): T {
  return JSON.parse(readFileSync(shared('vectors', `${name}.json`), 'utf8')) as T;
}

/** `describe` when shared/ exists; otherwise a loudly skipped suite. */
export function describeShared(name: string, fn: () => void): void {
  if (SHARED) {
    describe(name, fn);
  } else {
    process.stderr.write(`\n*** SKIPPED "${name}": ground truth not found (set CVM_SHARED or put shared/ beside the checkout) ***\n`);
    describe.skip(`${name} [SKIPPED: ../shared not found]`, fn);
  }
}
