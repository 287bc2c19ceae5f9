// exit.cc — KVM exit → HVF exit, a pure function of a KvmExit (see exit.h and notes §5).
#include "exit.h"

#include <errno.h>

#include "decode.h"
#include "hvspec/hv_x86.h"

namespace hvkvm {

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kCr0Pg = 0x80000000ull;
constexpr uint64_t kRflagsDf = 1u << 10;
constexpr uint64_t kRflagsTf = 1u << 8;
// EPT-violation qualification (facts §1.6): access bits, the mapping's R/W/X in bits 5:3, and bits 7+8
// (guest-linear address valid, access to the translation of a linear address) for every data access
// and fetch the provider reports.
constexpr uint64_t kEptRead = 1, kEptWrite = 2, kEptFetch = 4, kEptGla = 0x180;
constexpr uint64_t kEntryFailure = VMX_REASON_VMENTRY_GUEST | 0x80000000u;
constexpr uint32_t kPermBits = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;

uint64_t ip_mask(int mode) { return mode == 64 ? ~0ull : mode == 32 ? 0xffffffffull : 0xffffull; }

bool paging(const kvm_sregs &s) { return s.cr0 & kCr0Pg; }

// Up to `max` code bytes at `at` from the fetched code; how many (0 when `at` is outside it).
size_t code_at(const CodeBytes &c, uint64_t at, size_t max, const uint8_t **p) {
  if (at < c.ip || at - c.ip >= c.n) return 0;
  size_t off = static_cast<size_t>(at - c.ip);
  *p = c.bytes + off;
  return c.n - off < max ? c.n - off : max;
}

Translation report(const KvmExit &e, uint64_t reason) {
  Translation t;
  t.next = Next::kReport;
  t.exit.reason = reason;
  t.regs = e.regs;
  t.fetch_retry_generation = e.fetch_retry_generation;
  return t;
}

Translation next(const KvmExit &e, Next n) {
  Translation t;
  t.next = n;
  t.regs = e.regs;
  t.fetch_retry_generation = e.fetch_retry_generation;
  return t;
}

// ---- I/O ------------------------------------------------------------------------------------------

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

// The length of the instruction that ends at `after`, found by decoding forward from the RIP the
// vCPU entered the guest at (a known instruction boundary); 0 when that walk does not land exactly
// on `after` (the guest jumped into the middle of the bytes, or code the decoder cannot read).
//
// The backward search alone cannot see a redundant prefix: `3e 89 03` and `89 03` both end at the
// same byte and access the same address, and a prefix byte may just as well be the last byte of the
// previous instruction. Straight-line code from the entry point settles it, and is the usual case
// (the guest ran a few instructions since the VMM last set RIP); the caller still checks the result.
size_t anchored_length(const KvmExit &e, uint64_t after, int mode) {
  uint64_t from = e.entry_rip;
  if (after <= from || after - from > kMaxAnchorSpan) return 0;
  size_t span = static_cast<size_t>(after - from);
  const uint8_t *code = nullptr;
  if (code_at(e.code, from, span, &code) != span) return 0;
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

// The (up to) 15 code bytes that end at `after`: *p points at the first; returns how many.
size_t code_before(const CodeBytes &c, uint64_t after, const uint8_t **p) {
  if (after <= c.ip || after - c.ip > c.n) return 0;
  size_t avail = static_cast<size_t>(after - c.ip);
  if (avail > kMaxInsn) avail = kMaxInsn;
  *p = c.bytes + static_cast<size_t>(after - c.ip) - avail;
  return avail;
}

// An I/O instruction starting exactly at `at`, decoded from `code`.
bool io_forward(const CodeBytes &code, const kvm_regs &regs, int mode, bool in, int size, uint16_t port,
                uint64_t at, IoForm *f) {
  const uint8_t *buf = nullptr;
  size_t n = code_at(code, at, kMaxInsn, &buf);
  Insn d;
  bool string = false, imm = false;
  if (n == 0 || !decode(buf, n, mode, &regs, at, &d) || !io_opcode_matches(d, in, size, port, regs, &string, &imm) ||
      !imm_port_ok(buf, d, port))
    return false;
  *f = IoForm{at, d.len, string, d.rep, imm, d};
  return true;
}

uint64_t addr_mask(int addrsize) { return addrsize == 8 ? ~0ull : (1ull << (8 * addrsize)) - 1; }

// An OUT or OUTS ending exactly at `after` (retired by KVM): the shortest k whose decode at after-k is
// exactly k bytes of a matching OUT. Redundant prefixes cannot be told from the previous instruction's
// bytes; a required operand-size prefix is found because the access size must agree. A retired OUTS
// is a single one, or a REP one whose count ran out: a REP prefix right before a matching OUTS is
// taken as its own when the count register is 0.
bool out_backward(const KvmExit &e, int mode, int size, uint16_t port, uint64_t after, IoForm *f) {
  const uint8_t *end = nullptr;
  size_t avail = code_before(e.code, after, &end);
  if (avail) end += avail;
  size_t anchored = anchored_length(e, after, mode);
  auto match = [&](size_t k, IoForm *out) {
    const uint8_t *p = end - k;
    Insn d;
    bool string = false, imm = false;
    if (!decode(p, k, mode, &e.regs, after - k, &d) || static_cast<size_t>(d.len) != k ||
        !io_opcode_matches(d, false, size, port, e.regs, &string, &imm) || !imm_port_ok(p, d, port))
      return false;
    if (string && (d.rep || d.repne) && (e.regs.rcx & addr_mask(d.addrsize)) != 0) return false;
    *out = IoForm{after - k, d.len, string, d.rep || d.repne, imm, d};
    return true;
  };
  // The anchored length first (it sees redundant prefixes), then the shortest decode that fits.
  if (anchored && anchored <= avail && match(anchored, f)) return true;
  for (size_t k = 1; k <= avail; ++k) {
    if (k == anchored || !match(k, f)) continue;
    IoForm rep;
    if (f->string && !f->rep && k < avail && (end[-static_cast<ptrdiff_t>(k) - 1] == 0xf3 ||
                                               end[-static_cast<ptrdiff_t>(k) - 1] == 0xf2) &&
        match(k + 1, &rep))
      *f = rep;
    return true;
  }
  return false;
}

Translation translate_io(const KvmExit &e) {
  const bool in = e.io.in;
  const int size = e.io.size;
  const uint16_t port = e.io.port;
  const int mode = code_mode(e.sregs);
  const uint64_t kvm_rip = e.regs.rip;
  IoForm f{};
  bool found;
  if (in) {
    found = io_forward(e.code, e.regs, mode, true, size, port, kvm_rip, &f);  // KVM leaves RIP at IN/INS
  } else if (!e.flushed) {
    IoForm fwd{}, back{};
    bool is_fwd = io_forward(e.code, e.regs, mode, false, size, port, kvm_rip, &fwd);
    bool is_back = out_backward(e, mode, size, port, kvm_rip, &back);
    // VMX/SVM fast path (RIP at the OUT, KVM skips it on the next run), OUTS, or ambiguous bytes: let
    // KVM finish first, then look again from where RIP ended.
    if (!is_back || is_fwd) return next(e, Next::kFlush);
    f = back;  // emulated OUT (this PVM, notes §5): retired, RIP past it, nothing pending
    found = true;
  } else {
    // After the flush: OUTS with iterations left stays at the instruction; anything else ended at the
    // OUT's end, or (bytes the backward search cannot place) is taken from where it started.
    IoForm fwd{};
    bool is_fwd = io_forward(e.flush_code, e.regs, mode, false, size, port, e.flush_rip, &fwd);
    if (kvm_rip == e.flush_rip && is_fwd && fwd.string) {
      f = fwd;
      found = true;
    } else {
      found = out_backward(e, mode, size, port, kvm_rip, &f) || (is_fwd && (f = fwd, true));
    }
  }
  Translation t = report(e, VMX_REASON_IO);
  uint64_t q = static_cast<uint64_t>(size - 1) | (in ? 8u : 0u) | (static_cast<uint64_t>(port) << 16);
  if (found) {
    if (f.string) q |= 16;
    if (f.string && f.rep) q |= 32;
    if (f.imm) q |= 64;
    t.exit.instr_len = f.len;
    t.regs.rip = f.start;
    if (f.string) {
      const uint64_t mask = addr_mask(f.insn.addrsize);
      auto masked_add = [mask](uint64_t reg, uint64_t delta) { return (reg & ~mask) | ((reg + delta) & mask); };
      if (!in) {
        // KVM has already output the element(s) of this exit and moved RSI (and RCX for REP) on; HVF
        // exits before the iteration and the VMM does it. Present the registers from before it, so
        // that the VMM's emulation of the iteration lands where KVM's did.
        uint64_t n = e.io.count ? e.io.count : 1;
        uint64_t step = n * static_cast<uint64_t>(size);
        t.regs.rsi = masked_add(t.regs.rsi, (t.regs.rflags & kRflagsDf) ? step : 0 - step);
        if (f.rep) t.regs.rcx = masked_add(t.regs.rcx, n);
      } else {
        // KVM's completion of INS stores the port data at ES:(E)DI; the VMM's own store must stand.
        t.guard_store = true;
        t.guard_linear = e.sregs.es.base + (t.regs.rdi & mask);
        if (mode != 64) t.guard_linear &= 0xffffffffull;
        t.guard_len = static_cast<uint32_t>(size) * (e.io.count ? e.io.count : 1);
      }
      uint64_t off = (in ? t.regs.rdi : t.regs.rsi) & mask;
      t.exit.gla = seg_base(e.sregs, f.insn.seg) + off;
      if (mode != 64) t.exit.gla &= 0xffffffffull;
      uint64_t asz = f.insn.addrsize == 2 ? 0 : f.insn.addrsize == 4 ? 1 : 2;
      t.exit.instr_info = (asz << 7) | (static_cast<uint64_t>(f.insn.seg) << 15);
    }
  } else if (e.io.count > 1) {
    q |= 16;  // should not happen for code the provider can read: report KVM's RIP and what it gave
  }
  t.exit.qualification = q;
  t.exit.io_rcx = t.regs.rcx;
  t.exit.io_rsi = t.regs.rsi;
  t.exit.io_rdi = t.regs.rdi;
  t.exit.io_rip = t.regs.rip;
  if (in) t.pending = Pending::kIoIn;
  return t;
}

// ---- MMIO -----------------------------------------------------------------------------------------

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

uint64_t operand_linear(const kvm_sregs &s, const Insn &d, int mode) {
  uint64_t l = seg_base(s, d.seg) + d.ea;
  return mode == 64 ? l : l & 0xffffffffull;
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
bool access_matches(const kvm_sregs &s, const Insn &d, uint64_t gpa, int mode, int len) {
  if (!d.has_mem || !d.ea_known) return false;
  uint64_t lin = operand_linear(s, d, mode);
  // With paging only the page offset can be compared (the GPA comes from the guest's page tables).
  auto same = [&](uint64_t l) { return paging(s) ? ((l ^ gpa) & (kPageSize - 1)) == 0 : l == gpa; };
  int size = mem_access_size(d);
  if (d.string_op) {
    // The index register may already have moved by one element; the element size is the exit's.
    return same(lin) || same(lin - len) || same(lin + len);
  }
  if (size == 0) return same(lin);  // an instruction whose access size the decoder does not know
  if (size == len) return same(lin);
  if (len > size) return false;
  uint64_t in_page = kPageSize - (lin & (kPageSize - 1));  // bytes of the access before the page boundary
  if (in_page >= static_cast<uint64_t>(size)) return false;  // the access does not cross a page
  if (same(lin)) return static_cast<uint64_t>(len) == in_page;  // first fragment
  // Second fragment: at the start of the next page, the rest of the access.
  return gpa % kPageSize == 0 && static_cast<uint64_t>(len) == size - in_page && same(lin + in_page);
}

struct MmioInsn {
  uint64_t start = 0;
  int len = 0;
  uint64_t gla = 0;
  Insn insn;
};

// Finds the instruction of an MMIO access and its length. For reads KVM left RIP at it; for writes
// it is retired, so the search goes backward from RIP and the memory operand must address gpa.
bool find_mmio(const KvmExit &e, MmioInsn *out) {
  const int mode = code_mode(e.sregs);
  const uint64_t rip = e.regs.rip;
  const uint64_t gpa = e.mmio.gpa;
  const int size = static_cast<int>(e.mmio.len);
  if (e.mmio.is_write) {
    const uint8_t *end = nullptr;
    size_t avail = code_before(e.code, rip, &end);
    if (avail) end += avail;
    size_t anchored = anchored_length(e, rip, mode);
    // The anchored length first (it sees redundant prefixes), then the shortest decode that fits:
    // a required prefix (0x66 on a 16-bit store) is then found through the access size.
    for (size_t j = 0; j <= avail; ++j) {
      size_t k = j == 0 ? anchored : j;
      if (k == 0 || k > avail || (j != 0 && j == anchored)) continue;
      Insn d;
      if (decode(end - k, k, mode, &e.regs, rip - k, &d) && static_cast<size_t>(d.len) == k &&
          access_matches(e.sregs, d, gpa, mode, size)) {
        *out = MmioInsn{rip - k, d.len, operand_linear(e.sregs, d, mode), d};
        return true;
      }
    }
  }
  // Forward at RIP: MMIO reads, and REP string stores that KVM left at the instruction.
  const uint8_t *buf = nullptr;
  size_t n = code_at(e.code, rip, kMaxInsn, &buf);
  Insn d;
  if (n && decode(buf, n, mode, &e.regs, rip, &d) && (!e.mmio.is_write || access_matches(e.sregs, d, gpa, mode, size))) {
    *out = MmioInsn{rip, d.len, d.ea_known ? operand_linear(e.sregs, d, mode) : 0, d};
    return true;
  }
  return false;
}

// OUTS whose source KVM's emulator reads first, from memory that exits: the framework exits on the
// I/O instruction before any memory access (unconditional I/O exiting, Intel SDM §26.1.3), so this is
// the I/O exit, with RSI and RCX untouched. KVM still owes the read (and then performs the output,
// which the next run's completion absorbs).
Translation translate_outs_read(const KvmExit &e, const MmioInsn &m) {
  const int mode = code_mode(e.sregs);
  const int size = m.insn.op == 0x6e ? 1 : (m.insn.opsize == 2 ? 2 : 4);
  const uint16_t port = static_cast<uint16_t>(e.regs.rdx);
  Translation t = report(e, VMX_REASON_IO);
  t.exit.qualification = static_cast<uint64_t>(size - 1) | 16u | (m.insn.rep ? 32u : 0u) |
                         (static_cast<uint64_t>(port) << 16);
  t.exit.instr_len = static_cast<uint64_t>(m.len);
  t.regs.rip = m.start;
  t.exit.gla = seg_base(e.sregs, m.insn.seg) + (e.regs.rsi & addr_mask(m.insn.addrsize));
  if (mode != 64) t.exit.gla &= 0xffffffffull;
  uint64_t asz = m.insn.addrsize == 2 ? 0 : m.insn.addrsize == 4 ? 1 : 2;
  t.exit.instr_info = (asz << 7) | (static_cast<uint64_t>(m.insn.seg) << 15);
  t.exit.io_rcx = t.regs.rcx;
  t.exit.io_rsi = t.regs.rsi;
  t.exit.io_rdi = t.regs.rdi;
  t.exit.io_rip = t.regs.rip;
  t.pending = Pending::kMmioRead;
  return t;
}

Translation translate_mmio(const KvmExit &e) {
  // Permitted by the mapping (trap-mode regions, WX writes, a slot being rebuilt): done by the
  // provider, the VMM never sees it (hv_vcpu_run_until does not return for handled exits, facts §1.2 [H]).
  if (e.mmio.completed) return next(e, Next::kResume);
  // For a write KVM has already retired the instruction and owes nothing (a single-fragment write's
  // completion is a no-op), so no flush is needed; for a read the completion stays pending.
  MmioInsn m;
  bool found = find_mmio(e, &m);
  if (found && !e.mmio.is_write && m.insn.map == 0 && (m.insn.op == 0x6e || m.insn.op == 0x6f))
    return translate_outs_read(e, m);
  Translation t = report(e, VMX_REASON_EPT_VIOLATION);
  uint32_t flags = e.mmio.mapped ? e.mmio.flags & kPermBits : 0;
  t.exit.qualification = (e.mmio.is_write ? kEptWrite : kEptRead) | (static_cast<uint64_t>(flags) << 3) | kEptGla;
  t.exit.gpa = e.mmio.gpa;
  // Without paging the linear address is the physical one; with paging, the decoded operand's.
  t.exit.gla = paging(e.sregs) ? (found ? m.gla : 0) : e.mmio.gpa;
  t.exit.instr_len = found ? m.len : 0;
  if (found) t.regs.rip = m.start;
  if (!e.mmio.is_write) {
    t.pending = Pending::kMmioRead;
    if (found && m.insn.map == 0 && (m.insn.op == 0xa4 || m.insn.op == 0xa5)) {  // MOVS: stores to ES:(E)DI
      uint64_t lin = e.sregs.es.base + (e.regs.rdi & addr_mask(m.insn.addrsize));
      if (code_mode(e.sregs) != 64) lin &= 0xffffffffull;
      t.guard_store = true;
      t.guard_linear = lin;
      t.guard_len = e.mmio.len;
    }
  }
  return t;
}

// ---- the rest -------------------------------------------------------------------------------------

// KVM_EXIT_INTERNAL_ERROR / EMULATION at a RIP outside every executable mapping is an instruction
// fetch from memory the guest may not execute (notes §3: KVM reports no GPA, so RIP is translated).
Translation translate_emulation_failure(const KvmExit &e) {
  if (!e.fetch.translated) return next(e, Next::kError);
  uint32_t flags = e.fetch.mapped ? e.fetch.flags & kPermBits : 0;
  if (e.fetch.mapped && (flags & HV_MEMORY_EXEC) && e.fetch.slot_backed) {
    // Executable and backed by a slot: either the fetch hit the moment another thread rebuilt the
    // slots (notes §4: delete + create is not atomic; the lookup waited for the rebuild, so a retry
    // sees the new slot), or a real emulation failure. Retry once per memslot generation: a real
    // failure repeats without any slot change in between.
    if (e.fetch.generation == e.fetch_retry_generation) return next(e, Next::kError);
    Translation t = next(e, Next::kResume);
    t.fetch_retry_generation = e.fetch.generation;
    return t;
  }
  Translation t = report(e, VMX_REASON_EPT_VIOLATION);
  t.exit.qualification = kEptFetch | (static_cast<uint64_t>(flags) << 3) | kEptGla;
  t.exit.gpa = e.fetch.gpa;
  t.exit.gla = code_linear(e.sregs, e.regs.rip, code_mode(e.sregs));
  return t;
}

Translation translate_hlt(const KvmExit &e) {
  // KVM retired the 1-byte HLT (notes §5); HVF leaves RIP at it.
  Translation t = report(e, VMX_REASON_HLT);
  const uint8_t *b = nullptr;
  if (e.regs.rip >= 1 && code_at(e.code, e.regs.rip - 1, 1, &b) == 1 && *b == 0xf4) t.regs.rip = e.regs.rip - 1;
  t.exit.instr_len = 1;
  return t;
}

// RDMSR/WRMSR that KVM's MSR filter sent to user space (notes §7): RIP at the instruction, RCX the
// MSR, EDX:EAX the value of a WRMSR, all as the guest left them; the VMM answers a RDMSR in RAX/RDX
// and moves RIP on, and the next run hands that to KVM (facts §1.8 [T]).
Translation translate_msr(const KvmExit &e) {
  if (e.msr.failed) return next(e, Next::kError);
  if (e.msr.completed) return next(e, Next::kResume);
  const bool write = e.reason == KVM_EXIT_X86_WRMSR;
  Translation t = report(e, write ? VMX_REASON_WRMSR : VMX_REASON_RDMSR);
  const uint8_t *buf = nullptr;
  size_t n = code_at(e.code, e.regs.rip, kMaxInsn, &buf);
  Insn d;
  bool decoded = n && decode(buf, n, code_mode(e.sregs), &e.regs, e.regs.rip, &d) && d.map == 1 &&
                 d.op == (write ? 0x30 : 0x32);
  t.exit.instr_len = decoded ? d.len : 2;
  t.pending = write ? Pending::kMsrWrite : Pending::kMsrRead;
  return t;
}

// VMCALL (0F 01 C1) at RIP. The provider turns KVM's hypercall patching off, so that on AMD and PVM
// hosts a guest VMCALL raises #UD in the guest (notes §7); where the guest cannot deliver that #UD
// (no usable IDT) it ends in a triple fault at the VMCALL, with every register as the guest left it:
// exactly where HVF reports VMX_REASON_VMCALL. A single-step trap (RFLAGS.TF) pending at that
// instruction boundary would triple-fault there too, so it rules this out.
bool vmcall_at_rip(const KvmExit &e, int *len) {
  if (e.regs.rflags & kRflagsTf) return false;
  const uint8_t *buf = nullptr;
  size_t n = code_at(e.code, e.regs.rip, kMaxInsn, &buf);
  Insn d;
  if (!n || !decode(buf, n, code_mode(e.sregs), nullptr, e.regs.rip, &d)) return false;
  if (d.map != 1 || d.op != 0x01 || d.has_mem || buf[d.len - 1] != 0xc1) return false;
  *len = d.len;
  return true;
}

Translation translate_shutdown(const KvmExit &e) {
  if (e.walk.failed) {
    // The framework's EPT violation on the paging-structure access (Intel SDM Table 28-7): GPA of the
    // entry, the linear address valid (bit 7) but not a translated access (bit 8 clear), the
    // permissions of the entry's memory in bits 5:3; RIP at the instruction.
    Translation t = report(e, VMX_REASON_EPT_VIOLATION);
    t.exit.qualification = (e.walk.fetch ? kEptFetch : e.walk.write ? kEptWrite : kEptRead) |
                           (static_cast<uint64_t>(e.walk.flags & kPermBits) << 3) | 0x80;
    t.exit.gpa = e.walk.entry_gpa;
    t.exit.gla = e.walk.gla;
    t.exit.instr_len = static_cast<uint64_t>(e.walk.len);
    return t;
  }
  int len = 0;
  if (!vmcall_at_rip(e, &len)) return report(e, VMX_REASON_TRIPLE_FAULT);
  Translation t = report(e, VMX_REASON_VMCALL);
  t.exit.instr_len = static_cast<uint64_t>(len);
  return t;
}

Translation translate_kick(const KvmExit &e) {
  // A kick (hv_vcpu_interrupt) is VMX_REASON_IRQ, as HVF reports it (facts §1.7 [R]); any other
  // signal, or a kick the run loop already consumed, enters the guest again.
  return e.kicked ? report(e, VMX_REASON_IRQ) : next(e, Next::kResume);
}

}  // namespace

uint64_t code_linear(const kvm_sregs &s, uint64_t ip, int mode) {
  uint64_t lin = s.cs.base + (ip & ip_mask(mode));
  return mode == 64 ? lin : lin & 0xffffffffull;
}

CodeWanted code_wanted(const KvmExit &e) {
  if (e.result != RunResult::kExit) return {};
  const uint64_t rip = e.regs.rip;
  // The backward searches look at the last instruction's bytes, and at everything since the entry
  // RIP when that is close enough to decode from (anchored_length).
  auto back = [&] {
    uint64_t span = rip > e.entry_rip && rip - e.entry_rip <= kMaxAnchorSpan ? rip - e.entry_rip : 0;
    uint64_t want = span > kMaxInsn ? span : kMaxInsn;
    return want < rip ? want : rip;
  };
  switch (e.reason) {
    case KVM_EXIT_IO:
      return e.io.in ? CodeWanted{0, kMaxInsn} : CodeWanted{back(), kMaxInsn};
    case KVM_EXIT_MMIO:
      if (e.mmio.completed) return {};
      return e.mmio.is_write ? CodeWanted{back(), kMaxInsn} : CodeWanted{0, kMaxInsn};
    case KVM_EXIT_HLT:
      return {rip >= 1 ? 1u : 0u, 0};
    case KVM_EXIT_SHUTDOWN:
      return {0, kMaxInsn};
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      return e.msr.completed || e.msr.failed ? CodeWanted{} : CodeWanted{0, kMaxInsn};
    default:
      return {};
  }
}

Translation translate_exit(const KvmExit &e) {
  switch (e.result) {
    case RunResult::kSignal:
      return translate_kick(e);
    case RunResult::kFailed:
      // KVM refuses a register state the VMM wrote (-EINVAL from the KVM_RUN that loads it): on VMX
      // that is a VM-entry failure for invalid guest state. Any other error has no VMX equivalent.
      if (e.error == EINVAL && e.loaded_vmm_state) return report(e, kEntryFailure);
      return next(e, Next::kError);
    case RunResult::kExit:
      break;
  }
  switch (e.reason) {
    case KVM_EXIT_IO: return translate_io(e);
    case KVM_EXIT_MMIO: return translate_mmio(e);
    case KVM_EXIT_HLT: return translate_hlt(e);
    case KVM_EXIT_INTERNAL_ERROR:
      return e.suberror == KVM_INTERNAL_ERROR_EMULATION ? translate_emulation_failure(e) : next(e, Next::kError);
    case KVM_EXIT_SHUTDOWN: return translate_shutdown(e);
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR: return translate_msr(e);
    case KVM_EXIT_FAIL_ENTRY: return report(e, kEntryFailure);
    case KVM_EXIT_INTR: return translate_kick(e);
    default: return next(e, Next::kError);
  }
}

}  // namespace hvkvm
