/** Shared commander plumbing so each command file stays a thin declaration. */
import type { Command, Option } from 'commander';

const GROUPS: Record<string, string> = {
  measure: 'predict launch measurements (SNP digest, TDX MRTD/RTMRs, vTPM PCRs)',
  inspect: 'show what a measurement depends on',
  capture: 'record what a VMM serves the firmware (QEMU fw_cfg files) for RTMR0',
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

const REPEATABLE = new WeakSet<Option>();
const REQUIRED = new WeakSet<Option>();

/**
 * An option given once per value (`--trust a.pem --trust b.pem`), collected into an array (undefined
 * when never given). The only options that may repeat: every other value option given twice is a
 * usage error (program.ts), and none is variadic (a variadic option swallows the operands after it).
 */
export function repeatable(program: Command, flags: string, description: string): Option {
  const option = program.createOption(flags, `${description} (repeatable)`).argParser((v: string, acc: string[] | undefined) => [...(acc ?? []), v]);
  REPEATABLE.add(option);
  return option;
}

/** `--progress auto|plain|none` of the long-running commands (build, rebuild). */
export function progressOption(program: Command): Option {
  return program
    .createOption(
      '--progress <mode>',
      'progress on stderr: auto (redrawn in place on a terminal, else timestamped lines), plain (timestamped lines, e.g. for CI logs) or none',
    )
    .default('auto');
}

export const isRepeatable = (option: Option): boolean => REPEATABLE.has(option);

/**
 * Marks a `requiredOption` as checked by the program's own pre-action hook (program.ts) rather than by
 * commander, which checks before it reports an unknown option (`--firmwar x` must say "unknown option").
 */
export function markRequired(option: Option): void {
  REQUIRED.add(option);
  option.mandatory = false;
}

/** Whether the command line must give `option`. */
export const isRequired = (option: Option): boolean => REQUIRED.has(option) || option.mandatory;

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
