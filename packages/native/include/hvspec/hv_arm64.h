/*
 * hv_arm64.h — hvspec's own declarations of Apple's documented arm64 Hypervisor.framework C API
 * (Hypervisor/hv_vm.h, hv_vm_config.h, hv_vcpu.h, hv_vcpu_types.h, hv_vcpu_config.h, hv_error.h),
 * with Apple's names, types and signatures (hvf-facts.md §0.1, §2.1–§2.4, [H]).
 *
 * Why our own copy: Linux CI compiles the addon's arm64 code paths syntax-only against this file
 * (scripts/syntax-check-macos.sh), so a typo cannot wait for a Mac. On a Mac the addon includes
 * <Hypervisor/Hypervisor.h> and this file is not used. Only what the addon calls is declared.
 */
#ifndef HVSPEC_HV_ARM64_H
#define HVSPEC_HV_ARM64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hv_error.h: mach_error_t, a signed 32-bit int; codes are 0xfae94000 | n (§0.1 [H]) ---- */
typedef int hv_return_t;
#define HV_SUCCESS ((hv_return_t)0)
#define HV_ERROR ((hv_return_t)0xfae94001)
#define HV_BUSY ((hv_return_t)0xfae94002)
#define HV_BAD_ARGUMENT ((hv_return_t)0xfae94003)
#define HV_ILLEGAL_GUEST_STATE ((hv_return_t)0xfae94004)
#define HV_NO_RESOURCES ((hv_return_t)0xfae94005)
#define HV_NO_DEVICE ((hv_return_t)0xfae94006)
#define HV_DENIED ((hv_return_t)0xfae94007)
#define HV_EXISTS ((hv_return_t)0xfae94008) /* arm64 kernel header's name for 0x08 [R] */
#define HV_UNSUPPORTED ((hv_return_t)0xfae9400f)

/* Apple declares its enumerated types with OS_ENUM(name, type, ...) from <os/base.h>. In C++ that is
 * `typedef enum : type {...} name_t`: a distinct type that an integer does not convert to implicitly
 * (`hv_ipa_granule_t g = 0;` does not compile on a Mac). Mirrored here so that the Linux syntax check
 * rejects such code too. In C it is an integer typedef plus an anonymous enum. */
#if defined(__cplusplus)
#define HVSPEC_OS_ENUM(_name, _type, ...) typedef enum : _type { __VA_ARGS__ } _name##_t
#else
#define HVSPEC_OS_ENUM(_name, _type, ...) \
  typedef _type _name##_t;                \
  enum { __VA_ARGS__ }
#endif

/* ---- hv_vm_types.h / hv_vcpu_types.h (§2.1 [H]) ---- */
typedef uint64_t hv_vcpu_t;
typedef uint64_t hv_ipa_t;
/* A plain uint64_t typedef with anonymous-enum constants (§0.2 [H]), not an OS_ENUM: a uint32_t
 * flags value converts implicitly. */
typedef uint64_t hv_memory_flags_t;
enum {
  HV_MEMORY_READ = 1ull << 0,
  HV_MEMORY_WRITE = 1ull << 1,
  HV_MEMORY_EXEC = 1ull << 2,
};

/* OS objects (os_release); opaque here. NULL = default configuration. In C/C++ without Objective-C
 * (OS_OBJECT_USE_OBJC = 0) Apple's header spells them exactly like this. */
typedef struct hv_vm_config_s *hv_vm_config_t;
typedef struct hv_vcpu_config_s *hv_vcpu_config_t;
void os_release(void *object);

HVSPEC_OS_ENUM(hv_exit_reason, uint32_t,
               HV_EXIT_REASON_CANCELED = 0,
               HV_EXIT_REASON_EXCEPTION = 1,
               HV_EXIT_REASON_VTIMER_ACTIVATED = 2,
               HV_EXIT_REASON_UNKNOWN = 3);

typedef struct {
  uint64_t syndrome;         /* ESR_ELx */
  uint64_t virtual_address;  /* FAR_ELx */
  hv_ipa_t physical_address; /* faulting IPA */
} hv_vcpu_exit_exception_t;

/* Layout per hvf-facts.md §2.1: reason @0 (+4 padding), syndrome @8, VA @16, IPA @24, size 32. */
typedef struct {
  hv_exit_reason_t reason;
  hv_vcpu_exit_exception_t exception;
} hv_vcpu_exit_t;

/* IRQ = 0, FIQ = 1 (applevisor has them swapped — a binding bug, §2.1 [H]). */
HVSPEC_OS_ENUM(hv_interrupt_type, uint32_t, HV_INTERRUPT_TYPE_IRQ = 0, HV_INTERRUPT_TYPE_FIQ = 1);

/* macOS 26.0: the type and the three functions below that use it (§2.3 [H]). */
HVSPEC_OS_ENUM(hv_ipa_granule, uint32_t, HV_IPA_GRANULE_4KB = 0, HV_IPA_GRANULE_16KB = 1);

/* X0..X30 = 0..30, PC 31 (so HV_REG_X0 + 31 is the PC, not XZR: §2.8 [T]), FPCR 32, FPSR 33, CPSR 34. */
HVSPEC_OS_ENUM(hv_reg, uint32_t,
               HV_REG_X0 = 0,
               HV_REG_X29 = 29,
               HV_REG_FP = HV_REG_X29,
               HV_REG_X30 = 30,
               HV_REG_LR = HV_REG_X30,
               HV_REG_PC = 31,
               HV_REG_FPCR = 32,
               HV_REG_FPSR = 33,
               HV_REG_CPSR = 34);

HVSPEC_OS_ENUM(hv_simd_fp_reg, uint32_t, HV_SIMD_FP_REG_Q0 = 0, HV_SIMD_FP_REG_Q31 = 31);

#if defined(__clang__)
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((ext_vector_type(16)));
#else
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((vector_size(16)));
#endif

/* hv_sys_reg_t is a uint16_t OS_ENUM; only a few values are listed (§2.2 [H]): the addon passes the
 * caller's number through (values > 0xffff are refused before the cast). */
HVSPEC_OS_ENUM(hv_sys_reg, uint16_t,
               HV_SYS_REG_MDSCR_EL1 = 0x8012,
               HV_SYS_REG_MIDR_EL1 = 0xc000,
               HV_SYS_REG_MPIDR_EL1 = 0xc005,
               HV_SYS_REG_SCTLR_EL1 = 0xc080,
               HV_SYS_REG_SP_EL0 = 0xc208,
               HV_SYS_REG_CNTV_CTL_EL0 = 0xdf19,
               HV_SYS_REG_CNTV_CVAL_EL0 = 0xdf1a,
               HV_SYS_REG_SP_EL1 = 0xe208);

/* ---- hv_vm.h / hv_vm_config.h (§2.3 [H]); availability: 11.0 unless noted ---- */
hv_return_t hv_vm_get_max_vcpu_count(uint32_t *max_vcpu_count);
hv_vm_config_t hv_vm_config_create(void); /* 13.0, like the four ipa_size calls */
hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *ipa_bit_length);
hv_return_t hv_vm_config_get_default_ipa_size(uint32_t *ipa_bit_length);
hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t config, uint32_t ipa_bit_length);
hv_return_t hv_vm_config_get_ipa_size(hv_vm_config_t config, uint32_t *ipa_bit_length);
/* 26.0: weak-linked under the 13.0 deployment target, called only behind
 * HVSPEC_IPA_GRANULE_AVAILABLE() (addon/hv_api.h). */
hv_return_t hv_vm_config_get_default_ipa_granule(hv_ipa_granule_t *granule);
hv_return_t hv_vm_config_set_ipa_granule(hv_vm_config_t config, hv_ipa_granule_t granule);
hv_return_t hv_vm_config_get_ipa_granule(hv_vm_config_t config, hv_ipa_granule_t *granule);
hv_return_t hv_vm_create(hv_vm_config_t config);
hv_return_t hv_vm_destroy(void);
hv_return_t hv_vm_map(void *addr, hv_ipa_t ipa, size_t size, hv_memory_flags_t flags);
hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size);
hv_return_t hv_vm_protect(hv_ipa_t ipa, size_t size, hv_memory_flags_t flags);

/* ---- hv_vcpu.h (§2.4 [H]): every call but hv_vcpus_exit from the owning thread ---- */
hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t config);
hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu);
hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t *value);
hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value);
hv_return_t hv_vcpu_get_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t *value);
hv_return_t hv_vcpu_set_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t value);
hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t *value);
hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t value);
hv_return_t hv_vcpu_get_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type, bool *pending);
hv_return_t hv_vcpu_set_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type, bool pending);
hv_return_t hv_vcpu_get_trap_debug_exceptions(hv_vcpu_t vcpu, bool *value);
hv_return_t hv_vcpu_set_trap_debug_exceptions(hv_vcpu_t vcpu, bool value);
hv_return_t hv_vcpu_get_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool *value);
hv_return_t hv_vcpu_set_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool value);
hv_return_t hv_vcpu_get_vtimer_mask(hv_vcpu_t vcpu, bool *vtimer_is_masked);
hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu, bool vtimer_is_masked);
hv_return_t hv_vcpu_get_vtimer_offset(hv_vcpu_t vcpu, uint64_t *vtimer_offset);
hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu, uint64_t vtimer_offset);
hv_return_t hv_vcpu_run(hv_vcpu_t vcpu);
hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count); /* any thread */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HV_ARM64_H */
