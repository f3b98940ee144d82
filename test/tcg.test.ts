/** src/tcg: the one algorithm table, the EV_* table, the register maps and replay, against node:crypto by hand. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import {
  CC_MR_MAP,
  CC_MR_NAMES,
  CC_RTMR_MAP,
  ccMrToRtmr,
  digestSize,
  EVENT_TYPES,
  extendFromZero,
  hash,
  pcrToCcMr,
  registerName,
  replay,
  REPLAY_ALGS,
  TPM_ALGS,
  TPM_PCR_MAP,
  tpmAlg,
  typeName,
} from '../src/tcg/index.js';

const sha256 = (...b: Uint8Array[]) => createHash('sha256').update(Buffer.concat(b)).digest();

describe('src/tcg', () => {
  it('TPM_ALGS: ids, names and digest sizes (TCG Algorithm Registry); hashing matches node:crypto', () => {
    expect(Object.entries(TPM_ALGS).map(([id, a]) => [Number(id), a.name, a.size])).toEqual([
      [0x4, 'sha1', 20],
      [0xb, 'sha256', 32],
      [0xc, 'sha384', 48],
      [0xd, 'sha512', 64],
      [0x12, 'sm3_256', 32],
    ]);
    expect(tpmAlg(0x0c)).toEqual({ name: 'sha384', size: 48 });
    expect(tpmAlg(0x99)).toBeUndefined();
    for (const alg of REPLAY_ALGS) {
      const data = Buffer.from(`abc-${alg}`);
      expect(Buffer.from(hash(alg, data.subarray(0, 2), data.subarray(2))).toString('hex')).toBe(createHash(alg).update(data).digest('hex'));
      expect(hash(alg, data).length).toBe(digestSize(alg));
    }
  });

  it('EVENT_TYPES: one table both ways', () => {
    expect(EVENT_TYPES.EV_SEPARATOR).toBe(4);
    expect(typeName(0x80000003)).toBe('EV_EFI_BOOT_SERVICES_APPLICATION');
    expect(typeName(0x1234)).toBe('0x00001234');
    expect(new Set(Object.values(EVENT_TYPES)).size).toBe(Object.keys(EVENT_TYPES).length);
  });

  it('CC map: MR index 0 = MRTD, 1..4 = RTMR0..3; PCR1,7 → RTMR0, PCR2–6 → RTMR1, PCR8–15 → RTMR2', () => {
    expect(CC_MR_NAMES).toEqual(['MRTD', 'RTMR0', 'RTMR1', 'RTMR2', 'RTMR3']);
    expect([0, 1, 2, 3, 4, 5].map(ccMrToRtmr)).toEqual([undefined, 0, 1, 2, 3, undefined]);
    expect([0, 1, 2, 6, 7, 8, 15, 16].map(pcrToCcMr)).toEqual([0, 1, 2, 2, 1, 3, 3, undefined]);
    expect([0, 1, 2, 6, 7, 8, 15, 16].map((p) => CC_RTMR_MAP.map(p))).toEqual([undefined, 0, 1, 1, 0, 2, 2, undefined]);
    expect([0, 1, 4].map((i) => CC_MR_MAP.map(i))).toEqual([undefined, 0, 3]);
    expect([registerName('ccel', 0), registerName('ccel', 1), registerName('pcr', 7), registerName('pcr', 24)]).toEqual([null, 'rtmr0', '7', null]);
    // edk2 logs one ready-to-boot separator per RTMR: PCR2..6 separators collapse into RTMR1's first
    const sep = (pcr: number) => ({ pcr, type: 'EV_SEPARATOR', digests: {} });
    expect(CC_RTMR_MAP.select([0, 1, 2, 3, 4, 5, 6, 7].map(sep)).map((e) => e.pcr)).toEqual([1, 2]);
    expect(TPM_PCR_MAP.select([0, 1, 2, 24].map(sep)).map((e) => e.pcr)).toEqual([0, 1, 2]);
  });

  it('replay: H(old || new) from zero, through either map', () => {
    const d1 = sha256(Buffer.from('one'));
    const d2 = sha256(Buffer.from('two'));
    const events = [
      { pcr: 7, type: 'EV_EFI_VARIABLE_DRIVER_CONFIG', digests: { sha256: d1 } },
      { pcr: 7, type: 'EV_SEPARATOR', digests: { sha256: d2 } },
    ];
    const want = sha256(sha256(Buffer.alloc(32), d1), d2).toString('hex');
    expect(Buffer.from(replay(events, TPM_PCR_MAP, 'sha256').get(7)!).toString('hex')).toBe(want);
    expect(Buffer.from(replay(events, CC_RTMR_MAP, 'sha256', [0, 1, 2]).get(0)!).toString('hex')).toBe(want);
    expect(Buffer.from(replay(events, CC_RTMR_MAP, 'sha256', [0, 1, 2]).get(1)!).toString('hex')).toBe('00'.repeat(32));
    expect(Buffer.from(extendFromZero('sha256', [d1, d2])).toString('hex')).toBe(want);
    expect(() => replay(events, TPM_PCR_MAP, 'sha384')).toThrow(/has no sha384 digest/);
  });

  it('replays a tiny synthetic crypto-agile log (StartupLocality 3 seeds PCR0) to the hand-computed values', () => {
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const u16 = (n: number) => {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(n);
      return b;
    };
    const specId = Buffer.concat([Buffer.from('Spec ID Event03\0', 'latin1'), u32(0), Buffer.from([0, 2, 0, 2]), u32(1), u16(0x0b), u16(32), Buffer.from([0])]);
    const header = Buffer.concat([u32(0), u32(3), Buffer.alloc(20), u32(specId.length), specId]);
    const ev2 = (pcr: number, type: number, digest: Buffer, data: Buffer) =>
      Buffer.concat([u32(pcr), u32(type), u32(1), u16(0x0b), digest, u32(data.length), data]);
    const locality = Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([3])]);
    const crtm = sha256(Buffer.from('crtm'));
    const sep = sha256(Buffer.alloc(4));
    const log = parseEventLog(
      Buffer.concat([
        header,
        ev2(0, 0x3, Buffer.alloc(32), locality),
        ev2(0, 0x8, crtm, Buffer.from('crtm')),
        ev2(0, 0x4, sep, Buffer.alloc(4)),
        ev2(7, 0x4, sep, Buffer.alloc(4)),
      ]),
    );
    expect(log.algorithms).toEqual(['sha256']);
    const pcr0 = Buffer.alloc(32);
    pcr0[31] = 3;
    expect(replayEventLog(log.events, { alg: 'sha256', map: 'pcr' })).toEqual({
      '0': sha256(sha256(pcr0, crtm), sep).toString('hex'),
      '7': sha256(Buffer.alloc(32), sep).toString('hex'),
    });
    // the same events read as a CCEL log: index 0 is MRTD (skipped), index 7 is no RTMR
    expect(() => replayEventLog(log.events, { alg: 'sha256', map: 'ccel' })).toThrow(/targets index 7, which is not an extendable RTMR/);
  });
});
