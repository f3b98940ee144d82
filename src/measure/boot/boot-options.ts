/**
 * PCR1 on OVMF: the boot variables Tcg2Dxe measures at ready-to-boot (edk2 SecurityPkg Tcg2Dxe
 * MeasureAllBootVariables: BootOrder, then each Boot#### in BootOrder order, EV_EFI_VARIABLE_BOOT whose
 * digest covers the variable data only), then the separator. The options are the ones OVMF's
 * PlatformBootManagerLib creates on QEMU: UiApp always (hidden, application category), and for a disk
 * boot the auto-created option of the disk plus the EFI shell. The firmware's own DXE volume supplies the
 * FV name used in the UiApp and shell device paths.
 */
import { InputError } from '../../errors.js';
import { parseFirmwareVolume } from '../../formats/firmware-volume.js';
import type { HashAlg } from '../../tcg/index.js';
import { concatBytes, guidToBytes, guidToString, u16le, utf16le, utf16leBytes, view } from '../../util/bytes.js';
import { EFI_GLOBAL_VARIABLE, event, uefiVariableData, type MeasuredEvent } from './events.js';

/** MdeModulePkg/Application/UiApp/UiApp.inf and ShellPkg/Application/Shell/Shell.inf FILE_GUIDs. */
const UI_APP_GUID = '462caa21-7614-4503-836e-8ab6f4662331';
const SHELL_GUID = '7c04a583-9e3e-4f1c-ad65-e05268d0b4d1';
/** MdeModulePkg gEfiBootManagerAutoCreateGuid: OptionalData of options EfiBootManagerRefreshAllBootOption creates. */
const AUTO_CREATE_GUID = '8108ac4e-9f11-4d59-850e-e21a522c59b2';
/** UEFI 2.10 3.1.3 load option attributes. */
const LOAD_OPTION_ACTIVE = 0x1;
const LOAD_OPTION_HIDDEN = 0x8;
const LOAD_OPTION_CATEGORY_APP = 0x100;

/** The PCI address of the boot disk (QEMU `addr=SLOT.FN` on bus 0). */
export interface PciAddress {
  slot: number;
  function: number;
}

/** "00:01.0": bus 0, hex slot, function. */
export function pciAddress(a: PciAddress): string {
  return `00:${a.slot.toString(16).padStart(2, '0')}.${a.function}`;
}

/** How the guest boots, as far as the boot options go. */
export type BootDevices = { kind: 'direct' } | { kind: 'virtio-blk'; pci: PciAddress };

/** UEFI 2.10 10.3.1 EFI_DEVICE_PATH_PROTOCOL node: type, subtype, UINT16 length, data. */
function node(type: number, subtype: number, data: Uint8Array): Uint8Array {
  const n = new Uint8Array(4 + data.length);
  n[0] = type;
  n[1] = subtype;
  view(n).setUint16(2, n.length, true);
  n.set(data, 4);
  return n;
}
const END = Uint8Array.of(0x7f, 0xff, 0x04, 0x00);
/** 10.3.5.6/10.3.5.7: PIWG firmware volume and firmware file media nodes. */
const fvNode = (guid: string) => node(4, 7, guidToBytes(guid));
const fvFileNode = (guid: string) => node(4, 6, guidToBytes(guid));

/** 3.1.3 EFI_LOAD_OPTION: Attributes, FilePathListLength, Description (UTF-16 + NUL), FilePathList, OptionalData. */
function loadOption(attributes: number, description: string, path: Uint8Array, optional: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = new Uint8Array(6);
  view(head).setUint32(0, attributes, true);
  view(head).setUint16(4, path.length, true);
  return concatBytes(head, utf16leBytes(`${description}\0`), path, optional);
}

/** The Boot#### options and BootOrder OVMF holds at ready-to-boot for `devices`; `dxe` is the DXE volume. */
export function ovmfBootOptions(dxe: Uint8Array, devices: BootDevices): { order: number[]; options: Map<number, { description: string; data: Uint8Array }> } {
  const fv = parseFirmwareVolume(dxe);
  if (!fv.name) throw new InputError('OVMF: the DXE volume has no FV name (extended header): boot options not modelled');
  const has = (guid: string) => fv.files.some((f) => f.guid === guid);
  if (!has(UI_APP_GUID)) throw new InputError('OVMF: no UiApp in the DXE volume: boot options not modelled');
  const fvApp = (guid: string) => concatBytes(fvNode(fv.name!), fvFileNode(guid), END);
  const options = new Map<number, { description: string; data: Uint8Array }>();
  options.set(0, { description: 'UiApp', data: loadOption(LOAD_OPTION_ACTIVE | LOAD_OPTION_HIDDEN | LOAD_OPTION_CATEGORY_APP, 'UiApp', fvApp(UI_APP_GUID)) });
  if (devices.kind === 'direct') return { order: [0], options };
  const { slot, function: fn } = devices.pci;
  // 10.3.3 ACPI node PNP0A03 (the PCI root bridge, UID 0) and 10.3.2.1 PCI node (function, device).
  const acpi = new Uint8Array(8);
  view(acpi).setUint32(0, 0x0a0341d0, true);
  const path = concatBytes(node(2, 1, acpi), node(1, 1, Uint8Array.of(fn, slot)), END);
  options.set(1, {
    description: `virtio-blk at PCI ${pciAddress(devices.pci)}`,
    data: loadOption(LOAD_OPTION_ACTIVE, 'UEFI Misc Device', path, guidToBytes(AUTO_CREATE_GUID)),
  });
  const order = [1, 0];
  if (has(SHELL_GUID)) {
    options.set(2, { description: 'EFI Internal Shell', data: loadOption(LOAD_OPTION_ACTIVE, 'EFI Internal Shell', fvApp(SHELL_GUID)) });
    order.push(2);
  }
  return { order, options };
}

/** PCR1 before its separator: BootOrder and the Boot#### variables in BootOrder order. */
export function bootOptionEvents(dxe: Uint8Array, devices: BootDevices, algs: readonly HashAlg[]): MeasuredEvent[] {
  const { order, options } = ovmfBootOptions(dxe, devices);
  const bootOrder = new Uint8Array(order.length * 2);
  for (const [i, n] of order.entries()) view(bootOrder).setUint16(2 * i, n, true);
  const variable = (name: string, data: Uint8Array, component: string) =>
    event(1, 'EV_EFI_VARIABLE_BOOT', component, data, algs, uefiVariableData(EFI_GLOBAL_VARIABLE, name, data));
  return [
    variable('BootOrder', bootOrder, `BootOrder (${order.map((n) => n.toString(16).padStart(4, '0')).join(',')})`),
    ...order.map((n) => {
      const name = `Boot${n.toString(16).toUpperCase().padStart(4, '0')}`;
      const o = options.get(n)!;
      return variable(name, o.data, `${name} (${o.description})`);
    }),
  ];
}

/** Module names of the FvFile nodes OVMF's boot options use. */
const FV_FILES: Readonly<Record<string, string>> = { [UI_APP_GUID]: 'UiApp', [SHELL_GUID]: 'EFI Internal Shell' };

/** Reads a device path (10.3.1) into words: "PCI 00:01.0", "FvFile UiApp", "ACPI", …; stops at the end node or a malformed node. */
function describeDevicePath(path: Uint8Array): string[] {
  const out: string[] = [];
  for (let o = 0; o + 4 <= path.length; ) {
    const [type, subtype] = [path[o]!, path[o + 1]!];
    const len = path[o + 2]! | (path[o + 3]! << 8);
    if (type === 0x7f || len < 4 || o + len > path.length) break;
    if (type === 1 && subtype === 1 && len >= 6) out.push(`PCI ${pciAddress({ slot: path[o + 5]!, function: path[o + 4]! })}`);
    else if (type === 4 && subtype === 6 && len >= 20) out.push(`FvFile ${FV_FILES[guidToString(path, o + 4)] ?? guidToString(path, o + 4)}`);
    else if (type === 2 && subtype === 1) out.push('PciRoot');
    else if (type !== 4 || subtype !== 7) out.push(`node ${type}/${subtype}`);
    o += len;
  }
  return out;
}

/**
 * A logged EV_EFI_VARIABLE_BOOT event (UEFI_VARIABLE_DATA) in words: "BootOrder 0001,0000" or
 * "Boot0001 'UEFI Misc Device' PCI 00:05.0". Undefined for data that is not a boot variable.
 */
export function describeBootVariable(data: Uint8Array): string | undefined {
  if (data.length < 32) return undefined;
  const nameLength = Number(view(data).getBigUint64(16, true));
  const dataLength = Number(view(data).getBigUint64(24, true));
  if (32 + nameLength * 2 + dataLength > data.length) return undefined;
  const name = utf16le(data.subarray(32, 32 + nameLength * 2));
  const value = data.subarray(32 + nameLength * 2, 32 + nameLength * 2 + dataLength);
  if (name === 'BootOrder')
    return `BootOrder ${Array.from({ length: value.length >> 1 }, (_, i) =>
      u16le(value, 2 * i)
        .toString(16)
        .padStart(4, '0'),
    ).join(',')}`;
  if (!/^Boot[0-9A-F]{4}$/.test(name) || value.length < 6) return undefined;
  const pathLength = u16le(value, 4);
  let end = 6;
  while (end + 1 < value.length && (value[end] !== 0 || value[end + 1] !== 0)) end += 2;
  const description = utf16le(value.subarray(6, end));
  const path = value.subarray(end + 2, end + 2 + pathLength);
  return [`${name} '${description}'`, ...describeDevicePath(path)].join(' ');
}
