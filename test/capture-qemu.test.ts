/**
 * `capture qemu`: the argument rewriting (TDX-only options dropped with a note), the dump parser's
 * refusals, and one real capture (QEMU TCG + Debian's OVMF.fd + the Debian kernel with its qemu_fw_cfg
 * module) whose blobs are checked against QEMU facts and hashed by hand against `measure tdx --platform`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { captureArgs, parseCaptureDump } from '../src/build/capture-qemu.js';
import { loadQemuPlatform } from '../src/build/qemu-platform.js';
import { parseE820, tableLoaderAllocations } from '../src/formats/qemu-fw-cfg.js';
import { cli, errorLine } from './helpers/cli.js';
import { BUSYBOX, missingOf, suiteUnless } from './helpers/measured-boot.js';
import { ROOT, SHARED } from './helpers/shared.js';

const sha384 = (b: Uint8Array) => createHash('sha384').update(b).digest('hex');
const schema = (name: string) => new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8')));

describe('capture qemu: arguments and dump', () => {
  const o = { kernel: 'K', initrd: 'I', serialFile: 'S', kvm: false };

  it('drops tdx-guest and confidential-guest-support, moves KVM-only settings to TCG, routes the serial port, adds the capture kernel', () => {
    const user = ['-machine', 'q35,confidential-guest-support=tdx0,hpet=off', '-object', 'tdx-guest,id=tdx0', '-accel', 'kvm', '-cpu', 'host', '-m', '4G'];
    const c = captureArgs([...user, '-nographic', '-serial', 'stdio', '-kernel', 'vmlinuz', '-append', 'x'], o);
    expect(c.args).toEqual([
      '-machine',
      'q35,hpet=off',
      '-accel',
      'tcg',
      '-cpu',
      'max',
      '-m',
      '4G',
      '-display',
      'none',
      '-serial',
      'file:S',
      ...['-kernel', 'K', '-initrd', 'I', '-append', 'quiet panic=-1', '-no-reboot'],
    ]);
    expect(c.notes).toEqual([
      'dropped the TDX option -machine confidential-guest-support=tdx0',
      'dropped the TDX option -object tdx-guest,id=tdx0',
      '-accel kvm: no KVM here, the capture runs under TCG',
      '-cpu host needs KVM: the capture uses -cpu max (CPU models do not enter the fw_cfg files)',
    ]);
  });

  it('notes a disk boot (no -kernel) and a serial port the capture has to add', () => {
    const c = captureArgs(['-nodefaults', '-m', '1024'], o);
    expect(c.notes.join('\n')).toMatch(/no -kernel/);
    expect(c.notes.join('\n')).toMatch(/adds a serial port \(COM1\)/);
    expect(captureArgs(['-m', '1024', '-enable-kvm'], { ...o, kvm: true }).args).toContain('-enable-kvm');
  });

  it('refuses an incomplete or inconsistent dump', () => {
    expect(() => parseCaptureDump('@@BEGIN\n@@FILE 4 etc/e820\nAAAA\n')).toThrow(/no complete fw_cfg dump/);
    expect(() => parseCaptureDump('@@BEGIN\n@@FILE 4 etc/e820\nAAAA\n@@END\n')).toThrow(/dumped 3 bytes of 4/);
    expect(() => parseCaptureDump('@@BEGIN\n@@END\n')).toThrow(/no fw_cfg files/);
    expect([...parseCaptureDump('noise\r\n@@BEGIN\r\n@@FILE 3 bootorder\r\nYWJj\r\n@@END\r\n')]).toEqual([['bootorder', Buffer.from('abc')]]);
  });
});

const OVMF_FD = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd') : '';
const KERNEL = SHARED ? join(SHARED, 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64') : '';
const MODULE = join(ROOT, 'test/fixtures/qemu-fw-cfg/qemu_fw_cfg-6.1.0-56-amd64.ko');

suiteUnless([...missingOf(['qemu-system-x86_64'], [BUSYBOX]), ...(SHARED ? [] : ['../shared (Debian kernel and OVMF.fd)'])])(
  'capture qemu: a real capture guest (QEMU TCG, Debian OVMF.fd, TDX launch arguments)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'capture-'));
    const out = join(dir, 'platform.json');
    const tdArgs = [
      '-machine',
      'q35,confidential-guest-support=tdx0',
      '-object',
      'tdx-guest,id=tdx0',
      '-accel',
      'kvm',
      '-m',
      '1536',
      '-smp',
      '1',
      '-bios',
      OVMF_FD,
      '-nographic',
    ];

    it('records the fw_cfg files into a schema-valid, content-addressed platform.json; measure tdx --platform hashes them as edk2 would', async () => {
      const r = await cli(['capture', 'qemu', '--kernel', KERNEL, '--fw-cfg-module', MODULE, '--busybox', BUSYBOX, '--out', out, '--json', '--', ...tdArgs]);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(schema('capture-qemu.schema.json')(summary)).toBe(true);
      expect(r.stderr).toMatch(/dropped the TDX option -object tdx-guest,id=tdx0/);
      // the QEMU binary was left to the default (its version decides the ACPI tables): said, as a capture
      expect(r.stderr).toContain('cvm-measure: note: captured with defaults qemu=qemu-system-x86_64 (give them to silence this note)\n');
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(schema('qemu-platform.schema.json')(doc)).toBe(true);
      expect(doc.qemu).toMatchObject({ args: tdArgs, version: expect.stringMatching(/^\d+\.\d+/) });
      const { fwCfg } = loadQemuPlatform(readFileSync(out), out);
      // QEMU facts: -m 1536 on q35 is RAM [0, 1536 MiB) below 4 GiB; the table-loader allocates the RSDP and the tables blob.
      expect(parseE820(fwCfg.files.get('etc/e820')!).filter((e) => e.type === 1)).toEqual([{ address: 0, length: 1536 << 20, type: 1 }]);
      const allocated = tableLoaderAllocations(fwCfg.files.get('etc/table-loader')!).map((a) => a.file);
      expect(allocated).toEqual(expect.arrayContaining(['etc/acpi/rsdp', 'etc/acpi/tables']));
      expect(Buffer.from(fwCfg.files.get('etc/acpi/rsdp')!).subarray(0, 8).toString('latin1')).toBe('RSD PTR ');
      expect(Buffer.from(fwCfg.files.get('bootorder')!).toString('latin1')).toMatch(/linuxboot/);

      const m = await cli(['measure', 'tdx', '--firmware', OVMF_FD, '--platform', out, '--json']);
      expect(m.code, m.stderr).toBe(0);
      const rtmr0 = JSON.parse(m.stdout).rtmr0;
      expect(rtmr0.status).toBe('model (not hardware-checked)');
      const acpi = rtmr0.events.filter((e: { component: string }) => e.component.startsWith('ACPI '));
      expect(acpi.map((e: { component: string; sha384: string }) => [e.component, e.sha384])).toEqual([
        ['ACPI etc/table-loader', sha384(fwCfg.files.get('etc/table-loader')!)],
        ...allocated.map((f) => [`ACPI ${f}`, sha384(fwCfg.files.get(f)!)]),
      ]);
      expect(rtmr0.ram.at(-1)).toEqual({ address: '0x820000', length: `0x${((1536 << 20) - 0x820000).toString(16)}`, accepted: false });
    }, 600_000);

    // where /dev/kvm exists the capture asks for KVM; a host whose KVM cannot run the guest (nested or
    // restricted virtualization) makes QEMU report it and pause, which must not end the capture
    it.runIf(existsSync('/dev/kvm'))(
      'a KVM that fails at run time: captured again under TCG, with a note',
      async () => {
        const fake = join(dir, 'qemu-with-broken-kvm');
        writeFileSync(
          fake,
          '#!/bin/sh\ncase " $* " in *" -accel kvm "*) echo "KVM internal error. Suberror: 1" >&2; exec sleep 600;; esac\nexec qemu-system-x86_64 "$@"\n',
          { mode: 0o755 },
        );
        const r = await cli([
          'capture',
          'qemu',
          '--qemu',
          fake,
          '--kernel',
          KERNEL,
          '--fw-cfg-module',
          MODULE,
          '--busybox',
          BUSYBOX,
          '--out',
          join(dir, 'kvm.json'),
          '--',
          ...tdArgs,
        ]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain('KVM failed here (KVM internal error. Suberror: 1): captured under TCG instead');
        expect(JSON.parse(readFileSync(join(dir, 'kvm.json'), 'utf8')).qemu.captureArgs).toContain('tcg');
      },
      600_000,
    );

    it('a QEMU that refuses the arguments: one-line error and --json failure', async () => {
      const r = await cli(['capture', 'qemu', '--kernel', KERNEL, '--busybox', BUSYBOX, '--out', join(dir, 'x.json'), '--', '-machine', 'no-such-machine']);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(/capture guest did not finish: .*unsupported machine type/);
      const j = await cli(['capture', 'qemu', '--kernel', join(dir, 'missing'), '--out', join(dir, 'x.json'), '--json', '--', '-m', '512']);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/cannot read kernel/) } });
    });
  },
);
