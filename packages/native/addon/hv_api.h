// hv_api.h — the one place that decides which hv_* declarations the addon compiles against.
//
//  - macOS (or the Linux syntax-only check of the macOS paths, HVSPEC_SYNTAX_MACOS):
//    <Hypervisor/Hypervisor.h>. The syntax check maps that include to scripts/macos-shim, which
//    includes hvspec/hv_x86.h or hvspec/hv_arm64.h.
//  - Linux: hvspec's KVM provider, which implements Apple's x86 API (hvspec/hv_x86.h) plus the
//    hvkvm_ extensions (hvspec/kvm_provider.h).
//
// Flavour: arm64 on Apple Silicon (or HVSPEC_FLAVOUR_ARM64 in the syntax check), x86_64 otherwise.
#ifndef HVSPEC_ADDON_HV_API_H
#define HVSPEC_ADDON_HV_API_H

#if defined(__APPLE__) || defined(HVSPEC_SYNTAX_MACOS)
#define HVSPEC_MACOS 1
#include <Hypervisor/Hypervisor.h>
#else
#define HVSPEC_LINUX 1
#include "hvspec/hv_x86.h"
#include "hvspec/kvm_provider.h"
#endif

#if defined(HVSPEC_FLAVOUR_ARM64) || (defined(__APPLE__) && defined(__aarch64__))
#define HVSPEC_ARM64 1
#else
#define HVSPEC_X86 1
#endif

#endif  // HVSPEC_ADDON_HV_API_H
