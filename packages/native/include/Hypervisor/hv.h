/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv.h> as hvspec declares it: The x86 VM and vCPU functions (hvf-facts.md §1.2 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_H
#define HVSPEC_HYPERVISOR_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_arch_x86.h"

#if !defined(HVSPEC_API_X86_64)
#error "<Hypervisor/hv.h> belongs to the x86_64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value); /* macOS 10.15; any thread of the process */
hv_return_t hv_vm_create(hv_vm_options_t flags); /* macOS 10.10; any thread of the process */
hv_return_t hv_vm_destroy(void); /* macOS 10.10; any thread of the process */
hv_return_t hv_vm_space_create(hv_vm_space_t *asid); /* macOS 10.15; any thread of the process */
hv_return_t hv_vm_space_destroy(hv_vm_space_t asid); /* macOS 10.15; any thread of the process */
hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags); /* macOS 10.10; any thread of the process */
hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size); /* macOS 10.10; any thread of the process */
hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags); /* macOS 10.10; any thread of the process */
hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags); /* macOS 10.15; any thread of the process */
hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size); /* macOS 10.15; any thread of the process */
hv_return_t hv_vm_protect_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags); /* macOS 10.15; any thread of the process */
hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags); /* macOS 10.10; any thread */
hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu); /* macOS 10.10 */
hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid); /* macOS 10.15 */
hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value); /* macOS 10.10 */
hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value); /* macOS 10.10 */
hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu); /* macOS 10.10, deprecated 11.0 */
hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline); /* macOS 10.15 */
hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count); /* macOS 10.10; any thread */
hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time); /* macOS 10.10 */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_H */
