import type { Command } from 'commander';
import { examples, group, jsonOption, repeatable } from '../command.js';
import { UsageError } from '../../errors.js';
import { readInput } from '../../util/fs.js';
import { parseInteger } from '../options.js';
import { parseTime } from '../time.js';
import { printJson, printLine } from '../output.js';
import { parsePublicKey } from '../../sign/keys.js';
import { verifyManifest } from '../../manifest/verify.js';

interface Opts {
  trust?: string[];
  threshold: string;
  at?: string;
  json?: boolean;
}

export function registerManifestVerify(program: Command): void {
  const cmd = group(program, 'manifest')
    .command('verify')
    .description('verify signed CoRIMs and DSSE envelopes against trusted public keys (k-of-n with --threshold)')
    .argument('<file...>', 'signed CoRIM (.cbor) or DSSE envelope (.json) files')
    .addOption(repeatable(program, '--trust <pub.pem>', 'trusted public key, PEM'))
    .option('--threshold <k>', 'distinct trusted keys that must have signed each DSSE envelope', '1')
    .option('--at <time>', 'check validity windows at this time instead of now (ISO 8601 or epoch seconds)')
    .addOption(jsonOption(program))
    .action(async (files: string[], opts: Opts) => {
      const trust = opts.trust ?? [];
      if (trust.length === 0) throw new UsageError('--trust: at least one public key is needed');
      const trusted = [];
      for (const p of trust) trusted.push(parsePublicKey(await readInput(p, 'public key'), p));
      const threshold = parseInteger('--threshold', opts.threshold, 1, trusted.length);
      const now = opts.at ? parseTime('--at', opts.at) : undefined;
      const results = [];
      for (const f of files) {
        const bytes = await readInput(f, 'manifest');
        try {
          results.push({ file: f, ...verifyManifest(bytes, { trusted, threshold, ...(now === undefined ? {} : { now }) }) });
        } catch (e) {
          if (e instanceof Error) e.message = `${f}: ${e.message}`;
          throw e;
        }
      }
      if (opts.json) {
        printJson({
          ok: true,
          results: results.map((r) =>
            r.type === 'corim'
              ? {
                  file: r.file,
                  type: r.type,
                  alg: r.alg,
                  keyIds: r.keyIds,
                  signer: r.signer ?? null,
                  corimId: r.corim.id,
                  profile: r.corim.profile ?? null,
                  values: r.corim.values.length,
                }
              : { file: r.file, type: r.type, keyIds: r.keyIds, payloadType: r.payloadType, predicateType: r.predicateType, subjects: r.subjects.length },
          ),
        });
      } else {
        for (const r of results) {
          const what =
            r.type === 'corim' ? `CoRIM ${r.alg}, ${r.corim.values.length} reference values` : `DSSE ${r.predicateType}, ${r.subjects.length} subjects`;
          printLine(`OK  ${r.file}: ${what}; signed by ${r.keyIds.join(', ')}`);
        }
      }
    });
  examples(cmd, [
    'cvm-measure manifest verify out/snp.corim.cbor --trust release.pub.pem',
    'cvm-measure manifest verify out/reference-values.intoto.json --trust a.pub.pem --trust b.pub.pem --trust c.pub.pem --threshold 2',
    'cvm-measure manifest verify out/*.corim.cbor out/*.intoto.json --trust release.pub.pem --json',
  ]);
}
