/**
 * JSON for signed envelopes: JSON.parse keeps the last of two members with the same name, while
 * other parsers keep the first, so the same bytes can mean two things. Envelopes are read strictly:
 * a duplicate member name anywhere (compared after unescaping) is an error.
 */
import { FormatError, InputError } from '../errors.js';

/**
 * Parses UTF-8 JSON bytes that are an input (a file, a release's document); `what` names it in the error.
 * @throws {InputError} "WHAT: not JSON" for anything else.
 */
export function parseJsonInput(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InputError(`${what}: not JSON`);
  }
}

/**
 * Parses `text` as JSON and rejects duplicate member names in any object; `what` names the document in errors.
 * @throws {FormatError} when `text` is not JSON or an object has two members with the same name.
 */
export function parseJsonStrict(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FormatError(what, 'not JSON');
  }
  // the text is valid JSON from here: only strings, brackets and commas need tracking
  const open: (Set<string> | null)[] = []; // member names seen per enclosing object; null for an array
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const names = open[open.length - 1];
      if (keyNext && names) {
        const name = JSON.parse(text.slice(i, j + 1)) as string;
        if (names.has(name)) throw new FormatError(what, `duplicate member ${JSON.stringify(name)}`);
        names.add(name);
        keyNext = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      keyNext = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      keyNext = false;
    } else if (c === ',') {
      keyNext = open[open.length - 1] !== null;
    }
  }
  return value;
}
