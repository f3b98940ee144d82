/**
 * `verify --kds`: the VCEK (by chip id and REPORTED_TCB) and the ASK/ASVK + ARK chain of an SNP report
 * from AMD's Key Distribution Service (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS
 * Interface Specification", §4: GET /vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL= (Turin:
 * fmcSPL too, and an 8-byte hwid), GET /{vcek|vlek}/v1/{product}/cert_chain). Node-side, off by default,
 * never used by tests against the real service. Every answer is cached under the cache dir by product,
 * chip id and TCB (atomic writes) and parsed before it is kept; requests have a deadline and a size
 * limit, and VCEK requests are spaced (AMD's KDS allows about one per 10 s), across processes through a
 * time stamp in the cache. A VLEK is not served by the KDS: it comes from the report's certificate table.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCacheDir } from '../build/cache.js';
import { InputError } from '../errors.js';
import { decodeTcb, parseSnpReport, type SnpProduct, snpProduct } from '../formats/snp-report.js';
import { type Certificate, readCertificates } from '../formats/x509.js';
import { toHex } from '../util/bytes.js';
import { getBytes } from '../util/download.js';
import { exists, writeFileAtomic } from '../util/fs.js';
import { AMD_ARK_SHA256 } from './snp.js';
import { fingerprint } from './x509.js';

export const KDS_BASE_URL = 'https://kdsintf.amd.com';
const MAX_VCEK_BYTES = 16 << 10;
const MAX_CHAIN_BYTES = 64 << 10;

export interface KdsOptions {
  /** Milan, Genoa or Turin: needed for a v2 report (it names no CPU) unless a given certificate names it. */
  product?: SnpProduct;
  /** Tests only: a local server emulating the KDS endpoints. */
  baseUrl?: string;
  cacheDir?: string;
  /** Deadline of each request (default 30 s). */
  timeoutMs?: number;
  /** Least time between two VCEK requests (default 10 s). */
  vcekIntervalMs?: number;
  /** Progress lines (what is downloaded, what comes from the cache). */
  log?: (line: string) => void;
}

const PRODUCTS = Object.keys(AMD_ARK_SHA256) as SnpProduct[];

/** The product a certificate names (VCEK productName "Milan-B0", or a chain CN such as "SEV-Genoa" / "ARK-Turin"). */
function productOf(certs: readonly Certificate[]): SnpProduct | undefined {
  for (const c of certs) {
    const hit = PRODUCTS.find((p) => c.subject.commonName?.endsWith(`-${p}`) || AMD_ARK_SHA256[p] === fingerprint(c));
    if (hit) return hit;
  }
  return undefined;
}

/** Waits until `interval` ms have passed since the last VCEK request any process made with this cache, then stamps now. */
async function spaced(stamp: string, interval: number): Promise<void> {
  const last = Number((await exists(stamp)) ? await readFile(stamp, 'utf8') : 0) || 0;
  const wait = last + interval - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, interval)));
  await writeFileAtomic(stamp, String(Date.now()));
}

/** A cached file, or `fetch` it, check it parses, and keep it. */
async function cached(file: string, what: string, fetch: () => Promise<Uint8Array>, log: (l: string) => void): Promise<Certificate[]> {
  if (await exists(file)) {
    log(`kds: ${what} from the cache (${file})`);
    return readCertificates(new Uint8Array(await readFile(file)), file);
  }
  const bytes = await fetch();
  const certs = readCertificates(bytes, what);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFileAtomic(file, bytes);
  return certs;
}

/**
 * The certificates `report` (an SNP report's bytes) needs that `have` lacks: the chain to the ARK and,
 * for a VCEK-signed report, its VCEK.
 * @throws InputError when the product is unknown, a download fails (one line), or the chain's ARK is not AMD's.
 */
export async function kdsCertificates(report: Uint8Array, have: readonly Certificate[], o: KdsOptions = {}): Promise<Certificate[]> {
  const r = parseSnpReport(report);
  const product = o.product ?? snpProduct(r) ?? productOf(have);
  if (!product) throw new InputError('--kds: a v2 report does not name its CPU: give the product (--kds-product Milan|Genoa|Turin)');
  const base = (o.baseUrl ?? KDS_BASE_URL).replace(/\/$/, '');
  const log = o.log ?? (() => {});
  const get = { timeoutMs: o.timeoutMs ?? 30_000 };
  const kind = r.signingKey === 1 ? 'vlek' : 'vcek';
  const dir = join(o.cacheDir ?? join(defaultCacheDir(), 'kds'), kind, product);
  const out: Certificate[] = [];
  const names = new Set(have.map((c) => c.subject.commonName));
  if (!names.has(`ARK-${product}`) || !names.has(kind === 'vlek' ? `SEV-VLEK-${product}` : `SEV-${product}`)) {
    const url = `${base}/${kind}/v1/${product}/cert_chain`;
    const chain = await cached(
      join(dir, 'cert_chain.pem'),
      `${kind.toUpperCase()} chain of ${product}`,
      async () => {
        log(`kds: GET ${url}`);
        const bytes = new Uint8Array(await getBytes(url, 'KDS certificate chain', { ...get, maxBytes: MAX_CHAIN_BYTES }));
        if (!readCertificates(bytes, url).some((c) => fingerprint(c) === AMD_ARK_SHA256[product]))
          throw new InputError(`KDS certificate chain: ${url}: holds no ARK pinned for ${product}`);
        return bytes;
      },
      log,
    );
    out.push(...chain);
  }
  if (kind === 'vcek' && !names.has('SEV-VCEK')) {
    if (r.maskChipKey || r.chipId.every((b) => b === 0)) throw new InputError('--kds: the report masks its CHIP_ID, so its VCEK cannot be looked up');
    const hwId = toHex(r.chipId.subarray(0, product === 'Turin' ? 8 : 64));
    const t = decodeTcb(r.reportedTcb, product);
    const spl = (n: number) => String(n).padStart(2, '0');
    const query = `${t.fmc === undefined ? '' : `fmcSPL=${spl(t.fmc)}&`}blSPL=${spl(t.bootloader)}&teeSPL=${spl(t.tee)}&snpSPL=${spl(t.snp)}&ucodeSPL=${spl(t.microcode)}`;
    const url = `${base}/vcek/v1/${product}/${hwId}?${query}`;
    const vcek = await cached(
      join(dir, hwId, `${t.raw}.der`),
      `VCEK of chip ${hwId.slice(0, 16)}… at TCB ${t.raw}`,
      async () => {
        await mkdir(dir, { recursive: true });
        await spaced(join(dir, '..', '..', 'last-vcek-request'), o.vcekIntervalMs ?? 10_000);
        log(`kds: GET ${url}`);
        return new Uint8Array(await getBytes(url, 'KDS VCEK', { ...get, maxBytes: MAX_VCEK_BYTES }));
      },
      log,
    );
    out.push(...vcek);
  }
  return out;
}
