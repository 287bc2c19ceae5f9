// vm.cc — the VM (one per process, facts §0.3 [H]), hv_capability, and the provider's extensions:
// availability, enforced permission sets, deviations.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <new>
#include <vector>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

std::mutex g_mu;
Vm *g_vm = nullptr;

}  // namespace hvkvm

using namespace hvkvm;

namespace {

int open_kvm(char *why, size_t len) {
  int fd = os_open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (why && len) {
      if (e == ENOENT)
        snprintf(why, len,
                 "/dev/kvm does not exist: KVM is not available; load the kvm module (e.g. "
                 "'modprobe kvm_intel' or 'modprobe kvm_amd') and enable virtualisation in the "
                 "firmware or the outer hypervisor");
      else if (e == EACCES || e == EPERM)
        snprintf(why, len,
                 "/dev/kvm: permission denied; add your user to the 'kvm' group "
                 "(sudo usermod -aG kvm $USER) and log in again");
      else
        snprintf(why, len, "/dev/kvm: cannot open: %s", strerror(e));
    }
    return -1;
  }
  // KVM_GET_API_VERSION: returns 12 on every kernel with the stable API.
  int api = kvm_ioctl(fd, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    if (why && len) snprintf(why, len, "/dev/kvm: KVM API version %d, need %d", api, KVM_API_VERSION);
    close(fd);
    return -1;
  }
  static const struct {
    int cap;
    const char *name;
  } need[] = {{KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS"},
              {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
              {KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM"},
              {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"}};
  for (const auto &c : need) {
    // KVM_CHECK_EXTENSION: > 0 when the capability is present.
    if (kvm_ioctl(fd, KVM_CHECK_EXTENSION, c.cap) <= 0) {
      if (why && len) snprintf(why, len, "/dev/kvm: the kernel lacks %s (needs Linux 4.19 or later)", c.name);
      close(fd);
      return -1;
    }
  }
  return fd;
}

const uint32_t kControlsReasons[] = {VMX_REASON_EXC_NMI, VMX_REASON_CPUID, VMX_REASON_MOV_CR, VMX_REASON_MOV_DR};
const uint32_t kVmcallReasons[] = {VMX_REASON_VMCALL};
const uint32_t kMsrReasons[] = {VMX_REASON_RDMSR, VMX_REASON_WRMSR};

// Every host.
const hvkvm_deviation_t kDeviations[] = {
    {"kvm.exec-only",
     "Execute-only (X) memory cannot be made unreadable on KVM x86: it is a read-only memslot, so "
     "guest reads succeed; writes and the other rules are enforced.",
     1u << HV_MEMORY_EXEC, nullptr, 0},
    {"kvm.write-exec",
     "WRITE|EXEC memory is a read-only memslot whose writes the provider completes: guest reads "
     "succeed although READ is not granted.",
     1u << (HV_MEMORY_WRITE | HV_MEMORY_EXEC), nullptr, 0},
    {"kvm.trap-mode",
     "NONE, READ, WRITE and READ|WRITE memory has no memslot: the provider completes each permitted "
     "access itself (one exit per access, no atomicity for locked read-modify-write). Guest page "
     "tables in READ or READ|WRITE memory are served by read-only memslots over the pages a vCPU's "
     "walk from CR3 reached when it entered the guest: fetches from those pages are not refused, "
     "KVM does not set accessed/dirty bits in them, and tables the guest builds and switches to "
     "without an exit are not walkable (#PF).",
     (1u << 1) | (1u << 2) | (1u << 3), nullptr, 0},
    {"x86.exec-tables",
     "Guest page tables in READ or READ|WRITE memory are read-only memslots (KVM walks tables only in "
     "memslots): a guest instruction fetch from those pages is not refused (no EPT violation); the "
     "rest of that memory still traps every access.",
     0, nullptr, 0},
    {"kvm.address-spaces",
     "KVM has one memslot set per VM: hv_vm_space_create returns HV_UNSUPPORTED and "
     "HV_CAP_ADDRSPACEMAX is 1.",
     0, nullptr, 0},
    {"kvm.controls",
     "VM-execution controls, the exception bitmap, CR0/CR4 masks and shadows and other control fields "
     "are stored and read back but have no effect: KVM handles CPUID, CR accesses and guest exceptions "
     "in the kernel (no exits 0, 10, 28), and always exits on HLT and I/O. CPU_BASED_MOV_DR is not "
     "among the allowed controls (KVM runs guest MOV DR itself), so exit 29 never happens.",
     0, kControlsReasons, 4},
    {"kvm.cr-shadow",
     "The guest reads its real CR0/CR4 (not the VMCS read shadows). CR4.VMXE is kept for the VMM but "
     "not given to KVM.",
     0, nullptr, 0},
    {"kvm.run-until",
     "hv_vcpu_run_until with a finite deadline returns HV_UNSUPPORTED (no preemption timer).", 0, nullptr, 0},
    {"kvm.unhandled-exit",
     "hv_vcpu_run returns HV_ERROR for a KVM exit with no VMX equivalent, e.g. an instruction KVM's "
     "emulator cannot execute (on PVM hosts all ring-0 code is emulated). HVKVM_DEBUG=1 prints it.",
     0, nullptr, 0},
    {"kvm.ept-instr-len",
     "For EPT violations VMCS_RO_VMEXIT_INSTR_LEN is the decoded length of the instruction at RIP "
     "(0 when it cannot be decoded); on VMX the field is undefined for these exits.",
     0, nullptr, 0},
    {"kvm.vcpu-ids",
     "KVM never frees a vCPU before its VM: one VM can create at most KVM_CAP_MAX_VCPUS vCPUs over its "
     "lifetime (destroyed ones count, and so does the provider's own probe vCPU, created by the first "
     "hv_vcpu_write_register of CR0 or CR4); beyond that hv_vcpu_create returns HV_NO_RESOURCES.",
     0, nullptr, 0},
    {"kvm.register-values",
     "hv_vcpu_write_register returns HV_BAD_ARGUMENT, changing nothing, for a value KVM cannot load: "
     "TPR above 15, DR6/DR7 with bits 63:32 set, an XCR0 the vCPU's CPUID does not allow, a CR0 or CR4 "
     "value KVM_SET_SREGS refuses on its own. Combinations (e.g. CR0.PG with EFER.LME but not CR4.PAE) "
     "are not checked there: they give a VM-entry-failure exit on the next run, as VMX does. The same "
     "values written through hv_vmx_vcpu_write_vmcs are taken and fail VM entry.",
     0, nullptr, 0},
    {"kvm.vmcall",
     "A guest VMCALL does not exit to the VMM. KVM handles hypercalls in the kernel on Intel hosts; on "
     "AMD and PVM hosts the provider turns KVM's hypercall patching off (which would rewrite the "
     "guest's code, or loop in the kernel), so the guest gets #UD. The provider reports "
     "VMX_REASON_VMCALL (RIP at the VMCALL, length 3, registers as the guest left them) where that #UD "
     "ends in a triple fault at the VMCALL, i.e. a guest without a usable IDT; elsewhere the guest's "
     "own #UD handler runs.",
     0, kVmcallReasons, 1},
    {"kvm.shadow-vmcs",
     "No VMCS shadowing: KVM runs no nested VMX guest here, so HV_VMX_CAP_PROCBASED2 does not offer "
     "CPU_BASED2_VMCS_SHADOW and the shadow-VMCS calls return HV_UNSUPPORTED (as the framework refuses "
     "them on a host without it).",
     0, nullptr, 0},
};

// Only where KVM cannot apply a guest TSC written from user space (PVM: no TSC offsetting).
const hvkvm_deviation_t kTscDeviation = {
    "kvm.tsc-write",
    "KVM cannot set the guest's TSC on this host (no TSC offsetting: the guest reads the host's TSC): "
    "hv_vcpu_write_msr of IA32_TSC and hv_vm_sync_tsc return HV_UNSUPPORTED.",
    0, nullptr, 0};

// Only where KVM drops CR0.PG outside long mode (PVM, measured: README "What KVM does" §8).
const hvkvm_deviation_t kLegacyPagingDeviation = {
    "x86.mode.prot32-paging",
    "KVM on this host cannot run 32-bit or PAE paging (it clears CR0.PG when EFER.LME is 0): "
    "hv_vcpu_run of a vCPU in that state returns HV_UNSUPPORTED without entering the guest. Long "
    "mode paging works.",
    0, nullptr, 0};

// Only where KVM delivers real-mode events without checking the IDT limit (PVM, measured: README
// "What KVM does" §8).
const hvkvm_deviation_t kRealIdtLimitDeviation = {
    "x86.real-mode-idt-limit",
    "In real mode KVM delivers an interrupt or exception through the IVT at IDTR.base without checking "
    "IDTR.limit: where the architecture raises #GP for a vector beyond the limit (and with a small "
    "limit ends in a triple fault), the guest runs the IVT's handler, or the IVT read is an EPT "
    "violation when the IVT is not mapped.",
    0, nullptr, 0};

// Only where KVM cannot send RDMSR/WRMSR to user space (no KVM_CAP_X86_USER_SPACE_MSR or
// KVM_CAP_X86_MSR_FILTER, before Linux 5.10).
const hvkvm_deviation_t kMsrDeviation = {
    "kvm.msr-exits",
    "This kernel cannot send guest RDMSR/WRMSR to user space: KVM handles every MSR access itself, so "
    "exits 31 and 32 never happen and hv_vcpu_enable_native_msr changes nothing.",
    0, kMsrReasons, 2};


// Everything hv_vm_create sets up after the VM's allocation; on failure the caller frees what is there.
hv_return_t init_vm(Vm &vm) {
  // KVM_CREATE_VM(0): a new VM of the default type; returns its fd.
  vm.vm_fd = kvm_ioctl(vm.sys_fd, KVM_CREATE_VM, 0);
  if (vm.vm_fd < 0) return errno == ENOMEM ? HV_NO_RESOURCES : HV_ERROR;
  // KVM_GET_VCPU_MMAP_SIZE: size of the shared kvm_run area of each vCPU fd.
  int mmap_size = kvm_ioctl(vm.sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size <= 0) return HV_ERROR;
  vm.run_size = static_cast<size_t>(mmap_size);
  // KVM_SET_TSS_ADDR: 3 pages of guest-physical space VMX uses for real-mode emulation when
  // unrestricted guest is missing; placed where QEMU puts it. Harmless (and may fail) elsewhere.
  kvm_ioctl(vm.vm_fd, KVM_SET_TSS_ADDR, 0xfeffd000ul);
  // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS) on the VM: vCPUs this VM may create.
  // (Each KVM_CHECK_EXTENSION answers 0 for "absent"; -1 is a failed ioctl, and fails the creation.)
  int max = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max < 0) return HV_ERROR;
  if (max > 0 && static_cast<unsigned>(max) < vm.max_vcpus) vm.max_vcpus = max;
  // KVM_CHECK_EXTENSION(KVM_CAP_NR_MEMSLOTS) on the VM: memslot ids run below it (32764 here; 0 on
  // kernels before 3.x, whose limit was 32).
  int slots = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
  if (slots < 0) return HV_ERROR;
  vm.max_slots = slots > 0 ? static_cast<uint32_t>(slots) : 32;
  // KVM_GET_SUPPORTED_CPUID: fills up to nent entries with what KVM can give a guest; E2BIG if too few.
  for (uint32_t nent = 256;; nent *= 2) {
    uint8_t *cpuid = alloc_fails() ? nullptr
                                   : static_cast<uint8_t *>(calloc(1, kCpuid2Header + nent * sizeof(kvm_cpuid_entry2)));
    if (!cpuid) return HV_NO_RESOURCES;
    memcpy(cpuid, &nent, sizeof nent);
    if (kvm_ioctl(vm.sys_fd, kKvmGetSupportedCpuid, cpuid) == 0) {
      vm.cpuid = cpuid;
      break;
    }
    int err = errno;
    free(cpuid);
    if (err != E2BIG || nent > 4096) return HV_ERROR;
  }
  // KVM_ENABLE_CAP(KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_FIX_HYPERCALL_INSN): without it KVM rewrites a
  // guest's VMCALL into the host vendor's hypercall instruction in guest memory (an EPT write exit on
  // read-only code, and an endless loop inside KVM_RUN on this PVM host, notes §7). With it, the guest
  // gets #UD. Linux 6.0 and later.
  int quirks = kvm_ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
  if (quirks < 0) return HV_ERROR;
  if (quirks & KVM_X86_QUIRK_FIX_HYPERCALL_INSN) {
    kvm_enable_cap quirk{};
    quirk.cap = KVM_CAP_DISABLE_QUIRKS2;
    quirk.args[0] = KVM_X86_QUIRK_FIX_HYPERCALL_INSN;
    if (kvm_ioctl(vm.vm_fd, KVM_ENABLE_CAP, &quirk) != 0) return HV_ERROR;
    vm.hypercall_patching_off = true;
  }
  // Kernels without user-space MSR exits leave msr_exits off (deviation kvm.msr-exits).
  if (!setup_msr_exits(vm)) return HV_ERROR;
  return HV_SUCCESS;
}

void free_vm(Vm *vm) {
  free(vm->cpuid);
  if (vm->probe_fd >= 0) close(vm->probe_fd);
  if (vm->vm_fd >= 0) close(vm->vm_fd);
  if (vm->sys_fd >= 0) close(vm->sys_fd);
  delete vm;
}

}  // namespace

extern "C" {

int hvkvm_available(char *why, size_t len) {
  int fd = open_kvm(why, len);
  if (fd < 0) return 1;
  close(fd);
  if (why && len) why[0] = 0;
  return 0;
}

uint32_t hvkvm_enforced_permissions_mask(void) {
  // 0 (no slot), R/W/RW (trap mode), RX (read-only slot), RWX (normal slot); not X, WX (notes §3).
  return (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 7);
}

size_t hvkvm_deviations(const hvkvm_deviation_t **list) {
  static const std::vector<hvkvm_deviation_t> all = [] {
    std::vector<hvkvm_deviation_t> v(std::begin(kDeviations), std::end(kDeviations));
    int fd = open_kvm(nullptr, 0);
    // KVM_CHECK_EXTENSION on /dev/kvm: what setup_msr_exits needs on every VM.
    bool msr_exits = fd >= 0 && kvm_ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) > 0 &&
                     kvm_ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) > 0;
    if (fd >= 0) close(fd);
    if (!msr_exits) v.push_back(kMsrDeviation);
    if (!tsc_writable_probe()) v.push_back(kTscDeviation);
    if (!legacy_paging_works()) v.push_back(kLegacyPagingDeviation);
    if (!real_idt_limit_checked()) v.push_back(kRealIdtLimitDeviation);
    return v;
  }();
  if (list) *list = all.data();
  return all.size();
}

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value) {
  if (!value) return HV_BAD_ARGUMENT;
  if (capability == HV_CAP_ADDRSPACEMAX) {
    *value = 1;
    return HV_SUCCESS;
  }
  if (capability != HV_CAP_VCPUMAX) return HV_BAD_ARGUMENT;
  int fd = open_kvm(nullptr, 0);
  if (fd < 0) return HV_NO_DEVICE;
  // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS): the most vCPUs one VM may create (0 on old kernels).
  int max = kvm_ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  close(fd);
  if (max <= 0) max = 4;
  *value = static_cast<unsigned>(max) < kMaxVcpus ? static_cast<unsigned>(max) : kMaxVcpus;
  return HV_SUCCESS;
}

hv_return_t hv_vm_create(hv_vm_options_t flags) {
  const uint64_t known = HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE | HV_VM_MITIGATION_B_ENABLE |
                         HV_VM_MITIGATION_C_ENABLE | HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE |
                         HV_VM_ACCEL_APIC;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_vm) return HV_BUSY;  // one VM per process (facts §0.3 [H]); the code: README, return codes
  if (flags & ~known) return HV_BAD_ARGUMENT;
  int sys = open_kvm(nullptr, 0);
  if (sys < 0) return HV_NO_DEVICE;
  Vm *vm = alloc_fails() ? nullptr : new (std::nothrow) Vm();
  if (!vm) {
    close(sys);
    return HV_NO_RESOURCES;
  }
  vm->sys_fd = sys;
  hv_return_t ret = init_vm(*vm);
  if (ret != HV_SUCCESS) {
    free_vm(vm);
    return ret;
  }
  install_kick_handler();
  g_vm = vm;
  return HV_SUCCESS;
}

hv_return_t hv_vm_destroy(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!g_vm->vcpus.empty()) return HV_BUSY;  // "requires all vCPUs be destroyed" [H]
  release_memory(*g_vm);
  free_vm(g_vm);
  g_vm = nullptr;
  return HV_SUCCESS;
}

hv_return_t hv_vm_space_create(hv_vm_space_t *asid) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!asid) return HV_BAD_ARGUMENT;
  return HV_UNSUPPORTED;  // one memslot set per KVM VM (deviation kvm.address-spaces)
}

hv_return_t hv_vm_space_destroy(hv_vm_space_t) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  return HV_BAD_ARGUMENT;  // the default space cannot be destroyed and no other exists
}

}  // extern "C"
