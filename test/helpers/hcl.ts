/**
 * CONSTRUCTED: Azure HCL reports per Microsoft's published layout (header "HCLA", version, report size,
 * request type 2; the hardware report in a 1184-byte area; runtime data: size, version 1, report type,
 * hash type, claim size, then the JSON claims), around a real hardware report. No real HCL blob is in ../shared.
 */

/** Runtime claims shaped like Microsoft's documented example (keys, vm-configuration, user-data). */
export const HCL_CLAIMS = JSON.stringify({
  keys: [{ kid: 'HCLAkPub', key_ops: ['sign'], kty: 'RSA', e: 'AQAB', n: 'rAipdAAArL6V1FNnSQ' }],
  'vm-configuration': { 'console-enabled': true, 'secure-boot': true, 'tpm-enabled': true, vmUniqueId: '68dc0ac0-2ed9-4b2a-a03e-4953e416d939' },
  'user-data': '00'.repeat(64),
});

export function wrapHcl(
  payload: Uint8Array,
  o: { reportType?: number; hashType?: number; claims?: string; version?: number; reportSize?: number; pad?: number } = {},
): Buffer {
  const claims = Buffer.from(o.claims ?? HCL_CLAIMS);
  const header = Buffer.alloc(32);
  header.write('HCLA', 0, 'latin1');
  header.writeUInt32LE(o.version ?? 2, 4);
  header.writeUInt32LE(o.reportSize ?? payload.length, 8);
  header.writeUInt32LE(2, 12);
  const area = Buffer.alloc(1184);
  area.set(payload);
  const runtime = Buffer.alloc(20);
  for (const [i, v] of [20 + claims.length, 1, o.reportType ?? 2, o.hashType ?? 1, claims.length].entries()) runtime.writeUInt32LE(v, i * 4);
  return Buffer.concat([header, area, runtime, claims, Buffer.alloc(o.pad ?? 0)]);
}
