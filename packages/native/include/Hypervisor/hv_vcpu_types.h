/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_vcpu_types.h> as hvspec declares it: vCPU types: the exit record, registers, interrupts (hvf-facts.md §2.1, §2.2 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_VCPU_TYPES_H
#define HVSPEC_HYPERVISOR_HV_VCPU_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hv_types.h"

#if !defined(HVSPEC_API_ARM64)
#error "<Hypervisor/hv_vcpu_types.h> belongs to the arm64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* why hv_vcpu_run returned */
HVSPEC_OS_ENUM(hv_exit_reason, uint32_t,
               HV_EXIT_REASON_CANCELED = 0,
               HV_EXIT_REASON_EXCEPTION = 1,
               HV_EXIT_REASON_VTIMER_ACTIVATED = 2,
               HV_EXIT_REASON_UNKNOWN = 3);

typedef struct {
  uint64_t syndrome;         /* ESR_ELx */
  uint64_t virtual_address;  /* FAR_ELx */
  hv_ipa_t physical_address; /* the faulting IPA */
} hv_vcpu_exit_exception_t;

/* Layout (hvf-facts.md §2.1): reason @0 (+4 bytes padding), syndrome @8, VA @16, IPA @24, size 32. */
typedef struct {
  hv_exit_reason_t reason;
  hv_vcpu_exit_exception_t exception;
} hv_vcpu_exit_t;

/* IRQ = 0, FIQ = 1 (one binding has them swapped, §2.1 [H]) */
HVSPEC_OS_ENUM(hv_interrupt_type, uint32_t,
               HV_INTERRUPT_TYPE_IRQ = 0,
               HV_INTERRUPT_TYPE_FIQ = 1);

/* X0..X30 = 0..30, PC 31 (so HV_REG_X0 + 31 is the PC, not XZR: §2.8 [T]), FPCR, FPSR, CPSR */
HVSPEC_OS_ENUM(hv_reg, uint32_t,
               HV_REG_X0 = 0,
               HV_REG_X1 = 1,
               HV_REG_X2 = 2,
               HV_REG_X3 = 3,
               HV_REG_X4 = 4,
               HV_REG_X5 = 5,
               HV_REG_X6 = 6,
               HV_REG_X7 = 7,
               HV_REG_X8 = 8,
               HV_REG_X9 = 9,
               HV_REG_X10 = 0xa,
               HV_REG_X11 = 0xb,
               HV_REG_X12 = 0xc,
               HV_REG_X13 = 0xd,
               HV_REG_X14 = 0xe,
               HV_REG_X15 = 0xf,
               HV_REG_X16 = 0x10,
               HV_REG_X17 = 0x11,
               HV_REG_X18 = 0x12,
               HV_REG_X19 = 0x13,
               HV_REG_X20 = 0x14,
               HV_REG_X21 = 0x15,
               HV_REG_X22 = 0x16,
               HV_REG_X23 = 0x17,
               HV_REG_X24 = 0x18,
               HV_REG_X25 = 0x19,
               HV_REG_X26 = 0x1a,
               HV_REG_X27 = 0x1b,
               HV_REG_X28 = 0x1c,
               HV_REG_X29 = 0x1d,
               HV_REG_X30 = 0x1e,
               HV_REG_PC = 0x1f,
               HV_REG_FPCR = 0x20,
               HV_REG_FPSR = 0x21,
               HV_REG_CPSR = 0x22,
               HV_REG_FP = 0x1d,
               HV_REG_LR = 0x1e);

/* Q0..Q31 */
HVSPEC_OS_ENUM(hv_simd_fp_reg, uint32_t,
               HV_SIMD_FP_REG_Q0 = 0,
               HV_SIMD_FP_REG_Q1 = 1,
               HV_SIMD_FP_REG_Q2 = 2,
               HV_SIMD_FP_REG_Q3 = 3,
               HV_SIMD_FP_REG_Q4 = 4,
               HV_SIMD_FP_REG_Q5 = 5,
               HV_SIMD_FP_REG_Q6 = 6,
               HV_SIMD_FP_REG_Q7 = 7,
               HV_SIMD_FP_REG_Q8 = 8,
               HV_SIMD_FP_REG_Q9 = 9,
               HV_SIMD_FP_REG_Q10 = 0xa,
               HV_SIMD_FP_REG_Q11 = 0xb,
               HV_SIMD_FP_REG_Q12 = 0xc,
               HV_SIMD_FP_REG_Q13 = 0xd,
               HV_SIMD_FP_REG_Q14 = 0xe,
               HV_SIMD_FP_REG_Q15 = 0xf,
               HV_SIMD_FP_REG_Q16 = 0x10,
               HV_SIMD_FP_REG_Q17 = 0x11,
               HV_SIMD_FP_REG_Q18 = 0x12,
               HV_SIMD_FP_REG_Q19 = 0x13,
               HV_SIMD_FP_REG_Q20 = 0x14,
               HV_SIMD_FP_REG_Q21 = 0x15,
               HV_SIMD_FP_REG_Q22 = 0x16,
               HV_SIMD_FP_REG_Q23 = 0x17,
               HV_SIMD_FP_REG_Q24 = 0x18,
               HV_SIMD_FP_REG_Q25 = 0x19,
               HV_SIMD_FP_REG_Q26 = 0x1a,
               HV_SIMD_FP_REG_Q27 = 0x1b,
               HV_SIMD_FP_REG_Q28 = 0x1c,
               HV_SIMD_FP_REG_Q29 = 0x1d,
               HV_SIMD_FP_REG_Q30 = 0x1e,
               HV_SIMD_FP_REG_Q31 = 0x1f);

#if defined(__clang__)
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((ext_vector_type(16)));
#else
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((vector_size(16)));
#endif

/* op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2 (§2.2 [H]) */
HVSPEC_OS_ENUM(hv_sys_reg, uint16_t,
               HV_SYS_REG_DBGBVR0_EL1 = 0x8004,
               HV_SYS_REG_DBGBCR0_EL1 = 0x8005,
               HV_SYS_REG_DBGWVR0_EL1 = 0x8006,
               HV_SYS_REG_DBGWCR0_EL1 = 0x8007,
               HV_SYS_REG_DBGBVR1_EL1 = 0x800c,
               HV_SYS_REG_DBGBCR1_EL1 = 0x800d,
               HV_SYS_REG_DBGWVR1_EL1 = 0x800e,
               HV_SYS_REG_DBGWCR1_EL1 = 0x800f,
               HV_SYS_REG_MDCCINT_EL1 = 0x8010,
               HV_SYS_REG_MDSCR_EL1 = 0x8012,
               HV_SYS_REG_MIDR_EL1 = 0xc000,
               HV_SYS_REG_MPIDR_EL1 = 0xc005,
               HV_SYS_REG_ID_AA64PFR0_EL1 = 0xc020,
               HV_SYS_REG_ID_AA64PFR1_EL1 = 0xc021,
               HV_SYS_REG_ID_AA64DFR0_EL1 = 0xc028,
               HV_SYS_REG_ID_AA64DFR1_EL1 = 0xc029,
               HV_SYS_REG_ID_AA64ISAR0_EL1 = 0xc030,
               HV_SYS_REG_ID_AA64ISAR1_EL1 = 0xc031,
               HV_SYS_REG_ID_AA64MMFR0_EL1 = 0xc038,
               HV_SYS_REG_ID_AA64MMFR1_EL1 = 0xc039,
               HV_SYS_REG_ID_AA64MMFR2_EL1 = 0xc03a,
               HV_SYS_REG_SCTLR_EL1 = 0xc080,
               HV_SYS_REG_CPACR_EL1 = 0xc082,
               HV_SYS_REG_TTBR0_EL1 = 0xc100,
               HV_SYS_REG_TTBR1_EL1 = 0xc101,
               HV_SYS_REG_TCR_EL1 = 0xc102,
               HV_SYS_REG_APIAKEYLO_EL1 = 0xc108,
               HV_SYS_REG_APIAKEYHI_EL1 = 0xc109,
               HV_SYS_REG_APIBKEYLO_EL1 = 0xc10a,
               HV_SYS_REG_APIBKEYHI_EL1 = 0xc10b,
               HV_SYS_REG_APDAKEYLO_EL1 = 0xc110,
               HV_SYS_REG_APDAKEYHI_EL1 = 0xc111,
               HV_SYS_REG_APDBKEYLO_EL1 = 0xc112,
               HV_SYS_REG_APDBKEYHI_EL1 = 0xc113,
               HV_SYS_REG_APGAKEYLO_EL1 = 0xc118,
               HV_SYS_REG_APGAKEYHI_EL1 = 0xc119,
               HV_SYS_REG_SPSR_EL1 = 0xc200,
               HV_SYS_REG_ELR_EL1 = 0xc201,
               HV_SYS_REG_SP_EL0 = 0xc208,
               HV_SYS_REG_AFSR0_EL1 = 0xc288,
               HV_SYS_REG_AFSR1_EL1 = 0xc289,
               HV_SYS_REG_ESR_EL1 = 0xc290,
               HV_SYS_REG_FAR_EL1 = 0xc300,
               HV_SYS_REG_PAR_EL1 = 0xc3a0,
               HV_SYS_REG_MAIR_EL1 = 0xc510,
               HV_SYS_REG_AMAIR_EL1 = 0xc518,
               HV_SYS_REG_VBAR_EL1 = 0xc600,
               HV_SYS_REG_CONTEXTIDR_EL1 = 0xc681,
               HV_SYS_REG_TPIDR_EL1 = 0xc684,
               HV_SYS_REG_SCXTNUM_EL1 = 0xc687,
               HV_SYS_REG_CNTKCTL_EL1 = 0xc708,
               HV_SYS_REG_CSSELR_EL1 = 0xd000,
               HV_SYS_REG_TPIDR_EL0 = 0xde82,
               HV_SYS_REG_TPIDRRO_EL0 = 0xde83,
               HV_SYS_REG_TPIDR2_EL0 = 0xde85,
               HV_SYS_REG_SCXTNUM_EL0 = 0xde87,
               HV_SYS_REG_CNTV_CTL_EL0 = 0xdf19,
               HV_SYS_REG_CNTV_CVAL_EL0 = 0xdf1a,
               HV_SYS_REG_SP_EL1 = 0xe208);

/* hv_vcpu_config_get_feature_reg ids */
HVSPEC_OS_ENUM(hv_feature_reg, uint32_t,
               HV_FEATURE_REG_ID_AA64DFR0_EL1 = 0,
               HV_FEATURE_REG_ID_AA64DFR1_EL1 = 1,
               HV_FEATURE_REG_ID_AA64ISAR0_EL1 = 2,
               HV_FEATURE_REG_ID_AA64ISAR1_EL1 = 3,
               HV_FEATURE_REG_ID_AA64MMFR0_EL1 = 4,
               HV_FEATURE_REG_ID_AA64MMFR1_EL1 = 5,
               HV_FEATURE_REG_ID_AA64MMFR2_EL1 = 6,
               HV_FEATURE_REG_ID_AA64PFR0_EL1 = 7,
               HV_FEATURE_REG_ID_AA64PFR1_EL1 = 8,
               HV_FEATURE_REG_CTR_EL0 = 9,
               HV_FEATURE_REG_CLIDR_EL1 = 0xa,
               HV_FEATURE_REG_DCZID_EL0 = 0xb,
               HV_FEATURE_REG_ID_AA64SMFR0_EL1 = 0xc,
               HV_FEATURE_REG_ID_AA64ZFR0_EL1 = 0xd);

/* CCSIDR_EL1 cache types */
HVSPEC_OS_ENUM(hv_cache_type, uint32_t,
               HV_CACHE_TYPE_DATA = 0,
               HV_CACHE_TYPE_INSTRUCTION = 1);

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_VCPU_TYPES_H */
