/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_gic.h> as hvspec declares it: The in-framework GICv3 (macOS 15.0+; hvf-facts.md §2.7 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_GIC_H
#define HVSPEC_HYPERVISOR_HV_GIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"
#include "hv_types.h"
#include "hv_vcpu_types.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_gic.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_GIC_H */
