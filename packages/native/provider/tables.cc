// tables.cc — the guest's paging structures, so that KVM can walk them wherever the VMM put them.
//
// KVM reads guest page tables only from memslots (notes §3), and READ and READ|WRITE memory has none
// (trap mode): a guest whose tables live there (as the spec's paging setups map them) would take a
// #PF on every access, where the framework's EPT permits the walk (it needs READ only). Before each
// entry with paging on, the provider walks the tables from CR3 itself (Intel SDM Vol. 3 §4.3–4.5)
// and gives the trap-mode pages among them a read-only memslot (memory.cc, mark_guest_tables). The
// walk is repeated only when CR0.PG, CR3, CR4, EFER, the memory map or a marked page changed.
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <unordered_set>
#include <vector>

#include "internal.h"

namespace hvkvm {

namespace {

constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pse = 1ull << 4, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr uint64_t kEferLma = 1ull << 10, kEferLme = 1ull << 8;
constexpr uint64_t kPresent = 1, kPageSize = 1ull << 7;
constexpr uint64_t kAddr64 = 0x000ffffffffff000ull;  // bits 51:12 of a 64-bit entry
// A bound on the walk (paging structures visited): guests with more tables than this in trap-mode
// memory are not fully served (README, deviation kvm.trap-mode).
constexpr size_t kMaxTables = 4096;

struct Walk {
  std::vector<uint64_t> pages;
  std::unordered_set<uint64_t> seen;  // page | level: shared and self-referencing tables once each
  bool full() const { return pages.size() >= kMaxTables; }
};

// Reads one paging structure; false when it is not in guest memory (the walk stops there, as the
// guest's own walk would fail).
bool read_table(uint64_t gpa, void *buf, size_t len) { return read_guest_phys(*g_vm, gpa, buf, len); }

// A 64-bit-entry structure at `gpa` at `level` (1 = page table); leaves (PS at levels 2 and 3, and
// level 1) end the walk below them.
void walk64(Walk &w, uint64_t gpa, int level) {
  if (w.full() || !w.seen.insert((gpa & ~(kPage - 1)) | static_cast<uint64_t>(level)).second) return;
  w.pages.push_back(gpa & ~(kPage - 1));
  if (level == 1) return;
  uint64_t e[512];
  if (!read_table(gpa & ~(kPage - 1), e, sizeof e)) return;
  for (uint64_t x : e) {
    if (!(x & kPresent)) continue;
    if ((level == 2 || level == 3) && (x & kPageSize)) continue;
    walk64(w, x & kAddr64, level - 1);
  }
}

// 32-bit paging (SDM §4.3): a page directory of 1024 4-byte entries; PS with CR4.PSE is a 4 MiB page.
void walk32(Walk &w, uint64_t cr3, uint64_t cr4) {
  uint64_t pd = cr3 & 0xfffff000ull;
  w.pages.push_back(pd);
  uint32_t e[1024];
  if (!read_table(pd, e, sizeof e)) return;
  for (uint32_t x : e) {
    if (!(x & kPresent) || ((cr4 & kCr4Pse) && (x & kPageSize))) continue;
    if (w.full()) return;
    w.pages.push_back(x & 0xfffff000u);
  }
}

// PAE paging (SDM §4.4): CR3 bits 31:5 address four PDPTEs, each a page directory of 64-bit entries.
void walk_pae(Walk &w, uint64_t cr3) {
  uint64_t pdpt = cr3 & 0xffffffe0ull;
  w.pages.push_back(pdpt & ~(kPage - 1));
  uint64_t e[4];
  if (!read_table(pdpt, e, sizeof e)) return;
  for (uint64_t x : e)
    if (x & kPresent) walk64(w, x & kAddr64, 2);
}

// The memory of a paging-structure entry: whether the walk may read it, and its permissions.
bool entry_readable(uint64_t gpa, uint32_t *flags) {
  bool mapped;
  uint64_t generation;
  *flags = region_flags(*g_vm, gpa, &mapped, &generation) & kRWX;
  return mapped && (*flags & HV_MEMORY_READ);
}

}  // namespace

bool walk_blocked(Vcpu &v, uint64_t lin, uint64_t *entry_gpa, uint32_t *flags) {
  const kvm_sregs &s = v.sregs;
  if (!(s.cr0 & kCr0Pg)) return false;
  auto blocked = [&](uint64_t gpa) {
    if (entry_readable(gpa, flags)) return false;
    *entry_gpa = gpa;
    return true;
  };
  if (!(s.efer & (kEferLma | kEferLme)) && !(s.cr4 & kCr4Pae)) {
    uint64_t pde_gpa = (s.cr3 & 0xfffff000ull) + ((lin >> 22) & 0x3ff) * 4;
    if (blocked(pde_gpa)) return true;
    uint32_t pde;
    if (!read_guest_phys(*g_vm, pde_gpa, &pde, 4) || !(pde & kPresent) || ((s.cr4 & kCr4Pse) && (pde & kPageSize)))
      return false;
    return blocked((pde & 0xfffff000u) + ((lin >> 12) & 0x3ff) * 4);
  }
  int level;
  uint64_t table;
  if (s.efer & (kEferLma | kEferLme)) {
    level = (s.cr4 & kCr4La57) ? 5 : 4;
    table = s.cr3 & kAddr64;
  } else {
    uint64_t pdpte_gpa = (s.cr3 & 0xffffffe0ull) + ((lin >> 30) & 3) * 8;
    if (blocked(pdpte_gpa)) return true;
    uint64_t pdpte;
    if (!read_guest_phys(*g_vm, pdpte_gpa, &pdpte, 8) || !(pdpte & kPresent)) return false;
    level = 2;
    table = pdpte & kAddr64;
  }
  for (; level >= 1; --level) {
    uint64_t gpa = table + ((lin >> (12 + 9 * (level - 1))) & 0x1ff) * 8;
    if (blocked(gpa)) return true;
    uint64_t x;
    if (!read_guest_phys(*g_vm, gpa, &x, 8) || !(x & kPresent)) return false;
    if (level == 1 || ((level == 2 || level == 3) && (x & kPageSize))) return false;
    table = x & kAddr64;
  }
  return false;
}

namespace {

// A throwaway VM with one vCPU for asking the host a question, made with plain system calls (not the
// provider's fault-injectable ones: the answer is about the host, and is kept). With `ram` bytes, the
// VM has that much anonymous memory at GPA 0 and the vCPU's kvm_run is mapped. A member is -1 (or
// MAP_FAILED / nullptr) when it, or something it needs, could not be made.
struct ProbeVm {
  int sys = -1, vm = -1, cpu = -1;
  void *mem = MAP_FAILED;
  size_t ram;
  kvm_run *run = nullptr;
  size_t run_size = 0;

  explicit ProbeVm(size_t ram_bytes) : ram(ram_bytes) {
    sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (sys < 0) return;
    if (ram > 0) {
      mem = mmap(nullptr, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED) return;
    }
    vm = ioctl(sys, KVM_CREATE_VM, 0);
    if (vm < 0) return;
    if (ram > 0) {
      kvm_userspace_memory_region slot{};
      slot.memory_size = ram;
      slot.userspace_addr = reinterpret_cast<uint64_t>(mem);
      if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) != 0) return;
    }
    cpu = ioctl(vm, KVM_CREATE_VCPU, 0ul);
    if (cpu < 0 || ram == 0) return;
    int size = ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) return;
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
    if (p == MAP_FAILED) return;
    run = static_cast<kvm_run *>(p);
    run_size = static_cast<size_t>(size);
  }
  ~ProbeVm() {
    if (run != nullptr) munmap(run, run_size);
    if (cpu >= 0) close(cpu);
    if (vm >= 0) close(vm);
    if (mem != MAP_FAILED) munmap(mem, ram);
    if (sys >= 0) close(sys);
  }
  ProbeVm(const ProbeVm &) = delete;
  ProbeVm &operator=(const ProbeVm &) = delete;
};

// Asks the host one question on a fresh ProbeVm with `ram` bytes: `ask` gets the probe and its vCPU's
// sregs and returns the answer. Without /dev/kvm, or when the probe cannot be set up, the answer is
// true: nothing to declare.
template <typename Ask>
bool ask_host(size_t ram, Ask ask) {
  ProbeVm p(ram);
  bool ready = ram > 0 ? p.run != nullptr : p.cpu >= 0;
  kvm_sregs s;
  if (!ready || ioctl(p.cpu, KVM_GET_SREGS, &s) != 0) return true;
  return ask(p, s);
}

}  // namespace

bool legacy_paging_works() {
  // Asked once. PVM hosts accept CR0.PG without EFER.LME in KVM_SET_SREGS and silently clear it
  // (README, "What KVM does" §8).
  static const bool works = ask_host(0, [](ProbeVm &p, kvm_sregs &s) {
    s.cr0 = 0x80000011ull;  // PG | ET | PE
    s.cr4 = kCr4Pse;
    s.efer = 0;
    s.cr3 = 0;
    if (ioctl(p.cpu, KVM_SET_SREGS, &s) != 0 || ioctl(p.cpu, KVM_GET_SREGS, &s) != 0) return true;
    return (s.cr0 & kCr0Pg) != 0;
  });
  return works;
}

bool real_idt_limit_checked() {
  // Asked once: a real-mode guest with IDTR.limit 0 runs `int 0x21; hlt` with IVT[0x21] pointing at a
  // second hlt. The architecture raises #GP for the vector beyond the limit, and with limit 0 ends in a
  // triple fault (Intel SDM Vol. 3 §20.1.4): KVM_EXIT_SHUTDOWN. KVM's emulator (PVM) delivers through
  // the IVT anyway: the second hlt.
  static const bool checked = ask_host(0x2000, [](ProbeVm &p, kvm_sregs &s) {
    uint8_t *m = static_cast<uint8_t *>(p.mem);
    const uint8_t code[] = {0xcd, 0x21, 0xf4};
    memcpy(m + 0x1000, code, sizeof code);
    m[0x1010] = 0xf4;
    const uint8_t ivt[] = {0x10, 0x10, 0x00, 0x00};  // IVT[0x21] = 0000:1010
    memcpy(m + 0x21 * 4, ivt, sizeof ivt);
    s.cs.selector = 0;
    s.cs.base = 0;
    s.idt.base = 0;
    s.idt.limit = 0;
    kvm_regs r{};
    r.rip = 0x1000;
    r.rsp = 0x1800;
    r.rflags = 2;
    if (ioctl(p.cpu, KVM_SET_SREGS, &s) != 0 || ioctl(p.cpu, KVM_SET_REGS, &r) != 0 || ioctl(p.cpu, KVM_RUN, 0) != 0)
      return true;
    return p.run->exit_reason != KVM_EXIT_HLT;
  });
  return checked;
}

// PG without PE is no paging mode but an invalid state, which fails VM entry on every host.
bool legacy_paging(const kvm_sregs &s) {
  return (s.cr0 & kCr0Pg) && (s.cr0 & 1) && !(s.efer & (kEferLma | kEferLme));
}

hv_return_t sync_guest_tables(Vcpu &v) {
  const kvm_sregs &s = v.sregs;
  Vm &vm = *g_vm;
  uint64_t key[6] = {s.cr0 & kCr0Pg, s.cr3, s.cr4, s.efer, 0, 0};
  {
    std::lock_guard<std::mutex> lock(vm.mem_mu);
    key[4] = vm.mem_generation;
    key[5] = vm.table_writes;
  }
  if (memcmp(key, v.tables_key, sizeof key) == 0) return HV_SUCCESS;
  Walk w;
  if (s.cr0 & kCr0Pg) {
    if (s.efer & (kEferLma | kEferLme)) walk64(w, s.cr3 & kAddr64, (s.cr4 & kCr4La57) ? 5 : 4);
    else if (s.cr4 & kCr4Pae) walk_pae(w, s.cr3);
    else walk32(w, s.cr3, s.cr4);
  }
  if (hv_return_t r = mark_guest_tables(vm, v.id, std::move(w.pages))) return r;
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  key[4] = vm.mem_generation;
  key[5] = vm.table_writes;
  memcpy(v.tables_key, key, sizeof key);
  return HV_SUCCESS;
}

}  // namespace hvkvm
