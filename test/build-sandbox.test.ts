/**
 * `run` components through the real sandbox (whatever `--backend auto` picks here) on a minbase rootfs
 * made by mmdebstrap (built once per test cache): inputs at /src, outputs from /out, logs, --check
 * catching an output that depends on the job count, and a failing step. A hostile step on every usable
 * backend cannot poison the cached rootfs or inputs, and a cache poisoned directly is noticed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { probeBackend } from '../src/build/sandbox/index.js';
import { parseGpt } from '../src/formats/gpt.js';
import { cli, errorLine } from './helpers/cli.js';
import { ESP_SCRIPT } from './helpers/esp.js';
import { ROOT } from './helpers/shared.js';

const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const env = { CVM_CACHE: CACHE };

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const usable = have('mmdebstrap') && (have('bwrap') || have('podman'));
if (!usable)
  process.stderr.write('\n*** SKIPPED "build: sandboxed run components": needs mmdebstrap and bwrap or podman (cvm-measure doctor --fix --for test) ***\n');
const suite = usable ? describe : describe.skip;

const RECIPE = `name: sandboxed
sourceDateEpoch: 1700000000
base: { suite: bookworm, variant: minbase }
inputs:
  msg: { file: msg.txt }
components:
  hello:
    type: run
    inputs: [msg]
    steps:
      - name: copy
        run: |
          test ! -w /src/msg
          tr a-z A-Z < /src/msg > /out/hello.txt
          printf '%s %s %s\\n' "$SOURCE_DATE_EPOCH" "$TZ" "$LC_ALL" >> /out/hello.txt
    outputs: [hello.txt]
  jobs:
    type: run
    steps:
      - run: echo "built with $JOBS jobs" > /out/jobs.txt
    outputs: [jobs.txt]
`;

function recipeDir(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sandboxed-'));
  writeFileSync(join(dir, 'r.yaml'), text);
  writeFileSync(join(dir, 'msg.txt'), 'hello from the sandbox\n');
  return dir;
}

suite('build: sandboxed run components', () => {
  it('runs steps with /src read-only and publishes /out; --check names the output that depends on JOBS', async () => {
    const dir = recipeDir(RECIPE);
    const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
    const r = await cli(['build', join(dir, 'r.yaml'), '--out', out, '--json', '--jobs', '2', '--rebuild'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { backend: string; components: { name: string; type: string }[] };
    expect(['docker', 'podman', 'bwrap', 'chroot']).toContain(j.backend);
    expect(readFileSync(join(out, 'hello.txt'), 'utf8')).toBe('HELLO FROM THE SANDBOX\n1700000000 UTC C.UTF-8\n');
    expect(readFileSync(join(out, 'jobs.txt'), 'utf8')).toBe('built with 2 jobs\n');
    expect(readFileSync(join(out, 'logs/build.log'), 'utf8')).toContain(`run hello copy in ${j.backend}`);
    const lock = JSON.parse(readFileSync(join(dir, 'r.lock.json'), 'utf8')) as { bases: { suite: string; sha256: string }[] };
    expect(lock.bases).toEqual([{ suite: 'bookworm', variant: 'minbase', include: [], sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

    // a lock-pinned base this cache does not have (the mirror moved on): rebuilt and re-pinned, with a warning
    const pinned = lock.bases[0]!.sha256;
    writeFileSync(join(dir, 'r.lock.json'), readFileSync(join(dir, 'r.lock.json'), 'utf8').replace(pinned, 'ab'.repeat(32)));
    const moved = await cli(['build', join(dir, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-'))], { env });
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toContain(
      `cvm-measure: warning: base bookworm/minbase: the mirror moved on since the lock (pinned abababababab…, built ${pinned.slice(0, 12)}…); re-pinned (--locked refuses this)`,
    );
    expect(readFileSync(join(dir, 'r.lock.json'), 'utf8')).toContain(pinned);

    const c = await cli(['build', join(dir, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--check', '--locked'], { env });
    expect(c.code).toBe(1);
    expect(errorLine(c)).toBe('cvm-measure: error: not reproducible: jobs.jobs.txt differ; jobs.jobs.txt: first difference at byte 0xb');
  }, 900_000);

  it('a failing step names the component, the step and its log', async () => {
    const dir = recipeDir(RECIPE.replace('test ! -w /src/msg', 'echo boom >&2; exit 3'));
    const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
    const r = await cli(['build', join(dir, 'r.yaml'), '--out', out], { env });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(`cvm-measure: error: component hello: copy failed (exit 3); log: ${join(out, 'logs/hello.log')}`);
    expect(readFileSync(join(out, 'logs/hello.log'), 'utf8')).toContain('boom');
  }, 900_000);

  it("the default recipe's esp component is reproducible under build --check (its own base: dosfstools, fdisk, mtools)", async () => {
    const esp = (parse(readFileSync(join(ROOT, 'recipes/default.yaml'), 'utf8')) as { components: { esp: object } }).components.esp;
    const dir = mkdtempSync(join(tmpdir(), 'sandboxed-esp-'));
    copyFileSync(ESP_SCRIPT, join(dir, 'esp-disk.sh'));
    writeFileSync(join(dir, 'uki.efi'), Buffer.alloc(300_000, 0x5a));
    const recipe = {
      name: 'esp',
      sourceDateEpoch: 1700000000,
      inputs: { 'uki-efi': { file: 'uki.efi' }, 'esp-disk': { file: 'esp-disk.sh' } },
      components: { esp },
    };
    writeFileSync(join(dir, 'r.yaml'), stringify(recipe));
    const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
    const r = await cli(['build', join(dir, 'r.yaml'), '--out', out, '--check', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { check: { identical: boolean } }).check.identical).toBe(true);
    expect(parseGpt(readFileSync(join(out, 'disk.img'))).diskGuid).toBe('5a1d0c0e-9b3e-4c8f-8e2d-3c7a6b1f0e01');
  }, 900_000);
});

/** Tries everything a step must not be able to do; each success is a line in /out/report.txt. */
const ATTACK = `name: attack
sourceDateEpoch: 1700000000
base: { suite: bookworm, variant: minbase }
inputs:
  msg: { file: msg.txt }
components:
  attack:
    type: run
    inputs: [msg]
    steps:
      - run: |
          r=/out/report.txt
          grep '^CapEff:' /proc/self/status > $r
          mount -o remount,rw,bind /usr 2>/dev/null && echo 'remounted /usr' >> $r || true
          mount -o remount,rw,bind /src 2>/dev/null && echo 'remounted /src' >> $r || true
          unshare -rm true 2>/dev/null && echo 'entered new namespaces' >> $r || true
          (echo planted > /usr/bin/planted) 2>/dev/null && echo 'planted /usr/bin/planted' >> $r || true
          chmod u+w /src/msg 2>/dev/null || true
          (echo poison >> /src/msg) 2>/dev/null && echo 'appended to /src/msg' >> $r || true
    outputs: [report.txt]
`;

const VICTIM = `name: victim
sourceDateEpoch: 1700000000
base: { suite: bookworm, variant: minbase }
components:
  victim:
    type: run
    steps:
      - run: if [ -e /usr/bin/planted ]; then cat /usr/bin/planted; exit 1; fi; echo clean > /out/victim.txt
    outputs: [victim.txt]
`;

const BACKENDS = ['docker', 'podman', 'bwrap', 'chroot'] as const;
const why = Object.fromEntries(await Promise.all(BACKENDS.map(async (b) => [b, await probeBackend(b)] as const)));
for (const b of BACKENDS) if (usable && why[b]) process.stderr.write(`\n*** SKIPPED hostile step on ${b}: ${why[b]} ***\n`);

suite('build: a hostile step cannot poison the cache', () => {
  it('on every usable backend it holds no capability, cannot remount or write /usr and /src, and the cached rootfs and input stay intact', async () => {
    const dir = recipeDir(ATTACK);
    const msg = readFileSync(join(dir, 'msg.txt'));
    const blob = join(CACHE, 'blobs/sha256', createHash('sha256').update(msg).digest('hex'));
    for (const b of BACKENDS.filter((n) => !why[n])) {
      const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
      const r = await cli(['build', join(dir, 'r.yaml'), '--out', out, '--backend', b, '--rebuild'], { env });
      expect(r.code, `${b}: ${r.stderr}`).toBe(0);
      expect(readFileSync(join(out, 'report.txt'), 'utf8'), b).toBe('CapEff:\t0000000000000000\n');
      expect(readFileSync(blob)).toEqual(msg);
    }
    const lock = JSON.parse(readFileSync(join(dir, 'r.lock.json'), 'utf8')) as { bases: { sha256: string }[] };
    expect(existsSync(join(CACHE, 'rootfs', lock.bases[0]!.sha256, 'usr/bin/planted'))).toBe(false);
  }, 900_000);

  it('an output that is a symlink, a FIFO or a hard link is refused', async () => {
    for (const [make, what] of [
      ['ln -s /etc/passwd /out/o', 'not a regular file'],
      ['mkfifo /out/o', 'not a regular file'],
      ['echo x > /out/p; ln /out/p /out/o', 'a hard link (2 names)'],
    ]) {
      const dir = recipeDir(VICTIM.replace('echo clean > /out/victim.txt', make!).replace('outputs: [victim.txt]', 'outputs: [o]'));
      const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
      const r = await cli(['build', join(dir, 'r.yaml'), '--out', out, '--rebuild'], { env });
      expect(r.code, r.stderr).toBe(1);
      expect(errorLine(r)).toBe(
        `cvm-measure: error: component victim: declared output o is ${what} in /out after the last step; log: ${join(out, 'logs/victim.log')}`,
      );
    }
  }, 900_000);

  it('a rootfs or input poisoned in the cache directly is noticed before the next build uses it', async () => {
    const dir = recipeDir(VICTIM);
    const first = await cli(['build', join(dir, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--rebuild'], { env });
    expect(first.code, first.stderr).toBe(0);
    const lock = JSON.parse(readFileSync(join(dir, 'r.lock.json'), 'utf8')) as { bases: { sha256: string }[] };
    // a private cache holding the locked base tarball, so poisoning it cannot disturb builds sharing CACHE
    const own = { CVM_CACHE: mkdtempSync(join(tmpdir(), 'sb-cache-')) };
    const baseSha = lock.bases[0]!.sha256;
    mkdirSync(join(own.CVM_CACHE, 'blobs/sha256'), { recursive: true });
    copyFileSync(join(CACHE, 'blobs/sha256', baseSha), join(own.CVM_CACHE, 'blobs/sha256', baseSha));
    cpSync(join(CACHE, 'bases'), join(own.CVM_CACHE, 'bases'), { recursive: true }); // which base a lock-less recipe reuses
    const warm = await cli(['build', join(dir, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--rebuild'], { env: own });
    expect(warm.code, warm.stderr).toBe(0);
    const rootfs = join(own.CVM_CACHE, 'rootfs', baseSha);
    writeFileSync(join(rootfs, 'usr/bin/planted'), 'planted by an earlier build\n');
    const out = mkdtempSync(join(tmpdir(), 'sb-out-'));
    const r = await cli(['build', join(dir, 'r.yaml'), '--out', out, '--rebuild', '--backend', why.bwrap ? 'auto' : 'bwrap'], { env: own });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `cvm-measure: warning: base rootfs ${rootfs} was altered since its extraction (/usr/bin/planted was added); extracted it again from the pinned tarball`,
    );
    expect(readFileSync(join(out, 'victim.txt'), 'utf8')).toBe('clean\n');
    expect(existsSync(join(rootfs, 'usr/bin/planted'))).toBe(false);

    // an input blob appended to in the cache: refused with a one-line error and removed, then fetched anew
    const attack = recipeDir(ATTACK);
    const msg = readFileSync(join(attack, 'msg.txt'));
    const sha = createHash('sha256').update(msg).digest('hex');
    const blob = join(own.CVM_CACHE, 'blobs/sha256', sha);
    const ok = await cli(['build', join(attack, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--rebuild'], { env: own });
    expect(ok.code, ok.stderr).toBe(0);
    chmodSync(blob, 0o644);
    appendFileSync(blob, 'poison\n');
    const bad = await cli(['build', join(attack, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--rebuild'], { env: own });
    expect(bad.code).toBe(1);
    expect(errorLine(bad)).toMatch(
      new RegExp(`^cvm-measure: error: input msg: cached blob ${sha} is corrupt \\(sha256 [0-9a-f]{64}\\); removed it, run again to fetch it anew$`),
    );
    expect(existsSync(blob)).toBe(false);
    const again = await cli(['build', join(attack, 'r.yaml'), '--out', mkdtempSync(join(tmpdir(), 'sb-out-')), '--rebuild'], { env: own });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(blob)).toEqual(msg);
  }, 900_000);
});
