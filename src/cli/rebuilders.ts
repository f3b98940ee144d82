/** `--rebuilders KEY… --rebuild-threshold K`, shared by fetch, verify and manifest verify. */
import type { Command } from 'commander';
import type { KeyObject } from 'node:crypto';
import { rebuilderKeys } from '../manifest/rebuild-attestation.js';
import { parsePublicKey } from '../sign/keys.js';
import { readInput } from '../util/fs.js';
import { repeatable } from './command.js';
import { parseInteger } from './options.js';

export interface RebuilderOpts {
  rebuilders?: string[];
  rebuildThreshold?: string;
}

export function rebuilderOptions(program: Command, cmd: Command): Command {
  return cmd
    .addOption(
      repeatable(
        program,
        '--rebuilders <pub.pem>',
        'public key of an independent rebuilder: trust the reference values only when --rebuild-threshold distinct rebuilders attest `match` for every value',
      ),
    )
    .option('--rebuild-threshold <k>', 'distinct --rebuilders keys whose rebuild attestations must confirm every value (default: 1)');
}

/** The distinct rebuilder keys and threshold, or undefined without --rebuilders. */
export async function readRebuilders(o: RebuilderOpts): Promise<{ rebuilders: KeyObject[]; rebuildThreshold: number } | undefined> {
  if (!o.rebuilders?.length) return undefined;
  const keys = [];
  for (const p of o.rebuilders) keys.push({ key: parsePublicKey(await readInput(p, 'public key'), p), path: p });
  const rebuildThreshold = parseInteger('--rebuild-threshold', o.rebuildThreshold ?? '1', 1);
  return { rebuilders: rebuilderKeys(keys, rebuildThreshold), rebuildThreshold };
}
