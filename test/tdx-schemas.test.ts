/** The --json outputs of the TDX and event-log commands validate against their JSON Schemas (ajv). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

function validator(name: string) {
  const ajv = new Ajv({ strict: true, allErrors: true });
  return ajv.compile(JSON.parse(readFileSync(resolve(ROOT, 'schemas', name), 'utf8')) as object);
}

async function jsonOf(args: string[]): Promise<unknown> {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describeShared('JSON Schemas of measure tdx, measure td-shim-payload, eventlog replay', () => {
  const fw = shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');

  it('tdx-measure.schema.json: MRTD only, and with --kernel/--initrd/--append', async () => {
    const validate = validator('tdx-measure.schema.json');
    for (const args of [
      ['measure', 'tdx', '--firmware', fw, '--page-order', 'two-pass'],
      [
        'measure',
        'tdx',
        '--firmware',
        fw,
        '--kernel',
        shared('fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64'),
        '--initrd',
        shared('fixtures/pcr/initrd-a.cpio'),
        '--append',
        'console=hvc0',
        '--qemu-version',
        '10.2',
      ],
    ]) {
      const j = await jsonOf(args);
      expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(validate({ kind: 'tdx', mrtd: 'zz' })).toBe(false);
  });

  it('tdx-td-shim-payload.schema.json', async () => {
    const validate = validator('tdx-td-shim-payload.schema.json');
    const dir = mkdtempSync(join(tmpdir(), 'cvm-tdx-'));
    const m = join(dir, 'm.json');
    writeFileSync(
      m,
      JSON.stringify({
        attributes: '00'.repeat(8),
        xfam: '00'.repeat(8),
        mrconfigid: '00'.repeat(48),
        mrowner: '00'.repeat(48),
        mrownerconfig: '00'.repeat(48),
      }),
    );
    const j = await jsonOf([
      'measure',
      'td-shim-payload',
      '--kernel',
      shared('fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64'),
      '--param',
      'console=hvc0',
      '--shim',
      shared('fixtures/tdx/gce-clean-example-2MiB.fd'),
      '--tee-info',
      m,
    ]);
    rmSync(dir, { recursive: true });
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
  });

  it('eventlog-replay.schema.json: CCEL with --explain, and a TPM log', async () => {
    const validate = validator('eventlog-replay.schema.json');
    for (const args of [
      ['eventlog', 'replay', shared('fixtures/tdx/ccel_data.dat'), '--ccel-table', shared('fixtures/tdx/ccel_table.dat'), '--explain'],
      ['eventlog', 'replay', shared('fixtures/pcr/uki-6.1-m1024.eventlog.bin')],
    ]) {
      const j = await jsonOf(args);
      expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    }
  });
});
