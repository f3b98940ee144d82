/**
 * docker, when an engine answers (none is required). Docker cannot run a directory as root, so the base
 * rootfs's pinned tarball (recorded by extractRootfs beside the directory) is imported once as
 * `cvm-measure-rootfs:<sha256>`; the image's single layer diffID must equal that sha256.
 */
import { execa } from 'execa';
import { BuildError } from '../../errors.js';
import { rootfsOrigin } from '../rootfs.js';
import { hostToolEnv, innerArgv, rootfsTopLevel, spawnLogged, validateRun } from './common.js';
import { ociRunArgs } from './oci.js';
import { toolMissing } from './smoke.js';
import type { Backend, SandboxRun } from './types.js';

async function docker_(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('docker', args, { reject: false, env: hostToolEnv(), extendEnv: false, timeout: 600_000 });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

async function layers(tag: string): Promise<string[] | undefined> {
  const r = await docker_(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', tag]);
  return r.exitCode === 0 ? (JSON.parse(r.stdout) as string[]) : undefined;
}

/** The image for an extracted rootfs, imported from its tarball when missing and checked by diffID. */
export async function dockerImage(rootfs: string): Promise<string> {
  const { tarball, sha256 } = await rootfsOrigin(rootfs);
  const tag = `cvm-measure-rootfs:${sha256}`;
  let l = await layers(tag);
  if (!l) {
    const r = await docker_(['import', tarball, tag]);
    if (r.exitCode !== 0) throw new BuildError(`docker import ${tarball} failed: ${r.stderr.trim().split('\n').slice(-1)[0]}`);
    l = await layers(tag);
  }
  if (l?.length !== 1 || l[0] !== `sha256:${sha256}`)
    throw new BuildError(`docker image ${tag} has layers ${JSON.stringify(l)}, expected the rootfs tarball sha256:${sha256}`);
  return tag;
}

export async function dockerArgs(r: SandboxRun): Promise<string[]> {
  validateRun(r);
  await rootfsTopLevel(r.rootfs, r);
  return [...ociRunArgs(r), '--pull=never', await dockerImage(r.rootfs), ...innerArgv(r)];
}

export const docker: Backend = {
  name: 'docker',
  async run(r) {
    return { exitCode: await spawnLogged('docker', await dockerArgs(r), r.logFile) };
  },
  async probe() {
    const missing = await toolMissing('docker');
    if (missing) return missing;
    const r = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false, timeout: 15_000, env: hostToolEnv(), extendEnv: false });
    return r.exitCode === 0 ? undefined : 'no Docker engine answers (docker version failed)';
  },
};
