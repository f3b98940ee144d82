#!/bin/sh
# esp-disk.sh UKI OUT: a deterministic raw disk image that boots UKI the normal way: a GPT disk (fixed
# disk and partition GUIDs) whose EFI system partition (FAT32, fixed volume id and timestamps) holds it
# as the removable-media boot path \EFI\BOOT\BOOTX64.EFI. The firmware measures this GPT into PCR5.
# Needs sfdisk (fdisk), mkfs.fat (dosfstools), mmd and mcopy (mtools), and SOURCE_DATE_EPOCH (the FAT
# file and directory times).
set -eu
[ $# -eq 2 ] || { echo "usage: esp-disk.sh UKI OUT" >&2; exit 2; }
: "${SOURCE_DATE_EPOCH:?must be set (the FAT file and directory times)}"
uki=$1
out=$2
# mtools writes local times; never read the user's ~/.mtoolsrc
export TZ=UTC MTOOLSRC=/dev/null MTOOLS_SKIP_CHECK=1

# 64 MiB: the ESP from LBA 2048 (62 MiB: enough clusters for FAT32), the backup GPT in the last 33 LBAs
DISK_SECTORS=131072
ESP_START=2048
ESP_SECTORS=126976
DISK_GUID=5A1D0C0E-9B3E-4C8F-8E2D-3C7A6B1F0E01
ESP_GUID=5A1D0C0E-9B3E-4C8F-8E2D-3C7A6B1F0E02
ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$out"
truncate -s $((DISK_SECTORS * 512)) "$out"
sfdisk -q "$out" <<SFDISK
label: gpt
label-id: $DISK_GUID
first-lba: $ESP_START
start=$ESP_START, size=$ESP_SECTORS, type=$ESP_TYPE, uuid=$ESP_GUID, name="ESP"
SFDISK
truncate -s $((ESP_SECTORS * 512)) "$tmp/esp.img"
# --invariant: volume id 1234-ABCD and fixed creation times (mkfs.fat 4.2 ignores SOURCE_DATE_EPOCH)
mkfs.fat -F 32 -n ESP --invariant "$tmp/esp.img" >/dev/null
# mtools (4.0.32) stamps the directories and the file it creates with SOURCE_DATE_EPOCH
mmd -i "$tmp/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$tmp/esp.img" "$uki" ::/EFI/BOOT/BOOTX64.EFI
dd if="$tmp/esp.img" of="$out" bs=512 seek=$ESP_START conv=notrunc status=none
