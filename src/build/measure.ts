/**
 * The recipe's `measure:` block, measured in-process on the built artifacts with the library functions
 * behind `cvm-measure measure snp|tdx|pcr --json`: measurements.json carries exactly the objects those
 * commands print for the artifacts (named by their paths relative to the output directory).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError, CvmError } from '../errors.js';
import type { MeasurementsDocument } from '../manifest/model.js';
import type { DirectBootFiles, NamedBytes } from '../measure/input.js';
import type { Measurement } from '../measure/measurement.js';
import { snpMeasurement } from '../measure/snp/report.js';
import type { Vmm } from '../measure/snp/vmm.js';
import { tdxMeasurement } from '../measure/tdx/report.js';
import { pcrMeasurement } from '../measure/tpm/report.js';
import { x509IssuedBy as issuedBy } from '../sign/x509.js';
import type { Artifact } from './types.js';
import type { MeasureSpec } from './recipe.js';
import { parseBigInt, parseCountList } from '../util/values.js';

export type MeasurementsFile = MeasurementsDocument & { artifacts: Artifact[] };

/** Measures the block in recipe order (snp per VMM and vCPU type, tdx, pcr per shape); each artifact is read once. */
export async function runMeasurements(m: MeasureSpec, artifacts: Artifact[], out: string): Promise<Measurement[]> {
  const read = new Map<string, Promise<NamedBytes>>();
  const file = (ref: string): Promise<NamedBytes> => {
    const a = artifacts.find((x) => x.name === ref);
    if (!a) throw new BuildError(`measure: no artifact ${ref}`);
    if (!read.has(ref))
      read.set(
        ref,
        readFile(join(out, a.path)).then((bytes) => ({ name: a.path, bytes })),
      );
    return read.get(ref)!;
  };
  const optional = async (ref: string | undefined) => (ref ? file(ref) : undefined);
  const required = (ref: string | undefined, what: string) => (ref ? file(ref) : Promise.reject(new BuildError(`measure: ${what}`)));
  const direct = async (s: { kernel?: string; initrd?: string; cmdline?: string }): Promise<DirectBootFiles> => ({
    kernel: await optional(s.kernel),
    initrd: await optional(s.initrd),
    cmdline: s.cmdline ? Buffer.from((await file(s.cmdline)).bytes).toString('utf8') : undefined,
  });
  const results: Measurement[] = [];
  const measure = async (kind: string, f: () => Promise<Measurement>) => {
    try {
      results.push(await f());
    } catch (e) {
      throw e instanceof CvmError && !(e instanceof BuildError) ? new BuildError(`measure: ${kind}: ${e.message}`) : e;
    }
  };
  if (m.snp) {
    const s = m.snp;
    // absent: the library's default VMM (recorded in the measurement's `defaults`); no vCPU type (qemu needs one)
    for (const vmm of (s.vmm ?? [undefined]) as (Vmm | undefined)[]) {
      for (const type of s.vcpuType ?? [undefined]) {
        await measure('snp', async () =>
          snpMeasurement(
            { firmware: await file(s.firmware), ...(await direct(s)) },
            {
              vmm,
              ...(type === undefined ? {} : { vcpu: { type } }),
              vcpus: parseCountList('measure.snp.vcpus', s.vcpus),
              guestFeatures: s.guestFeatures === undefined ? undefined : parseBigInt('measure.snp.guestFeatures', s.guestFeatures),
              ...(s.policy === undefined ? {} : { policy: parseBigInt('measure.snp.policy', s.policy) }),
            },
          ),
        );
      }
    }
  }
  if (m.tdx) {
    const t = m.tdx;
    await measure('tdx', async () => tdxMeasurement({ firmware: await file(t.firmware), ...(await direct(t)) }, { memMiB: t.memory }));
  }
  if (m.pcr) {
    const p = m.pcr;
    const banks = p.banks as ('sha1' | 'sha256' | 'sha384')[] | undefined;
    for (const shape of p.shapes) {
      await measure('pcr', async () =>
        shape === 'direct'
          ? pcrMeasurement(
              { shape, ...(await direct(p)), kernel: await required(p.kernel, 'pcr: shape direct needs kernel'), vars: await optional(p.vars) },
              { banks, memMiB: p.memory, issuedBy },
            )
          : pcrMeasurement(
              {
                shape,
                uki: await required(p.uki, 'pcr: shape uki needs uki'),
                gpt: p.disk === 'none' ? null : (await required(p.disk, 'pcr: shape uki needs disk (a component output, or none)')).bytes,
                vars: await optional(p.vars),
              },
              { banks, issuedBy },
            ),
      );
    }
  }
  return results;
}
