// memslots.h — how HVF memory permissions become KVM memslots (kvm-provider-notes.md §3). Pure.
#ifndef HVSPEC_PROVIDER_MEMSLOTS_H
#define HVSPEC_PROVIDER_MEMSLOTS_H

#include <cstdint>

#include "hvspec/hv_x86.h"

namespace hvkvm {

constexpr uint32_t kRWX = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;

// How a range with given HVF permissions is presented to KVM (notes §3).
enum class SlotKind {
  kNone,      // no memslot: every data access is an MMIO exit the provider checks (trap mode)
  kNormal,    // RWX memslot
  kReadOnly,  // KVM_MEM_READONLY memslot: reads and fetches native, writes are MMIO exits
};

inline SlotKind slot_kind_for(uint32_t flags) {
  switch (flags & kRWX) {
    case kRWX: return SlotKind::kNormal;
    case HV_MEMORY_READ | HV_MEMORY_EXEC:
    case HV_MEMORY_EXEC:                    // best effort: reads leak (kvm.exec-only)
    case HV_MEMORY_WRITE | HV_MEMORY_EXEC:  // best effort: reads leak, writes completed by the provider
      return SlotKind::kReadOnly;
    default: return SlotKind::kNone;  // 0, R, W, RW: trap mode
  }
}

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_MEMSLOTS_H
