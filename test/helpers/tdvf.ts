/** Synthetic TDVF images for tests and benches: a TDVF descriptor (TDVF Design Guide Tables 11-1/11-2) in front of whatever locator. */

/** [type, dataOffset, rawDataSize, memoryAddress, memoryDataSize, attributes] per section. */
export type SectionRow = [number, number, number, number, number, number];

/** TDVF_DESCRIPTOR + TDVF_SECTION[]; `mutate` may corrupt it before it is returned. */
export function tdvfDescriptor(sections: SectionRow[], mutate?: (d: Buffer) => void): Buffer {
  const d = Buffer.alloc(16 + 32 * sections.length);
  d.write('TDVF', 0, 'latin1');
  d.writeUInt32LE(d.length, 4);
  d.writeUInt32LE(1, 8);
  d.writeUInt32LE(sections.length, 12);
  sections.forEach(([type, off, raw, addr, size, attr], i) => {
    const o = 16 + 32 * i;
    d.writeUInt32LE(off, o);
    d.writeUInt32LE(raw, o + 4);
    d.writeBigUInt64LE(BigInt(addr), o + 8);
    d.writeBigUInt64LE(BigInt(size), o + 16);
    d.writeUInt32LE(type, o + 24);
    d.writeUInt32LE(attr, o + 28);
  });
  mutate?.(d);
  return d;
}
