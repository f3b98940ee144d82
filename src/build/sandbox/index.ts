/**
 * Sandbox backends behind one interface: `docker`, `podman`, `bwrap`, `chroot`. `auto` takes the first
 * in that order whose smoke test passes. Every backend: the base rootfs read-only, inputs read-only at
 * /src, writable /build/<component> and /out, no network, exactly the given env, umask and cwd.
 */
import { BuildError } from '../../errors.js';
import { bwrap } from './bwrap.js';
import { chroot } from './chroot.js';
import { docker } from './docker.js';
import { podman } from './podman.js';
import type { Backend, BackendName, BackendPref, Sandbox } from './types.js';

export type { Backend, BackendName, BackendPref, Sandbox, SandboxRun } from './types.js';
export { SANDBOX_HOSTNAME } from './types.js';
export { sandboxEnv } from './env.js';

export const BACKEND_ORDER: readonly Backend[] = [docker, podman, bwrap, chroot];

const probes = new Map<BackendName, Promise<string | undefined>>();

/** Why `name` cannot be used here (undefined: its smoke test passed); probed once per process. */
export function probeBackend(name: BackendName): Promise<string | undefined> {
  let p = probes.get(name);
  if (!p) {
    p = BACKEND_ORDER.find((b) => b.name === name)!.probe();
    probes.set(name, p);
  }
  return p;
}

export async function selectSandbox(pref: BackendPref): Promise<Sandbox> {
  const candidates = pref === 'auto' ? BACKEND_ORDER : BACKEND_ORDER.filter((b) => b.name === pref);
  if (candidates.length === 0) throw new BuildError(`unknown sandbox backend ${JSON.stringify(pref)} (auto, docker, podman, bwrap, chroot)`);
  const reasons: string[] = [];
  for (const b of candidates) {
    const why = await probeBackend(b.name);
    if (why === undefined) return b;
    reasons.push(`${b.name}: ${why}`);
  }
  throw new BuildError(pref === 'auto' ? `no usable sandbox backend (${reasons.join('; ')})` : `sandbox backend ${reasons[0]}`);
}
