/** Terminal conventions: JSON on stdout, diagnostics on stderr, colour only on a TTY without NO_COLOR. */
import type { Writable } from 'node:stream';

const useColor = (s: Writable & { isTTY?: boolean }) => Boolean(s.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

function paint(code: string, text: string): string {
  return useColor(process.stderr) ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** Prints one JSON document (2-space indented, trailing newline) on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`${paint('1;33', 'cvm-measure: warning:')} ${message}\n`);
}

export function printError(message: string): void {
  process.stderr.write(`${paint('1;31', 'cvm-measure: error:')} ${message}\n`);
}

const DETAILS = new WeakMap<Error, object>();

/** Attaches what a failing command found to its error: with --json it is printed beside `ok: false` and the error. */
export function withDetails<E extends Error>(error: E, details: object): E {
  DETAILS.set(error, details);
  return error;
}

/** A failure as one --json object: `{"ok": false, "error": {"code", "message"}, ...details}`. */
export function printFailureJson(error: unknown, code: string, message: string): void {
  printJson({ ok: false, error: { code, message }, ...(error instanceof Error ? DETAILS.get(error) : undefined) });
}

/** A single-line progress indicator on a TTY; silent when stderr is piped or CI is set. */
export interface Progress {
  step(text: string): void;
  done(text?: string): void;
}

export function progress(): Progress {
  const live = Boolean(process.stderr.isTTY) && !process.env.CI;
  let shown = false;
  return {
    step(text) {
      if (!live) return;
      const cols = process.stderr.columns || 80;
      process.stderr.write(`\r\x1b[2K${paint('2', text.slice(0, cols - 1))}`);
      shown = true;
    },
    done(text) {
      if (!live) return;
      if (shown) process.stderr.write('\r\x1b[2K');
      if (text) process.stderr.write(`${text}\n`);
      shown = false;
    },
  };
}
