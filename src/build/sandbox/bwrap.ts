/**
 * bubblewrap: every namespace unshared (the network namespace has only `lo`), uid/gid 0 inside but every
 * capability dropped, no further user namespaces and no new privileges (bwrap always sets no_new_privs),
 * a read-only tmpfs root with the base rootfs's top-level entries bound read-only, fresh /dev, /proc
 * (its /proc/sys read-only), /tmp, /run, /var/tmp.
 */
import { join } from 'node:path';
import { innerArgv, orderedBinds, rootfsTopLevel, spawnLogged, validateRun } from './common.js';
import { smokeTest, toolMissing } from './smoke.js';
import { SANDBOX_HOSTNAME, type Backend, type SandboxRun } from './types.js';

export async function bwrapArgs(r: SandboxRun): Promise<string[]> {
  validateRun(r);
  const args = [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--new-session',
    '--uid',
    '0',
    '--gid',
    '0',
    '--hostname',
    r.hostname ?? SANDBOX_HOSTNAME,
  ];
  for (const e of await rootfsTopLevel(r.rootfs, r)) {
    if (e.kind === 'symlink') args.push('--symlink', e.target, `/${e.name}`);
    else args.push('--ro-bind', join(r.rootfs, e.name), `/${e.name}`);
  }
  // bwrap leaves /proc/sys writable, and uid 0 here is the host's root: host-wide sysctls (core_pattern)
  // would accept its writes. The host's /proc/sys, bound read-only, shows the step's own namespaces.
  args.push(
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--ro-bind',
    '/proc/sys',
    '/proc/sys',
    '--ro-bind-try',
    '/proc/sysrq-trigger',
    '/proc/sysrq-trigger',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/var/tmp',
  );
  for (const b of orderedBinds(r)) args.push(b.writable ? '--bind' : '--ro-bind', b.source, b.target);
  return [...args, '--remount-ro', '/', '--chdir', '/', '--', ...innerArgv(r)];
}

export const bwrap: Backend = {
  name: 'bwrap',
  async run(r) {
    return { exitCode: await spawnLogged('bwrap', await bwrapArgs(r), r.logFile) };
  },
  async probe() {
    return (await toolMissing('bwrap')) ?? smokeTest(this);
  },
};
