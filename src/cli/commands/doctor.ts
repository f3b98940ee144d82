import type { Command } from 'commander';
import { examples, jsonOption } from '../command.js';
import { parseChoice } from '../options.js';
import { checkRequirements, installPackages } from '../../build/system.js';
import { printJson, printLine, warn } from '../output.js';

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check (and with --fix install) the Debian packages builds and tests need')
    .option('--for <purpose>', 'build, test or all', 'all')
    .option('--fix', 'apt-get install whatever is missing')
    .addOption(jsonOption(program))
    .action(async (opts: { for: string; fix?: boolean; json?: boolean }) => {
      const which = parseChoice('--for', opts.for, ['build', 'test', 'all'] as const);
      const purposes = which === 'all' ? (['build', 'test'] as const) : ([which] as const);
      let status = await checkRequirements(purposes);
      const missing = status.filter((s) => !s.installed).map((s) => s.apt);
      if (opts.fix && missing.length > 0) {
        await installPackages(missing, (l) => process.stderr.write(`${l}\n`));
        status = await checkRequirements(purposes);
      }
      const stillMissing = status.filter((s) => !s.installed);
      if (opts.json) {
        printJson({ ok: stillMissing.length === 0, packages: status.map(({ apt, installed, purpose, why }) => ({ apt, installed, purpose, why })) });
      } else {
        for (const s of status) printLine(`${s.installed ? 'ok     ' : 'MISSING'}  ${s.apt.padEnd(28)} ${s.why}`);
        if (stillMissing.length > 0) warn(`missing: ${stillMissing.map((s) => s.apt).join(' ')} (run: cvm-measure doctor --fix)`);
      }
      if (stillMissing.length > 0) process.exitCode = 1;
    });
  examples(cmd, ['cvm-measure doctor', 'cvm-measure doctor --fix --for test', 'cvm-measure doctor --json']);
}
