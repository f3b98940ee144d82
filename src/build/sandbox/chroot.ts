/**
 * unshare + chroot (root only): new mount, network, PID, IPC and UTS namespaces; a tmpfs root with the
 * base rootfs's top-level entries bound read-only, a minimal /dev, fresh /proc (its /proc/sys and
 * /proc/sysrq-trigger read-only) and tmpfs /tmp, /run, /var/tmp; `lo` is brought up when `ip` exists.
 * Inside the chroot the rootfs's own setpriv (util-linux, essential in Debian) empties the capability
 * bounding set and sets no_new_privs before the step starts, so uid 0 holds no capability.
 * The mounts vanish with the mount namespace.
 */
import { join } from 'node:path';
import { DROP_PRIVILEGES, innerArgv, orderedBinds, rootfsTopLevel, spawnLogged, validateRun } from './common.js';
import { smokeTest, toolMissing } from './smoke.js';
import { SANDBOX_HOSTNAME, type Backend, type SandboxRun } from './types.js';

/** POSIX shell single-quoting. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** The host-side script run inside the new namespaces: assemble the root, chroot, remove the mount point. */
export async function chrootScript(r: SandboxRun): Promise<string> {
  validateRun(r);
  const R = '"$R"';
  const ro = (src: string, dst: string) => `mount --bind ${q(src)} ${R}${q(dst)} && mount -o remount,bind,ro ${R}${q(dst)}`;
  const lines = ['set -e', 'R=$(mktemp -d)', `mount -t tmpfs -o mode=0755 cvm-root ${R}`];
  for (const e of await rootfsTopLevel(r.rootfs, r)) {
    const dst = `/${e.name}`;
    if (e.kind === 'symlink') lines.push(`ln -s ${q(e.target)} ${R}${q(dst)}`);
    else lines.push(`${e.kind === 'dir' ? 'mkdir' : 'touch'} ${R}${q(dst)}`, ro(join(r.rootfs, e.name), dst));
  }
  lines.push(
    `mkdir -p ${R}/dev/pts ${R}/dev/shm ${R}/proc ${R}/tmp ${R}/run`,
    `mount -t tmpfs -o mode=0755,nosuid cvm-dev ${R}/dev`,
    `mkdir ${R}/dev/pts ${R}/dev/shm`,
  );
  for (const d of DEVICES) lines.push(`touch ${R}/dev/${d}`, `mount --bind /dev/${d} ${R}/dev/${d}`);
  lines.push(
    `ln -s /proc/self/fd ${R}/dev/fd`,
    `ln -s /proc/self/fd/0 ${R}/dev/stdin`,
    `ln -s /proc/self/fd/1 ${R}/dev/stdout`,
    `ln -s /proc/self/fd/2 ${R}/dev/stderr`,
    `mount -t tmpfs -o mode=1777,nosuid,nodev cvm-shm ${R}/dev/shm`,
    `mount -t proc -o nosuid,nodev,noexec proc ${R}/proc`,
    `for p in sys sysrq-trigger; do mount --bind ${R}/proc/$p ${R}/proc/$p && mount -o remount,bind,ro ${R}/proc/$p; done`,
  );
  for (const t of ['/tmp', '/run', '/var/tmp']) lines.push(`if [ -d ${R}${t} ]; then mount -t tmpfs -o mode=1777,nodev cvm-tmp ${R}${t}; fi`);
  for (const b of orderedBinds(r)) {
    lines.push(`mkdir -p ${R}${q(b.target)}`);
    lines.push(b.writable ? `mount --bind ${q(b.source)} ${R}${q(b.target)}` : ro(b.source, b.target));
  }
  lines.push(`mount -o remount,ro ${R}`);
  lines.push(`printf %s ${q(r.hostname ?? SANDBOX_HOSTNAME)} > /proc/sys/kernel/hostname`);
  lines.push('if command -v ip >/dev/null; then ip link set lo up; fi');
  // Not exec: the mount point directory itself lives on the host and is removed after the step.
  const [setpriv] = DROP_PRIVILEGES;
  lines.push(
    'set +e',
    `if [ -x ${R}${setpriv} ]; then chroot ${R} ${[...DROP_PRIVILEGES, ...innerArgv(r)].map(q).join(' ')}; rc=$?`,
    `else echo ${q(`chroot backend: the base rootfs has no ${setpriv} (util-linux) to drop capabilities with`)} >&2; rc=125; fi`,
    `umount -l ${R}`,
    `rmdir ${R}`,
    'exit $rc',
  );
  return lines.join('\n');
}

export const chroot: Backend = {
  name: 'chroot',
  async run(r) {
    const script = await chrootScript(r);
    return {
      exitCode: await spawnLogged(
        'unshare',
        ['--mount', '--net', '--pid', '--ipc', '--uts', '--fork', '--kill-child', '--propagation', 'private', '--', '/bin/sh', '-c', script],
        r.logFile,
      ),
    };
  },
  async probe() {
    if (process.getuid?.() !== 0) return 'needs root';
    return (await toolMissing('unshare')) ?? (await toolMissing('chroot')) ?? smokeTest(this);
  },
};
