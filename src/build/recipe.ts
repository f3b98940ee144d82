/**
 * Recipes: YAML validated against schemas/recipe.schema.json (ajv), then cross-checked (references,
 * cycles, unique outputs). Every error names the YAML line:column it is about.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isCollection, isMap, isPair, isScalar, LineCounter, parseDocument, visit, type Alias, type Document, type Node } from 'yaml';
import { InputError } from '../errors.js';
import { readInput } from '../util/fs.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { SOURCE_DIR } from './source-bundle.js';

/** The package root (recipes/ and schemas/ ship beside dist/). */
export const DEFAULT_RECIPE = resolve(PACKAGE_ROOT, 'recipes/default.yaml');

export interface BaseSpec {
  suite: string;
  variant: string;
  include: string[];
  sha256?: string;
}

export type InputSpec =
  | { kind: 'file'; file: string; sha256?: string }
  | { kind: 'url'; url: string; sha256: string }
  | { kind: 'debian-binary'; package: string; version: string; sha256?: string }
  | { kind: 'debian-source'; package: string; version: string; sha256?: string }
  | { kind: 'git'; git: string; commit: string; sha256?: string }
  | { kind: 'from'; component: string; output: string };

/** One file for a built-in writer: an input, or one member of a .deb / tar input. */
export interface SourceRef {
  input: string;
  member?: string;
}

export type CpioEntrySpec =
  | { path: string; source: SourceRef; mode?: number }
  | { path: string; symlink: string; mode?: number }
  | { path: string; dir: true; mode?: number };

export type ComponentSpec =
  | { type: 'run'; inputs: string[]; env: Record<string, string>; steps: { name?: string; run: string }[]; outputs: string[]; base?: BaseSpec }
  | { type: 'extract'; source: SourceRef; output: string }
  | { type: 'cpio'; entries: CpioEntrySpec[]; output: string }
  | { type: 'cmdline'; value: string; output: string }
  | { type: 'uki'; stub: SourceRef; kernel: SourceRef; initrd?: SourceRef; cmdline?: SourceRef; osRelease?: SourceRef; output: string };

export interface MeasureSpec {
  snp?: {
    firmware: string;
    kernel?: string;
    initrd?: string;
    cmdline?: string;
    vmm?: string[];
    vcpuType?: string[];
    vcpus: string;
    guestFeatures?: string;
    policy?: string;
  };
  tdx?: { firmware: string; kernel?: string; initrd?: string; cmdline?: string; memory?: number };
  pcr?: {
    vars?: string;
    shapes: ('direct' | 'uki')[];
    kernel?: string;
    initrd?: string;
    cmdline?: string;
    uki?: string;
    /** shape uki: the disk image holding the ESP (its GPT goes into PCR5), or 'none' for a medium without a GPT. */
    disk?: string;
    banks?: string[];
    memory?: number;
  };
}

export interface Recipe {
  name: string;
  description?: string;
  sourceDateEpoch: number;
  base?: BaseSpec;
  inputs: Record<string, InputSpec>;
  /** In dependency order (a component comes after every component it takes a `from:` input of). */
  components: Record<string, ComponentSpec>;
  measure?: MeasureSpec;
  sign?: { key: string; formats?: string[] };
  /** Absolute path of the YAML file and its directory (`file:` inputs and `sign.key` are relative to it). */
  path: string;
  dir: string;
  /** sha256 of the YAML bytes. */
  sha256: string;
  /** The YAML bytes when they are not the file at `path` (a variant of a `build --matrix`). */
  text?: string;
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const schema = JSON.parse(readFileSync(resolve(PACKAGE_ROOT, 'schemas/recipe.schema.json'), 'utf8')) as object;
    // unoptimized code generation compiles ~3x faster; recipes are tiny, so validation speed does not matter
    validator = new Ajv({ allErrors: false, strict: false, useDefaults: true, code: { optimize: false } }).compile(schema);
  }
  return validator;
}

/** Maps JSON paths to YAML positions for error messages. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  private pos(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /** Position of the node at `path`, or of key `key` inside it. */
  at(path: (string | number)[], key?: string): string {
    let node = this.doc.getIn(path, true) as Node | undefined;
    for (let p = path.length; !node?.range && p > 0; p--) node = this.doc.getIn(path.slice(0, p - 1), true) as Node | undefined;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((i) => isScalar(i.key) && i.key.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return this.pos(k.range[0]);
    }
    return this.pos(node?.range?.[0] ?? 0);
  }

  error(path: (string | number)[], message: string, key?: string): InputError {
    const where = path.length > 0 ? `${path.join('.')}${key !== undefined ? `.${key}` : ''}: ` : key !== undefined ? `${key}: ` : '';
    return new InputError(`${this.at(path, key)}: ${where}${message}`);
  }
}

function pathOf(instancePath: string): (string | number)[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** What a failed `oneOf` means, by where it failed (ajv reports the schemaPath relative to the $ref). */
function oneOfMessage(path: (string | number)[]): string {
  if (path.length === 2 && path[0] === 'inputs') return 'give exactly one of file, url (+sha256), debian-binary, debian-source, git (+commit), from';
  if (path.length === 4 && path[2] === 'entries') return 'give exactly one of source, symlink, dir';
  return 'expected an input name or {input, member}';
}

function schemaError(loc: Locator, errors: ErrorObject[]): InputError {
  const oneOf = errors.find((e) => e.keyword === 'oneOf');
  if (oneOf) return loc.error(pathOf(oneOf.instancePath), oneOfMessage(pathOf(oneOf.instancePath)));
  const e = errors[0]!;
  const path = pathOf(e.instancePath);
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return loc.error(path, 'unknown key', String(p.additionalProperty));
  if (e.keyword === 'required') return loc.error(path, `missing required key "${String(p.missingProperty)}"`);
  if (e.keyword === 'propertyNames')
    return loc.error(path, `bad name ${JSON.stringify(p.propertyName)} (lowercase letters, digits and -)`, String(p.propertyName));
  if (e.keyword === 'enum') return loc.error(path, `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
  if (e.keyword === 'pattern') return loc.error(path, `malformed value (expected to match ${String(p.pattern)})`);
  return loc.error(path, e.message ?? e.keyword);
}

function parseSource(s: string | { input: string; member?: string }): SourceRef {
  return typeof s === 'string' ? { input: s } : { input: s.input, ...(s.member !== undefined ? { member: s.member } : {}) };
}

function parseMode(m: string | undefined): number | undefined {
  return m === undefined ? undefined : parseInt(m, 8);
}

function splitPin(s: string): { package: string; version: string } {
  const i = s.indexOf('=');
  return { package: s.slice(0, i), version: s.slice(i + 1) };
}

// biome-ignore lint/suspicious/noExplicitAny: schema-validated YAML, narrowed field by field below
type Raw = Record<string, any>;

function toInput(raw: Raw): InputSpec {
  const sha = raw.sha256 !== undefined ? { sha256: raw.sha256 as string } : {};
  if (raw.file !== undefined) return { kind: 'file', file: raw.file, ...sha };
  if (raw.url !== undefined) return { kind: 'url', url: raw.url, sha256: raw.sha256 };
  if (raw['debian-binary'] !== undefined) return { kind: 'debian-binary', ...splitPin(raw['debian-binary']), ...sha };
  if (raw['debian-source'] !== undefined) return { kind: 'debian-source', ...splitPin(raw['debian-source']), ...sha };
  if (raw.git !== undefined) return { kind: 'git', git: raw.git, commit: raw.commit, ...sha };
  const [component, ...rest] = (raw.from as string).split('.');
  return { kind: 'from', component: component!, output: rest.join('.') };
}

function toBase(raw: Raw): BaseSpec {
  return { suite: raw.suite, variant: raw.variant ?? 'minbase', include: [...(raw.include ?? [])].sort(), ...(raw.sha256 ? { sha256: raw.sha256 } : {}) };
}

function toComponent(raw: Raw): ComponentSpec {
  switch (raw.type as ComponentSpec['type']) {
    case 'run':
      return {
        type: 'run',
        inputs: raw.inputs ?? [],
        env: raw.env ?? {},
        steps: raw.steps,
        outputs: raw.outputs,
        ...(raw.base ? { base: toBase(raw.base) } : {}),
      };
    case 'extract':
      return { type: 'extract', source: parseSource(raw.source), output: raw.output };
    case 'cpio':
      return {
        type: 'cpio',
        output: raw.output,
        entries: (raw.entries as Raw[]).map((e) => {
          const mode = parseMode(e.mode);
          const m = mode === undefined ? {} : { mode };
          if (e.source !== undefined) return { path: e.path, source: parseSource(e.source), ...m };
          if (e.symlink !== undefined) return { path: e.path, symlink: e.symlink, ...m };
          return { path: e.path, dir: true as const, ...m };
        }),
      };
    case 'cmdline':
      return { type: 'cmdline', value: raw.value, output: raw.output };
    case 'uki': {
      const opt = (k: string) => (raw[k] !== undefined ? { [k]: parseSource(raw[k]) } : {});
      return {
        type: 'uki',
        stub: parseSource(raw.stub),
        kernel: parseSource(raw.kernel),
        ...opt('initrd'),
        ...opt('cmdline'),
        ...opt('osRelease'),
        output: raw.output,
      };
    }
  }
}

/** Inputs a component reads, with the YAML path of each reference. */
export function componentInputs(c: ComponentSpec): string[] {
  return componentRefs(c).map((r) => r.input);
}

function componentRefs(c: ComponentSpec): { input: string; member?: string; at: (string | number)[] }[] {
  switch (c.type) {
    case 'run':
      return c.inputs.map((input, i) => ({ input, at: ['inputs', i] }));
    case 'extract':
      return [{ ...c.source, at: ['source'] }];
    case 'cpio':
      return c.entries.flatMap((e, i) => ('source' in e ? [{ ...e.source, at: ['entries', i, 'source'] }] : []));
    case 'cmdline':
      return [];
    case 'uki':
      return (['stub', 'kernel', 'initrd', 'cmdline', 'osRelease'] as const).flatMap((k) => (c[k] ? [{ ...c[k], at: [k] }] : []));
  }
}

export function componentOutputs(c: ComponentSpec): string[] {
  return c.type === 'run' ? c.outputs : [c.output];
}

/** What `build` writes into its output directory beside the artifacts: no component output may be named so. */
export const BUILD_FILES = {
  measurements: 'measurements.json',
  buildRecord: 'build-record.json',
  manifest: 'manifest',
  logs: 'logs',
  source: SOURCE_DIR,
} as const;

/** The lock file `build` writes beside the artifacts when the recipe's directory is read-only. */
export function outLockName(recipeName: string): string {
  return `${recipeName}.lock.json`;
}

/** Cross-references the schema cannot express; returns the components in dependency order. */
function crossCheck(raw: Raw, recipe: Omit<Recipe, 'components'> & { components: Record<string, ComponentSpec> }, loc: Locator): string[] {
  const outputsSeen = new Map<string, string>();
  const reserved = [...Object.values(BUILD_FILES), outLockName(recipe.name)].sort();
  for (const [name, c] of Object.entries(recipe.components)) {
    for (const o of componentOutputs(c)) {
      if (reserved.includes(o))
        throw loc.error(
          ['components', name],
          `output "${o}" is a name build writes itself beside the artifacts (reserved: ${reserved.join(', ')})`,
          c.type === 'run' ? 'outputs' : 'output',
        );
      const prev = outputsSeen.get(o);
      if (prev) throw loc.error(['components', name], `output "${o}" is also an output of component "${prev}" (output file names are unique per recipe)`);
      outputsSeen.set(o, name);
    }
    if (c.type === 'run' && !c.base && !recipe.base)
      throw loc.error(['components', name], 'a run component needs a base image (top-level or component "base:")');
    for (const ref of componentRefs(c)) {
      const input = recipe.inputs[ref.input];
      if (!input) throw loc.error(['components', name, ...ref.at], `no input named "${ref.input}" (declare it under inputs:)`);
      if (ref.member !== undefined && !['debian-binary', 'url', 'file', 'git', 'from'].includes(input.kind)) {
        throw loc.error(['components', name, ...ref.at], `member: needs a .deb or tar input, "${ref.input}" is ${input.kind}`);
      }
    }
  }
  const outputExists = (comp: string, out: string) => {
    const c = recipe.components[comp];
    return c !== undefined && componentOutputs(c).includes(out);
  };
  for (const [name, input] of Object.entries(recipe.inputs)) {
    if (input.kind === 'from' && !outputExists(input.component, input.output)) {
      throw loc.error(['inputs', name, 'from'], `no component output "${input.component}.${input.output}"`);
    }
  }
  for (const [platform, m] of Object.entries(raw.measure ?? {}) as [string, Raw][]) {
    for (const [k, v] of Object.entries(m)) {
      if (!['firmware', 'kernel', 'initrd', 'cmdline', 'uki', 'vars', 'disk'].includes(k) || (k === 'disk' && v === 'none')) continue;
      const [comp, ...rest] = String(v).split('.');
      if (!outputExists(comp!, rest.join('.'))) throw loc.error(['measure', platform, k], `no component output "${String(v)}"`);
    }
  }
  const pcr = raw.measure?.pcr as Raw | undefined;
  if (pcr?.shapes.includes('uki') && pcr.disk === undefined)
    throw loc.error(
      ['measure'],
      'shape uki needs disk: the component output holding the disk image (its GPT is measured into PCR5), or none (a medium without a GPT)',
      'pcr',
    );
  // topological order by `from:` inputs; a cycle is an error at the first component on it
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw loc.error(['components', name], `dependency cycle: ${[...chain, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const i of componentInputs(recipe.components[name]!)) {
      const input = recipe.inputs[i]!;
      if (input.kind === 'from') visit(input.component, [...chain, name]);
    }
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(recipe.components)) visit(name, []);
  return order;
}

/** Collections nested deeper than this are refused before anything recurses over the document (recipes nest about 6 deep). */
const MAX_NESTING = 64;
const TOO_DEEP = `nested more than ${MAX_NESTING} levels deep`;
/** Alias expansions allowed when the document is converted (the guard against exponential "billion laughs" aliases). */
const MAX_ALIAS_COUNT = 100;

/** A collection nested more than MAX_NESTING levels deep, if any (iterative: no recursion on hostile input). */
function nestedTooDeep(root: unknown): Node | undefined {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > MAX_NESTING) return node;
    for (const item of node.items as unknown[]) {
      if (isPair(item)) stack.push([item.key, depth + 1], [item.value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Parses and validates recipe text; `file` is used for error positions and relative paths.
 * @throws {InputError} with `file:line:col` on bad YAML (including nesting or aliases past the resource limits), a schema violation, or inconsistent components.
 */
export function parseRecipe(text: string, file: string): Recipe {
  const lines = new LineCounter();
  const at = (offset: number | undefined) => {
    const { line, col } = lines.linePos(offset ?? 0);
    return `${file}:${line}:${col}`;
  };
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(`${at(e.pos[0])}: bad YAML: ${e.code === 'RESOURCE_EXHAUSTION' ? TOO_DEEP : e.message.split('\n')[0]}`);
  }
  const deep = nestedTooDeep(doc.contents);
  if (deep) throw new InputError(`${at(deep.range?.[0])}: bad YAML: ${TOO_DEEP}`);
  const loc = new Locator(doc, lines, file);
  let raw: Raw;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Raw;
  } catch (e) {
    // an alias bomb, or an alias to an anchor not set before it
    if (!(e instanceof ReferenceError)) throw new InputError(`${file}: bad YAML: ${(e as Error).message.split('\n')[0]}`);
    const excessive = e.message.startsWith('Excessive alias count');
    const aliases: Alias[] = [];
    visit(doc, { Alias: (_, a) => void aliases.push(a) });
    const alias = aliases.find((a) => excessive || e.message.endsWith(`: ${a.source}`)) ?? aliases[0];
    const why = excessive ? `aliases expand too much (more than ${MAX_ALIAS_COUNT} alias expansions)` : e.message;
    throw new InputError(`${at(alias?.range?.[0])}: bad YAML: ${why}`);
  }
  const v = validate();
  if (!v(raw)) throw schemaError(loc, v.errors ?? []);
  const path = resolve(file);
  const base = {
    name: raw.name as string,
    ...(raw.description !== undefined ? { description: raw.description as string } : {}),
    sourceDateEpoch: raw.sourceDateEpoch as number,
    ...(raw.base ? { base: toBase(raw.base) } : {}),
    inputs: Object.fromEntries(Object.entries((raw.inputs ?? {}) as Record<string, Raw>).map(([k, i]) => [k, toInput(i)])),
    components: Object.fromEntries(Object.entries(raw.components as Record<string, Raw>).map(([k, c]) => [k, toComponent(c)])),
    ...(raw.measure ? { measure: raw.measure as MeasureSpec } : {}),
    ...(raw.sign ? { sign: raw.sign as { key: string; formats?: string[] } } : {}),
    path,
    dir: dirname(path),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
  const order = crossCheck(raw, base, loc);
  return { ...base, components: Object.fromEntries(order.map((n) => [n, base.components[n]!])) };
}

/**
 * Reads and parses a recipe file (see parseRecipe).
 * @throws {InputError} when the file cannot be read, is not YAML, or does not validate.
 */
export async function loadRecipe(path: string): Promise<Recipe> {
  const text = (await readInput(path, 'recipe')).toString('utf8');
  return parseRecipe(text, path);
}
