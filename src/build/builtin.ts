/**
 * Built-in components, run by our own pure writers instead of a sandboxed script: `extract` (one file
 * out of a .deb / tar input), `cpio` (src/formats/cpio.ts), `cmdline` (exact bytes), `uki`
 * (src/formats/uki.ts). Same inputs → same bytes; no host state is read.
 */
import { writeCpio, type CpioEntry } from '../formats/cpio.js';
import { buildUki, type UkiSectionName } from '../formats/uki.js';
import type { ComponentSpec, SourceRef } from './recipe.js';

export type ReadSource = (ref: SourceRef) => Promise<Buffer>;

const DEFAULT_MODE = { file: 0o644, dir: 0o755, symlink: 0o777 } as const;

/** The single output of a built-in component. */
export async function runBuiltin(spec: Exclude<ComponentSpec, { type: 'run' }>, read: ReadSource, sourceDateEpoch: number): Promise<Uint8Array> {
  switch (spec.type) {
    case 'extract':
      return read(spec.source);
    case 'cmdline':
      return Buffer.from(spec.value, 'utf8');
    case 'cpio': {
      const entries: CpioEntry[] = [];
      for (const e of spec.entries) {
        if ('source' in e) entries.push({ path: e.path, type: 'file', mode: e.mode ?? DEFAULT_MODE.file, data: await read(e.source) });
        else if ('symlink' in e) entries.push({ path: e.path, type: 'symlink', mode: e.mode ?? DEFAULT_MODE.symlink, target: e.symlink });
        else entries.push({ path: e.path, type: 'dir', mode: e.mode ?? DEFAULT_MODE.dir });
      }
      return writeCpio(entries, { mtime: sourceDateEpoch });
    }
    case 'uki': {
      const sections: Partial<Record<UkiSectionName, Uint8Array>> = { '.linux': await read(spec.kernel) };
      if (spec.initrd) sections['.initrd'] = await read(spec.initrd);
      if (spec.cmdline) sections['.cmdline'] = await read(spec.cmdline);
      if (spec.osRelease) sections['.osrel'] = await read(spec.osRelease);
      return buildUki({ stub: await read(spec.stub), sections, timeDateStamp: sourceDateEpoch });
    }
  }
}
