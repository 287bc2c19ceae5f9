/*
 * kvm_provider.h — extensions of hvspec's Linux KVM provider, which implements the x86 hv_* API of
 * hv_x86.h on /dev/kvm. Everything here is prefixed hvkvm_ and does not exist on macOS.
 *
 * Deviations from Hypervisor.framework that a caller must know (also listed by hvkvm_deviations):
 *  - hv_vm_space_create returns HV_UNSUPPORTED: KVM has one memslot set per VM, so only
 *    HV_VM_SPACE_DEFAULT (0) exists (HV_CAP_ADDRSPACEMAX = 1).
 *  - Memory permissions: see hvkvm_enforced_permissions_mask. KVM x86 cannot make memory
 *    execute-only (X) or write+execute-only (WX); R, RW and W are enforced by trapping every access
 *    (about one exit per access, completed inside the provider; hv_vcpu_run does not return for them).
 *  - VM-execution controls, exception bitmap, CR masks/shadows and most other control fields are
 *    stored and read back but do not change what the guest does: KVM handles CPUID, CR accesses and
 *    exceptions in the kernel, and always gives HLT and I/O exits to user space. RDMSR/WRMSR exit to
 *    the VMM unless hv_vcpu_enable_native_msr let the vCPU run the MSR natively.
 *  - A guest VMCALL does not exit (deviation kvm.vmcall): KVM handles hypercalls in the kernel or
 *    raises #UD in the guest; it is reported as VMX_REASON_VMCALL only where that #UD ends in a
 *    triple fault at the VMCALL (a guest without a usable IDT).
 *  - hv_vcpu_run_until with a finite deadline returns HV_UNSUPPORTED (no preemption timer).
 *  - hv_vcpu_write_register refuses (HV_BAD_ARGUMENT, nothing changed) values KVM cannot load:
 *    TPR > 15, DR6/DR7 with bits 63:32 set, an XCR0 the vCPU's CPUID does not allow, and CR0/CR4
 *    values KVM_SET_SREGS refuses on their own. Invalid combinations of control registers, and any
 *    value written through hv_vmx_vcpu_write_vmcs, give a VM-entry-failure exit instead.
 *  - hv_vcpu_run returns HV_ERROR for a KVM exit with no VMX equivalent (e.g. an instruction KVM's
 *    emulator cannot execute); set HVKVM_DEBUG=1 to have it printed.
 *  - Threads: hv_vcpu_create blocks a real-time signal (SIGRTMIN+5) on the calling thread;
 *    hv_vcpu_interrupt sends it to interrupt KVM_RUN. Do not use that signal elsewhere.
 */
#ifndef HVSPEC_KVM_PROVIDER_H
#define HVSPEC_KVM_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "hv_x86.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 0 when /dev/kvm can be opened and is usable (API version 12, the capabilities the provider needs).
 * Otherwise non-zero, and `why` (if not NULL, `len` bytes) receives what is missing and how to fix
 * it, e.g. "/dev/kvm: permission denied; add your user to the 'kvm' group (sudo usermod -aG kvm $USER)
 * and log in again".
 */
int hvkvm_available(char *why, size_t len);

/*
 * The permission sets (hv_memory_flags_t values 0..7) that guest accesses see exactly as specified:
 * bit i set = flag set i is enforced. The others are declared deviations.
 */
uint32_t hvkvm_enforced_permissions_mask(void);

/* A documented deviation of this provider from the spec (ids are stable, e.g. "kvm.exec-only"). */
typedef struct {
  const char *id;
  const char *description;
  uint32_t permissions_mask; /* the flag sets concerned (bit i = set i), 0 when not about memory */
  /* Basic exit reasons (VMX_REASON_*) this deviation means the provider may not report where the
   * framework would: what causes them is handled elsewhere. exit_reason_count entries, or none. */
  const uint32_t *exit_reasons;
  size_t exit_reason_count;
} hvkvm_deviation_t;

/* Writes a pointer to a static array of deviations to *list and returns its length. The list depends
 * on what this machine's KVM can do (e.g. kvm.msr-exits only where it cannot send MSR accesses to
 * user space); it is computed once. */
size_t hvkvm_deviations(const hvkvm_deviation_t **list);

/*
 * Test-only fault injection. Arms a rule: among the provider's calls of kind `site` from now on (for
 * HVKVM_FAULT_IOCTL with `request` != 0, only ioctls of that request number), the nth (1-based) fails
 * as the OS would fail it: -1 (MAP_FAILED for mmap, a failed allocation for ALLOC) with errno `err`
 * (0: EIO for ioctl and open, ENOMEM for mmap and allocations). nth 0 only counts. Returns how many
 * matching calls the previous rule counted. HVKVM_FAULT_NONE disarms (and stops counting).
 */
enum {
  HVKVM_FAULT_NONE = 0,
  HVKVM_FAULT_ANY = 1,   /* every kind below, counted together */
  HVKVM_FAULT_OPEN = 2,  /* open("/dev/kvm") */
  HVKVM_FAULT_MMAP = 3,  /* mmap of a vCPU's kvm_run */
  HVKVM_FAULT_IOCTL = 4, /* ioctl on /dev/kvm, a VM or a vCPU */
  HVKVM_FAULT_ALLOC = 5, /* the provider's own allocations (VM, vCPU, CPUID table) */
};
unsigned long hvkvm_inject_fault(int site, unsigned long request, unsigned long nth, int err);

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_KVM_PROVIDER_H */
