/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_types.h> as hvspec declares it: Types of the API (hvf-facts.md §1.1, §2.1 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_TYPES_H
#define HVSPEC_HYPERVISOR_HV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HVSPEC_API_X86_64)

typedef unsigned hv_vcpuid_t;

typedef const void * hv_uvaddr_t;

typedef uint64_t hv_gpaddr_t;

typedef unsigned hv_vm_space_t;

typedef uint64_t hv_memory_flags_t;

typedef uint64_t hv_vm_options_t;

typedef uint64_t hv_vcpu_options_t;

typedef uint64_t hv_capability_t;

/* hv_vm_space_t */
enum {
  HV_VM_SPACE_DEFAULT = 0,
};

/* hv_memory_flags_t (the MAXPROT/UEXEC bits are x86 only, §0.2 [H]) */
enum {
  HV_MEMORY_READ = 1ull,
  HV_MEMORY_WRITE = 2ull,
  HV_MEMORY_EXEC = 4ull,
  HV_MEMORY_UEXEC = 8ull,
  HV_MEMORY_MAXPROT = 0x10ull,
  HV_MEMORY_MAXPROT_READ = 0x20ull,
  HV_MEMORY_MAXPROT_WRITE = 0x40ull,
  HV_MEMORY_MAXPROT_EXEC = 0x80ull,
  HV_MEMORY_MAXPROT_UEXEC = 0x100ull,
};

/* hv_vm_options_t */
enum {
  HV_VM_DEFAULT = 0ull,
  HV_VM_SPECIFY_MITIGATIONS = 1ull,
  HV_VM_MITIGATION_A_ENABLE = 2ull,
  HV_VM_MITIGATION_B_ENABLE = 4ull,
  HV_VM_MITIGATION_C_ENABLE = 8ull,
  HV_VM_MITIGATION_D_ENABLE = 0x10ull,
  HV_VM_MITIGATION_E_ENABLE = 0x40ull,
  HV_VM_ACCEL_APIC = 0x400ull,
};

/* hv_vcpu_options_t */
enum {
  HV_VCPU_DEFAULT = 0ull,
  HV_VCPU_ACCEL_RDPMC = 1ull,
  HV_VCPU_TSC_RELATIVE = 2ull,
};

/* hv_capability_t */
enum {
  HV_CAP_VCPUMAX = 0ull,
  HV_CAP_ADDRSPACEMAX = 1ull,
};

#define HV_DEADLINE_FOREVER (~(uint64_t)0)

#else /* arm64 */

/* Apple declares enumerated types with OS_ENUM(name, type, ...) from <os/base.h>: in C++ a distinct
 * enum type an integer does not convert to implicitly (`hv_ipa_granule_t g = 0;` does not compile on
 * a Mac, so it does not here either); in C an integer typedef plus an anonymous enum. */
#ifndef HVSPEC_OS_ENUM
#if defined(__cplusplus)
#define HVSPEC_OS_ENUM(_name, _type, ...) typedef enum : _type { __VA_ARGS__ } _name##_t
#else
#define HVSPEC_OS_ENUM(_name, _type, ...) \
  typedef _type _name##_t;                \
  enum { __VA_ARGS__ }
#endif
#endif

typedef uint64_t hv_vcpu_t;

typedef uint64_t hv_ipa_t;

typedef uint64_t hv_memory_flags_t; /* a plain integer, not an OS_ENUM (§0.2 [H]) */

/* hv_memory_flags_t */
enum {
  HV_MEMORY_READ = 1ull,
  HV_MEMORY_WRITE = 2ull,
  HV_MEMORY_EXEC = 4ull,
};

/* OS objects, released with os_release; opaque here. NULL = defaults. Without Objective-C
 * (OS_OBJECT_USE_OBJC = 0) Apple's headers spell them like this. */
typedef struct hv_vm_config_s *hv_vm_config_t;
typedef struct hv_vcpu_config_s *hv_vcpu_config_t;
void os_release(void *object);

#endif

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_TYPES_H */
