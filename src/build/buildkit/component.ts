/**
 * `--backend buildkit`: a `run` component as one BuildKit build (context.ts, dockerfile.ts) through the
 * engine's own client (client.ts); its outputs come back with `--output type=local` and are adopted into
 * the content-addressed cache like every backend's (run-component.ts adoptOutputs).
 */
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError } from '../../errors.js';
import type { Blob } from '../cache.js';
import { adoptOutputs, stepEnv, type RunArgs } from '../run-component.js';
import { rootfsTopLevel } from '../sandbox/common.js';
import { buildArgs, requireClient, runBuild, type BuildkitOptions } from './client.js';
import { baseContextPath, blobContextPath, placeBlob, resetContext, writeComponentContext } from './context.js';
import { pidLock } from '../../util/fs.js';

export type BuildkitRunArgs = Omit<RunArgs, 'sandbox'> & { baseSha256: string; buildkit: BuildkitOptions; noCache: boolean };

/** The /src entries of a component: every input (a source package as a directory of its files) by digest. */
export async function inputEntries(a: Pick<RunArgs, 'spec' | 'ensureInput'>): Promise<{ target: string; sha256: string }[]> {
  const out: { target: string; sha256: string }[] = [];
  for (const input of a.spec.inputs) {
    const r = await a.ensureInput(input);
    const files = 'files' in r && r.files ? r.files : undefined;
    if (files) for (const f of files) out.push({ target: `${input}/${f.name}`, sha256: f.sha256 });
    else out.push({ target: input, sha256: r.sha256 });
  }
  return out;
}

/**
 * Runs component `a.name` as one BuildKit build. Its context directory is kept in the cache, one per
 * component and base (`buildkit-context/<component>-<base sha256 prefix>`), because BuildKit's local
 * context sync is keyed by the directory: the next build sends only what changed, not the base tarball
 * again. A lock keeps concurrent builds of the same component and base out of each other's context.
 */
export async function runComponentBuildkit(a: BuildkitRunArgs): Promise<Record<string, Blob>> {
  const { cache, name } = a;
  const client = await requireClient(a.buildkit);
  const ctx = join(cache.root, 'buildkit-context', `${name}-${a.baseSha256.slice(0, 16)}`);
  const dest = join(a.workspace, 'buildkit-out', name);
  await mkdir(ctx, { recursive: true });
  let waiting = false;
  const release = await pidLock(`${ctx}.lock`, (pid) => {
    if (!waiting) a.emit({ kind: 'step', text: `${a.index} ${name}: waiting for its BuildKit context (in use by process ${pid})` });
    waiting = true;
  });
  try {
    const inputs = await inputEntries(a);
    await resetContext(ctx, name, [baseContextPath(a.baseSha256), ...inputs.map((i) => blobContextPath(i.sha256))]);
    await placeBlob(cache, ctx, baseContextPath(a.baseSha256), a.baseSha256, `base ${a.baseSha256}`);
    for (const i of inputs) await placeBlob(cache, ctx, blobContextPath(i.sha256), i.sha256, `input ${i.target.split('/')[0]}`);
    return await buildIn(a, client, ctx, dest, inputs);
  } finally {
    await release();
  }
}

async function buildIn(
  a: BuildkitRunArgs,
  client: Awaited<ReturnType<typeof requireClient>>,
  ctx: string,
  dest: string,
  inputs: { target: string; sha256: string }[],
): Promise<Record<string, Blob>> {
  const { cache, name, spec } = a;
  const top = await rootfsTopLevel(a.rootfs, { rootfs: a.rootfs, binds: [], env: {}, argv: ['true'], cwd: '/', umask: 0o022, logFile: '' });
  const dockerfile = await writeComponentContext(ctx, {
    component: name,
    spec,
    baseSha256: a.baseSha256,
    top,
    inputs: inputs.map((i) => ({ target: i.target, context: blobContextPath(i.sha256) })),
    env: stepEnv(a.recipe, name, a.jobs, { ...spec.env, ...a.v.env }),
    umask: a.v.umask,
  });
  const logFile = join(a.logDir, `${name}.log`);
  await writeFile(logFile, `### ${name}: BuildKit build (${client.kind === 'buildx' ? 'docker buildx build' : 'docker build'}, ${client.version})\n`);
  a.emit({ kind: 'step', text: `${a.index} ${name}: ${spec.steps.length} step(s) (buildkit, -j${a.jobs})` });
  await a.log.line(`run ${name} in buildkit (${client.docker}, ${client.version})`);
  const code = await runBuild(client, buildArgs(client, { context: ctx, dockerfile, dest, noCache: a.noCache, ...a.buildkit }), logFile);
  if (code !== 0) {
    const text = await readFile(logFile, 'utf8');
    const m = /### cvm-measure: step (\d+) failed \(exit (\d+)\)/.exec(text);
    const step = m ? spec.steps[Number(m[1]) - 1] : undefined;
    const label = step ? (step.name ?? `step ${m![1]}`) : 'BuildKit build';
    throw new BuildError(`component ${name}: ${label} failed (exit ${m ? m[2] : code}); log: ${logFile}`);
  }
  for (const [i, step] of spec.steps.entries()) {
    await appendFile(logFile, `### ${name}: ${step.name ?? `step ${i + 1}`}\n`);
    await appendFile(logFile, await readFile(join(dest, 'logs', `step-${i + 1}.log`)).catch(() => Buffer.from('(no log exported)\n')));
  }
  await rm(join(dest, 'logs'), { recursive: true, force: true });
  return adoptOutputs(cache, name, spec.outputs, dest, logFile);
}
