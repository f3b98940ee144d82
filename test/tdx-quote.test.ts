/** TDX quote v4/v5 → TD report body, against the hardware-signed GCE quote of tdx.json. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseTdxQuote } from '../src/formats/tdx-quote.js';
import { FormatError } from '../src/errors.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';

interface ReplayVector {
  id: string;
  expected: { rtmr: string[]; mrtd: string; tdattributes: string; xfam: string };
}

describeShared('TDX quote parsing (GCE COS 113 quote v4)', () => {
  const v = loadVectors<{ vectors: ReplayVector[] }>('tdx').vectors.find((x) => x.id === 'gce-cos113-ccel-replay')!;
  const quote = readFileSync(shared('fixtures/tdx/cos-113-tdx-quote.dat'));

  it('reads MRTD, RTMR0..3, TD attributes, XFAM and report data (= nonce.dat)', () => {
    const q = parseTdxQuote(quote);
    expect(q.version).toBe(4);
    expect(q.teeType).toBe(0x81);
    expect(q.body.mrTd).toBe(v.expected.mrtd);
    expect(q.body.rtmr).toEqual(v.expected.rtmr);
    expect(q.body.tdAttributes).toBe(v.expected.tdattributes);
    expect(q.body.xfam).toBe(v.expected.xfam);
    expect(q.body.reportData).toBe(readFileSync(shared('fixtures/tdx/nonce.dat')).toString('hex'));
    expect(48 + 584 + 4 + q.signatureDataLength).toBeLessThanOrEqual(quote.length);
  });

  it('v5 with a TD report 1.0 body descriptor reads the same body; 1.5 adds TEE_TCB_SVN2 and MRSERVICETD', () => {
    const desc = (type: number, size: number) => {
      const d = Buffer.alloc(6);
      d.writeUInt16LE(type, 0);
      d.writeUInt32LE(size, 2);
      return d;
    };
    const header = Buffer.from(quote.subarray(0, 48));
    header.writeUInt16LE(5, 0);
    const body = quote.subarray(48, 48 + 584);
    const rest = quote.subarray(48 + 584);
    const v5 = parseTdxQuote(Buffer.concat([header, desc(2, 584), body, rest]));
    expect(v5.version).toBe(5);
    expect(v5.bodyType).toBe(2);
    expect(v5.body).toEqual(parseTdxQuote(quote).body);
    const extra = Buffer.alloc(64, 0x5a);
    const v15 = parseTdxQuote(Buffer.concat([header, desc(3, 648), body, extra, rest]));
    expect(v15.body.mrTd).toBe(v.expected.mrtd);
    expect(v15.body.mrServiceTd).toBe('5a'.repeat(48));
  });

  const broken: [string, (q: Buffer) => Buffer, RegExp][] = [
    ['too short for the header', (q) => q.subarray(0, 20), /too short for the 48-byte quote header/],
    ['unsupported version', (q) => (q.writeUInt16LE(3, 0), q), /version 3 is not supported/],
    ['an SGX quote', (q) => (q.writeUInt32LE(0, 4), q), /TEE type 0x0 is not TDX .*SGX/],
    ['truncated body', (q) => q.subarray(0, 300), /truncated: 300 bytes/],
    ['signature length past the end', (q) => q.subarray(0, 1000), /signature data length \d+ runs past the end of the 1000-byte quote/],
  ];
  for (const [name, f, re] of broken) {
    it(`rejects ${name} (FormatError, one line)`, () => {
      let err: unknown;
      try {
        parseTdxQuote(f(Buffer.from(quote)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    });
  }
});
