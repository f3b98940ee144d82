import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';

interface Opts {
  measurements?: string;
  values?: string;
  buildRecord?: string;
  key: string[];
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

export function registerManifestCreate(program: Command): void {
  const cmd = group(program, 'manifest')
    .command('create')
    .description('sign reference values as CoRIM (COSE_Sign1), in-toto DSSE envelopes, Trustee RVPS messages and canonical JSON')
    .option('--measurements <file>', 'measurements.json of a build, or one `measure snp|tdx|pcr --json` output')
    .option('--values <file>', 'reference values you did not build (YAML/JSON, schemas/stated-values.schema.json), signed as origin "stated" with their source')
    .option('--build-record <file>', 'the build record (in-toto Statement with an SLSA provenance v1 predicate)')
    .option('--key <file>', 'PEM private key (repeatable: every DSSE envelope gets every signature)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--signer-command <cmd>', 'external signer instead of --key: gets the digest (ECDSA) or message (Ed25519) on stdin, prints the signature')
    .option('--signer-public <file>', 'public key of --signer-command (PEM)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--formats <list>', 'any of corim,intoto,rvps,json', 'corim,intoto,rvps,json')
    .option('--issuer <name>', 'signer / issuer name in corim-meta, CWT claims and entities', 'cvm-measure')
    .option('--not-before <time>', 'start of validity (ISO 8601 or seconds since the epoch; default: the build record finish time, SOURCE_DATE_EPOCH, or today 00:00 UTC)')
    .option('--valid-days <n>', 'length of the validity window in days', '365')
    .option('--snp-profile <year>', 'SNP CoRIM profile id: 2024 (published draft, Veraison) or 2025 (editor\'s copy)', '2024')
    .addOption(jsonOption(program))
    .action(async (opts: Opts) => {
      await run(opts);
    });
  examples(cmd, [
    'cvm-measure manifest create --measurements out/measurements.json --build-record out/build-record.json --key release.pem --out out/manifest',
    'cvm-measure measure snp --firmware OVMF.fd --vcpus 1-8 --vcpu-type EPYC-v4 --json > snp.json && cvm-measure manifest create --measurements snp.json --key release.pem --out m --formats corim,json',
    'cvm-measure manifest create --values gce-endorsement.yaml --key release.pem --out m',
    "cvm-measure manifest create --measurements m.json --signer-command 'openssl pkeyutl -sign -inkey hsm.pem' --signer-public hsm.pub.pem --out m",
  ]);
}

async function run(opts: Opts): Promise<void> {
  const { InputError, UsageError } = await import('../../errors.js');
  const { readInput } = await import('../../util/fs.js');
  const { parseChoice, parseInteger } = await import('../options.js');
  const { printJson, printLine } = await import('../output.js');
  const { createManifest, MANIFEST_FORMATS } = await import('../../manifest/create.js');
  const { importMeasurements, importStatedValues } = await import('../../manifest/import.js');
  const { parseYamlText } = await import('../../util/yaml.js');
  const { parsePrivateKey, parsePublicKey } = await import('../../sign/keys.js');
  const { commandSigner, localSigner } = await import('../../sign/signer.js');
  const { parseTime } = await import('../time.js');

  const formats = opts.formats.split(',').map((f) => f.trim().toLowerCase());
  for (const f of formats) if (!(MANIFEST_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--formats: ${JSON.stringify(f)} is not one of ${MANIFEST_FORMATS.join(', ')}`);
  if (opts.key.length === 0 && !opts.signerCommand) throw new UsageError('--key or --signer-command is required');
  if (opts.signerCommand && !opts.signerPublic) throw new UsageError('--signer-command needs --signer-public');
  const signers = [];
  for (const k of opts.key) signers.push(localSigner(parsePrivateKey(await readInput(k, 'key'), k)));
  if (opts.signerCommand) {
    const argv = opts.signerCommand.trim().split(/\s+/);
    signers.push(commandSigner(argv, parsePublicKey(await readInput(opts.signerPublic!, 'public key'), opts.signerPublic!)));
  }
  if (!opts.measurements && !opts.values) throw new UsageError('--measurements or --values is required');
  let measurements;
  if (opts.measurements) {
    let json: unknown;
    try {
      json = JSON.parse((await readInput(opts.measurements, 'measurements')).toString('utf8'));
    } catch (e) {
      if (e instanceof SyntaxError) throw new InputError(`${opts.measurements}: not JSON (${e.message})`);
      throw e;
    }
    measurements = importMeasurements(json);
  }
  let stated;
  if (opts.values) {
    stated = importStatedValues(parseYamlText((await readInput(opts.values, 'stated values')).toString('utf8'), opts.values), opts.values);
  }
  const res = await createManifest({
    ...(measurements ? { measurements } : {}),
    ...(stated ? { stated } : {}),
    ...(opts.buildRecord ? { buildRecord: await readInput(opts.buildRecord, 'build record') } : {}),
    signer: signers,
    outDir: opts.out,
    formats: formats as typeof MANIFEST_FORMATS,
    issuer: opts.issuer,
    ...(opts.notBefore ? { notBefore: parseTime('--not-before', opts.notBefore) } : {}),
    validDays: parseInteger('--valid-days', opts.validDays, 1, 36500),
    snpProfile: parseChoice('--snp-profile', opts.snpProfile, ['2024', '2025'] as const),
  });
  const iso = (t: number) => new Date(t * 1000).toISOString();
  if (opts.json) {
    printJson({
      referenceValuesSha256: res.referenceValuesSha256,
      keyIds: res.keyIds,
      notBefore: iso(res.notBefore),
      notAfter: iso(res.notAfter),
      platforms: { snp: res.referenceValues.snp.length, tdx: res.referenceValues.tdx.length, pcr: res.referenceValues.pcr.length },
      files: res.files,
    });
  } else {
    for (const f of res.files) printLine(`${f.format.padEnd(6)} ${f.path}  sha256:${f.sha256}`);
    printLine(`signed by ${res.keyIds.join(', ')}; valid ${iso(res.notBefore)} .. ${iso(res.notAfter)}`);
  }
}
