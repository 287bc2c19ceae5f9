// memslots.h — the VM's guest-physical memory as interval maps, and the KVM memslots derived from it.
// Pure: no ioctl; memory.cc asks for a plan, carries out its memslot changes, then commits it.
//
// Three levels (kvm-provider-notes §3–4, README "What KVM does"):
//  - regions: disjoint ranges with the VMM's hv_memory_flags_t, neighbours with equal flags and
//    contiguous host memory merged (what hv_vm_protect and the trap-mode checks look up);
//  - runs: maximal ranges that KVM can serve with memslots of one kind (normal or read-only) over
//    contiguous host memory — regions with flags that need no memslot (trap mode) are in no run;
//  - memslots: each run cut at fixed points (see SlotPolicy), so that a change near one end of a long
//    run rebuilds a memslot of bounded size, and a run of any size needs few memslots.
// Every change rewrites only the extents it touches (O(k log n) for k touched extents), and the
// memslots of the runs it touches: memslots elsewhere are never looked at.
#ifndef HVSPEC_PROVIDER_MEMSLOTS_H
#define HVSPEC_PROVIDER_MEMSLOTS_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "hvspec/hv_x86.h"

namespace hvkvm {

constexpr uint32_t kRWX = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;

// How a range with given HVF permissions is presented to KVM (notes §3).
enum class SlotKind {
  kNone,      // no memslot: every data access is an MMIO exit the provider checks (trap mode)
  kNormal,    // RWX memslot
  kReadOnly,  // KVM_MEM_READONLY memslot: reads and fetches native, writes are MMIO exits
};

// Region attribute bit beside the hv_memory_flags_t: the page holds a paging structure a vCPU's page
// walk reads (memory.cc, mark_guest_tables). KVM walks guest page tables only in memslots (notes §3),
// so such a page in trap-mode memory with READ gets a read-only memslot: the walk and guest reads are
// native, writes still exit and are checked; fetches from it are not (deviation kvm.trap-mode).
constexpr uint32_t kTableBit = 0x100;

inline SlotKind slot_kind_for(uint32_t flags) {
  if ((flags & kTableBit) && (flags & HV_MEMORY_READ) && (flags & kRWX) != kRWX) return SlotKind::kReadOnly;
  switch (flags & kRWX) {
    case kRWX: return SlotKind::kNormal;
    case HV_MEMORY_READ | HV_MEMORY_EXEC:
    case HV_MEMORY_EXEC:                    // best effort: reads leak (kvm.exec-only)
    case HV_MEMORY_WRITE | HV_MEMORY_EXEC:  // best effort: reads leak, writes completed by the provider
      return SlotKind::kReadOnly;
    default: return SlotKind::kNone;  // 0, R, W, RW: trap mode
  }
}

// A guest-physical range over host memory with an attribute (regions: hv_memory_flags_t; runs:
// 1 for a read-only memslot, 0 for a normal one). gpa + size never wraps (hv_vm_map checks it).
struct Extent {
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint8_t *hva = nullptr;
  uint32_t attr = 0;
  uint64_t end() const { return gpa + size; }
  bool operator==(const Extent &o) const {
    return gpa == o.gpa && size == o.size && hva == o.hva && attr == o.attr;
  }
};

// A KVM memslot.
struct MemSlot {
  uint32_t id = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint8_t *hva = nullptr;
  bool readonly = false;
  bool same_range(const MemSlot &o) const {
    return gpa == o.gpa && size == o.size && hva == o.hva && readonly == o.readonly;
  }
};

// Disjoint extents by GPA, with neighbours of equal attr and contiguous host memory always merged.
class ExtentMap {
 public:
  // The extent containing gpa, or null.
  const Extent *find(uint64_t gpa) const;
  // The extents a rewrite of [lo, hi) touches, in order: those overlapping it, and those ending at lo
  // or starting at hi (they may merge with the new content).
  std::vector<Extent> touched(uint64_t lo, uint64_t hi) const;
  // Whether [lo, hi) meets any extent; whether every byte of it is in one.
  bool overlaps(uint64_t lo, uint64_t hi) const;
  bool covers(uint64_t lo, uint64_t hi) const;
  // The parts of extents inside [lo, hi), clipped to it.
  std::vector<Extent> inside(uint64_t lo, uint64_t hi) const;
  void replace(const std::vector<Extent> &old, const std::vector<Extent> &now);
  size_t size() const { return m_.size(); }
  void clear() { m_.clear(); }
  const std::map<uint64_t, Extent> &all() const { return m_; }

 private:
  std::map<uint64_t, Extent> m_;
};

// What `touched` (from ExtentMap::touched(lo, hi)) becomes when [lo, hi) is replaced by `inner`
// (disjoint, in order, inside [lo, hi)): the parts of `touched` outside [lo, hi), `inner`, merged.
std::vector<Extent> rewrite(const std::vector<Extent> &touched, uint64_t lo, uint64_t hi,
                            const std::vector<Extent> &inner);

// Where a run is cut into memslots: at the first and the last `chunk` boundary of [start, end] (a cut
// at either end is none), and at every `max` boundary between those two. Growing or shrinking a run at one end then rebuilds only the memslot
// at that end (at most `chunk` long) until it crosses a chunk boundary, when the middle memslot (at
// most `max` long) absorbs or gives up one chunk; and a run of size S needs at most S/max + 3 memslots.
// KVM's cost of (re)creating a memslot grows with its size (about 30 µs plus 0.4 µs per MiB here).
struct SlotPolicy {
  uint64_t chunk = 2ull << 20;
  uint64_t max = 1ull << 30;
};
void cut_run(const Extent &run, const SlotPolicy &policy, std::vector<MemSlot> *out);

// A change of the memory map: the extents it replaces and the memslots KVM must drop and create
// (`add` gets its ids before commit).
struct MemPlan {
  std::vector<Extent> old_regions, new_regions;
  std::vector<Extent> old_runs, new_runs;
  std::vector<MemSlot> remove, add;
};

class GuestMemory {
 public:
  explicit GuestMemory(SlotPolicy policy = SlotPolicy{}) : policy_(policy) {}

  const Extent *region(uint64_t gpa) const { return regions_.find(gpa); }
  bool overlaps(uint64_t gpa, uint64_t size) const { return regions_.overlaps(gpa, gpa + size); }
  bool fully_mapped(uint64_t gpa, uint64_t size) const { return regions_.covers(gpa, gpa + size); }

  // Plans leave the state unchanged. plan_map needs [gpa, gpa + size) free; plan_protect needs it
  // fully mapped.
  MemPlan plan_map(uint64_t gpa, uint64_t size, uint8_t *hva, uint32_t flags) const;
  MemPlan plan_unmap(uint64_t gpa, uint64_t size) const;
  MemPlan plan_protect(uint64_t gpa, uint64_t size, uint32_t flags) const;
  // The page at gpa (mapped) with kTableBit set or cleared, its permissions unchanged.
  MemPlan plan_table_mark(uint64_t gpa, bool table) const;
  void commit(const MemPlan &plan);

  const ExtentMap &regions() const { return regions_; }
  const ExtentMap &runs() const { return runs_; }
  const std::map<uint64_t, MemSlot> &slots() const { return slots_; }
  void clear();

 private:
  MemPlan plan(uint64_t lo, uint64_t hi, const std::vector<Extent> &inner) const;

  SlotPolicy policy_;
  ExtentMap regions_, runs_;
  std::map<uint64_t, MemSlot> slots_;  // by gpa
};

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_MEMSLOTS_H
