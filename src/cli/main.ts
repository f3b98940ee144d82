#!/usr/bin/env node
/** cvm-measure entry point: declares commands (cheap), runs one (its implementation is imported lazily). */
import { Command, CommanderError } from 'commander';
import { isCvmError } from '../errors.js';
import { printError } from './output.js';
import { createRequire } from 'node:module';
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('cvm-measure')
  .description('Reproducible, checkable confidential-VM measurements (SEV-SNP, TDX, vTPM)')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

type Register = (program: Command) => void;

/**
 * Top-level command → the command files that declare it. Only the files of the command being run are
 * imported (start-up is benchmarked); help and unknown commands load them all.
 */
const COMMANDS: Record<string, (() => Promise<Register>)[]> = {
  doctor: [() => import('./commands/doctor.js').then((m) => m.registerDoctor)],
  build: [() => import('./commands/build.js').then((m) => m.registerBuild)],
  measure: [
    () => import('./commands/measure-snp.js').then((m) => m.registerMeasureSnp),
    () => import('./commands/measure-tdx.js').then((m) => m.registerMeasureTdx),
    () => import('./commands/measure-td-shim-payload.js').then((m) => m.registerMeasureTdShimPayload),
    () => import('./commands/measure-pcr.js').then((m) => m.registerMeasurePcr),
  ],
  inspect: [() => import('./commands/inspect-firmware.js').then((m) => m.registerInspectFirmware)],
  snp: [() => import('./commands/snp-id-block.js').then((m) => m.registerSnpIdBlock)],
  eventlog: [
    () => import('./commands/eventlog-replay.js').then((m) => m.registerEventlogReplay),
    () => import('./commands/eventlog-diff.js').then((m) => m.registerEventlogDiff),
  ],
  uki: [() => import('./commands/uki-build.js').then((m) => m.registerUkiBuild)],
  keys: [() => import('./commands/keys-generate.js').then((m) => m.registerKeysGenerate)],
  manifest: [
    () => import('./commands/manifest-create.js').then((m) => m.registerManifestCreate),
    () => import('./commands/manifest-inspect.js').then((m) => m.registerManifestInspect),
    () => import('./commands/manifest-verify.js').then((m) => m.registerManifestVerify),
  ],
};

const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
const loaders = (first !== undefined && COMMANDS[first]) || Object.values(COMMANDS).flat();
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
