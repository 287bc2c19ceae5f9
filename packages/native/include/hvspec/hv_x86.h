/*
 * hv_x86.h — hvspec's own declarations of Apple's documented x86_64 Hypervisor.framework C API
 * (Hypervisor/hv.h, hv_types.h, hv_error.h, hv_arch_x86.h, hv_vmx.h), with Apple's exact names,
 * types and signatures (hvf-facts.md §0.1, §1.1–§1.3, [H]).
 *
 * Why our own copy: the addon calls this API on both systems. On macOS the symbols come from
 * Hypervisor.framework; on Linux from hvspec's KVM provider (packages/native/provider). Linux CI
 * also compiles the macOS-only code against this file, so a typo cannot wait for a Mac.
 *
 * Only the functions the KVM provider implements are declared; provider-specific extensions live in
 * kvm_provider.h with the prefix hvkvm_.
 */
#ifndef HVSPEC_HV_X86_H
#define HVSPEC_HV_X86_H

#include <stddef.h>
#include <stdint.h>

#include "hv_arch_vmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hv_error.h: hv_return_t is mach_error_t, a signed 32-bit int; codes are 0xfae94000 | n ---- */
typedef int hv_return_t;
#define HV_SUCCESS ((hv_return_t)0)
#define HV_ERROR ((hv_return_t)0xfae94001)          /* generic failure */
#define HV_BUSY ((hv_return_t)0xfae94002)           /* owning resource busy */
#define HV_BAD_ARGUMENT ((hv_return_t)0xfae94003)   /* invalid argument */
#define HV_ILLEGAL_GUEST_STATE ((hv_return_t)0xfae94004) /* newer headers only */
#define HV_NO_RESOURCES ((hv_return_t)0xfae94005)   /* host out of resources */
#define HV_NO_DEVICE ((hv_return_t)0xfae94006)      /* no VM or vCPU available */
#define HV_DENIED ((hv_return_t)0xfae94007)         /* not allowed (11.x SDKs) */
#define HV_FAULT ((hv_return_t)0xfae94008)          /* name uncertain, undocumented [R] */
#define HV_UNSUPPORTED ((hv_return_t)0xfae9400f)    /* not supported */

/* ---- hv_types.h ---- */
typedef unsigned hv_vcpuid_t;
typedef const void *hv_uvaddr_t;
typedef uint64_t hv_gpaddr_t;
typedef unsigned hv_vm_space_t;
typedef uint64_t hv_memory_flags_t;
typedef uint64_t hv_vm_options_t;
typedef uint64_t hv_vcpu_options_t;
typedef uint64_t hv_capability_t;

enum { HV_VM_SPACE_DEFAULT = 0 };

enum {
  HV_MEMORY_READ = 1u << 0,
  HV_MEMORY_WRITE = 1u << 1,
  HV_MEMORY_EXEC = 1u << 2,
};

enum {
  HV_VM_DEFAULT = 0,
  HV_VM_SPECIFY_MITIGATIONS = 1u << 0,
  HV_VM_MITIGATION_A_ENABLE = 1u << 1,
  HV_VM_MITIGATION_B_ENABLE = 1u << 2,
  HV_VM_MITIGATION_C_ENABLE = 1u << 3,
  HV_VM_MITIGATION_D_ENABLE = 1u << 4,
  HV_VM_MITIGATION_E_ENABLE = 1u << 6,
  HV_VM_ACCEL_APIC = 1u << 10,
};

enum {
  HV_VCPU_DEFAULT = 0,
  HV_VCPU_ACCEL_RDPMC = 1u << 0,
  HV_VCPU_TSC_RELATIVE = 1u << 1,
};

enum {
  HV_CAP_VCPUMAX = 0,
  HV_CAP_ADDRSPACEMAX = 1,
};

#define HV_DEADLINE_FOREVER (~(uint64_t)0)

/* ---- hv_arch_x86.h: sequential from 0 ---- */
typedef enum {
  HV_X86_RIP, HV_X86_RFLAGS, HV_X86_RAX, HV_X86_RCX, HV_X86_RDX, HV_X86_RBX, HV_X86_RSI, HV_X86_RDI,
  HV_X86_RSP, HV_X86_RBP, HV_X86_R8, HV_X86_R9, HV_X86_R10, HV_X86_R11, HV_X86_R12, HV_X86_R13,
  HV_X86_R14, HV_X86_R15,
  HV_X86_CS, HV_X86_SS, HV_X86_DS, HV_X86_ES, HV_X86_FS, HV_X86_GS, /* selectors only */
  HV_X86_IDT_BASE, HV_X86_IDT_LIMIT, HV_X86_GDT_BASE, HV_X86_GDT_LIMIT,
  HV_X86_LDTR, HV_X86_LDT_BASE, HV_X86_LDT_LIMIT, HV_X86_LDT_AR,
  HV_X86_TR, HV_X86_TSS_BASE, HV_X86_TSS_LIMIT, HV_X86_TSS_AR,
  HV_X86_CR0, HV_X86_CR1, HV_X86_CR2, HV_X86_CR3, HV_X86_CR4,
  HV_X86_DR0, HV_X86_DR1, HV_X86_DR2, HV_X86_DR3, HV_X86_DR4, HV_X86_DR5, HV_X86_DR6, HV_X86_DR7,
  HV_X86_TPR, HV_X86_XCR0,
  HV_X86_REGISTERS_MAX
} hv_x86_reg_t;

/* ---- hv_vmx.h ---- */
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
  HV_VMX_CAP_MISC = 10,
  HV_VMX_CAP_CR0_FIXED0 = 11,
  HV_VMX_CAP_CR0_FIXED1 = 12,
  HV_VMX_CAP_CR4_FIXED0 = 13,
  HV_VMX_CAP_CR4_FIXED1 = 14,
  HV_VMX_CAP_VMCS_ENUM = 15,
  HV_VMX_CAP_EPT_VPID_CAP = 16,
  HV_VMX_CAP_PREEMPTION_TIMER = 32
} hv_vmx_capability_t;

/* ---- VM (one per process) ---- */
hv_return_t hv_capability(hv_capability_t capability, uint64_t *value);
hv_return_t hv_vm_create(hv_vm_options_t flags);
hv_return_t hv_vm_destroy(void);
hv_return_t hv_vm_space_create(hv_vm_space_t *asid);
hv_return_t hv_vm_space_destroy(hv_vm_space_t asid);
hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);
hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size);
hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);
hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
                            hv_memory_flags_t flags);
hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size);
hv_return_t hv_vm_protect_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);

/* ---- vCPU (bound to the creating thread; every call but hv_vcpu_interrupt from that thread) ---- */
hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags);
hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu);
hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid);
hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value);
hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value);
hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu);
hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu);
hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu);
hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline);
hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count); /* any thread */
hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time);          /* nanoseconds */

/* ---- VMX ---- */
hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value);
hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value);
hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value);

/* added by provider branch: the MSR calls of hv_arch_x86.h / hv.h (facts §1.2), 10.10 */
#include <stdbool.h>
hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable);
hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value);
hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value);
/* end of the provider branch's additions */

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_HV_X86_H */
