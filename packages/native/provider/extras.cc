// extras.cc — the x86 calls beside registers, VMCS and MSRs: the floating-point state
// (hv_vcpu_read/write_fpstate), hv_vm_sync_tsc, hv_vmx_vcpu_set_apic_address, the VMCS write masks
// (hv_vmx_vcpu_get_cap_write_vmcs), hv_vmx_get_msr_info, and the shadow-VMCS calls.
//
// The provider's synthesised VMX capabilities (vmcs.cc) do not offer VMCS shadowing (KVM has no
// nested VMX here), so the shadow-VMCS calls answer HV_UNSUPPORTED, as the framework does on a host
// without it (facts §1.2: they require CPU_BASED2_VMCS_SHADOW; Apple's test skips without it [T]).
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include <vector>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

namespace {

// struct kvm_xsave ends in a flexible array in newer uapi headers (see kKvmGetSupportedCpuid in
// internal.h): the C ioctl numbers, for its 4096-byte fixed part.
constexpr size_t kXsaveBytes = 4096;
constexpr unsigned long kKvmGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveBytes);
constexpr unsigned long kKvmSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kXsaveBytes);
constexpr unsigned long kKvmGetXsave2 = _IOC(_IOC_READ, KVMIO, 0xcf, kXsaveBytes);
constexpr unsigned long kKvmGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);

constexpr uint32_t kMsrTsc = 0x10, kMsrApicBase = 0x1b, kMsrArchCapabilities = 0x10a,
                   kMsrPerfCapabilities = 0x345;
constexpr uint64_t kApicBaseAddress = 0x000ffffffffff000ull;  // IA32_APIC_BASE bits 51:12

// The XSAVE area KVM transfers for this VM: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) gives its size where the
// guest may use components beyond the first 4 KiB (AMX); otherwise kvm_xsave's 4096 bytes.
size_t xsave_size(Vm &vm) {
  int n = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  return n > static_cast<int>(kXsaveBytes) ? static_cast<size_t>(n) : kXsaveBytes;
}

// A cpuid entry of the VM's KVM_GET_SUPPORTED_CPUID table (C layout, internal.h), or nullptr.
const kvm_cpuid_entry2 *cpuid_entry(const Vm &vm, uint32_t function, uint32_t index) {
  if (!vm.cpuid) return nullptr;
  uint32_t nent = 0;
  memcpy(&nent, vm.cpuid, sizeof nent);
  auto *entries = reinterpret_cast<const kvm_cpuid_entry2 *>(vm.cpuid + kCpuid2Header);
  for (uint32_t i = 0; i < nent; ++i)
    if (entries[i].function == function && entries[i].index == index) return &entries[i];
  return nullptr;
}

// A feature MSR of the host as KVM would give it to a guest (KVM_GET_MSRS on /dev/kvm, Linux 4.17+);
// 0 when KVM does not offer it, i.e. the guest's CPUID does not enumerate it.
uint64_t feature_msr(const Vm &vm, uint32_t msr) {
  struct {
    uint32_t nmsrs, pad;
    kvm_msr_entry entry;
  } m{1, 0, {}};
  m.entry.index = msr;
  // KVM_GET_MSRS on the system fd: reads feature MSRs (those in KVM_GET_MSR_FEATURE_INDEX_LIST);
  // returns how many it read.
  return kvm_ioctl(vm.sys_fd, kKvmGetMsrs, &m) == 1 ? m.entry.data : 0;
}

}  // namespace

bool apply_tsc_sync(Vcpu &v) {
  Vm *vm = g_vm;
  if (!vm) return true;
  uint64_t gen = vm->tsc_sync_gen.load(std::memory_order_acquire);
  if (gen == v.tsc_sync_seen) return true;
  uint64_t value, host;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    gen = vm->tsc_sync_gen.load(std::memory_order_relaxed);
    value = vm->tsc_sync_value;
    host = vm->tsc_sync_host;
  }
  // The guest TSC runs at the host's rate (no TSC scaling is set up): the value asked for, plus the
  // ticks since hv_vm_sync_tsc, is what every vCPU reads now.
  if (!msr_set(v, kMsrTsc, value + (__rdtsc() - host))) return false;
  v.tsc_sync_seen = gen;
  return true;
}

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !buffer) return HV_BAD_ARGUMENT;
  size_t need = xsave_size(*g_vm);
  if (size < need) return HV_BAD_ARGUMENT;  // smaller than the host's XSAVE area (README, return codes)
  std::vector<uint8_t> area(need);
  // KVM_GET_XSAVE: the vCPU's x87/SSE/AVX state in the standard (non-compacted) XSAVE layout;
  // KVM_GET_XSAVE2 the same where the area is larger than 4 KiB.
  if (kvm_ioctl(v->fd, need > kXsaveBytes ? kKvmGetXsave2 : kKvmGetXsave, area.data()) != 0) return HV_ERROR;
  memcpy(buffer, area.data(), need);
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !buffer) return HV_BAD_ARGUMENT;
  size_t need = xsave_size(*g_vm);
  if (size < need) return HV_BAD_ARGUMENT;
  std::vector<uint8_t> area(need);
  memcpy(area.data(), buffer, need);
  // KVM_SET_XSAVE: loads the state; EINVAL for an image the vCPU cannot hold (XSTATE_BV beyond what its
  // CPUID allows, reserved MXCSR bits): nothing is loaded then.
  if (kvm_ioctl(v->fd, kKvmSetXsave, area.data()) != 0) return errno == EINVAL ? HV_BAD_ARGUMENT : HV_ERROR;
  return HV_SUCCESS;
}

hv_return_t hv_vm_sync_tsc(uint64_t tsc) {
  // Where KVM cannot apply a guest TSC (PVM: no TSC offsetting) nothing could be synchronised
  // (deviation kvm.tsc-write). Asked once: the probe creates a throwaway VM.
  static const bool writable = tsc_writable_probe();
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!writable) return HV_UNSUPPORTED;
  // KVM_SET_MSRS on another thread's vCPU would wait for its KVM_RUN to return: each vCPU's owner applies
  // the value itself before its next entry or MSR access (apply_tsc_sync).
  g_vm->tsc_sync_value = tsc;
  g_vm->tsc_sync_host = __rdtsc();
  g_vm->tsc_sync_gen.fetch_add(1, std::memory_order_release);
  return HV_SUCCESS;
}

hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu, hv_gpaddr_t gpa) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || (gpa & (kPage - 1)) != 0 || (gpa & ~kApicBaseAddress) != 0) return HV_BAD_ARGUMENT;
  uint64_t base = 0;
  if (!msr_get(*v, kMsrApicBase, &base)) return HV_ERROR;
  // The guest's IA32_APIC_BASE with the new address, enable/x2APIC/BSP bits kept. KVM_SET_MSRS refuses an
  // address beyond the guest's physical-address width.
  errno = 0;
  if (!msr_set(*v, kMsrApicBase, (base & ~kApicBaseAddress) | gpa)) return errno ? HV_ERROR : HV_BAD_ARGUMENT;
  return HV_SUCCESS;
}

hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *allowed_0,
                                           uint64_t *allowed_1) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !allowed_0 || !allowed_1) return HV_BAD_ARGUMENT;
  // Controls: the synthesised capability (vmcs.cc), whose halves are exactly what vmcs_write checks.
  hv_vmx_capability_t cap;
  switch (field) {
    case VMCS_CTRL_PIN_BASED: cap = HV_VMX_CAP_PINBASED; break;
    case VMCS_CTRL_CPU_BASED: cap = HV_VMX_CAP_PROCBASED; break;
    case VMCS_CTRL_CPU_BASED2: cap = HV_VMX_CAP_PROCBASED2; break;
    case VMCS_CTRL_VMENTRY_CONTROLS: cap = HV_VMX_CAP_ENTRY; break;
    case VMCS_CTRL_VMEXIT_CONTROLS: cap = HV_VMX_CAP_EXIT; break;
    default: {
      // Other fields the VMM may write take any value of their width (Intel: bits 14:13 of the
      // encoding); read-only, host-state, framework-owned and unknown fields have no masks.
      bool read_only = ((field >> 10) & 3) == 1, host = ((field >> 10) & 3) == 3;
      if (!vmcs_field_known(field) || read_only || host || field == VMCS_CTRL_EPTP ||
          field == VMCS_GUEST_PHYSICAL_ADDRESS)
        return HV_BAD_ARGUMENT;
      static const uint64_t kWidth[4] = {0xffff, ~0ull, 0xffffffff, ~0ull};
      uint64_t mask = kWidth[(field >> 13) & 3];
      if (((field >> 13) & 3) == 1 && (field & 1)) mask = 0xffffffff;  // the high half of a 64-bit field
      *allowed_0 = 0;
      *allowed_1 = mask;
      return HV_SUCCESS;
    }
  }
  uint64_t c = 0;
  hv_return_t r = hv_vmx_read_capability(cap, &c);
  if (r != HV_SUCCESS) return r;
  *allowed_0 = c & 0xffffffffu;
  *allowed_1 = c >> 32;
  return HV_SUCCESS;
}

hv_return_t hv_vmx_get_msr_info(hv_vmx_msr_info_t field, uint64_t *value) {
  if (!value) return HV_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;  // the guest's CPUID table comes with the VM
  const Vm &vm = *g_vm;
  // Architectural PMU (CPUID leaf 0AH, Intel SDM Vol. 3 20.2): EAX[15:8] general-purpose counters,
  // EDX[4:0] fixed counters, as KVM offers them to a guest.
  const kvm_cpuid_entry2 *pmu = cpuid_entry(vm, 0xa, 0);
  uint32_t gp = pmu && (pmu->eax & 0xff) ? (pmu->eax >> 8) & 0xff : 0;
  uint32_t fixed = pmu && (pmu->eax & 0xff) >= 2 ? pmu->edx & 0x1f : 0;
  uint64_t counters = (gp ? (1ull << gp) - 1 : 0) | ((fixed ? (1ull << fixed) - 1 : 0) << 32);
  const kvm_cpuid_entry2 *leaf7 = cpuid_entry(vm, 7, 0);
  uint32_t edx7 = leaf7 ? leaf7->edx : 0;
  switch (field) {
    case HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES: *value = feature_msr(vm, kMsrArchCapabilities); break;
    case HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES: *value = feature_msr(vm, kMsrPerfCapabilities); break;
    // Event select: every bit but AnyThread (21) and the reserved high half, as KVM's PMU checks them.
    case HV_VMX_VALID_MSR_IA32_PERFEVNTSEL: *value = gp ? 0xffdfffffull : 0; break;
    case HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL: {
      uint64_t m = 0;
      for (uint32_t i = 0; i < fixed; ++i) m |= 0xbull << (4 * i);  // OS, USR, PMI per counter
      *value = m;
      break;
    }
    case HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL: *value = counters; break;
    case HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS: *value = counters; break;
    // The provider offers the guest no DEBUGCTL features (no LBR or BTF set-up).
    case HV_VMX_VALID_MSR_IA32_DEBUGCTL: *value = 0; break;
    // IBRS (CPUID.7.0:EDX[26]), STIBP ([27]), SSBD ([31]) as KVM enumerates them to the guest.
    case HV_VMX_VALID_MSR_IA32_SPEC_CTRL:
      *value = ((edx7 >> 26) & 1) | (((edx7 >> 27) & 1) << 1) | (((edx7 >> 31) & 1) << 2);
      break;
    // KVM switches IA32_SPEC_CTRL between host and guest itself: the VMM need not manage it.
    case HV_VMX_NEED_MSR_IA32_SPEC_CTRL: *value = 0; break;
    default: return HV_BAD_ARGUMENT;
  }
  return HV_SUCCESS;
}

hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu, uint32_t, hv_shadow_flags_t) {
  return find_vcpu(vcpu, true) ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
}

hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t, uint64_t *) {
  return find_vcpu(vcpu, true) ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
}

hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t, uint64_t) {
  return find_vcpu(vcpu, true) ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
}

}  // extern "C"
