import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { publishRelease } from '../../publish/publish.js';
import { parsePrivateKey } from '../../sign/keys.js';
import { localSigner } from '../../sign/signer.js';
import { readInput } from '../../util/fs.js';
import { examples, jsonOption } from '../command.js';
import { printJson, printLine } from '../output.js';

interface Opts {
  repo: string;
  name: string;
  version: string;
  key: string[];
  json?: boolean;
}

export function registerPublish(program: Command): void {
  // the root's own --version must not swallow `publish --version V`: root options only before the command
  program.enablePositionalOptions();
  const cmd = program
    .command('publish')
    .description(
      'add a `manifest create` output directory to a static reference-value repository as releases/NAME/VERSION, re-sign its index (atomic; published versions are immutable) and rewrite its static pages (docs/site.md)',
    )
    .argument('<out-dir>', 'the directory `manifest create --out` wrote (with build-record, recipe and lock files when present)')
    .requiredOption('--repo <dir>', 'the repository directory (created when absent)')
    .requiredOption('--name <name>', 'release name')
    .requiredOption('--version <version>', 'release version (publishing it again with other contents is an error; with the same, a no-op)')
    .option(
      '--key <file>',
      'repository signing key, PEM (repeatable: the index gets every signature)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .addOption(jsonOption(program))
    .action(async (outDir: string, opts: Opts) => {
      if (opts.key.length === 0) throw new UsageError('--key is required: the repository index is signed');
      const signers = [];
      for (const k of opts.key) signers.push(localSigner(parsePrivateKey(await readInput(k, 'key'), k)));
      const r = await publishRelease(outDir, { repo: opts.repo, name: opts.name, version: opts.version, signers });
      if (opts.json) printJson(r);
      else
        printLine(
          `${r.unchanged ? 'unchanged' : 'published'}: ${r.name}@${r.version} (${Object.keys(r.files).length} files) in ${r.repo}, index version ${r.indexVersion} sha256:${r.indexSha256}`,
        );
    });
  examples(cmd, [
    'cvm-measure publish out/manifest --repo /srv/rv --name debian-12 --version 2026.01 --key repo.pem',
    'cvm-measure publish out/manifest --repo /srv/rv --name debian-12 --version 2026.01 --key repo-a.pem --key repo-b.pem --json',
  ]);
}
