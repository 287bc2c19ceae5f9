// memslots_test.cc — the guest-memory interval maps and their memslot plans (memslots.cc), without
// /dev/kvm.
//
// Random map/unmap/protect sequences run against a page-by-page reference; after every call the
// regions, runs and memslots must be exactly those the reference derives from its pages, the plan's
// memslot changes must be exactly the difference between the memslots before and after, and a
// simulated KVM that refuses overlapping memslots (as KVM_SET_USER_MEMORY_REGION does, notes §4)
// must end up holding the same memslots. Then the scale: 100,000 single-page calls.
#include <stdio.h>
#include <time.h>

#include <map>
#include <random>
#include <vector>

#include "check.h"
#include "memslots.h"

namespace {

using namespace hvkvm;

constexpr uint64_t kPg = 4096;

// The reference: one entry per guest page.
struct Page {
  bool mapped = false;
  uint8_t *hva = nullptr;
  uint32_t flags = 0;
};

// Maximal ranges of pages that `same(prev, cur)` joins, with their attr.
template <class Attr, class Join>
std::vector<Extent> merge_pages(const std::vector<Page> &pages, uint64_t base, Attr attr, Join join) {
  std::vector<Extent> out;
  for (size_t i = 0; i < pages.size(); ++i) {
    const Page &p = pages[i];
    if (!p.mapped) continue;
    int a = attr(p);
    if (a < 0) continue;
    uint64_t gpa = base + i * kPg;
    if (!out.empty() && out.back().end() == gpa && out.back().attr == static_cast<uint32_t>(a) &&
        out.back().hva + out.back().size == p.hva && join(pages[i - 1], p)) {
      out.back().size += kPg;
    } else {
      out.push_back(Extent{gpa, kPg, p.hva, static_cast<uint32_t>(a)});
    }
  }
  return out;
}

std::vector<Extent> ref_regions(const std::vector<Page> &pages, uint64_t base) {
  return merge_pages(pages, base, [](const Page &p) { return static_cast<int>(p.flags); },
                     [](const Page &, const Page &) { return true; });
}

std::vector<Extent> ref_runs(const std::vector<Page> &pages, uint64_t base) {
  auto kind = [](const Page &p) {
    SlotKind k = slot_kind_for(p.flags);
    return k == SlotKind::kNone ? -1 : k == SlotKind::kReadOnly ? 1 : 0;
  };
  return merge_pages(pages, base, kind, [](const Page &, const Page &) { return true; });
}

// The cut rule restated page by page: a memslot boundary inside a run is the first or the last chunk
// boundary of the run (its ends included), or a `max` boundary between those two.
std::vector<MemSlot> ref_slots(const std::vector<Extent> &runs, const SlotPolicy &pol) {
  std::vector<MemSlot> out;
  for (const Extent &r : runs) {
    std::vector<uint64_t> chunk_bounds;
    for (uint64_t x = r.gpa; x <= r.end(); x += kPg)
      if (x % pol.chunk == 0) chunk_bounds.push_back(x);
    uint64_t start = r.gpa;
    for (uint64_t x = r.gpa + kPg; x < r.end(); x += kPg) {
      bool cut = false;
      if (!chunk_bounds.empty()) {
        uint64_t first = chunk_bounds.front(), last = chunk_bounds.back();
        cut = x == first || x == last || (x > first && x < last && x % pol.max == 0);
      }
      if (cut) {
        out.push_back(MemSlot{0, start, x - start, r.hva + (start - r.gpa), r.attr != 0});
        start = x;
      }
    }
    out.push_back(MemSlot{0, start, r.end() - start, r.hva + (start - r.gpa), r.attr != 0});
  }
  return out;
}

bool same_extents(const std::vector<Extent> &want, const std::map<uint64_t, Extent> &have) {
  if (want.size() != have.size()) return false;
  size_t i = 0;
  for (const auto &[gpa, e] : have)
    if (!(e == want[i++]) || gpa != e.gpa) return false;
  return true;
}

bool same_slots(const std::vector<MemSlot> &want, const std::map<uint64_t, MemSlot> &have) {
  if (want.size() != have.size()) return false;
  size_t i = 0;
  for (const auto &[gpa, s] : have)
    if (!s.same_range(want[i++]) || gpa != s.gpa) return false;
  return true;
}

// KVM's memslots as KVM_SET_USER_MEMORY_REGION keeps them: by id, no overlaps, no reshaping.
struct FakeKvm {
  std::map<uint32_t, MemSlot> by_id;
  uint32_t next_id = 0;
  std::vector<uint32_t> free_ids;
  bool remove(const MemSlot &s) {
    auto it = by_id.find(s.id);
    if (it == by_id.end() || !it->second.same_range(s)) return false;
    by_id.erase(it);
    free_ids.push_back(s.id);
    return true;
  }
  bool add(MemSlot *s) {
    for (const auto &[id, o] : by_id)
      if (o.gpa < s->gpa + s->size && s->gpa < o.gpa + o.size) return false;  // EEXIST
    if (!free_ids.empty()) {
      s->id = free_ids.back();
      free_ids.pop_back();
    } else {
      s->id = next_id++;
    }
    by_id[s->id] = *s;
    return true;
  }
};

void random_sequences(uint64_t seed, const SlotPolicy &pol, size_t npages, int steps) {
  std::mt19937_64 rng(seed);
  const uint64_t base = 0x40000000;  // 1 GiB: chunk and max boundaries fall inside the space
  std::vector<Page> pages(npages);
  // Two host areas, so that neighbours are sometimes contiguous in host memory and sometimes not.
  static uint8_t pool[2][256 * kPg];
  GuestMemory mem(pol);
  FakeKvm kvm;
  const int failures = check::g_failures;
  const uint32_t flag_sets[] = {0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 5, 5};
  for (int step = 0; step < steps; ++step) {
    size_t first = rng() % npages;
    size_t count = 1 + rng() % (rng() % 4 == 0 ? npages - first : std::min<size_t>(8, npages - first));
    uint64_t gpa = base + first * kPg, size = count * kPg;
    uint32_t flags = flag_sets[rng() % (sizeof flag_sets / sizeof flag_sets[0])];
    int op = static_cast<int>(rng() % 3);
    MemPlan plan;
    if (op == 0) {
      // hv_vm_map refuses an overlap; the pure map agrees on what overlaps.
      bool any = false;
      for (size_t i = first; i < first + count; ++i) any |= pages[i].mapped;
      CHECK_EQ(mem.overlaps(gpa, size), any);
      if (any) continue;
      uint8_t *hva = pool[rng() % 2] + (rng() % (256 - count)) * kPg;
      if (rng() % 2) hva = pool[0] + first * kPg;  // often the identity layout, which merges
      plan = mem.plan_map(gpa, size, hva, flags);
      for (size_t i = 0; i < count; ++i) pages[first + i] = Page{true, hva + i * kPg, flags};
    } else if (op == 1) {
      plan = mem.plan_unmap(gpa, size);
      for (size_t i = first; i < first + count; ++i) pages[i] = Page{};
    } else {
      bool all = true;
      for (size_t i = first; i < first + count; ++i) all &= pages[i].mapped;
      CHECK_EQ(mem.fully_mapped(gpa, size), all);
      if (!all) continue;
      plan = mem.plan_protect(gpa, size, flags);
      for (size_t i = first; i < first + count; ++i) pages[i].flags = flags;
    }
    // The plan, carried out on the fake KVM: every removal names a live memslot exactly, no addition
    // overlaps one that is still there.
    std::map<uint64_t, MemSlot> before = mem.slots();
    for (const MemSlot &s : plan.remove) CHECK(kvm.remove(s));
    for (MemSlot &s : plan.add) CHECK(kvm.add(&s));
    mem.commit(plan);
    std::vector<Extent> regions = ref_regions(pages, base), runs = ref_runs(pages, base);
    std::vector<MemSlot> slots = ref_slots(runs, pol);
    CHECK(same_extents(regions, mem.regions().all()));
    CHECK(same_extents(runs, mem.runs().all()));
    CHECK(same_slots(slots, mem.slots()));
    // Minimal: what the plan drops was not kept, what it adds was not there before.
    for (const MemSlot &s : plan.add) {
      auto it = before.find(s.gpa);
      CHECK(it == before.end() || !it->second.same_range(s));
    }
    for (const MemSlot &s : plan.remove) {
      auto it = mem.slots().find(s.gpa);
      CHECK(it == mem.slots().end() || !it->second.same_range(s));
    }
    // KVM holds exactly the memslots the map says, with the same ids.
    CHECK_EQ(kvm.by_id.size(), mem.slots().size());
    for (const auto &[gpa, s] : mem.slots()) {
      auto it = kvm.by_id.find(s.id);
      CHECK(it != kvm.by_id.end() && it->second.same_range(s));
    }
    // Lookups agree with the pages.
    for (size_t i = 0; i < npages; i += 1 + rng() % 3) {
      const Extent *r = mem.region(base + i * kPg + 17);
      CHECK_EQ(r != nullptr, pages[i].mapped);
      if (r && pages[i].mapped) {
        CHECK_EQ(r->attr, pages[i].flags);
        CHECK(r->hva + (base + i * kPg - r->gpa) == pages[i].hva);
      }
    }
    if (check::g_failures != failures) {
      fprintf(stderr, "  seed %llu step %d: op %d gpa 0x%llx pages %zu flags %u\n",
              static_cast<unsigned long long>(seed), step, op, static_cast<unsigned long long>(gpa), count, flags);
      return;
    }
  }
}

// The cut rule on its own: bounded memslots for a large run, and growth at one end that leaves the
// other memslots alone.
TEST_CASE(cut_rule) {
  SlotPolicy pol;
  std::vector<MemSlot> s;
  uint8_t *hva = reinterpret_cast<uint8_t *>(0x7f0000000000ull);
  cut_run(Extent{0x1000, (6ull << 30) - 0x1000 + 0x3000, hva, 0}, pol, &s);
  // [4K, 2M) head, [2M, 1G) and five 1 GiB pieces up to 6 GiB, the tail past the last 2 MiB boundary.
  CHECK_EQ(s.size(), 8u);
  CHECK_EQ(s.front().gpa, 0x1000);
  CHECK_EQ(s.front().size, (2u << 20) - 0x1000);
  CHECK_EQ(s[1].gpa, 2u << 20);
  CHECK_EQ(s[1].size, (1ull << 30) - (2u << 20));
  CHECK_EQ(s.back().gpa, 6ull << 30);
  CHECK_EQ(s.back().size, 0x3000);
  uint64_t total = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    total += s[i].size;
    CHECK(s[i].size <= pol.max);
    CHECK(s[i].hva == hva + (s[i].gpa - 0x1000));
    if (i) CHECK_EQ(s[i].gpa, s[i - 1].gpa + s[i - 1].size);
  }
  CHECK_EQ(total, (6ull << 30) + 0x2000);
  // A run that ends at the top of the address space.
  s.clear();
  cut_run(Extent{0xffffffffffe00000ull - 0x1000, 0x201000 - 0x1000, hva, 1}, pol, &s);
  CHECK_EQ(s.size(), 2u);
  CHECK(s.back().readonly);
  CHECK_EQ(s.back().gpa + s.back().size, 0xfffffffffffff000ull);
}

TEST_CASE(random_small_chunks) {
  SlotPolicy pol{4 * kPg, 16 * kPg};  // cuts every few pages, so that the rule is exercised
  const int failures = check::g_failures;
  for (uint64_t seed = 1; seed <= 40 && check::g_failures == failures; ++seed) random_sequences(seed, pol, 96, 300);
}

TEST_CASE(random_default_policy) {
  const int failures = check::g_failures;
  for (uint64_t seed = 100; seed <= 110 && check::g_failures == failures; ++seed)
    random_sequences(seed, SlotPolicy{}, 160, 300);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// 100,000 single-page calls: the bookkeeping per call is O(log n) and each call plans at most a few
// memslot changes. Timings are printed, never asserted; the counts are.
TEST_CASE(scale) {
  constexpr size_t kN = 100000;
  uint8_t *hva = reinterpret_cast<uint8_t *>(0x7f0000000000ull);
  struct Layout {
    const char *name;
    uint64_t stride;
    uint32_t flags;
  };
  for (const Layout &l : {Layout{"contiguous", kPg, kRWX}, Layout{"scattered", 2 * kPg, kRWX},
                          Layout{"trap", 2 * kPg, HV_MEMORY_READ | HV_MEMORY_WRITE}}) {
    GuestMemory mem;
    size_t most_changes = 0, changes = 0;
    double t0 = now_s();
    for (size_t i = 0; i < kN; ++i) {
      MemPlan p = mem.plan_map(0x100000000ull + i * l.stride, kPg, hva + i * kPg, l.flags);
      most_changes = std::max(most_changes, p.remove.size() + p.add.size());
      changes += p.remove.size() + p.add.size();
      mem.commit(p);
    }
    double t1 = now_s();
    size_t regions = mem.regions().size(), slots = mem.slots().size();
    for (size_t i = 0; i < kN; ++i) {
      MemPlan p = mem.plan_unmap(0x100000000ull + i * l.stride, kPg);
      most_changes = std::max(most_changes, p.remove.size() + p.add.size());
      changes += p.remove.size() + p.add.size();
      mem.commit(p);
    }
    double t2 = now_s();
    printf("  %-10s %zu pages: map %.3f s, unmap %.3f s; %zu regions, %zu memslots; memslot changes %.2f per call, at most %zu\n",
           l.name, kN, t1 - t0, t2 - t1, regions, slots, changes / (2.0 * kN), most_changes);
    CHECK_EQ(mem.regions().size(), 0u);
    CHECK_EQ(mem.slots().size(), 0u);
    CHECK(most_changes <= 4);
    if (l.stride == kPg) {
      CHECK_EQ(regions, 1u);
      CHECK(slots <= 3);
    } else {
      CHECK_EQ(regions, kN);
      CHECK_EQ(slots, l.flags == kRWX ? kN : 0u);
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  return check::run_tests(argc, argv);
}
