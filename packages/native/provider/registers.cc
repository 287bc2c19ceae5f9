// registers.cc — the register file as the VMM sees it (hv_vcpu_read_register/write_register).
//
// General-purpose and segment/control registers live in the vCPU's kvm_regs/kvm_sregs copy, which
// KVM_CAP_SYNC_REGS fills on every exit and run.cc writes back before the next KVM_RUN (notes §2).
// Debug registers and XCR0 have no synced copy: they are loaded on first use and written back with
// their own ioctls.
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

bool load_dregs(Vcpu &v) {
  if (v.dregs_valid || v.dregs_dirty) return true;
  // KVM_GET_DEBUGREGS: DR0-3, DR6, DR7 of the vCPU.
  if (kvm_ioctl(v.fd, KVM_GET_DEBUGREGS, &v.dregs) != 0) return false;
  v.dregs_valid = true;
  return true;
}

bool load_xcrs(Vcpu &v) {
  if (v.xcrs_valid || v.xcrs_dirty) return true;
  // KVM_GET_XCRS: the extended control registers (XCR0) of the vCPU.
  if (kvm_ioctl(v.fd, KVM_GET_XCRS, &v.xcrs) != 0) return false;
  v.xcrs_valid = true;
  return true;
}

// Writes the VMM's pending changes to KVM; false when KVM refuses them (invalid guest state).
int write_back_ioctl_state(Vcpu &v) {
  if (!apply_tsc_sync(v)) return EIO;
  if (v.dregs_dirty) {
    // KVM_SET_DEBUGREGS: loads DR0-3, DR6, DR7; EINVAL when DR6/DR7 have bits set above 31.
    if (kvm_ioctl(v.fd, KVM_SET_DEBUGREGS, &v.dregs) != 0) return errno;
    v.dregs_dirty = false;
  }
  if (v.xcrs_dirty) {
    // KVM_SET_XCRS: loads XCR0; EINVAL for a value the guest's CPUID does not allow.
    if (kvm_ioctl(v.fd, KVM_SET_XCRS, &v.xcrs) != 0) return errno;
    v.xcrs_dirty = false;
  }
  return 0;
}

}  // namespace hvkvm

using namespace hvkvm;

namespace {

constexpr uint64_t kCr4Vmxe = 1u << 13;

__u64 *gpr_slot(kvm_regs &r, int reg) {
  switch (reg) {
    case HV_X86_RIP: return &r.rip; case HV_X86_RFLAGS: return &r.rflags;
    case HV_X86_RAX: return &r.rax; case HV_X86_RCX: return &r.rcx; case HV_X86_RDX: return &r.rdx;
    case HV_X86_RBX: return &r.rbx; case HV_X86_RSI: return &r.rsi; case HV_X86_RDI: return &r.rdi;
    case HV_X86_RSP: return &r.rsp; case HV_X86_RBP: return &r.rbp; case HV_X86_R8: return &r.r8;
    case HV_X86_R9: return &r.r9; case HV_X86_R10: return &r.r10; case HV_X86_R11: return &r.r11;
    case HV_X86_R12: return &r.r12; case HV_X86_R13: return &r.r13; case HV_X86_R14: return &r.r14;
    case HV_X86_R15: return &r.r15;
    default: return nullptr;
  }
}

// hv_x86_reg_t selector registers → VMCS segment index (ES CS SS DS FS GS LDTR TR).
int selector_index(int reg) {
  switch (reg) {
    case HV_X86_CS: return 1; case HV_X86_SS: return 2; case HV_X86_DS: return 3;
    case HV_X86_ES: return 0; case HV_X86_FS: return 4; case HV_X86_GS: return 5;
    case HV_X86_LDTR: return 6; case HV_X86_TR: return 7;
    default: return -1;
  }
}

__u64 *xcr0_slot(kvm_xcrs &x) {
  for (uint32_t i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; ++i)
    if (x.xcrs[i].xcr == 0) return &x.xcrs[i].value;
  return nullptr;
}

// ---- values a register cannot hold ------------------------------------------------------------------
//
// HVF's hv_vcpu_write_register may refuse "a value the register cannot hold" (the spec's `ok` row of
// hv_vcpu_write_register allows any return there). The provider refuses, with HV_BAD_ARGUMENT and no
// state change, every value that KVM would refuse when loading the register (KVM_RUN then fails and
// the vCPU is stuck with it) and that a real CPU refuses at VM entry anyway.

constexpr uint64_t kCr8Bits = 0xf;  // TPR is CR8: only bits 3:0 exist (SDM Vol. 3 §11.8.6.1)

// The VM's probe vCPU (see Vm::probe_fd), created on first use; -1 when KVM gave none. Takes
// g_vm->probe_mu, which the caller then holds through *lock.
int probe_vcpu(std::unique_lock<std::mutex> *lock) {
  Vm &vm = *g_vm;
  *lock = std::unique_lock<std::mutex>(vm.probe_mu);
  if (vm.probe_fd >= 0 || vm.probe_failed) return vm.probe_fd;
  vm.probe_failed = true;
  // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPU_ID): vCPU ids run below it. The probe takes the last one,
  // which hv_vcpu_create (ids counting up from 0, never reused) does not reach before KVM's limit
  // on the number of vCPUs.
  int max_id = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
  if (max_id <= 0) max_id = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max_id <= static_cast<int>(vm.next_vcpu_id) + 1) return -1;
  // KVM_CREATE_VCPU: a vCPU that only ever receives KVM_SET_CPUID2 and KVM_SET_SREGS.
  int fd = kvm_ioctl(vm.vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(max_id - 1));
  if (fd < 0) return -1;
  // KVM_SET_CPUID2: the same CPUID as every vCPU, on which KVM's reserved CR4 bits depend.
  if (kvm_ioctl(fd, kKvmSetCpuid2, vm.cpuid) != 0) {
    close(fd);
    return -1;
  }
  vm.probe_fd = fd;
  vm.probe_failed = false;
  return fd;
}

// Whether KVM accepts `value` for CR0 or CR4 on its own: KVM_SET_SREGS on the probe vCPU with that
// value in an otherwise neutral state (protected mode without paging, EFER = 0, so that KVM's checks
// of the combination — long mode needs PAE and LMA — do not apply). Only the value's own validity is
// judged: a VMM writes CR0, CR4 and EFER one at a time, and a combination that is invalid for a
// moment is legitimate (it fails at VM entry, as in VMX).
bool sregs_value_accepted(int reg, uint64_t value) {
  std::unique_lock<std::mutex> lock;
  int fd = probe_vcpu(&lock);
  if (fd < 0) return true;  // cannot ask; KVM_RUN will tell (an entry-failure exit)
  kvm_sregs probe;
  // KVM_GET_SREGS: the probe's own (reset) state, so that everything but the value is what KVM
  // already accepted (segments, APIC base).
  if (kvm_ioctl(fd, KVM_GET_SREGS, &probe) != 0) return true;
  memset(probe.interrupt_bitmap, 0, sizeof probe.interrupt_bitmap);
  probe.cs.l = 0;
  probe.efer = 0;
  probe.cr0 = 0x11;  // PE | ET
  probe.cr3 = 0;
  probe.cr4 = 0;
  if (reg == HV_X86_CR0) probe.cr0 = value;
  else probe.cr4 = value;
  // KVM_SET_SREGS: EINVAL for CR0 bits 63:32, CR0.NW without CD, CR0.PG without PE, and CR4 bits
  // the vCPU's CPUID does not allow.
  // Any other failure is not KVM judging the value: accept it, KVM_RUN will tell.
  return kvm_ioctl(fd, KVM_SET_SREGS, &probe) == 0 || errno != EINVAL;
}

}  // namespace

extern "C" {

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !value || static_cast<unsigned>(reg) >= HV_X86_REGISTERS_MAX) return HV_BAD_ARGUMENT;
  if (__u64 *g = gpr_slot(v->regs, reg)) {
    *value = *g;
    return HV_SUCCESS;
  }
  int si = selector_index(reg);
  if (si >= 0) {
    *value = seg_by_index(v->sregs, si)->selector;
    return HV_SUCCESS;
  }
  kvm_sregs &s = v->sregs;
  switch (reg) {
    case HV_X86_IDT_BASE: *value = s.idt.base; break;
    case HV_X86_IDT_LIMIT: *value = s.idt.limit; break;
    case HV_X86_GDT_BASE: *value = s.gdt.base; break;
    case HV_X86_GDT_LIMIT: *value = s.gdt.limit; break;
    case HV_X86_LDT_BASE: *value = s.ldt.base; break;
    case HV_X86_LDT_LIMIT: *value = s.ldt.limit; break;
    case HV_X86_LDT_AR: *value = ar_of(s.ldt); break;
    case HV_X86_TSS_BASE: *value = s.tr.base; break;
    case HV_X86_TSS_LIMIT: *value = s.tr.limit; break;
    case HV_X86_TSS_AR: *value = ar_of(s.tr); break;
    case HV_X86_CR0: *value = s.cr0; break;
    case HV_X86_CR1: *value = v->cr1; break;
    case HV_X86_CR2: *value = s.cr2; break;
    case HV_X86_CR3: *value = s.cr3; break;
    case HV_X86_CR4: *value = s.cr4 | (v->cr4_vmxe ? (1u << 13) : 0); break;
    case HV_X86_TPR: *value = s.cr8; break;
    case HV_X86_DR4: *value = v->dr4; break;
    case HV_X86_DR5: *value = v->dr5; break;
    case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3: case HV_X86_DR6: case HV_X86_DR7:
      if (!load_dregs(*v)) return HV_ERROR;
      *value = reg == HV_X86_DR6 ? v->dregs.dr6 : reg == HV_X86_DR7 ? v->dregs.dr7 : v->dregs.db[reg - HV_X86_DR0];
      break;
    case HV_X86_XCR0: {
      if (!load_xcrs(*v)) return HV_ERROR;
      __u64 *x = xcr0_slot(v->xcrs);
      *value = x ? *x : 1;
      break;
    }
    default: return HV_BAD_ARGUMENT;
  }
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || static_cast<unsigned>(reg) >= HV_X86_REGISTERS_MAX) return HV_BAD_ARGUMENT;
  if (__u64 *g = gpr_slot(v->regs, reg)) {
    *g = value;
    v->regs_dirty = true;
    return HV_SUCCESS;
  }
  int si = selector_index(reg);
  kvm_sregs &s = v->sregs;
  if (si >= 0) {
    seg_by_index(s, si)->selector = static_cast<uint16_t>(value);
    v->sregs_dirty = true;
    return HV_SUCCESS;
  }
  switch (reg) {
    case HV_X86_IDT_BASE: s.idt.base = value; break;
    case HV_X86_IDT_LIMIT: s.idt.limit = static_cast<uint16_t>(value); break;
    case HV_X86_GDT_BASE: s.gdt.base = value; break;
    case HV_X86_GDT_LIMIT: s.gdt.limit = static_cast<uint16_t>(value); break;
    case HV_X86_LDT_BASE: s.ldt.base = value; break;
    case HV_X86_LDT_LIMIT: s.ldt.limit = static_cast<uint32_t>(value); break;
    case HV_X86_LDT_AR: set_ar(s.ldt, value); break;
    case HV_X86_TSS_BASE: s.tr.base = value; break;
    case HV_X86_TSS_LIMIT: s.tr.limit = static_cast<uint32_t>(value); break;
    case HV_X86_TSS_AR: set_ar(s.tr, value); break;
    case HV_X86_CR0:
      if (!sregs_value_accepted(HV_X86_CR0, value)) return HV_BAD_ARGUMENT;
      s.cr0 = value;
      break;
    case HV_X86_CR1: v->cr1 = value; return HV_SUCCESS;
    case HV_X86_CR2: s.cr2 = value; break;
    case HV_X86_CR3: s.cr3 = value; break;
    case HV_X86_CR4: {
      // CR4.VMXE is kept aside (VMX needs it, KVM without nested VMX refuses it): not KVM's to judge.
      uint64_t kvm_cr4 = value & ~static_cast<uint64_t>(kCr4Vmxe);
      if (!sregs_value_accepted(HV_X86_CR4, kvm_cr4)) return HV_BAD_ARGUMENT;
      v->cr4_vmxe = value & kCr4Vmxe;
      s.cr4 = kvm_cr4;
      break;
    }
    case HV_X86_TPR:
      // A CR8 with bits above 3 fails VM entry on this KVM (exit 33, x86_64-native-kvm-4).
      if (value & ~kCr8Bits) return HV_BAD_ARGUMENT;
      s.cr8 = value;
      break;
    case HV_X86_DR4: v->dr4 = value; return HV_SUCCESS;
    case HV_X86_DR5: v->dr5 = value; return HV_SUCCESS;
    case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3: case HV_X86_DR6: case HV_X86_DR7:
      // DR6/DR7 bits 63:32 are reserved (must be 0: VM entry checks DR7, MOV DR #GPs) and
      // KVM_SET_DEBUGREGS refuses them.
      if ((reg == HV_X86_DR6 || reg == HV_X86_DR7) && (value >> 32)) return HV_BAD_ARGUMENT;
      if (!load_dregs(*v)) return HV_ERROR;
      if (reg == HV_X86_DR6) v->dregs.dr6 = value;
      else if (reg == HV_X86_DR7) v->dregs.dr7 = value;
      else v->dregs.db[reg - HV_X86_DR0] = value;
      v->dregs_dirty = true;
      return HV_SUCCESS;
    case HV_X86_XCR0: {
      if (!load_xcrs(*v)) return HV_ERROR;
      kvm_xcrs next = v->xcrs;
      __u64 *x = xcr0_slot(next);
      if (!x) {
        if (next.nr_xcrs >= KVM_MAX_XCRS) return HV_ERROR;
        next.xcrs[next.nr_xcrs].xcr = 0;
        x = &next.xcrs[next.nr_xcrs++].value;
      }
      *x = value;
      // KVM_SET_XCRS, now rather than before the next run: EINVAL for an XCR0 the vCPU's CPUID does
      // not allow (x87 clear, AVX without SSE, partial AVX-512, unsupported bits), which a real
      // XSETBV refuses too; refused, nothing changes.
      if (kvm_ioctl(v->fd, KVM_SET_XCRS, &next) != 0) return errno == EINVAL ? HV_BAD_ARGUMENT : HV_ERROR;
      v->xcrs = next;
      v->xcrs_valid = true;
      v->xcrs_dirty = false;
      return HV_SUCCESS;
    }
    default: return HV_BAD_ARGUMENT;
  }
  v->sregs_dirty = true;
  return HV_SUCCESS;
}

}  // extern "C"
