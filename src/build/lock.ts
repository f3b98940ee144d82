/**
 * Lock file `<recipe>.lock.json` beside the recipe: every resolved input digest and base-image digest.
 * A lock entry is used only while the recipe still asks for the same thing (same kind and ref / same
 * base package set). `build --locked` refuses any input or base that neither the recipe nor the lock pins.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { ResolvedInput } from './inputs/index.js';
import type { BaseSpec, Recipe } from './recipe.js';

export const LOCK_SCHEMA = 'cvm-measure/recipe-lock/v1';

export interface LockedBase {
  suite: string;
  variant: string;
  include: string[];
  sha256: string;
}

export interface Lock {
  schema: typeof LOCK_SCHEMA;
  recipe: string;
  bases: LockedBase[];
  inputs: Record<string, ResolvedInput>;
}

/** The lock file beside a recipe: `<recipe>.lock.json` (its .yaml/.yml suffix replaced). */
export function lockPath(recipe: Recipe): string {
  return recipe.path.replace(/(\.ya?ml)?$/, '.lock.json');
}

export function emptyLock(recipe: Recipe): Lock {
  return { schema: LOCK_SCHEMA, recipe: recipe.name, bases: [], inputs: {} };
}

/**
 * The recipe's lock file, or an empty lock when there is none yet.
 * @throws {InputError} when the file exists but is not JSON or not a recipe-lock/v1 document.
 */
export async function readLock(recipe: Recipe): Promise<Lock> {
  const path = lockPath(recipe);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return emptyLock(recipe);
  let lock: Lock;
  try {
    lock = JSON.parse(text) as Lock;
  } catch (e) {
    throw new InputError(`${path}: not JSON: ${(e as Error).message}`);
  }
  if (lock.schema !== LOCK_SCHEMA || typeof lock.inputs !== 'object' || !Array.isArray(lock.bases)) {
    throw new InputError(`${path}: not a ${LOCK_SCHEMA} lock file`);
  }
  return lock;
}

export function sameBase(a: Omit<BaseSpec, 'sha256'>, b: Omit<BaseSpec, 'sha256'>): boolean {
  return a.suite === b.suite && a.variant === b.variant && a.include.join(' ') === b.include.join(' ');
}

export function lockedBase(lock: Lock, base: BaseSpec): string | undefined {
  return base.sha256 ?? lock.bases.find((b) => sameBase(b, base))?.sha256;
}

export function lockedInput(lock: Lock, name: string, kind: string, ref: string): ResolvedInput | undefined {
  const e = lock.inputs[name];
  return e && e.kind === kind && e.ref === ref ? e : undefined;
}

/** The lock as it should be after a build: only what the recipe uses, sorted, stable bytes. */
export function lockText(recipe: Recipe, inputs: Record<string, ResolvedInput>, bases: LockedBase[]): string {
  const lock: Lock = {
    schema: LOCK_SCHEMA,
    recipe: recipe.name,
    bases: [...bases].sort((a, b) => a.sha256.localeCompare(b.sha256)),
    inputs: Object.fromEntries(
      Object.keys(inputs)
        .sort()
        .map((k) => [k, inputs[k]!]),
    ),
  };
  return `${JSON.stringify(lock, null, 2)}\n`;
}

export async function writeLock(path: string, text: string): Promise<boolean> {
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await writeFileAtomic(path, text);
  return true;
}
