/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vcpu_config.h> as hvspec declares it: vCPU configuration objects (hvf-facts.md §2.4 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VCPU_CONFIG_H
#define HVSPEC_HYPERVISOR_HV_VCPU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_vcpu_types.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vcpu_config.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VCPU_CONFIG_H */
