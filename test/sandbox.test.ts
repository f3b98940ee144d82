/**
 * Sandbox backends on a real minbase rootfs: exact env/umask/cwd/hostname, read-only rootfs and /src,
 * no network (a loopback server on the host must stay unreachable), exit codes and logs, and parity:
 * the same build script gives byte-identical outputs on every backend available here.
 */
import { createHash } from 'node:crypto';
import { createServer, connect, type Server } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError } from '../src/errors.js';
import { BACKEND_ORDER, probeBackend, sandboxEnv, selectSandbox, type BackendName, type Sandbox, type SandboxRun } from '../src/build/sandbox/index.js';
import { innerArgv, rootfsTopLevel, validateRun } from '../src/build/sandbox/common.js';
import { describeIf, rootfsUnavailable, testRootfs } from './sandbox.fixture.js';

const NAMES = BACKEND_ORDER.map((b) => b.name);
const why = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await probeBackend(n)] as const))) as Record<BackendName, string | undefined>;
const noRootfs = await rootfsUnavailable();
const available = NAMES.filter((n) => why[n] === undefined);

let rootfs = '';
let work = '';
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cvm-sandbox-test-'));
  if (noRootfs === undefined && available.length > 0) rootfs = (await testRootfs()).dir;
}, 900_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `script` with /src (read-only, holding input.txt), /build/t and /out; returns exit code, log and /out files' sha256. */
async function runScript(
  sb: Sandbox,
  script: string,
  over: Partial<SandboxRun> = {},
): Promise<{ exitCode: number; log: string; out: Record<string, string>; dir: string }> {
  const dir = await mkdtemp(join(work, `${sb.name}-`));
  for (const d of ['src', 'build', 'out']) await mkdir(join(dir, d));
  await writeFile(join(dir, 'src', 'input.txt'), 'pinned input\n');
  await writeFile(join(dir, 'build', 'step.sh'), script);
  const logFile = join(dir, 'log');
  const { exitCode } = await sb.run({
    rootfs,
    binds: [
      { source: join(dir, 'src'), target: '/src', writable: false },
      { source: join(dir, 'build'), target: '/build/t', writable: true },
      { source: join(dir, 'out'), target: '/out', writable: true },
    ],
    env: sandboxEnv({ sourceDateEpoch: 1_700_000_000, jobs: 2, home: '/build/t' }),
    argv: ['/bin/sh', '-eu', '/build/t/step.sh'],
    cwd: '/build/t',
    umask: 0o022,
    logFile,
    ...over,
  });
  const out: Record<string, string> = {};
  for (const f of (await readdir(join(dir, 'out'))).sort())
    out[f] = createHash('sha256')
      .update(await readFile(join(dir, 'out', f)))
      .digest('hex');
  return { exitCode, log: await readFile(logFile, 'utf8').catch(() => ''), out, dir };
}

async function listTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...(await listTree(root, p)));
  }
  return out.sort();
}

describe('selectSandbox', () => {
  it('auto takes the first backend in the order docker, podman, bwrap, chroot whose smoke test passed', async () => {
    if (available.length === 0) {
      await expect(selectSandbox('auto')).rejects.toThrow(/^no usable sandbox backend \(docker: .*; chroot: .*\)$/);
      return;
    }
    expect((await selectSandbox('auto')).name).toBe(available[0]);
  });
  it('an explicitly chosen backend that cannot run here is a one-line error naming it', async () => {
    const missing = NAMES.find((n) => why[n] !== undefined);
    if (!missing) return; // every backend works on this machine
    const err = await selectSandbox(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as Error).message).toBe(`sandbox backend ${missing}: ${why[missing]}`);
  });
  it('rejects an unknown backend name', async () => {
    await expect(selectSandbox('lxc' as BackendName)).rejects.toThrow(/unknown sandbox backend "lxc"/);
  });
});

describe('sandbox run validation (every backend)', () => {
  const ok: SandboxRun = {
    rootfs: '/nonexistent',
    binds: [{ source: '/tmp', target: '/out', writable: true }],
    env: { PATH: '/usr/bin' },
    argv: ['true'],
    cwd: '/out',
    umask: 0o022,
    logFile: '/dev/null',
  };
  it.each([
    [{ cwd: 'out' }, /cwd "out" is not a normalized absolute path/],
    [{ binds: [{ source: '/tmp', target: '/out/../etc', writable: true }] }, /bind target "\/out\/\.\.\/etc" is not a normalized absolute path/],
    [{ binds: [{ source: '/tmp', target: '/', writable: true }] }, /cannot bind over \//],
    [{ binds: [{ source: 'tmp', target: '/out', writable: true }] }, /bind source "tmp" must be absolute/],
    [
      {
        binds: [
          { source: '/a', target: '/out', writable: true },
          { source: '/b', target: '/out', writable: false },
        ],
      },
      /two binds on \/out/,
    ],
    [{ env: { 'BAD-NAME': 'x' } }, /invalid environment variable "BAD-NAME"/],
    [{ argv: [] }, /empty argv/],
    [{ umask: 0o1000 }, /umask 512 out of range/],
  ] as [Partial<SandboxRun>, RegExp][])('refuses %o', (over, re) => {
    expect(() => validateRun({ ...ok, ...over })).toThrow(re);
  });
  it('refuses a bind below a directory the base rootfs provides', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cvm-topl-'));
    await mkdir(join(root, 'usr'));
    await expect(rootfsTopLevel(root, { ...ok, rootfs: root, binds: [{ source: '/tmp', target: '/usr/src', writable: false }] })).rejects.toThrow(
      /bind target \/usr\/src lies under \/usr/,
    );
    await rm(root, { recursive: true });
  });
  it('runs the step through env -i with exactly the given variables, sorted, then umask and cwd', () => {
    expect(innerArgv({ ...ok, env: { B: '2', A: '1' }, umask: 0o027, argv: ['make', '-j2'] })).toEqual([
      '/usr/bin/env',
      '-i',
      'A=1',
      'B=2',
      '/bin/sh',
      '-c',
      'umask "$1" && cd "$2" && shift 2 && exec "$@"',
      'cvm-sandbox',
      '0027',
      '/out',
      'make',
      '-j2',
    ]);
  });
});

for (const name of NAMES) {
  describeIf(why[name] ?? noRootfs, `sandbox backend ${name}`, () => {
    let sb: Sandbox;
    let server: Server;
    let port = 0;
    let accepted = 0;
    beforeAll(async () => {
      sb = await selectSandbox(name);
      server = createServer((s) => {
        accepted++;
        s.end('hello\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

    it('gives the step exactly the fixed env, umask, cwd, hostname and uid 0', async () => {
      const r = await runScript(sb, 'env | sort > /out/env; umask > /out/umask; pwd > /out/cwd; hostname > /out/hostname; id -u > /out/uid; nproc >/dev/null', {
        umask: 0o027,
        hostname: 'check-host',
      });
      expect(r.exitCode, r.log).toBe(0);
      const env = (await readFile(join(r.dir, 'out', 'env'), 'utf8')).trim().split('\n');
      const expected = Object.entries(sandboxEnv({ sourceDateEpoch: 1_700_000_000, jobs: 2, home: '/build/t' })).map(([k, v]) => `${k}=${v}`);
      // sh itself adds PWD and OLDPWD; nothing else may appear (no container=, HOSTNAME=, TERM= ...)
      expect(env).toEqual([...expected, 'OLDPWD=/', 'PWD=/build/t'].sort());
      expect(await readFile(join(r.dir, 'out', 'umask'), 'utf8')).toBe('0027\n');
      expect(await readFile(join(r.dir, 'out', 'cwd'), 'utf8')).toBe('/build/t\n');
      expect(await readFile(join(r.dir, 'out', 'hostname'), 'utf8')).toBe('check-host\n');
      expect(await readFile(join(r.dir, 'out', 'uid'), 'utf8')).toBe('0\n');
    });

    it('keeps the base rootfs and /src read-only and the rootfs directory untouched', async () => {
      const before = await listTree(rootfs);
      const r = await runScript(
        sb,
        'for p in /usr/x /etc/x /src/x /x; do if touch $p 2>/dev/null; then echo "$p writable"; fi; done > /out/writable; touch /build/t/ok /out/ok /tmp/ok /var/tmp/ok',
      );
      expect(r.exitCode, r.log).toBe(0);
      expect(await readFile(join(r.dir, 'out', 'writable'), 'utf8')).toBe('');
      expect(await readdir(join(r.dir, 'build'))).toContain('ok');
      expect(await listTree(rootfs)).toEqual(before);
    });

    it('holds no capability and cannot raise one: remounts, new namespaces and writes to /usr, /src, / all fail', async () => {
      const before = await listTree(rootfs);
      const r = await runScript(
        sb,
        [
          "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status > /out/status",
          'for t in /usr /src /; do if mount -o remount,rw,bind $t 2>/dev/null; then echo "remounted $t"; fi; done > /out/escalated',
          "if unshare -rm sh -c 'mount -o remount,rw,bind /usr && touch /usr/planted' 2>/dev/null; then echo 'remounted /usr in a new user namespace'; fi >> /out/escalated",
          "if unshare -m true 2>/dev/null; then echo 'new mount namespace'; fi >> /out/escalated",
          'for p in /usr/planted /src/planted /planted; do if echo x 2>/dev/null > $p; then echo "wrote $p"; fi; done >> /out/escalated',
          // uid 0 is the host's root in some backends: host-wide sysctls must not even look writable
          'for p in /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches; do if test -w $p; then echo "$p writable"; fi; done >> /out/escalated',
        ].join('\n'),
      );
      expect(r.exitCode, r.log).toBe(0);
      const zero = '0000000000000000';
      expect(await readFile(join(r.dir, 'out', 'status'), 'utf8')).toBe(
        `CapInh:\t${zero}\nCapPrm:\t${zero}\nCapEff:\t${zero}\nCapBnd:\t${zero}\nCapAmb:\t${zero}\nNoNewPrivs:\t1\n`,
      );
      expect(await readFile(join(r.dir, 'out', 'escalated'), 'utf8')).toBe('');
      expect(await listTree(rootfs)).toEqual(before);
      expect(await readdir(join(r.dir, 'src'))).toEqual(['input.txt']);
    });

    it('a step that tries the network fails (a loopback server on the host is unreachable)', async () => {
      // Control: the server answers on the host, so a failure below is the sandbox's doing.
      const control = await new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        let data = '';
        s.on('data', (d) => (data += String(d)));
        s.on('end', () => resolve(data));
        s.on('error', reject);
      });
      expect(control).toBe('hello\n');
      const before = accepted;
      const r = await runScript(
        sb,
        `cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /out/ifaces\nexec 3<>/dev/tcp/127.0.0.1/${port}\necho connected`,
        { argv: ['/bin/bash', '-eu', '/build/t/step.sh'] },
      );
      expect(r.exitCode).not.toBe(0);
      expect(r.log).not.toContain('connected');
      expect(r.log).toMatch(/Connection refused|Network is unreachable|Cannot assign requested address/);
      expect(accepted).toBe(before);
      expect(await readFile(join(r.dir, 'out', 'ifaces'), 'utf8')).toBe('lo\n');
    });

    it('propagates the exit code and appends stdout and stderr to the log file', async () => {
      const r = await runScript(sb, 'echo to-stdout; echo to-stderr >&2; exit 7');
      expect(r.exitCode).toBe(7);
      expect(r.log).toContain('to-stdout\n');
      expect(r.log).toContain('to-stderr\n');
    });
  });
}

/** A small build: generated files (umask-dependent modes), sorted tar, newc cpio, gzip, a manifest. */
const PARITY_SCRIPT = `
mkdir -p tree/etc tree/bin tree/empty
printf 'hello %s\\n' "$(cat /src/input.txt)" > tree/etc/motd
date -u -d "@$SOURCE_DATE_EPOCH" '+%Y-%m-%dT%H:%M:%SZ' > tree/etc/build-date
printf '#!/bin/sh\\necho hi\\n' > tree/bin/hi && chmod 0755 tree/bin/hi
ln -s ../etc/motd tree/bin/motd
printf 'b\\na\\nB\\n_\\n' | sort > tree/etc/sorted
seq 1 2000 | xargs -n 50 echo > tree/etc/numbers
find tree -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C tree -cf /out/tree.tar .
(cd tree && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R 0:0) > /out/tree.cpio
gzip -n -9 < /out/tree.cpio > /out/tree.cpio.gz
(cd tree && find . -printf '%M %n %s %TY-%Tm-%Td %p\\n' | sort) > /out/listing
(cd /out && sha256sum tree.tar tree.cpio tree.cpio.gz listing) > /out/SHA256SUMS
`;

describeIf(available.length < 2 ? `backend parity needs two usable backends (have: ${available.join(', ') || 'none'})` : noRootfs, 'backend parity', () => {
  it(`the same build script gives identical outputs on ${available.join(', ')}`, async () => {
    const results: Record<string, Record<string, string>> = {};
    for (const name of available) {
      const r = await runScript(await selectSandbox(name), PARITY_SCRIPT);
      expect(r.exitCode, `${name}: ${r.log}`).toBe(0);
      results[name] = r.out;
    }
    const [first, ...rest] = available;
    expect(Object.keys(results[first!]!)).toEqual(['SHA256SUMS', 'listing', 'tree.cpio', 'tree.cpio.gz', 'tree.tar']);
    for (const n of rest) expect(results[n], `${n} vs ${first}`).toEqual(results[first!]);
  });
});
