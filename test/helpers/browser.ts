/**
 * Runs library code in headless Debian chromium (playwright-core; never a downloaded browser): esbuild
 * bundles an entry for the platform 'browser' with nothing external (a node: builtin anywhere it
 * reaches fails the bundle), a 127.0.0.1 server serves it and the given files, and the page's
 * `globalThis.run()` result comes back to the test. Suites skip loudly without /usr/bin/chromium.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { describe } from 'vitest';
import { describeShared, ROOT } from './shared.js';

export const CHROMIUM = '/usr/bin/chromium';

/** `describeShared` when chromium is installed; otherwise a loudly skipped suite. */
export function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) {
    describeShared(name, fn);
    return;
  }
  process.stderr.write(`\n*** SKIPPED "${name}": ${CHROMIUM} missing (apt-get install chromium, or: npx cvm-measure doctor --fix --for test) ***\n`);
  describe.skip(`${name} [SKIPPED: ${CHROMIUM} missing]`, fn);
}

export interface BrowserRun {
  /** What `globalThis.run()` returned, and whether `process` or `Buffer` existed in the page. */
  result: unknown;
  node: boolean;
  errors: string[];
}

/** Bundles `entry` (TypeScript source resolved from the repository root; it must set `globalThis.run`), serves `files` (url path → bytes) and runs it. */
export async function runInBrowser(entry: string, files: Record<string, Uint8Array>): Promise<BrowserRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-browser-'));
  const server = createServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    await build({
      stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'browser-entry.ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      outfile: join(dir, 'bundle.js'),
      logLevel: 'silent',
    });
    const served: Record<string, [string, Uint8Array]> = {
      '/': ['text/html', Buffer.from('<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>')],
      '/bundle.js': ['text/javascript', readFileSync(join(dir, 'bundle.js'))],
      ...Object.fromEntries(Object.entries(files).map(([p, b]) => [p, ['application/octet-stream', b] as [string, Uint8Array]])),
    };
    server.on('request', (req, res) => {
      const f = served[req.url ?? ''];
      res.writeHead(f ? 200 : 404, { 'content-type': f ? f[0] : 'text/plain' });
      res.end(f ? f[1] : 'not found');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => typeof (globalThis as { run?: unknown }).run === 'function');
    const result = await page.evaluate(() => (globalThis as unknown as { run: () => Promise<unknown> }).run());
    const node = await page.evaluate(() => typeof process !== 'undefined' || typeof Buffer !== 'undefined');
    return { result, node, errors };
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
    rmSync(dir, { recursive: true, force: true });
  }
}
