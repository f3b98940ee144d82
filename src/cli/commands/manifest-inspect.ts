import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { readInput } from '../../util/fs.js';
import { printJson, printLine } from '../output.js';
import { inspectManifest, inspectText } from '../../manifest/inspect.js';

export function registerManifestInspect(program: Command): void {
  const cmd = group(program, 'manifest')
    .command('inspect')
    .description('show what a signed CoRIM, DSSE envelope, RVPS message or reference-values.json contains (no signature check)')
    .argument('<file>', 'a file written by `manifest create` (or any CoRIM / COSE_Sign1 / DSSE envelope)')
    .addOption(jsonOption(program))
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = inspectManifest(await readInput(file, 'manifest'));
      if (opts.json) printJson(info);
      else for (const l of inspectText(info)) printLine(l);
    });
  examples(cmd, ['cvm-measure manifest inspect out/snp.corim.cbor', 'cvm-measure manifest inspect out/reference-values.intoto.json --json']);
}
