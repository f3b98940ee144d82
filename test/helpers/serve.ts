/** Starts the built `cvm-measure serve` on an ephemeral loopback port and returns its URL from the line it prints. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from './shared.js';

export async function serve(repo: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [resolve(ROOT, 'dist/bin/cvm-measure.cjs'), 'serve', '--repo', repo, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((res, rej) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`serve exited ${code}`)));
  });
  return { url, child };
}
