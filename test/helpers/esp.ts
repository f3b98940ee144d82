/**
 * The ESP disk image of the default recipe's `esp` component, made on the host by the same script
 * (recipes/esp/esp-disk.sh: sfdisk, mkfs.fat, mtools), for tests that boot or measure a UKI from a GPT disk.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from './shared.js';

export const ESP_SCRIPT = resolve(ROOT, 'recipes/esp/esp-disk.sh');
/** The host tools the script needs (`cvm-measure doctor --for test` installs them). */
export const ESP_TOOLS = ['sfdisk', 'mkfs.fat', 'mmd', 'mcopy'];
/** The recipes' SOURCE_DATE_EPOCH: the FAT times. */
export const ESP_EPOCH = '1700000000';

/** Writes `img`: a 64 MiB GPT disk whose FAT32 ESP holds `uki` as \EFI\BOOT\BOOTX64.EFI. */
export function makeEspDisk(uki: string, img: string, env: Record<string, string> = {}): string {
  execFileSync('sh', [ESP_SCRIPT, uki, img], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SOURCE_DATE_EPOCH: ESP_EPOCH, ...env }, stdio: 'pipe' });
  return img;
}
