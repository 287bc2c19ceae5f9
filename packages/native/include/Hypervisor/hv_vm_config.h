/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vm_config.h> as hvspec declares it: VM configuration objects (macOS 13.0+; hvf-facts.md §2.3 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VM_CONFIG_H
#define HVSPEC_HYPERVISOR_HV_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_vm_types.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vm_config.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *value); /* macOS 13.0; any thread of the process */
hv_return_t hv_vm_config_get_default_ipa_size(uint32_t *value); /* macOS 13.0; any thread of the process */
hv_vm_config_t hv_vm_config_create(void); /* macOS 13.0; any thread of the process */
hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t config, uint32_t ipa_bit_length); /* macOS 13.0; any thread of the process */
hv_return_t hv_vm_config_get_ipa_size(hv_vm_config_t config, uint32_t *ipa_bit_length); /* macOS 13.0; any thread of the process */
hv_return_t hv_vm_config_set_ipa_granule(hv_vm_config_t config, hv_ipa_granule_t granule); /* macOS 26.0; any thread of the process */
hv_return_t hv_vm_config_get_ipa_granule(hv_vm_config_t config, hv_ipa_granule_t *granule); /* macOS 26.0; any thread of the process */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VM_CONFIG_H */
