/** Runs the built CLI (dist/, built by `npm test` before vitest) as a user would. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from './shared.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<CliResult> {
  return new Promise((res) => {
    const child = execFile(
      process.execPath,
      [resolve(ROOT, 'dist/bin/cvm-measure.cjs'), ...args],
      { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env }, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Asserts the CLI's one-line error convention: a single "cvm-measure: error:" line and no stack trace. */
export function errorLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  const err = lines.find((l) => l.startsWith('cvm-measure: error:'));
  if (!err || /\n\s+at /.test(r.stderr)) throw new Error(`expected a one-line error, got:\n${r.stderr}`);
  return err;
}
