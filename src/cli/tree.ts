/** A plain description of a declared commander tree, as --help shows it: for generated docs and shell completion. */
import type { Command } from 'commander';
import { examplesOf, isRequired } from './command.js';

export interface OptionInfo {
  /** as --help shows it, e.g. "--mode <mode>" */
  flags: string;
  long?: string;
  short?: string;
  /** --help's description, with choices and default appended */
  description: string;
  /** takes a value */
  takesValue: boolean;
  choices?: readonly string[];
  mandatory: boolean;
}

export interface ArgumentInfo {
  term: string;
  description: string;
  required: boolean;
  variadic: boolean;
  choices?: readonly string[];
}

export interface CommandInfo {
  name: string;
  /** from the root, e.g. ["measure", "snp"] (empty for the root) */
  path: string[];
  description: string;
  usage: string;
  arguments: ArgumentInfo[];
  options: OptionInfo[];
  examples: readonly string[];
  subcommands: CommandInfo[];
}

/** Describes `cmd` and its subcommands (the implicit `help` command excluded), without running anything. */
export function describeCommand(cmd: Command, path: string[] = []): CommandInfo {
  const help = cmd.createHelp();
  return {
    name: cmd.name(),
    path,
    description: help.commandDescription(cmd),
    usage: help.commandUsage(cmd),
    arguments: cmd.registeredArguments.map((a) => ({
      term: help.argumentTerm(a),
      description: help.argumentDescription(a),
      required: a.required,
      variadic: a.variadic,
      ...(a.argChoices ? { choices: a.argChoices } : {}),
    })),
    options: help.visibleOptions(cmd).map((o) => ({
      flags: help.optionTerm(o),
      ...(o.long ? { long: o.long } : {}),
      ...(o.short ? { short: o.short } : {}),
      description: help.optionDescription(o),
      takesValue: o.required || o.optional,
      ...(o.argChoices ? { choices: o.argChoices } : {}),
      mandatory: isRequired(o),
    })),
    examples: examplesOf(cmd),
    subcommands: cmd.commands.map((c) => describeCommand(c, [...path, c.name()])),
  };
}

/** Every command in the tree, depth first, root included. */
export function flatten(root: CommandInfo): CommandInfo[] {
  return [root, ...root.subcommands.flatMap(flatten)];
}
