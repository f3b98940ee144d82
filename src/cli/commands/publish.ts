import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { publishAttestations, publishRelease } from '../../publish/publish.js';
import { parsePrivateKey } from '../../sign/keys.js';
import { localSigner } from '../../sign/signer.js';
import { readInput } from '../../util/fs.js';
import { examples, jsonOption, repeatable } from '../command.js';
import { printJson, printLine } from '../output.js';

interface Opts {
  repo: string;
  name?: string;
  version?: string;
  key?: string[];
  build?: string;
  withInputs?: boolean;
  attestation?: string[];
  json?: boolean;
}

export function registerPublish(program: Command): void {
  // the root's own --version must not swallow `publish --version V`: root options only before the command
  program.enablePositionalOptions();
  const cmd = program
    .command('publish')
    .description(
      'add a `manifest create` output directory to a static reference-value repository as releases/NAME/VERSION, re-sign its index (atomic; published versions are immutable) and rewrite its static pages (docs/site.md); or, with --attestation, add rebuild attestations to published releases',
    )
    .argument('[out-dir]', 'the directory `manifest create --out` wrote (with build-record, recipe and lock files when present)')
    .requiredOption('--repo <dir>', 'the repository directory (created when absent)')
    .option('--name <name>', 'release name (with <out-dir>)')
    .option('--version <version>', 'release version (publishing it again with other contents is an error; with the same, a no-op)')
    .addOption(repeatable(program, '--key <file>', 'repository signing key, PEM (the index gets every signature)'))
    .option(
      '--build <dir>',
      'the `build --out` directory: the release also carries its artifacts, build record, measurements, recipe, lock and file inputs (what `rebuild` needs)',
    )
    .option('--with-inputs', 'with --build: also carry every locked download (.debs, source packages, base tarballs) from the build cache, by sha256')
    .addOption(repeatable(program, '--attestation <file>', 'a rebuild attestation (`cvm-measure rebuild` output) to list with the release it names'))
    .addOption(jsonOption(program))
    .action(async (outDir: string | undefined, opts: Opts) => {
      const keys = opts.key ?? [];
      const attestations = opts.attestation ?? [];
      if (keys.length === 0) throw new UsageError('--key is required: the repository index is signed');
      if ((outDir === undefined) === (attestations.length === 0)) throw new UsageError('give either <out-dir> (a release) or --attestation FILE');
      if (opts.withInputs && !opts.build) throw new UsageError('--with-inputs needs --build');
      const signers = [];
      for (const k of keys) signers.push(localSigner(parsePrivateKey(await readInput(k, 'key'), k)));
      if (outDir === undefined) {
        const files = [];
        for (const f of attestations) files.push({ path: f, bytes: await readInput(f, 'attestation') });
        const r = await publishAttestations(files, { repo: opts.repo, signers });
        if (opts.json) printJson(r);
        else {
          for (const a of r.attestations) printLine(`${a.verdict.padEnd(8)} ${a.name}@${a.version}  ${a.path}  key ${a.keyid.slice(0, 16)}…`);
          printLine(
            `${r.unchanged ? 'unchanged' : 'published'}: ${r.attestations.length} attestations in ${r.repo}, index version ${r.indexVersion} sha256:${r.indexSha256}`,
          );
        }
        return;
      }
      if (!opts.name || !opts.version) throw new UsageError('a release needs --name and --version');
      const r = await publishRelease(outDir, {
        repo: opts.repo,
        name: opts.name,
        version: opts.version,
        signers,
        ...(opts.build ? { build: opts.build, withInputs: Boolean(opts.withInputs) } : {}),
      });
      if (opts.json) printJson(r);
      else
        printLine(
          `${r.unchanged ? 'unchanged' : 'published'}: ${r.name}@${r.version} (${Object.keys(r.files).length} files) in ${r.repo}, index version ${r.indexVersion} sha256:${r.indexSha256}`,
        );
    });
  examples(cmd, [
    'cvm-measure publish out/manifest --repo /srv/rv --name debian-12 --version 2026.01 --key repo.pem',
    'cvm-measure publish out/manifest --build out --with-inputs --repo /srv/rv --name debian-12 --version 2026.01 --key repo.pem',
    'cvm-measure publish --attestation rebuild.intoto.json --repo /srv/rv --key repo.pem',
    'cvm-measure publish out/manifest --repo /srv/rv --name debian-12 --version 2026.01 --key repo-a.pem --key repo-b.pem --json',
  ]);
}
