/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_error.h> as hvspec declares it: `hv_return_t` and its codes: `err_local | err_sub(0xba5) | code` = 0xfae94000 | code, a signed 32-bit `mach_error_t` (hvf-facts.md §0.1 [H]). hvspec gives 0xfae94008 one name in both flavours.
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_ERROR_H
#define HVSPEC_HYPERVISOR_HV_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HVSPEC_API_ARM64) && defined(HVSPEC_API_X86_64)
#error "define at most one of HVSPEC_API_ARM64 and HVSPEC_API_X86_64"
#endif
#if !defined(HVSPEC_API_ARM64) && !defined(HVSPEC_API_X86_64)
#if defined(__aarch64__) || defined(__arm64__)
#define HVSPEC_API_ARM64 1
#else
#define HVSPEC_API_X86_64 1
#endif
#endif

/* Apple's headers carry clang's nullability qualifiers; other compilers do not know them. */
#if !defined(__clang__) && !defined(_Nullable)
#define _Nullable
#endif

typedef int hv_return_t; /* mach_error_t */

#define HV_SUCCESS ((hv_return_t)0x00000000) /* success */
#define HV_ERROR ((hv_return_t)0xfae94001) /* generic failure */
#define HV_BUSY ((hv_return_t)0xfae94002) /* the owning resource is busy */
#define HV_BAD_ARGUMENT ((hv_return_t)0xfae94003) /* an argument is invalid */
#define HV_ILLEGAL_GUEST_STATE ((hv_return_t)0xfae94004) /* the guest is in an illegal state */
#define HV_NO_RESOURCES ((hv_return_t)0xfae94005) /* the host is out of resources */
#define HV_NO_DEVICE ((hv_return_t)0xfae94006) /* no VM or vCPU available */
#define HV_DENIED ((hv_return_t)0xfae94007) /* the system did not allow the operation (missing entitlement) */
#define HV_FAULT ((hv_return_t)0xfae94008) /* name uncertain (HV_EXISTS in one arm64 kernel header); semantics undocumented [R] */
#define HV_UNSUPPORTED ((hv_return_t)0xfae9400f) /* not supported */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_ERROR_H */
