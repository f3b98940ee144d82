/** Command-line times: seconds since the epoch or an ISO 8601 date / date-time (UTC unless an offset is given). */
import { UsageError } from '../errors.js';

export function parseTime(flag: string, value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new UsageError(`${flag}: expected seconds since the epoch or an ISO 8601 time, got ${JSON.stringify(value)}`);
  return Math.floor(t / 1000);
}
