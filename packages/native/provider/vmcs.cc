// vmcs.cc — the VMCS view of a KVM vCPU and the synthesised VMX capabilities.
//
// Guest-state fields map onto the register file (kvm_regs / kvm_sregs / debug registers); read-only
// exit fields come from the last exit as vcpu.cc translated it; controls and every other field a VMM
// may write are stored and read back, without effect on KVM (deviation kvm.controls). Framework-owned
// fields (VMCS_CTRL_EPTP [T], the host-state area) and unknown encodings are HV_BAD_ARGUMENT.
#include <algorithm>
#include <bitset>
#include <iterator>
#include <vector>

#include "internal.h"

namespace hvkvm {

namespace {

// Every field encoding of hv_arch_vmx.h: the spec's VMCS table, written by the build from the spec
// (scripts/generate.ts --only native).
const uint32_t kKnownFields[] = {
#include "../addon/generated/vmcs_fields.inc"
};

bool is_read_only(uint32_t f) { return ((f >> 10) & 3) == 1; }
bool is_host_state(uint32_t f) { return ((f >> 10) & 3) == 3; }

// Intel: bits 14:13 width (0 = 16, 1 = 64, 2 = 32, 3 = natural); bit 0 of a 64-bit field = high half.
uint64_t truncate_to_width(uint32_t f, uint64_t v) {
  switch ((f >> 13) & 3) {
    case 0: return v & 0xffff;
    case 2: return v & 0xffffffffull;
    case 1: return (f & 1) ? (v & 0xffffffffull) : v;
    default: return v;
  }
}

// Synthesised capabilities (low 32 bits: must be 1; high 32: may be 1). Must-be-1 holds the Intel
// "default1" reserved bits plus what KVM always does: exit on HLT and on every I/O instruction
// (facts §1.8: with Apple's canonicalisation I/O still exits). May-be-1 adds only controls that are
// harmless to store; exits KVM cannot deliver (CR8, MOV DR, RDTSC, ...) cannot be requested.
constexpr uint32_t kPinMust = 0x16;
constexpr uint32_t kPinMay = kPinMust | PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI;
constexpr uint32_t kProcMust = 0x04006172u | CPU_BASED_HLT | CPU_BASED_UNCOND_IO;  // default1 minus CR3 exits
constexpr uint32_t kProcMay = kProcMust | CPU_BASED_MSR_BITMAPS | CPU_BASED_SECONDARY_CTLS;
constexpr uint32_t kProc2Must = CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED;  // memory is always EPT-like
constexpr uint32_t kProc2May = kProc2Must | CPU_BASED2_VPID;
constexpr uint32_t kEntryMust = 0x11ff;
constexpr uint32_t kEntryMay = kEntryMust | VMENTRY_GUEST_IA32E | VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER;
constexpr uint32_t kExitMust = 0x36dff;
constexpr uint32_t kExitMay = kExitMust | VMEXIT_HOST_IA32E | VMEXIT_ACK_INTR | VMEXIT_SAVE_IA32_PAT |
                              VMEXIT_LOAD_IA32_PAT | VMEXIT_SAVE_EFER | VMEXIT_LOAD_EFER;

constexpr uint64_t cap(uint32_t must, uint32_t may) { return (static_cast<uint64_t>(may) << 32) | must; }

bool control_ok(uint32_t field, uint64_t value) {
  uint64_t c;
  switch (field) {
    case VMCS_CTRL_PIN_BASED: c = cap(kPinMust, kPinMay); break;
    case VMCS_CTRL_CPU_BASED: c = cap(kProcMust, kProcMay); break;
    case VMCS_CTRL_CPU_BASED2: c = cap(kProc2Must, kProc2May); break;
    case VMCS_CTRL_VMENTRY_CONTROLS: c = cap(kEntryMust, kEntryMay); break;
    case VMCS_CTRL_VMEXIT_CONTROLS: c = cap(kExitMust, kExitMay); break;
    default: return true;
  }
  uint32_t must = static_cast<uint32_t>(c), may = static_cast<uint32_t>(c >> 32);
  return (value & must) == must && (value & ~static_cast<uint64_t>(may)) == 0;
}

constexpr uint64_t kCr4Vmxe = 1u << 13;

// IA32_SYSENTER_CS/ESP/EIP (0x174–0x176), whose guest values the VMCS holds.
uint32_t sysenter_msr(uint32_t field) {
  return field == VMCS_GUEST_IA32_SYSENTER_CS ? 0x174 : field == VMCS_GUEST_SYSENTER_ESP ? 0x175 : 0x176;
}

}  // namespace

// Every VMCS encoding is below 0x8000 (bit 15 is reserved, Intel SDM Vol. 3 App. B), so the known set
// is a 4 KiB bitmap: one load per check on the hot path (every hv_vmx_vcpu_read_vmcs, five of them
// after each exit for the addon's exit record), instead of a binary search over the table.
bool vmcs_field_known(uint32_t field) {
  static const std::bitset<0x8000> known = [] {
    std::bitset<0x8000> b;
    for (uint32_t f : kKnownFields)
      if (f < b.size()) b[f] = true;
    return b;
  }();
  return field < known.size() && known[field];
}

hv_return_t vmcs_read(Vcpu &v, uint32_t f, uint64_t *out) {
  if (!vmcs_field_known(f) || f == VMCS_CTRL_EPTP || is_host_state(f)) return HV_BAD_ARGUMENT;
  kvm_sregs &s = v.sregs;
  uint64_t val;
  if (f >= VMCS_GUEST_ES && f <= VMCS_GUEST_TR) {
    val = seg_by_index(s, (f - VMCS_GUEST_ES) / 2)->selector;
  } else if (f >= VMCS_GUEST_ES_LIMIT && f <= VMCS_GUEST_TR_LIMIT) {
    val = seg_by_index(s, (f - VMCS_GUEST_ES_LIMIT) / 2)->limit;
  } else if (f >= VMCS_GUEST_ES_AR && f <= VMCS_GUEST_TR_AR) {
    val = ar_of(*seg_by_index(s, (f - VMCS_GUEST_ES_AR) / 2));
  } else if (f >= VMCS_GUEST_ES_BASE && f <= VMCS_GUEST_TR_BASE) {
    val = seg_by_index(s, (f - VMCS_GUEST_ES_BASE) / 2)->base;
  } else {
    switch (f) {
      case VMCS_GUEST_GDTR_LIMIT: val = s.gdt.limit; break;
      case VMCS_GUEST_IDTR_LIMIT: val = s.idt.limit; break;
      case VMCS_GUEST_GDTR_BASE: val = s.gdt.base; break;
      case VMCS_GUEST_IDTR_BASE: val = s.idt.base; break;
      case VMCS_GUEST_CR0: val = s.cr0; break;
      case VMCS_GUEST_CR3: val = s.cr3; break;
      case VMCS_GUEST_CR4: val = s.cr4 | (v.cr4_vmxe ? kCr4Vmxe : 0); break;
      case VMCS_GUEST_IA32_EFER: val = s.efer; break;
      case VMCS_GUEST_RSP: val = v.regs.rsp; break;
      case VMCS_GUEST_RIP: val = v.regs.rip; break;
      case VMCS_GUEST_RFLAGS: val = v.regs.rflags; break;
      case VMCS_GUEST_DR7:
        if (!load_dregs(v)) return HV_ERROR;
        val = v.dregs.dr7;
        break;
      case VMCS_GUEST_IA32_SYSENTER_CS: case VMCS_GUEST_SYSENTER_ESP: case VMCS_GUEST_SYSENTER_EIP:
        if (!msr_get(v, sysenter_msr(f), &val)) return HV_ERROR;
        break;
      case VMCS_RO_EXIT_REASON: val = v.exit.reason; break;
      case VMCS_RO_EXIT_QUALIFIC: val = v.exit.qualification; break;
      case VMCS_GUEST_PHYSICAL_ADDRESS: val = v.exit.gpa; break;
      case VMCS_RO_GUEST_LIN_ADDR: val = v.exit.gla; break;
      case VMCS_RO_VMEXIT_INSTR_LEN: val = v.exit.instr_len; break;
      case VMCS_RO_VMX_INSTR_INFO: val = v.exit.instr_info; break;
      case VMCS_RO_IO_RCX: val = v.exit.io_rcx; break;
      case VMCS_RO_IO_RSI: val = v.exit.io_rsi; break;
      case VMCS_RO_IO_RDI: val = v.exit.io_rdi; break;
      case VMCS_RO_IO_RIP: val = v.exit.io_rip; break;
      default: {
        auto it = v.vmcs.find(f);
        val = it == v.vmcs.end() ? 0 : it->second;  // never written: 0 (README, return codes)
      }
    }
  }
  *out = truncate_to_width(f, val);
  return HV_SUCCESS;
}

hv_return_t vmcs_write(Vcpu &v, uint32_t f, uint64_t value) {
  if (!vmcs_field_known(f) || f == VMCS_CTRL_EPTP || is_host_state(f) || is_read_only(f) ||
      f == VMCS_GUEST_PHYSICAL_ADDRESS)
    return HV_BAD_ARGUMENT;
  value = truncate_to_width(f, value);
  if (!control_ok(f, value)) return HV_BAD_ARGUMENT;  // "may fail" [H]; the model's code
  kvm_sregs &s = v.sregs;
  if (f >= VMCS_GUEST_ES && f <= VMCS_GUEST_TR) {
    seg_by_index(s, (f - VMCS_GUEST_ES) / 2)->selector = static_cast<uint16_t>(value);
  } else if (f >= VMCS_GUEST_ES_LIMIT && f <= VMCS_GUEST_TR_LIMIT) {
    seg_by_index(s, (f - VMCS_GUEST_ES_LIMIT) / 2)->limit = static_cast<uint32_t>(value);
  } else if (f >= VMCS_GUEST_ES_AR && f <= VMCS_GUEST_TR_AR) {
    set_ar(*seg_by_index(s, (f - VMCS_GUEST_ES_AR) / 2), value);
  } else if (f >= VMCS_GUEST_ES_BASE && f <= VMCS_GUEST_TR_BASE) {
    seg_by_index(s, (f - VMCS_GUEST_ES_BASE) / 2)->base = value;
  } else {
    switch (f) {
      case VMCS_GUEST_GDTR_LIMIT: s.gdt.limit = static_cast<uint16_t>(value); break;
      case VMCS_GUEST_IDTR_LIMIT: s.idt.limit = static_cast<uint16_t>(value); break;
      case VMCS_GUEST_GDTR_BASE: s.gdt.base = value; break;
      case VMCS_GUEST_IDTR_BASE: s.idt.base = value; break;
      case VMCS_GUEST_CR0: s.cr0 = value; break;
      case VMCS_GUEST_CR3: s.cr3 = value; break;
      case VMCS_GUEST_CR4:
        v.cr4_vmxe = value & kCr4Vmxe;  // VMX needs it set; KVM refuses it without nested VMX
        s.cr4 = value & ~kCr4Vmxe;
        break;
      case VMCS_GUEST_IA32_EFER: s.efer = value; break;
      case VMCS_GUEST_RSP:
        v.regs.rsp = value;
        v.regs_dirty = true;
        return HV_SUCCESS;
      case VMCS_GUEST_RIP:
        v.regs.rip = value;
        v.regs_dirty = true;
        return HV_SUCCESS;
      case VMCS_GUEST_RFLAGS:
        v.regs.rflags = value;
        v.regs_dirty = true;
        return HV_SUCCESS;
      case VMCS_GUEST_DR7:
        if (!load_dregs(v)) return HV_ERROR;
        v.dregs.dr7 = value;
        v.dregs_dirty = true;
        return HV_SUCCESS;
      case VMCS_GUEST_IA32_SYSENTER_CS: case VMCS_GUEST_SYSENTER_ESP: case VMCS_GUEST_SYSENTER_EIP:
        // The same state as hv_vcpu_read_msr/write_msr of IA32_SYSENTER_* (KVM_SET_MSRS).
        return msr_set(v, sysenter_msr(f), value) ? HV_SUCCESS : HV_BAD_ARGUMENT;
      default:
        v.vmcs[f] = value;  // stored, no effect on KVM (deviation kvm.controls)
        return HV_SUCCESS;
    }
  }
  v.sregs_dirty = true;
  return HV_SUCCESS;
}

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !value) return HV_BAD_ARGUMENT;
  return vmcs_read(*v, field, value);
}

hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  return vmcs_write(*v, field, value);
}

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value) {
  if (!value) return HV_BAD_ARGUMENT;
  switch (field) {
    case HV_VMX_CAP_PINBASED: case HV_VMX_CAP_TRUE_PINBASED: *value = cap(kPinMust, kPinMay); break;
    case HV_VMX_CAP_PROCBASED: case HV_VMX_CAP_TRUE_PROCBASED: *value = cap(kProcMust, kProcMay); break;
    case HV_VMX_CAP_PROCBASED2: *value = cap(kProc2Must, kProc2May); break;
    case HV_VMX_CAP_ENTRY: case HV_VMX_CAP_TRUE_ENTRY: *value = cap(kEntryMust, kEntryMay); break;
    case HV_VMX_CAP_EXIT: case HV_VMX_CAP_TRUE_EXIT: *value = cap(kExitMust, kExitMay); break;
    // Revision 1, 4 KiB region, write-back, INS/OUTS info (bit 54), TRUE controls (bit 55).
    case HV_VMX_CAP_BASIC: *value = (1ull << 55) | (1ull << 54) | (6ull << 50) | (0x1000ull << 32) | 1; break;
    case HV_VMX_CAP_MISC: *value = 0; break;  // no preemption timer, no activity states
    case HV_VMX_CAP_CR0_FIXED0: *value = 0x20; break;          // NE; PE/PG free (unrestricted guest)
    case HV_VMX_CAP_CR0_FIXED1: *value = 0xffffffffull; break;
    case HV_VMX_CAP_CR4_FIXED0: *value = kCr4Vmxe; break;
    case HV_VMX_CAP_CR4_FIXED1: *value = 0x3727ffull; break;
    case HV_VMX_CAP_VMCS_ENUM: *value = 0x2e; break;
    case HV_VMX_CAP_EPT_VPID_CAP: *value = 0x00000f0106334141ull; break;
    case HV_VMX_CAP_PREEMPTION_TIMER: *value = 0; break;  // none (hv_vcpu_run_until: HV_UNSUPPORTED)
    default: return HV_BAD_ARGUMENT;
  }
  return HV_SUCCESS;
}

}  // extern "C"
