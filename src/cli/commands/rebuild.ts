import type { Command } from 'commander';
import { examples, jsonOption, progressOption, repeatable } from '../command.js';

export interface RebuildOpts {
  key: string;
  trust?: string[];
  threshold: string;
  release?: string;
  backend: string;
  out?: string;
  timeout?: string;
  progress: string;
  json?: boolean;
  debian?: string;
  buildinfo?: string;
}

/** The run (rebuild-run.ts), imported only when the command runs (the build stack). */
export type RebuildAction = () => Promise<(source: string | undefined, opts: RebuildOpts) => Promise<void>>;

export function registerRebuild(program: Command, run: RebuildAction): void {
  const cmd = program
    .command('rebuild')
    .description(
      "rebuild a published release independently (varied path, umask, hostname, locale, later time), compare every artifact and measured value, and sign a rebuild attestation; or, with --debian, rebuild a Debian binary package from its source package with Debian's own rules and report every file it ships as reproduced, differs or not attempted; exit 1 on a mismatch",
    )
    .argument('[source]', 'repository: http:// or https:// URL, or a directory (not with --debian)')
    .requiredOption('--key <file>', "the rebuilder's signing key, PEM: signs the rebuild attestation")
    .addOption(repeatable(program, '--trust <pub.pem>', 'public key trusted to sign the repository index'))
    .option('--threshold <k>', 'distinct trusted keys that must have signed the index', '1')
    .option('--release <name[@version]>', 'the release to rebuild (NAME alone: its latest version); default: the release published last')
    .option('--backend <name>', 'sandbox: auto, docker, podman, bwrap, chroot, or buildkit (each run component one BuildKit build)', 'auto')
    .option('--out <dir>', 'where rebuild.intoto.json, the rebuilt artifacts and logs go (default: rebuild-RELEASE, or rebuild-latest)')
    .option('--timeout <ms>', 'connect/idle and total deadline of each request in milliseconds')
    .option(
      '--debian <pkg[=version]>',
      "rebuild a Debian binary package (version: default the candidate apt sees, printed) from its source package at Debian's builder path; signs an attestation for the reproduced firmware with SNP digests and MRTD",
    )
    .option('--buildinfo <file>', "with --debian: the package's .buildinfo: the rootfs gets exactly its Installed-Build-Depends versions and its Build-Path")
    .addOption(progressOption(program))
    .addOption(jsonOption(program))
    .action(async (source: string | undefined, opts: RebuildOpts) => (await run())(source, opts));
  examples(cmd, [
    'cvm-measure rebuild https://rv.example.org/ --trust repo.pub.pem --release uki --key rebuilder.pem',
    'cvm-measure rebuild /srv/rv --trust repo.pub.pem --release debian-12@2026.01 --key rebuilder.pem --backend podman --out rb --json',
    'cvm-measure rebuild --debian ovmf=2022.11-6+deb12u2 --key rebuilder.pem --backend bwrap --out rb-ovmf',
  ]);
}
