import type { Command } from 'commander';
import { examples } from '../command.js';
import { completionScript, type Shell, SHELLS } from '../completion.js';
import { describeCommand } from '../tree.js';

/** Declared last: the entry point loads every command before it (program.ts, NEEDS_ALL), so `program` holds the whole tree. */
export function registerCompletion(program: Command): void {
  const cmd = program
    .command('completion')
    .description('print a shell completion script (subcommands, long options and their choices)')
    .addArgument(program.createArgument('<shell>', 'the shell to complete for').choices(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(describeCommand(program), shell));
    });
  examples(cmd, [
    'source <(cvm-measure completion bash)',
    'cvm-measure completion zsh > "${fpath[1]}/_cvm-measure"',
    'cvm-measure completion fish > ~/.config/fish/completions/cvm-measure.fish',
  ]);
}
