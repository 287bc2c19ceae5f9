// exit_test.cc — the KVM-exit → HVF-exit translation (exit.cc), without /dev/kvm.
//
// Each case is a KvmExit as the run loop records it on this project's hosts (the RIP KVM leaves, the
// registers, the code bytes the provider fetched, the permissions at the GPA; README.md "What KVM
// does"), and the exit HVF would report for the same guest instruction: basic reason, qualification
// (facts §1.6), GPA, instruction length, RIP at the instruction, and the completion the next run must
// do.
#include <errno.h>

#include <initializer_list>
#include <optional>
#include <vector>

#include "check.h"
#include "decode.h"
#include "exit.h"
#include "memslots.h"
#include "hvspec/hv_x86.h"

namespace {

using namespace hvkvm;

kvm_segment flat(uint8_t type, bool db) {
  kvm_segment s{};
  s.limit = 0xffffffff;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.db = db;
  s.g = 1;
  return s;
}

// 32-bit flat protected mode, paging off (facts §1.8).
kvm_sregs prot32() {
  kvm_sregs s{};
  s.cr0 = 0x21;
  s.cs = flat(11, true);
  s.ds = s.es = s.ss = s.fs = s.gs = flat(3, true);
  return s;
}

// Real mode: 16-bit code, segment bases as set (CS base 0 here).
kvm_sregs real16() {
  kvm_sregs s = prot32();
  s.cr0 = 0x20;
  s.cs.db = 0;
  s.cs.limit = 0xffff;
  return s;
}

// IA-32e mode with paging: 64-bit code.
kvm_sregs long64() {
  kvm_sregs s = prot32();
  s.cr0 = 0x80000031;
  s.cr4 = 0x20;
  s.efer = 0x500;
  s.cs.l = 1;
  s.cs.db = 0;
  return s;
}

// Guest code at [base, base + bytes.size()); fetches outside it fail, as for unmapped code.
struct Image {
  uint64_t base;
  std::vector<uint8_t> bytes;
};

// Gives `e` the code the run loop would fetch for it from `img` (what code_wanted asks, as far as
// the image reaches).
void fetch(KvmExit &e, const Image &img) {
  CodeWanted w = code_wanted(e);
  uint64_t rip = e.regs.rip;
  uint64_t end = img.base + img.bytes.size();
  if (rip < img.base || rip > end) {
    e.code = CodeBytes{rip, nullptr, 0};
    return;
  }
  uint64_t lo = rip - img.base < w.back ? img.base : rip - w.back;
  uint64_t hi = end - rip < w.fwd ? end : rip + w.fwd;
  e.code = CodeBytes{lo, img.bytes.data() + (lo - img.base), static_cast<size_t>(hi - lo)};
}

// An exit of kind `reason` at `rip`, in a guest that entered at `entry`.
KvmExit exit_at(uint32_t reason, const kvm_sregs &s, uint64_t entry, uint64_t rip) {
  KvmExit e;
  e.reason = reason;
  e.sregs = s;
  e.regs.rip = rip;
  e.regs.rflags = 2;
  e.entry_rip = entry;
  return e;
}

KvmExit io_exit(const kvm_sregs &s, uint64_t entry, uint64_t rip, bool in, uint8_t size, uint16_t port) {
  KvmExit e = exit_at(KVM_EXIT_IO, s, entry, rip);
  e.io = {in, size, port, 1};
  return e;
}

KvmExit mmio_exit(const kvm_sregs &s, uint64_t entry, uint64_t rip, bool is_write, uint64_t gpa, uint32_t len) {
  KvmExit e = exit_at(KVM_EXIT_MMIO, s, entry, rip);
  e.mmio = {gpa, len, is_write};
  return e;
}

// The second look after Next::kFlush, as run.cc does it: the code at the old RIP is kept, KVM's
// RIP after the flush is `rip_after`.
Translation flush_and_retranslate(KvmExit e, const Image &img, uint64_t rip_after) {
  KvmExit f = e;
  f.flushed = true;
  f.flush_rip = e.regs.rip;
  size_t off = static_cast<size_t>(e.regs.rip - e.code.ip);
  f.flush_code = CodeBytes{e.regs.rip, e.code.bytes + off, e.code.n - off};
  f.regs.rip = rip_after;
  fetch(f, img);
  return translate_exit(f);
}

uint64_t io_qual(uint8_t size, bool in, uint16_t port, bool string, bool rep, bool imm) {
  return (size - 1u) | (in ? 8u : 0u) | (string ? 16u : 0u) | (rep ? 32u : 0u) | (imm ? 64u : 0u) |
         (static_cast<uint64_t>(port) << 16);
}

// What a translation must say: each field given is checked, the others are not.
struct Want {
  std::optional<Next> next_;
  std::optional<uint64_t> reason_, qual_, gpa_, gla_, rip_, len_, io_rip_, instr_info_, io_rsi_, io_rcx_;
  std::optional<uint64_t> rax_, rcx_, rdx_, rsi_, rdi_;
  std::optional<Pending> pending_;
  std::optional<uint64_t> guard_linear_, guard_len_;  // given: a guarded store; absent: none
  bool no_guard_ = false;

  Want &next(Next v) { return next_ = v, *this; }
  Want &reason(uint64_t v) { return reason_ = v, *this; }
  Want &qual(uint64_t v) { return qual_ = v, *this; }
  Want &gpa(uint64_t v) { return gpa_ = v, *this; }
  Want &gla(uint64_t v) { return gla_ = v, *this; }
  Want &rip(uint64_t v) { return rip_ = v, *this; }
  Want &len(uint64_t v) { return len_ = v, *this; }
  Want &io_rip(uint64_t v) { return io_rip_ = v, *this; }
  Want &instr_info(uint64_t v) { return instr_info_ = v, *this; }
  Want &io_rsi(uint64_t v) { return io_rsi_ = v, *this; }
  Want &io_rcx(uint64_t v) { return io_rcx_ = v, *this; }
  Want &rax(uint64_t v) { return rax_ = v, *this; }
  Want &rcx(uint64_t v) { return rcx_ = v, *this; }
  Want &rdx(uint64_t v) { return rdx_ = v, *this; }
  Want &rsi(uint64_t v) { return rsi_ = v, *this; }
  Want &rdi(uint64_t v) { return rdi_ = v, *this; }
  Want &pending(Pending v) { return pending_ = v, *this; }
  Want &guard(uint64_t linear, uint64_t len) { return guard_linear_ = linear, guard_len_ = len, *this; }
  Want &unguarded() { return no_guard_ = true, *this; }
};

void check_translation(const Translation &t, const Want &w) {
  if (w.next_) CHECK(t.next == *w.next_);
  if (w.reason_) CHECK_EQ(t.exit.reason, *w.reason_);
  if (w.qual_) CHECK_EQ(t.exit.qualification, *w.qual_);
  if (w.gpa_) CHECK_EQ(t.exit.gpa, *w.gpa_);
  if (w.gla_) CHECK_EQ(t.exit.gla, *w.gla_);
  if (w.rip_) CHECK_EQ(t.regs.rip, *w.rip_);
  if (w.len_) CHECK_EQ(t.exit.instr_len, *w.len_);
  if (w.io_rip_) CHECK_EQ(t.exit.io_rip, *w.io_rip_);
  if (w.instr_info_) CHECK_EQ(t.exit.instr_info, *w.instr_info_);
  if (w.io_rsi_) CHECK_EQ(t.exit.io_rsi, *w.io_rsi_);
  if (w.io_rcx_) CHECK_EQ(t.exit.io_rcx, *w.io_rcx_);
  if (w.rax_) CHECK_EQ(t.regs.rax, *w.rax_);
  if (w.rcx_) CHECK_EQ(t.regs.rcx, *w.rcx_);
  if (w.rdx_) CHECK_EQ(t.regs.rdx, *w.rdx_);
  if (w.rsi_) CHECK_EQ(t.regs.rsi, *w.rsi_);
  if (w.rdi_) CHECK_EQ(t.regs.rdi, *w.rdi_);
  if (w.pending_) CHECK(t.pending == *w.pending_);
  if (w.guard_linear_) {
    CHECK(t.guard_store);
    CHECK_EQ(t.guard_linear, *w.guard_linear_);
    CHECK_EQ(t.guard_len, *w.guard_len_);
  }
  if (w.no_guard_) CHECK(!t.guard_store);
}

#define CHECK_TRANSLATION(t, want) CHECKED_FOR_CALLER(check_translation((t), (want)))

// A form of IN or OUT (port 0x80 for OUT, 0x20 for IN) in a code mode, and the access size it has there.
struct IoForm {
  kvm_sregs s;
  std::vector<uint8_t> insn;
  bool in;
  uint8_t size;
  bool imm;
};

const std::vector<IoForm> &io_forms() {
  static const std::vector<IoForm> forms = {
      {prot32(), {0xe6, 0x80}, false, 1, true},  {prot32(), {0x66, 0xe7, 0x80}, false, 2, true},
      {prot32(), {0xe7, 0x80}, false, 4, true},  {prot32(), {0xee}, false, 1, false},
      {prot32(), {0x66, 0xef}, false, 2, false}, {prot32(), {0xef}, false, 4, false},
      {real16(), {0xe7, 0x80}, false, 2, true},  {real16(), {0x66, 0xe7, 0x80}, false, 4, true},
      {real16(), {0xef}, false, 2, false},       {real16(), {0x66, 0xef}, false, 4, false},
      {long64(), {0x66, 0xef}, false, 2, false}, {long64(), {0x48, 0xef}, false, 4, false},  // REX.W: still 4
      {prot32(), {0xe4, 0x20}, true, 1, true},   {prot32(), {0x66, 0xe5, 0x20}, true, 2, true},
      {prot32(), {0xe5, 0x20}, true, 4, true},   {prot32(), {0xec}, true, 1, false},
      {prot32(), {0x66, 0xed}, true, 2, false},  {prot32(), {0xed}, true, 4, false},
      {real16(), {0xed}, true, 2, false},        {real16(), {0x66, 0xe5, 0x20}, true, 4, true},
      {long64(), {0xed}, true, 4, false},
  };
  return forms;
}

// An emulated OUT (this PVM: retired, RIP past it) of each form and size, in 32- and 16-bit code.
TEST_CASE(out_retired) {
  for (const IoForm &c : io_forms()) {
    if (c.in) continue;
    // mov edx, 0x80 (mov dx in 16-bit code); the OUT; hlt
    Image img{0x1000, {}};
    if (code_mode(c.s) == 16) img.bytes = {0xba, 0x80, 0x00};
    else img.bytes = {0xba, 0x80, 0x00, 0x00, 0x00};
    uint64_t at = img.base + img.bytes.size();
    img.bytes.insert(img.bytes.end(), c.insn.begin(), c.insn.end());
    img.bytes.push_back(0xf4);
    KvmExit e = io_exit(c.s, 0x1000, at + c.insn.size(), false, c.size, 0x80);
    e.regs.rdx = 0x80;
    e.regs.rax = 0x12345678;
    fetch(e, img);
    CHECK_TRANSLATION(translate_exit(e),
                      Want().next(Next::kReport).reason(VMX_REASON_IO)
                          .qual(io_qual(c.size, false, 0x80, false, false, c.imm)).rip(at).len(c.insn.size())
                          .io_rip(at).pending(Pending::kNone));
  }
}

// The VMX/SVM fast path leaves RIP at the OUT and skips it on the next KVM_RUN: the provider lets KVM
// finish (kFlush), then finds the OUT ending where RIP ended.
TEST_CASE(out_fast_path) {
  Image img{0x1000, {0xb0, 0x42, 0xe6, 0x10, 0xf4}};  // mov al,0x42; out 0x10,al; hlt
  KvmExit e = io_exit(prot32(), 0x1000, 0x1002, false, 1, 0x10);
  fetch(e, img);
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kFlush);
  CHECK_TRANSLATION(flush_and_retranslate(e, img, 0x1004),
                    Want().next(Next::kReport).rip(0x1002).len(2).qual(0x00100040));
  // Two identical OUTs in a row (ee ee): the bytes at RIP are an OUT too, so the provider asks KVM
  // first; on this PVM nothing was pending and RIP stays, so the exit is the first OUT.
  Image twin{0x3000, {0xee, 0xee, 0xf4}};
  KvmExit d = io_exit(prot32(), 0x3000, 0x3001, false, 1, 0x80);
  d.regs.rdx = 0x80;
  fetch(d, twin);
  CHECK(translate_exit(d).next == Next::kFlush);
  CHECK_TRANSLATION(flush_and_retranslate(d, twin, 0x3001),
                    Want().next(Next::kReport).rip(0x3000).len(1).qual(0x800000));
}

// A redundant prefix is invisible to the backward search; the straight line from the entry RIP
// shows it. Without that anchor, the shortest decode is taken.
TEST_CASE(out_prefix_anchor) {
  // mov edx,0x3e; ds out dx,al; hlt
  Image img{0x2000, {0xba, 0x3e, 0x00, 0x00, 0x00, 0x3e, 0xee, 0xf4}};
  KvmExit e = io_exit(prot32(), 0x2000, 0x2007, false, 1, 0x3e);
  e.regs.rdx = 0x3e;
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e), Want().rip(0x2005).len(2));
  e.entry_rip = 0x1000;  // entered elsewhere and jumped here: no anchor
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e), Want().rip(0x2006).len(1));
}

// IN: KVM leaves RIP at the instruction and owes the data; the VMM writes RAX, which the next run
// hands to KVM.
TEST_CASE(in) {
  for (const IoForm &c : io_forms()) {
    if (!c.in) continue;
    Image img{0x1000, c.insn};
    img.bytes.push_back(0xf4);
    KvmExit e = io_exit(c.s, 0x1000, 0x1000, true, c.size, 0x20);
    e.regs.rdx = 0x20;
    fetch(e, img);
    CHECK_EQ(code_wanted(e).back, 0);  // nothing before RIP is read
    CHECK_TRANSLATION(translate_exit(e),
                      Want().next(Next::kReport).qual(io_qual(c.size, true, 0x20, false, false, c.imm)).rip(0x1000)
                          .len(c.insn.size()).pending(Pending::kIoIn));
  }
  // A DX-form IN whose DX is not the port is not the instruction behind the exit: reported at KVM's
  // RIP with no length rather than a wrong decode.
  Image img{0x1000, {0xec, 0xf4}};
  KvmExit e = io_exit(prot32(), 0x1000, 0x1000, true, 1, 0x20);
  e.regs.rdx = 0x21;
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e),
                    Want().len(0).qual(io_qual(1, true, 0x20, false, false, false)).pending(Pending::kIoIn));
}

// INS/OUTS: string and REP bits, the linear address of the element, the instruction information
// (address size, segment). HVF exits before the iteration and the VMM does it; KVM has already done an
// OUTS iteration, so RSI (and RCX for REP) are shown from before it. For INS KVM has not moved RDI yet;
// its completion will store at ES:(E)DI, which the translation names.
TEST_CASE(string_io) {
  struct Case {
    const char *what;
    Image img;
    uint64_t entry, rip;  // where the guest entered, and RIP as KVM leaves it
    bool in;
    uint8_t size;
    uint16_t port;                         // in DX too
    uint64_t rflags, rsi, rcx, rdi, base;  // registers as KVM leaves them; base: DS (OUTS) or ES (INS)
    bool at_insn;  // RIP at the instruction (iterations left): the provider lets KVM finish it first
    Want want;
  };
  const uint64_t ds32 = (1u << 7) | (3u << 15);  // instruction information: 32-bit addresses, DS
  const Case cases[] = {
      // KVM's RSI is past the element at 0x5000.
      {"rep outsb with iterations left: RIP at the instruction before and after the flush",
       {0x1000, {0xf3, 0x6e, 0xf4}}, 0x1000, 0x1000, false, 1, 0x3f8, 2, 0x5001, 2, 0, 0x100, true,
       Want().next(Next::kReport).rip(0x1000).len(2).qual(io_qual(1, false, 0x3f8, true, true, false))
           .rsi(0x5000).rcx(3).gla(0x5100).instr_info(ds32).io_rsi(0x5000).io_rcx(3)},
      // SI moved from 0 to 0xfffe, CX from 0 (an iteration count of 65536) to 0xffff.
      {"counting down (DF = 1), words, a 16-bit address size wrapping at 0",
       {0x1000, {0x66, 0x67, 0xf3, 0x6f, 0xf4}}, 0x1000, 0x1000, false, 2, 0x3f8, 0x402, 0xabcdfffe,
       0x7777ffff, 0, 0, true,
       Want().len(4).qual(io_qual(2, false, 0x3f8, true, true, false)).rsi(0xabcd0000).rcx(0x77770000)
           .instr_info(0u | (3u << 15))},
      {"a single outsb, retired by KVM (RIP past it): found backward, RIP and RSI rewound",
       {0x1000, {0xbe, 0x00, 0x50, 0x00, 0x00, 0x6e, 0xb9, 0x03, 0x00, 0x00, 0x00}}, 0x1000, 0x1006, false, 1,
       0x3f8, 2, 0x5001, 9, 0, 0, false,
       Want().next(Next::kReport).rip(0x1005).len(1).qual(io_qual(1, false, 0x3f8, true, false, false))
           .rsi(0x5000).rcx(9)},
      // Without an anchor the REP prefix before it is its own (the count register is 0).
      {"a REP outsb whose count ran out, retired: RCX shown as 1", {0x1000, {0x90, 0xf3, 0x6e, 0x90}}, 0x9000,
       0x1003, false, 1, 0x3f8, 2, 0x5004, 0, 0, 0, false,
       Want().next(Next::kReport).rip(0x1001).len(2).qual(io_qual(1, false, 0x3f8, true, true, false)).rcx(1)
           .rsi(0x5003)},
      {"the same with a count left: a retired REP OUTS cannot be, that F3 belongs to something else",
       {0x1000, {0x90, 0xf3, 0x6e, 0x90}}, 0x9000, 0x1003, false, 1, 0x3f8, 2, 0x5004, 5, 0, 0, false,
       Want().rip(0x1002).len(1)},
      // The linear address is ES.base + (DI & 0xffff).
      {"insw with a 16-bit address size prefix in 32-bit code, ES:DI", {0x1000, {0x66, 0x67, 0x6d, 0xf4}},
       0x1000, 0x1000, true, 2, 0x60, 2, 0, 0, 0x12345, 0x10000, false,
       Want().next(Next::kReport).rip(0x1000).len(3).qual(io_qual(2, true, 0x60, true, false, false))
           .gla(0x12345).instr_info(0u | (0u << 15)).rdi(0x12345).pending(Pending::kIoIn).guard(0x12345, 2)},
  };
  for (const Case &c : cases) {
    check::Caller caller(__FILE__, __LINE__, c.what);
    KvmExit e = io_exit(prot32(), c.entry, c.rip, c.in, c.size, c.port);
    e.regs.rdx = c.port;
    e.regs.rflags = c.rflags;
    e.regs.rsi = c.rsi;
    e.regs.rcx = c.rcx;
    e.regs.rdi = c.rdi;
    (c.in ? e.sregs.es : e.sregs.ds).base = c.base;
    fetch(e, c.img);
    Translation t = translate_exit(e);
    if (c.at_insn) {
      CHECK(t.next == Next::kFlush);
      t = flush_and_retranslate(e, c.img, e.regs.rip);
    }
    check_translation(t, c.want);
  }
}

TEST_CASE(hlt) {
  Image img{0x1000, {0x90, 0xf4, 0x90}};
  KvmExit e;
  e.reason = KVM_EXIT_HLT;
  e.sregs = prot32();
  e.regs.rip = 0x1002;  // KVM retired the hlt
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e), Want().next(Next::kReport).reason(VMX_REASON_HLT).rip(0x1001).len(1).qual(0));
  // RIP at the hlt (a KVM that does not retire it): left where it is.
  e.regs.rip = 0x1001;
  fetch(e, img);
  CHECK_EQ(translate_exit(e).regs.rip, 0x1001);
}

// MMIO reads stay at the instruction with the completion pending; writes are retired and found by
// decoding backward. Qualification: access bit, the mapping's R/W/X in bits 5:3, GLA bits 7+8.
TEST_CASE(mmio) {
  // mov eax,[0x100000]: a read of unmapped memory.
  Image img{0x1000, {0xa1, 0x00, 0x00, 0x10, 0x00, 0xe6, 0x10}};
  KvmExit e = mmio_exit(prot32(), 0x1000, 0x1000, false, 0x100000, 4);
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e),
                    Want().next(Next::kReport).reason(VMX_REASON_EPT_VIOLATION).qual(0x181).gpa(0x100000)
                        .gla(0x100000).rip(0x1000).len(5).pending(Pending::kMmioRead).unguarded());
  // mov dword [0x100010],0x11223344: a write to unmapped memory, retired.
  Image w{0x1007, {0xc7, 0x05, 0x10, 0x00, 0x10, 0x00, 0x44, 0x33, 0x22, 0x11, 0xf4}};
  e = mmio_exit(prot32(), 0x1007, 0x1011, true, 0x100010, 4);
  fetch(e, w);
  CHECK_TRANSLATION(translate_exit(e), Want().qual(0x182).rip(0x1007).len(10).pending(Pending::kNone));
  // The same write to a READ|EXEC mapping (a read-only memslot): W | readable | executable = 0x1aa.
  e.mmio.mapped = true;
  e.mmio.flags = HV_MEMORY_READ | HV_MEMORY_EXEC;
  CHECK_TRANSLATION(translate_exit(e), Want().qual(0x1aa).rip(0x1007));
  // A READ-only mapping (trap mode): the write is reported with R allowed (0x18a).
  e.mmio.flags = HV_MEMORY_READ;
  CHECK_EQ(translate_exit(e).exit.qualification, 0x18a);
  // A WRITE-only mapping: reads are reported with W allowed (0x191).
  KvmExit r = mmio_exit(prot32(), 0x1000, 0x1000, false, 0x100000, 4);
  r.mmio.mapped = true;
  r.mmio.flags = HV_MEMORY_WRITE;
  fetch(r, img);
  CHECK_EQ(translate_exit(r).exit.qualification, 0x191);
  // An access the mapping permits was completed by the provider: the guest goes on.
  r.mmio.completed = true;
  CHECK(translate_exit(r).next == Next::kResume);
  CHECK_EQ(code_wanted(r).fwd, 0);
}

// A store with a required 0x66 prefix ends with the complete shorter store: the access size decides.
TEST_CASE(mmio_store_sizes) {
  struct Case {
    std::vector<uint8_t> insn;
    uint32_t len;
  };
  const Case cases[] = {
      {{0x88, 0x03}, 1},
      {{0x66, 0x89, 0x03}, 2},
      {{0x89, 0x03}, 4},
      {{0xa2, 0x00, 0xf0, 0xff, 0xff}, 1},
      {{0x66, 0xa3, 0x00, 0xf0, 0xff, 0xff}, 2},
      {{0xa3, 0x00, 0xf0, 0xff, 0xff}, 4},
  };
  for (const Case &c : cases) {
    for (bool anchored : {true, false}) {
      Image img{0x2000, {0xbb, 0x00, 0xf0, 0xff, 0xff}};  // mov ebx, 0xfffff000
      uint64_t at = img.base + img.bytes.size();
      img.bytes.insert(img.bytes.end(), c.insn.begin(), c.insn.end());
      img.bytes.push_back(0xf4);
      KvmExit e = mmio_exit(prot32(), anchored ? 0x2000 : 0x9000, at + c.insn.size(), true, 0xfffff000, c.len);
      e.regs.rbx = 0xfffff000;
      fetch(e, img);
      CHECK_TRANSLATION(translate_exit(e), Want().rip(at).len(c.insn.size()));
    }
  }
  // A 4-byte store across a page boundary arrives as two fragments (2 + 2 bytes here); each names
  // the same instruction.
  Image img{0x2000, {0x89, 0x03, 0xf4}};
  for (uint64_t gpa : {0x100ffeull, 0x101000ull}) {
    KvmExit e = mmio_exit(prot32(), 0x2000, 0x2002, true, gpa, 2);
    e.regs.rbx = 0x100ffe;
    fetch(e, img);
    CHECK_TRANSLATION(translate_exit(e), Want().rip(0x2000).len(2).gpa(gpa));
  }
}

// MOVS from MMIO to RAM: KVM's completion will also store to ES:(E)DI; the translation names it.
TEST_CASE(mmio_movs) {
  Image img{0x1100, {0xa5, 0xf4}};  // movsd
  KvmExit e = mmio_exit(prot32(), 0x1100, 0x1100, false, 0x100000, 4);
  e.regs.rsi = 0x100000;
  e.regs.rdi = 0x6000;
  e.sregs.es.base = 0x10;
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e), Want().len(1).pending(Pending::kMmioRead).guard(0x6010, 4));
}

// With paging the linear address is the decoded operand's.
TEST_CASE(mmio_paging) {
  Image img{0x401000, {0x48, 0x89, 0x03, 0xf4}};  // mov [rbx], rax
  KvmExit e = mmio_exit(long64(), 0x401000, 0x401003, true, 0x7f123, 8);
  e.regs.rbx = 0xffff800000012123ull;
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e), Want().rip(0x401000).len(3).gla(0xffff800000012123ull).gpa(0x7f123));
  // The page offset must agree with the GPA's.
  e.mmio.gpa = 0x7f124;
  CHECK_EQ(translate_exit(e).exit.instr_len, 0);
}

// Instruction fetch from memory the guest may not execute: KVM's emulator fails at RIP (notes §3).
TEST_CASE(fetch_fault) {
  KvmExit e;
  e.reason = KVM_EXIT_INTERNAL_ERROR;
  e.suberror = KVM_INTERNAL_ERROR_EMULATION;
  e.sregs = prot32();
  e.regs.rip = 0x300000;
  e.fetch.translated = true;
  e.fetch.gpa = 0x300000;
  CHECK_TRANSLATION(translate_exit(e),  // unmapped
                    Want().next(Next::kReport).reason(VMX_REASON_EPT_VIOLATION).qual(0x184).gpa(0x300000)
                        .gla(0x300000).rip(0x300000));
  e.fetch.mapped = true;
  e.fetch.flags = HV_MEMORY_READ;  // trap mode, no slot
  CHECK_EQ(translate_exit(e).exit.qualification, 0x18c);
  e.fetch.flags = HV_MEMORY_READ | HV_MEMORY_WRITE;
  CHECK_EQ(translate_exit(e).exit.qualification, 0x19c);
  // Real mode: the linear address is CS.base + IP.
  e.sregs = real16();
  e.sregs.cs.base = 0xf0000;
  e.regs.rip = 0xfff0;
  e.fetch.gpa = 0xffff0;
  e.fetch.mapped = false;
  CHECK_TRANSLATION(translate_exit(e), Want().gla(0xffff0).gpa(0xffff0));
  // Executable memory with a slot: a slot rebuilt under the vCPU's feet is retried once per memslot
  // generation; the same failure twice in one generation is a real emulation failure.
  e.fetch.mapped = true;
  e.fetch.flags = kRWX;
  e.fetch.slot_backed = true;
  e.fetch.generation = 7;
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kResume);
  CHECK_EQ(t.fetch_retry_generation, 7);
  e.fetch_retry_generation = 7;
  CHECK(translate_exit(e).next == Next::kError);
  // No translation of RIP (paging, unmapped linear address): no VMX equivalent.
  e.fetch.translated = false;
  CHECK(translate_exit(e).next == Next::kError);
  // Another internal error.
  e.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
  CHECK(translate_exit(e).next == Next::kError);
}

TEST_CASE(shutdown_entry_failure) {
  KvmExit e;
  e.sregs = prot32();
  e.regs.rip = 0x1234;
  e.reason = KVM_EXIT_SHUTDOWN;
  CHECK_TRANSLATION(translate_exit(e), Want().next(Next::kReport).reason(VMX_REASON_TRIPLE_FAULT).rip(0x1234));
  e.reason = KVM_EXIT_FAIL_ENTRY;
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_VMENTRY_GUEST | 0x80000000u);
  // KVM_RUN refusing a state the VMM loaded is an entry failure; other errors are not exits.
  e.result = RunResult::kFailed;
  e.error = EINVAL;
  e.loaded_vmm_state = true;
  CHECK_TRANSLATION(translate_exit(e),
                    Want().next(Next::kReport).reason(VMX_REASON_VMENTRY_GUEST | 0x80000000u).rip(0x1234));
  e.loaded_vmm_state = false;
  CHECK(translate_exit(e).next == Next::kError);
  e.error = EFAULT;
  e.loaded_vmm_state = true;
  CHECK(translate_exit(e).next == Next::kError);
  // An exit KVM has no VMX counterpart for.
  e = KvmExit{};
  e.reason = KVM_EXIT_DEBUG;
  CHECK(translate_exit(e).next == Next::kError);
  e.reason = 0xffff;
  CHECK(translate_exit(e).next == Next::kError);
}

// RDMSR/WRMSR sent to user space by KVM's MSR filter: RIP at the instruction, length decoded, the
// completion owed; an MSR the vCPU runs natively was done by the provider.
TEST_CASE(msr) {
  Image img{0x1000, {0x0f, 0x32, 0x0f, 0x30, 0x66, 0x0f, 0x32, 0xf4}};
  struct Case {
    uint32_t reason;
    uint64_t rip;
    uint64_t want_reason, len;
    Pending pending;
  };
  for (const Case &c : {Case{KVM_EXIT_X86_RDMSR, 0x1000, VMX_REASON_RDMSR, 2, Pending::kMsrRead},
                        Case{KVM_EXIT_X86_WRMSR, 0x1002, VMX_REASON_WRMSR, 2, Pending::kMsrWrite},
                        Case{KVM_EXIT_X86_RDMSR, 0x1004, VMX_REASON_RDMSR, 3, Pending::kMsrRead}}) {
    KvmExit e;
    e.reason = c.reason;
    e.sregs = prot32();
    e.regs.rip = c.rip;
    e.regs.rcx = 0xc0000080;
    e.regs.rax = 0x11;
    e.regs.rdx = 0x22;
    e.msr.index = 0xc0000080;
    fetch(e, img);
    CHECK_TRANSLATION(translate_exit(e),
                      Want().next(Next::kReport).reason(c.want_reason).qual(0).len(c.len).rip(c.rip).rcx(0xc0000080)
                          .rax(0x11).rdx(0x22).pending(c.pending));
    e.msr.completed = true;
    CHECK(translate_exit(e).next == Next::kResume);
  }
}

// A triple fault at a VMCALL is the #UD the guest got for it (hypercall patching off): HVF exits with
// VMX_REASON_VMCALL there. Anywhere else, or with a single-step trap pending, it is a triple fault.
TEST_CASE(vmcall) {
  Image img{0x1000, {0xb8, 0x56, 0x34, 0x02, 0x00, 0x0f, 0x01, 0xc1, 0xf4, 0x0f, 0x01, 0xd9}};
  KvmExit e;
  e.reason = KVM_EXIT_SHUTDOWN;
  e.sregs = real16();
  e.regs.rip = 0x1005;
  e.regs.rax = 0x23456;
  e.regs.rflags = 2;
  fetch(e, img);
  CHECK_TRANSLATION(translate_exit(e),
                    Want().next(Next::kReport).reason(VMX_REASON_VMCALL).len(3).rip(0x1005).rax(0x23456)
                        .pending(Pending::kNone));
  e.regs.rflags = 0x102;  // TF
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_TRIPLE_FAULT);
  e.regs.rflags = 2;
  e.regs.rip = 0x1008;  // hlt
  fetch(e, img);
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_TRIPLE_FAULT);
  e.regs.rip = 0x1009;  // vmmcall: #UD on Intel as well, a triple fault there too
  fetch(e, img);
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_TRIPLE_FAULT);
  e.regs.rip = 0x9000;  // code the provider cannot read
  fetch(e, img);
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_TRIPLE_FAULT);
}

TEST_CASE(kicks) {
  KvmExit e;
  e.result = RunResult::kSignal;
  e.regs.rip = 0x1000;
  e.kicked = true;
  CHECK_TRANSLATION(translate_exit(e), Want().next(Next::kReport).reason(VMX_REASON_IRQ).rip(0x1000).len(0));
  e.kicked = false;  // another signal: the guest goes on
  CHECK(translate_exit(e).next == Next::kResume);
  e.result = RunResult::kExit;
  e.reason = KVM_EXIT_INTR;
  CHECK(translate_exit(e).next == Next::kResume);
  e.kicked = true;
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_IRQ);
}

}  // namespace

int main(int argc, char **argv) {
  return check::run_tests(argc, argv);
}
