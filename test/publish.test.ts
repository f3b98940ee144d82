/**
 * The static reference-value repository end to end, with the built CLI: measure → manifest create →
 * publish → serve (127.0.0.1, random port) → fetch → verify; every refusal (tampered index or
 * manifest, a signed but wrong digest, rollback, wrong key, oversized response, a server that never
 * answers) is one line and writes nothing; kill -9 during publish never leaves a broken repository;
 * serve refuses path traversal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fetchRepository } from '../src/publish/fetch.js';
import { canonicalBytes, parseIndex, type RepositoryIndex, signIndex } from '../src/publish/repository.js';
import { generateKey, parsePrivateKey, parsePublicKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../src/sign/dsse.js';
import { cli, errorLine } from './helpers/cli.js';
import { serve } from './helpers/serve.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

const schema = (n: string) => new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, `schemas/${n}.schema.json`), 'utf8')));
const validIndex = schema('repository-index');
const validPublish = schema('publish');
const validFetch = schema('fetch');

/** Every file below `dir` with its bytes (to show that a refused fetch wrote nothing). */
const snapshot = (dir: string): Record<string, string> => {
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
};

/** A raw HTTP/1.1 request (paths as written, no client-side normalization): status line and body. */
function raw(url: string, method: string, path: string): Promise<{ status: number; head: string; body: string }> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const s = connect(Number(u.port), u.hostname, () => s.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => {
      const [head, body] = [data.slice(0, data.indexOf('\r\n\r\n')), data.slice(data.indexOf('\r\n\r\n') + 4)];
      res({ status: Number(head.split(' ')[1]), head, body });
    });
    s.on('error', rej);
  });
}

describeShared('publish / serve / fetch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-publish-'));
  const repo = join(dir, 'repo');
  const key = join(dir, 'repo.pem');
  const pub = join(dir, 'repo.pub.pem');
  const other = join(dir, 'other.pub.pem');
  const env = { CVM_CACHE: join(dir, 'cache') };
  const quote = shared('fixtures/tdx/cos-113-tdx-quote.dat');
  const servers: ChildProcess[] = [];
  let url = '';

  beforeAll(async () => {
    const k = generateKey('ecdsa-p256');
    writeFileSync(key, k.privatePem);
    writeFileSync(pub, k.publicPem);
    writeFileSync(other, generateKey('ecdsa-p256').publicPem);
    const fw = shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
    for (const [name, vcpus] of [
      ['snp', '1-4'],
      ['snp2', '1-2'],
    ] as const) {
      const m = await cli(['measure', 'snp', '--firmware', fw, '--vcpu-type', 'EPYC-v4', '--vcpus', vcpus, '--json']);
      expect(m.code, m.stderr).toBe(0);
      writeFileSync(join(dir, `${name}.json`), m.stdout);
      const c = await cli(['manifest', 'create', '--measurements', join(dir, `${name}.json`), '--key', key, '--out', join(dir, name)]);
      expect(c.code, c.stderr).toBe(0);
    }
    // the GCE TDX quote's own values, signed as stated values (as in verify-cli.test.ts)
    const v = JSON.parse((await cli(['verify', quote, '--json'])).stdout).values as { mrtd: string; rtmr: string[] };
    writeFileSync(
      join(dir, 'gce.yaml'),
      `schema: cvm-measure/stated-values/v1\nvalues:\n  - platform: tdx\n    origin: stated\n    source: GCE TDX quote of cos-113 (shared fixtures)\n    parameters: { vmm: gce }\n    mrtd: ${v.mrtd}\n    rtmr: { "1": ${v.rtmr[1]}, "2": ${v.rtmr[2]} }\n`,
    );
    const g = await cli(['manifest', 'create', '--values', join(dir, 'gce.yaml'), '--key', key, '--out', join(dir, 'gce')]);
    expect(g.code, g.stderr).toBe(0);
  });

  afterAll(() => {
    for (const s of servers) s.kill();
  });

  it('round trip: publish → serve → fetch → verify against the served repository', async () => {
    const p1 = await cli(['publish', join(dir, 'snp'), '--repo', repo, '--name', 'debian-12', '--version', '1', '--key', key, '--json']);
    expect(p1.code, p1.stderr).toBe(0);
    const j1 = JSON.parse(p1.stdout);
    expect(validPublish(j1), JSON.stringify(validPublish.errors)).toBe(true);
    expect(j1).toMatchObject({ unchanged: false, indexVersion: 1, path: 'releases/debian-12/1' });
    expect(j1.lookups).toHaveLength(4);
    cpSync(repo, join(dir, 'repo-v1'), { recursive: true });
    const p2 = await cli(['publish', join(dir, 'gce'), '--repo', repo, '--name', 'gce-cos', '--version', '113', '--key', key, '--json']);
    expect(JSON.parse(p2.stdout)).toMatchObject({ indexVersion: 2, lookups: [expect.stringMatching(/^by-measurement\/tdx\/[0-9a-f]{96}\.json$/)] });
    const index = readFileSync(join(repo, 'index.json'));
    expect(validIndex(JSON.parse(index.toString())), JSON.stringify(validIndex.errors)).toBe(true);
    expect(parseIndex(index).releases.map((r) => `${r.name}@${r.version}`)).toEqual(['debian-12@1', 'gce-cos@113']);

    const s = await serve(repo);
    servers.push(s.child);
    url = s.url;
    // the lookup names the release and its parameters
    const lookupPath = j1.lookups[3] as string;
    const lookup = await fetch(new URL(lookupPath, url));
    expect(lookup.headers.get('content-type')).toBe('application/json');
    expect(await lookup.json()).toMatchObject({
      platform: 'snp',
      releases: [{ name: 'debian-12', version: '1', parameters: { vcpus: 4, 'vcpu.type': 'EPYC-v4' } }],
    });

    const out = join(dir, 'fetched');
    const f = await cli(['fetch', url, '--trust', pub, '--out', out, '--json']);
    expect(f.code, f.stderr).toBe(0);
    const fj = JSON.parse(f.stdout);
    expect(validFetch(fj), JSON.stringify(validFetch.errors)).toBe(true);
    expect(fj).toMatchObject({ indexVersion: 2, downloaded: 12, cached: 0, releases: [{ name: 'debian-12' }, { name: 'gce-cos' }] });
    expect(readFileSync(join(out, 'releases/gce-cos/113/reference-values.intoto.json'))).toEqual(readFileSync(join(dir, 'gce/reference-values.intoto.json')));
    // again: everything from the digest cache
    const again = JSON.parse((await cli(['fetch', url, '--trust', pub, '--out', out, '--json'])).stdout);
    expect(again).toMatchObject({ downloaded: 0, cached: 12 });

    // verify --reference URL#release: fetched into the cache, then the release's signed reference values
    const ok = await cli(['verify', quote, '--reference', `${url}#gce-cos@113`, '--trust', pub, '--json'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).match).toEqual({
      platform: 'tdx',
      parameters: { vmm: 'gce' },
      origin: 'stated',
      source: 'GCE TDX quote of cos-113 (shared fixtures)',
    });
    // the SNP release loads too, but a TDX quote does not match it
    const no = await cli(['verify', quote, '--reference', `${url}#debian-12`, '--trust', pub, '--json'], { env });
    expect(no.code).toBe(1);
    expect(JSON.parse(no.stdout)).toMatchObject({ ok: false, checks: expect.arrayContaining([expect.objectContaining({ ok: false })]) });
    // a repository directory works the same way (default: the release published last)
    const local = await cli(['verify', quote, '--reference', repo, '--trust', pub], { env });
    expect(local.code, local.stderr).toBe(0);
    const wrongKey = await cli(['verify', quote, '--reference', url, '--trust', other], { env });
    expect([wrongKey.code, errorLine(wrongKey)]).toEqual([1, 'cvm-measure: error: index.intoto.json: DSSE: 0 of 1 trusted key(s) verified, threshold 1']);
  });

  it('a file name the signed index cannot hold is refused before anything is written', async () => {
    const out = join(dir, 'snp-odd-names');
    cpSync(join(dir, 'snp'), out, { recursive: true });
    writeFileSync(join(out, '_notes.yaml'), 'x: 1\n'); // passes the release-file filter, not the index's name rule
    const r2 = join(dir, 'repo-odd');
    const r = await cli(['publish', out, '--repo', r2, '--name', 'odd', '--version', '1', '--key', key]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/release files "_notes\.yaml": not names a release can hold/);
    expect(existsSync(join(r2, 'index.json'))).toBe(false);
  });

  it('reference values that are not a reference-values document are refused with the JSON path, not an internal error', async () => {
    const out = join(dir, 'snp-bad-values');
    cpSync(join(dir, 'snp'), out, { recursive: true });
    const k = localSigner(parsePrivateKey(readFileSync(key), key));
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'x', digest: { sha256: '0'.repeat(64) } }],
      predicateType: JSON.parse(Buffer.from(JSON.parse(readFileSync(join(out, 'reference-values.intoto.json'), 'utf8')).payload, 'base64').toString())
        .predicateType,
      predicate: { schema: 'cvm-measure/reference-values/v1' },
    };
    const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), [k]);
    writeFileSync(join(out, 'reference-values.intoto.json'), JSON.stringify(env));
    const r = await cli(['publish', out, '--repo', join(dir, 'repo-bad-values'), '--name', 'bad', '--version', '1', '--key', key]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/reference-values\.intoto\.json: .*(artifacts|snp|tdx|pcr)/);
  });

  it('published versions are immutable: same bytes is a no-op, other bytes an error', async () => {
    const before = readFileSync(join(repo, 'index.json'));
    const same = await cli(['publish', join(dir, 'snp'), '--repo', repo, '--name', 'debian-12', '--version', '1', '--key', key]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^unchanged: debian-12@1 /);
    const changed = await cli(['publish', join(dir, 'snp2'), '--repo', repo, '--name', 'debian-12', '--version', '1', '--key', key]);
    expect([changed.code, errorLine(changed)]).toEqual([
      1,
      'cvm-measure: error: debian-12@1 is already published with other contents: published versions are immutable (publish a new version)',
    ]);
    expect(readFileSync(join(repo, 'index.json'))).toEqual(before);
    const bad = await cli(['publish', join(dir, 'snp'), '--repo', repo, '--name', '../x', '--version', '1', '--key', key]);
    expect(bad.code).toBe(1);
    expect(errorLine(bad)).toContain('--name "../x": use 1-128 characters');
  });

  /** Copies the repository, lets `change` alter the copy, fetches it: one line, exit 1, nothing written. */
  async function refused(change: (copy: string) => void | Promise<void>, args: string[] = []): Promise<string> {
    const copy = mkdtempSync(join(dir, 'copy-'));
    cpSync(repo, copy, { recursive: true });
    await change(copy);
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const r = await cli(['fetch', copy, '--trust', pub, '--out', out, ...args]);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
    return errorLine(r).replace('cvm-measure: error: ', '');
  }

  it('refuses a tampered index, a tampered manifest, a signed wrong digest and a wrong key, writing nothing', async () => {
    expect(
      await refused((c) => {
        const i = JSON.parse(readFileSync(join(c, 'index.json'), 'utf8')) as RepositoryIndex;
        i.releases[0]!.files['reference-values.json']!.sha256 = '00'.repeat(32);
        writeFileSync(join(c, 'index.json'), canonicalBytes(i));
      }),
    ).toMatch(/^index\.json: sha256 [0-9a-f]{16}… is not the signed subject of index\.intoto\.json$/);
    expect(
      await refused((c) => {
        const f = join(c, 'releases/gce-cos/113/reference-values.json');
        writeFileSync(f, readFileSync(f, 'utf8').replace('gce', 'gcf'));
      }),
    ).toMatch(/^releases\/gce-cos\/113\/reference-values\.json: sha256 [0-9a-f]{16}… is not the signed [0-9a-f]{16}…$/);
    // an index signed by the repository key naming a wrong digest / size for an artifact
    const signer = localSigner(parsePrivateKey(readFileSync(key), key));
    for (const [field, want] of [
      ['sha256', /is not the signed/],
      ['size', /reference-values\.intoto\.json: .*more than the limit of 1$/],
    ] as const) {
      expect(
        await refused(async (c) => {
          const i = parseIndex(readFileSync(join(c, 'index.json')));
          const e = i.releases[1]!.files['reference-values.intoto.json']!;
          if (field === 'sha256') e.sha256 = 'ab'.repeat(32);
          else e.size = 1;
          const bytes = canonicalBytes(i);
          writeFileSync(join(c, 'index.intoto.json'), await signIndex(bytes, i.version, [signer]));
          writeFileSync(join(c, 'index.json'), bytes);
        }),
      ).toMatch(want);
    }
    const wrong = mkdtempSync(join(dir, 'w-'));
    const r = await cli(['fetch', repo, '--trust', other, '--out', join(wrong, 'o')]);
    expect([r.code, errorLine(r)]).toEqual([1, 'cvm-measure: error: index.intoto.json: DSSE: 0 of 1 trusted key(s) verified, threshold 1']);
    expect(existsSync(join(wrong, 'o'))).toBe(false);
    const two = await cli(['fetch', repo, '--trust', pub, '--trust', other, '--threshold', '2']);
    expect(errorLine(two)).toBe('cvm-measure: error: index.intoto.json: DSSE: 1 of 2 trusted key(s) verified, threshold 2');
  });

  it('refuses a rollback to an older index version, leaving --out as it was', async () => {
    const out = join(dir, 'fetched');
    const before = snapshot(out);
    const old = await serve(join(dir, 'repo-v1'));
    servers.push(old.child);
    const r = await cli(['fetch', old.url, '--trust', pub, '--out', out]);
    expect([r.code, errorLine(r)]).toEqual([1, 'cvm-measure: error: index.json: version 1 is older than version 2 already seen (rollback refused)']);
    expect(snapshot(out)).toEqual(before);
    // with a state file instead of --out
    const state = join(dir, 'state.json');
    expect((await cli(['fetch', repo, '--trust', pub, '--state', state])).code).toBe(0);
    const s = await cli(['fetch', join(dir, 'repo-v1'), '--trust', pub, '--state', state]);
    expect(errorLine(s)).toContain('rollback refused');
  });

  it('refuses an oversized response and a server that never answers, within the configured timeout', async () => {
    const hold: import('node:http').ServerResponse[] = [];
    const servers2: Server[] = [
      createServer((_req, res) => res.end(Buffer.alloc(5 << 20, 0x20))),
      createServer((_req, res) => {
        res.writeHead(200); // streamed, no Content-Length
        const chunk = Buffer.alloc(1 << 20, 0x20);
        let n = 0;
        const push = () => {
          while (n < 6 && res.write(chunk)) n++;
          if (n < 6) res.once('drain', push);
          else res.end();
        };
        push();
      }),
      createServer((_req, res) => void hold.push(res)),
    ];
    const urls = await Promise.all(
      servers2.map((s) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as { port: number }).port}/`)))),
    );
    try {
      for (const u of urls.slice(0, 2)) {
        const out = join(dir, `big-${Math.random()}`);
        const r = await cli(['fetch', u, '--trust', pub, '--out', out]);
        expect(r.code).toBe(1);
        expect(errorLine(r)).toMatch(
          /^cvm-measure: error: index\.json: http:\/\/127\.0\.0\.1:\d+\/index\.json: (5242880 bytes, )?more than the limit of 4194304( bytes)?$/,
        );
        expect(existsSync(out)).toBe(false);
      }
      const t0 = Date.now();
      const out = join(dir, 'slow');
      const r = await cli(['fetch', urls[2]!, '--trust', pub, '--out', out, '--timeout', '300']);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(
        /^cvm-measure: error: index\.json: (cannot fetch http:\/\/127\.0\.0\.1:\d+\/index\.json: no answer within 300 ms|http:\/\/127\.0\.0\.1:\d+\/index\.json: not complete within 300 ms)$/,
      );
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(existsSync(out)).toBe(false);
    } finally {
      for (const res of hold) res.destroy();
      for (const s of servers2) s.close();
    }
  });

  it('kill -9 at any point of a publish leaves the old or the new signed state, never a broken one', async () => {
    const kr = join(dir, 'killed');
    const pauses = { CVM_TEST_PAUSE_MS: '30' };
    const t0 = Date.now();
    expect((await cli(['publish', join(dir, 'snp'), '--repo', kr, '--name', 'r', '--version', '0', '--key', key], { env: pauses })).code).toBe(0);
    // kills spread from the start of the process to past the end of a whole publish
    const step = Math.ceil((Date.now() - t0) / 8);
    const trusted = [parsePublicKey(readFileSync(pub), pub)];
    let version = 1;
    const seen = { old: 0, new: 0, halfway: 0 };
    for (let i = 0; i < 16; i++) {
      const child = spawn(
        process.execPath,
        [resolve(ROOT, 'dist/cli/main.js'), 'publish', join(dir, i % 2 ? 'snp' : 'snp2'), '--repo', kr, '--name', 'r', '--version', `${i + 1}`, '--key', key],
        {
          stdio: 'ignore',
          env: { ...process.env, ...pauses },
        },
      );
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, i * step));
      child.kill('SIGKILL');
      await exited;
      // every file the index names is intact (fetch checks each digest), and its version did not go back
      const f = await fetchRepository(kr, { trusted });
      expect(f.indexVersion === version || f.indexVersion === version + 1, `kill after ${i * step} ms: index version ${f.indexVersion}, was ${version}`).toBe(
        true,
      );
      if (f.indexVersion > version) seen.new++;
      else {
        seen.old++;
        if (
          existsSync(join(kr, 'releases/r', `${i + 1}`)) ||
          (existsSync(join(kr, 'index.intoto.json')) && statSync(join(kr, 'index.intoto.json')).mtimeMs > statSync(join(kr, 'index.json')).mtimeMs)
        )
          seen.halfway++;
      }
      version = f.indexVersion;
    }
    process.stderr.write(`kill -9 outcomes: ${JSON.stringify(seen)}\n`);
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new + seen.halfway).toBeGreaterThan(0);
    // and the repository still takes a publish afterwards
    const p = await cli(['publish', join(dir, 'snp'), '--repo', kr, '--name', 'r', '--version', 'final', '--key', key, '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).indexVersion).toBe(version + 1);
    expect((await fetchRepository(kr, { trusted })).releases.at(-1)).toMatchObject({ version: 'final' });
    // what interrupted publishes left in staging is cleared by the next one
    expect(readdirSync(kr).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('serve: GET/HEAD only, no traversal, no dot files, no listings, no symbolic link out', async () => {
    mkdirSync(join(dir, 'secret'), { recursive: true });
    writeFileSync(join(dir, 'secret', 'key.txt'), 'secret');
    symlinkSync(join(dir, 'secret'), join(repo, 'link'));
    writeFileSync(join(repo, '.hidden.json'), '{}');
    try {
      const ok = await raw(url, 'GET', '/index.json');
      expect(ok.status).toBe(200);
      expect(ok.head).toMatch(/content-type: application\/json/i);
      expect(ok.body).toBe(readFileSync(join(repo, 'index.json'), 'utf8'));
      const head = await raw(url, 'HEAD', '/releases/debian-12/1/snp.corim.cbor');
      expect([head.status, head.body]).toEqual([200, '']);
      expect(head.head).toMatch(/content-type: application\/cbor/i);
      for (const p of [
        '/../secret/key.txt',
        '/%2e%2e/secret/key.txt',
        '/releases/..%2f..%2f..%2fsecret/key.txt',
        '/releases/../../secret/key.txt',
        '/link/key.txt',
        '/.hidden.json',
        '/releases/',
        '/%00',
        '/..\\secret\\key.txt',
      ]) {
        const r = await raw(url, 'GET', p);
        expect([p, r.status]).toEqual([p, 404]);
        expect(r.body).not.toContain('secret');
      }
      // a directory answers with the index.html publish wrote (and without the trailing slash, a redirect to it)
      const home = await raw(url, 'GET', '/');
      expect([home.status, home.body]).toEqual([200, readFileSync(join(repo, 'index.html'), 'latin1')]); // raw() reads bytes as latin1
      expect(home.head).toMatch(/content-type: text\/html; charset=utf-8/i);
      const bare = await raw(url, 'GET', '/releases/debian-12/1');
      expect(bare.status).toBe(301);
      expect(bare.head).toMatch(/\r\nlocation: \/releases\/debian-12\/1\/\r\n/i);
      expect((await raw(url, 'GET', '//releases//debian-12/1')).head).toMatch(/\r\nlocation: \/releases\/debian-12\/1\/\r\n/i);
      const post = await raw(url, 'POST', '/index.json');
      expect(post.status).toBe(405);
      expect(post.head).toMatch(/allow: GET, HEAD/i);
    } finally {
      rmSync(join(repo, 'link'));
      rmSync(join(repo, '.hidden.json'));
    }
  });
});
