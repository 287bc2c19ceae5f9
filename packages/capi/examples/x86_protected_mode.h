/*
 * x86_protected_mode.h — what the x86 examples share: a CHECK macro for hv_return_t, VMCS and register
 * accessors, and the canonical 32-bit flat protected-mode setup of a vCPU (paging off, every guest
 * exception exiting), written as Apple's own x86 test writes it (hvf-facts.md §1.8). Only Apple's API.
 */
#ifndef HVSPEC_EXAMPLE_X86_PROTECTED_MODE_H
#define HVSPEC_EXAMPLE_X86_PROTECTED_MODE_H

#include <Hypervisor/Hypervisor.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                       \
  do {                                                                                    \
    hv_return_t ret_ = (call);                                                            \
    if (ret_ != HV_SUCCESS) {                                                             \
      fprintf(stderr, "%s:%d: %s returned 0x%x\n", __FILE__, __LINE__, #call, (unsigned)ret_); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

static inline uint64_t rvmcs(hv_vcpuid_t vcpu, uint32_t field) {
  uint64_t v = 0;
  CHECK(hv_vmx_vcpu_read_vmcs(vcpu, field, &v));
  return v;
}

static inline void wvmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value) {
  CHECK(hv_vmx_vcpu_write_vmcs(vcpu, field, value));
}

static inline uint64_t rreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg) {
  uint64_t v = 0;
  CHECK(hv_vcpu_read_register(vcpu, reg, &v));
  return v;
}

static inline void wreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value) {
  CHECK(hv_vcpu_write_register(vcpu, reg, value));
}

/* A control value the host allows: must-be-1 bits set, may-be-1 bits only (Apple's XNU test does this). */
static inline uint64_t control(hv_vmx_capability_t id, uint64_t want) {
  uint64_t cap = 0;
  CHECK(hv_vmx_read_capability(id, &cap));
  return (want | (cap & 0xffffffff)) & (cap >> 32);
}

/* 32-bit flat protected mode, paging off, every guest exception exiting (as Apple's own x86 test). */
static inline void setup_protected_mode(hv_vcpuid_t vcpu, uint64_t rip) {
  wvmcs(vcpu, VMCS_CTRL_PIN_BASED, control(HV_VMX_CAP_PINBASED, 0));
  wvmcs(vcpu, VMCS_CTRL_CPU_BASED, control(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE));
  wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, control(HV_VMX_CAP_PROCBASED2, 0));
  wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, control(HV_VMX_CAP_ENTRY, 0));
  wvmcs(vcpu, VMCS_CTRL_VMEXIT_CONTROLS, control(HV_VMX_CAP_EXIT, 0));
  wvmcs(vcpu, VMCS_GUEST_CR0, 0x21);
  wvmcs(vcpu, VMCS_CTRL_CR0_MASK, 0xffffffff);
  wvmcs(vcpu, VMCS_CTRL_CR0_SHADOW, 0x21);
  wvmcs(vcpu, VMCS_GUEST_CR3, 0);
  wvmcs(vcpu, VMCS_GUEST_CR4, 0x2000);
  wvmcs(vcpu, VMCS_CTRL_CR4_MASK, 0xffffffff);
  wvmcs(vcpu, VMCS_CTRL_CR4_SHADOW, 0);
  wvmcs(vcpu, VMCS_GUEST_TR, 0);
  wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x8b);
  wvmcs(vcpu, VMCS_GUEST_LDTR, 0);
  wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);
  static const struct {
    uint32_t sel, base, limit, ar;
    uint64_t selector, access;
  } segs[] = {
      {VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR, 0x8, 0xc093},
      {VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR, 0x10, 0xc09b},
      {VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR, 0x8, 0xc093},
      {VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR, 0x8, 0xc093},
      {VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR, 0x8, 0xc093},
      {VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR, 0x8, 0xc093},
  };
  for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
    wvmcs(vcpu, segs[i].sel, segs[i].selector);
    wvmcs(vcpu, segs[i].base, 0);
    wvmcs(vcpu, segs[i].limit, 0xffffffff);
    wvmcs(vcpu, segs[i].ar, segs[i].access);
  }
  wvmcs(vcpu, VMCS_GUEST_GDTR_BASE, 0);
  wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, 0);
  wvmcs(vcpu, VMCS_GUEST_IDTR_BASE, 0);
  wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0);
  wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
  wvmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 0xffffffff);
  wvmcs(vcpu, VMCS_GUEST_RIP, rip);
}

#endif
