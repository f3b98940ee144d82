/** YAML (or JSON, a subset) from untrusted files: aliases bounded, errors as one line naming the file. */
import { parse } from 'yaml';
import { InputError } from '../errors.js';

/** @throws InputError naming the file and the first problem. */
export function parseYamlText(text: string, what: string): unknown {
  try {
    return parse(text, { maxAliasCount: 16 });
  } catch (e) {
    throw new InputError(`${what}: not YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
}
