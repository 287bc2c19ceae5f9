/*
 * Stand-in for <Hypervisor/Hypervisor.h>, used ONLY by scripts/syntax-check-macos.sh on Linux to
 * compile the addon's macOS code paths syntax-only. It includes hvspec's own declarations of Apple's
 * documented API: the arm64 flavour when HVSPEC_FLAVOUR_ARM64 is defined, the x86_64 one otherwise.
 */
#ifndef HVSPEC_SHIM_HYPERVISOR_H
#define HVSPEC_SHIM_HYPERVISOR_H
#ifndef HVSPEC_SYNTAX_MACOS
#error "this shim is only for the Linux syntax-only check of the macOS code paths"
#endif
#ifdef HVSPEC_FLAVOUR_ARM64
#include "hvspec/hv_arm64.h"
#else
#include "hvspec/hv_x86.h"
#endif
#endif
