import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { DEFAULT_TIMEOUT_MS, fetchRepository } from '../../publish/fetch.js';
import { parsePublicKey } from '../../sign/keys.js';
import { readInput } from '../../util/fs.js';
import { examples, jsonOption, repeatable } from '../command.js';
import { parseInteger } from '../options.js';
import { printJson, printLine } from '../output.js';
import { type RebuilderOpts, readRebuilders, rebuilderOptions } from '../rebuilders.js';

interface Opts extends RebuilderOpts {
  trust?: string[];
  threshold: string;
  out?: string;
  release?: string;
  state?: string;
  timeout: string;
  json?: boolean;
}

export function registerFetch(program: Command): void {
  const cmd = rebuilderOptions(
    program,
    program
      .command('fetch')
      .description(
        'fetch releases from a reference-value repository: verify the signed index (k-of-n), refuse a rollback, check every file against it, then write atomically',
      )
      .argument('<source>', 'repository: http:// or https:// URL, or a directory')
      .addOption(repeatable(program, '--trust <pub.pem>', 'public key trusted to sign the repository index'))
      .option('--threshold <k>', 'distinct trusted keys that must have signed the index', '1')
      .option('--out <dir>', 'write the index and releases here (cached by digest; the index version seen is kept for rollback checks)')
      .option('--release <name[@version]>', 'only this release (NAME alone: its latest version); default: every release')
      .option('--state <file>', 'where the last index version seen is kept (default: OUT/.cvm-repository-state.json)')
      .option('--timeout <ms>', 'connect/idle and total deadline of each request in milliseconds', String(DEFAULT_TIMEOUT_MS)),
  )
    .addOption(jsonOption(program))
    .action(async (source: string, opts: Opts) => {
      const trust = opts.trust ?? [];
      if (trust.length === 0) throw new UsageError('--trust is required: the repository index is used only after its signature verifies');
      const trusted = [];
      for (const p of trust) trusted.push(parsePublicKey(await readInput(p, 'public key'), p));
      const r = await fetchRepository(source, {
        trusted,
        threshold: parseInteger('--threshold', opts.threshold, 1, trusted.length),
        ...(opts.out ? { out: opts.out } : {}),
        ...(opts.release ? { release: opts.release } : {}),
        ...(opts.state ? { stateFile: opts.state } : {}),
        timeoutMs: parseInteger('--timeout', opts.timeout, 1, 3_600_000),
        ...(await readRebuilders(opts)),
      });
      if (opts.json) printJson(r);
      else {
        for (const x of r.releases) printLine(`${x.name}@${x.version}  ${x.path}  ${x.files} files`);
        for (const x of r.rebuilds ?? [])
          printLine(`rebuilt: ${x.name}@${x.version}: ${x.values} values confirmed by ${x.keyIds.length} rebuilder keys (threshold ${x.threshold})`);
        printLine(
          `OK: index version ${r.indexVersion} sha256:${r.indexSha256} signed by ${r.keyIds.join(', ')}; ${r.downloaded} downloaded, ${r.cached} cached${r.out ? `; written to ${r.out}` : ''}`,
        );
      }
    });
  examples(cmd, [
    'cvm-measure fetch http://127.0.0.1:8080/ --trust repo.pub.pem --out rv',
    'cvm-measure fetch /srv/rv --trust repo.pub.pem --rebuilders r1.pub.pem --rebuilders r2.pub.pem --rebuild-threshold 2 --release debian-12',
    'cvm-measure fetch /srv/rv --trust a.pub.pem --trust b.pub.pem --threshold 2 --release debian-12@2026.01 --json',
  ]);
}
