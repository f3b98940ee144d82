import type { Command } from 'commander';
import { examples, group, jsonOption, repeatable } from '../command.js';
import { UsageError } from '../../errors.js';
import { readInput } from '../../util/fs.js';
import { parseInteger } from '../options.js';
import { parseTime } from '../time.js';
import { printJson, printLine } from '../output.js';
import { parsePublicKey } from '../../sign/keys.js';
import { verifyManifest } from '../../manifest/verify.js';
import { checkAttestation, checkFileRebuilds } from '../../manifest/rebuild-attestation.js';
import { toHex } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';
import { type RebuilderOpts, readRebuilders, rebuilderOptions } from '../rebuilders.js';

interface Opts extends RebuilderOpts {
  attestation?: string[];
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
    .addOption(
      repeatable(program, '--attestation <file>', 'a rebuild attestation (`cvm-measure rebuild` output) naming the files by sha256 (with --rebuilders)'),
    );
  rebuilderOptions(program, cmd)
    .addOption(jsonOption(program))
    .action(async (files: string[], opts: Opts) => {
      const trust = opts.trust ?? [];
      if (trust.length === 0) throw new UsageError('--trust: at least one public key is needed');
      const trusted = [];
      for (const p of trust) trusted.push(parsePublicKey(await readInput(p, 'public key'), p));
      const threshold = parseInteger('--threshold', opts.threshold, 1, trusted.length);
      const now = opts.at ? parseTime('--at', opts.at) : undefined;
      const rb = await readRebuilders(opts);
      const attestationFiles = opts.attestation ?? [];
      if (attestationFiles.length > 0 && !rb)
        throw new UsageError('--attestation needs --rebuilders: attestations count only when signed by a trusted rebuilder key');
      const attestations = [];
      for (const a of attestationFiles) attestations.push(checkAttestation((await readInput(a, 'attestation')).toString('utf8'), rb!.rebuilders, undefined, a));
      const results = [];
      for (const f of files) {
        const bytes = await readInput(f, 'manifest');
        try {
          const rebuilds = rb ? { rebuilds: checkFileRebuilds(toHex(digest('sha256', bytes)), attestations, rb.rebuildThreshold) } : {};
          results.push({ file: f, ...verifyManifest(bytes, { trusted, threshold, ...(now === undefined ? {} : { now }) }), ...rebuilds });
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
                  ...(r.rebuilds ? { rebuilds: { threshold: r.rebuilds.threshold, keyIds: r.rebuilds.keyIds } } : {}),
                }
              : {
                  file: r.file,
                  type: r.type,
                  keyIds: r.keyIds,
                  payloadType: r.payloadType,
                  predicateType: r.predicateType,
                  subjects: r.subjects.length,
                  ...(r.rebuilds ? { rebuilds: { threshold: r.rebuilds.threshold, keyIds: r.rebuilds.keyIds } } : {}),
                },
          ),
        });
      } else {
        for (const r of results) {
          const what =
            r.type === 'corim' ? `CoRIM ${r.alg}, ${r.corim.values.length} reference values` : `DSSE ${r.predicateType}, ${r.subjects.length} subjects`;
          printLine(
            `OK  ${r.file}: ${what}; signed by ${r.keyIds.join(', ')}${r.rebuilds ? `; rebuilt with a match by ${r.rebuilds.keyIds.length} rebuilder keys (threshold ${r.rebuilds.threshold})` : ''}`,
          );
        }
      }
    });
  examples(cmd, [
    'cvm-measure manifest verify out/snp.corim.cbor --trust release.pub.pem',
    'cvm-measure manifest verify out/reference-values.intoto.json --trust a.pub.pem --trust b.pub.pem --trust c.pub.pem --threshold 2',
    'cvm-measure manifest verify out/*.corim.cbor out/*.intoto.json --trust release.pub.pem --json',
    'cvm-measure manifest verify pcr.corim.cbor --trust release.pub.pem --rebuilders r1.pub.pem --rebuilders r2.pub.pem --rebuild-threshold 2 --attestation r1.intoto.json --attestation r2.intoto.json',
  ]);
}
