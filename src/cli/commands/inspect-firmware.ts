import type { Command } from 'commander';
import { examples, group, jsonOption } from '../command.js';
import { readInput } from '../../util/fs.js';
import { firmwareReport } from '../../measure/firmware-report.js';
import { printJson, printLine } from '../output.js';

export function registerInspectFirmware(program: Command): void {
  const cmd = group(program, 'inspect')
    .command('firmware')
    .description('show the OVMF footer GUID table, SEV metadata, SEV-ES reset EIP, SNP kernel-hash page and TDX metadata presence')
    .argument('<file>', 'OVMF / SVSM image')
    .addOption(jsonOption(program))
    .action(async (file: string, opts: { json?: boolean }) => {
      const image = await readInput(file, 'firmware');
      const d = { path: file, ...firmwareReport(image) };
      if (opts.json) return printJson(d);
      const lines = [
        `file             ${file} (${d.size} bytes${d.gpa ? `, loaded at ${d.gpa}` : ', not a whole number of 4 KiB pages'})`,
        `sha256           ${d.sha256}`,
        `sha384           ${d.sha384}`,
        `snp seed         ${d.snpSeed ?? '-'}   (digest after the firmware pages: --print-seed)`,
        `footer table     ${d.footerTable ? `at 0x${d.footerTable.offset.toString(16)}, ${d.footerTable.entries.length} entries` : 'none (no OVMF footer GUID at end-0x30)'}`,
        ...(d.footerTable?.entries ?? []).map((e) => `  ${e.guid}  ${(e.name ?? '?').padEnd(20)} @0x${e.offset.toString(16)}  ${e.data}`),
        `sev-es reset eip ${d.sevEsResetEip ?? 'none'}`,
        `sev hash table   ${d.sevHashTable ? `gpa ${d.sevHashTable.gpa} size ${d.sevHashTable.size}` : 'none'}`,
        `snp kernel hashes ${d.snpKernelHashes ? `page ${d.snpKernelHashes.pageGpa}, table at ${d.snpKernelHashes.tableGpa ?? '?'}` : 'none (no SNP_KERNEL_HASHES section: --kernel not supported under SNP)'}`,
        `sev metadata     ${d.sevMetadata ? `at 0x${d.sevMetadata.offset.toString(16)}, version ${d.sevMetadata.version}, ${d.sevMetadata.sections.length} sections` : 'NONE (not an SNP-capable OVMF)'}`,
        ...(d.sevMetadata?.sections ?? []).map((s) => `  ${s.type.padEnd(18)} gpa ${s.gpa.padEnd(10)} size ${s.size}`),
        `svsm entry       ${d.svsmEntryOffset ?? 'none'}`,
        `tdx metadata     ${d.tdxMetadata ? 'present' : 'absent'}`,
      ];
      printLine(lines.join('\n'));
    });
  examples(cmd, ['cvm-measure inspect firmware /usr/share/ovmf/OVMF.fd', 'cvm-measure inspect firmware OVMF.fd --json']);
}
