/**
 * TCG event types: the one EV_* table, used by the log parser (code → name) and by the boot-event
 * predictor (name → code).
 */

/**
 * TCG PC Client Platform Firmware Profile, section 10.4.1 "Event Types", Table 9 "Events" (1.05);
 * EV_EFI_SPDM_FIRMWARE_BLOB/CONFIG (0x800000e1/e2) are the 1.06 additions to that table.
 */
export const EVENT_TYPES = {
  EV_PREBOOT_CERT: 0x0,
  EV_POST_CODE: 0x1,
  EV_UNUSED: 0x2,
  EV_NO_ACTION: 0x3,
  EV_SEPARATOR: 0x4,
  EV_ACTION: 0x5,
  EV_EVENT_TAG: 0x6,
  EV_S_CRTM_CONTENTS: 0x7,
  EV_S_CRTM_VERSION: 0x8,
  EV_CPU_MICROCODE: 0x9,
  EV_PLATFORM_CONFIG_FLAGS: 0xa,
  EV_TABLE_OF_DEVICES: 0xb,
  EV_COMPACT_HASH: 0xc,
  EV_IPL: 0xd,
  EV_IPL_PARTITION_DATA: 0xe,
  EV_NONHOST_CODE: 0xf,
  EV_NONHOST_CONFIG: 0x10,
  EV_NONHOST_INFO: 0x11,
  EV_OMIT_BOOT_DEVICE_EVENTS: 0x12,
  EV_EFI_EVENT_BASE: 0x80000000,
  EV_EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EV_EFI_VARIABLE_BOOT: 0x80000002,
  EV_EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EV_EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EV_EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EV_EFI_GPT_EVENT: 0x80000006,
  EV_EFI_ACTION: 0x80000007,
  EV_EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EV_EFI_HANDOFF_TABLES: 0x80000009,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EV_EFI_HANDOFF_TABLES2: 0x8000000b,
  EV_EFI_VARIABLE_BOOT2: 0x8000000c,
  EV_EFI_GPT_EVENT2: 0x8000000d,
  EV_EFI_HCRTM_EVENT: 0x80000010,
  EV_EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EV_EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EV_EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
} as const;
export type EventType = keyof typeof EVENT_TYPES;

export const EV_NO_ACTION = EVENT_TYPES.EV_NO_ACTION;

const NAMES = new Map<number, EventType>(Object.entries(EVENT_TYPES).map(([k, v]) => [v, k as EventType]));

/** The EV_* name of an event type code, or undefined outside the table. */
export function eventTypeName(code: number): EventType | undefined {
  return NAMES.get(code);
}

/** The EV_* name, or the code as 0x%08x when the table does not know it. */
export function typeName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16).padStart(8, '0')}`;
}
