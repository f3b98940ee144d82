import type { Command } from 'commander';
import { serveRepository } from '../../publish/serve.js';
import { examples, jsonOption } from '../command.js';
import { parseInteger } from '../options.js';
import { printJson, printLine } from '../output.js';

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'serve a reference-value repository read-only over HTTP (GET/HEAD; a directory answers with its index.html, never a listing; nothing outside it); loopback by default',
    )
    .requiredOption('--repo <dir>', 'the repository directory')
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(jsonOption(program))
    .action(async (opts: { repo: string; port: string; host: string; json?: boolean }) => {
      const s = await serveRepository({ repo: opts.repo, port: parseInteger('--port', opts.port, 0, 65535), host: opts.host });
      if (opts.json) printJson({ repo: opts.repo, url: s.url });
      else printLine(`serving ${opts.repo} at ${s.url}`);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void s.close().then(() => process.exit(0)));
    });
  examples(cmd, ['cvm-measure serve --repo /srv/rv', 'cvm-measure serve --repo /srv/rv --port 0 --host ::1']);
}
