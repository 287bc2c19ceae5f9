// vcpu.cc — vCPUs: lifecycle, the virtual register file, cancellation, and hv_vcpu_run with the
// translation of KVM exits into HVF's VMX view (notes §5).
//
// The register file is the VMM's view. KVM_CAP_SYNC_REGS fills it from kvm_run->s.regs on every exit
// (REGS and SREGS, notes §2) and kvm_dirty_regs writes it back before the next KVM_RUN. Where KVM has
// already retired the exiting instruction (OUT, MMIO write, HLT) the view shows RIP rewound to the
// instruction, as HVF does; where KVM still owes a completion (IN, MMIO read) it is flushed with
// immediate_exit before the VMM's registers are written back, so that the VMM's emulation wins.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "decode.h"
#include "internal.h"

namespace hvkvm {

namespace {

constexpr uint64_t kCr4Vmxe = 1u << 13;
// EPT-violation qualification (facts §1.6): access bits, the mapping's R/W/X in bits 5:3, and bits 7+8
// (guest-linear address valid, access to the translation of a linear address) for every data access
// and fetch the provider reports.
constexpr uint64_t kEptRead = 1, kEptWrite = 2, kEptFetch = 4, kEptGla = 0x180;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// Consumes kick signals left pending on this thread (notes §6 B: otherwise every later KVM_RUN
// returns EINTR at once).
void drain_kick() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
}

void set_exit(Vcpu &v, uint64_t reason) {
  v.exit = ExitInfo{};
  v.exit.reason = reason;
}

// ---- guest memory as code -------------------------------------------------------------------------

uint64_t ip_mask(int mode) { return mode == 64 ? ~0ull : mode == 32 ? 0xffffffffull : 0xffffull; }

// Linear → guest-physical with the vCPU's current paging state.
bool linear_to_gpa(Vcpu &v, uint64_t lin, uint64_t *gpa) {
  if (!(v.sregs.cr0 & 0x80000000ull)) {
    *gpa = lin & 0xffffffffull;
    return true;
  }
  kvm_translation t{};
  t.linear_address = lin;
  // KVM_TRANSLATE: walks the guest page tables of this vCPU; valid = 0 when not mapped.
  if (ioctl(v.fd, KVM_TRANSLATE, &t) != 0 || !t.valid) return false;
  *gpa = t.physical_address;
  return true;
}

uint64_t code_linear(const Vcpu &v, uint64_t ip, int mode) {
  uint64_t lin = v.sregs.cs.base + (ip & ip_mask(mode));
  return mode == 64 ? lin : lin & 0xffffffffull;
}

// Reads up to n code bytes at ip (CS-relative); returns how many could be read.
size_t read_code(Vcpu &v, uint64_t ip, int mode, uint8_t *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    uint64_t lin = code_linear(v, ip + got, mode), gpa;
    if (!linear_to_gpa(v, lin, &gpa)) break;
    size_t in_page = kPage - (lin & (kPage - 1));
    size_t want = n - got < in_page ? n - got : in_page;
    if (!read_guest_phys(*g_vm, gpa, buf + got, want)) break;  // mappings are page-granular
    got += want;
  }
  return got;
}

// ---- KVM_RUN helpers --------------------------------------------------------------------------------

void adopt_kvm_state(Vcpu &v) {
  v.regs = v.run->s.regs.regs;
  v.sregs = v.run->s.regs.sregs;
  v.dregs_valid = false;
  v.xcrs_valid = false;
}

// Completes whatever KVM still owes for the last exit without entering the guest: KVM_RUN with
// immediate_exit runs the pending completion (IN data, MMIO read data, OUT skip on the VMX fast path)
// and returns EINTR (notes §5, semantics.c A). A read-modify-write may emit one more MMIO write exit,
// which is swallowed: the VMM was told about the access and emulates it.
void flush_completion(Vcpu &v) {
  v.run->immediate_exit = 1;
  v.run->kvm_dirty_regs = 0;
  for (int i = 0; i < 8; ++i) {
    // KVM_RUN with immediate_exit = 1: finishes pending user-space I/O, then returns -EINTR.
    int r = ioctl(v.fd, KVM_RUN, 0);
    if (r < 0) break;
    if (v.run->exit_reason != KVM_EXIT_MMIO && v.run->exit_reason != KVM_EXIT_IO) break;
  }
  v.run->immediate_exit = 0;
}

// ---- exit translation ---------------------------------------------------------------------------------

struct IoForm {
  uint64_t start;
  int len;
  bool string, rep, imm;
  Insn insn;
};

bool io_opcode_matches(const Insn &d, bool in, int size, uint16_t port, const kvm_regs &r, bool *string,
                       bool *imm) {
  if (d.map != 0) return false;
  uint8_t op = d.op;
  int opsz = (op & 1) ? d.opsize : 1;
  if (opsz == 8) opsz = 4;
  if (opsz != size) return false;
  bool dx_port = (r.rdx & 0xffff) == port;
  if ((op == 0xe4 || op == 0xe5) && in) { *string = false; *imm = true; return true; }
  if ((op == 0xe6 || op == 0xe7) && !in) { *string = false; *imm = true; return true; }
  if ((op == 0xec || op == 0xed) && in && dx_port) { *string = false; *imm = false; return true; }
  if ((op == 0xee || op == 0xef) && !in && dx_port) { *string = false; *imm = false; return true; }
  if ((op == 0x6c || op == 0x6d) && in && dx_port) { *string = true; *imm = false; return true; }
  if ((op == 0x6e || op == 0x6f) && !in && dx_port) { *string = true; *imm = false; return true; }
  return false;
}

// The imm8 of E4–E7 must be the port.
bool imm_port_ok(const uint8_t *bytes, const Insn &d, uint16_t port) {
  if (d.op < 0xe4 || d.op > 0xe7) return true;
  return bytes[d.len - 1] == port;
}

// Reads the (up to) 15 code bytes that end at `after` into back[15-k .. 15); returns how many.
size_t read_code_before(Vcpu &v, uint64_t after, int mode, uint8_t back[15]) {
  if (after >= 15 && read_code(v, after - 15, mode, back, 15) == 15) return 15;  // the usual case
  size_t avail = 0;
  for (size_t k = 1; k <= 15 && after >= k; ++k) {
    uint8_t b;
    if (read_code(v, after - k, mode, &b, 1) != 1) break;
    back[15 - k] = b;
    avail = k;
  }
  return avail;
}

// The length of the instruction that ends at `after`, found by decoding forward from the RIP the
// vCPU entered the guest at (a known instruction boundary); 0 when that walk does not land exactly
// on `after` (the guest jumped into the middle of the bytes, or code the decoder cannot read).
//
// The backward search alone cannot see a redundant prefix: `3e 89 03` and `89 03` both end at the
// same byte and access the same address, and a prefix byte may just as well be the last byte of the
// previous instruction. Straight-line code from the entry point settles it, and is the usual case
// (the guest ran a few instructions since the VMM last set RIP); the caller still checks the result.
size_t anchored_length(Vcpu &v, uint64_t after, int mode) {
  constexpr uint64_t kMaxSpan = 4096;
  uint64_t from = v.entry_rip;
  if (after <= from || after - from > kMaxSpan) return 0;
  size_t span = static_cast<size_t>(after - from);
  static thread_local uint8_t code[kMaxSpan];
  if (read_code(v, from, mode, code, span) != span) return 0;
  size_t at = 0;
  while (at < span) {
    Insn d;
    // Lengths only (no registers needed); the last instruction may only run up to `after`.
    if (!decode(code + at, span - at, mode, nullptr, from + at, &d)) return 0;
    if (at + d.len == span) return static_cast<size_t>(d.len);
    at += d.len;
  }
  return 0;
}

// An I/O instruction starting exactly at `at`.
bool io_forward(Vcpu &v, bool in, int size, uint16_t port, uint64_t at, IoForm *f) {
  int mode = code_mode(v.sregs);
  uint8_t buf[16];
  size_t n = read_code(v, at, mode, buf, 15);
  Insn d;
  bool string = false, imm = false;
  if (n == 0 || !decode(buf, n, mode, &v.regs, at, &d) || !io_opcode_matches(d, in, size, port, v.regs, &string, &imm) ||
      !imm_port_ok(buf, d, port))
    return false;
  *f = IoForm{at, d.len, string, d.rep, imm, d};
  return true;
}

// A non-string OUT ending exactly at `after`: the shortest k whose decode at after-k is exactly k
// bytes of a matching OUT. Redundant prefixes cannot be told from the previous instruction's bytes;
// a required operand-size prefix is found because the access size must agree.
bool out_backward(Vcpu &v, int size, uint16_t port, uint64_t after, IoForm *f) {
  int mode = code_mode(v.sregs);
  uint8_t back[15];
  size_t avail = read_code_before(v, after, mode, back);
  size_t anchored = anchored_length(v, after, mode);
  // The anchored length first (it sees redundant prefixes), then the shortest decode that fits.
  for (size_t j = 0; j <= avail; ++j) {
    size_t k = j == 0 ? anchored : j;
    if (k == 0 || k > avail || (j != 0 && j == anchored)) continue;
    const uint8_t *p = back + 15 - k;
    Insn e;
    bool string = false, imm = false;
    if (decode(p, k, mode, &v.regs, after - k, &e) && static_cast<size_t>(e.len) == k &&
        io_opcode_matches(e, false, size, port, v.regs, &string, &imm) && !string && imm_port_ok(p, e, port)) {
      *f = IoForm{after - k, e.len, false, e.rep, imm, e};
      return true;
    }
  }
  return false;
}

// Bytes a memory-writing/reading instruction of the one-byte map accesses, 0 when not known.
int mem_access_size(const Insn &d) {
  if (d.map != 0) return 0;
  uint8_t op = d.op;
  int full = d.opsize;
  if (op < 0x40 && (op & 7) < 4) return (op & 1) ? full : 1;
  switch (op) {
    case 0x80: case 0x82: case 0x86: case 0x88: case 0x8a: case 0xa0: case 0xa2: case 0xa4: case 0xaa:
    case 0xac: case 0xc0: case 0xc6: case 0xd0: case 0xd2: case 0xf6: case 0xfe:
      return 1;
    case 0x81: case 0x83: case 0x87: case 0x89: case 0x8b: case 0xa1: case 0xa3: case 0xa5: case 0xab:
    case 0xad: case 0xc1: case 0xc7: case 0xd1: case 0xd3: case 0xf7: case 0xff:
      return full;
    default:
      return 0;
  }
}

// Whether the decoded instruction `d` can be the one behind an MMIO exit of `len` bytes at gpa.
//
// Its memory operand must address gpa, and its access size must be `len`, with one exception: KVM
// splits an access that crosses a page boundary into fragments, each its own exit (the part up to
// the boundary at the operand's address, then the rest at the start of the next page). The size
// check is what lets the backward search below tell a prefixed instruction from its own suffix:
// `66 89 03` (mov [ebx], ax) also ends with the complete instruction `89 03` (mov [ebx], eax) at the
// same address, so only the size rules the shorter decode out. A fragment is therefore accepted only
// where the access really crosses the page boundary: a page-aligned gpa alone does not make a
// fragment (that was the bug behind x86_64-native-kvm-2/-3: `66 a3 00 f0 ff ff` at an aligned gpa
// was taken for the 4-byte `a3 00 f0 ff ff` with a 2-byte "fragment", RIP one byte too far).
bool access_matches(const Vcpu &v, const Insn &d, uint64_t gpa, int mode, int len) {
  if (!d.has_mem || !d.ea_known) return false;
  uint64_t lin = seg_base(v.sregs, d.seg) + d.ea;
  if (mode != 64) lin &= 0xffffffffull;
  bool paging = v.sregs.cr0 & 0x80000000ull;
  // With paging only the page offset can be compared (the GPA comes from the guest's page tables).
  auto same = [&](uint64_t l) { return paging ? ((l ^ gpa) & (kPage - 1)) == 0 : l == gpa; };
  int size = mem_access_size(d);
  if (d.string_op) {
    // The index register may already have moved by one element; the element size is the exit's.
    return same(lin) || same(lin - len) || same(lin + len);
  }
  if (size == 0) return same(lin);  // an instruction whose access size the decoder does not know
  if (size == len) return same(lin);
  if (len > size) return false;
  uint64_t in_page = kPage - (lin & (kPage - 1));  // bytes of the access before the page boundary
  if (in_page >= static_cast<uint64_t>(size)) return false;  // the access does not cross a page
  if (same(lin)) return static_cast<uint64_t>(len) == in_page;  // first fragment
  // Second fragment: at the start of the next page, the rest of the access.
  return gpa % kPage == 0 && static_cast<uint64_t>(len) == size - in_page && same(lin + in_page);
}

// Finds the instruction of an MMIO access and its length. For reads KVM left RIP at it; for writes
// it is retired, so the search goes backward from `after` and the memory operand must address gpa.
bool find_mmio(Vcpu &v, bool is_write, uint64_t gpa, int size, uint64_t rip, uint64_t *start, int *len,
               uint64_t *gla, Insn *insn) {
  int mode = code_mode(v.sregs);
  uint8_t buf[16];
  Insn d;
  auto linear = [&](const Insn &x) {
    uint64_t l = seg_base(v.sregs, x.seg) + x.ea;
    return mode == 64 ? l : l & 0xffffffffull;
  };
  if (is_write) {
    uint8_t back[15];
    size_t avail = read_code_before(v, rip, mode, back);
    size_t anchored = anchored_length(v, rip, mode);
    // The anchored length first (it sees redundant prefixes), then the shortest decode that fits:
    // a required prefix (0x66 on a 16-bit store) is then found through the access size.
    for (size_t j = 0; j <= avail; ++j) {
      size_t k = j == 0 ? anchored : j;
      if (k == 0 || k > avail || (j != 0 && j == anchored)) continue;
      const uint8_t *p = back + 15 - k;
      Insn e;
      if (decode(p, k, mode, &v.regs, rip - k, &e) && static_cast<size_t>(e.len) == k &&
          access_matches(v, e, gpa, mode, size)) {
        *start = rip - k;
        *len = e.len;
        *gla = linear(e);
        *insn = e;
        return true;
      }
    }
  }
  // Forward at RIP: MMIO reads, and REP string stores that KVM left at the instruction.
  size_t n = read_code(v, rip, mode, buf, 15);
  if (n && decode(buf, n, mode, &v.regs, rip, &d) && (!is_write || access_matches(v, d, gpa, mode, size))) {
    *start = rip;
    *len = d.len;
    *gla = d.ea_known ? linear(d) : 0;
    *insn = d;
    return true;
  }
  return false;
}

enum class Step { kReturn, kContinue, kError };

Step handle_io(Vcpu &v) {
  kvm_run *run = v.run;
  bool in = run->io.direction == KVM_EXIT_IO_IN;
  int size = run->io.size;
  uint16_t port = run->io.port;
  uint64_t at = v.regs.rip;
  uint64_t kvm_rip = at;
  IoForm f{};
  bool found;
  if (in) {
    found = io_forward(v, true, size, port, at, &f);  // KVM leaves RIP at IN/INS (completion pending)
  } else {
    IoForm fwd{}, back{};
    bool is_fwd = io_forward(v, false, size, port, at, &fwd);
    bool is_back = out_backward(v, size, port, at, &back);
    if (is_back && !is_fwd) {
      // Emulated OUT (this PVM, notes §5): retired, RIP past it, nothing pending.
      f = back;
      found = true;
    } else {
      // VMX/SVM fast path (RIP at the OUT, KVM skips it on the next run), OUTS, or ambiguous bytes:
      // let KVM finish first, then look again from where RIP ended.
      flush_completion(v);
      adopt_kvm_state(v);
      kvm_rip = v.regs.rip;
      if (kvm_rip == at && is_fwd && fwd.string) {
        f = fwd;  // OUTS with iterations left
        found = true;
      } else {
        found = out_backward(v, size, port, kvm_rip, &f) || (is_fwd && (f = fwd, true));
      }
    }
  }
  set_exit(v, VMX_REASON_IO);
  uint64_t q = static_cast<uint64_t>(size - 1) | (in ? 8u : 0u) | (static_cast<uint64_t>(port) << 16);
  if (found) {
    if (f.string) q |= 16;
    if (f.string && f.rep) q |= 32;
    if (f.imm) q |= 64;
    v.exit.instr_len = f.len;
    if (f.string) {
      int mode = code_mode(v.sregs);
      uint64_t off = (in ? v.regs.rdi : v.regs.rsi) & ((f.insn.addrsize == 8) ? ~0ull : (1ull << (8 * f.insn.addrsize)) - 1);
      v.exit.gla = seg_base(v.sregs, f.insn.seg) + off;
      if (mode != 64) v.exit.gla &= 0xffffffffull;
      uint64_t asz = f.insn.addrsize == 2 ? 0 : f.insn.addrsize == 4 ? 1 : 2;
      v.exit.instr_info = (asz << 7) | (static_cast<uint64_t>(f.insn.seg) << 15);
    }
    if (f.start != kvm_rip) {
      v.regs.rip = f.start;
      v.regs_dirty = true;
    }
  } else {
    // Should not happen for code the provider can read; report KVM's RIP and the data it gave.
    if (run->io.count > 1) q |= 16;
  }
  v.exit.qualification = q;
  v.exit.io_rcx = v.regs.rcx;
  v.exit.io_rsi = v.regs.rsi;
  v.exit.io_rdi = v.regs.rdi;
  v.exit.io_rip = v.regs.rip;
  if (in) v.pending = Pending::kIoIn;
  return Step::kReturn;
}

Step handle_mmio(Vcpu &v) {
  kvm_run *run = v.run;
  uint64_t gpa = run->mmio.phys_addr;
  uint32_t len = run->mmio.len;
  bool is_write = run->mmio.is_write;
  uint32_t flags = 0;
  bool mapped = false;
  // Permitted by the mapping (trap-mode regions, WX writes, a slot being rebuilt): done here, the
  // VMM never sees it (hv_vcpu_run_until does not return for handled exits, facts §1.2 [H]).
  if (try_complete_access(*g_vm, gpa, run->mmio.data, len, is_write, &flags, &mapped)) return Step::kContinue;
  // For a write KVM has already retired the instruction and owes nothing (a single-fragment write's
  // completion is a no-op), so no flush is needed; for a read the completion stays pending.
  uint64_t rip = v.regs.rip;
  uint64_t start = rip, gla = 0;
  int ilen = 0;
  Insn insn;
  bool found = find_mmio(v, is_write, gpa, static_cast<int>(len), rip, &start, &ilen, &gla, &insn);
  set_exit(v, VMX_REASON_EPT_VIOLATION);
  v.exit.qualification = (is_write ? kEptWrite : kEptRead) | (static_cast<uint64_t>(flags & kRWX) << 3) | kEptGla;
  v.exit.gpa = gpa;
  // Without paging the linear address is the physical one; with paging, the decoded operand's.
  v.exit.gla = (v.sregs.cr0 & 0x80000000ull) ? gla : gpa;
  v.exit.instr_len = found ? ilen : 0;
  if (found && start != rip) {
    v.regs.rip = start;
    v.regs_dirty = true;
  }
  if (!is_write) {
    v.pending = Pending::kMmioRead;
    v.pending_store_len = 0;
    if (found && insn.map == 0 && (insn.op == 0xa4 || insn.op == 0xa5)) {  // MOVS: stores to ES:(E)DI
      uint64_t mask = insn.addrsize == 8 ? ~0ull : (1ull << (8 * insn.addrsize)) - 1;
      uint64_t lin = v.sregs.es.base + (v.regs.rdi & mask), dest;
      if (code_mode(v.sregs) != 64) lin &= 0xffffffffull;
      if (linear_to_gpa(v, lin, &dest)) {
        v.pending_store_gpa = dest;
        v.pending_store_len = len;
      }
    }
  }
  return Step::kReturn;
}

// KVM_EXIT_INTERNAL_ERROR / EMULATION at a RIP outside every executable mapping is an instruction
// fetch from memory the guest may not execute (notes §3: KVM reports no GPA, so translate RIP).
Step handle_emulation_failure(Vcpu &v) {
  int mode = code_mode(v.sregs);
  uint64_t lin = code_linear(v, v.regs.rip, mode), gpa = 0;
  if (!linear_to_gpa(v, lin, &gpa)) return Step::kError;
  bool mapped = false;
  uint64_t generation = 0;
  uint32_t flags = region_flags(*g_vm, gpa, &mapped, &generation);
  if (mapped && (flags & HV_MEMORY_EXEC) && slot_kind_for(flags) != SlotKind::kNone) {
    // Executable and backed by a slot: either the fetch hit the moment another thread rebuilt the
    // slots (notes §4: delete + create is not atomic; region_flags waited for the rebuild, so a retry
    // sees the new slot), or a real emulation failure. Retry once per memslot generation: a real
    // failure repeats without any slot change in between.
    if (generation == v.fetch_retry_generation) return Step::kError;
    v.fetch_retry_generation = generation;
    return Step::kContinue;
  }
  set_exit(v, VMX_REASON_EPT_VIOLATION);
  v.exit.qualification = kEptFetch | (static_cast<uint64_t>(flags & kRWX) << 3) | kEptGla;
  v.exit.gpa = gpa;
  v.exit.gla = lin;
  return Step::kReturn;
}

// Writes the VMM's pending changes to KVM; false when KVM refuses them (invalid guest state).
bool write_back_ioctl_state(Vcpu &v) {
  if (v.dregs_dirty) {
    // KVM_SET_DEBUGREGS: loads DR0-3, DR6, DR7; EINVAL when DR6/DR7 have bits set above 31.
    if (ioctl(v.fd, KVM_SET_DEBUGREGS, &v.dregs) != 0) return false;
    v.dregs_dirty = false;
  }
  if (v.xcrs_dirty) {
    // KVM_SET_XCRS: loads XCR0; EINVAL for a value the guest's CPUID does not allow.
    if (ioctl(v.fd, KVM_SET_XCRS, &v.xcrs) != 0) return false;
    v.xcrs_dirty = false;
  }
  return true;
}

hv_return_t run_vcpu(Vcpu &v) {
  if (v.kick.exchange(false)) {
    drain_kick();
    set_exit(v, VMX_REASON_IRQ);  // sticky kick: exit at once without entering (decisions.md)
    return HV_SUCCESS;
  }
  if (v.pending != Pending::kNone) {
    // Give KVM the VMM's result (for IN, its RAX), let KVM finish, then restore the VMM's registers.
    if (v.pending == Pending::kIoIn) {
      uint8_t *data = reinterpret_cast<uint8_t *>(v.run) + v.run->io.data_offset;
      size_t n = static_cast<size_t>(v.run->io.size) * v.run->io.count;
      uint64_t rax = v.regs.rax;
      memcpy(data, &rax, n < 8 ? n : 8);
    }
    uint8_t saved[8];
    bool restore = v.pending == Pending::kMmioRead && v.pending_store_len && v.pending_store_len <= 8 &&
                   read_guest_phys(*g_vm, v.pending_store_gpa, saved, v.pending_store_len);
    flush_completion(v);
    if (restore) write_guest_phys(*g_vm, v.pending_store_gpa, saved, v.pending_store_len);
    v.pending = Pending::kNone;
    v.regs_dirty = true;
  }
  for (;;) {
    kvm_run *run = v.run;
    if (!write_back_ioctl_state(v)) {
      set_exit(v, VMX_REASON_VMENTRY_GUEST | 0x80000000u);
      return HV_SUCCESS;
    }
    run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    run->kvm_dirty_regs = 0;
    if (v.regs_dirty) {
      run->s.regs.regs = v.regs;
      run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    }
    if (v.sregs_dirty) {
      run->s.regs.sregs = v.sregs;
      run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
    }
    // Without an in-kernel LAPIC, KVM_RUN loads CR8 from kvm_run->cr8 after the synced registers.
    run->cr8 = v.sregs.cr8;
    uint64_t t0 = now_ns();
    // KVM_RUN: loads kvm_dirty_regs, runs the guest until an exit to user space (returns 0,
    // exit_reason set), a signal (-EINTR), or an error (-EINVAL for refused register state).
    v.entry_rip = v.regs.rip;
    int r = ioctl(v.fd, KVM_RUN, 0);
    int err = errno;
    v.exec_time_ns += now_ns() - t0;
    if (r < 0 && err != EINTR) {
      if (err == EINVAL && (v.regs_dirty || v.sregs_dirty)) {
        set_exit(v, VMX_REASON_VMENTRY_GUEST | 0x80000000u);  // invalid guest state: entry failure
        return HV_SUCCESS;
      }
      return HV_ERROR;
    }
    v.regs_dirty = v.sregs_dirty = false;
    adopt_kvm_state(v);
    if (r < 0) {
      drain_kick();
      if (v.kick.exchange(false)) {
        set_exit(v, VMX_REASON_IRQ);
        return HV_SUCCESS;
      }
      continue;  // a kick that was already consumed, or another signal
    }
    Step s = Step::kError;
    switch (run->exit_reason) {
      case KVM_EXIT_IO:
        s = handle_io(v);
        break;
      case KVM_EXIT_HLT: {
        // KVM retired the 1-byte HLT (notes §5); HVF leaves RIP at it.
        set_exit(v, VMX_REASON_HLT);
        uint8_t b = 0;
        int mode = code_mode(v.sregs);
        if (read_code(v, v.regs.rip - 1, mode, &b, 1) == 1 && b == 0xf4) {
          v.regs.rip -= 1;
          v.regs_dirty = true;
        }
        v.exit.instr_len = 1;
        s = Step::kReturn;
        break;
      }
      case KVM_EXIT_MMIO:
        s = handle_mmio(v);
        break;
      case KVM_EXIT_INTERNAL_ERROR:
        s = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? handle_emulation_failure(v)
                                                                     : Step::kError;
        break;
      case KVM_EXIT_SHUTDOWN:
        set_exit(v, VMX_REASON_TRIPLE_FAULT);
        s = Step::kReturn;
        break;
      case KVM_EXIT_FAIL_ENTRY:
        set_exit(v, VMX_REASON_VMENTRY_GUEST | 0x80000000u);
        s = Step::kReturn;
        break;
      case KVM_EXIT_INTR:
        if (v.kick.exchange(false)) {
          drain_kick();
          set_exit(v, VMX_REASON_IRQ);
          s = Step::kReturn;
        } else {
          s = Step::kContinue;
        }
        break;
      default:
        s = Step::kError;
        break;
    }
    if (s == Step::kReturn) return HV_SUCCESS;
    if (s == Step::kError) {
      if (getenv("HVKVM_DEBUG"))
        fprintf(stderr, "hvkvm: vcpu %u: unhandled KVM exit %u (suberror %u) at rip 0x%llx\n", v.id,
                run->exit_reason, run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? run->internal.suberror : 0,
                static_cast<unsigned long long>(v.regs.rip));
      return HV_ERROR;
    }
  }
}

}  // namespace

// ---- segments ---------------------------------------------------------------------------------------

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

bool load_dregs(Vcpu &v) {
  if (v.dregs_valid || v.dregs_dirty) return true;
  // KVM_GET_DEBUGREGS: DR0-3, DR6, DR7 of the vCPU.
  if (ioctl(v.fd, KVM_GET_DEBUGREGS, &v.dregs) != 0) return false;
  v.dregs_valid = true;
  return true;
}

bool load_xcrs(Vcpu &v) {
  if (v.xcrs_valid || v.xcrs_dirty) return true;
  // KVM_GET_XCRS: the extended control registers (XCR0) of the vCPU.
  if (ioctl(v.fd, KVM_GET_XCRS, &v.xcrs) != 0) return false;
  v.xcrs_valid = true;
  return true;
}

void free_vcpu(Vcpu *v) {
  if (v->run) munmap(v->run, v->run_size);
  if (v->fd >= 0) close(v->fd);  // KVM keeps the vCPU itself until the VM goes (deviation kvm.vcpu-ids)
  delete v;
}

}  // namespace hvkvm

using namespace hvkvm;

namespace {

__u64 *gpr_slot(kvm_regs &r, int reg) {
  switch (reg) {
    case HV_X86_RIP: return &r.rip; case HV_X86_RFLAGS: return &r.rflags;
    case HV_X86_RAX: return &r.rax; case HV_X86_RCX: return &r.rcx; case HV_X86_RDX: return &r.rdx;
    case HV_X86_RBX: return &r.rbx; case HV_X86_RSI: return &r.rsi; case HV_X86_RDI: return &r.rdi;
    case HV_X86_RSP: return &r.rsp; case HV_X86_RBP: return &r.rbp; case HV_X86_R8: return &r.r8;
    case HV_X86_R9: return &r.r9; case HV_X86_R10: return &r.r10; case HV_X86_R11: return &r.r11;
    case HV_X86_R12: return &r.r12; case HV_X86_R13: return &r.r13; case HV_X86_R14: return &r.r14;
    case HV_X86_R15: return &r.r15;
    default: return nullptr;
  }
}

// hv_x86_reg_t selector registers → VMCS segment index (ES CS SS DS FS GS LDTR TR).
int selector_index(int reg) {
  switch (reg) {
    case HV_X86_CS: return 1; case HV_X86_SS: return 2; case HV_X86_DS: return 3;
    case HV_X86_ES: return 0; case HV_X86_FS: return 4; case HV_X86_GS: return 5;
    case HV_X86_LDTR: return 6; case HV_X86_TR: return 7;
    default: return -1;
  }
}

__u64 *xcr0_slot(kvm_xcrs &x) {
  for (uint32_t i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; ++i)
    if (x.xcrs[i].xcr == 0) return &x.xcrs[i].value;
  return nullptr;
}

// ---- values a register cannot hold ------------------------------------------------------------------
//
// HVF's hv_vcpu_write_register may refuse "a value the register cannot hold" (the spec's `ok` row of
// hv_vcpu_write_register allows any return there). The provider refuses, with HV_BAD_ARGUMENT and no
// state change, every value that KVM would refuse when loading the register (KVM_RUN then fails and
// the vCPU is stuck with it) and that a real CPU refuses at VM entry anyway.

constexpr uint64_t kCr8Bits = 0xf;  // TPR is CR8: only bits 3:0 exist (SDM Vol. 3 §11.8.6.1)

// The VM's probe vCPU (see Vm::probe_fd), created on first use; -1 when KVM gave none. Takes
// g_vm->probe_mu, which the caller then holds through *lock.
int probe_vcpu(std::unique_lock<std::mutex> *lock) {
  Vm &vm = *g_vm;
  *lock = std::unique_lock<std::mutex>(vm.probe_mu);
  if (vm.probe_fd >= 0 || vm.probe_failed) return vm.probe_fd;
  vm.probe_failed = true;
  // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPU_ID): vCPU ids run below it. The probe takes the last one,
  // which hv_vcpu_create (ids counting up from 0, never reused) does not reach before KVM's limit
  // on the number of vCPUs.
  int max_id = ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
  if (max_id <= 0) max_id = ioctl(vm.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max_id <= static_cast<int>(vm.next_vcpu_id) + 1) return -1;
  // KVM_CREATE_VCPU: a vCPU that only ever receives KVM_SET_CPUID2 and KVM_SET_SREGS.
  int fd = ioctl(vm.vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(max_id - 1));
  if (fd < 0) return -1;
  // KVM_SET_CPUID2: the same CPUID as every vCPU, on which KVM's reserved CR4 bits depend.
  if (ioctl(fd, kKvmSetCpuid2, vm.cpuid) != 0) {
    close(fd);
    return -1;
  }
  vm.probe_fd = fd;
  vm.probe_failed = false;
  return fd;
}

// Whether KVM accepts `value` for CR0 or CR4 on its own: KVM_SET_SREGS on the probe vCPU with that
// value in an otherwise neutral state (protected mode without paging, EFER = 0, so that KVM's checks
// of the combination — long mode needs PAE and LMA — do not apply). Only the value's own validity is
// judged: a VMM writes CR0, CR4 and EFER one at a time, and a combination that is invalid for a
// moment is legitimate (it fails at VM entry, as in VMX).
bool sregs_value_accepted(int reg, uint64_t value) {
  std::unique_lock<std::mutex> lock;
  int fd = probe_vcpu(&lock);
  if (fd < 0) return true;  // cannot ask; KVM_RUN will tell (an entry-failure exit)
  kvm_sregs probe;
  // KVM_GET_SREGS: the probe's own (reset) state, so that everything but the value is what KVM
  // already accepted (segments, APIC base).
  if (ioctl(fd, KVM_GET_SREGS, &probe) != 0) return true;
  memset(probe.interrupt_bitmap, 0, sizeof probe.interrupt_bitmap);
  probe.cs.l = 0;
  probe.efer = 0;
  probe.cr0 = 0x11;  // PE | ET
  probe.cr3 = 0;
  probe.cr4 = 0;
  if (reg == HV_X86_CR0) probe.cr0 = value;
  else probe.cr4 = value;
  // KVM_SET_SREGS: EINVAL for CR0 bits 63:32, CR0.NW without CD, CR0.PG without PE, and CR4 bits
  // the vCPU's CPUID does not allow.
  return ioctl(fd, KVM_SET_SREGS, &probe) == 0;
}

}  // namespace

extern "C" {

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!vcpu || (flags & ~uint64_t{HV_VCPU_ACCEL_RDPMC | HV_VCPU_TSC_RELATIVE})) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  if (vm.vcpus.size() >= vm.max_vcpus) return HV_NO_RESOURCES;
  auto *v = new Vcpu();
  v->id = vm.next_vcpu_id;
  // KVM_CREATE_VCPU(id): a new vCPU fd; EINVAL/EEXIST when the id is out of range or was used
  // (KVM frees vCPUs only with the VM).
  v->fd = ioctl(vm.vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(v->id));
  if (v->fd < 0) {
    delete v;
    return HV_NO_RESOURCES;
  }
  v->run_size = vm.run_size;
  void *p = mmap(nullptr, vm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (p == MAP_FAILED) {
    free_vcpu(v);
    return HV_NO_RESOURCES;
  }
  v->run = static_cast<kvm_run *>(p);
  // KVM_SET_CPUID2: the CPUID the guest sees (KVM_GET_SUPPORTED_CPUID as is); KVM serves CPUID itself.
  if (ioctl(v->fd, kKvmSetCpuid2, vm.cpuid) != 0) {
    free_vcpu(v);
    return HV_ERROR;
  }
  // Kicks (notes §6 B): block the signal on this thread, and unblock it only inside KVM_RUN.
  sigset_t kick, cur;
  sigemptyset(&kick);
  sigaddset(&kick, kick_signal());
  pthread_sigmask(SIG_BLOCK, &kick, &cur);
  sigdelset(&cur, kick_signal());
  alignas(8) uint8_t km[kSignalMaskHeader + 8] = {};
  uint32_t km_len = 8;  // the kernel's sigset size on x86_64
  memcpy(km, &km_len, sizeof km_len);
  memcpy(km + kSignalMaskHeader, &cur, 8);
  // KVM_SET_SIGNAL_MASK: the signal mask in force while this vCPU is in KVM_RUN.
  // KVM_GET_REGS / KVM_GET_SREGS: the reset state, the register file's starting point.
  if (ioctl(v->fd, kKvmSetSignalMask, km) != 0 || ioctl(v->fd, KVM_GET_REGS, &v->regs) != 0 ||
      ioctl(v->fd, KVM_GET_SREGS, &v->sregs) != 0) {
    free_vcpu(v);
    return HV_ERROR;
  }
  v->owner = pthread_self();
  v->owner_tid = static_cast<pid_t>(syscall(SYS_gettid));
  vm.vcpus[v->id] = v;
  vm.next_vcpu_id++;
  *vcpu = v->id;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_BAD_ARGUMENT;
  auto it = g_vm->vcpus.find(vcpu);
  if (it == g_vm->vcpus.end() || !pthread_equal(it->second->owner, pthread_self())) return HV_BAD_ARGUMENT;
  Vcpu *v = it->second;
  g_vm->vcpus.erase(it);
  free_vcpu(v);
  drain_kick();  // a kick racing the destroy must not leave a pending signal on this thread
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid) {
  if (!find_vcpu(vcpu, true) || asid != HV_VM_SPACE_DEFAULT) return HV_BAD_ARGUMENT;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !value || static_cast<unsigned>(reg) >= HV_X86_REGISTERS_MAX) return HV_BAD_ARGUMENT;
  if (__u64 *g = gpr_slot(v->regs, reg)) {
    *value = *g;
    return HV_SUCCESS;
  }
  int si = selector_index(reg);
  if (si >= 0) {
    *value = seg_by_index(v->sregs, si)->selector;
    return HV_SUCCESS;
  }
  kvm_sregs &s = v->sregs;
  switch (reg) {
    case HV_X86_IDT_BASE: *value = s.idt.base; break;
    case HV_X86_IDT_LIMIT: *value = s.idt.limit; break;
    case HV_X86_GDT_BASE: *value = s.gdt.base; break;
    case HV_X86_GDT_LIMIT: *value = s.gdt.limit; break;
    case HV_X86_LDT_BASE: *value = s.ldt.base; break;
    case HV_X86_LDT_LIMIT: *value = s.ldt.limit; break;
    case HV_X86_LDT_AR: *value = ar_of(s.ldt); break;
    case HV_X86_TSS_BASE: *value = s.tr.base; break;
    case HV_X86_TSS_LIMIT: *value = s.tr.limit; break;
    case HV_X86_TSS_AR: *value = ar_of(s.tr); break;
    case HV_X86_CR0: *value = s.cr0; break;
    case HV_X86_CR1: *value = v->cr1; break;
    case HV_X86_CR2: *value = s.cr2; break;
    case HV_X86_CR3: *value = s.cr3; break;
    case HV_X86_CR4: *value = s.cr4 | (v->cr4_vmxe ? (1u << 13) : 0); break;
    case HV_X86_TPR: *value = s.cr8; break;
    case HV_X86_DR4: *value = v->dr4; break;
    case HV_X86_DR5: *value = v->dr5; break;
    case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3: case HV_X86_DR6: case HV_X86_DR7:
      if (!load_dregs(*v)) return HV_ERROR;
      *value = reg == HV_X86_DR6 ? v->dregs.dr6 : reg == HV_X86_DR7 ? v->dregs.dr7 : v->dregs.db[reg - HV_X86_DR0];
      break;
    case HV_X86_XCR0: {
      if (!load_xcrs(*v)) return HV_ERROR;
      __u64 *x = xcr0_slot(v->xcrs);
      *value = x ? *x : 1;
      break;
    }
    default: return HV_BAD_ARGUMENT;
  }
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || static_cast<unsigned>(reg) >= HV_X86_REGISTERS_MAX) return HV_BAD_ARGUMENT;
  if (__u64 *g = gpr_slot(v->regs, reg)) {
    *g = value;
    v->regs_dirty = true;
    return HV_SUCCESS;
  }
  int si = selector_index(reg);
  kvm_sregs &s = v->sregs;
  if (si >= 0) {
    seg_by_index(s, si)->selector = static_cast<uint16_t>(value);
    v->sregs_dirty = true;
    return HV_SUCCESS;
  }
  switch (reg) {
    case HV_X86_IDT_BASE: s.idt.base = value; break;
    case HV_X86_IDT_LIMIT: s.idt.limit = static_cast<uint16_t>(value); break;
    case HV_X86_GDT_BASE: s.gdt.base = value; break;
    case HV_X86_GDT_LIMIT: s.gdt.limit = static_cast<uint16_t>(value); break;
    case HV_X86_LDT_BASE: s.ldt.base = value; break;
    case HV_X86_LDT_LIMIT: s.ldt.limit = static_cast<uint32_t>(value); break;
    case HV_X86_LDT_AR: set_ar(s.ldt, value); break;
    case HV_X86_TSS_BASE: s.tr.base = value; break;
    case HV_X86_TSS_LIMIT: s.tr.limit = static_cast<uint32_t>(value); break;
    case HV_X86_TSS_AR: set_ar(s.tr, value); break;
    case HV_X86_CR0:
      if (!sregs_value_accepted(HV_X86_CR0, value)) return HV_BAD_ARGUMENT;
      s.cr0 = value;
      break;
    case HV_X86_CR1: v->cr1 = value; return HV_SUCCESS;
    case HV_X86_CR2: s.cr2 = value; break;
    case HV_X86_CR3: s.cr3 = value; break;
    case HV_X86_CR4: {
      // CR4.VMXE is kept aside (VMX needs it, KVM without nested VMX refuses it): not KVM's to judge.
      uint64_t kvm_cr4 = value & ~static_cast<uint64_t>(kCr4Vmxe);
      if (!sregs_value_accepted(HV_X86_CR4, kvm_cr4)) return HV_BAD_ARGUMENT;
      v->cr4_vmxe = value & kCr4Vmxe;
      s.cr4 = kvm_cr4;
      break;
    }
    case HV_X86_TPR:
      // A CR8 with bits above 3 fails VM entry on this KVM (exit 33, x86_64-native-kvm-4).
      if (value & ~kCr8Bits) return HV_BAD_ARGUMENT;
      s.cr8 = value;
      break;
    case HV_X86_DR4: v->dr4 = value; return HV_SUCCESS;
    case HV_X86_DR5: v->dr5 = value; return HV_SUCCESS;
    case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3: case HV_X86_DR6: case HV_X86_DR7:
      // DR6/DR7 bits 63:32 are reserved (must be 0: VM entry checks DR7, MOV DR #GPs) and
      // KVM_SET_DEBUGREGS refuses them.
      if ((reg == HV_X86_DR6 || reg == HV_X86_DR7) && (value >> 32)) return HV_BAD_ARGUMENT;
      if (!load_dregs(*v)) return HV_ERROR;
      if (reg == HV_X86_DR6) v->dregs.dr6 = value;
      else if (reg == HV_X86_DR7) v->dregs.dr7 = value;
      else v->dregs.db[reg - HV_X86_DR0] = value;
      v->dregs_dirty = true;
      return HV_SUCCESS;
    case HV_X86_XCR0: {
      if (!load_xcrs(*v)) return HV_ERROR;
      kvm_xcrs next = v->xcrs;
      __u64 *x = xcr0_slot(next);
      if (!x) {
        if (next.nr_xcrs >= KVM_MAX_XCRS) return HV_ERROR;
        next.xcrs[next.nr_xcrs].xcr = 0;
        x = &next.xcrs[next.nr_xcrs++].value;
      }
      *x = value;
      // KVM_SET_XCRS, now rather than before the next run: EINVAL for an XCR0 the vCPU's CPUID does
      // not allow (x87 clear, AVX without SSE, partial AVX-512, unsupported bits), which a real
      // XSETBV refuses too; refused, nothing changes.
      if (ioctl(v->fd, KVM_SET_XCRS, &next) != 0) return HV_BAD_ARGUMENT;
      v->xcrs = next;
      v->xcrs_valid = true;
      v->xcrs_dirty = false;
      return HV_SUCCESS;
    }
    default: return HV_BAD_ARGUMENT;
  }
  v->sregs_dirty = true;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu) {
  // The register file is written back before every KVM_RUN; nothing is cached beyond that.
  return find_vcpu(vcpu, true) ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  v->sregs_dirty = true;  // loading SREGS resets KVM's MMU context, which flushes the guest TLB
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  return run_vcpu(*v);
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  if (deadline != HV_DEADLINE_FOREVER) return HV_UNSUPPORTED;  // no preemption timer ([H] allows it)
  return run_vcpu(*v);
}

hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count) {
  if (vcpu_count && !vcpus) return HV_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(g_mu);
  for (unsigned i = 0; i < vcpu_count; ++i)
    if (!g_vm || !g_vm->vcpus.count(vcpus[i])) return HV_BAD_ARGUMENT;  // no flag set (decisions.md)
  for (unsigned i = 0; i < vcpu_count; ++i) {
    Vcpu *v = g_vm->vcpus[vcpus[i]];
    v->kick.store(true);
    // The flag is the truth; the signal only gets the thread out of KVM_RUN (or makes the next
    // KVM_RUN return at once). tgkill, because the owning thread may have exited.
    syscall(SYS_tgkill, getpid(), v->owner_tid, kick_signal());
  }
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !time) return HV_BAD_ARGUMENT;
  *time = v->exec_time_ns;  // time spent inside KVM_RUN, in nanoseconds as the x86 header says
  return HV_SUCCESS;
}

}  // extern "C"
