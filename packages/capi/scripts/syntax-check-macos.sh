#!/bin/sh
# Compiles the macOS recording interposer syntax-only on Linux, in both API flavours: the generated
# front in interposer form (-DHVSPEC_INTERPOSE: hvspec_interpose_* calling the framework's hv_*, and the
# __DATA,__interpose table), the recorder's macOS paths (HVSPEC_SYNTAX_MACOS; <mach/*.h> resolve to
# scripts/macos-shim) and src/c/macos/interpose.c, against hvspec's generated headers. It has not run on
# a Mac. Exits non-zero on the first error.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}
common="-fsyntax-only -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -DHVSPEC_INTERPOSE -DHVSPEC_SYNTAX_MACOS \
  -I$here/scripts/macos-shim -I$here/../native/include -I$here/dist/generated -I$here/src/c"
for flavour in x86_64 arm64; do
  case $flavour in
    arm64) api=-DHVSPEC_API_ARM64 oldest=110000 ;;
    *) api=-DHVSPEC_API_X86_64 oldest=101000 ;;
  esac
  echo "syntax-check-macos [$flavour] interposer"
  for f in "$here/dist/generated/front_$flavour.c" "$here/src/c/recorder.c" "$here/src/c/macos/interpose.c"; do
    # shellcheck disable=SC2086
    $cc $common $api "$f"
  done
  # The front as an interposer built for the flavour's oldest macOS, which leaves out every newer
  # function (HVSPEC_INTERPOSE_HAS, as __MAC_OS_X_VERSION_MIN_REQUIRED decides on a Mac).
  echo "syntax-check-macos [$flavour] interposer for macOS $oldest"
  # shellcheck disable=SC2086
  $cc $common $api "-DHVSPEC_INTERPOSE_HAS(v)=((v) <= $oldest)" "$here/dist/generated/front_$flavour.c"
done
echo "syntax-check-macos: ok (x86_64 and arm64)"
