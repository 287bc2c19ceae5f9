/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vmx.h> as hvspec declares it: VMX capabilities and VMCS access (hvf-facts.md §1.2 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VMX_H
#define HVSPEC_HYPERVISOR_HV_VMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_arch_vmx.h"

#if !defined(HVSPEC_API_X86_64)
#error "<Hypervisor/hv_vmx.h> belongs to the x86_64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* hv_vmx_read_capability ids */
typedef enum {
  HV_VMX_CAP_PINBASED = 0,
  HV_VMX_CAP_PROCBASED = 1,
  HV_VMX_CAP_PROCBASED2 = 2,
  HV_VMX_CAP_ENTRY = 3,
  HV_VMX_CAP_EXIT = 4,
  HV_VMX_CAP_BASIC = 5,
  HV_VMX_CAP_TRUE_PINBASED = 6,
  HV_VMX_CAP_TRUE_PROCBASED = 7,
  HV_VMX_CAP_TRUE_ENTRY = 8,
  HV_VMX_CAP_TRUE_EXIT = 9,
  HV_VMX_CAP_MISC = 0xa,
  HV_VMX_CAP_CR0_FIXED0 = 0xb,
  HV_VMX_CAP_CR0_FIXED1 = 0xc,
  HV_VMX_CAP_CR4_FIXED0 = 0xd,
  HV_VMX_CAP_CR4_FIXED1 = 0xe,
  HV_VMX_CAP_VMCS_ENUM = 0xf,
  HV_VMX_CAP_EPT_VPID_CAP = 0x10,
  HV_VMX_CAP_PREEMPTION_TIMER = 0x20,
} hv_vmx_capability_t;

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value); /* macOS 10.10 (ids 5–16 macOS 11.0); any thread of the process */
hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value); /* macOS 10.10 */
hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value); /* macOS 10.10 */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VMX_H */
