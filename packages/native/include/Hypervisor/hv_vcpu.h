/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vcpu.h> as hvspec declares it: The arm64 vCPU functions: every call but hv_vcpus_exit from the owning thread (hvf-facts.md §2.4 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VCPU_H
#define HVSPEC_HYPERVISOR_HV_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_vcpu_types.h"
#include "hv_vcpu_config.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vcpu.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t _Nullable config); /* macOS 11.0; any thread */
hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu); /* macOS 11.0 */
hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t *value); /* macOS 11.0 */
hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value); /* macOS 11.0 */
hv_return_t hv_vcpu_get_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t *value); /* macOS 11.0 */
hv_return_t hv_vcpu_set_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t value); /* macOS 11.0 */
hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t *value); /* macOS 11.0 */
hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t value); /* macOS 11.0 */
hv_return_t hv_vcpu_get_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type, bool *pending); /* macOS 11.0 */
hv_return_t hv_vcpu_set_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type, bool pending); /* macOS 11.0 */
hv_return_t hv_vcpu_get_vtimer_mask(hv_vcpu_t vcpu, bool *vtimer_is_masked); /* macOS 11.0 */
hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu, bool vtimer_is_masked); /* macOS 11.0 */
hv_return_t hv_vcpu_get_vtimer_offset(hv_vcpu_t vcpu, uint64_t *vtimer_offset); /* macOS 11.0 */
hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu, uint64_t vtimer_offset); /* macOS 11.0 */
hv_return_t hv_vcpu_get_trap_debug_exceptions(hv_vcpu_t vcpu, bool *value); /* macOS 11.0 */
hv_return_t hv_vcpu_set_trap_debug_exceptions(hv_vcpu_t vcpu, bool value); /* macOS 11.0 */
hv_return_t hv_vcpu_get_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool *value); /* macOS 11.0 */
hv_return_t hv_vcpu_set_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool value); /* macOS 11.0 */
hv_return_t hv_vcpu_run(hv_vcpu_t vcpu); /* macOS 11.0 */
hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count); /* macOS 11.0; any thread */
hv_return_t hv_vcpu_get_exec_time(hv_vcpu_t vcpu, uint64_t *time); /* macOS 11.0 */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VCPU_H */
