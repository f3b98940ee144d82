/**
 * Every error cvm-measure raises on purpose. The CLI prints `cvm-measure: error: <message>` (one line,
 * no stack) and exits with `exitCode`; anything else is an internal error (exit 1, stack only with
 * CVM_DEBUG=1).
 */
const BRAND = Symbol.for('cvm-measure.error');

export class CvmError extends Error {
  override readonly name: string = 'CvmError';
  /** Marks cvm-measure errors across module copies (each CLI command is a separate bundle). */
  readonly [BRAND] = true;
  /** 1: the input or the evidence is wrong; 2: the command line is wrong. */
  readonly exitCode: 1 | 2 = 1;
}

/** Bad command-line usage (unknown flag value, missing/conflicting options). Exit code 2. */
export class UsageError extends CvmError {
  override readonly name = 'UsageError';
  override readonly exitCode = 2;
}

/** A binary or text format failed to parse: `what` names the format, e.g. "OVMF footer table". */
export class FormatError extends CvmError {
  override readonly name = 'FormatError';
  constructor(
    readonly what: string,
    detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

/** An input that parses but cannot be used (missing section, unsupported combination, hash mismatch). */
export class InputError extends CvmError {
  override readonly name = 'InputError';
}

/** A signature, digest or evidence check failed. */
export class VerificationError extends CvmError {
  override readonly name = 'VerificationError';
}

/** A build, sandbox or external tool failed. */
export class BuildError extends CvmError {
  override readonly name = 'BuildError';
}

/** Whether `e` is one of this package's errors — by brand, so it holds across bundles with their own copy of the classes. */
export function isCvmError(e: unknown): e is CvmError {
  return e instanceof Error && (e as Partial<Record<typeof BRAND, boolean>>)[BRAND] === true;
}
