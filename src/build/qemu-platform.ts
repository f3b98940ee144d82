/**
 * platform.json (schemas/qemu-platform.schema.json): what a QEMU configuration serves its firmware through
 * fw_cfg, content-addressed. Writing it (from a capture guest's dump) and reading it back with every blob
 * checked against its size, sha256 and sha384.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { CvmError, InputError } from '../errors.js';
import type { QemuFwCfg } from '../measure/tdx/rtmr0.js';
import { strictBase64 } from '../sign/envelope.js';
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { PACKAGE_ROOT } from '../util/package.js';

export const QEMU_PLATFORM_SCHEMA = 'cvm-measure/qemu-platform/v1';

export interface QemuPlatformDocument {
  schema: typeof QEMU_PLATFORM_SCHEMA;
  qemu: { binary: string; version: string; args: string[]; captureArgs: string[]; notes: string[] };
  bootMenu: number;
  fwCfg: Record<string, { size: number; sha256: string; sha384: string }>;
  blobs: Record<string, string>;
}

/** The document for captured fw_cfg files: each blob stored once under its sha256. */
export function qemuPlatformDocument(qemu: QemuPlatformDocument['qemu'], bootMenu: number, files: ReadonlyMap<string, Uint8Array>): QemuPlatformDocument {
  const fwCfg: QemuPlatformDocument['fwCfg'] = {};
  const blobs: Record<string, string> = {};
  for (const name of [...files.keys()].sort()) {
    const b = files.get(name)!;
    const sha256 = toHex(digest('sha256', b));
    fwCfg[name] = { size: b.length, sha256, sha384: toHex(digest('sha384', b)) };
    blobs[sha256] = Buffer.from(b).toString('base64');
  }
  return { schema: QEMU_PLATFORM_SCHEMA, qemu, bootMenu, fwCfg, blobs };
}

let validate: ReturnType<Ajv['compile']> | undefined;

/** A loaded platform: the document and the fw_cfg view RTMR0 is computed from. */
export interface QemuPlatform {
  document: QemuPlatformDocument;
  sha256: string;
  fwCfg: QemuFwCfg;
}

/**
 * Parses and checks platform.json `bytes` (named `name` in errors): the schema, then every fw_cfg file's
 * blob — present, canonical base64, of the stated size and digests.
 * @throws {InputError} one line naming the file and the first problem.
 */
export function loadQemuPlatform(bytes: Uint8Array, name: string): QemuPlatform {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new InputError(`${name}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  validate ??= new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schemas/qemu-platform.schema.json'), 'utf8')) as object);
  if (!validate(doc)) {
    const e = validate.errors![0]!;
    const extra = e.keyword === 'additionalProperties' ? ` ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}` : '';
    throw new InputError(`${name}: not a capture qemu platform: ${e.instancePath.replace(/\//g, '.') || '(top)'} ${e.message}${extra}`);
  }
  const d = doc as QemuPlatformDocument;
  const files = new Map<string, Uint8Array>();
  for (const [file, f] of Object.entries(d.fwCfg)) {
    const encoded = d.blobs[f.sha256];
    if (encoded === undefined) throw new InputError(`${name}: fw_cfg ${file}: no blob ${f.sha256}`);
    let b: Uint8Array;
    try {
      b = strictBase64(encoded, `blob ${f.sha256}`);
    } catch (e) {
      throw e instanceof CvmError ? new InputError(`${name}: fw_cfg ${file}: blob is not canonical base64`) : e;
    }
    if (b.length !== f.size) throw new InputError(`${name}: fw_cfg ${file}: blob has ${b.length} bytes, size says ${f.size}`);
    for (const alg of ['sha256', 'sha384'] as const)
      if (toHex(digest(alg, b)) !== f[alg]) throw new InputError(`${name}: fw_cfg ${file}: blob does not match its ${alg}`);
    files.set(file, b);
  }
  return { document: d, sha256: toHex(digest('sha256', bytes)), fwCfg: { files, bootMenu: d.bootMenu } };
}
