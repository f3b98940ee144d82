#!/bin/bash
# Builds one edk2 platform from the pinned Debian edk2 source package inside the cvm-measure sandbox.
#   edk2-build.sh unpack      dpkg-source -x the .dsc in /src/edk2 (checksums verified, Debian patches applied) into ./edk2
#   edk2-build.sh basetools   make -C BaseTools
#   edk2-build.sh build       build -p $EDK2_DSC $EDK2_FLAGS, copy $EDK2_OUTPUTS from Build/$EDK2_BUILD_DIR to /out
# The tree must stay at the same absolute path (/build/<component>/edk2): GenFw pads .data by the
# length of the build path, so another path gives other bytes.
set -eu
# BaseTools parses the text of the tools' output (the GNU ld map file for VFR/HII variable offsets):
# translated messages change the firmware, so they stay untranslated whatever the caller's locale.
unset LANGUAGE LC_MESSAGES
export LC_ALL=C.UTF-8
case "$1" in
unpack)
  rm -rf edk2
  dpkg-source --no-copy -x /src/edk2/*.dsc edk2
  ;;
basetools)
  cd edk2
  set +u --; . ./edksetup.sh >/dev/null; set -u
  make -s -C BaseTools -j"$JOBS"
  ;;
build)
  # Reproducible helpers for the AmdSev grub.efi PREBUILD (grub.sh): a FAT image with a constant
  # volume id and file times from the files themselves.
  mkdir -p shim
  printf '#!/bin/sh\nexec /usr/sbin/mkfs.fat --invariant "$@"\n' > shim/mkfs.msdos
  printf '#!/bin/sh\nexec /usr/bin/mcopy -m "$@"\n' > shim/mcopy
  chmod 0755 shim/mkfs.msdos shim/mcopy
  PATH="$(pwd)/shim:$PATH"
  cd edk2
  # grub modules the suite's grub-efi-amd64-bin lacks (bookworm's 2.06 has no sevsecret) are dropped
  # from AmdSev's grub.sh module list: the only source change, and only when the recipe asks for it.
  for m in ${EDK2_GRUB_DROP_MODULES:-}; do sed -i "/^ *$m\$/d" OvmfPkg/AmdSev/Grub/grub.sh; done
  set +u --; . ./edksetup.sh >/dev/null; set -u
  # shellcheck disable=SC2086 # EDK2_FLAGS is a word list
  build -a X64 -t GCC5 -b RELEASE -n "$JOBS" -p "$EDK2_DSC" $EDK2_FLAGS
  for f in $EDK2_OUTPUTS; do cp "Build/$EDK2_BUILD_DIR/RELEASE_GCC5/FV/$f" "/out/$f"; done
  ;;
*)
  echo "edk2-build.sh: unknown stage $1" >&2
  exit 2
  ;;
esac
