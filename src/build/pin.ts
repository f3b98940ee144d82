/**
 * Step 1 of `build` (orchestrate.ts): pin every input and base image before anything is built — from the
 * recipe's sha256, else a matching lock entry, else (not --locked) by fetching the input to learn its
 * digest. A base the lock does not pin is pinned when its first component runs (mmdebstrap).
 */
import { InputError } from '../errors.js';
import type { Cache } from './cache.js';
import { fetchInput, hashLocal, inputRef, type FetchContext, type ResolvedInput } from './inputs/index.js';
import { lockedBase, lockedInput, lockPath, readLock, type LockedBase } from './lock.js';
import type { Logger } from './logger.js';
import type { BaseSpec, ComponentSpec, Recipe } from './recipe.js';
import type { ProgressEvent } from './types.js';

export interface Pins {
  /** Every non-`from` input by name; the run step replaces an entry when it fetches the input. */
  inputs: Record<string, ResolvedInput>;
  /** Base images by tarball sha256. */
  bases: Map<string, LockedBase>;
  /** Base tarball sha256 by `baseKey`. */
  basePins: Map<string, string>;
}

/** A component's base image: its own, else the recipe's; none for built-ins. */
export const baseOf = (recipe: Recipe, c: ComponentSpec): BaseSpec | undefined => (c.type === 'run' ? (c.base ?? recipe.base) : undefined);
/** The key of a base's pin: suite, variant and package set. */
export const baseKey = (b: BaseSpec): string => `${b.suite} ${b.variant} ${b.include.join(',')}`;

/**
 * Pins the inputs and base images of `recipe`.
 * @throws {InputError} when a file input does not match its recipe pin, or with `locked` something is unpinned or changed.
 */
export async function pinInputs(recipe: Recipe, ctx: { locked: boolean; cache: Cache; log: Logger; emit: (e: ProgressEvent) => void }): Promise<Pins> {
  const { cache, log } = ctx;
  const lock = await readLock(recipe);
  const inputs: Record<string, ResolvedInput> = {};
  const unpinned: string[] = [];
  for (const [name, spec] of Object.entries(recipe.inputs)) {
    if (spec.kind === 'from') continue;
    const ref = inputRef(spec);
    const locked = lockedInput(lock, name, spec.kind, ref);
    if (spec.kind === 'file') {
      const { sha256 } = await hashLocal(spec, recipe.dir, name);
      const want = spec.sha256 ?? locked?.sha256;
      if (spec.sha256 && sha256 !== spec.sha256)
        throw new InputError(`input ${name} (file ${ref}): sha256 mismatch: recipe pins ${spec.sha256}, file has ${sha256}`);
      if (ctx.locked && want !== sha256) {
        throw new InputError(`--locked: input ${name} (file ${ref}) ${want ? `changed since the lock (${want} -> ${sha256})` : 'is not in the lock'}`);
      }
      inputs[name] = { kind: 'file', ref, sha256 };
      continue;
    }
    if (spec.sha256 && locked && locked.sha256 !== spec.sha256) await log.line(`input ${name}: recipe pin ${spec.sha256} overrides lock ${locked.sha256}`);
    if (spec.sha256 || locked) {
      inputs[name] = locked && (!spec.sha256 || locked.sha256 === spec.sha256) ? locked : { kind: spec.kind, ref, sha256: spec.sha256! };
    } else unpinned.push(name);
  }
  const bases = new Map<string, LockedBase>();
  const basePins = new Map<string, string>();
  const unpinnedBases: BaseSpec[] = [];
  for (const c of Object.values(recipe.components)) {
    const b = baseOf(recipe, c);
    if (!b) continue;
    const sha = lockedBase(lock, b);
    if (sha) {
      basePins.set(baseKey(b), sha);
      bases.set(sha, { suite: b.suite, variant: b.variant, include: b.include, sha256: sha });
    } else unpinnedBases.push(b);
  }
  if (ctx.locked && (unpinned.length > 0 || unpinnedBases.length > 0)) {
    const what = [...unpinned.map((n) => `input ${n}`), ...unpinnedBases.map((b) => `base ${b.suite}/${b.variant}`)];
    throw new InputError(`--locked: not pinned by the recipe or ${lockPath(recipe)}: ${what.join(', ')}`);
  }
  for (const name of unpinned) {
    const spec = recipe.inputs[name] as Exclude<Recipe['inputs'][string], { kind: 'from' }>;
    ctx.emit({ kind: 'step', text: `fetch ${name} (${inputRef(spec)})` });
    inputs[name] = await fetchInput(name, spec, undefined, fetchContext(recipe, cache, log));
    await log.line(`pinned input ${name} ${inputs[name].sha256}`);
  }
  return { inputs, bases, basePins };
}

/** What fetchInput needs: the cache, where relative file inputs live, and the log. */
export function fetchContext(recipe: Recipe, cache: Cache, log: Logger): FetchContext {
  return { cache, recipeDir: recipe.dir, log: (l: string) => void log.line(l) };
}
