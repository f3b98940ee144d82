/** The firmware-side inputs of the PCR model: OVMF variable stores (PCR7), signature lists, GPT (PCR5). */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { EFI_CERT_X509_GUID, parseSignatureLists } from '../src/formats/efi-siglist.js';
import { parseVarStore, secureBootVariables } from '../src/formats/efi-varstore.js';
import { parseGpt, uefiGptData } from '../src/formats/gpt.js';
import { secureBootEnabled } from '../src/measure/boot/index.js';
import { describeShared, shared } from './helpers/shared.js';

const deb = (f: string) => readFileSync(shared('fixtures', 'debian', `debian-bookworm-ovmf-2022.11-6+deb12u2-${f}`));

describeShared('OVMF variable stores and GPT', () => {
  it('the empty store has no Secure Boot keys: SecureBoot off', () => {
    const sb = secureBootVariables(parseVarStore(deb('OVMF_VARS_4M.fd')));
    expect(sb).toEqual({});
    expect(secureBootEnabled({ secureBoot: sb })).toBe(false);
  });

  it('the Microsoft store: PK, KEK, db (Microsoft CAs), dbx as signature lists; SecureBoot on', () => {
    const sb = secureBootVariables(parseVarStore(deb('OVMF_VARS_4M.ms.fd')));
    expect(secureBootEnabled({ secureBoot: sb })).toBe(true);
    for (const k of ['PK', 'KEK', 'db', 'dbx'] as const) expect(sb[k]?.length ?? 0).toBeGreaterThan(0);
    const db = parseSignatureLists(sb.db!).filter((s) => s.type === EFI_CERT_X509_GUID);
    const subjects = db.map((s) => new X509Certificate(s.data).subject);
    expect(subjects.some((s) => s.includes('Microsoft Corporation UEFI CA 2011'))).toBe(true);
    expect(subjects.some((s) => s.includes('Microsoft Windows Production PCA 2011'))).toBe(true);
    // each EFI_SIGNATURE_DATA is the owner GUID followed by the certificate
    for (const s of db) expect(s.signatureData.length).toBe(16 + s.data.length);
  });

  it('hostile variable stores and signature lists are one-line FormatErrors', () => {
    const vars = Buffer.from(deb('OVMF_VARS_4M.ms.fd'));
    const first = vars.indexOf(Buffer.from([0xaa, 0x55]), 0x48);
    vars.writeUInt32LE(0x7fffffff, first + 40); // DataSize of the first variable
    expect(() => parseVarStore(vars)).toThrow(/runs past the store end/);
    expect(() => parseVarStore(deb('OVMF_CODE_4M.fd').subarray(0, 0x1000))).toThrow(FormatError);
    const list = Buffer.alloc(28);
    list.writeUInt32LE(1000, 16);
    list.writeUInt32LE(0, 20);
    list.writeUInt32LE(100, 24);
    expect(() => parseSignatureLists(list)).toThrow(/inconsistent sizes|outside/);
  });

  it('GPT of the UKI boot disk: one ESP; UEFI_GPT_DATA is header + count + used entries (228 bytes)', () => {
    const head = readFileSync(shared('fixtures', 'pcr', 'uki-disk-gpt-head.bin'));
    const gpt = parseGpt(head);
    expect(gpt.diskGuid).toBe('11111111-2222-3333-4444-555555555555');
    expect(gpt.partitions.map((p) => [p.typeGuid, p.uniqueGuid, p.startingLba, p.name])).toEqual([
      ['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', '66666666-7777-8888-9999-aaaaaaaaaaaa', 2048n, 'ESP'],
    ]);
    expect(uefiGptData(gpt).length).toBe(228);
    expect(() => parseGpt(head.subarray(0, 4096))).toThrow(/partition entry array .* outside/);
    expect(() => parseGpt(Buffer.alloc(8192))).toThrow(/no "EFI PART" header/);
  });
});
