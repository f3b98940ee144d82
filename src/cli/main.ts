#!/usr/bin/env node
/** cvm-measure entry point: declares commands (cheap), runs one (its implementation is imported lazily). */
import { Command, CommanderError } from 'commander';
import { isCvmError } from '../errors.js';
import { printError } from './output.js';
import { createRequire } from 'node:module';
import { registerDoctor } from './commands/doctor.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('cvm-measure')
  .description('Reproducible, checkable confidential-VM measurements (SEV-SNP, TDX, vTPM)')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const register of [registerDoctor]) register(program);

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
