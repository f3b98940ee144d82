/**
 * The BuildKit client: the first `docker` on PATH that can build with BuildKit — one with the buildx
 * plugin (`docker buildx build`, `--builder NAME` chooses a remote builder), else one whose client is
 * older than 23 (Debian's docker.io 20.10: BuildKit built into `docker build` with DOCKER_BUILDKIT=1).
 * The engine is the one the client reaches (DOCKER_HOST, DOCKER_CONTEXT); cvm-measure never starts one.
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { BuildError } from '../../errors.js';
import { hostToolEnv, spawnLogged } from '../sandbox/common.js';

export interface BuildkitClient {
  /** Absolute path of the docker executable. */
  docker: string;
  /** `buildx`: docker buildx build; `builtin`: DOCKER_BUILDKIT=1 docker build. */
  kind: 'buildx' | 'builtin';
  version: string;
}

/** Pass-through options of every BuildKit build. */
export interface BuildkitOptions {
  /** buildx builder name (`--builder`); needs buildx. */
  builder?: string;
  /** `--cache-from` / `--cache-to` values, passed as given (`--cache-to` needs buildx). */
  cacheFrom?: string[];
  cacheTo?: string[];
}

/** Variables the client reads to find its engine or builder, besides hostToolEnv's. */
const CLIENT_VARS = ['BUILDKIT_HOST', 'BUILDX_BUILDER', 'BUILDX_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY'];

/** The client's environment: the probe and the builds see the same engine (a TLS remote one too). */
export function clientEnv(c?: BuildkitClient): NodeJS.ProcessEnv {
  const extra: Record<string, string> = c?.kind === 'builtin' ? { DOCKER_BUILDKIT: '1' } : {};
  for (const k of CLIENT_VARS) if (process.env[k] !== undefined) extra[k] = process.env[k]!;
  return hostToolEnv(extra);
}

async function dockersOnPath(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, 'docker');
    if (
      !out.includes(p) &&
      (await access(p, fsConstants.X_OK).then(
        () => true,
        () => false,
      ))
    )
      out.push(p);
  }
  return out;
}

let found: Promise<BuildkitClient | string> | undefined;

/** The client to use, or why there is none (probed once per process). */
export function findClient(): Promise<BuildkitClient | string> {
  found ??= (async () => {
    const tried: string[] = [];
    for (const docker of await dockersOnPath()) {
      const run = (args: string[]) => execa(docker, args, { reject: false, timeout: 30_000, env: clientEnv(), extendEnv: false });
      const v = await run(['version', '--format', '{{.Client.Version}} {{.Server.Version}}']);
      if (v.exitCode !== 0) {
        tried.push(`${docker}: no Docker engine answers (docker version failed)`);
        continue;
      }
      const [client = '', server = ''] = String(v.stdout).trim().split(' ');
      if ((await run(['buildx', 'version'])).exitCode === 0) return { docker, kind: 'buildx', version: `client ${client}, engine ${server}` };
      const major = Number(/^(\d+)\./.exec(client)?.[1] ?? 'NaN');
      if (major < 23) return { docker, kind: 'builtin', version: `client ${client}, engine ${server}` };
      tried.push(`${docker}: client ${client} has no buildx plugin (since 23 its BuildKit builds need buildx)`);
    }
    return tried.length ? tried.join('; ') : 'docker not found on PATH';
  })();
  return found;
}

export async function requireClient(o: BuildkitOptions): Promise<BuildkitClient> {
  const c = await findClient();
  if (typeof c === 'string') throw new BuildError(`sandbox backend buildkit: ${c}`);
  if (c.kind !== 'buildx' && o.builder)
    throw new BuildError(`--builder ${o.builder}: needs docker buildx (${c.docker} has BuildKit built in, without builders)`);
  if (c.kind !== 'buildx' && o.cacheTo?.length)
    throw new BuildError(`--cache-to: needs docker buildx (${c.docker}'s built-in BuildKit client only has --cache-from)`);
  return c;
}

/** The client's argv for one build: context `context`, Dockerfile `dockerfile`, files exported into `dest`. */
export function buildArgs(c: BuildkitClient, a: { context: string; dockerfile: string; dest: string; noCache: boolean } & BuildkitOptions): string[] {
  return [
    ...(c.kind === 'buildx' ? ['buildx', 'build', ...(a.builder ? ['--builder', a.builder] : [])] : ['build']),
    '--progress=plain',
    '--network=none',
    '--pull=false',
    ...(a.noCache ? ['--no-cache'] : []),
    ...(a.cacheFrom ?? []).flatMap((x) => ['--cache-from', x]),
    ...(a.cacheTo ?? []).flatMap((x) => ['--cache-to', x]),
    '--file',
    a.dockerfile,
    '--output',
    `type=local,dest=${a.dest}`,
    a.context,
  ];
}

/** Runs one build, its progress output appended to `logFile`; resolves with the client's exit code. */
export function runBuild(c: BuildkitClient, args: string[], logFile: string): Promise<number> {
  return spawnLogged(c.docker, args, logFile, clientEnv(c));
}
