/** cvm-measure entry point: declares commands (cheap), runs one (its implementation is imported lazily). */
import { Command, CommanderError } from 'commander';
import { isCvmError } from '../errors.js';
import { printError } from './output.js';
import { packageVersion } from '../util/package.js';

// The bin's launcher line (esbuild.config.mjs) moved NODE_EXTRA_CA_CERTS aside so Node does not parse
// it at start-up (util/download.ts applies it to the downloads that need it); give it back for child
// processes and downloads.
if (process.env.CVM_EXTRA_CA_CERTS) process.env.NODE_EXTRA_CA_CERTS = process.env.CVM_EXTRA_CA_CERTS;
delete process.env.CVM_EXTRA_CA_CERTS;

const program = new Command('cvm-measure')
  .description('Reproducible, checkable confidential-VM measurements (SEV-SNP, TDX, vTPM)')
  .version(packageVersion())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

type Register = (program: Command) => void;
type Loader = () => Promise<Register>;

/**
 * Command path → the file that declares it. Only the file of the command being run is imported
 * (start-up is benchmarked); a bare group (`measure --help`) loads its members, help loads them all.
 */
const COMMANDS: [path: string, load: Loader][] = [
  ['doctor', () => import('./commands/doctor.js').then((m) => m.registerDoctor)],
  ['build', () => import('./commands/build.js').then((m) => m.registerBuild)],
  ['measure snp', () => import('./commands/measure-snp.js').then((m) => m.registerMeasureSnp)],
  ['measure tdx', () => import('./commands/measure-tdx.js').then((m) => m.registerMeasureTdx)],
  ['measure td-shim-payload', () => import('./commands/measure-td-shim-payload.js').then((m) => m.registerMeasureTdShimPayload)],
  ['measure pcr', () => import('./commands/measure-pcr.js').then((m) => m.registerMeasurePcr)],
  ['inspect firmware', () => import('./commands/inspect-firmware.js').then((m) => m.registerInspectFirmware)],
  ['snp id-block', () => import('./commands/snp-id-block.js').then((m) => m.registerSnpIdBlock)],
  ['eventlog replay', () => import('./commands/eventlog-replay.js').then((m) => m.registerEventlogReplay)],
  ['eventlog diff', () => import('./commands/eventlog-diff.js').then((m) => m.registerEventlogDiff)],
  ['uki build', () => import('./commands/uki-build.js').then((m) => m.registerUkiBuild)],
  ['keys generate', () => import('./commands/keys-generate.js').then((m) => m.registerKeysGenerate)],
  ['manifest create', () => import('./commands/manifest-create.js').then((m) => m.registerManifestCreate)],
  ['manifest inspect', () => import('./commands/manifest-inspect.js').then((m) => m.registerManifestInspect)],
  ['manifest verify', () => import('./commands/manifest-verify.js').then((m) => m.registerManifestVerify)],
];

/** The loaders for argv's leading words: the longest command path they name, none for a bare --version, else everything. */
function loadersFor(words: string[], flags: string[]): Loader[] {
  if (!words.length && flags.length === 1 && (flags[0] === '--version' || flags[0] === '-V')) return [];
  for (let n = Math.min(words.length, 2); n > 0; n--) {
    const prefix = words.slice(0, n).join(' ');
    const hit = COMMANDS.filter(([path]) => path === prefix || path.startsWith(`${prefix} `));
    if (hit.length) return hit.map(([, load]) => load);
  }
  return COMMANDS.map(([, load]) => load);
}

const args = process.argv.slice(2);
const loaders = loadersFor(
  args.filter((a) => !a.startsWith('-')),
  args.filter((a) => a.startsWith('-')),
);
for (const register of await Promise.all(loaders.map((load) => load()))) register(program);

// `cvm-measure ... | head` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message; help and version are successes
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isCvmError(e)) {
    printError(e.message);
    process.exitCode = e.exitCode;
  } else {
    printError(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.CVM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}
