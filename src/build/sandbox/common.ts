/** What every backend shares: run validation, the in-sandbox launcher, the rootfs's top level, logging. */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readlink } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { BuildError } from '../../errors.js';
import type { SandboxRun } from './types.js';

/** Throws a one-line BuildError when `r` could let a step see host paths or inherit host state. */
export function validateRun(r: SandboxRun): void {
  const bad = (what: string) => {
    throw new BuildError(`sandbox run: ${what}`);
  };
  if (r.argv.length === 0) bad('empty argv');
  const inside = (p: string, what: string) => {
    if (!p.startsWith('/') || posix.normalize(p) !== p || p.includes('\0') || (p.length > 1 && p.endsWith('/')))
      bad(`${what} ${JSON.stringify(p)} is not a normalized absolute path`);
  };
  inside(r.cwd, 'cwd');
  for (const b of r.binds) {
    inside(b.target, 'bind target');
    if (b.target === '/') bad('cannot bind over /');
    if (!b.source.startsWith('/') || /[:\0]/.test(b.source) || b.target.includes(':'))
      bad(`bind source ${JSON.stringify(b.source)} must be absolute and contain no ':'`);
  }
  const targets = r.binds.map((b) => b.target);
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup) bad(`two binds on ${dup}`);
  for (const k of Object.keys(r.env))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || r.env[k]!.includes('\0')) bad(`invalid environment variable ${JSON.stringify(k)}`);
  if (!Number.isInteger(r.umask) || r.umask < 0 || r.umask > 0o777) bad(`umask ${r.umask} out of range`);
}

/**
 * The command every backend executes inside: `env -i` with exactly `r.env` (so neither the host nor the
 * container runtime adds anything), then a POSIX shell sets the umask and cwd and execs `r.argv`.
 * Uses only /usr/bin/env and /bin/sh from the base rootfs.
 */
export function innerArgv(r: SandboxRun): string[] {
  const env = Object.keys(r.env)
    .sort()
    .map((k) => `${k}=${r.env[k]}`);
  const umask = r.umask.toString(8).padStart(4, '0');
  return ['/usr/bin/env', '-i', ...env, '/bin/sh', '-c', 'umask "$1" && cd "$2" && shift 2 && exec "$@"', 'cvm-sandbox', umask, r.cwd, ...r.argv];
}

/**
 * Run inside before the step where the runtime leaves capabilities (chroot, buildkit): the rootfs's own
 * setpriv (util-linux, essential in Debian) empties every capability set and sets no_new_privs, so uid 0
 * holds no capability and setuid binaries do not elevate.
 */
export const DROP_PRIVILEGES = ['/usr/bin/setpriv', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--no-new-privs', '--'];

/** Sandbox-provided top-level directories: never taken from the rootfs. */
export const PROVIDED = new Set(['dev', 'proc', 'sys', 'tmp', 'run']);

export type TopEntry = { name: string; kind: 'dir' | 'file' } | { name: string; kind: 'symlink'; target: string };

/** The rootfs's top level (bwrap and chroot bind these one by one on a tmpfs root so mount points never touch it). */
export async function rootfsTopLevel(rootfs: string, r: SandboxRun): Promise<TopEntry[]> {
  const ents = await readdir(rootfs, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    throw new BuildError(`sandbox rootfs ${rootfs}: ${e.code ?? String(e)}`);
  });
  const out: TopEntry[] = [];
  for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (PROVIDED.has(e.name)) continue;
    if (e.isSymbolicLink()) out.push({ name: e.name, kind: 'symlink', target: await readlink(join(rootfs, e.name)) });
    else if (e.isDirectory()) out.push({ name: e.name, kind: 'dir' });
    else if (e.isFile()) out.push({ name: e.name, kind: 'file' });
  }
  const names = new Set(out.map((e) => e.name));
  for (const b of r.binds) {
    const top = b.target.split('/')[1]!;
    if (names.has(top) || PROVIDED.has(top))
      throw new BuildError(`sandbox run: bind target ${b.target} lies under /${top}, which the base rootfs or the sandbox provides; use /src, /build or /out`);
  }
  return out;
}

/** Binds ordered so that a parent is mounted before anything below it. */
export function orderedBinds(r: SandboxRun): SandboxRun['binds'] {
  return [...r.binds].sort((a, b) => a.target.split('/').length - b.target.split('/').length || (a.target < b.target ? -1 : 1));
}

/** Runs `cmd` with stdout+stderr appended to `logFile`; resolves with the exit code (128+signal when killed). */
export async function spawnLogged(cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = hostToolEnv()): Promise<number> {
  await mkdir(dirname(logFile), { recursive: true });
  const fh = await open(logFile, 'a');
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', fh.fd, fh.fd], env });
      child.on('error', (e: NodeJS.ErrnoException) => reject(new BuildError(`cannot run ${cmd}: ${e.code ?? e.message}`)));
      child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    await fh.close();
  }
}

/** Host variables the backend tools themselves read (engine address, rootless state); never seen by the step. */
const TOOL_VARS = ['HOME', 'USER', 'TMPDIR', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'CONTAINER_HOST'];

/** The environment of the backend tool itself (not of the step, which gets exactly SandboxRun.env). */
export function hostToolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const k of TOOL_VARS) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}
