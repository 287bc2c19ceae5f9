// segments.cc — VMX segment access rights <-> kvm_segment, and the VMCS segment order.
#include "internal.h"

namespace hvkvm {

uint64_t ar_of(const kvm_segment &s) {
  return (s.type & 15u) | (static_cast<uint64_t>(s.s & 1) << 4) | (static_cast<uint64_t>(s.dpl & 3) << 5) |
         (static_cast<uint64_t>(s.present & 1) << 7) | (static_cast<uint64_t>(s.avl & 1) << 12) |
         (static_cast<uint64_t>(s.l & 1) << 13) | (static_cast<uint64_t>(s.db & 1) << 14) |
         (static_cast<uint64_t>(s.g & 1) << 15) | (static_cast<uint64_t>(s.unusable & 1) << 16);
}

void set_ar(kvm_segment &s, uint64_t ar) {
  s.type = ar & 15;
  s.s = (ar >> 4) & 1;
  s.dpl = (ar >> 5) & 3;
  s.present = (ar >> 7) & 1;
  s.avl = (ar >> 12) & 1;
  s.l = (ar >> 13) & 1;
  s.db = (ar >> 14) & 1;
  s.g = (ar >> 15) & 1;
  s.unusable = (ar >> 16) & 1;
}

kvm_segment *seg_by_index(kvm_sregs &s, int index) {
  switch (index) {
    case 0: return &s.es; case 1: return &s.cs; case 2: return &s.ss; case 3: return &s.ds;
    case 4: return &s.fs; case 5: return &s.gs; case 6: return &s.ldt; case 7: return &s.tr;
    default: return nullptr;
  }
}

}  // namespace hvkvm
