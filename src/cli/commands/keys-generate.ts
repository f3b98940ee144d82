import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { generateKey, KEY_ALGS } from '../../sign/keys.js';
import { parseChoice } from '../options.js';
import { basename, dirname } from 'node:path';
import { exists, writeFileSetAtomic } from '../../util/fs.js';
import { InputError } from '../../errors.js';
import { printJson, printLine } from '../output.js';

interface Opts {
  alg: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/** KEY.pem / KEY.key.pem → KEY.pub.pem; anything else → KEY.pub.pem beside it. */
export function publicKeyPath(privatePath: string): string {
  return `${privatePath.replace(/(\.key)?\.pem$/, '')}.pub.pem`;
}

export function registerKeysGenerate(program: Command): void {
  const cmd = group(program, 'keys')
    .command('generate')
    .description('create a signing key pair (PEM; private key mode 0600, public key beside it)')
    .requiredOption('--alg <alg>', 'ecdsa-p256, ecdsa-p384 or ed25519')
    .requiredOption('--out <file>', 'private key file (the public key goes to <file without .pem>.pub.pem)')
    .option('--force', 'overwrite existing key files')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      const alg = parseChoice('--alg', opts.alg, KEY_ALGS);
      const pub = publicKeyPath(opts.out);
      for (const p of [opts.out, pub]) {
        if (!opts.force && (await exists(p))) throw new InputError(`${p} already exists (use --force to overwrite)`);
      }
      const k = generateKey(alg);
      // the private key is the commit point: present only beside its own public key
      await writeFileSetAtomic(dirname(opts.out), [
        { name: basename(pub), data: k.publicPem },
        { name: basename(opts.out), data: k.privatePem, mode: 0o600 },
      ]);
      if (opts.json) printJson({ alg, keyId: k.keyId, privateKey: opts.out, publicKey: pub });
      else {
        printLine(`${alg} key ${k.keyId}`);
        printLine(`private: ${opts.out} (mode 0600)`);
        printLine(`public:  ${pub}`);
      }
    });
  examples(cmd, ['cvm-measure keys generate --alg ed25519 --out release.pem', 'cvm-measure keys generate --alg ecdsa-p384 --out keys/release.key.pem --json']);
}
