/*
 * x86_vmm.h — what the x86 examples share: VMCS and register accessors, the vCPU setups Apple's own x86
 * test uses (hvf-facts.md §1.8: 32-bit flat protected mode or real mode, paging off, every guest
 * exception exiting), and guest RAM at guest-physical 0. Only Apple's API.
 */
#ifndef HVSPEC_EXAMPLE_X86_VMM_H
#define HVSPEC_EXAMPLE_X86_VMM_H

#include <Hypervisor/Hypervisor.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "hv_check.h"

/* VMCS and register accessors; each wraps one hv_* call in CHECK, so a failure stops the VMM naming the call. */
static inline uint64_t rvmcs(hv_vcpuid_t vcpu, uint32_t field) {
  uint64_t v = 0;
  CHECK(hv_vmx_vcpu_read_vmcs(vcpu, field, &v));
  return v;
}
static inline void wvmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value) { CHECK(hv_vmx_vcpu_write_vmcs(vcpu, field, value)); }
static inline uint64_t rreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg) {
  uint64_t v = 0;
  CHECK(hv_vcpu_read_register(vcpu, reg, &v));
  return v;
}
static inline void wreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value) { CHECK(hv_vcpu_write_register(vcpu, reg, value)); }

/* A control value the host allows: must-be-1 bits set, may-be-1 bits only (Apple's XNU test does this). */
static inline uint64_t control(hv_vmx_capability_t id, uint64_t want) {
  uint64_t cap = 0;
  CHECK(hv_vmx_read_capability(id, &cap));
  return (want | (cap & 0xffffffff)) & (cap >> 32);
}

/* The VM-execution controls Apple's test asks for: HLT exits (I/O exits are forced by the framework). */
static inline void setup_controls(hv_vcpuid_t vcpu) {
  wvmcs(vcpu, VMCS_CTRL_PIN_BASED, control(HV_VMX_CAP_PINBASED, 0));
  wvmcs(vcpu, VMCS_CTRL_CPU_BASED, control(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE));
  wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, control(HV_VMX_CAP_PROCBASED2, 0));
  wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, control(HV_VMX_CAP_ENTRY, 0));
  wvmcs(vcpu, VMCS_CTRL_VMEXIT_CONTROLS, control(HV_VMX_CAP_EXIT, 0));
}

/* CR0 and CR4 with masks that give every bit to the VMM, and their read shadows. */
static inline void setup_control_registers(hv_vcpuid_t vcpu, uint64_t cr0) {
  wvmcs(vcpu, VMCS_GUEST_CR0, cr0);
  wvmcs(vcpu, VMCS_CTRL_CR0_MASK, 0xffffffff);
  wvmcs(vcpu, VMCS_CTRL_CR0_SHADOW, cr0);
  wvmcs(vcpu, VMCS_GUEST_CR4, 0x2000); /* VMXE, required in VMX operation */
  wvmcs(vcpu, VMCS_CTRL_CR4_MASK, 0xffffffff);
  wvmcs(vcpu, VMCS_CTRL_CR4_SHADOW, 0);
}

/* Flat segments: SS, CS, DS, ES, FS, GS with base 0 and the given limit, selectors and access rights. */
static inline void setup_segments(hv_vcpuid_t vcpu, uint64_t data, uint64_t code, uint64_t limit, uint64_t data_ar,
                                  uint64_t code_ar) {
  static const struct {
    uint32_t sel, base, limit, ar;
    int code;
  } segs[] = {
      {VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR, 0},
      {VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR, 1},
      {VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR, 0},
      {VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR, 0},
      {VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR, 0},
      {VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR, 0},
  };
  for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
    wvmcs(vcpu, segs[i].sel, segs[i].code ? code : data);
    wvmcs(vcpu, segs[i].base, 0);
    wvmcs(vcpu, segs[i].limit, limit);
    wvmcs(vcpu, segs[i].ar, segs[i].code ? code_ar : data_ar);
  }
}

/* No descriptor tables (an IDT limit of 0: every interrupt finds no vector), RFLAGS with only its
 * reserved-1 bit, every guest exception exiting. */
static inline void setup_tables_and_exceptions(hv_vcpuid_t vcpu) {
  wvmcs(vcpu, VMCS_GUEST_GDTR_BASE, 0);
  wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, 0);
  wvmcs(vcpu, VMCS_GUEST_IDTR_BASE, 0);
  wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0);
  wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
  wvmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 0xffffffff);
}

/* 32-bit flat protected mode, paging off (Apple's setup_protected_mode). */
static inline void setup_protected_mode(hv_vcpuid_t vcpu, uint64_t rip) {
  setup_controls(vcpu);
  setup_control_registers(vcpu, 0x21); /* PE | NE */
  wvmcs(vcpu, VMCS_GUEST_CR3, 0);
  wvmcs(vcpu, VMCS_GUEST_TR, 0);
  wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x8b);
  wvmcs(vcpu, VMCS_GUEST_LDTR, 0);
  wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);
  setup_segments(vcpu, 0x8, 0x10, 0xffffffff, 0xc093, 0xc09b);
  setup_tables_and_exceptions(vcpu);
  wvmcs(vcpu, VMCS_GUEST_RIP, rip);
}

/* Real mode at 0000:ip, segments of 64 KiB (Apple's setup_real_mode). */
static inline void setup_real_mode(hv_vcpuid_t vcpu, uint64_t ip) {
  setup_controls(vcpu);
  setup_control_registers(vcpu, 0x20); /* NE */
  wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x83);
  wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);
  setup_segments(vcpu, 0, 0, 0xffff, 0x93, 0x9b);
  setup_tables_and_exceptions(vcpu);
  wreg(vcpu, HV_X86_RIP, ip);
}

/* A VM with `size` bytes of RAM at guest-physical 0 holding `code` at `at`; the RAM's host address. */
static inline uint8_t *create_vm_with_ram(size_t size, const void *code, size_t code_len, size_t at) {
  CHECK(hv_vm_create(HV_VM_DEFAULT));
  uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  memcpy(ram + at, code, code_len);
  CHECK(hv_vm_map(ram, 0, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
  return ram;
}

/* Runs `vcpu_main` on a thread of its own (the vCPU belongs to the thread that creates it) and waits. */
static inline void run_vcpu_thread(void *(*vcpu_main)(void *)) {
  pthread_t th;
  if (pthread_create(&th, NULL, vcpu_main, NULL) != 0) {
    perror("pthread_create");
    exit(1);
  }
  pthread_join(th, NULL);
}

/* Unmaps the RAM and destroys the VM. */
static inline void destroy_vm(size_t size) {
  CHECK(hv_vm_unmap(0, size));
  CHECK(hv_vm_destroy());
}

#endif
