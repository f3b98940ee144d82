/**
 * Fuzz targets: every parser and measure entry point that reads untrusted bytes, with real seeds from
 * ../shared (and a few derived from them: a small UKI, signed manifests from a fixed test key). A
 * target passes an input when it returns or throws one of our typed errors (CvmError).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../src/build/recipe.js';
import { decodeCbor, diagnostic } from '../../src/formats/cbor.js';
import { parseCcelTable } from '../../src/formats/ccel.js';
import { readCpio, writeCpio } from '../../src/formats/cpio.js';
import { parseSignatureLists } from '../../src/formats/efi-siglist.js';
import { parseVarStore, secureBootVariables } from '../../src/formats/efi-varstore.js';
import { groupByComponent } from '../../src/formats/eventlog-components.js';
import { parseGpt, uefiGptData } from '../../src/formats/gpt.js';
import { describeOvmf, parseOvmf } from '../../src/formats/ovmf.js';
import { authenticode, parsePe, signatureCertificates } from '../../src/formats/pe.js';
import { parseHclReport, parseTdReport } from '../../src/formats/hcl-report.js';
import { decodeTcb, parseSnpReport, snpProduct } from '../../src/formats/snp-report.js';
import { decodeEventData, parseEventLog, replayEventLog } from '../../src/formats/tcg-eventlog.js';
import { parseTdvfMetadata } from '../../src/formats/tdvf.js';
import { parseTdxQuote } from '../../src/formats/tdx-quote.js';
import { buildUki, parseUki } from '../../src/formats/uki.js';
import { readCertificates } from '../../src/formats/x509.js';
import { createManifest } from '../../src/manifest/create.js';
import { inspectManifest, inspectText } from '../../src/manifest/inspect.js';
import { verifyManifest } from '../../src/manifest/verify.js';
import { snpMeasurement } from '../../src/measure/snp/report.js';
import { tdxMrtd } from '../../src/measure/tdx/mrtd.js';
import { tdShimMeasurement, tdxMeasurement } from '../../src/measure/tdx/report.js';
import { pcrMeasurement } from '../../src/measure/tpm/report.js';
import { parseSign1, verifySign1 } from '../../src/sign/cose.js';
import { parsePrivateKey, parsePublicKey } from '../../src/sign/keys.js';
import { localSigner } from '../../src/sign/signer.js';
import { ecKey } from '../helpers/keys.js';
import { wrapHcl } from '../helpers/hcl.js';
import { snpOutput } from '../helpers/measurements.js';
import { shared } from '../helpers/shared.js';
import { createPublicKey } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface Seeds {
  bytes: Uint8Array[];
  /** Per seed, byte ranges where the structure lives (mutations favour them). */
  hot?: [number, number][][];
}

export interface Target {
  name: string;
  /** What it exercises (docs/fuzzing.md). */
  what: string;
  seeds(): Seeds | Promise<Seeds>;
  run(input: Uint8Array): unknown;
}

const fixture = (...p: string[]) => new Uint8Array(readFileSync(shared('fixtures', ...p)));
const ROOT = join(import.meta.dirname, '../..');
const name = (bytes: Uint8Array) => ({ name: 'fuzz.bin', bytes });

/** systemd-stub from the host (Debian's systemd-boot-efi), else none: the small UKI seed needs one. */
const HOST_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

/** A ~170 KiB UKI: the host systemd-stub with the real UKI's .osrel/.cmdline, a tiny initrd and the stub itself as .linux (a PE). */
function smallUki(): Uint8Array[] {
  if (!existsSync(HOST_STUB)) return [];
  const stub = new Uint8Array(readFileSync(HOST_STUB));
  const real = parseUki(fixture('pcr/uki-6.1.efi'));
  const initrd = fixture('pcr/initrd-a.cpio').subarray(0, 4096);
  return [
    buildUki({ stub, sections: { '.osrel': real.sections.get('.osrel')!, '.cmdline': real.sections.get('.cmdline')!, '.initrd': initrd, '.linux': stub } }),
  ];
}

/** Header and section table of a PE: where mutations matter. */
function peHot(b: Uint8Array): [number, number][] {
  try {
    const pe = parsePe(b);
    return [[0, pe.sizeOfHeaders]];
  } catch {
    return [[0, 4096]];
  }
}

/** OVMF footer table, SEV metadata and TDVF descriptor. */
function firmwareHot(b: Uint8Array): [number, number][] {
  const r: [number, number][] = [];
  try {
    const info = parseOvmf(b);
    if (info.footer) r.push([info.footer.offset - 512, info.footer.offset + 64]);
    if (info.sevMetadata) r.push([info.sevMetadata.offset, info.sevMetadata.offset + 16 + 12 * info.sevMetadata.sections.length]);
  } catch {}
  try {
    const t = parseTdvfMetadata(b);
    r.push([t.descriptorOffset, t.descriptorOffset + 16 + 32 * t.sections.length]);
  } catch {}
  return r;
}

const seeds = (bytes: Uint8Array[], hot?: (b: Uint8Array) => [number, number][]): Seeds => ({ bytes, ...(hot ? { hot: bytes.map(hot) } : {}) });

const snpFirmware = () =>
  seeds(
    [
      fixture('sev-snp-measure/ovmf_AmdSev_suffix.bin'),
      fixture('sev-snp-measure/ovmf_OvmfX64_suffix.bin'),
      fixture('debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'),
    ],
    firmwareHot,
  );
const tdxFirmware = () => seeds([fixture('tdx/gce-clean-example-2MiB.fd')], firmwareHot);
const ukis = () => seeds([...smallUki(), fixture('pcr/uki-6.1.efi')], peHot);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** A fixed P-256 key (RFC 6979 A.2.5's scalar): manifests signed with it are the manifest seeds. */
const KEY = ecKey('P-256', 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
const TRUSTED = [createPublicKey(KEY)];

async function manifestSeeds(): Promise<Seeds> {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-fuzz-'));
  try {
    const measurements = snpOutput({ '1': 'ab'.repeat(48), '4': 'cd'.repeat(48) });
    await createManifest({ measurements, signer: localSigner(KEY), outDir: dir, notBefore: 1767225600 });
    return seeds(readdirSync(dir).map((f) => new Uint8Array(readFileSync(join(dir, f)))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const certs = () =>
  seeds([
    fixture('snp-report/ask_ark_milan.pem'),
    fixture('snp-report/vcek.testcer'),
    fixture('evidence/snp-milan-v2-virtee/vcek.der'),
    fixture('evidence/snp-milan-v3-vlek-trustee/vlek.der'),
  ]);

export const TARGETS: Target[] = [
  { name: 'ovmf', what: 'OVMF footer table + SEV metadata (parseOvmf, describeOvmf)', seeds: snpFirmware, run: (b) => describeOvmf(parseOvmf(b)) },
  {
    name: 'measure-snp',
    what: '`measure snp` (snpMeasurement: SEV metadata sections, launch digest)',
    seeds: snpFirmware,
    run: (b) => snpMeasurement({ firmware: name(b) }, { vcpus: [1], vcpu: { type: 'EPYC-v4' } }),
  },
  { name: 'tdvf', what: 'TDVF metadata (parseTdvfMetadata)', seeds: tdxFirmware, run: (b) => parseTdvfMetadata(b) },
  { name: 'mrtd', what: 'MRTD replay (tdxMrtd, `measure tdx`)', seeds: tdxFirmware, run: (b) => [tdxMrtd(b, 'single'), tdxMeasurement({ firmware: name(b) })] },
  { name: 'td-shim', what: '`measure td-shim-payload --shim` (tdShimMeasurement)', seeds: tdxFirmware, run: (b) => tdShimMeasurement({ shim: name(b) }) },
  {
    name: 'pe',
    what: 'PE/COFF + Authenticode (parsePe, authenticode, signatureCertificates)',
    seeds: () => seeds([...(existsSync(HOST_STUB) ? [new Uint8Array(readFileSync(HOST_STUB))] : []), ...smallUki()], peHot),
    run: (b) => {
      const pe = parsePe(b);
      return [authenticode(pe, ['sha256']), signatureCertificates(pe)];
    },
  },
  { name: 'uki', what: 'UKI sections (parseUki)', seeds: ukis, run: (b) => parseUki(b) },
  {
    name: 'measure-pcr-uki',
    what: '`measure pcr` UKI path (pcrMeasurement shape uki: PE, sections, PCR4/9/11)',
    seeds: ukis,
    run: (b) => pcrMeasurement({ shape: 'uki', uki: name(b), gpt: null }, { stubVersion: 252 }),
  },
  {
    name: 'uki-build',
    what: '`uki build` with a hostile stub (buildUki)',
    seeds: () => seeds(existsSync(HOST_STUB) ? [new Uint8Array(readFileSync(HOST_STUB))] : [], peHot),
    run: (b) => buildUki({ stub: b, sections: { '.linux': new Uint8Array(512), '.cmdline': new Uint8Array(8) } }),
  },
  {
    name: 'cpio',
    what: 'newc cpio (readCpio)',
    // the tiny initrd, and the first members of the real one rewritten as a small complete archive
    seeds: () =>
      seeds([
        gunzipSync(fixture('tiny-initrd.cpio.gz')),
        writeCpio(
          readCpio(fixture('pcr/initrd-a.cpio'))
            .filter((m) => m.data.length < 4096)
            .slice(0, 32),
        ),
      ]),
    run: (b) => readCpio(b),
  },
  { name: 'gpt', what: 'GPT (parseGpt, uefiGptData)', seeds: () => seeds([fixture('pcr/uki-disk-gpt-head.bin')]), run: (b) => uefiGptData(parseGpt(b)) },
  {
    name: 'eventlog',
    what: 'TCG event log (parseEventLog, decodeEventData, replay, components)',
    seeds: () =>
      seeds([
        fixture('pcr/uki-6.1-m1024.eventlog.bin'),
        fixture('pcr/direct-6.1-m1024.eventlog.bin'),
        fixture('evidence/tpm-ubuntu2404-sevsnp-gce-go-tpm-tools/eventlog.bin'),
      ]),
    run: (b) => {
      const log = parseEventLog(b);
      for (const e of log.events) decodeEventData(e.type, e.data);
      return [replayEventLog(log.events, { alg: 'sha256', map: 'pcr' }), groupByComponent(log.events)];
    },
  },
  {
    name: 'ccel',
    what: 'CCEL ACPI table + its event log (parseCcelTable, parseEventLog)',
    seeds: () => seeds([fixture('tdx/ccel_table.dat'), fixture('tdx/ccel_data.dat').subarray(0, 16384)]),
    run: (b) => (b.length === 56 ? parseCcelTable(b) : replayEventLog(parseEventLog(b).events, { alg: 'sha384', map: 'ccel' })),
  },
  {
    name: 'tdx-quote',
    what: 'TDX quote v4/v5 (parseTdxQuote)',
    seeds: () => seeds([fixture('tdx/cos-113-tdx-quote.dat'), fixture('evidence/tdx-v5-td15-go-tdx-guest/quote.bin')]),
    run: (b) => parseTdxQuote(b),
  },
  {
    name: 'hcl-report',
    what: 'Azure HCL report around an SNP report or a TDREPORT (parseHclReport, parseSnpReport, parseTdReport)',
    // constructed per the published layout around the real Genoa report (no real HCL blob in ../shared); the headers are hot
    seeds: () => {
      const td = new Uint8Array(1024);
      td[0] = 0x81;
      return seeds([wrapHcl(fixture('evidence/snp-genoa-v3-msft/report.bin'), { pad: 64 }), wrapHcl(td, { reportType: 4 })], () => [
        [0, 32],
        [1216, 1236],
      ]);
    },
    run: (b) => {
      const h = parseHclReport(b);
      return h.reportType === 'snp' ? parseSnpReport(h.payload) : parseTdReport(h.payload);
    },
  },
  {
    name: 'snp-report',
    what: 'SNP attestation report (parseSnpReport, decodeTcb)',
    seeds: () => seeds([fixture('snp-report/attestation.bin'), fixture('evidence/snp-turin-v5-msft/report.bin')]),
    run: (b) => {
      const r = parseSnpReport(b);
      return decodeTcb(r.reportedTcb, snpProduct(r));
    },
  },
  {
    name: 'varstore',
    what: 'OVMF VARS store + EFI signature lists (parseVarStore, secureBootVariables, parseSignatureLists)',
    seeds: () => seeds([fixture('debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.ms.fd').subarray(0, 0x40000)]),
    run: (b) => {
      const vars = parseVarStore(b);
      for (const v of vars) if (v.name === 'db' || v.name === 'KEK' || v.name === 'PK' || v.name === 'dbx') parseSignatureLists(v.data);
      return secureBootVariables(vars);
    },
  },
  { name: 'cbor', what: 'CBOR decoder (decodeCbor, diagnostic)', seeds: manifestSeeds, run: (b) => diagnostic(decodeCbor(b)) },
  {
    name: 'cose',
    what: 'COSE_Sign1 (parseSign1, verifySign1)',
    seeds: async () => seeds((await manifestSeeds()).bytes.filter((b) => b[0] !== 0x7b)),
    run: (b) => verifySign1(parseSign1(b), TRUSTED),
  },
  {
    name: 'manifest-verify',
    what: 'CoRIM / DSSE / sigstore verification (verifyManifest)',
    seeds: manifestSeeds,
    run: (b) => verifyManifest(b, { trusted: TRUSTED, now: 1767225600 + 3600 }),
  },
  { name: 'manifest-inspect', what: '`manifest inspect` (inspectManifest, inspectText)', seeds: manifestSeeds, run: (b) => inspectText(inspectManifest(b)) },
  {
    name: 'keys',
    what: 'PEM keys (parsePrivateKey, parsePublicKey)',
    seeds: () => {
      const priv = KEY.export({ type: 'pkcs8', format: 'pem' }) as string;
      const pub = TRUSTED[0]!.export({ type: 'spki', format: 'pem' }) as string;
      return seeds([Buffer.from(priv), Buffer.from(pub)]);
    },
    run: (b) => (text(b).includes('PRIVATE') ? parsePrivateKey(b, 'fuzz.pem') : parsePublicKey(b, 'fuzz.pem')),
  },
  { name: 'x509', what: 'X.509 / DER (readCertificates)', seeds: certs, run: (b) => readCertificates(b, 'fuzz') },
  {
    name: 'recipe',
    what: 'recipe YAML (parseRecipe)',
    seeds: () => seeds(['default.yaml', 'uki.yaml', 'ovmf.yaml', 'initrd.yaml'].map((f) => new Uint8Array(readFileSync(join(ROOT, 'recipes', f))))),
    run: (b) => parseRecipe(text(b), join(ROOT, 'recipes', 'fuzz.yaml')),
  },
];

export function target(n: string): Target {
  const t = TARGETS.find((x) => x.name === n);
  if (!t) throw new Error(`unknown fuzz target ${n} (known: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
