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

// The macOS 26.0 IPA-granule API (hvf-facts.md §2.3 [H]). The arm64 flavour is built for macOS 13.0,
// so the SDK weak-links these symbols; a call is reached only inside
// `if (HVSPEC_IPA_GRANULE_AVAILABLE())`, which expands to __builtin_available (the compiler's own
// runtime check, also what silences -Wunguarded-availability), so on macOS < 26 the absent symbol is
// never called and the addon answers HV_UNSUPPORTED (§5.13 [H]). An SDK older than 26 does not
// declare the functions at all: then HVSPEC_SDK_HAS_IPA_GRANULE is 0 and the calls are compiled out.
#if defined(HVSPEC_ARM64) && defined(HVSPEC_SYNTAX_MACOS)
#define HVSPEC_SDK_HAS_IPA_GRANULE 1
#define HVSPEC_IPA_GRANULE_AVAILABLE() (true)
#elif defined(HVSPEC_ARM64) && defined(__APPLE__)
#include <Availability.h>
#if defined(__MAC_OS_X_VERSION_MAX_ALLOWED) && __MAC_OS_X_VERSION_MAX_ALLOWED >= 260000
#define HVSPEC_SDK_HAS_IPA_GRANULE 1
#define HVSPEC_IPA_GRANULE_AVAILABLE() __builtin_available(macOS 26.0, *)
#else
#define HVSPEC_SDK_HAS_IPA_GRANULE 0
#endif
#else
#define HVSPEC_SDK_HAS_IPA_GRANULE 0
#endif

#endif  // HVSPEC_ADDON_HV_API_H
