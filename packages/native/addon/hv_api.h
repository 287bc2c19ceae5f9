// hv_api.h — the one place that decides which hv_* declarations the addon compiles against.
//
//  - macOS: Apple's <Hypervisor/Hypervisor.h>.
//  - Linux, and the Linux syntax-only check of the macOS paths (HVSPEC_SYNTAX_MACOS): hvspec's own
//    <Hypervisor/Hypervisor.h> (include/Hypervisor, generated from the spec's registry), whose
//    flavour is x86_64 unless HVSPEC_API_ARM64 is defined; on Linux the KVM provider implements the
//    x86 API and adds the hvkvm_ extensions (hvspec/kvm_provider.h).
//
// Flavour: arm64 on Apple Silicon (or HVSPEC_API_ARM64 in the syntax check), x86_64 otherwise.
#ifndef HVSPEC_ADDON_HV_API_H
#define HVSPEC_ADDON_HV_API_H

#if defined(__APPLE__) || defined(HVSPEC_SYNTAX_MACOS)
#define HVSPEC_MACOS 1
#endif

#include <Hypervisor/Hypervisor.h>
#if !defined(__APPLE__) && !defined(HVSPEC_SYNTAX_MACOS)
#define HVSPEC_LINUX 1
#include "hvspec/kvm_provider.h"
#endif

#if defined(HVSPEC_API_ARM64) || (defined(__APPLE__) && defined(__aarch64__))
#define HVSPEC_ARM64 1
#else
#define HVSPEC_X86 1
#endif

// Functions newer than a flavour's macOS deployment target (binding.gyp: arm64 13.0, x86_64 10.15)
// are weak-linked: the generated call records reach them only inside
// `#if HVSPEC_SDK_AT_LEAST(v)` + `HVSPEC_IF_AVAILABLE(macOS x.y) { ... }`, the compiler's own runtime
// check (also what silences -Wunguarded-availability), and answer HV_UNSUPPORTED otherwise
// (hvf-facts.md §5.13 [H]). An SDK older than the function does not declare it: compiled out.
#if defined(__APPLE__)
#include <Availability.h>
#if defined(__MAC_OS_X_VERSION_MAX_ALLOWED)
#define HVSPEC_SDK_AT_LEAST(v) (__MAC_OS_X_VERSION_MAX_ALLOWED >= (v))
#else
#define HVSPEC_SDK_AT_LEAST(v) 0
#endif
#define HVSPEC_IF_AVAILABLE(...) if (__builtin_available(__VA_ARGS__, *))
#else
// Linux, and the syntax check (g++ has no __builtin_available): every declared function is there.
#define HVSPEC_SDK_AT_LEAST(v) 1
#define HVSPEC_IF_AVAILABLE(...) if (true)
#endif

#endif  // HVSPEC_ADDON_HV_API_H
