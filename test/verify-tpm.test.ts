/**
 * TPM event-log verification on a real log (GCE, Ubuntu 24.04, SEV-SNP guest) with the PCR values read
 * on that boot: the replay reproduces them, a changed value or a changed event fails naming the PCR and
 * the events that extended it, and a reference set is matched.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePcrValues, verifyTpmEventLog } from '../src/verify/tpm.js';
import { changedKernelPrediction } from './helpers/measurements.js';
import { describeShared, shared } from './helpers/shared.js';

describeShared('verify: a real TPM event log against its PCR values', () => {
  const dir = 'fixtures/evidence/tpm-ubuntu2404-sevsnp-gce-go-tpm-tools';
  const log = new Uint8Array(readFileSync(shared(dir, 'eventlog.bin')));
  const pcrs = parsePcrValues(readFileSync(shared(dir, 'pcrs.json'), 'utf8'), 'pcrs.json');
  const facts = JSON.parse(readFileSync(shared(dir, 'facts.json'), 'utf8')) as {
    eventlog: { num_events: number };
    replayed_pcrs: Record<string, Record<string, string>>;
  };

  it('replays to the given PCRs in every bank given, and to the independently replayed values', () => {
    const r = verifyTpmEventLog(log, { pcrs });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.values.events).toBe(facts.eventlog.num_events);
    const replayed = r.values.pcrs as Record<string, Record<string, string>>;
    for (const bank of Object.keys(pcrs)) expect(replayed[bank]).toEqual(facts.replayed_pcrs[bank]);
  });

  it('a changed PCR value fails', () => {
    const bad = { ...pcrs, sha256: { ...pcrs.sha256, '4': '00'.repeat(32) } };
    expect(
      verifyTpmEventLog(log, { pcrs: bad })
        .checks.filter((c) => !c.ok)
        .map((c) => c.name),
    ).toEqual(['sha256 PCR4: the log replays to the given value']);
  });

  it('matches a reference set, and names the PCR and its events when a predicted value differs', () => {
    const entry = {
      parameters: { 'boot.shape': 'gce' },
      banks: { sha256: { '4': pcrs.sha256!['4']!, '9': pcrs.sha256!['9']! } },
      notPredicted: {},
      inputs: {},
    };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [], tdx: [], pcr: [entry] };
    expect(verifyTpmEventLog(log, { pcrs, reference }).match).toEqual({ platform: 'pcr', parameters: { 'boot.shape': 'gce' } });
    const other = { ...reference, pcr: [{ ...entry, banks: { sha256: { ...entry.banks.sha256, '4': 'ab'.repeat(32) } } }] };
    const r = verifyTpmEventLog(log, { pcrs, reference: other });
    expect(r.ok).toBe(false);
    const failed = r.checks.filter((c) => !c.ok);
    expect(failed[0]!.name).toMatch(/^sha256 PCR4 equals the reference \(extended by events \d+ EV_EFI_ACTION, .*EV_EFI_BOOT_SERVICES_APPLICATION/);
    expect(failed[1]!.name).toBe('the replayed PCRs match a reference entry');
  });

  it('only given PCR values count: a reference PCR left out of them cannot match, and PCRs the log does not extend check nothing', () => {
    const entry = { parameters: { 'boot.shape': 'gce' }, banks: { sha256: { '4': pcrs.sha256!['4']! } }, notPredicted: {}, inputs: {} };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [], tdx: [], pcr: [entry] };
    // PCR4 left out of the given values: its replay is unauthenticated, so it proves nothing
    const { '4': _, ...without4 } = pcrs.sha256!;
    const r = verifyTpmEventLog(log, { pcrs: { sha256: without4 }, reference });
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name.startsWith('sha256 PCR4 equals the reference'))?.actual).toBe('not among the given PCR values');
    // a PCR the log never extends: nothing in the log is checked
    const none = verifyTpmEventLog(log, { pcrs: { sha256: { '23': '00'.repeat(32) } } });
    expect(none.ok).toBe(false);
    expect(none.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['the given PCR values cover PCRs the log extends']);
    // a firmware PCR (0-7) given, which the log does not account for
    const truncated = verifyTpmEventLog(log, { pcrs: { sha256: { ...pcrs.sha256, '6': 'cd'.repeat(32) } } });
    expect(truncated.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['sha256 PCR6: the log replays to the given value']);
  });
});

describeShared('verify: diagnosis of a TPM log against the release prediction (eventlog diff)', () => {
  const dir = 'fixtures/evidence/tpm-ubuntu2404-sevsnp-gce-go-tpm-tools';
  const log = new Uint8Array(readFileSync(shared(dir, 'eventlog.bin')));
  const pcrs = parsePcrValues(readFileSync(shared(dir, 'pcrs.json'), 'utf8'), 'pcrs.json');
  const prediction = changedKernelPrediction(log);
  const entry = { parameters: { 'boot.shape': 'gce' }, banks: { sha256: prediction.pcrs.sha256! }, notPredicted: {}, inputs: {} };
  const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [], tdx: [], pcr: [entry] };

  it('a release built with another kernel: names the kernel event, the only PCR it changes, and what the log holds there', () => {
    // the oracle: only PCR9 (GRUB's file measurements) differs between the log and the prediction
    expect(Object.keys(prediction.pcrs.sha256!).filter((i) => prediction.pcrs.sha256![i] !== pcrs.sha256![i])).toEqual(['9']);
    const r = verifyTpmEventLog(log, { pcrs, reference, predictions: [prediction] });
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name.replace(/ \(.*/, ''))).toEqual([
      'sha256 PCR9 equals the reference',
      'the replayed PCRs match a reference entry',
    ]);
    expect(r.diagnosis!.found).toEqual({ pcr: 9, logEvent: prediction.kernelEvent, component: 'kernel', type: 'EV_IPL', actual: 'EV_IPL' });
    expect(r.diagnosis!.differences[0]).toMatch(
      /^PCR9 event \d+ \(log event #104\): the release predicts kernel \(EV_IPL [0-9a-f]{16}…\), the log has EV_IPL [0-9a-f]{16}… "\/vmlinuz-6\.8\.0-1010-gcp"$/,
    );
    expect(r.diagnosis!.searched).toMatch(/predicted events of PCR\d.* \(sha256, eventlog diff\)$/);
  });

  it("says what it needs, and refuses a prediction that is not the release's", () => {
    expect(verifyTpmEventLog(log, { pcrs, reference }).diagnosis).toMatchObject({
      found: null,
      searched: expect.stringMatching(/^nothing: give the release's prediction/),
    });
    const other = { ...prediction, pcrs: { ...prediction.pcrs, sha256: { ...prediction.pcrs.sha256, '4': 'ab'.repeat(32) } } };
    expect(verifyTpmEventLog(log, { pcrs, reference, predictions: [other] }).diagnosis!.searched).toMatch(
      /^nothing: no prediction given holds a signed PCR set/,
    );
    // its PCR values signed, but its events replay to something else
    const forged = { ...prediction, events: prediction.events.map((e, i) => (i === 0 ? { ...e, digests: { sha256: 'cd'.repeat(32) } } : e)) };
    expect(verifyTpmEventLog(log, { pcrs, reference, predictions: [forged] }).diagnosis!.searched).toMatch(/^nothing: no prediction given/);
  });
});

describe('PCR value files', () => {
  it('reads tpm2_pcrread output and JSON, and names a bad line', () => {
    expect(parsePcrValues('sha256:\n  0 : 0xAB\n  7 : 0xcd\nsha1:\n  0 : 0x01\n', 'p')).toEqual({ sha256: { '0': 'ab', '7': 'cd' }, sha1: { '0': '01' } });
    expect(parsePcrValues('{"sha256": {"00": "0xAB"}}', 'p')).toEqual({ sha256: { '0': 'ab' } });
    expect(() => parsePcrValues('sha256:\n  zero : 1\n', 'p')).toThrow('p:2: expected "bank:" or "  N : 0xHEX"');
    expect(() => parsePcrValues('{"md5": {"0": "ab"}}', 'p')).toThrow('p: unknown bank "md5"');
  });
});
