/**
 * HTTP(S) GET to a file, following redirects. TLS trusts Node's bundled roots plus NODE_EXTRA_CA_CERTS,
 * passed explicitly: the CLI bin hides that variable from Node's start-up, which in Node 20
 * parses the file eagerly (~40 ms for a distribution bundle) although only downloads need it.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { InputError } from '../errors.js';

const MAX_REDIRECTS = 10;

/** The extra CA certificates the user configured for Node (PEM), if any. */
function extraCa(): string[] | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch (e) {
    throw new InputError(`cannot read extra CA certificates ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export interface GetOptions {
  /** Gives up when the server has not answered (connect, headers, each read) or the whole transfer is not done within this many ms. */
  timeoutMs?: number;
  /** Refuses a body larger than this many bytes (by Content-Length, or while reading). */
  maxBytes?: number;
}

function request(url: URL, ca: string[] | undefined, o: GetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const opts = o.timeoutMs === undefined ? {} : { timeout: o.timeoutMs };
    const req = url.protocol === 'https:' ? httpsGet(url, { ca, ...opts }, resolve) : url.protocol === 'http:' ? httpGet(url, opts, resolve) : undefined;
    if (!req) return reject(new Error(`unsupported protocol ${url.protocol}`));
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
  });
}

/** GET `url` following redirects; returns the 200 response (body unread). */
async function open(url: string, what: string, ca: string[] | undefined, o: GetOptions): Promise<{ res: IncomingMessage; at: URL }> {
  let at = new URL(url);
  for (let hops = 0; ; hops++) {
    let res: IncomingMessage;
    try {
      res = await request(at, ca, o);
    } catch (e) {
      throw new InputError(`${what}: cannot fetch ${at.href}: ${(e as Error).message}`);
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops === MAX_REDIRECTS) throw new InputError(`${what}: ${url}: more than ${MAX_REDIRECTS} redirects`);
      at = new URL(res.headers.location, at);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new InputError(`${what}: ${at.href}: HTTP ${status}`);
    }
    return { res, at };
  }
}

/** Runs `work` under an overall deadline (o.timeoutMs): past it, `abort` is called and a one-line InputError is thrown. */
async function withDeadline<T>(what: string, url: string, o: GetOptions, work: (onAbort: (f: () => void) => void) => Promise<T>): Promise<T> {
  if (o.timeoutMs === undefined) return work(() => {});
  let abort = () => {};
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort();
      reject(new InputError(`${what}: ${url}: not complete within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
  });
  try {
    return await Promise.race([work((f) => (abort = f)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads `url` into memory with a deadline and a size limit; any failure is a one-line InputError naming `what`. */
export async function getBytes(url: string, what: string, o: GetOptions = {}): Promise<Buffer> {
  const ca = extraCa();
  return withDeadline(what, url, o, async (onAbort) => {
    const { res, at } = await open(url, what, ca, o);
    onAbort(() => res.destroy());
    const limit = o.maxBytes ?? Number.POSITIVE_INFINITY;
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      res.destroy();
      throw new InputError(`${what}: ${at.href}: ${declared} bytes, more than the limit of ${limit}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of res) {
        size += (c as Buffer).length;
        if (size > limit) {
          res.destroy();
          throw new InputError(`${what}: ${at.href}: more than the limit of ${limit} bytes`);
        }
        chunks.push(c as Buffer);
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${what}: ${at.href}: download interrupted: ${(e as Error).message}`);
    }
    return Buffer.concat(chunks);
  });
}

/** Downloads `url` to `dest` (mode 0600); any failure is a one-line InputError naming `what`. */
export async function download(url: string, dest: string, what: string, o: GetOptions = {}): Promise<void> {
  const ca = extraCa();
  await withDeadline(what, url, o, async (onAbort) => {
    const { res, at } = await open(url, what, ca, o);
    onAbort(() => res.destroy());
    try {
      await pipeline(res, createWriteStream(dest, { mode: 0o600 }));
    } catch (e) {
      throw new InputError(`${what}: ${at.href}: download interrupted: ${(e as Error).message}`);
    }
  });
}
