/**
 * Backend smoke test, run once per process before a backend is used: a real step in a throw-away rootfs
 * made of the host's /usr (bound read-only) that writes to a writable bind and must see no network but `lo`.
 */
import { access, mkdtemp, readdir, readFile, readlink, rm, symlink, mkdir } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Sandbox } from './types.js';

/** A reason when `tool` is not on PATH. */
export async function toolMissing(tool: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (
      await access(join(dir, tool), fsConstants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return undefined;
  }
  return `${tool} not found on PATH`;
}

export async function smokeTest(sb: Sandbox): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), `cvm-smoke-${sb.name}-`));
  try {
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs);
    await mkdir(join(dir, 'out'));
    const binds = [{ source: join(dir, 'out'), target: '/out', writable: true }];
    // Top-level symlinks of a merged-/usr host (bin -> usr/bin ...) are recreated; real dirs are bound.
    for (const name of ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
      const target = await readlink(`/${name}`).catch(() => undefined);
      if (target !== undefined) await symlink(target, join(rootfs, name));
      else if (
        await access(`/${name}`).then(
          () => true,
          () => false,
        )
      )
        binds.push({ source: `/${name}`, target: `/${name}`, writable: false });
    }
    const logFile = join(dir, 'log');
    const { exitCode } = await sb.run({
      rootfs,
      binds,
      env: { PATH: '/usr/bin:/bin' },
      argv: [
        '/bin/sh',
        '-c',
        'ls /sys/class/net > /out/net 2>/dev/null || cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " " > /out/net; umask > /out/umask; pwd > /out/cwd',
      ],
      cwd: '/out',
      umask: 0o022,
      logFile,
    });
    const log = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-1)[0] ?? '';
    if (exitCode !== 0) return `smoke test exited ${exitCode}${log ? `: ${log}` : ''}`;
    const files = await readdir(join(dir, 'out'));
    if (!files.includes('net')) return 'smoke test wrote nothing to its writable bind';
    const net = (await readFile(join(dir, 'out', 'net'), 'utf8')).split('\n').filter(Boolean);
    if (net.some((n) => n !== 'lo')) return `smoke test sees network interfaces ${net.join(', ')} (no network isolation)`;
    const umask = (await readFile(join(dir, 'out', 'umask'), 'utf8')).trim();
    if (umask !== '0022') return `smoke test umask is ${umask}, not 0022`;
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
