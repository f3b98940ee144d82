/** Debian packages cvm-measure needs beyond Node, by purpose; `cvm-measure doctor` checks and installs them. */
import { execa } from 'execa';
import { BuildError } from '../errors.js';

export type Purpose = 'build' | 'test';

export interface Requirement {
  /** Debian package name. */
  apt: string;
  purpose: Purpose[];
  why: string;
}

export const REQUIREMENTS: readonly Requirement[] = [
  { apt: 'ca-certificates', purpose: ['build', 'test'], why: 'fetching pinned inputs over TLS' },
  { apt: 'openssl', purpose: ['test'], why: 'independent DSSE and SNP ID-block signature checks' },
  { apt: 'python3-cbor2', purpose: ['test'], why: 'independent CoRIM / COSE_Sign1 validator (shared/tools/validate)' },
  { apt: 'python3-cryptography', purpose: ['test'], why: 'independent COSE and DSSE signature checks' },
  { apt: 'python3-securesystemslib', purpose: ['test'], why: 'independent DSSE signature check (DER-only ECDSA)' },
  { apt: 'ruby-cose', purpose: ['test'], why: 'second independent COSE_Sign1 implementation' },
  { apt: 'ruby-cbor', purpose: ['test'], why: 'CBOR for ruby-cose' },
  { apt: 'mmdebstrap', purpose: ['build', 'test'], why: 'bit-reproducible base rootfs tarball for sandboxed build steps' },
  { apt: 'bubblewrap', purpose: ['build', 'test'], why: 'bwrap sandbox backend (no network, read-only rootfs)' },
  { apt: 'podman', purpose: ['build', 'test'], why: 'podman sandbox backend (and the bwrap/podman parity test)' },
  { apt: 'runc', purpose: ['build', 'test'], why: 'OCI runtime podman uses (crun fails on cgroup-v1-hybrid hosts)' },
  { apt: 'uidmap', purpose: ['build'], why: 'newuidmap for mmdebstrap/podman when not run as root' },
  { apt: 'git', purpose: ['build', 'test'], why: 'git-archive recipe inputs' },
  { apt: 'qemu-system-x86', purpose: ['test'], why: 'e2e measured boots (vTPM PCRs) under QEMU TCG' },
  { apt: 'ovmf', purpose: ['test'], why: 'e2e measured boots: Debian OVMF with its plain, Microsoft and snakeoil VARS stores' },
  { apt: 'swtpm', purpose: ['test'], why: 'e2e measured boots: a fresh software TPM 2.0 per boot' },
  { apt: 'swtpm-tools', purpose: ['test'], why: 'swtpm_setup for the e2e TPM state (sha1/sha256/sha384 banks)' },
  { apt: 'busybox-static', purpose: ['test'], why: 'e2e guest initrd (built with the cpio writer) that prints PCRs and the event log' },
  { apt: 'systemd-boot-efi', purpose: ['test'], why: 'linuxx64.efi.stub for e2e UKIs built with `uki build`' },
  { apt: 'fdisk', purpose: ['test'], why: 'sfdisk: GPT of the ESP disks recipes/esp/esp-disk.sh makes on the host in the ESP and e2e tests (PCR5)' },
  { apt: 'dosfstools', purpose: ['test'], why: 'mkfs.fat: the FAT32 ESP of the ESP and e2e tests' },
  { apt: 'mtools', purpose: ['test'], why: 'mmd/mcopy: put the UKI on the ESP of the ESP and e2e tests' },
  { apt: 'sbsigntool', purpose: ['test'], why: 'sbsign: sign the e2e UKI with the snakeoil key for the Secure Boot boot' },
  { apt: 'chromium', purpose: ['test'], why: 'headless browser for test/browser.test.ts (measurements in a browser bundle, driven by playwright-core)' },
];

export interface RequirementStatus extends Requirement {
  installed: boolean;
}

/** Asks dpkg which requirements for `purposes` are installed (one process for all; none installed without dpkg). */
export async function checkRequirements(purposes: readonly Purpose[]): Promise<RequirementStatus[]> {
  const wanted = REQUIREMENTS.filter((r) => r.purpose.some((p) => purposes.includes(p)));
  const res = await execa('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...wanted.map((r) => r.apt)], { reject: false });
  const installed = new Set(
    res.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return wanted.map((r) => ({ ...r, installed: installed.has(r.apt) }));
}

/** apt-get update + install of the named packages (as root, or through sudo). */
export async function installPackages(packages: readonly string[], log: (line: string) => void): Promise<void> {
  if (packages.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const run = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    log(`$ ${args.join(' ')}`);
    const r = await execa(cmd!, rest, { env, reject: false, all: true });
    if (r.exitCode !== 0) {
      const tail = (r.all ?? '').trim().split('\n').slice(-1)[0] ?? '';
      throw new BuildError(`${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode}): ${tail}`);
    }
  };
  await run(['apt-get', 'update', '-qq']);
  await run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
}
