/**
 * `build --matrix FILE`: every combination of the file's axes is a variant of the recipe (its YAML with
 * the variant's values set at the given paths), built, measured and signed as usual into
 * `<out>/<variant>/`; components the variants share have the same cache key, so the cache (and, for
 * variants built concurrently, the in-flight map of orchestrate.ts) builds each once. `<out>/index.json`
 * lists every variant with the digests of what it wrote.
 *
 *   axes:
 *     cmdline:                                   # axis name
 *       quiet: { components.cmdline.value: "console=ttyS0 quiet" }   # value name: path -> value
 *       debug: { components.cmdline.value: "console=ttyS0 debug" }
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { runPipeline, type PipelineOptions, type PipelineResult } from './pipeline.js';
import { parseRecipe, type Recipe } from './recipe.js';

const INDEX_SCHEMA = 'cvm-measure/matrix-index/v1';
const NAME = /^[a-z0-9][a-z0-9_.]*$/;

export interface Variant {
  /** Axis values joined by `-`, in the file's axis order. */
  name: string;
  values: Record<string, string>;
  /** Dotted recipe path -> value. */
  set: Record<string, unknown>;
}

/** The variants of a matrix file: the product of its axes. @throws {InputError} naming the file on a malformed one. */
export function matrixVariants(text: string, file: string): Variant[] {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) throw new InputError(`${file}: bad YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const raw = doc.toJS({ maxAliasCount: 100 }) as { axes?: unknown } | null;
  const isMap = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isMap(raw) || Object.keys(raw).join() !== 'axes' || !isMap(raw.axes) || Object.keys(raw.axes).length === 0)
    throw new InputError(`${file}: a matrix file has exactly one key, axes: a map of axis name -> value name -> {recipe.path: value}`);
  let variants: Variant[] = [{ name: '', values: {}, set: {} }];
  for (const [axis, values] of Object.entries(raw.axes)) {
    if (!NAME.test(axis) || !isMap(values) || Object.keys(values).length === 0)
      throw new InputError(`${file}: axes.${axis}: a map of value name -> {recipe.path: value}`);
    for (const [v, set] of Object.entries(values))
      if (!NAME.test(v) || !isMap(set) || Object.keys(set).length === 0)
        throw new InputError(`${file}: axes.${axis}.${v}: value names are lowercase [a-z0-9_.]; each sets at least one recipe path`);
    variants = variants.flatMap((base) =>
      Object.entries(values as Record<string, Record<string, unknown>>).map(([v, set]) => ({
        name: base.name ? `${base.name}-${v}` : v,
        values: { ...base.values, [axis]: v },
        set: { ...base.set, ...set },
      })),
    );
  }
  return variants;
}

/** The recipe with the variant's values set (each path must already exist in the recipe: typos are errors). */
export function variantRecipe(recipe: Recipe, text: string, v: Variant, matrixFile: string): Recipe {
  const doc = parseDocument(text);
  for (const [path, value] of Object.entries(v.set)) {
    const keys = path.split('.');
    if (!doc.hasIn(keys)) throw new InputError(`${matrixFile}: variant ${v.name}: ${recipe.path} has no ${path}`);
    doc.setIn(keys, value);
  }
  const out = String(doc);
  return { ...parseRecipe(out, recipe.path), text: out };
}

export interface MatrixResult {
  index: string;
  variants: { variant: Variant; result: PipelineResult }[];
}

/** Runs `items` through `f`, at most `n` at a time, results in order. */
async function pool<T, R>(items: T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Builds every variant into `<opts.out>/<variant>/` (`parallel` at a time) and writes `<opts.out>/index.json`. */
export async function runMatrix(recipe: Recipe, matrixFile: string, opts: PipelineOptions & { parallel: number }): Promise<MatrixResult> {
  const mtext = await readFile(matrixFile, 'utf8').catch(() => {
    throw new InputError(`--matrix: cannot read ${matrixFile}`);
  });
  const rtext = recipe.text ?? (await readFile(recipe.path, 'utf8'));
  const variants = matrixVariants(mtext, matrixFile).map((v) => ({ v, r: variantRecipe(recipe, rtext, v, matrixFile) }));
  const results = await pool(variants, opts.parallel, async ({ v, r }) => ({
    variant: v,
    result: await runPipeline(r, {
      ...opts,
      out: join(opts.out, v.name),
      onProgress: (e) => opts.onProgress?.(e.kind === 'step' ? { ...e, text: `${v.name}: ${e.text}` } : e),
    }),
  }));
  const rel = (p: string) => relative(opts.out, p);
  const sha = async (p: string) =>
    createHash('sha256')
      .update(await readFile(p))
      .digest('hex');
  const index = {
    schema: INDEX_SCHEMA,
    recipe: { name: recipe.name, sha256: recipe.sha256 },
    matrix: { path: matrixFile, sha256: createHash('sha256').update(mtext).digest('hex') },
    variants: await Promise.all(
      results.map(async ({ variant, result }) => ({
        name: variant.name,
        values: variant.values,
        recipeSha256: result.build.recipe.sha256,
        components: result.build.components.map((c) => ({ name: c.name, cached: c.cached, cacheKey: c.key })),
        artifacts: result.build.artifacts.map((a) => ({ name: a.name, path: join(variant.name, a.path), sha256: a.sha256 })),
        measurements: { path: rel(result.files.measurements), sha256: await sha(result.files.measurements) },
        buildRecord: { path: rel(result.files.buildRecord), sha256: await sha(result.files.buildRecord) },
        manifest: result.files.manifest.map((f) => ({ format: f.format, path: rel(f.path), sha256: f.sha256 })),
      })),
    ),
  };
  const path = join(opts.out, 'index.json');
  await writeFileAtomic(path, `${JSON.stringify(index, null, 2)}\n`);
  return { index: path, variants: results };
}
