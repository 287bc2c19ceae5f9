// msr.cc — MSRs: hv_vcpu_read_msr/write_msr, hv_vcpu_enable_native_msr, and KVM's MSR filter, which
// sends every guest RDMSR/WRMSR of an MSR the vCPU does not run natively to the VMM (notes §7).
//
// HVF's native-MSR switch is per vCPU; KVM's filter is per VM. The filter lets through only the MSRs
// that every live vCPU runs natively; a vCPU that runs an MSR natively while another does not still
// gets a user-space exit for it, which the provider completes itself with KVM_GET_MSRS/KVM_SET_MSRS on
// that vCPU (what the guest would have got natively) instead of reporting it.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

namespace {

// The MSRs hv_vcpu_read_msr/write_msr and hv_vcpu_enable_native_msr accept: those Apple's own test
// enables natively and reads back (facts §1.2 [T]). Bit i of Vcpu::native_msrs is kKnownMsrs[i].
constexpr uint32_t kMsrTsc = 0x10, kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrCstar = 0xc0000083, kMsrFmask = 0xc0000084;
constexpr uint32_t kMsrFsBase = 0xc0000100, kMsrGsBase = 0xc0000101, kMsrKernelGsBase = 0xc0000102,
                   kMsrTscAux = 0xc0000103;
const uint32_t kKnownMsrs[] = {kMsrTsc,   kMsrSysenterCs, kMsrSysenterEsp, kMsrSysenterEip,
                               kMsrStar,  kMsrLstar,      kMsrCstar,       kMsrFmask,
                               kMsrFsBase, kMsrGsBase,    kMsrKernelGsBase, kMsrTscAux};
constexpr size_t kKnownCount = sizeof kKnownMsrs / sizeof kKnownMsrs[0];
static_assert(kKnownCount <= 16 && kKnownCount < KVM_MSR_FILTER_MAX_RANGES, "one filter range per MSR, and one more");

int known_msr(uint32_t msr) {
  for (size_t i = 0; i < kKnownCount; ++i)
    if (kKnownMsrs[i] == msr) return static_cast<int>(i);
  return -1;
}

// struct kvm_msrs ends in a flexible array (see kKvmGetSupportedCpuid in internal.h): the C layout by
// hand, with the C ioctl numbers.
constexpr unsigned long kKvmGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);
constexpr unsigned long kKvmSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
struct OneMsr {
  uint32_t nmsrs;
  uint32_t pad;
  kvm_msr_entry entry;
};
static_assert(sizeof(OneMsr) == 8 + 16, "kvm_msrs with one entry");

}  // namespace

bool msr_get(Vcpu &v, uint32_t msr, uint64_t *value) {
  // FS/GS base are in the register file (kvm_sregs), which is newer than KVM's copy between runs.
  if (msr == kMsrFsBase || msr == kMsrGsBase) {
    *value = msr == kMsrFsBase ? v.sregs.fs.base : v.sregs.gs.base;
    return true;
  }
  OneMsr m{1, 0, {}};
  m.entry.index = msr;
  // KVM_GET_MSRS: reads the listed MSRs of the vCPU; returns how many it read.
  if (kvm_ioctl(v.fd, kKvmGetMsrs, &m) != 1) return false;
  *value = m.entry.data;
  return true;
}

bool msr_set(Vcpu &v, uint32_t msr, uint64_t value) {
  if (msr == kMsrFsBase || msr == kMsrGsBase) {
    (msr == kMsrFsBase ? v.sregs.fs : v.sregs.gs).base = value;
    v.sregs_dirty = true;
    return true;
  }
  OneMsr m{1, 0, {}};
  m.entry.index = msr;
  m.entry.data = value;
  // KVM_SET_MSRS: writes the listed MSRs; returns how many it wrote (0 for a value the MSR cannot
  // hold, e.g. a non-canonical LSTAR).
  return kvm_ioctl(v.fd, kKvmSetMsrs, &m) == 1;
}

bool tsc_write_took(Vcpu &v, uint64_t value) {
  uint64_t now = 0;
  // Within about 20 s of guest time of the value written (the read comes right after the write).
  return msr_get(v, kMsrTsc, &now) && now - value < (1ull << 36);
}

bool tsc_writable_probe() {
  int sys = os_open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (sys < 0) return true;
  bool took = true;
  // KVM_CREATE_VM / KVM_CREATE_VCPU: a throwaway VM, only to ask KVM_SET_MSRS/KVM_GET_MSRS about TSC.
  int vm = kvm_ioctl(sys, KVM_CREATE_VM, 0);
  int cpu = vm >= 0 ? kvm_ioctl(vm, KVM_CREATE_VCPU, 0ul) : -1;
  if (cpu >= 0) {
    Vcpu probe;
    probe.fd = cpu;
    took = msr_set(probe, kMsrTsc, 1ull << 40) && tsc_write_took(probe, 1ull << 40);
    probe.fd = -1;
    close(cpu);
  }
  if (vm >= 0) close(vm);
  close(sys);
  return took;
}

bool setup_msr_exits(Vm &vm) {
  // KVM_CHECK_EXTENSION(KVM_CAP_X86_USER_SPACE_MSR / KVM_CAP_X86_MSR_FILTER): Linux 5.10 and later;
  // without them MSR accesses stay in the kernel (deviation kvm.msr-exits), which is not a failure.
  int user_space = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR);
  int filter = user_space > 0 ? kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) : 0;
  if (user_space < 0 || filter < 0) return false;
  if (user_space == 0 || filter == 0) return true;
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  cap.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL;
  // KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR): RDMSR/WRMSR that the filter denies, that KVM does not
  // know, or that would #GP exit to user space (KVM_EXIT_X86_RDMSR/WRMSR) instead.
  if (kvm_ioctl(vm.vm_fd, KVM_ENABLE_CAP, &cap) != 0) return false;
  vm.msr_exits = true;
  vm.msr_filter_native = 1;  // anything but 0, so that the first update installs the deny-all filter
  return update_msr_filter(vm);
}

bool update_msr_filter(Vm &vm) {
  if (!vm.msr_exits) return true;
  uint16_t native = static_cast<uint16_t>((1u << kKnownCount) - 1);
  for (const auto &[id, v] : vm.vcpus) native &= v->native_msrs;
  if (vm.vcpus.empty()) native = 0;
  if (native == vm.msr_filter_native) return true;
  static uint8_t allow_one = 1, deny_one = 0;
  kvm_msr_filter f{};
  f.flags = KVM_MSR_FILTER_DEFAULT_DENY;
  // KVM refuses a deny-by-default filter without ranges (EINVAL): the first range denies MSR 0 itself.
  f.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
  f.ranges[0].base = 0;
  f.ranges[0].nmsrs = 1;
  f.ranges[0].bitmap = &deny_one;
  size_t n = 1;
  for (size_t i = 0; i < kKnownCount; ++i) {
    if (!(native & (1u << i))) continue;
    f.ranges[n].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    f.ranges[n].base = kKnownMsrs[i];
    f.ranges[n].nmsrs = 1;
    f.ranges[n].bitmap = &allow_one;
    ++n;
  }
  // KVM_X86_SET_MSR_FILTER: the MSRs guest RDMSR/WRMSR may access without exiting (copied by KVM;
  // running vCPUs pick it up before their next entry).
  if (kvm_ioctl(vm.vm_fd, KVM_X86_SET_MSR_FILTER, &f) != 0) return false;
  vm.msr_filter_native = native;
  return true;
}

NativeMsr complete_native_msr(Vcpu &v, kvm_run *run) {
  int k = known_msr(run->msr.index);
  if (k < 0 || !(v.native_msrs & (1u << k))) return NativeMsr::kNotNative;
  // A value the MSR cannot hold is the guest's #GP, as natively (error 1: KVM injects it); a failed
  // ioctl (errno other than the refusal's) is the host's, and the exit stays owed.
  errno = 0;
  if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
    uint64_t value = 0;
    if (!msr_get(v, run->msr.index, &value)) return NativeMsr::kFailed;
    run->msr.data = value;
    run->msr.error = 0;
  } else if (msr_set(v, run->msr.index, run->msr.data)) {
    run->msr.error = 0;
  } else {
    if (errno != 0) return NativeMsr::kFailed;
    run->msr.error = 1;
  }
  return NativeMsr::kDone;
}

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_BAD_ARGUMENT;
  auto it = g_vm->vcpus.find(vcpu);
  if (it == g_vm->vcpus.end() || !pthread_equal(it->second->owner, pthread_self())) return HV_BAD_ARGUMENT;
  int k = known_msr(msr);
  if (k < 0) return HV_BAD_ARGUMENT;  // not one the framework lets run natively (README, return codes)
  Vcpu &v = *it->second;
  uint16_t before = v.native_msrs;
  if (enable) v.native_msrs |= static_cast<uint16_t>(1u << k);
  else v.native_msrs &= static_cast<uint16_t>(~(1u << k));
  if (!update_msr_filter(*g_vm)) {
    v.native_msrs = before;
    return HV_ERROR;
  }
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !value || known_msr(msr) < 0) return HV_BAD_ARGUMENT;
  if (!apply_tsc_sync(*v)) return HV_ERROR;
  uint64_t x = 0;
  if (!msr_get(*v, msr, &x)) return HV_ERROR;
  *value = x;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || known_msr(msr) < 0) return HV_BAD_ARGUMENT;
  if (!apply_tsc_sync(*v)) return HV_ERROR;
  // KVM refuses a value the MSR cannot hold (a non-canonical address: KVM_SET_MSRS writes none of it):
  // nothing changes. A failing ioctl is HV_ERROR.
  errno = 0;
  if (!msr_set(*v, msr, value)) return errno ? HV_ERROR : HV_BAD_ARGUMENT;
  // KVM takes a TSC write but cannot apply it where it has no TSC offsetting (PVM, notes §7): the
  // guest keeps the host's TSC (deviation kvm.tsc-write).
  if (msr == kMsrTsc && !tsc_write_took(*v, value)) return HV_UNSUPPORTED;
  return HV_SUCCESS;
}

}  // extern "C"
