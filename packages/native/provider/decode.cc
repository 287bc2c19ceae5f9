// decode.cc — x86 instruction length and memory-operand decoder (see decode.h for why).
//
// Covers the one-byte map, 0F, 0F38 and 0F3A with legacy prefixes and REX, in 16-, 32- and 64-bit
// code. VEX/EVEX encodings are refused (returns false); the provider then reports the exit with
// RIP as KVM left it and instruction length 0.
#include "decode.h"

namespace hvkvm {

namespace {

enum Imm { kNoImm, kImm8, kImm16, kImmZ, kImmV, kMoffs, kImm16_8, kFar, kGrp3 };

bool one_byte_modrm(uint8_t op) {
  if (op < 0x40) return (op & 7) < 4;
  switch (op) {
    case 0x62: case 0x63: case 0x69: case 0x6b: case 0xc0: case 0xc1: case 0xc4: case 0xc5:
    case 0xc6: case 0xc7: case 0xd0: case 0xd1: case 0xd2: case 0xd3: case 0xf6: case 0xf7:
    case 0xfe: case 0xff:
      return true;
    default:
      return (op >= 0x80 && op <= 0x8f) || (op >= 0xd8 && op <= 0xdf);
  }
}

Imm one_byte_imm(uint8_t op) {
  if (op < 0x40) {
    if ((op & 7) == 4) return kImm8;
    if ((op & 7) == 5) return kImmZ;
    return kNoImm;
  }
  if (op >= 0x70 && op <= 0x7f) return kImm8;
  if (op >= 0xb0 && op <= 0xb7) return kImm8;
  if (op >= 0xb8 && op <= 0xbf) return kImmV;
  if (op >= 0xa0 && op <= 0xa3) return kMoffs;
  if (op >= 0xe0 && op <= 0xe7) return kImm8;
  switch (op) {
    case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7: case 0xe8: case 0xe9: return kImmZ;
    case 0x6a: case 0x6b: case 0x80: case 0x82: case 0x83: case 0xa8: case 0xc0: case 0xc1:
    case 0xc6: case 0xcd: case 0xd4: case 0xd5: case 0xeb:
      return kImm8;
    case 0xc2: case 0xca: return kImm16;
    case 0xc8: return kImm16_8;
    case 0x9a: case 0xea: return kFar;
    case 0xf6: case 0xf7: return kGrp3;
    default: return kNoImm;
  }
}

bool twobyte_modrm(uint8_t op) {
  if (op >= 0x80 && op <= 0x8f) return false;  // Jcc rel
  if (op >= 0xc8 && op <= 0xcf) return false;  // BSWAP
  if (op >= 0x30 && op <= 0x37) return false;  // WRMSR..GETSEC
  switch (op) {
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e: case 0x77:
    case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
      return false;
    default:
      return true;
  }
}

Imm twobyte_imm(uint8_t op) {
  if (op >= 0x80 && op <= 0x8f) return kImmZ;
  if (op >= 0x70 && op <= 0x73) return kImm8;
  switch (op) {
    case 0xa4: case 0xac: case 0xba: case 0xc2: case 0xc4: case 0xc5: case 0xc6: return kImm8;
    default: return kNoImm;
  }
}

uint64_t gpr(const kvm_regs &r, int i) {
  switch (i) {
    case 0: return r.rax; case 1: return r.rcx; case 2: return r.rdx; case 3: return r.rbx;
    case 4: return r.rsp; case 5: return r.rbp; case 6: return r.rsi; case 7: return r.rdi;
    case 8: return r.r8; case 9: return r.r9; case 10: return r.r10; case 11: return r.r11;
    case 12: return r.r12; case 13: return r.r13; case 14: return r.r14; default: return r.r15;
  }
}

uint64_t mask_for(int size) { return size == 8 ? ~0ull : (1ull << (size * 8)) - 1; }

int64_t sext(uint64_t v, int bytes) {
  int shift = 64 - 8 * bytes;
  return static_cast<int64_t>(v << shift) >> shift;
}

uint64_t read_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

int code_mode(const kvm_sregs &s) {
  if (!(s.cr0 & 1)) return 16;
  if ((s.efer & (1u << 10)) && s.cs.l) return 64;
  return s.cs.db ? 32 : 16;
}

uint64_t seg_base(const kvm_sregs &s, int seg) {
  switch (seg) {
    case kES: return s.es.base; case kCS: return s.cs.base; case kSS: return s.ss.base;
    case kDS: return s.ds.base; case kFS: return s.fs.base; case kGS: return s.gs.base;
    default: return 0;
  }
}

bool decode(const uint8_t *b, size_t n, int mode, const kvm_regs *regs, uint64_t rip, Insn *out) {
  Insn d;
  size_t i = 0;
  int seg_override = -1;
  bool addr_prefix = false;
  uint8_t rex = 0;
  // Legacy prefixes (at most 14 before the opcode; an instruction is at most 15 bytes).
  for (;; ++i) {
    if (i >= n || i >= 15) return false;
    uint8_t p = b[i];
    if (p == 0x66) d.opsize_prefix = true;
    else if (p == 0x67) addr_prefix = true;
    else if (p == 0xf3) { d.rep = true; d.repne = false; }
    else if (p == 0xf2) { d.repne = true; d.rep = false; }
    else if (p == 0xf0) {}
    else if (p == 0x26) seg_override = kES;
    else if (p == 0x2e) seg_override = kCS;
    else if (p == 0x36) seg_override = kSS;
    else if (p == 0x3e) seg_override = kDS;
    else if (p == 0x64) seg_override = kFS;
    else if (p == 0x65) seg_override = kGS;
    else break;
  }
  if (mode == 64 && (b[i] & 0xf0) == 0x40) {  // REX must come last, right before the opcode
    rex = b[i++];
    if (i >= n) return false;
  }
  d.rex_w = rex & 8;
  if (mode == 16) d.opsize = d.opsize_prefix ? 4 : 2;
  else if (mode == 32) d.opsize = d.opsize_prefix ? 2 : 4;
  else d.opsize = d.rex_w ? 8 : (d.opsize_prefix ? 2 : 4);
  if (mode == 16) d.addrsize = addr_prefix ? 4 : 2;
  else if (mode == 32) d.addrsize = addr_prefix ? 2 : 4;
  else d.addrsize = addr_prefix ? 4 : 8;

  uint8_t op = b[i++];
  bool modrm = false;
  Imm imm = kNoImm;
  if (op == 0x0f) {
    if (i >= n) return false;
    op = b[i++];
    if (op == 0x38 || op == 0x3a) {
      d.map = op == 0x38 ? 2 : 3;
      if (i >= n) return false;
      op = b[i++];
      modrm = true;
      imm = d.map == 3 ? kImm8 : kNoImm;
    } else {
      d.map = 1;
      modrm = twobyte_modrm(op);
      imm = twobyte_imm(op);
    }
  } else {
    if (mode == 64 && (op == 0xc4 || op == 0xc5 || op == 0x62)) return false;  // VEX/EVEX
    if (mode != 64 && (op == 0xc4 || op == 0xc5) && i < n && (b[i] & 0xc0) == 0xc0) return false;
    modrm = one_byte_modrm(op);
    imm = one_byte_imm(op);
  }
  d.op = op;

  if (modrm) {
    if (i >= n) return false;
    uint8_t m = b[i++];
    int mod = m >> 6, reg = (m >> 3) & 7, rm = m & 7;
    if (imm == kGrp3) imm = reg < 2 ? (op == 0xf6 ? kImm8 : kImmZ) : kNoImm;
    if (mod != 3) {
      d.has_mem = true;
      int64_t disp = 0;
      uint64_t ea = 0;
      bool known = regs != nullptr;
      int def_seg = kDS;
      // Takes a sign-extended displacement of `size` bytes from the code; false when the bytes end first.
      auto take_disp = [&](int size) {
        if (i + size > n) return false;
        disp = sext(read_le(b + i, size), size);
        i += size;
        return true;
      };
      // mod 1: disp8; mod 2: disp16 or disp32 by the address size.
      int mod_disp = mod == 1 ? 1 : mod == 2 ? (d.addrsize == 2 ? 2 : 4) : 0;
      if (d.addrsize == 2) {
        if (mod == 0 && rm == 6) {
          if (!take_disp(2)) return false;
        } else {
          if (mod_disp && !take_disp(mod_disp)) return false;
          if (regs) {
            const kvm_regs &r = *regs;
            static const int base16[8] = {3, 3, 5, 5, 6, 7, 5, 3};   // BX BX BP BP SI DI BP BX
            static const int index16[8] = {6, 7, 6, 7, -1, -1, -1, -1};
            ea = gpr(r, base16[rm]);
            if (index16[rm] >= 0) ea += gpr(r, index16[rm]);
          }
          if (rm == 2 || rm == 3 || rm == 6) def_seg = kSS;
        }
        d.ea = (ea + disp) & 0xffff;
      } else {
        int base = -1, index = -1, scale = 0;
        bool rip_rel = false;
        if (rm == 4) {
          if (i >= n) return false;
          uint8_t sib = b[i++];
          scale = sib >> 6;
          index = ((sib >> 3) & 7) | ((rex & 2) ? 8 : 0);
          if (index == 4) index = -1;
          base = (sib & 7) | ((rex & 1) ? 8 : 0);
          if ((sib & 7) == 5 && mod == 0) {
            base = -1;
            if (!take_disp(4)) return false;
          }
        } else if (rm == 5 && mod == 0) {
          if (!take_disp(4)) return false;
          rip_rel = mode == 64;
        } else {
          base = rm | ((rex & 1) ? 8 : 0);
        }
        if (mod_disp && !take_disp(mod_disp)) return false;
        if (base == 4 || base == 5) def_seg = kSS;
        if (regs) {
          if (base >= 0) ea += gpr(*regs, base);
          if (index >= 0) ea += gpr(*regs, index) << scale;
        }
        ea += disp;
        d.ea = ea;
        if (rip_rel) {
          d.seg = -2;  // RIP-relative: the next RIP is added once the length is known
          known = true;
        }
      }
      d.ea_known = known;
      if (d.seg != -2) d.seg = seg_override >= 0 ? seg_override : def_seg;
    }
  } else if (d.map == 0) {
    // Memory operands without ModRM: moffs and string instructions.
    if (op >= 0xa0 && op <= 0xa3) {
      d.has_mem = true;
      d.seg = seg_override >= 0 ? seg_override : kDS;
    } else if ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f)) {
      d.has_mem = true;
      d.string_op = true;
      // Destination ES:(E)DI for MOVS/STOS/SCAS/INS, source DS:(E)SI for LODS/OUTS/CMPS.
      bool uses_di = op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab || op == 0xae || op == 0xaf ||
                     op == 0x6c || op == 0x6d;
      d.seg = uses_di ? kES : (seg_override >= 0 ? seg_override : kDS);
      if (regs) {
        d.ea = (uses_di ? regs->rdi : regs->rsi) & mask_for(d.addrsize);
        d.ea_known = true;
      }
    }
  }

  int imm_len = 0;
  switch (imm) {
    case kNoImm: case kGrp3: break;
    case kImm8: imm_len = 1; break;
    case kImm16: imm_len = 2; break;
    case kImmZ: imm_len = d.opsize == 2 ? 2 : 4; break;
    case kImmV: imm_len = d.opsize; break;
    case kMoffs: imm_len = d.addrsize; break;
    case kImm16_8: imm_len = 3; break;
    case kFar: imm_len = 2 + (d.opsize == 2 ? 2 : 4); break;
  }
  if (imm == kMoffs) {
    if (i + imm_len > n) return false;
    d.ea = read_le(b + i, imm_len);
    d.ea_known = true;
  }
  i += imm_len;
  if (i > n || i > 15) return false;
  d.len = static_cast<int>(i);
  if (d.seg == -2) {  // RIP-relative
    d.ea = d.ea + rip + d.len;
    d.seg = seg_override >= 0 ? seg_override : kDS;
  }
  if (d.has_mem && !d.string_op && imm != kMoffs) d.ea &= mask_for(d.addrsize);
  *out = d;
  return true;
}

}  // namespace hvkvm
