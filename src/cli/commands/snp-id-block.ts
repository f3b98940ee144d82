import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { parseBigInt, parseInteger } from '../options.js';
import { fromHex, toHex } from '../../util/bytes.js';
import { readInput } from '../../util/fs.js';
import { createPrivateKey } from 'node:crypto';
import { InputError } from '../../errors.js';
import { createIdBlockFromKeys } from '../../sign/snp-id-block.js';
import { printJson, printLine } from '../output.js';

interface Opts {
  digest: string;
  idKey: string;
  authorKey: string;
  familyId?: string;
  imageId?: string;
  guestSvn: string;
  policy: string;
  json?: boolean;
}

export function registerSnpIdBlock(program: Command): void {
  const cmd = group(program, 'snp')
    .command('id-block')
    .description('build a signed SEV-SNP ID_BLOCK and ID_AUTH (ECDSA P-384) for SNP_LAUNCH_FINISH, as sev-snp-measure snp-create-id-block')
    .requiredOption('--digest <hex>', 'expected launch digest (48 bytes, hex; e.g. from measure snp)')
    .requiredOption('--id-key <pem>', 'ID key: ECDSA P-384 private key (PEM)')
    .requiredOption('--author-key <pem>', 'author key: ECDSA P-384 private key (PEM)')
    .option('--family-id <hex>', 'FAMILY_ID (16 bytes hex)')
    .option('--image-id <hex>', 'IMAGE_ID (16 bytes hex)')
    .option('--guest-svn <n>', 'GUEST_SVN', '0')
    .option('--policy <value>', 'guest POLICY', '0x30000')
    .addOption(jsonOption(program))
    .action(async (o: Opts) => {
      const key = async (path: string, what: string) => {
        const pem = await readInput(path, what);
        try {
          return createPrivateKey(pem);
        } catch (e) {
          throw new InputError(`${what} ${path}: not a PEM private key (${(e as Error).message})`);
        }
      };
      const r = createIdBlockFromKeys({
        digest: fromHex(o.digest, '--digest', 48),
        familyId: o.familyId === undefined ? undefined : fromHex(o.familyId, '--family-id', 16),
        imageId: o.imageId === undefined ? undefined : fromHex(o.imageId, '--image-id', 16),
        guestSvn: parseInteger('--guest-svn', o.guestSvn, 0, 0xffffffff),
        policy: parseBigInt('--policy', o.policy),
        idKey: await key(o.idKey, 'ID key'),
        authorKey: await key(o.authorKey, 'author key'),
      });
      const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
      if (o.json) {
        printJson({
          idBlock: b64(r.idBlock),
          idAuth: b64(r.idAuth),
          idKeyDigest: toHex(r.idKeyDigest),
          authorKeyDigest: toHex(r.authorKeyDigest),
        });
      } else {
        printLine(`id-block=${b64(r.idBlock)},id-auth=${b64(r.idAuth)}`);
        printLine(`id_key_hash: ${b64(r.idKeyDigest)}`);
        printLine(`author_key: ${b64(r.authorKeyDigest)}`);
      }
    });
  examples(cmd, [
    'cvm-measure snp id-block --digest $(cvm-measure measure snp --firmware OVMF.fd --vcpu-type EPYC-v4 --vcpus 2) --id-key id.pem --author-key author.pem',
    'openssl ecparam -name secp384r1 -genkey -noout -out id.pem   # make a P-384 key',
    'cvm-measure snp id-block --digest HEX --id-key id.pem --author-key author.pem --policy 0x30000 --json',
  ]);
}
