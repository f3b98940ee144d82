/**
 * `run` components through the real sandbox (whatever `--backend auto` picks here) on a minbase rootfs
 * made by mmdebstrap (built once per test cache): inputs at /src, outputs from /out, logs, --check
 * catching an output that depends on the job count, and a failing step.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
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
