/** Parsers for command-line values; each throws a UsageError (exit 2) naming the flag. */
import { UsageError } from '../errors.js';

import * as values from '../util/values.js';

/** Integer in decimal or 0x-hex. */
export const parseInteger = (flag: string, value: string, min?: number, max?: number): number => values.parseInteger(flag, value, min, max, UsageError);

/** Same as parseInteger but for 64-bit values (guest features, policies). */
export const parseBigInt = (flag: string, value: string): bigint => values.parseBigInt(flag, value, UsageError);

/** "1", "1,2,4", "1-64", "1-8,16,32" → sorted unique list. */
export const parseCountList = (flag: string, value: string, max?: number): number[] => values.parseCountList(flag, value, max, UsageError);

/** One value out of a fixed set, case-insensitive; returns the canonical spelling. */
export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  const hit = choices.find((c) => c.toLowerCase() === value.toLowerCase());
  if (!hit) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
  return hit;
}
