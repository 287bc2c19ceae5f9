// decode.h — a small x86 instruction decoder for the KVM provider.
//
// KVM has already decoded and partly retired the instruction behind an I/O or MMIO exit, but HVF
// reports RIP *at* the instruction with its length (notes §5). The provider finds the start by
// decoding: forward from RIP when KVM left RIP there, backward from the next RIP when KVM retired it.
// The decoder only needs lengths, the memory operand's effective address and the I/O forms; it does
// not need to know what an instruction does.
#ifndef HVSPEC_PROVIDER_DECODE_H
#define HVSPEC_PROVIDER_DECODE_H

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

namespace hvkvm {

enum SegIndex { kES = 0, kCS, kSS, kDS, kFS, kGS, kNoSeg };

struct Insn {
  int len = 0;
  uint8_t op = 0;       // last opcode byte
  int map = 0;          // 0: one-byte map, 1: 0F, 2: 0F38, 3: 0F3A
  int opsize = 4;       // 2, 4 or 8
  int addrsize = 4;     // 2, 4 or 8
  bool rep = false;     // F3
  bool repne = false;   // F2
  bool opsize_prefix = false;
  bool rex_w = false;
  // Memory operand (ModRM memory form, moffs, or the destination of a string instruction).
  bool has_mem = false;
  bool ea_known = false;  // the offset could be computed from the registers
  int seg = kDS;
  uint64_t ea = 0;        // offset within the segment (before adding the segment base)
  bool string_op = false;
};

// Code-segment mode of the vCPU: 16, 32 or 64 (from CR0.PE, EFER.LMA, CS.L and CS.D).
int code_mode(const kvm_sregs &s);

// Decodes one instruction from bytes[0..n). `regs` (may be null) lets it compute the effective
// address; `rip` is the instruction's own address, for RIP-relative operands.
// Returns false for bytes it cannot decode (including a truncated instruction).
bool decode(const uint8_t *bytes, size_t n, int mode, const kvm_regs *regs, uint64_t rip, Insn *out);

// Segment base of a SegIndex.
uint64_t seg_base(const kvm_sregs &s, int seg);

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_DECODE_H
