// memory.cc — the VM's guest-physical memory: hv_vm_map/unmap/protect and the provider's own
// accesses to guest memory.
//
// The VMM's mappings are kept as disjoint Regions with HVF flags; the KVM memslots are derived from
// them (notes §3, §4): RWX → normal slot, RX/X/WX → KVM_MEM_READONLY slot, anything else → no slot,
// where each data access becomes an MMIO exit that the run loop completes or reports. After every
// change the slot set is recomputed with adjacent compatible regions merged, and only the slots that
// differ are deleted and recreated (a slot cannot be reshaped, notes §4).
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"

namespace hvkvm {

namespace {

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

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!uva || !range_ok(gpa, size) || (reinterpret_cast<uintptr_t>(uva) % kPage) != 0 || (flags & ~uint64_t{kRWX}))
    return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  // Overlap with any existing region → HV_ERROR ([R] arm64; README, return codes, for x86).
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
  // Every mapped page in the range is removed; pages that were not mapped are ignored (README, return
  // codes).
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
  if (!fully_mapped(vm, gpa, size)) return HV_BAD_ARGUMENT;  // an unmapped page (README, return codes)
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
