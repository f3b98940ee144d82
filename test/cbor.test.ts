import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { decodeCbor, encodeCbor, Tagged, type CborValue } from '../src/formats/cbor.js';
import { describeShared, shared } from './helpers/shared.js';

const hex = (v: CborValue) => Buffer.from(encodeCbor(v)).toString('hex');
const dec = (h: string, deterministic = false) => decodeCbor(Buffer.from(h, 'hex'), { deterministic });

describe('CBOR encoder (RFC 8949 Appendix A examples, §4.2.1 core deterministic)', () => {
  it.each([
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [18446744073709551615n, '1bffffffffffffffff'],
    [-1, '20'],
    [-1000, '3903e7'],
    [-18446744073709551616n, '3bffffffffffffffff'],
    [1.5, 'f93e00'],
    [100000.0 + 0.5, 'fa47c35040'],
    [1.1, 'fb3ff199999999999a'],
    [2 ** -24, 'f90001'],
    [Infinity, 'f97c00'],
    [NaN, 'f97e00'],
    [-4.1, 'fbc010666666666666'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [undefined, 'f7'],
    ['', '60'],
    ['IETF', '6449455446'],
    ['\u00fc', '62c3bc'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [new Tagged(1, 1363896240), 'c11a514b67b0'],
    [new Tagged(32, 'http://www.example.com'), 'd82076687474703a2f2f7777772e6578616d706c652e636f6d'],
  ] as [CborValue, string][])('%s → %s', (v, h) => {
    expect(hex(v)).toBe(h);
    const back = dec(h, true);
    if (typeof v === 'number' && Number.isNaN(v)) expect(Number.isNaN(back)).toBe(true);
    else expect(back).toEqual(v);
  });

  it('sorts map keys bytewise by their encoding (shorter first, ints before strings)', () => {
    const m = new Map<CborValue, CborValue>([
      ['b', 1],
      [100, 2],
      ['a', 3],
      [-1, 4],
      [10, 5],
      [[1], 6],
    ]);
    // 0a < 1864 < 20 < 61 61 < 61 62 < 81 01
    expect(hex(m)).toBe('a60a05186402200461610361620181' + '0106');
  });

  it("keeps a text string's leading U+FEFF (content, not a byte-order mark)", () => {
    expect(hex('\ufeffa')).toBe('64efbbbf61');
    expect(decodeCbor(encodeCbor('\ufeffa'))).toBe('\ufeffa');
  });

  it('refuses duplicate keys', () => {
    expect(() =>
      encodeCbor(
        new Map<CborValue, CborValue>([
          [1, 1],
          [1n, 2],
        ]),
      ),
    ).toThrow(FormatError);
  });
});

describe('CBOR strict decoder', () => {
  const bad: [string, string, boolean][] = [
    ['1817', 'non-shortest argument', true],
    ['5f42010243030405ff', 'indefinite-length', true],
    ['a2026161016162', 'map keys not sorted', true],
    ['fa3fc00000', 'float not in preferred', true],
    ['a201010102', 'duplicate map key', false],
    ['0000', 'trailing bytes', false],
    ['43010203'.slice(0, 6), 'truncated', false],
    ['9a7fffffff', 'truncated', false],
    ['62c328', 'not valid UTF-8', false],
    ['1c', 'reserved additional information', false],
    ['ff', 'unexpected break', false],
    ['f818', 'simple value 24 in two-byte form', false],
    ['5f6161ff', 'bad chunk', false],
    ['1f', 'indefinite length not allowed', false],
  ];
  it.each(bad)('%s: %s', (h, msg, detOnly) => {
    if (detOnly) {
      expect(() => dec(h, true)).toThrow(msg);
      expect(() => dec(h, false)).not.toThrow();
    } else {
      expect(() => dec(h, false)).toThrow(msg);
      expect(() => dec(h, true)).toThrow(FormatError);
    }
  });

  it('limits nesting depth', () => {
    const deep = Buffer.concat([Buffer.alloc(100, 0x81), Buffer.of(0x00)]);
    expect(() => decodeCbor(deep)).toThrow('nesting deeper than 64');
    expect(decodeCbor(deep, { maxDepth: 200 })).toBeDefined();
  });

  it('random and mutated inputs only ever raise FormatError', () => {
    // a fixed xorshift stream, so a failure is reproducible
    let x = 0x9e3779b9;
    const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
    const seed = encodeCbor(
      new Tagged(
        501,
        new Map<CborValue, CborValue>([
          [0, 'id'],
          [1, [new Tagged(506, new Uint8Array(40))]],
          [4, new Map([[1, new Tagged(1, 1893456000)]])],
        ]),
      ),
    );
    let failures = 0;
    for (let i = 0; i < 20000; i++) {
      const b = i % 2 ? Buffer.from(seed) : Buffer.alloc(1 + (rnd() % 64));
      if (i % 2) for (let j = 0; j < 1 + (rnd() % 4); j++) b[rnd() % b.length] = rnd() & 0xff;
      else for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
      try {
        decodeCbor(b, { deterministic: i % 3 === 0 });
      } catch (e) {
        failures++;
        expect(e).toBeInstanceOf(FormatError);
      }
    }
    expect(failures).toBeGreaterThan(10000);
  });

  it('decodes big and negative integers exactly', () => {
    expect(dec('c249010000000000000000')).toEqual(new Tagged(2, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0])));
    expect(dec('3b7fffffffffffffff')).toBe(-9223372036854775808n);
    expect(dec('1b001fffffffffffff')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('every error is a one-line FormatError naming the byte offset', () => {
    try {
      decodeCbor(Buffer.from('a2616101', 'hex'), { what: 'test doc' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      expect((e as Error).message).toBe('test doc: truncated: 4 bytes needed, 3 left at byte 1');
    }
  });
});

describeShared('CBOR decoder on third-party CoRIMs (shared/tools/corim: veraison, cocli, Trustee)', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.cbor')) files.push(p);
    }
  };
  walk(shared('tools/corim'));

  it('finds the test vectors', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  it('decodes every file, and re-encodes the deterministic ones byte for byte', () => {
    let deterministic = 0;
    let tags = 0;
    const rejected: string[] = [];
    for (const f of files) {
      const bytes = readFileSync(f);
      let v: CborValue;
      try {
        v = decodeCbor(bytes, { what: f });
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        rejected.push(f.slice(f.indexOf('tools/corim/')));
        continue;
      }
      // walk nested bstr .cbor CoMIDs (#6.506) too
      const visit = (x: CborValue): void => {
        if (x instanceof Tagged) {
          if (x.tag === 506 && x.value instanceof Uint8Array) {
            tags++;
            visit(decodeCbor(x.value, { what: `${f} CoMID` }));
          } else visit(x.value);
        } else if (Array.isArray(x)) x.forEach(visit);
        else if (x instanceof Map) for (const [k, y] of x) visit(k), visit(y);
      };
      visit(v);
      let strict = true;
      try {
        decodeCbor(bytes, { deterministic: true });
      } catch {
        strict = false;
      }
      if (strict) {
        deterministic++;
        expect(Buffer.from(encodeCbor(v)).equals(bytes), f).toBe(true);
      }
    }
    // that file went through a UTF-8 text conversion (every byte >= 0x80 became EF BF BD): not CBOR
    expect(rejected).toEqual(['tools/corim/cocli/data/corim/signed-corim-bad-signature.cbor']);
    expect(deterministic).toBeGreaterThan(0);
    expect(tags).toBeGreaterThan(0);
  });
});
