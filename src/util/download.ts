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

function request(url: URL, ca: string[] | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (url.protocol === 'https:') httpsGet(url, { ca }, resolve).on('error', reject);
    else if (url.protocol === 'http:') httpGet(url, resolve).on('error', reject);
    else reject(new Error(`unsupported protocol ${url.protocol}`));
  });
}

/** Downloads `url` to `dest` (mode 0600); any failure is a one-line InputError naming `what`. */
export async function download(url: string, dest: string, what: string): Promise<void> {
  const ca = extraCa();
  let at = new URL(url);
  for (let hops = 0; ; hops++) {
    let res: IncomingMessage;
    try {
      res = await request(at, ca);
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
    try {
      await pipeline(res, createWriteStream(dest, { mode: 0o600 }));
    } catch (e) {
      throw new InputError(`${what}: ${at.href}: download interrupted: ${(e as Error).message}`);
    }
    return;
  }
}
