/**
 * cvm-measure entry point: declares the commands argv names (the command table imports their files) and
 * runs one. Not a top-level await: the fast commands' bundles are CommonJS (esbuild.config.mjs).
 */
import { CommanderError } from 'commander';
import { CvmError } from '../errors.js';
import { printError, printFailureJson } from './output.js';
import { COMMANDS, createProgram, NEEDS_ALL, type Loader } from './program.js';

/** The loaders for argv's leading words: the longest command path they name, none for a bare --version, else (and for NEEDS_ALL) everything. */
function loadersFor(words: string[], flags: string[]): Loader[] {
  if (!words.length && flags.length === 1 && (flags[0] === '--version' || flags[0] === '-V')) return [];
  for (let n = Math.min(words.length, 2); n > 0; n--) {
    const prefix = words.slice(0, n).join(' ');
    const hit = COMMANDS.filter(([path]) => path === prefix || path.startsWith(`${prefix} `));
    if (NEEDS_ALL.has(prefix)) break;
    if (hit.length) return hit.map(([, load]) => load);
  }
  return COMMANDS.map(([, load]) => load);
}

/** Runs the command argv names; the exit code goes to process.exitCode. */
async function main(): Promise<void> {
  // The bin's launcher line (esbuild.config.mjs) moved NODE_EXTRA_CA_CERTS aside so Node does not parse
  // it at start-up (util/download.ts applies it to the downloads that need it); give it back for child
  // processes and downloads.
  if (process.env.CVM_EXTRA_CA_CERTS) process.env.NODE_EXTRA_CA_CERTS = process.env.CVM_EXTRA_CA_CERTS;
  delete process.env.CVM_EXTRA_CA_CERTS;

  const program = createProgram();
  const args = process.argv.slice(2);
  const loaders = loadersFor(
    args.filter((a) => !a.startsWith('-')),
    args.filter((a) => a.startsWith('-')),
  );
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);

  // `cvm-measure ... | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });

  /** With --json, a failure is also one object on stdout: {"ok": false, "error": {"code", "message"}}. */
  const failure = (e: unknown, code: string, message: string) => {
    if (args.includes('--json')) printFailureJson(e, code, message);
  };

  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its one line; help and version are successes
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      if (e.exitCode !== 0) failure(e, 'UsageError', e.message.replace(/^error: /, ''));
    } else if (e instanceof CvmError) {
      printError(e.message);
      failure(e, e.name, e.message);
      process.exitCode = e.exitCode;
    } else {
      const message = `internal error: ${e instanceof Error ? e.message : String(e)}`;
      printError(message);
      failure(e, 'InternalError', message);
      if (process.env.CVM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 1;
    }
  }
}

void main();
