import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download } from '../src/util/download.js';
import { ROOT } from './helpers/shared.js';

const BIN = join(ROOT, 'dist/bin/cvm-measure.cjs');
const dir = mkdtempSync(join(tmpdir(), 'cvm-dl-'));
const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));

describe('downloads: redirects, HTTP errors, TLS with NODE_EXTRA_CA_CERTS passed explicitly', () => {
  const payload = Buffer.from('downloaded payload\n');
  let http: Server;
  let https: Server;
  let base: string;
  let secure: string;
  const cert = join(dir, 'cert.pem');
  beforeAll(async () => {
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      if (req.url === '/file') return res.end(payload);
      if (req.url === '/hop') return res.writeHead(302, { location: '/file' }).end();
      if (req.url === '/loop') return res.writeHead(301, { location: '/loop' }).end();
      res.writeHead(404).end();
    };
    http = createHttpServer(handler);
    https = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler);
    base = `http://127.0.0.1:${await listen(http)}`;
    secure = `https://127.0.0.1:${await listen(https)}`;
  });
  afterAll(() => {
    http.close();
    https.close();
  });

  it('follows redirects and writes the final body', async () => {
    const dest = join(dir, 'hop');
    await download(`${base}/hop`, dest, 'input x');
    expect(readFileSync(dest)).toEqual(payload);
  });

  it('refuses HTTP errors and redirect loops with one line', async () => {
    await expect(download(`${base}/missing`, join(dir, 'm'), 'input x')).rejects.toThrow(`input x: ${base}/missing: HTTP 404`);
    await expect(download(`${base}/loop`, join(dir, 'l'), 'input x')).rejects.toThrow(`input x: ${base}/loop: more than 10 redirects`);
  });

  it('trusts a server only through NODE_EXTRA_CA_CERTS', async () => {
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    try {
      delete process.env.NODE_EXTRA_CA_CERTS;
      await expect(download(`${secure}/file`, join(dir, 's0'), 'input x')).rejects.toThrow(
        /^input x: cannot fetch https:\/\/127\.0\.0\.1:\d+\/file: self.signed certificate/,
      );
      process.env.NODE_EXTRA_CA_CERTS = cert;
      await download(`${secure}/hop`, join(dir, 's1'), 'input x');
      expect(readFileSync(join(dir, 's1'))).toEqual(payload);
      process.env.NODE_EXTRA_CA_CERTS = join(dir, 'absent.pem');
      await expect(download(`${secure}/file`, join(dir, 's2'), 'input x')).rejects.toThrow(
        `cannot read extra CA certificates ${join(dir, 'absent.pem')}: ENOENT`,
      );
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  });

  it('the CLI bin hides NODE_EXTRA_CA_CERTS from Node start-up (node itself would load it eagerly)', () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'absent.pem') };
    const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { env, encoding: 'utf8' });
    // Node warns at start-up when it cannot load the file: proof it reads it eagerly
    expect(run(process.execPath, [BIN, '--version']).stderr).toMatch(/Ignoring extra certs/);
    const bin = run(BIN, ['--version']);
    expect(bin.status).toBe(0);
    expect(bin.stderr).toBe('');
  });
});
