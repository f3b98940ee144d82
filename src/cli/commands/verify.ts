import type { Command } from 'commander';
import { UsageError, VerificationError } from '../../errors.js';
import { parsePublicKey } from '../../sign/keys.js';
import { readInput } from '../../util/fs.js';
import { parseHclReport } from '../../formats/hcl-report.js';
import { detectEvidence, EVIDENCE_TYPES, verifyEvidence, type EvidenceType } from '../../verify/evidence.js';
import { kdsCertificates } from '../../verify/kds.js';
import { loadCertificates, loadPolicy, loadPredictions, resolveReference } from '../../verify/load.js';
import { parsePcrValues } from '../../verify/tpm.js';
import { examples, jsonOption, repeatable } from '../command.js';
import { parseChoice, parseInteger } from '../options.js';
import { printJson, printLine, withDetails } from '../output.js';
import { parseTime } from '../time.js';
import { type RebuilderOpts, readRebuilders, rebuilderOptions } from '../rebuilders.js';

interface Opts extends RebuilderOpts {
  type?: string;
  certs?: string[];
  kds?: boolean;
  kdsProduct?: string;
  pcrs?: string;
  expected?: string;
  reference?: string;
  trust?: string[];
  threshold: string;
  policy?: string;
  firmware?: string;
  ccel?: string;
  at?: string;
  json?: boolean;
}

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .description(
      'verify evidence (SNP report, TDX quote, TPM event log): signatures, certificate chain to the pinned vendor root, policy and, with --reference, the measurements against signed reference values',
    )
    .argument('<evidence>', 'SNP attestation report, TDX quote or TCG event log (the type is detected from the bytes)')
    .option('--type <type>', `evidence type instead of detecting it: ${EVIDENCE_TYPES.join(', ')}`)
    .addOption(repeatable(program, '--certs <file>', 'SNP: ARK/ASK and VCEK/VLEK certificates, PEM or DER files or directories'))
    .option(
      '--kds',
      "SNP: download the certificates --certs lacks (the VCEK by chip id and TCB, the ASK/ASVK + ARK chain) from AMD's KDS, cached under the cache dir",
    )
    .option('--kds-product <name>', 'SNP with --kds: Milan, Genoa or Turin, for a v2 report (it does not name its CPU)')
    .option('--pcrs <file>', 'TPM: the PCR values the log must replay to (JSON {bank: {index: hex}} or tpm2_pcrread output)')
    .option(
      '--expected <file>',
      "TPM: the release's `measure pcr --json` prediction (or its measurements.json): on a PCR mismatch, name the first differing event (as `eventlog diff` does)",
    )
    .option(
      '--reference <dir|file|url>',
      'signed reference values: a `manifest create` directory, its reference-values.intoto.json, or a repository (URL or directory, optionally #NAME[@VERSION]; fetched and checked first) (needs --trust)',
    )
    .addOption(repeatable(program, '--trust <pub.pem>', 'public key trusted to sign the reference values'))
    .option('--threshold <k>', 'distinct trusted keys that must have signed the reference values', '1')
    .option(
      '--policy <file>',
      'what must hold beyond the measurements (YAML/JSON, schemas/verify-policy.schema.json); default: no debug guest, no SNP migration agent',
    )
    .option(
      '--firmware <file>',
      "the release's firmware: on an SNP MEASUREMENT mismatch, search which knob (vCPU count, VMM, vCPU type, guest features) explains it; on a TDX MRTD mismatch, try the other page order",
    )
    .option('--ccel <file>', 'TDX: the CCEL event log (e.g. /sys/firmware/acpi/tables/data/CCEL); RTMR0-3 must replay from it')
    .option('--at <time>', 'check certificate and reference-value validity at this time instead of now (ISO 8601 or epoch seconds)');
  rebuilderOptions(program, cmd)
    .addOption(jsonOption(program))
    .action(async (evidence: string, opts: Opts) => {
      const type = opts.type === undefined ? undefined : (parseChoice('--type', opts.type, EVIDENCE_TYPES) as EvidenceType);
      if (opts.rebuilders?.length && !opts.reference) throw new UsageError('--rebuilders needs --reference (a repository listing rebuild attestations)');
      const trust = opts.trust ?? [];
      if (opts.reference && trust.length === 0)
        throw new UsageError('--reference needs --trust: reference values are used only after their signature verifies');
      const trusted = [];
      for (const p of trust) trusted.push(parsePublicKey(await readInput(p, 'public key'), p));
      const at = opts.at === undefined ? undefined : parseTime('--at', opts.at);
      const bytes = new Uint8Array(await readInput(evidence, 'evidence'));
      const certs = loadCertificates(opts.certs ?? []);
      if (opts.kdsProduct && !opts.kds) throw new UsageError('--kds-product needs --kds');
      if (opts.kds) {
        const kind = type ?? detectEvidence(bytes);
        const hcl = kind === 'hcl-report' ? parseHclReport(bytes) : undefined;
        if (kind !== 'snp-report' && hcl?.reportType !== 'snp')
          throw new UsageError(`--kds: AMD's KDS serves SNP certificates; this is ${hcl ? 'an HCL report around a TDREPORT' : `a ${kind}`}`);
        const product = opts.kdsProduct ? parseChoice('--kds-product', opts.kdsProduct, ['Milan', 'Genoa', 'Turin'] as const) : undefined;
        certs.push(
          ...(await kdsCertificates(hcl ? hcl.payload : bytes, certs, {
            ...(product ? { product } : {}),
            // tests only: a loopback server emulating the KDS
            ...(process.env.CVM_KDS_TEST_URL ? { baseUrl: process.env.CVM_KDS_TEST_URL, vcekIntervalMs: 0 } : {}),
            log: (l) => process.stderr.write(`cvm-measure: ${l}\n`),
          })),
        );
      }
      const r = await verifyEvidence(bytes, {
        ...(type ? { type } : {}),
        certs,
        ...(opts.pcrs ? { pcrs: parsePcrValues((await readInput(opts.pcrs, 'PCR values')).toString('utf8'), opts.pcrs) } : {}),
        ...(opts.expected ? { predictions: loadPredictions(opts.expected) } : {}),
        ...(at === undefined ? {} : { at }),
        ...(opts.policy ? { policy: loadPolicy(opts.policy) } : {}),
        ...(opts.firmware ? { firmware: new Uint8Array(await readInput(opts.firmware, 'firmware')) } : {}),
        ...(opts.ccel ? { ccel: new Uint8Array(await readInput(opts.ccel, 'CCEL log')) } : {}),
        ...(opts.reference
          ? {
              reference: await resolveReference(opts.reference, trusted, {
                threshold: parseInteger('--threshold', opts.threshold, 1, trusted.length),
                ...(at === undefined ? {} : { now: at }),
                ...(await readRebuilders(opts)),
              }),
            }
          : {}),
      });
      if (!opts.json) {
        for (const c of r.checks)
          printLine(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok || c.expected === undefined ? '' : `: expected ${c.expected}, got ${c.actual}`}`);
        if (r.match)
          printLine(
            `match: ${r.match.platform} ${Object.entries(r.match.parameters)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}${r.match.vcpus ? ` vcpus=${r.match.vcpus}` : ''}${r.match.origin ? ` (stated by ${r.match.source})` : ''}`,
          );
        if (r.diagnosis)
          printLine(
            r.diagnosis.found
              ? `diagnosis: ${r.diagnosis.differences.join('; ') || 'matches the release parameters'}`
              : `diagnosis: searched ${r.diagnosis.searched}`,
          );
        if (r.ok) printLine(`OK: ${evidence}: ${r.type} v${r.version}, ${r.checks.length} checks passed`);
      }
      if (!r.ok) {
        const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
        throw withDetails(new VerificationError(`${evidence}: ${failed.length} of ${r.checks.length} checks failed: ${failed.join('; ')}`), r);
      }
      if (opts.json) printJson(r);
    });
  examples(cmd, [
    'cvm-measure verify report.bin --certs ask_ark_milan.pem --certs vcek.der',
    'cvm-measure verify report.bin --kds --kds-product Milan',
    'cvm-measure verify report.bin --certs certs/ --reference out/manifest --trust release.pub.pem --policy policy.yaml --json',
    'cvm-measure verify quote.bin --ccel ccel_data.dat --reference out/manifest --trust release.pub.pem',
    'cvm-measure verify eventlog.bin --pcrs pcrs.json --reference out/manifest --trust release.pub.pem --expected out/measurements.json',
    'cvm-measure verify eventlog.bin --pcrs pcrs.json --reference /srv/rv#uki --trust repo.pub.pem --rebuilders r1.pub.pem --rebuilders r2.pub.pem --rebuild-threshold 2',
  ]);
}
