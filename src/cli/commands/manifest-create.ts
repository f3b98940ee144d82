import type { Command } from 'commander';
import { examples, group, jsonOption, repeatable } from '../command.js';

export interface ManifestCreateOpts {
  measurements?: string;
  values?: string;
  buildRecord?: string;
  key?: string[];
  signerCommand?: string;
  signerPublic?: string;
  out: string;
  formats: string;
  issuer: string;
  notBefore?: string;
  validDays: string;
  snpProfile: string;
  json?: boolean;
}

/** The run (manifest-create-run.ts), imported only when the command runs: signing, schemas and external signers. */
export type ManifestCreateAction = () => Promise<(opts: ManifestCreateOpts) => Promise<void>>;

export function registerManifestCreate(program: Command, run: ManifestCreateAction): void {
  const cmd = group(program, 'manifest')
    .command('create')
    .description('sign reference values as CoRIM (COSE_Sign1), in-toto DSSE envelopes, Trustee RVPS messages and canonical JSON')
    .option('--measurements <file>', 'measurements.json of a build, or one `measure snp|tdx|pcr --json` output')
    .option('--values <file>', 'reference values you did not build (YAML/JSON, schemas/stated-values.schema.json), signed as origin "stated" with their source')
    .option('--build-record <file>', 'the build record (in-toto Statement with an SLSA provenance v1 predicate)')
    .addOption(repeatable(program, '--key <file>', 'PEM private key (every DSSE envelope gets every signature)'))
    .option('--signer-command <cmd>', 'external signer instead of --key: gets the digest (ECDSA) or message (Ed25519) on stdin, prints the signature')
    .option('--signer-public <file>', 'public key of --signer-command (PEM)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--formats <list>', 'any of corim,intoto,rvps,json', 'corim,intoto,rvps,json')
    .option('--issuer <name>', 'signer / issuer name in corim-meta, CWT claims and entities', 'cvm-measure')
    .option(
      '--not-before <time>',
      'start of validity (ISO 8601 or seconds since the epoch; default: the build record finish time, SOURCE_DATE_EPOCH, or today 00:00 UTC)',
    )
    .option('--valid-days <n>', 'length of the validity window in days', '365')
    .option('--snp-profile <year>', "SNP CoRIM profile id: 2024 (published draft, Veraison) or 2025 (editor's copy)", '2024')
    .addOption(jsonOption(program))
    .action(async (opts: ManifestCreateOpts) => (await run())(opts));
  examples(cmd, [
    'cvm-measure manifest create --measurements out/measurements.json --build-record out/build-record.json --key release.pem --out out/manifest',
    'cvm-measure measure snp --firmware OVMF.fd --vcpus 1-8 --vcpu-type EPYC-v4 --json > snp.json && cvm-measure manifest create --measurements snp.json --key release.pem --out m --formats corim,json',
    'cvm-measure manifest create --values gce-endorsement.yaml --key release.pem --out m',
    "cvm-measure manifest create --measurements m.json --signer-command 'openssl pkeyutl -sign -inkey hsm.pem' --signer-public hsm.pub.pem --out m",
  ]);
}
