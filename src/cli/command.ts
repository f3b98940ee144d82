/** Shared commander plumbing so each command file stays a thin declaration. */
import type { Command, Option } from 'commander';

const GROUPS: Record<string, string> = {
  measure: 'predict launch measurements (SNP digest, TDX MRTD/RTMRs, vTPM PCRs)',
  inspect: 'show what a measurement depends on',
  snp: 'SEV-SNP helpers (ID block)',
  eventlog: 'replay and compare TCG2 event logs (TPM and TDX CCEL)',
  uki: 'unified kernel images',
  keys: 'signing keys',
  manifest: 'signed reference-value manifests',
};

/** Returns the group command `name` under `program`, creating it on first use. */
export function group(program: Command, name: keyof typeof GROUPS & string): Command {
  return program.commands.find((c) => c.name() === name) ?? memberExamples(program.command(name).description(GROUPS[name] ?? name));
}

/**
 * `--json` with the wording every command shares. Options come from `program.createOption` so that
 * only the entry point imports commander (it is bundled there; see the build script).
 */
export function jsonOption(program: Command): Option {
  return program.createOption('--json', 'print one JSON object on stdout (shape documented in README)');
}

const EXAMPLES = new WeakMap<Command, string[]>();

/** Appends an "Examples:" block to a command's --help (and records it for the generated docs). */
export function examples(cmd: Command, lines: string[]): Command {
  EXAMPLES.set(cmd, [...(EXAMPLES.get(cmd) ?? []), ...lines]);
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** The example command lines `examples()` gave `cmd`; for a command without its own, the first example of each subcommand. */
export function examplesOf(cmd: Command): readonly string[] {
  return EXAMPLES.get(cmd) ?? cmd.commands.flatMap((c) => examplesOf(c).slice(0, 1));
}

/** Gives a group (or the root) an "Examples:" block made, when help is shown, of its members' first examples. */
export function memberExamples(cmd: Command): Command {
  return cmd.addHelpText('after', () => {
    const lines = examplesOf(cmd);
    return lines.length ? `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n` : '';
  });
}
