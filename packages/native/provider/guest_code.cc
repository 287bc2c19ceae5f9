// guest_code.cc — the guest's code as the exit translation sees it: CS-relative offsets → linear →
// guest-physical (KVM_TRANSLATE with paging on) → the VMM's memory.
#include <sys/ioctl.h>

#include "decode.h"
#include "faults.h"
#include "internal.h"

namespace hvkvm {

namespace {

// Reads up to n code bytes at ip (CS-relative); returns how many could be read.
size_t read_code(Vcpu &v, uint64_t ip, int mode, uint8_t *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    uint64_t lin = code_linear(v.sregs, ip + got, mode), gpa;
    if (!linear_to_gpa(v, lin, &gpa)) break;
    size_t in_page = kPage - (lin & (kPage - 1));
    size_t want = n - got < in_page ? n - got : in_page;
    if (!read_guest_phys(*g_vm, gpa, buf + got, want)) break;  // mappings are page-granular
    got += want;
  }
  return got;
}

// Reads up to n code bytes that end at `after` into end[-n..0), a page at a time going backward, and
// stops at the first page that cannot be read; returns how many.
size_t read_code_back(Vcpu &v, uint64_t after, int mode, uint8_t *end, size_t n) {
  size_t got = 0;
  while (got < n) {
    uint64_t last = code_linear(v.sregs, after - got - 1, mode);
    size_t in_page = static_cast<size_t>(last & (kPage - 1)) + 1;  // bytes of this page up to `last`
    size_t take = n - got < in_page ? n - got : in_page;
    if (read_code(v, after - got - take, mode, end - got - take, take) != take) break;
    got += take;
  }
  return got;
}

}  // namespace

bool linear_to_gpa(Vcpu &v, uint64_t lin, uint64_t *gpa) {
  if (!(v.sregs.cr0 & 0x80000000ull)) {
    *gpa = lin & 0xffffffffull;
    return true;
  }
  kvm_translation t{};
  t.linear_address = lin;
  // KVM_TRANSLATE: walks the guest page tables of this vCPU; valid = 0 when not mapped.
  if (kvm_ioctl(v.fd, KVM_TRANSLATE, &t) != 0 || !t.valid) return false;
  *gpa = t.physical_address;
  return true;
}

CodeBytes fetch_code(Vcpu &v, const CodeWanted &want) {
  const int mode = code_mode(v.sregs);
  const uint64_t rip = v.regs.rip;
  uint8_t *at = v.code_buf + kMaxCodeBack;  // the byte at RIP
  size_t back = read_code_back(v, rip, mode, at, want.back < kMaxCodeBack ? want.back : kMaxCodeBack);
  size_t fwd = read_code(v, rip, mode, at, want.fwd < kMaxInsn ? want.fwd : kMaxInsn);
  return CodeBytes{rip - back, at - back, back + fwd};
}

}  // namespace hvkvm
