/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/hv_arch_x86.h> as hvspec declares it: `hv_x86_reg_t`, sequential from 0; segment registers are selectors only (hvf-facts.md §1.3 [H]).
 * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */
#ifndef HVSPEC_HYPERVISOR_HV_ARCH_X86_H
#define HVSPEC_HYPERVISOR_HV_ARCH_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv_error.h" /* selects the flavour */
#if !defined(HVSPEC_API_X86_64)
#error "<Hypervisor/hv_arch_x86.h> belongs to the x86_64 API; see hvspec cflags --arch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* x86 architectural registers */
typedef enum {
  HV_X86_RIP = 0,
  HV_X86_RFLAGS = 1,
  HV_X86_RAX = 2,
  HV_X86_RCX = 3,
  HV_X86_RDX = 4,
  HV_X86_RBX = 5,
  HV_X86_RSI = 6,
  HV_X86_RDI = 7,
  HV_X86_RSP = 8,
  HV_X86_RBP = 9,
  HV_X86_R8 = 0xa,
  HV_X86_R9 = 0xb,
  HV_X86_R10 = 0xc,
  HV_X86_R11 = 0xd,
  HV_X86_R12 = 0xe,
  HV_X86_R13 = 0xf,
  HV_X86_R14 = 0x10,
  HV_X86_R15 = 0x11,
  HV_X86_CS = 0x12,
  HV_X86_SS = 0x13,
  HV_X86_DS = 0x14,
  HV_X86_ES = 0x15,
  HV_X86_FS = 0x16,
  HV_X86_GS = 0x17,
  HV_X86_IDT_BASE = 0x18,
  HV_X86_IDT_LIMIT = 0x19,
  HV_X86_GDT_BASE = 0x1a,
  HV_X86_GDT_LIMIT = 0x1b,
  HV_X86_LDTR = 0x1c,
  HV_X86_LDT_BASE = 0x1d,
  HV_X86_LDT_LIMIT = 0x1e,
  HV_X86_LDT_AR = 0x1f,
  HV_X86_TR = 0x20,
  HV_X86_TSS_BASE = 0x21,
  HV_X86_TSS_LIMIT = 0x22,
  HV_X86_TSS_AR = 0x23,
  HV_X86_CR0 = 0x24,
  HV_X86_CR1 = 0x25,
  HV_X86_CR2 = 0x26,
  HV_X86_CR3 = 0x27,
  HV_X86_CR4 = 0x28,
  HV_X86_DR0 = 0x29,
  HV_X86_DR1 = 0x2a,
  HV_X86_DR2 = 0x2b,
  HV_X86_DR3 = 0x2c,
  HV_X86_DR4 = 0x2d,
  HV_X86_DR5 = 0x2e,
  HV_X86_DR6 = 0x2f,
  HV_X86_DR7 = 0x30,
  HV_X86_TPR = 0x31,
  HV_X86_XCR0 = 0x32,
  HV_X86_REGISTERS_MAX = 0x33,
} hv_x86_reg_t;

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HYPERVISOR_HV_ARCH_X86_H */
