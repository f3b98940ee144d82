/** Measure outputs constructed for tests that need their shape, not a real measurement. */
import { createHash } from 'node:crypto';
import { componentOf } from '../../src/formats/eventlog-components.js';
import { parseEventLog } from '../../src/formats/tcg-eventlog.js';
import type { SnpMeasurementJson } from '../../src/measure/measurement.js';
import type { ExpectedEvent } from '../../src/measure/tpm/eventlog-diff.js';

/** A `measure snp` output for the Debian OVMF (fields as printed; the firmware description shortened), with `over` replacing fields. */
export function snpOutput(digests: Record<string, string>, over: Partial<SnpMeasurementJson> = {}): SnpMeasurementJson {
  return {
    kind: 'snp',
    origin: 'predicted',
    mode: 'snp',
    vmm: 'qemu',
    digests,
    vcpu: { type: 'EPYC-v4', signature: '0x800f12' },
    guestFeatures: '0x1',
    policy: null,
    quirks: { ec2Rdx: '0x600', qemuFpu: 'sev-init2', vmsaGpaBits: 48 },
    vmsa: null,
    measuredSections: [],
    firmware: { path: '/x/OVMF.fd', sha256: 'cd'.repeat(32) } as SnpMeasurementJson['firmware'],
    directBoot: null,
    svsm: null,
    seed: null,
    seedProvided: false,
    warnings: [],
    defaults: {},
    reference: 'virtee/sev-snp-measure 0.0.13',
    ...over,
  };
}

/**
 * CONSTRUCTED: a `measure pcr --json`-shaped prediction of a real TCG2 log in which the kernel event
 * (GRUB's EV_IPL naming /vmlinuz-…) has another digest, as if the release had been built with another
 * kernel. Its PCR values are extended here with node:crypto, independently of src/tcg.
 */
export function changedKernelPrediction(log: Uint8Array): {
  kind: 'pcr';
  pcrs: Record<string, Record<string, string>>;
  events: ExpectedEvent[];
  kernelEvent: number;
} {
  const parsed = parseEventLog(log);
  const banks = ['sha1', 'sha256', 'sha384'] as const;
  const kernel = parsed.events.find((e) => e.typeName === 'EV_IPL' && componentOf(e) === 'kernel')!;
  const events: ExpectedEvent[] = parsed.events
    .filter((e) => e.typeName !== 'EV_NO_ACTION')
    .map((e) => ({
      pcr: e.pcrIndex,
      type: e.typeName,
      component: componentOf(e),
      digests: Object.fromEntries(
        banks.map((b) => [b, e === kernel ? createHash(b).update('another kernel').digest('hex') : e.digests[b]!]),
      ) as ExpectedEvent['digests'],
    }));
  const pcrs: Record<string, Record<string, string>> = {};
  for (const b of banks) {
    const regs: Record<string, Buffer> = {};
    for (const e of events) {
      const old = regs[e.pcr] ?? Buffer.alloc(createHash(b).digest().length);
      regs[e.pcr] = createHash(b).update(old).update(Buffer.from(e.digests[b]!, 'hex')).digest();
    }
    pcrs[b] = Object.fromEntries(Object.entries(regs).map(([i, v]) => [i, v.toString('hex')]));
  }
  return { kind: 'pcr', pcrs, events, kernelEvent: kernel.index };
}
