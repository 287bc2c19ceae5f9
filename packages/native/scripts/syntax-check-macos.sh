#!/bin/sh
# Compiles the addon's macOS code paths syntax-only on Linux, in both API flavours, against hvspec's
# own declarations of Apple's documented API (include/Hypervisor, generated from the spec's registry),
# so that a typo in code only a Mac runs cannot wait for a Mac. <sys/sysctl.h> resolves to
# scripts/macos-shim. Exits non-zero on the first error.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cxx=${CXX:-g++}
napi=$(cd "$here" && node -p "require('node:path').resolve(require('node-addon-api').include_dir)")
nodeinc=${HVSPEC_NODE_INCLUDE:-}
if [ -z "$nodeinc" ]; then
  for d in "$(npm config get nodedir 2>/dev/null)/include/node" /usr/include/node /usr/local/include/node; do
    if [ -f "$d/node_api.h" ]; then nodeinc=$d; break; fi
  done
fi
if [ -z "$nodeinc" ]; then
  echo "syntax-check-macos: node_api.h not found (set HVSPEC_NODE_INCLUDE)" >&2
  exit 2
fi

common="-fsyntax-only -std=c++17 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-function \
  -DHVSPEC_SYNTAX_MACOS -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED \
  -I$here/scripts/macos-shim -I$here/include -I$nodeinc -I$napi"

# One translation unit per flavour (the flavour's calls + platform_macos.cc); core.cc has no
# platform or flavour code and is compiled for real on Linux.
check() {
  flavour=$1; shift
  defs=$1; shift
  echo "syntax-check-macos [$flavour] $*"
  for f in "$@"; do printf '#include "%s"\n' "$f"; done |
    # shellcheck disable=SC2086
    $cxx $common $defs -I"$here" -x c++ -
}

check x86_64 "-DHVSPEC_API_X86_64" addon/hv_x86_calls.cc addon/platform_macos.cc
check arm64 "-DHVSPEC_API_ARM64" addon/hv_arm64_calls.cc addon/platform_macos.cc
echo "syntax-check-macos: ok (x86_64 and arm64)"
