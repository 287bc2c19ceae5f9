/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vm.h> as hvspec declares it: The arm64 VM functions (hvf-facts.md §2.3 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VM_H
#define HVSPEC_HYPERVISOR_HV_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_vm_types.h"
#include "hv_vm_config.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vm.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

hv_return_t hv_vm_get_max_vcpu_count(uint32_t *value); /* macOS 11.0; any thread of the process */
hv_return_t hv_vm_create(hv_vm_config_t _Nullable config); /* macOS 11.0; any thread of the process */
hv_return_t hv_vm_destroy(void); /* macOS 11.0; any thread of the process */
hv_return_t hv_vm_map(void *uva, hv_ipa_t ipa, size_t size, hv_memory_flags_t flags); /* macOS 11.0; any thread of the process */
hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size); /* macOS 11.0; any thread of the process */
hv_return_t hv_vm_protect(hv_ipa_t ipa, size_t size, hv_memory_flags_t flags); /* macOS 11.0; any thread of the process */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VM_H */
