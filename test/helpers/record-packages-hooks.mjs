// Module resolve hook (runs on the hooks thread) for record-packages.mjs.
import { appendFileSync } from 'node:fs';

let file;
export function initialize(data) {
  file = data.file;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (file && r.url.includes('/node_modules/')) appendFileSync(file, `${r.url}\n`);
  return r;
}
