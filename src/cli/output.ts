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

/**
 * Says once on stderr which defaults entered a measurement (they change it; the --json output lists them as
 * `defaults`), or what else `done` names (e.g. a capture).
 */
export function noteDefaults(defaults: Readonly<Record<string, string | number>>, done = 'measured'): void {
  const list = Object.entries(defaults).map(([k, v]) => `${k}=${v}`);
  if (list.length) process.stderr.write(`cvm-measure: note: ${done} with defaults ${list.join(', ')} (give them to silence this note)\n`);
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

export const PROGRESS_MODES = ['auto', 'plain', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** Progress of a long run on stderr: `step` starts a step, `done` ends it with a line to keep, `stop` ends the reporter. */
export interface Progress {
  step(text: string): void;
  done(text?: string): void;
  stop(): void;
}

/** Seconds between "still running" lines in plain mode (CI logs show life without a line per second). */
const PLAIN_HEARTBEAT_S = 60;

/**
 * The one progress reporter (`--progress`). live (auto on a TTY without CI): the current step and its
 * elapsed seconds redrawn in place every second; plain (auto elsewhere, e.g. CI): timestamped lines at
 * each step, every minute of a step and at its end; none: silent.
 */
export function progress(mode: ProgressMode): Progress {
  const style = mode === 'auto' ? (process.stderr.isTTY && !process.env.CI ? 'live' : 'plain') : mode;
  let step = { text: '', since: 0, beats: 0 };
  let shown = false;
  const elapsed = () => Math.round((performance.now() - step.since) / 1000);
  const plain = (text: string) => process.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${text}\n`);
  const draw = () => {
    if (!step.text) return;
    if (style === 'live') {
      const cols = process.stderr.columns || 80;
      process.stderr.write(`\r\x1b[2K${paint('2', `${step.text} ${elapsed()}s`.slice(0, cols - 1))}`);
      shown = true;
    } else if (style === 'plain' && elapsed() >= (step.beats + 1) * PLAIN_HEARTBEAT_S) {
      step.beats++;
      plain(`${step.text}: still running (${elapsed()} s)`);
    }
  };
  const ticker = style === 'none' ? undefined : setInterval(draw, 1000).unref();
  const clear = () => {
    if (shown) process.stderr.write('\r\x1b[2K');
    shown = false;
  };
  return {
    step(text) {
      step = { text, since: performance.now(), beats: 0 };
      if (style === 'plain') plain(text);
      else draw();
    },
    done(text) {
      step.text = '';
      clear();
      if (text && style === 'live') process.stderr.write(`${text}\n`);
      if (text && style === 'plain') plain(text);
    },
    stop() {
      clearInterval(ticker);
      clear();
    },
  };
}
