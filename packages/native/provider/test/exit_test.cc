// exit_test.cc — the KVM-exit → HVF-exit translation (exit.cc), without /dev/kvm.
//
// Each case is a KvmExit as the run loop records it on this project's hosts (the RIP KVM leaves, the
// registers, the code bytes the provider fetched, the permissions at the GPA; README.md "What KVM
// does"), and the exit HVF would report for the same guest instruction: basic reason, qualification
// (facts §1.6), GPA, instruction length, RIP at the instruction, and the completion the next run must
// do.
#include <errno.h>

#include <initializer_list>
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

KvmExit io_exit(const kvm_sregs &s, uint64_t entry, uint64_t rip, bool in, uint8_t size, uint16_t port) {
  KvmExit e;
  e.reason = KVM_EXIT_IO;
  e.io.in = in;
  e.io.size = size;
  e.io.port = port;
  e.io.count = 1;
  e.sregs = s;
  e.regs.rip = rip;
  e.regs.rflags = 2;
  e.entry_rip = entry;
  return e;
}

KvmExit mmio_exit(const kvm_sregs &s, uint64_t entry, uint64_t rip, bool is_write, uint64_t gpa, uint32_t len) {
  KvmExit e;
  e.reason = KVM_EXIT_MMIO;
  e.mmio.gpa = gpa;
  e.mmio.len = len;
  e.mmio.is_write = is_write;
  e.sregs = s;
  e.regs.rip = rip;
  e.regs.rflags = 2;
  e.entry_rip = entry;
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

// An emulated OUT (this PVM: retired, RIP past it) of each form and size, in 32- and 16-bit code.
TEST_CASE(out_retired) {
  struct Case {
    kvm_sregs s;
    std::vector<uint8_t> insn;
    uint8_t size;
    bool imm;
  };
  const Case cases[] = {
      {prot32(), {0xe6, 0x80}, 1, true},       {prot32(), {0x66, 0xe7, 0x80}, 2, true},
      {prot32(), {0xe7, 0x80}, 4, true},       {prot32(), {0xee}, 1, false},
      {prot32(), {0x66, 0xef}, 2, false},      {prot32(), {0xef}, 4, false},
      {real16(), {0xe7, 0x80}, 2, true},       {real16(), {0x66, 0xe7, 0x80}, 4, true},
      {real16(), {0xef}, 2, false},            {real16(), {0x66, 0xef}, 4, false},
      {long64(), {0x66, 0xef}, 2, false},      {long64(), {0x48, 0xef}, 4, false},  // REX.W: still 4
  };
  for (const Case &c : cases) {
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
    Translation t = translate_exit(e);
    CHECK(t.next == Next::kReport);
    CHECK_EQ(t.exit.reason, VMX_REASON_IO);
    CHECK_EQ(t.exit.qualification, io_qual(c.size, false, 0x80, false, false, c.imm));
    CHECK_EQ(t.regs.rip, at);
    CHECK_EQ(t.exit.instr_len, c.insn.size());
    CHECK_EQ(t.exit.io_rip, at);
    CHECK(t.pending == Pending::kNone);
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
  t = flush_and_retranslate(e, img, 0x1004);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x1002);
  CHECK_EQ(t.exit.instr_len, 2);
  CHECK_EQ(t.exit.qualification, 0x00100040);
  // Two identical OUTs in a row (ee ee): the bytes at RIP are an OUT too, so the provider asks KVM
  // first; on this PVM nothing was pending and RIP stays, so the exit is the first OUT.
  Image twin{0x3000, {0xee, 0xee, 0xf4}};
  KvmExit d = io_exit(prot32(), 0x3000, 0x3001, false, 1, 0x80);
  d.regs.rdx = 0x80;
  fetch(d, twin);
  CHECK(translate_exit(d).next == Next::kFlush);
  t = flush_and_retranslate(d, twin, 0x3001);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x3000);
  CHECK_EQ(t.exit.instr_len, 1);
  CHECK_EQ(t.exit.qualification, 0x800000);
}

// A redundant prefix is invisible to the backward search; the straight line from the entry RIP
// shows it. Without that anchor, the shortest decode is taken.
TEST_CASE(out_prefix_anchor) {
  // mov edx,0x3e; ds out dx,al; hlt
  Image img{0x2000, {0xba, 0x3e, 0x00, 0x00, 0x00, 0x3e, 0xee, 0xf4}};
  KvmExit e = io_exit(prot32(), 0x2000, 0x2007, false, 1, 0x3e);
  e.regs.rdx = 0x3e;
  fetch(e, img);
  Translation t = translate_exit(e);
  CHECK_EQ(t.regs.rip, 0x2005);
  CHECK_EQ(t.exit.instr_len, 2);
  e.entry_rip = 0x1000;  // entered elsewhere and jumped here: no anchor
  fetch(e, img);
  t = translate_exit(e);
  CHECK_EQ(t.regs.rip, 0x2006);
  CHECK_EQ(t.exit.instr_len, 1);
}

// IN: KVM leaves RIP at the instruction and owes the data; the VMM writes RAX, which the next run
// hands to KVM.
TEST_CASE(in) {
  struct Case {
    kvm_sregs s;
    std::vector<uint8_t> insn;
    uint8_t size;
    bool imm;
  };
  const Case cases[] = {
      {prot32(), {0xe4, 0x20}, 1, true},  {prot32(), {0x66, 0xe5, 0x20}, 2, true},
      {prot32(), {0xe5, 0x20}, 4, true},  {prot32(), {0xec}, 1, false},
      {prot32(), {0x66, 0xed}, 2, false}, {prot32(), {0xed}, 4, false},
      {real16(), {0xed}, 2, false},       {real16(), {0x66, 0xe5, 0x20}, 4, true},
      {long64(), {0xed}, 4, false},
  };
  for (const Case &c : cases) {
    Image img{0x1000, c.insn};
    img.bytes.push_back(0xf4);
    KvmExit e = io_exit(c.s, 0x1000, 0x1000, true, c.size, 0x20);
    e.regs.rdx = 0x20;
    fetch(e, img);
    CHECK_EQ(code_wanted(e).back, 0);  // nothing before RIP is read
    Translation t = translate_exit(e);
    CHECK(t.next == Next::kReport);
    CHECK_EQ(t.exit.qualification, io_qual(c.size, true, 0x20, false, false, c.imm));
    CHECK_EQ(t.regs.rip, 0x1000);
    CHECK_EQ(t.exit.instr_len, c.insn.size());
    CHECK(t.pending == Pending::kIoIn);
  }
  // A DX-form IN whose DX is not the port is not the instruction behind the exit: reported at KVM's
  // RIP with no length rather than a wrong decode.
  Image img{0x1000, {0xec, 0xf4}};
  KvmExit e = io_exit(prot32(), 0x1000, 0x1000, true, 1, 0x20);
  e.regs.rdx = 0x21;
  fetch(e, img);
  Translation t = translate_exit(e);
  CHECK_EQ(t.exit.instr_len, 0);
  CHECK_EQ(t.exit.qualification, io_qual(1, true, 0x20, false, false, false));
  CHECK(t.pending == Pending::kIoIn);
}

// INS/OUTS: string and REP bits, the linear address of the element, the instruction information
// (address size, segment). HVF exits before the iteration and the VMM does it; KVM has already done an
// OUTS iteration, so RSI (and RCX for REP) are shown from before it. For INS KVM has not moved RDI yet;
// its completion will store at ES:(E)DI, which the translation names.
TEST_CASE(string_io) {
  // rep outsb with iterations left: RIP at the instruction before and after the flush.
  Image img{0x1000, {0xf3, 0x6e, 0xf4}};
  KvmExit e = io_exit(prot32(), 0x1000, 0x1000, false, 1, 0x3f8);
  e.regs.rdx = 0x3f8;
  e.regs.rsi = 0x5001;  // KVM's, after the element at 0x5000
  e.regs.rcx = 2;
  e.sregs.ds.base = 0x100;
  fetch(e, img);
  CHECK(translate_exit(e).next == Next::kFlush);
  Translation t = flush_and_retranslate(e, img, 0x1000);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x1000);
  CHECK_EQ(t.exit.instr_len, 2);
  CHECK_EQ(t.exit.qualification, io_qual(1, false, 0x3f8, true, true, false));
  CHECK_EQ(t.regs.rsi, 0x5000);
  CHECK_EQ(t.regs.rcx, 3);
  CHECK_EQ(t.exit.gla, 0x5100);
  CHECK_EQ(t.exit.instr_info, (1u << 7) | (3u << 15));  // 32-bit addresses, DS
  CHECK_EQ(t.exit.io_rsi, 0x5000);
  CHECK_EQ(t.exit.io_rcx, 3);
  // Counting down (DF = 1), words, a 16-bit address size wrapping at 0.
  Image down{0x1000, {0x66, 0x67, 0xf3, 0x6f, 0xf4}};
  e = io_exit(prot32(), 0x1000, 0x1000, false, 2, 0x3f8);
  e.regs.rdx = 0x3f8;
  e.regs.rflags = 0x402;
  e.regs.rsi = 0xabcdfffe;  // SI moved from 0 to 0xfffe
  e.regs.rcx = 0x7777ffff;  // CX moved from 0 (an iteration count of 65536) to 0xffff
  fetch(e, down);
  t = flush_and_retranslate(e, down, 0x1000);
  CHECK_EQ(t.exit.instr_len, 4);
  CHECK_EQ(t.exit.qualification, io_qual(2, false, 0x3f8, true, true, false));
  CHECK_EQ(t.regs.rsi, 0xabcd0000);
  CHECK_EQ(t.regs.rcx, 0x77770000);
  CHECK_EQ(t.exit.instr_info, 0u | (3u << 15));
  // A single outsb, retired by KVM (RIP past it): found backward, RIP and RSI rewound.
  Image one{0x1000, {0xbe, 0x00, 0x50, 0x00, 0x00, 0x6e, 0xb9, 0x03, 0x00, 0x00, 0x00}};
  e = io_exit(prot32(), 0x1000, 0x1006, false, 1, 0x3f8);
  e.regs.rdx = 0x3f8;
  e.regs.rsi = 0x5001;
  e.regs.rcx = 9;
  fetch(e, one);
  t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x1005);
  CHECK_EQ(t.exit.instr_len, 1);
  CHECK_EQ(t.exit.qualification, io_qual(1, false, 0x3f8, true, false, false));
  CHECK_EQ(t.regs.rsi, 0x5000);
  CHECK_EQ(t.regs.rcx, 9);
  // A REP outsb whose count ran out, retired: without an anchor the REP prefix before it is its own
  // (the count register is 0), with RCX shown as 1.
  Image last{0x1000, {0x90, 0xf3, 0x6e, 0x90}};
  e = io_exit(prot32(), 0x9000, 0x1003, false, 1, 0x3f8);
  e.regs.rdx = 0x3f8;
  e.regs.rsi = 0x5004;
  e.regs.rcx = 0;
  fetch(e, last);
  t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x1001);
  CHECK_EQ(t.exit.instr_len, 2);
  CHECK_EQ(t.exit.qualification, io_qual(1, false, 0x3f8, true, true, false));
  CHECK_EQ(t.regs.rcx, 1);
  CHECK_EQ(t.regs.rsi, 0x5003);
  // With a count left, a retired REP OUTS cannot be: that F3 belongs to something else.
  e.regs.rcx = 5;
  t = translate_exit(e);
  CHECK_EQ(t.regs.rip, 0x1002);
  CHECK_EQ(t.exit.instr_len, 1);
  // insw with a 16-bit address size prefix in 32-bit code, ES:DI.
  Image ins{0x1000, {0x66, 0x67, 0x6d, 0xf4}};
  e = io_exit(prot32(), 0x1000, 0x1000, true, 2, 0x60);
  e.regs.rdx = 0x60;
  e.regs.rdi = 0x12345;
  e.sregs.es.base = 0x10000;
  fetch(e, ins);
  t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.regs.rip, 0x1000);
  CHECK_EQ(t.exit.instr_len, 3);
  CHECK_EQ(t.exit.qualification, io_qual(2, true, 0x60, true, false, false));
  CHECK_EQ(t.exit.gla, 0x12345);  // ES.base + (DI & 0xffff)
  CHECK_EQ(t.exit.instr_info, 0u | (0u << 15));
  CHECK_EQ(t.regs.rdi, 0x12345);
  CHECK(t.pending == Pending::kIoIn);
  CHECK(t.guard_store);
  CHECK_EQ(t.guard_linear, 0x12345);
  CHECK_EQ(t.guard_len, 2);
}

TEST_CASE(hlt) {
  Image img{0x1000, {0x90, 0xf4, 0x90}};
  KvmExit e;
  e.reason = KVM_EXIT_HLT;
  e.sregs = prot32();
  e.regs.rip = 0x1002;  // KVM retired the hlt
  fetch(e, img);
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_HLT);
  CHECK_EQ(t.regs.rip, 0x1001);
  CHECK_EQ(t.exit.instr_len, 1);
  CHECK_EQ(t.exit.qualification, 0);
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
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_EPT_VIOLATION);
  CHECK_EQ(t.exit.qualification, 0x181);
  CHECK_EQ(t.exit.gpa, 0x100000);
  CHECK_EQ(t.exit.gla, 0x100000);
  CHECK_EQ(t.regs.rip, 0x1000);
  CHECK_EQ(t.exit.instr_len, 5);
  CHECK(t.pending == Pending::kMmioRead);
  CHECK(!t.guard_store);
  // mov dword [0x100010],0x11223344: a write to unmapped memory, retired.
  Image w{0x1007, {0xc7, 0x05, 0x10, 0x00, 0x10, 0x00, 0x44, 0x33, 0x22, 0x11, 0xf4}};
  e = mmio_exit(prot32(), 0x1007, 0x1011, true, 0x100010, 4);
  fetch(e, w);
  t = translate_exit(e);
  CHECK_EQ(t.exit.qualification, 0x182);
  CHECK_EQ(t.regs.rip, 0x1007);
  CHECK_EQ(t.exit.instr_len, 10);
  CHECK(t.pending == Pending::kNone);
  // The same write to a READ|EXEC mapping (a read-only memslot): W | readable | executable = 0x1aa.
  e.mmio.mapped = true;
  e.mmio.flags = HV_MEMORY_READ | HV_MEMORY_EXEC;
  t = translate_exit(e);
  CHECK_EQ(t.exit.qualification, 0x1aa);
  CHECK_EQ(t.regs.rip, 0x1007);
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
      Translation t = translate_exit(e);
      CHECK_EQ(t.regs.rip, at);
      CHECK_EQ(t.exit.instr_len, c.insn.size());
    }
  }
  // A 4-byte store across a page boundary arrives as two fragments (2 + 2 bytes here); each names
  // the same instruction.
  Image img{0x2000, {0x89, 0x03, 0xf4}};
  for (uint64_t gpa : {0x100ffeull, 0x101000ull}) {
    KvmExit e = mmio_exit(prot32(), 0x2000, 0x2002, true, gpa, 2);
    e.regs.rbx = 0x100ffe;
    fetch(e, img);
    Translation t = translate_exit(e);
    CHECK_EQ(t.regs.rip, 0x2000);
    CHECK_EQ(t.exit.instr_len, 2);
    CHECK_EQ(t.exit.gpa, gpa);
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
  Translation t = translate_exit(e);
  CHECK_EQ(t.exit.instr_len, 1);
  CHECK(t.pending == Pending::kMmioRead);
  CHECK(t.guard_store);
  CHECK_EQ(t.guard_linear, 0x6010);
  CHECK_EQ(t.guard_len, 4);
}

// With paging the linear address is the decoded operand's.
TEST_CASE(mmio_paging) {
  Image img{0x401000, {0x48, 0x89, 0x03, 0xf4}};  // mov [rbx], rax
  KvmExit e = mmio_exit(long64(), 0x401000, 0x401003, true, 0x7f123, 8);
  e.regs.rbx = 0xffff800000012123ull;
  fetch(e, img);
  Translation t = translate_exit(e);
  CHECK_EQ(t.regs.rip, 0x401000);
  CHECK_EQ(t.exit.instr_len, 3);
  CHECK_EQ(t.exit.gla, 0xffff800000012123ull);
  CHECK_EQ(t.exit.gpa, 0x7f123);
  // The page offset must agree with the GPA's.
  e.mmio.gpa = 0x7f124;
  t = translate_exit(e);
  CHECK_EQ(t.exit.instr_len, 0);
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
  Translation t = translate_exit(e);  // unmapped
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_EPT_VIOLATION);
  CHECK_EQ(t.exit.qualification, 0x184);
  CHECK_EQ(t.exit.gpa, 0x300000);
  CHECK_EQ(t.exit.gla, 0x300000);
  CHECK_EQ(t.regs.rip, 0x300000);
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
  t = translate_exit(e);
  CHECK_EQ(t.exit.gla, 0xffff0);
  CHECK_EQ(t.exit.gpa, 0xffff0);
  // Executable memory with a slot: a slot rebuilt under the vCPU's feet is retried once per memslot
  // generation; the same failure twice in one generation is a real emulation failure.
  e.fetch.mapped = true;
  e.fetch.flags = kRWX;
  e.fetch.slot_backed = true;
  e.fetch.generation = 7;
  t = translate_exit(e);
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
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_TRIPLE_FAULT);
  CHECK_EQ(t.regs.rip, 0x1234);
  e.reason = KVM_EXIT_FAIL_ENTRY;
  CHECK_EQ(translate_exit(e).exit.reason, VMX_REASON_VMENTRY_GUEST | 0x80000000u);
  // KVM_RUN refusing a state the VMM loaded is an entry failure; other errors are not exits.
  e.result = RunResult::kFailed;
  e.error = EINVAL;
  e.loaded_vmm_state = true;
  t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_VMENTRY_GUEST | 0x80000000u);
  CHECK_EQ(t.regs.rip, 0x1234);
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
    Translation t = translate_exit(e);
    CHECK(t.next == Next::kReport);
    CHECK_EQ(t.exit.reason, c.want_reason);
    CHECK_EQ(t.exit.qualification, 0);
    CHECK_EQ(t.exit.instr_len, c.len);
    CHECK_EQ(t.regs.rip, c.rip);
    CHECK_EQ(t.regs.rcx, 0xc0000080);
    CHECK_EQ(t.regs.rax, 0x11);
    CHECK_EQ(t.regs.rdx, 0x22);
    CHECK(t.pending == c.pending);
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
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_VMCALL);
  CHECK_EQ(t.exit.instr_len, 3);
  CHECK_EQ(t.regs.rip, 0x1005);
  CHECK_EQ(t.regs.rax, 0x23456);
  CHECK(t.pending == Pending::kNone);
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
  Translation t = translate_exit(e);
  CHECK(t.next == Next::kReport);
  CHECK_EQ(t.exit.reason, VMX_REASON_IRQ);
  CHECK_EQ(t.regs.rip, 0x1000);
  CHECK_EQ(t.exit.instr_len, 0);
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
