/**
 * `run` arguments shared by the OCI engines (podman, docker): no network, uid 0 without any capability
 * and without new privileges (setuid binaries do not elevate), read-only root, fixed hostname.
 */
import { SANDBOX_HOSTNAME, type SandboxRun } from './types.js';
import { orderedBinds } from './common.js';

export function ociRunArgs(r: SandboxRun): string[] {
  const args = [
    'run',
    '--rm',
    '--network=none',
    '--cap-drop=ALL',
    '--security-opt=no-new-privileges',
    '--hostname',
    r.hostname ?? SANDBOX_HOSTNAME,
    '--user',
    '0:0',
    '--workdir',
    '/',
    '--read-only',
  ];
  for (const t of ['/tmp', '/run', '/var/tmp']) args.push('--tmpfs', `${t}:rw,exec,mode=1777`);
  for (const b of orderedBinds(r)) args.push('-v', `${b.source}:${b.target}:${b.writable ? 'rw' : 'ro'}`);
  return args;
}
