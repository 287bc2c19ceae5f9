// memory.cc — the VM's guest-physical memory: hv_vm_map/unmap/protect and the provider's own
// accesses to guest memory.
//
// The bookkeeping is memslots.h's (interval maps of regions, runs and memslots); each call plans its
// change there, makes KVM's memslots match the plan (KVM_SET_USER_MEMORY_REGION, notes §4), and
// commits it. A call KVM cannot carry out (its memslot limit, or a refusal) changes nothing.
#include <string.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <iterator>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

namespace {

// KVM_SET_USER_MEMORY_REGION: creates (size > 0) or deletes (size 0) memslot `id`; EEXIST on overlap,
// EINVAL when an existing slot would be reshaped (notes §4), for an id at or above
// KVM_CAP_NR_MEMSLOTS, or a GPA beyond the guest's physical address width.
int set_slot(Vm &vm, const MemSlot &s, bool create) {
  kvm_userspace_memory_region r{};
  r.slot = s.id;
  r.flags = s.readonly ? KVM_MEM_READONLY : 0;
  r.guest_phys_addr = s.gpa;
  r.memory_size = create ? s.size : 0;
  r.userspace_addr = reinterpret_cast<uint64_t>(s.hva);
  return kvm_ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

uint32_t take_slot_id(Vm &vm) {
  if (!vm.free_slot_ids.empty()) {
    uint32_t id = vm.free_slot_ids.back();
    vm.free_slot_ids.pop_back();
    return id;
  }
  return vm.next_slot_id++;
}

// Makes KVM's memslots what `plan` says and commits it; on any refusal puts KVM's memslots back and
// changes nothing. Caller holds mem_mu.
hv_return_t apply(Vm &vm, MemPlan &plan) {
  if (plan.remove.empty() && plan.add.empty()) {
    vm.mem.commit(plan);
    return HV_SUCCESS;
  }
  // KVM's limit, checked up front so that a refused call leaves the guest's memslots untouched.
  if (vm.mem.slots().size() - plan.remove.size() + plan.add.size() > vm.max_slots) return HV_NO_RESOURCES;
  vm.mem_generation++;
  size_t removed = 0, added = 0, taken = 0;
  while (removed < plan.remove.size() && set_slot(vm, plan.remove[removed], false) == 0) ++removed;
  if (removed == plan.remove.size()) {
    // New memslots reuse the ids of the dropped ones first, then free ones.
    for (; added < plan.add.size(); ++added) {
      MemSlot &s = plan.add[added];
      if (added < plan.remove.size()) {
        s.id = plan.remove[added].id;
      } else {
        s.id = take_slot_id(vm);
        ++taken;
      }
      if (set_slot(vm, s, true) != 0) break;
    }
    if (added == plan.add.size()) {
      for (size_t i = added; i < plan.remove.size(); ++i) vm.free_slot_ids.push_back(plan.remove[i].id);
      vm.mem.commit(plan);
      return HV_SUCCESS;
    }
  }
  for (size_t i = added; i-- > 0;) set_slot(vm, plan.add[i], false);
  for (size_t i = removed; i-- > 0;) set_slot(vm, plan.remove[i], true);
  for (size_t i = 0; i < taken; ++i) vm.free_slot_ids.push_back(plan.add[plan.remove.size() + i].id);
  return HV_NO_RESOURCES;
}

bool range_ok(uint64_t gpa, size_t size) {
  if (size == 0 || (gpa % kPage) != 0 || (size % kPage) != 0) return false;
  return gpa + size > gpa;  // no wrap past 2^64; KVM also refuses a slot that ends exactly at 2^64
}

hv_return_t vm_missing() { return HV_NO_DEVICE; }

// Host address of gpa, with the bytes available in its region and the region's flags (null, 0 and 0
// when unmapped). Caller holds mem_mu.
uint8_t *host_of(Vm &vm, uint64_t gpa, uint64_t *avail, uint32_t *flags) {
  const Extent *r = vm.mem.region(gpa);
  *avail = r ? r->size - (gpa - r->gpa) : 0;
  *flags = r ? r->attr : 0;
  return r ? r->hva + (gpa - r->gpa) : nullptr;
}

// Copies between guest-physical memory and `buf`, regardless of permissions; false (having copied
// a prefix) at the first unmapped byte. Caller holds mem_mu.
bool copy_guest(Vm &vm, uint64_t gpa, uint8_t *buf, size_t len, bool to_guest) {
  while (len) {
    uint64_t avail;
    uint32_t flags;
    uint8_t *p = host_of(vm, gpa, &avail, &flags);
    if (!p) return false;
    size_t n = len < avail ? len : avail;
    if (to_guest) memcpy(p, buf, n);
    else memcpy(buf, p, n);
    buf += n;
    gpa += n;
    len -= n;
  }
  return true;
}

// A completed guest write to a paging structure in a read-only memslot (kTableBit): KVM's shadow MMU
// only follows writes it performs itself, so the memslot is dropped and created again, which makes
// KVM discard what it derived from the old entries; the vCPU's next entry walks the tables again.
// Caller holds mem_mu.
void refresh_table_slots(Vm &vm, uint64_t gpa, size_t len) {
  for (uint64_t page = gpa & ~(kPage - 1); page < gpa + len; page += kPage) {
    const Extent *r = vm.mem.region(page);
    if (!r || !(r->attr & kTableBit)) continue;
    auto it = vm.mem.slots().upper_bound(page);
    if (it == vm.mem.slots().begin()) continue;
    const MemSlot &s = std::prev(it)->second;
    if (page >= s.gpa + s.size) continue;
    vm.mem_generation++;
    vm.table_writes++;
    // Dropped and created with the same id and range: this cannot hit KVM's limit.
    if (set_slot(vm, s, false) == 0) set_slot(vm, s, true);
  }
}

}  // namespace

uint32_t region_flags(Vm &vm, uint64_t gpa, bool *mapped, uint64_t *generation) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  *generation = vm.mem_generation;
  const Extent *r = vm.mem.region(gpa);
  *mapped = r != nullptr;
  return r ? r->attr : 0;
}

bool read_guest_phys(Vm &vm, uint64_t gpa, void *out, size_t len) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  return copy_guest(vm, gpa, static_cast<uint8_t *>(out), len, false);
}

bool write_guest_phys(Vm &vm, uint64_t gpa, const void *in, size_t len) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  return copy_guest(vm, gpa, static_cast<uint8_t *>(const_cast<void *>(in)), len, true);
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
  if (!copy_guest(vm, gpa, data, len, is_write)) return false;
  if (is_write) refresh_table_slots(vm, gpa, len);
  return true;
}

hv_return_t mark_guest_tables(Vm &vm, hv_vcpuid_t vcpu, std::vector<uint64_t> pages) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  if (pages.empty()) vm.table_pages.erase(vcpu);
  else vm.table_pages[vcpu] = std::move(pages);
  std::vector<uint64_t> wanted;
  for (const auto &[id, list] : vm.table_pages) wanted.insert(wanted.end(), list.begin(), list.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  // Pages marked now but no longer walked lose the mark; the bit in the regions is the truth (a
  // hv_vm_map/protect of the page has already cleared it).
  std::vector<uint64_t> marked;
  for (uint64_t gpa : vm.marked_tables) {
    const Extent *r = vm.mem.region(gpa);
    if (r && (r->attr & kTableBit) && !std::binary_search(wanted.begin(), wanted.end(), gpa)) {
      MemPlan plan = vm.mem.plan_table_mark(gpa, false);
      if (hv_return_t ret = apply(vm, plan)) return ret;
    }
  }
  for (uint64_t gpa : wanted) {
    const Extent *r = vm.mem.region(gpa);
    // Only trap-mode pages the walk may read (R, RW): elsewhere KVM already has the page in a
    // memslot, or the walk must fail as the EPT walk does (no READ).
    if (!r || !(r->attr & HV_MEMORY_READ) || slot_kind_for(r->attr & ~kTableBit) != SlotKind::kNone) continue;
    marked.push_back(gpa);
    if (r->attr & kTableBit) continue;
    MemPlan plan = vm.mem.plan_table_mark(gpa, true);
    if (hv_return_t ret = apply(vm, plan)) return ret;
  }
  vm.marked_tables = std::move(marked);
  return HV_SUCCESS;
}

void release_memory(Vm &vm) {
  std::lock_guard<std::mutex> lock(vm.mem_mu);
  for (const auto &[gpa, s] : vm.mem.slots()) set_slot(vm, s, false);
  vm.mem.clear();
  vm.free_slot_ids.clear();
  vm.next_slot_id = 0;
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
  if (vm.mem.overlaps(gpa, size)) return HV_ERROR;
  MemPlan plan = vm.mem.plan_map(gpa, size, const_cast<uint8_t *>(static_cast<const uint8_t *>(uva)),
                                 static_cast<uint32_t>(flags));
  return apply(vm, plan);
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!range_ok(gpa, size)) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  // Every mapped page in the range is removed; pages that were not mapped are ignored (README, return
  // codes).
  MemPlan plan = vm.mem.plan_unmap(gpa, size);
  return apply(vm, plan);
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return vm_missing();
  if (!range_ok(gpa, size) || (flags & ~uint64_t{kRWX})) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  std::lock_guard<std::mutex> mlock(vm.mem_mu);
  if (!vm.mem.fully_mapped(gpa, size)) return HV_BAD_ARGUMENT;  // an unmapped page (README, return codes)
  MemPlan plan = vm.mem.plan_protect(gpa, size, static_cast<uint32_t>(flags));
  return apply(vm, plan);
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
