// vm.cc — the VM (one per process), its guest-physical memory, capabilities and availability.
//
// Memory: the VMM's mappings are kept as disjoint Regions with HVF flags; the KVM memslots are derived
// from them (notes §3, §4): RWX → normal slot, RX/X/WX → KVM_MEM_READONLY slot, anything else → no
// slot, where each data access becomes an MMIO exit that vcpu.cc completes or reports. After every
// change the slot set is recomputed with adjacent compatible regions merged, and only the slots that
// differ are deleted and recreated (a slot cannot be reshaped, notes §4).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "internal.h"

namespace hvkvm {

std::mutex g_mu;
Vm *g_vm = nullptr;

SlotKind slot_kind_for(uint32_t flags) {
  switch (flags & kRWX) {
    case kRWX: return SlotKind::kNormal;
    case HV_MEMORY_READ | HV_MEMORY_EXEC:
    case HV_MEMORY_EXEC:                    // best effort: reads leak (kvm.exec-only)
    case HV_MEMORY_WRITE | HV_MEMORY_EXEC:  // best effort: reads leak, writes completed by us
      return SlotKind::kReadOnly;
    default: return SlotKind::kNone;  // 0, R, W, RW: trap mode
  }
}

namespace {

void kick_handler(int) {}

// KVM_SET_USER_MEMORY_REGION: creates (size > 0) or deletes (size 0) slot `id`; EEXIST on overlap,
// EINVAL when an existing slot would be reshaped (notes §4).
int set_slot(Vm &vm, uint32_t id, uint64_t gpa, uint64_t size, uint8_t *hva, bool readonly) {
  kvm_userspace_memory_region r{};
  r.slot = id;
  r.flags = readonly ? KVM_MEM_READONLY : 0;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(hva);
  return ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

// The slot set the current regions call for, merging neighbours that KVM can serve as one slot.
std::vector<Slot> wanted_slots(const Vm &vm) {
  std::vector<Slot> out;
  for (const auto &[gpa, r] : vm.regions) {
    SlotKind k = slot_kind_for(r.flags);
    if (k == SlotKind::kNone) continue;
    bool ro = k == SlotKind::kReadOnly;
    if (!out.empty()) {
      Slot &last = out.back();
      if (last.readonly == ro && last.gpa + last.size == gpa && last.hva + last.size == r.hva) {
        last.size += r.size;
        continue;
      }
    }
    out.push_back(Slot{0, gpa, r.size, r.hva, ro});
  }
  return out;
}

// Brings KVM's memslots in line with vm.regions. Caller holds vm.mem_mu.
bool sync_slots(Vm &vm) {
  vm.mem_generation++;
  std::vector<Slot> want = wanted_slots(vm);
  std::vector<Slot> keep;
  // Delete slots that are no longer wanted exactly as they are.
  for (const Slot &s : vm.slots) {
    bool still = false;
    for (const Slot &w : want)
      if (w == s) still = true;
    if (still) {
      keep.push_back(s);
    } else {
      set_slot(vm, s.id, s.gpa, 0, s.hva, s.readonly);
      vm.free_slot_ids.push_back(s.id);
    }
  }
  bool ok = true;
  for (Slot w : want) {
    bool have = false;
    for (const Slot &s : keep)
      if (s == w) have = true;
    if (have) continue;
    if (!vm.free_slot_ids.empty()) {
      w.id = vm.free_slot_ids.back();
      vm.free_slot_ids.pop_back();
    } else {
      w.id = vm.next_slot_id++;
    }
    if (set_slot(vm, w.id, w.gpa, w.size, w.hva, w.readonly) != 0) {
      vm.free_slot_ids.push_back(w.id);
      ok = false;
      continue;
    }
    keep.push_back(w);
  }
  vm.slots = keep;
  return ok;
}

bool range_ok(uint64_t gpa, size_t size) {
  if (size == 0 || (gpa % kPage) != 0 || (size % kPage) != 0) return false;
  return gpa + size > gpa;  // no wrap past 2^64; KVM also refuses a slot that ends exactly at 2^64
}

// Whether every page of [gpa, gpa+size) is mapped. Caller holds mem_mu.
bool fully_mapped(const Vm &vm, uint64_t gpa, uint64_t size) {
  uint64_t at = gpa, end = gpa + size;
  auto it = vm.regions.upper_bound(at);
  if (it == vm.regions.begin()) return false;
  --it;
  while (at != end) {
    if (it == vm.regions.end() || it->first > at || it->first + it->second.size <= at) return false;
    at = it->first + it->second.size;
    if (at > end || (end != 0 && at == 0)) break;
    ++it;
  }
  return true;
}

// Splits the region containing `at` so that a region starts at `at`. Caller holds mem_mu.
void split_at(Vm &vm, uint64_t at) {
  auto it = vm.regions.upper_bound(at);
  if (it == vm.regions.begin()) return;
  --it;
  Region &r = it->second;
  if (r.gpa == at || r.gpa + r.size <= at) return;
  Region tail{at, r.gpa + r.size - at, r.hva + (at - r.gpa), r.flags};
  r.size = at - r.gpa;
  vm.regions.emplace(at, tail);
}

// Merges neighbouring regions with the same flags and contiguous host memory. Caller holds mem_mu.
void merge_regions(Vm &vm) {
  auto it = vm.regions.begin();
  while (it != vm.regions.end()) {
    auto next = std::next(it);
    if (next == vm.regions.end()) break;
    Region &a = it->second;
    const Region &b = next->second;
    if (a.gpa + a.size == b.gpa && a.hva + a.size == b.hva && a.flags == b.flags) {
      a.size += b.size;
      vm.regions.erase(next);
    } else {
      it = next;
    }
  }
}

hv_return_t vm_missing() { return HV_NO_DEVICE; }

// Applies the new region table to KVM; on failure restores `saved` so the call changes nothing.
hv_return_t commit(Vm &vm, const std::map<uint64_t, Region> &saved) {
  if (sync_slots(vm)) return HV_SUCCESS;
  vm.regions = saved;
  sync_slots(vm);
  return HV_NO_RESOURCES;
}

}  // namespace

int kick_signal() { return SIGRTMIN + 5; }

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A no-op handler, so that the kick can never terminate the process even if it is delivered
    // (normally it is blocked on the vCPU thread and only interrupts KVM_RUN, notes §6 B).
    struct sigaction sa {};
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(kick_signal(), &sa, nullptr);
  });
}

uint32_t region_flags(Vm &vm, uint64_t gpa, bool *mapped, uint64_t *generation) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  *generation = vm.mem_generation;
  auto it = vm.regions.upper_bound(gpa);
  if (it != vm.regions.begin()) {
    --it;
    if (gpa - it->first < it->second.size) {
      *mapped = true;
      return it->second.flags;
    }
  }
  *mapped = false;
  return 0;
}

namespace {
// Host address of gpa, with the number of bytes available in that region. Caller holds mem_mu.
uint8_t *host_of(Vm &vm, uint64_t gpa, uint64_t *avail, uint32_t *flags) {
  auto it = vm.regions.upper_bound(gpa);
  if (it == vm.regions.begin()) return nullptr;
  --it;
  const Region &r = it->second;
  if (gpa - r.gpa >= r.size) return nullptr;
  *avail = r.size - (gpa - r.gpa);
  *flags = r.flags;
  return r.hva + (gpa - r.gpa);
}
}  // namespace

bool read_guest_phys(Vm &vm, uint64_t gpa, void *out, size_t len) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  auto *dst = static_cast<uint8_t *>(out);
  while (len) {
    uint64_t avail;
    uint32_t flags;
    uint8_t *src = host_of(vm, gpa, &avail, &flags);
    if (!src) return false;
    size_t n = len < avail ? len : avail;
    memcpy(dst, src, n);
    dst += n;
    gpa += n;
    len -= n;
  }
  return true;
}

bool write_guest_phys(Vm &vm, uint64_t gpa, const void *in, size_t len) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  auto *src = static_cast<const uint8_t *>(in);
  while (len) {
    uint64_t avail;
    uint32_t flags;
    uint8_t *dst = host_of(vm, gpa, &avail, &flags);
    if (!dst) return false;
    size_t n = len < avail ? len : avail;
    memcpy(dst, src, n);
    src += n;
    gpa += n;
    len -= n;
  }
  return true;
}

bool try_complete_access(Vm &vm, uint64_t gpa, uint8_t *data, size_t len, bool is_write, uint32_t *flags,
                         bool *mapped) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  uint32_t need = is_write ? HV_MEMORY_WRITE : HV_MEMORY_READ;
  // Check every byte's region first, so that a refused access changes nothing.
  *mapped = false;
  *flags = 0;
  for (size_t done = 0; done < len;) {
    uint64_t avail;
    uint32_t f;
    uint8_t *p = host_of(vm, gpa + done, &avail, &f);
    if (done == 0) {
      *mapped = p != nullptr;
      *flags = p ? f : 0;
    }
    if (!p || !(f & need)) return false;
    done += avail;
  }
  for (size_t done = 0; done < len;) {
    uint64_t avail;
    uint32_t f;
    uint8_t *p = host_of(vm, gpa + done, &avail, &f);
    size_t n = len - done < avail ? len - done : avail;
    if (is_write) memcpy(p, data + done, n);
    else memcpy(data + done, p, n);
    done += n;
  }
  return true;
}

void release_memory(Vm &vm) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  for (const Slot &s : vm.slots) set_slot(vm, s.id, s.gpa, 0, s.hva, s.readonly);
  vm.slots.clear();
  vm.regions.clear();
}

Vcpu *find_vcpu(hv_vcpuid_t id, bool owner_only) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return nullptr;
  auto it = g_vm->vcpus.find(id);
  if (it == g_vm->vcpus.end()) return nullptr;
  if (owner_only && !pthread_equal(it->second->owner, pthread_self())) return nullptr;
  return it->second;
}

}  // namespace hvkvm

using namespace hvkvm;

namespace {

int open_kvm(char *why, size_t len) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
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
  int api = ioctl(fd, KVM_GET_API_VERSION, 0);
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
    if (ioctl(fd, KVM_CHECK_EXTENSION, c.cap) <= 0) {
      if (why && len) snprintf(why, len, "/dev/kvm: the kernel lacks %s (needs Linux 4.19 or later)", c.name);
      close(fd);
      return -1;
    }
  }
  return fd;
}

const hvkvm_deviation_t kDeviations[] = {
    {"kvm.exec-only",
     "Execute-only (X) memory cannot be made unreadable on KVM x86: it is a read-only memslot, so "
     "guest reads succeed; writes and the other rules are enforced.",
     1u << HV_MEMORY_EXEC},
    {"kvm.write-exec",
     "WRITE|EXEC memory is a read-only memslot whose writes the provider completes: guest reads "
     "succeed although READ is not granted.",
     1u << (HV_MEMORY_WRITE | HV_MEMORY_EXEC)},
    {"kvm.trap-mode",
     "NONE, READ, WRITE and READ|WRITE memory has no memslot: the provider completes each permitted "
     "access itself (one exit per access, no atomicity for locked read-modify-write), and guest page "
     "tables cannot live in such memory.",
     (1u << 1) | (1u << 2) | (1u << 3)},
    {"kvm.address-spaces",
     "KVM has one memslot set per VM: hv_vm_space_create returns HV_UNSUPPORTED and "
     "HV_CAP_ADDRSPACEMAX is 1.",
     0},
    {"kvm.controls",
     "VM-execution controls, the exception bitmap, CR0/CR4 masks and shadows and other control fields "
     "are stored and read back but have no effect: KVM handles CPUID, MSRs, CR accesses and guest "
     "exceptions in the kernel (no exits 0, 10, 28, 31, 32), and always exits on HLT and I/O.",
     0},
    {"kvm.cr-shadow",
     "The guest reads its real CR0/CR4 (not the VMCS read shadows). CR4.VMXE is kept for the VMM but "
     "not given to KVM.",
     0},
    {"kvm.run-until",
     "hv_vcpu_run_until with a finite deadline returns HV_UNSUPPORTED (no preemption timer).", 0},
    {"kvm.string-io",
     "For INS/OUTS exits KVM has already done one iteration: RSI/RDI/RCX are past it when the exit "
     "is reported.",
     0},
    {"kvm.unhandled-exit",
     "hv_vcpu_run returns HV_ERROR for a KVM exit with no VMX equivalent, e.g. an instruction KVM's "
     "emulator cannot execute (on PVM hosts all ring-0 code is emulated). HVKVM_DEBUG=1 prints it.",
     0},
    {"kvm.ept-instr-len",
     "For EPT violations VMCS_RO_VMEXIT_INSTR_LEN is the decoded length of the instruction at RIP "
     "(0 when it cannot be decoded); on VMX the field is undefined for these exits.",
     0},
    {"kvm.vcpu-ids",
     "KVM never frees a vCPU before its VM: one VM can create at most KVM_CAP_MAX_VCPUS vCPUs over its "
     "lifetime (destroyed ones count, and so does the provider's own probe vCPU, created by the first "
     "hv_vcpu_write_register of CR0 or CR4); beyond that hv_vcpu_create returns HV_NO_RESOURCES.",
     0},
    {"kvm.register-values",
     "hv_vcpu_write_register returns HV_BAD_ARGUMENT, changing nothing, for a value KVM cannot load: "
     "TPR above 15, DR6/DR7 with bits 63:32 set, an XCR0 the vCPU's CPUID does not allow, a CR0 or CR4 "
     "value KVM_SET_SREGS refuses on its own. Combinations (e.g. CR0.PG with EFER.LME but not CR4.PAE) "
     "are not checked there: they give a VM-entry-failure exit on the next run, as VMX does. The same "
     "values written through hv_vmx_vcpu_write_vmcs are taken and fail VM entry.",
     0},
};

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
  if (list) *list = kDeviations;
  return sizeof(kDeviations) / sizeof(kDeviations[0]);
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
  int max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
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
  if (g_vm) return HV_BUSY;  // one VM per process (facts §0.3 [H]); code per decisions.md
  if (flags & ~known) return HV_BAD_ARGUMENT;
  int sys = open_kvm(nullptr, 0);
  if (sys < 0) return HV_NO_DEVICE;
  auto *vm = new Vm();
  vm->sys_fd = sys;
  // KVM_CREATE_VM(0): a new VM of the default type; returns its fd.
  vm->vm_fd = ioctl(sys, KVM_CREATE_VM, 0);
  if (vm->vm_fd < 0) {
    close(sys);
    delete vm;
    return errno == ENOMEM ? HV_NO_RESOURCES : HV_ERROR;
  }
  // KVM_GET_VCPU_MMAP_SIZE: size of the shared kvm_run area of each vCPU fd.
  int mmap_size = ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0);
  // KVM_SET_TSS_ADDR: 3 pages of guest-physical space VMX uses for real-mode emulation when
  // unrestricted guest is missing; placed where QEMU puts it. Harmless (and may fail) elsewhere.
  ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfeffd000ul);
  // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS) on the VM: vCPUs this VM may create.
  int max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max > 0 && static_cast<unsigned>(max) < vm->max_vcpus) vm->max_vcpus = max;
  // KVM_GET_SUPPORTED_CPUID: fills up to nent entries with what KVM can give a guest; E2BIG if too few.
  uint32_t nent = 256;
  uint8_t *cpuid = nullptr;
  for (;;) {
    cpuid = static_cast<uint8_t *>(calloc(1, kCpuid2Header + nent * sizeof(kvm_cpuid_entry2)));
    memcpy(cpuid, &nent, sizeof nent);
    if (ioctl(sys, kKvmGetSupportedCpuid, cpuid) == 0) break;
    free(cpuid);
    cpuid = nullptr;
    if (errno != E2BIG || nent > 4096) break;
    nent *= 2;
  }
  if (mmap_size <= 0 || !cpuid) {
    free(cpuid);
    close(vm->vm_fd);
    close(sys);
    delete vm;
    return HV_ERROR;
  }
  vm->run_size = mmap_size;
  vm->cpuid = cpuid;
  install_kick_handler();
  g_vm = vm;
  return HV_SUCCESS;
}

hv_return_t hv_vm_destroy(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!g_vm->vcpus.empty()) return HV_BUSY;  // "requires all vCPUs be destroyed" [H]
  Vm *vm = g_vm;
  release_memory(*vm);
  free(vm->cpuid);
  if (vm->probe_fd >= 0) close(vm->probe_fd);
  close(vm->vm_fd);
  close(vm->sys_fd);
  delete vm;
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

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!uva || !range_ok(gpa, size) || (reinterpret_cast<uintptr_t>(uva) % kPage) != 0 || (flags & ~uint64_t{kRWX}))
    return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  // Overlap with any existing region → HV_ERROR ([R] arm64; decisions.md for x86).
  uint64_t end = gpa + size;
  auto it = vm.regions.lower_bound(gpa);
  if (it != vm.regions.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size > gpa) return HV_ERROR;
  }
  if (it != vm.regions.end() && (end == 0 || it->first < end)) return HV_ERROR;
  auto saved = vm.regions;
  vm.regions.emplace(gpa, Region{gpa, size, const_cast<uint8_t *>(static_cast<const uint8_t *>(uva)),
                                 static_cast<uint32_t>(flags)});
  merge_regions(vm);
  return commit(vm, saved);
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!range_ok(gpa, size)) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  uint64_t end = gpa + size;
  auto saved = vm.regions;
  split_at(vm, gpa);
  if (end != 0) split_at(vm, end);
  // Every mapped page in the range is removed; pages that were not mapped are ignored (decisions.md).
  for (auto it = vm.regions.lower_bound(gpa); it != vm.regions.end() && (end == 0 || it->first < end);)
    it = vm.regions.erase(it);
  merge_regions(vm);
  return commit(vm, saved);
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!range_ok(gpa, size) || (flags & ~uint64_t{kRWX})) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  if (!fully_mapped(vm, gpa, size)) return HV_BAD_ARGUMENT;  // decisions.md: unmapped page → BAD_ARGUMENT
  uint64_t end = gpa + size;
  auto saved = vm.regions;
  split_at(vm, gpa);
  if (end != 0) split_at(vm, end);
  for (auto it = vm.regions.lower_bound(gpa); it != vm.regions.end() && (end == 0 || it->first < end); ++it)
    it->second.flags = static_cast<uint32_t>(flags);
  merge_regions(vm);
  return commit(vm, saved);
}

hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
                            hv_memory_flags_t flags) {
  if (asid != HV_VM_SPACE_DEFAULT) {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_vm ? HV_BAD_ARGUMENT : HV_NO_DEVICE;
  }
  return hv_vm_map(uva, gpa, size, flags);
}

hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size) {
  if (asid != HV_VM_SPACE_DEFAULT) {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_vm ? HV_BAD_ARGUMENT : HV_NO_DEVICE;
  }
  return hv_vm_unmap(gpa, size);
}

hv_return_t hv_vm_protect_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags) {
  if (asid != HV_VM_SPACE_DEFAULT) {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_vm ? HV_BAD_ARGUMENT : HV_NO_DEVICE;
  }
  return hv_vm_protect(gpa, size, flags);
}

}  // extern "C"
