/** `cvm-measure manifest create`'s run; its declaration is manifest-create.ts (the command table loads this file only to run it). */
import { InputError, UsageError } from '../../errors.js';
import { createManifest, MANIFEST_FORMATS } from '../../manifest/create.js';
import { importMeasurements, importStatedValues } from '../../manifest/import.js';
import { parseYamlText } from '../../util/yaml.js';
import { parsePrivateKey, parsePublicKey } from '../../sign/keys.js';
import { commandSigner } from '../../sign/command-signer.js';
import { localSigner } from '../../sign/signer.js';
import { readInput } from '../../util/fs.js';
import { parseChoice, parseInteger } from '../options.js';
import { printJson, printLine } from '../output.js';
import { parseTime } from '../time.js';
import type { ManifestCreateOpts } from './manifest-create.js';

export async function runManifestCreate(opts: ManifestCreateOpts): Promise<void> {
  const formats = opts.formats.split(',').map((f) => f.trim().toLowerCase());
  for (const f of formats)
    if (!(MANIFEST_FORMATS as readonly string[]).includes(f))
      throw new UsageError(`--formats: ${JSON.stringify(f)} is not one of ${MANIFEST_FORMATS.join(', ')}`);
  const keys = opts.key ?? [];
  if (keys.length === 0 && !opts.signerCommand) throw new UsageError('--key or --signer-command is required');
  if (opts.signerCommand && !opts.signerPublic) throw new UsageError('--signer-command needs --signer-public');
  const signers = [];
  for (const k of keys) signers.push(localSigner(parsePrivateKey(await readInput(k, 'key'), k)));
  if (opts.signerCommand) {
    const argv = opts.signerCommand.trim().split(/\s+/);
    signers.push(commandSigner(argv, parsePublicKey(await readInput(opts.signerPublic!, 'public key'), opts.signerPublic!)));
  }
  if (!opts.measurements && !opts.values) throw new UsageError('--measurements or --values is required');
  let measurements: ReturnType<typeof importMeasurements> | undefined;
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
  let stated: ReturnType<typeof importStatedValues> | undefined;
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
