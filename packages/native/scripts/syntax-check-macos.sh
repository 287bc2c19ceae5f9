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

# One translation unit per flavour with every source file the macOS build compiles (binding.gyp's
# OS=='mac' sources plus the shared ones): the shared core is compiled for real on Linux, but only
# against the x86 API; here it meets the arm64 declarations too.
check() {
  flavour=$1; shift
  defs=$1; shift
  echo "syntax-check-macos [$flavour] $*"
  for f in "$@"; do printf '#include "%s"\n' "$f"; done |
    # shellcheck disable=SC2086
    $cxx $common $defs -I"$here" -x c++ -
}

shared="addon/threads.cc addon/state.cc addon/args.cc addon/module.cc addon/faults.cc"
# shellcheck disable=SC2086
check x86_64 "-DHVSPEC_API_X86_64" addon/hv_x86_calls.cc addon/platform_macos.cc $shared
# shellcheck disable=SC2086
check arm64 "-DHVSPEC_API_ARM64" addon/hv_arm64_calls.cc addon/platform_macos.cc $shared

# Code written for Apple's arm64 headers must compile against hvspec's as it does on a Mac (C++, where
# Apple's OS_ENUM types are distinct enums but hv_memory_flags_t and hv_allocate_flags_t are plain
# integers), and the exit record must have Apple's layout.
echo "syntax-check-macos [arm64] Apple's header shapes"
$cxx $common -DHVSPEC_API_ARM64 -x c++ - <<'CXX'
#include <Hypervisor/Hypervisor.h>
#include <cstddef>
#include <type_traits>
static_assert(sizeof(hv_vcpu_exit_t) == 32 && offsetof(hv_vcpu_exit_t, exception) == 8, "hv_vcpu_exit_t");
static_assert(sizeof(hv_exit_reason_t) == 4 && sizeof(hv_reg_t) == 4 && sizeof(hv_sys_reg_t) == 2, "widths");
static_assert(sizeof(hv_gic_intid_t) == 2 && sizeof(hv_gic_redistributor_reg_t) == 4, "GIC widths");
static_assert(std::is_enum<hv_reg_t>::value && std::is_enum<hv_sys_reg_t>::value, "OS_ENUMs are enums in C++");
static_assert(std::is_same<hv_memory_flags_t, uint64_t>::value, "hv_memory_flags_t is uint64_t");
static_assert(std::is_same<hv_allocate_flags_t, uint64_t>::value, "hv_allocate_flags_t is uint64_t");
static_assert(HV_REG_PC == 31 && HV_INTERRUPT_TYPE_FIQ == 1 && HV_SYS_REG_CNTV_CTL_EL0 == 0xdf19, "values");
int vmm(void *ram, size_t size) {
  void *mem = nullptr;
  hv_vcpu_t vcpu = 0;
  hv_vcpu_exit_t *exit = nullptr;
  return hv_vm_create(nullptr) | hv_vm_allocate(&mem, size, 0) | hv_vm_allocate(&mem, size, HV_ALLOCATE_DEFAULT) |
         hv_vm_map(ram, 0x10000, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) |
         hv_vcpu_create(&vcpu, &exit, nullptr) | hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5) |
         hv_vcpus_exit(&vcpu, 1);
}
CXX
echo "syntax-check-macos: ok (x86_64 and arm64)"
