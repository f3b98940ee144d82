/**
 * A read-only static file server for a repository (node:http): GET and HEAD only, a directory
 * answers with its index.html (the site `publish` writes) and never with a listing, nothing outside the repository (no `..`, no symbolic link leading out, no dot files
 * such as a publish's staging directory), a content type by file extension.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';
import { InputError } from '../errors.js';

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.cbor': 'application/cbor',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.pem': 'application/x-pem-file',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

export interface ServeOptions {
  repo: string;
  port?: number;
  host?: string;
}

export interface Serving {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * The file a request path names inside `root` (a directory: its index.html; without the trailing
 * slash, a redirect to it, so the page's relative links resolve), or undefined when it must not be served.
 */
async function resolveRequest(root: string, rawPath: string): Promise<{ file: string } | { redirect: string } | undefined> {
  let path: string;
  try {
    path = decodeURIComponent(rawPath.split('?')[0]!);
  } catch {
    return undefined;
  }
  if (!path.startsWith('/') || path.includes('\0') || path.includes('\\')) return undefined;
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.' || p.startsWith('.'))) return undefined;
  try {
    const real = await realpath(join(root, ...parts));
    if (real !== root && !real.startsWith(root + sep)) return undefined;
    if ((await stat(real)).isFile()) return real === root ? undefined : { file: real };
    const index = join(real, 'index.html');
    if (!(await stat(index)).isFile()) return undefined;
    return path.endsWith('/') ? { file: index } : { redirect: `/${parts.map(encodeURIComponent).join('/')}/` };
  } catch {
    return undefined;
  }
}

/**
 * Serves a repository directory read-only over HTTP (GET/HEAD; loopback by default; a directory's
 * index.html, no listings, no traversal, no dot files, no links out of the repository).
 * @throws {InputError} when the directory is not a repository or the port cannot be bound.
 */
export async function serveRepository(o: ServeOptions): Promise<Serving> {
  let root: string;
  try {
    root = await realpath(o.repo);
    if (!(await stat(root)).isDirectory()) throw new Error('ENOTDIR');
  } catch (e) {
    throw new InputError(`--repo ${o.repo}: not a directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    void resolveRequest(root, req.url ?? '/').then(
      async (found) => {
        if (!found) {
          res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
          return;
        }
        if ('redirect' in found) {
          res.writeHead(301, { Location: found.redirect, 'Content-Type': 'text/plain; charset=utf-8' }).end('moved\n');
          return;
        }
        const { file } = found;
        const size = (await stat(file)).size;
        res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-cache' });
        if (req.method === 'HEAD') res.end();
        else
          createReadStream(file)
            .on('error', () => res.destroy())
            .pipe(res);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new InputError(`cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 0}: ${e.code ?? e.message}`)),
    );
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve);
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { server, url: `http://${host}:${a.port}/`, close: () => new Promise((r) => server.close(() => r())) };
}
