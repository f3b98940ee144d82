/**
 * The command tree's declaration, shared by the entry point (which imports only the command files it
 * needs) and the documentation generator (scripts/docs.ts, which needs them all).
 */
import { Command, type ErrorOptions, type Option } from 'commander';
import { UsageError } from '../errors.js';
import { packageVersion } from '../util/package.js';
import { isRepeatable, isRequired, markRequired, memberExamples } from './command.js';

export type Register = (program: Command) => void;
export type Loader = () => Promise<Register>;

/**
 * Command path → the file that declares it. Only the file of the command being run is imported
 * (start-up is benchmarked); a bare group (`measure --help`) loads its members, help loads them all.
 * `build`, `manifest create` and `rebuild` declare themselves without their runs (`*-run.ts`, imported when they
 * run), whose graphs (execa, yaml, ajv, @noble/curves) are most of the CLI; `measure tdx` gets its
 * platform.json reader (ajv) the same way, used only with --platform. These imports are the CLI's only
 * lazy loading: the bundle makes each of them a chunk.
 */
export const COMMANDS: [path: string, load: Loader][] = [
  ['doctor', () => import('./commands/doctor.js').then((m) => m.registerDoctor)],
  [
    'build',
    () => import('./commands/build.js').then((m) => (p: Command) => m.registerBuild(p, () => import('./commands/build-run.js').then((r) => r.runBuild))),
  ],
  ['measure snp', () => import('./commands/measure-snp.js').then((m) => m.registerMeasureSnp)],
  [
    'measure tdx',
    () =>
      import('./commands/measure-tdx.js').then(
        (m) => (p: Command) => m.registerMeasureTdx(p, () => import('../build/qemu-platform.js').then((q) => q.loadQemuPlatform)),
      ),
  ],
  ['measure td-shim-payload', () => import('./commands/measure-td-shim-payload.js').then((m) => m.registerMeasureTdShimPayload)],
  ['measure pcr', () => import('./commands/measure-pcr.js').then((m) => m.registerMeasurePcr)],
  ['capture qemu', () => import('./commands/capture-qemu.js').then((m) => m.registerCaptureQemu)],
  ['inspect firmware', () => import('./commands/inspect-firmware.js').then((m) => m.registerInspectFirmware)],
  ['snp id-block', () => import('./commands/snp-id-block.js').then((m) => m.registerSnpIdBlock)],
  ['eventlog replay', () => import('./commands/eventlog-replay.js').then((m) => m.registerEventlogReplay)],
  ['eventlog diff', () => import('./commands/eventlog-diff.js').then((m) => m.registerEventlogDiff)],
  ['uki build', () => import('./commands/uki-build.js').then((m) => m.registerUkiBuild)],
  ['keys generate', () => import('./commands/keys-generate.js').then((m) => m.registerKeysGenerate)],
  [
    'manifest create',
    () =>
      import('./commands/manifest-create.js').then(
        (m) => (p: Command) => m.registerManifestCreate(p, () => import('./commands/manifest-create-run.js').then((r) => r.runManifestCreate)),
      ),
  ],
  ['manifest inspect', () => import('./commands/manifest-inspect.js').then((m) => m.registerManifestInspect)],
  ['manifest verify', () => import('./commands/manifest-verify.js').then((m) => m.registerManifestVerify)],
  ['verify', () => import('./commands/verify.js').then((m) => m.registerVerify)],
  [
    'rebuild',
    () =>
      import('./commands/rebuild.js').then((m) => (p: Command) => m.registerRebuild(p, () => import('./commands/rebuild-run.js').then((r) => r.runRebuild))),
  ],
  ['publish', () => import('./commands/publish.js').then((m) => m.registerPublish)],
  ['serve', () => import('./commands/serve.js').then((m) => m.registerServe)],
  ['fetch', () => import('./commands/fetch.js').then((m) => m.registerFetch)],
  // walks the whole tree, so the entry point loads every command for it
  ['completion', () => import('./commands/completion.js').then((m) => m.registerCompletion)],
];

/** Command paths whose run needs the full tree declared. */
export const NEEDS_ALL = new Set(['completion']);

/** sev-snp-measure's flag names → ours, for the unknown-option hint. */
const SEV_SNP_MEASURE_FLAGS: Record<string, string> = { '--ovmf': '--firmware', '--vmm-type': '--vmm', '--snp-ovmf-hash': '--seed' };

/**
 * commander's Command with the CLI's stricter parsing: a value option given twice is a usage error
 * (unless declared `repeatable`); required options are checked after unknown options (by the root's
 * pre-action hook), so a mistyped required flag is reported as unknown; every error is one line, with
 * "did you mean" for a near miss or a sev-snp-measure flag name.
 */
class CliCommand extends Command {
  override createCommand(name?: string): Command {
    return new CliCommand(name);
  }

  override addOption(option: Option): this {
    if (option.mandatory) markRequired(option);
    if ((option.required || option.optional) && !isRepeatable(option)) {
      const parse = option.parseArg;
      option.argParser((value: string, previous: unknown) => {
        if (this.getOptionValueSource(option.attributeName()) === 'cli')
          throw new UsageError(`${option.long ?? option.flags} given twice (${JSON.stringify(previous)}, then ${JSON.stringify(value)}): it takes one value`);
        return parse ? parse.call(option, value, previous) : value;
      });
    }
    return super.addOption(option);
  }

  override error(message: string, errorOptions?: ErrorOptions): never {
    let text = message.replace(/\n\(Did you mean (.+)\?\)$/, ': did you mean $1?');
    const unknown = errorOptions?.code === 'commander.unknownOption' && /^error: unknown option '([^'=]+)/.exec(message)?.[1];
    const ours = unknown && SEV_SNP_MEASURE_FLAGS[unknown];
    if (ours && this.options.some((o) => o.long === ours)) text = `error: unknown option '${unknown}' (sev-snp-measure's name): did you mean ${ours}?`;
    return super.error(text.replace(/\s*\n\s*/g, ' '), errorOptions);
  }
}

/** The root command, without subcommands. */
export function createProgram(): Command {
  const program = new CliCommand('cvm-measure')
    .description('Reproducible, checkable confidential-VM measurements (SEV-SNP, TDX, vTPM)')
    .version(packageVersion())
    // one line, as every other error: `cvm-measure: error: <what> (run with --help for usage)`
    .configureOutput({ outputError: (str, write) => write(`cvm-measure: error: ${str.trim().replace(/^error: /, '')} (run with --help for usage)\n`) })
    .exitOverride()
    .hook('preAction', (_root, command) => {
      const missing = command.options.find((o) => isRequired(o) && command.getOptionValue(o.attributeName()) === undefined);
      if (missing) command.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: 2 });
    });
  return memberExamples(program);
}

/** The root with every command declared (none run): for documentation and shell completion. */
export async function createFullProgram(): Promise<Command> {
  const program = createProgram();
  for (const register of await Promise.all(COMMANDS.map(([, load]) => load()))) register(program);
  return program;
}
