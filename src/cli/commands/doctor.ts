import type { Command } from 'commander';
import { examples, jsonOption } from '../command.js';
import { parseChoice } from '../options.js';
import { checkRequirements, installPackages } from '../../build/system.js';
import { BuildError } from '../../errors.js';
import { printJson, printLine, withDetails } from '../output.js';

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
      const missing = () => status.filter((s) => !s.installed && s.needed);
      if (opts.fix && missing().length > 0) {
        await installPackages(
          missing().map((s) => s.apt),
          (l) => process.stderr.write(`${l}\n`),
        );
        status = await checkRequirements(purposes);
      }
      const packages = status.map(({ apt, installed, needed, purpose, why }) => ({ apt, installed, needed, purpose, why }));
      if (!opts.json) {
        for (const s of status)
          printLine(`${s.installed ? 'ok     ' : s.needed ? 'MISSING' : 'absent '}  ${s.apt.padEnd(28)} ${s.why}${s.needed ? '' : ' (not needed as root)'}`);
      }
      const still = missing();
      if (still.length > 0) throw withDetails(new BuildError(`missing: ${still.map((s) => s.apt).join(' ')} (run: cvm-measure doctor --fix)`), { packages });
      if (opts.json) printJson({ ok: true, packages });
    });
  examples(cmd, ['cvm-measure doctor', 'cvm-measure doctor --fix --for test', 'cvm-measure doctor --json']);
}
