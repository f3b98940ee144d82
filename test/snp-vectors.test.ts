/**
 * All cases of ../shared/vectors/snp.json (virtee/sev-snp-measure 0.0.13 outputs) through the library
 * and through the CLI. Each case's argv is sev-snp-measure's; `translate` maps it onto our flags and
 * library parameters. Error cases must fail with our one-line error naming the same problem; the one
 * documented divergence (no --vcpus: we default to 1) must equal the reference's 1-vCPU digest.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { CvmError } from '../src/errors.js';
import { snpFirmwareSeed, snpLaunchDigests, type LaunchParams } from '../src/measure/snp/launch.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface Case {
  id: string;
  argv: string[];
  expected: { exit_code: number; digest?: string; stderr_last_line?: string };
}
interface Vectors {
  inputs: Record<string, { path: string }>;
  cases: Case[];
}

/** The same problem, in our words: reference error line -> our exit code and message pattern (CLI and library). */
const SAME_PROBLEM: Record<string, { exit: number; pattern: RegExp }> = {
  "Error: Kernel specified but OVMF metadata doesn't include SNP_KERNEL_HASHES section": {
    exit: 1,
    pattern: /kernel was given but the firmware SEV metadata has no SNP_KERNEL_HASHES section/,
  },
  "Error: Kernel specified but OVMF doesn't support kernel/initrd/cmdline measurement": {
    exit: 1,
    pattern: /kernel was given but the firmware does not support measured direct boot: no SEV hash table/,
  },
  'sev-snp-measure: error: --kernel required when using --initrd': { exit: 2, pattern: /--initrd(\/--append)? requires? --kernel/ },
  "sev-snp-measure: error: missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode 'snp'": {
    exit: 2,
    pattern: /(--vcpu-type, --vcpu-sig or --vcpu-family|vCPU type, signature or family\/model\/stepping)/,
  },
  'AssertionError: SVSM mode is only implemented for Qemu.': { exit: 1, pattern: /SVSM launches are only defined for the qemu VMM, not ec2/ },
};
/** The CLI requires --vcpus too (exit 2); the library defaults to one vCPU (and reports it in `defaults`). */
const DEFAULTS_TO_ONE_VCPU = "sev-snp-measure: error: missing --vcpus N in guest mode 'snp'";

const REF_FLAGS = [
  '--mode',
  '--vcpus',
  '--vcpu-type',
  '--vcpu-sig',
  '--vcpu-family',
  '--vcpu-model',
  '--vcpu-stepping',
  '--vmm-type',
  '--ovmf',
  '--kernel',
  '--initrd',
  '--append',
  '--guest-features',
  '--output-format',
  '--snp-ovmf-hash',
  '--svsm',
  '--vars-size',
];

describeShared('SNP vectors (sev-snp-measure 0.0.13)', () => {
  const v = loadVectors<Vectors>('snp');
  const input = (ref: string) => shared(v.inputs[ref.slice(1)]!.path);

  /** sev-snp-measure argv -> flag map (every flag must be one we know how to translate). */
  function refArgs(c: Case): Map<string, string> {
    const m = new Map<string, string>();
    for (let i = 0; i < c.argv.length; i += 2) {
      const f = c.argv[i]!;
      if (!REF_FLAGS.includes(f)) throw new Error(`${c.id}: untranslated sev-snp-measure flag ${f}`);
      m.set(f, c.argv[i + 1]!);
    }
    return m;
  }

  function ourArgv(c: Case): string[] {
    const a = refArgs(c);
    const out = ['measure', 'snp'];
    for (const [f, val] of a) {
      if (f === '--mode') {
        if (val === 'snp:ovmf-hash') out.push('--print-seed');
        else out.push('--mode', { snp: 'snp', 'snp:svsm': 'snp', seves: 'sev-es', sev: 'sev' }[val]!);
      } else if (f === '--ovmf') out.push('--firmware', input(val));
      else if (f === '--vmm-type') out.push('--vmm', val);
      else if (f === '--snp-ovmf-hash') out.push('--seed', val);
      else out.push(f, val.startsWith('@') ? input(val) : val);
    }
    return out;
  }

  const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest();

  /** The same case as one library call; returns the digest as the case's output format would print it. */
  function library(c: Case): string {
    const a = refArgs(c);
    const encode = (d: Uint8Array) => (a.get('--output-format') === 'base64' ? Buffer.from(d).toString('base64') : toHex(d));
    const file = (f: string) => (a.has(f) ? readFileSync(input(a.get(f)!)) : undefined);
    const firmware = file('--ovmf')!;
    const mode = a.get('--mode')!;
    if (mode === 'snp:ovmf-hash') return encode(snpFirmwareSeed(firmware));
    const vcpu = a.has('--vcpu-type')
      ? { type: a.get('--vcpu-type')! }
      : a.has('--vcpu-sig')
        ? { signature: Number(a.get('--vcpu-sig')) }
        : a.has('--vcpu-family')
          ? { family: Number(a.get('--vcpu-family')), model: Number(a.get('--vcpu-model')), stepping: Number(a.get('--vcpu-stepping')) }
          : undefined;
    const hasBoot = a.has('--kernel') || a.has('--initrd') || a.has('--append');
    const p: LaunchParams = {
      firmware,
      mode: ({ snp: 'snp', 'snp:svsm': 'snp', seves: 'sev-es', sev: 'sev' } as const)[mode as 'snp'],
      ...(a.has('--vcpus') ? { vcpus: [Number(a.get('--vcpus'))] } : {}),
      vcpu,
      vmm: a.get('--vmm-type')?.toLowerCase() as LaunchParams['vmm'],
      guestFeatures: a.has('--guest-features') ? BigInt(a.get('--guest-features')!) : undefined,
      directBoot: hasBoot
        ? {
            kernelSha256: a.has('--kernel') ? sha256(input(a.get('--kernel')!)) : undefined,
            initrdSha256: a.has('--initrd') ? sha256(input(a.get('--initrd')!)) : undefined,
            cmdline: a.get('--append'),
          }
        : undefined,
      svsm: a.has('--svsm') ? { image: file('--svsm')!, varsSize: Number(a.get('--vars-size')) } : undefined,
      seed: a.has('--snp-ovmf-hash') ? Buffer.from(a.get('--snp-ovmf-hash')!, 'hex') : undefined,
    };
    const r = snpLaunchDigests(p);
    expect(r.digests.size).toBe(1);
    return encode([...r.digests.values()][0]!);
  }

  /** For the divergence: the vector with the same argv plus --vcpus 1. */
  function oneVcpuTwin(c: Case): Case {
    const want = JSON.stringify([...refArgs(c)].concat([['--vcpus', '1']]).sort());
    const twin = v.cases.find((x) => x.expected.exit_code === 0 && JSON.stringify([...refArgs(x)].sort()) === want);
    if (!twin) throw new Error(`${c.id}: no vector with the same parameters and --vcpus 1`);
    return twin;
  }

  it('has the 65 cases the issue names, each with a known expectation', () => {
    expect(v.cases.length).toBe(65);
    for (const c of v.cases) {
      if (c.expected.exit_code === 0) expect(c.expected.digest, c.id).toBeTruthy();
      else
        expect(
          SAME_PROBLEM[c.expected.stderr_last_line!] ?? (c.expected.stderr_last_line === DEFAULTS_TO_ONE_VCPU ? 'divergence' : undefined),
          c.id,
        ).toBeDefined();
    }
  });

  for (const c of loadVectors<Vectors>('snp').cases) {
    it(`library: ${c.id}`, () => {
      const line = c.expected.stderr_last_line;
      if (c.expected.exit_code === 0) {
        expect(library(c)).toBe(c.expected.digest);
      } else if (line === DEFAULTS_TO_ONE_VCPU) {
        expect(library(c)).toBe(oneVcpuTwin(c).expected.digest);
      } else {
        const want = SAME_PROBLEM[line!]!;
        let err: unknown;
        try {
          library(c);
        } catch (e) {
          err = e;
        }
        expect(err instanceof CvmError, `${c.id}: expected a CvmError, got ${String(err)}`).toBe(true);
        expect((err as Error).message).toMatch(want.pattern);
      }
    });

    it.concurrent(`cli: ${c.id}`, async () => {
      const r = await cli(ourArgv(c));
      const line = c.expected.stderr_last_line;
      if (line === DEFAULTS_TO_ONE_VCPU) {
        expect([r.code, errorLine(r), r.stdout]).toEqual([2, expect.stringMatching(/error: missing --vcpus: the digest differs per vCPU count/), '']);
      } else if (c.expected.exit_code === 0) {
        const digest = c.expected.digest;
        expect(r.stderr.includes('error'), r.stderr).toBe(false);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`${digest}\n`);
      } else {
        const want = SAME_PROBLEM[line!]!;
        expect(r.code).toBe(want.exit);
        expect(errorLine(r)).toMatch(want.pattern);
        expect(r.stdout).toBe('');
      }
    });
  }
});
