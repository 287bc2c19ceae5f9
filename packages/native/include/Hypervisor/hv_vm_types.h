/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vm_types.h> as hvspec declares it: VM types (hvf-facts.md §2.1 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VM_TYPES_H
#define HVSPEC_HYPERVISOR_HV_VM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_types.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vm_types.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* macOS 26.0 (§2.3 [H]) */
HVSPEC_OS_ENUM(hv_ipa_granule, uint32_t,
               HV_IPA_GRANULE_4KB = 0,
               HV_IPA_GRANULE_16KB = 1);

/* hv_vm_allocate flags */
HVSPEC_OS_ENUM(hv_allocate_flags, uint64_t,
               HV_ALLOCATE_DEFAULT = 0);

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VM_TYPES_H */
