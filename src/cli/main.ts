#!/usr/bin/env node
/** cvm-measure entry point: declares commands (cheap), runs one (its implementation is imported lazily). */
import { Command, CommanderError } from 'commander';
import { isCvmError } from '../errors.js';
import { printError } from './output.js';
import { createRequire } from 'node:module';
import { registerDoctor } from './commands/doctor.js';
import { registerMeasureSnp } from './commands/measure-snp.js';
import { registerSnpIdBlock } from './commands/snp-id-block.js';
import { registerInspectFirmware } from './commands/inspect-firmware.js';
import { registerMeasureTdx } from './commands/measure-tdx.js';
import { registerMeasureTdShimPayload } from './commands/measure-td-shim-payload.js';
import { registerEventlogReplay } from './commands/eventlog-replay.js';
import { registerMeasurePcr } from './commands/measure-pcr.js';
import { registerUkiBuild } from './commands/uki-build.js';
import { registerEventlogDiff } from './commands/eventlog-diff.js';
import { registerKeysGenerate } from './commands/keys-generate.js';
import { registerManifestCreate } from './commands/manifest-create.js';
import { registerManifestInspect } from './commands/manifest-inspect.js';
import { registerManifestVerify } from './commands/manifest-verify.js';
import { registerBuild } from './commands/build.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('cvm-measure')
  .description('Reproducible, checkable confidential-VM measurements (SEV-SNP, TDX, vTPM)')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const register of [registerDoctor, registerMeasureSnp, registerSnpIdBlock, registerInspectFirmware, registerMeasureTdx, registerMeasureTdShimPayload, registerEventlogReplay, registerMeasurePcr, registerUkiBuild, registerEventlogDiff, registerKeysGenerate, registerManifestCreate, registerManifestInspect, registerManifestVerify, registerBuild]) register(program);

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
