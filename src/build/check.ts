/**
 * `build --check`: builds the recipe twice without reading the component cache — the second time with
 * another host workspace path (different length), job count, umask, hostname, locale variables and a
 * later wall-clock time — and compares every output byte for byte; a difference is reported by file
 * and part (cpio entry, PE section, firmware FFS file).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { explainDifference } from './diff.js';
import { build } from './orchestrate.js';
import type { BuildOptions, BuildResult, Variation } from './types.js';
import { BUILD_FILES, type Recipe } from './recipe.js';

export interface CheckDifference {
  artifact: string;
  sha256: [string, string];
  parts: string[];
}

export interface CheckResult {
  first: BuildResult;
  second: BuildResult;
  variation: Variation;
  differences: CheckDifference[];
}

export function secondVariation(jobs: number): Variation {
  return {
    jobs: jobs > 1 ? 1 : 2,
    umask: 0o002,
    hostname: 'reproducibility-check-host',
    env: { LANGUAGE: 'fr_FR:fr', LC_CTYPE: 'fr_FR.UTF-8', LC_COLLATE: 'fr_FR.UTF-8' },
    workspaceName: 'work-reproducibility-check-with-a-longer-path',
  };
}

/**
 * Builds `recipe` twice — the second time with another job count, umask, locale, hostname and
 * workspace path (secondVariation) — and compares every artifact byte for byte.
 * @throws {InputError} or {BuildError} as build() does. Differences are returned, not thrown.
 */
export async function checkBuild(recipe: Recipe, opts: BuildOptions): Promise<CheckResult> {
  const first = await build(recipe, { ...opts, rebuild: true });
  const variation = secondVariation(first.jobs);
  const out2 = await mkdtemp(join(opts.out, '.check-'));
  try {
    const second = await build(recipe, { ...opts, out: out2, rebuild: true, variation, readOnlyLock: true, logDir: join(opts.out, BUILD_FILES.logs, 'check') });
    const differences: CheckDifference[] = [];
    for (const a of first.artifacts) {
      const b = second.artifacts.find((x) => x.name === a.name)!;
      if (a.sha256 === b.sha256) continue;
      const parts = explainDifference(await readFile(join(first.out, a.path)), await readFile(join(out2, b.path)));
      differences.push({ artifact: a.name, sha256: [a.sha256, b.sha256], parts });
    }
    return { first, second, variation, differences };
  } finally {
    await rm(out2, { recursive: true, force: true });
  }
}
