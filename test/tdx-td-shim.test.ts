/** td-shim: payload-param hash vector of tdx.json, payload (bzImage) hash, TEE_INFO hash, CLI. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tdShimParamHash, tdShimPayloadHash, teeInfoHash, TD_SHIM_KERNEL_SIZE } from '../src/measure/tdx/td-shim.js';
import { tdxMrtd } from '../src/measure/tdx/mrtd.js';
import { replayEventLog } from '../src/formats/tcg-eventlog.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface ParamVector {
  id: string;
  input: { param: string; size: string };
  expected: { sha384: string };
}

const KERNEL = 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64';

describeShared('td-shim payload measurements', () => {
  const v = loadVectors<{ vectors: ParamVector[] }>('tdx').vectors.find((x) => x.id === 'td-shim-payload-param')!;

  it('payload-param hash vector', () => {
    expect(toHex(tdShimParamHash(v.input.param, Number(v.input.size)))).toBe(v.expected.sha384);
  });

  it('payload hash = SHA-384 of the bzImage zero-padded to KERNEL_SIZE', () => {
    const k = readFileSync(shared(KERNEL));
    const padded = Buffer.concat([k, Buffer.alloc(TD_SHIM_KERNEL_SIZE - k.length)]);
    expect(tdShimPayloadHash(k)).toEqual(createHash('sha384').update(padded).digest());
    expect(tdShimPayloadHash(k, 0x1000000)).not.toEqual(tdShimPayloadHash(k));
  });

  it('CLI --param/--kernel --json', async () => {
    const r = await cli(['measure', 'td-shim-payload', '--param', v.input.param, '--param-size', v.input.size, '--kernel', shared(KERNEL), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe('td-shim');
    expect(j.origin).toBe('predicted');
    expect(j.param.sha384).toBe(v.expected.sha384);
    expect(j.payload).toMatchObject({ kernelSize: TD_SHIM_KERNEL_SIZE, sha384: toHex(tdShimPayloadHash(readFileSync(shared(KERNEL)))) });
  });

  const errors: [string, string[], number, RegExp][] = [
    [
      'param longer than its region',
      ['--param', 'x'.repeat(20), '--param-size', '16'],
      1,
      /kernel parameter string is 20 bytes, larger than its 16-byte \(0x10\) region/,
    ],
    ['kernel larger than KERNEL_SIZE', ['--kernel', shared(KERNEL), '--kernel-size', '0x100000'], 1, /kernel is 8247232 bytes, larger than its 1048576-byte/],
    ['not a bzImage', ['--kernel', shared('fixtures/tdx/nonce.dat')], 1, /kernel: not a bzImage/],
    ['nothing to measure', [], 2, /give --kernel, --param and\/or --shim/],
    ['--tee-info without --shim', ['--param', 'a', '--tee-info', 'm.json'], 2, /--tee-info needs --shim/],
    ['bad size', ['--param', 'a', '--param-size', 'big'], 2, /--param-size: expected an integer/],
  ];
  for (const [name, args, code, re] of errors) {
    it(`one-line error: ${name}`, async () => {
      const r = await cli(['measure', 'td-shim-payload', ...args]);
      expect(r.code).toBe(code);
      expect(errorLine(r)).toMatch(re);
    });
  }
});

describeShared('TEE_INFO hash (td-shim-tee-info-hash)', () => {
  const manifest = {
    attributes: '0000000000000000',
    xfam: 'e718060000000000',
    mrconfigid: '00'.repeat(48),
    mrowner: '11'.repeat(48),
    mrownerconfig: '22'.repeat(48),
  };
  const image = readFileSync(shared('fixtures/tdx/gce-clean-example-2MiB.fd'));
  const { mrtd } = tdxMrtd(image, 'single');

  it('is SHA-384 of the 512-byte TDINFO_STRUCT whose RTMR0/RTMR1 hold one separator extend', () => {
    // the RTMR value is what replaying a one-event CCEL-style log (separator 00000000) gives
    const sep = createHash('sha384').update(Buffer.alloc(4)).digest();
    const rtmr = replayEventLog(
      [{ index: 1, offset: 0, pcrIndex: 1, type: 4, typeName: 'EV_SEPARATOR', digests: { sha384: sep.toString('hex') }, data: Buffer.alloc(4) }],
      { alg: 'sha384', map: 'ccel' },
    ).rtmr0!;
    const tdinfo = Buffer.concat([
      Buffer.from(manifest.attributes, 'hex'),
      Buffer.from(manifest.xfam, 'hex'),
      mrtd,
      Buffer.from(manifest.mrconfigid, 'hex'),
      Buffer.from(manifest.mrowner, 'hex'),
      Buffer.from(manifest.mrownerconfig, 'hex'),
      Buffer.from(rtmr, 'hex'),
      Buffer.from(rtmr, 'hex'),
      Buffer.alloc(96),
      Buffer.alloc(112),
    ]);
    expect(tdinfo.length).toBe(512);
    expect(teeInfoHash(manifest, mrtd)).toEqual(createHash('sha384').update(tdinfo).digest());
    expect(teeInfoHash(manifest, mrtd, 1)).not.toEqual(teeInfoHash(manifest, mrtd, 0));
  });

  it('CLI --shim --tee-info prints the image MRTD and the TEE_INFO hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-tdx-'));
    const m = join(dir, 'manifest.json');
    writeFileSync(m, JSON.stringify(manifest));
    const r = await cli(['measure', 'td-shim-payload', '--shim', shared('fixtures/tdx/gce-clean-example-2MiB.fd'), '--tee-info', m, '--json']);
    rmSync(dir, { recursive: true });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.shim.mrtd).toBe(toHex(mrtd));
    expect(j.teeInfoHash).toBe(toHex(teeInfoHash(manifest, mrtd)));
  });

  it('rejects a manifest field of the wrong size', () => {
    expect(() => teeInfoHash({ ...manifest, mrowner: '11' }, mrtd)).toThrow(/manifest mrowner: expected 48 bytes, got 1/);
  });
});

describe('td-shim CLI without shared/', () => {
  it('--param needs no fixture', async () => {
    const r = await cli(['measure', 'td-shim-payload', '--param', '']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`param:   ${createHash('sha384').update(Buffer.alloc(0x1000)).digest('hex')}\n`);
  });
});
