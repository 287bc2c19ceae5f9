// memslots.cc — interval maps of guest memory and the memslot plan of each change (see memslots.h).
#include "memslots.h"

#include <iterator>

namespace hvkvm {

namespace {

Extent clip(const Extent &e, uint64_t lo, uint64_t hi) {
  uint64_t a = e.gpa > lo ? e.gpa : lo;
  uint64_t b = e.end() < hi ? e.end() : hi;
  return Extent{a, b - a, e.hva + (a - e.gpa), e.attr};
}

bool joins(const Extent &a, const Extent &b) {
  return a.end() == b.gpa && a.attr == b.attr && a.hva + a.size == b.hva;
}

void push_merged(std::vector<Extent> *out, const Extent &e) {
  if (e.size == 0) return;
  if (!out->empty() && joins(out->back(), e)) {
    out->back().size += e.size;
    return;
  }
  out->push_back(e);
}

// Multiples of `unit` (a power of two): the first at or above x, the last at or below x; unsigned
// __int128 so that a run ending near 2^64 cannot wrap.
unsigned __int128 round_up(uint64_t x, uint64_t unit) {
  return (static_cast<unsigned __int128>(x) + unit - 1) & ~static_cast<unsigned __int128>(unit - 1);
}
uint64_t round_down(uint64_t x, uint64_t unit) { return x & ~(unit - 1); }

}  // namespace

// ---- ExtentMap -----------------------------------------------------------------------------------

const Extent *ExtentMap::find(uint64_t gpa) const {
  auto it = m_.upper_bound(gpa);
  if (it == m_.begin()) return nullptr;
  --it;
  return gpa - it->second.gpa < it->second.size ? &it->second : nullptr;
}

std::vector<Extent> ExtentMap::touched(uint64_t lo, uint64_t hi) const {
  std::vector<Extent> out;
  auto it = m_.lower_bound(lo);
  if (it != m_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end() >= lo) it = prev;  // overlapping lo, or ending exactly there
  }
  for (; it != m_.end() && it->first <= hi; ++it) out.push_back(it->second);
  return out;
}

bool ExtentMap::overlaps(uint64_t lo, uint64_t hi) const {
  auto it = m_.lower_bound(lo);
  if (it != m_.end() && it->first < hi) return true;
  return it != m_.begin() && std::prev(it)->second.end() > lo;
}

bool ExtentMap::covers(uint64_t lo, uint64_t hi) const {
  uint64_t at = lo;
  const Extent *e = find(at);
  auto it = e ? m_.find(e->gpa) : m_.end();
  while (at < hi) {
    if (it == m_.end() || it->first > at) return false;
    at = it->second.end();
    ++it;
  }
  return true;
}

std::vector<Extent> ExtentMap::inside(uint64_t lo, uint64_t hi) const {
  std::vector<Extent> out;
  for (const Extent &e : touched(lo, hi))
    if (e.end() > lo && e.gpa < hi) out.push_back(clip(e, lo, hi));
  return out;
}

void ExtentMap::replace(const std::vector<Extent> &old, const std::vector<Extent> &now) {
  for (const Extent &e : old) m_.erase(e.gpa);
  for (const Extent &e : now) m_.emplace_hint(m_.end(), e.gpa, e);
}

std::vector<Extent> rewrite(const std::vector<Extent> &touched, uint64_t lo, uint64_t hi,
                            const std::vector<Extent> &inner) {
  std::vector<Extent> out;
  for (const Extent &e : touched)
    if (e.gpa < lo) push_merged(&out, clip(e, e.gpa, lo));
  for (const Extent &e : inner) push_merged(&out, e);
  for (const Extent &e : touched)
    if (e.end() > hi) push_merged(&out, clip(e, hi, e.end()));
  return out;
}

// ---- memslots --------------------------------------------------------------------------------------

void cut_run(const Extent &run, const SlotPolicy &policy, std::vector<MemSlot> *out) {
  const uint64_t a = run.gpa, b = run.end();
  std::vector<uint64_t> cuts;
  unsigned __int128 first = round_up(a, policy.chunk);
  uint64_t last = round_down(b, policy.chunk);
  if (first < b && first > a) cuts.push_back(static_cast<uint64_t>(first));
  if (first < last) {
    for (unsigned __int128 x = round_up(static_cast<uint64_t>(first) + 1, policy.max); x < last; x += policy.max)
      cuts.push_back(static_cast<uint64_t>(x));
    if (last > a) cuts.push_back(last);
  }
  uint64_t at = a;
  for (uint64_t c : cuts) {
    if (c <= at || c >= b) continue;
    out->push_back(MemSlot{0, at, c - at, run.hva + (at - a), run.attr != 0});
    at = c;
  }
  out->push_back(MemSlot{0, at, b - at, run.hva + (at - a), run.attr != 0});
}

// ---- GuestMemory -----------------------------------------------------------------------------------

MemPlan GuestMemory::plan(uint64_t lo, uint64_t hi, const std::vector<Extent> &inner) const {
  MemPlan p;
  p.old_regions = regions_.touched(lo, hi);
  p.new_regions = rewrite(p.old_regions, lo, hi, inner);
  std::vector<Extent> inner_runs;
  for (const Extent &e : inner) {
    SlotKind k = slot_kind_for(e.attr);
    if (k != SlotKind::kNone) push_merged(&inner_runs, Extent{e.gpa, e.size, e.hva, k == SlotKind::kReadOnly});
  }
  p.old_runs = runs_.touched(lo, hi);
  p.new_runs = rewrite(p.old_runs, lo, hi, inner_runs);
  // The memslots of the touched runs, against those of the runs that replace them: only the ones
  // that differ are dropped and created (KVM cannot reshape a memslot, notes §4).
  std::vector<MemSlot> old_slots, new_slots;
  if (!p.old_runs.empty()) {
    uint64_t from = p.old_runs.front().gpa, to = p.old_runs.back().end();
    auto it = slots_.lower_bound(from);
    for (; it != slots_.end() && it->first < to; ++it) old_slots.push_back(it->second);
  }
  for (const Extent &r : p.new_runs) cut_run(r, policy_, &new_slots);
  size_t i = 0, j = 0;
  while (i < old_slots.size() || j < new_slots.size()) {
    if (j == new_slots.size() || (i < old_slots.size() && old_slots[i].gpa < new_slots[j].gpa)) {
      p.remove.push_back(old_slots[i++]);
    } else if (i == old_slots.size() || new_slots[j].gpa < old_slots[i].gpa) {
      p.add.push_back(new_slots[j++]);
    } else if (old_slots[i].same_range(new_slots[j])) {
      ++i, ++j;
    } else {
      p.remove.push_back(old_slots[i++]);
      p.add.push_back(new_slots[j++]);
    }
  }
  return p;
}

MemPlan GuestMemory::plan_map(uint64_t gpa, uint64_t size, uint8_t *hva, uint32_t flags) const {
  return plan(gpa, gpa + size, {Extent{gpa, size, hva, flags}});
}

MemPlan GuestMemory::plan_unmap(uint64_t gpa, uint64_t size) const { return plan(gpa, gpa + size, {}); }

MemPlan GuestMemory::plan_protect(uint64_t gpa, uint64_t size, uint32_t flags) const {
  std::vector<Extent> inner = regions_.inside(gpa, gpa + size), merged;
  for (Extent &e : inner) {
    e.attr = flags;
    push_merged(&merged, e);
  }
  return plan(gpa, gpa + size, merged);
}

MemPlan GuestMemory::plan_table_mark(uint64_t gpa, bool table) const {
  std::vector<Extent> inner = regions_.inside(gpa, gpa + 4096);
  for (Extent &e : inner) e.attr = table ? e.attr | kTableBit : e.attr & ~kTableBit;
  return plan(gpa, gpa + 4096, inner);
}

void GuestMemory::commit(const MemPlan &p) {
  regions_.replace(p.old_regions, p.new_regions);
  runs_.replace(p.old_runs, p.new_runs);
  for (const MemSlot &s : p.remove) slots_.erase(s.gpa);
  for (const MemSlot &s : p.add) slots_[s.gpa] = s;
}

void GuestMemory::clear() {
  regions_.clear();
  runs_.clear();
  slots_.clear();
}

}  // namespace hvkvm
