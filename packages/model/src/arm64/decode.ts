/**
 * A64 decoding for the model's interpreter: one 32-bit word → one {@link Op}, a flat record of small
 * integers the execution loop switches on. Decoding depends on the word alone (PC-relative offsets
 * stay relative), so a decoded op is valid wherever and whenever the same word is fetched; interp.ts
 * caches ops per guest page and re-decodes only when the word there changed.
 *
 * Written from the Arm ARM's A64 encoding tables (C4, "A64 Instruction Set Encoding"), independently of
 * the spec's assembler. Three outcomes for a word:
 *  - an op of the subset the interpreter executes;
 *  - `K.UNDEF` for encodings the Arm ARM makes UNDEFINED on the model's pretend core (unallocated
 *    encodings, UDF, features its ID registers say are absent: SVE, SME, MTE, PAuth, LSE, HLT/DCPS
 *    outside Debug state): the guest takes an Undefined Instruction exception (EC 0x00) at EL1;
 *  - `K.UNSUP` for valid instructions outside the subset (SIMD&FP, exclusives, atomics, cache
 *    maintenance by address, …), with a reason: the run stops with the model's "unsupported
 *    instruction" result instead of guessing.
 * @module
 */
import { SLOT } from './state.js';

/** Op kinds. */
export const K = {
  UNDEF: 0,
  UNSUP: 1,
  NOP: 2,
  /** a = Rd slot; i, j = value bits 31:0 and 63:32. */
  MOVI: 3,
  /** a = Rd slot; b = hw; i = imm16. */
  MOVK: 4,
  MOVK32: 5,
  /** a = Rd slot, b = Rn slot, i = unsigned immediate (already shifted). */
  ADDI: 6,
  ADDI32: 7,
  SUBI: 8,
  SUBI32: 9,
  ADDSI: 10,
  ADDSI32: 11,
  SUBSI: 12,
  SUBSI32: 13,
  /** a = Rd, b = Rn, c = opc (0 AND, 1 ORR, 2 EOR, 3 ANDS), i/j = mask bits 31:0 / 63:32. */
  LOGI: 14,
  LOGI32: 15,
  /** a = Rd, b = Rn, c = Rm, d = sub | setflags << 1 | is32 << 2, e = shift type, i = amount. */
  ADDSUBR: 16,
  /** a = Rd, b = Rn, c = Rm, d = opc | invert << 2 | is32 << 3, e = shift type, i = amount. */
  LOGR: 17,
  /** a = Rd, b = Rn, c = Rm, d = cond, e = op << 1 | o2, i = is32. */
  CSEL: 18,
  /** a = Rd, b = 1 for ADRP, i = offset (ADRP: page offset in bytes). */
  ADR: 19,
  /** i = byte offset. */
  B: 20,
  BL: 21,
  /** a = cond, i = offset. */
  BCOND: 22,
  /** a = Rt slot, b = 1 for CBNZ, c = is32, i = offset. */
  CBZ: 23,
  /** a = Rt slot, b = bit, c = 1 for TBNZ, i = offset. */
  TBZ: 24,
  /** a = Rn slot. */
  BR: 25,
  BLR: 26,
  /** i = imm16. */
  HVC: 27,
  SVC: 28,
  SMC: 29,
  BRK: 30,
  WFI: 31,
  WFE: 32,
  SEV: 33,
  SEVL: 34,
  ERET: 35,
  /** MSR (immediate) to PSTATE: a = field (PSTATE_*), i = imm4. */
  MSRI: 36,
  /** MRS/MSR: a = Rt slot (ZR for MSR reads of 31, SINK for MRS writes of 31), b = 1 for MRS, c = Rt number, i = hv_sys_reg_t-style encoding. */
  SYSREG: 37,
  /** TLB maintenance at EL1 (TLBI, op1 = 0). */
  TLBI: 38,
  /**
   * Single-register load/store. a = Rt slot, b = base slot (31 = SP), c = addressing mode (ADDR_*),
   * d = flags (LS_*), i = immediate offset (signed), e = Rm slot for register offsets, j = extend
   * option << 8 | shift.
   */
  LDST: 39,
  /** Load literal: a = Rt slot, d = flags (LS_*), i = offset from PC. */
  LDLIT: 40,
  /** Load/store pair: a = Rt slot, b = base slot, c = mode, d = flags (LS_*, size is the element), e = Rt2 slot, i = offset. */
  LDP: 41,
  /** Executed by the BigInt slow path: b = SLOW_* sub-kind, the word in `w`. */
  SLOW: 42,
  /** Instruction cache maintenance by set/way or all (no effect on the model): a = 1 if EL0 may execute it. */
  IC: 43,
} as const;

/** Addressing modes of LDST / LDP. */
export const ADDR = { OFFSET: 0, POST: 1, PRE: 2, REG: 3 } as const;
/** Flags of LDST / LDLIT / LDP. Bits 1:0 = log2 of the access (element) size. */
export const LS = {
  LOAD: 1 << 2,
  /** Sign-extend to 64 bits. */
  SX: 1 << 3,
  /** Sign-extend to 32 bits (zero above). */
  SW: 1 << 4,
  /** Load-acquire / store-release (LDAR/STLR): needs alignment, AR = 1 in a syndrome. */
  AR: 1 << 5,
  /** Unprivileged (LDTR/STTR): at EL1, permissions are checked as for EL0. */
  UNPRIV: 1 << 6,
  /** Prefetch: no access at all. */
  PRFM: 1 << 7,
} as const;
/** PSTATE fields of MSR (immediate). */
export const PSTATE_FIELD = { SPSEL: 0, DAIFSET: 1, DAIFCLR: 2 } as const;
/** Sub-kinds of K.SLOW. */
export const SLOW = {
  BITFIELD: 0,
  EXTR: 1,
  ADDSUBX: 2,
  ADC: 3,
  CCMP: 4,
  DP1: 5,
  DP2: 6,
  DP3: 7,
} as const;

/** One decoded instruction. Every op has the same fields (one hidden class for the whole cache). */
export class Op {
  constructor(
    readonly k: number,
    readonly a: number,
    readonly b: number,
    readonly c: number,
    readonly d: number,
    readonly e: number,
    readonly i: number,
    readonly j: number,
    readonly w: number,
    /** Why an op is K.UNSUP ('' otherwise). */
    readonly m: string,
  ) {}
}

const op = (k: number, a = 0, b = 0, c = 0, d = 0, e = 0, i = 0, j = 0, w = 0, m = ''): Op =>
  new Op(k, a, b, c, d, e, i, j, w, m);
const undef = (w: number): Op => op(K.UNDEF, 0, 0, 0, 0, 0, 0, 0, w);
const unsup = (w: number, m: string): Op => op(K.UNSUP, 0, 0, 0, 0, 0, 0, 0, w, m);

/** Bits hi..lo of a word. */
export function fld(w: number, hi: number, lo: number): number {
  return (w >>> lo) & (2 ** (hi - lo + 1) - 1);
}
/** Sign-extends the low `bits` bits of `v` (bits ≤ 32). */
function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}
/** Register slot for reading Rn/Rm where 31 means XZR. */
const rz = (n: number): number => (n === 31 ? SLOT.ZR : n);
/** Register slot for writing Rd where 31 means XZR. */
const wz = (n: number): number => (n === 31 ? SLOT.SINK : n);

/**
 * Arm ARM DecodeBitMasks (wmask) for a logical immediate; undefined for the reserved encodings.
 * Returns the mask as [bits 31:0, bits 63:32].
 */
export function decodeBitMasks(
  n: number,
  imms: number,
  immr: number,
  width: number,
): [number, number] | undefined {
  const combined = (n << 6) | (~imms & 0x3f);
  if (combined === 0) return undefined;
  const len = 31 - Math.clz32(combined);
  if (len < 1) return undefined;
  const levels = (1 << len) - 1;
  if ((imms & levels) === levels) return undefined;
  const s = imms & levels;
  const r = immr & levels;
  const esize = 1 << len;
  if (esize > width) return undefined;
  const ones = (k: number): bigint => (1n << BigInt(k)) - 1n;
  const e = ones(s + 1);
  const rot = r === 0 ? e : ((e >> BigInt(r)) | (e << BigInt(esize - r))) & ones(esize);
  let out = 0n;
  for (let k = 0; k < width; k += esize) out |= rot << BigInt(k);
  return [Number(out & 0xffff_ffffn), Number(out >> 32n)];
}

/** Decodes one instruction word. */
export function decode(w: number): Op {
  const g = fld(w, 28, 25);
  if ((g & 0b1110) === 0b1000) return decodeDpImm(w);
  if ((g & 0b1110) === 0b1010) return decodeBranchSys(w);
  if ((g & 0b0101) === 0b0100) return decodeLdSt(w);
  if ((g & 0b0111) === 0b0101) return decodeDpReg(w);
  if ((g & 0b0111) === 0b0111) return unsup(w, 'SIMD&FP data processing is outside the model');
  // 0000 reserved (UDF, SME), 0001 and 0011 unallocated, 0010 SVE: none implemented, all UNDEFINED.
  return undef(w);
}

function decodeDpImm(w: number): Op {
  const sf = fld(w, 31, 31) === 1;
  const rd = fld(w, 4, 0);
  const rn = fld(w, 9, 5);
  switch (fld(w, 25, 23)) {
    case 0b000:
    case 0b001: {
      const imm = sext((fld(w, 23, 5) << 2) | fld(w, 30, 29), 21);
      return sf ? op(K.ADR, wz(rd), 1, 0, 0, 0, imm * 4096, 0, w) : op(K.ADR, wz(rd), 0, 0, 0, 0, imm, 0, w);
    }
    case 0b010: {
      const sub = fld(w, 30, 30) === 1;
      const s = fld(w, 29, 29) === 1;
      const imm = fld(w, 21, 10) * (fld(w, 22, 22) ? 4096 : 1);
      const k = s
        ? sub
          ? sf
            ? K.SUBSI
            : K.SUBSI32
          : sf
            ? K.ADDSI
            : K.ADDSI32
        : sub
          ? sf
            ? K.SUBI
            : K.SUBI32
          : sf
            ? K.ADDI
            : K.ADDI32;
      // ADD/SUB (immediate) take SP as Rd and Rn; the flag-setting forms write XZR.
      return op(k, s ? wz(rd) : rd, rn, 0, 0, 0, imm, 0, w);
    }
    case 0b011:
      return undef(w); // ADDG/SUBG (FEAT_MTE, absent) and unallocated
    case 0b100: {
      const n = fld(w, 22, 22);
      if (!sf && n) return undef(w);
      const mask = decodeBitMasks(n, fld(w, 15, 10), fld(w, 21, 16), sf ? 64 : 32);
      if (mask === undefined) return undef(w);
      const opc = fld(w, 30, 29);
      // AND/ORR/EOR (immediate) take SP as Rd; ANDS writes XZR.
      return op(sf ? K.LOGI : K.LOGI32, opc === 3 ? wz(rd) : rd, rz(rn), opc, 0, 0, mask[0], mask[1], w);
    }
    case 0b101: {
      const opc = fld(w, 30, 29);
      const hw = fld(w, 22, 21);
      if (opc === 1 || (!sf && hw > 1)) return undef(w);
      const imm = fld(w, 20, 5);
      if (opc === 3) return op(sf ? K.MOVK : K.MOVK32, wz(rd), hw, 0, 0, 0, imm, 0, w);
      let lo = hw === 0 ? imm : hw === 1 ? imm << 16 : 0;
      let hi = hw === 2 ? imm : hw === 3 ? imm << 16 : 0;
      if (opc === 0) {
        lo = ~lo;
        hi = sf ? ~hi : 0;
      }
      return op(K.MOVI, wz(rd), 0, 0, 0, 0, lo >>> 0, hi >>> 0, w);
    }
    case 0b110: {
      const opc = fld(w, 30, 29);
      if (opc === 3 || fld(w, 22, 22) !== (sf ? 1 : 0)) return undef(w);
      if (!sf && (fld(w, 21, 16) > 31 || fld(w, 15, 10) > 31)) return undef(w);
      return op(K.SLOW, 0, SLOW.BITFIELD, 0, 0, 0, 0, 0, w);
    }
    default: {
      // EXTR: op21 = 00, o0 = 0, N = sf, imms < 32 for the 32-bit form.
      if (fld(w, 30, 29) !== 0 || fld(w, 21, 21) !== 0 || fld(w, 22, 22) !== (sf ? 1 : 0)) return undef(w);
      if (!sf && fld(w, 15, 15)) return undef(w);
      return op(K.SLOW, 0, SLOW.EXTR, 0, 0, 0, 0, 0, w);
    }
  }
}

function decodeBranchSys(w: number): Op {
  const rt = fld(w, 4, 0);
  if (fld(w, 30, 26) === 0b00101)
    return op(fld(w, 31, 31) ? K.BL : K.B, 0, 0, 0, 0, 0, sext(fld(w, 25, 0), 26) * 4, 0, w);
  if (fld(w, 30, 25) === 0b011010)
    return op(K.CBZ, rz(rt), fld(w, 24, 24), fld(w, 31, 31) ? 0 : 1, 0, 0, sext(fld(w, 23, 5), 19) * 4, 0, w);
  if (fld(w, 30, 25) === 0b011011) {
    const bit = (fld(w, 31, 31) << 5) | fld(w, 23, 19);
    return op(K.TBZ, rz(rt), bit, fld(w, 24, 24), 0, 0, sext(fld(w, 18, 5), 14) * 4, 0, w);
  }
  if (fld(w, 31, 24) === 0b01010100) {
    // B.cond; o1 = 1 is unallocated, o0 = 1 is BC.cond (FEAT_HBC, absent).
    if (fld(w, 4, 4) !== 0) return undef(w);
    return op(K.BCOND, fld(w, 3, 0), 0, 0, 0, 0, sext(fld(w, 23, 5), 19) * 4, 0, w);
  }
  if (fld(w, 31, 25) === 0b0101010) return undef(w); // B.cond with o1 = 1
  if (fld(w, 31, 24) === 0b11010100) {
    const opc = fld(w, 23, 21);
    const ll = fld(w, 1, 0);
    const imm16 = fld(w, 20, 5);
    if (fld(w, 4, 2) !== 0) return undef(w);
    if (opc === 0 && ll === 1) return op(K.SVC, 0, 0, 0, 0, 0, imm16, 0, w);
    if (opc === 0 && ll === 2) return op(K.HVC, 0, 0, 0, 0, 0, imm16, 0, w);
    if (opc === 0 && ll === 3) return op(K.SMC, 0, 0, 0, 0, 0, imm16, 0, w);
    if (opc === 1 && ll === 0) return op(K.BRK, 0, 0, 0, 0, 0, imm16, 0, w);
    // HLT (halting debug not enabled), DCPS1-3 (not in Debug state), TCANCEL (no TME): UNDEFINED.
    return undef(w);
  }
  if (fld(w, 31, 22) === 0b1101010100) return decodeSystem(w);
  if (fld(w, 31, 25) === 0b1101011) {
    const opc = fld(w, 24, 21);
    const rn = fld(w, 9, 5);
    if (fld(w, 20, 16) !== 0x1f || fld(w, 15, 10) !== 0 || fld(w, 4, 0) !== 0) return undef(w); // PAuth forms: no FEAT_PAuth
    if (opc === 0 || opc === 2) return op(K.BR, rz(rn), 0, 0, 0, 0, 0, 0, w);
    if (opc === 1) return op(K.BLR, rz(rn), 0, 0, 0, 0, 0, 0, w);
    if (opc === 4 && rn === 31) return op(K.ERET, 0, 0, 0, 0, 0, 0, 0, w);
    return undef(w); // DRPS outside Debug state, unallocated
  }
  return undef(w);
}

function decodeSystem(w: number): Op {
  const l = fld(w, 21, 21);
  const op0 = fld(w, 20, 19);
  const op1 = fld(w, 18, 16);
  const crn = fld(w, 15, 12);
  const crm = fld(w, 11, 8);
  const op2 = fld(w, 7, 5);
  const rt = fld(w, 4, 0);
  if (op0 === 0) {
    if (l === 1) return undef(w);
    if (crn === 2 && op1 === 3) {
      if (rt !== 31) return undef(w);
      switch ((crm << 3) | op2) {
        case 2:
          return op(K.WFE, 0, 0, 0, 0, 0, 0, 0, w);
        case 3:
          return op(K.WFI, 0, 0, 0, 0, 0, 0, 0, w);
        case 4:
          return op(K.SEV, 0, 0, 0, 0, 0, 0, 0, w);
        case 5:
          return op(K.SEVL, 0, 0, 0, 0, 0, 0, 0, w);
        default:
          // NOP, YIELD and every other hint: unallocated hints and those of absent features (PAuth,
          // BTI, ESB, …) execute as NOP (Arm ARM C5.2 "Hints").
          return op(K.NOP, 0, 0, 0, 0, 0, 0, 0, w);
      }
    }
    if (crn === 3 && op1 === 3) {
      if (rt !== 31) return undef(w);
      // CLREX, DSB, DMB, ISB: no effect on one in-order vCPU. SB (FEAT_SB) and the rest: UNDEFINED.
      if (op2 === 2 || op2 === 4 || op2 === 5 || op2 === 6) return op(K.NOP, 0, 0, 0, 0, 0, 0, 0, w);
      return undef(w);
    }
    if (crn === 4 && rt === 31) {
      if (op1 === 0 && op2 === 5) return op(K.MSRI, PSTATE_FIELD.SPSEL, 0, 0, 0, 0, crm, 0, w);
      if (op1 === 3 && op2 === 6) return op(K.MSRI, PSTATE_FIELD.DAIFSET, 0, 0, 0, 0, crm, 0, w);
      if (op1 === 3 && op2 === 7) return op(K.MSRI, PSTATE_FIELD.DAIFCLR, 0, 0, 0, 0, crm, 0, w);
    }
    // UAO, PAN, DIT, SSBS, TCO, CFINV, WFET/WFIT, …: features the pretend core lacks.
    return undef(w);
  }
  if (op0 === 1) {
    if (l === 1) return undef(w); // SYSL: nothing allocated
    // TLBI at EL1 (op1 0). The EL2/EL3 forms are UNDEFINED at EL1; every EL1 form is modelled as
    // invalidating all of this vCPU's cached translations, which is a valid implementation of each.
    if (crn === 8) return op1 === 0 ? op(K.TLBI, 0, 0, 0, 0, 0, 0, 0, w) : undef(w);
    if (crn === 7 && op1 === 0 && crm === 5 && op2 === 0 && rt === 31)
      return op(K.IC, 0, 0, 0, 0, 0, 0, 0, w); // IC IALLU
    if (crn === 7 && op1 === 0 && crm === 1 && op2 === 0 && rt === 31)
      return op(K.IC, 0, 0, 0, 0, 0, 0, 0, w); // IC IALLUIS
    return unsup(
      w,
      'SYS instructions other than TLBI and IC IALLU(IS) (DC, AT, IC IVAU) are outside the model',
    );
  }
  const enc = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
  return op(K.SYSREG, l ? wz(rt) : rz(rt), l, rt, 0, 0, enc, 0, w);
}

function decodeLdSt(w: number): Op {
  if (fld(w, 26, 26)) return unsup(w, 'SIMD&FP loads and stores are outside the model');
  const size = fld(w, 31, 30);
  const rt = fld(w, 4, 0);
  const rn = fld(w, 9, 5);
  if (fld(w, 29, 24) === 0b001000) {
    const o2 = fld(w, 23, 23);
    const load = fld(w, 22, 22) === 1;
    const o1 = fld(w, 21, 21);
    const o0 = fld(w, 15, 15);
    if (o2 === 1 && o1 === 0 && o0 === 1 && fld(w, 20, 16) === 31 && fld(w, 14, 10) === 31)
      return op(
        K.LDST,
        load ? wz(rt) : rz(rt),
        rn,
        ADDR.OFFSET,
        size | (load ? LS.LOAD : 0) | LS.AR,
        0,
        0,
        0,
        w,
      );
    if (o2 === 1 && o0 === 0) return undef(w); // LDLAR/STLLR: no FEAT_LOR
    if (o1 === 1 && o2 === 1) return undef(w); // CAS family: no FEAT_LSE
    return unsup(w, 'exclusive loads and stores are outside the model');
  }
  if (fld(w, 29, 27) === 0b011 && fld(w, 24, 24) === 0) {
    if (size === 3) return op(K.NOP, 0, 0, 0, 0, 0, 0, 0, w); // PRFM (literal)
    const flags = size === 0 ? 2 | LS.LOAD : size === 1 ? 3 | LS.LOAD : 2 | LS.LOAD | LS.SX;
    return op(K.LDLIT, wz(rt), 0, 0, flags, 0, sext(fld(w, 23, 5), 19) * 4, 0, w);
  }
  if (fld(w, 29, 27) === 0b101) {
    const load = fld(w, 22, 22) === 1;
    const mode = fld(w, 24, 23);
    if (size === 3) return undef(w);
    if (size === 1 && (!load || mode === 0)) return undef(w); // STGP (no MTE); LDNP with opc 01
    const esize = size === 2 ? 3 : 2;
    const flags = esize | (load ? LS.LOAD : 0) | (size === 1 ? LS.SX : 0);
    const rt2 = fld(w, 14, 10);
    const m = mode === 1 ? ADDR.POST : mode === 3 ? ADDR.PRE : ADDR.OFFSET;
    return op(
      K.LDP,
      load ? wz(rt) : rz(rt),
      rn,
      m,
      flags,
      load ? wz(rt2) : rz(rt2),
      sext(fld(w, 21, 15), 7) << esize,
      0,
      w,
    );
  }
  if (fld(w, 29, 27) === 0b111) {
    const opc = fld(w, 23, 22);
    let flags = size;
    if (opc === 0) {
      // store
    } else if (opc === 1) flags |= LS.LOAD;
    else if (opc === 2) {
      if (size === 3) flags |= LS.PRFM;
      else flags |= LS.LOAD | LS.SX;
    } else {
      if (size >= 2) return undef(w);
      flags |= LS.LOAD | LS.SW;
    }
    const load = (flags & LS.LOAD) !== 0;
    const a = load ? wz(rt) : rz(rt);
    if (fld(w, 24, 24) === 1) return op(K.LDST, a, rn, ADDR.OFFSET, flags, 0, fld(w, 21, 10) << size, 0, w);
    if (fld(w, 21, 21) === 1) {
      const kind = fld(w, 11, 10);
      if (kind === 0) return undef(w); // LSE atomics: no FEAT_LSE
      if (kind !== 2) return undef(w); // LDRAA/LDRAB: no FEAT_PAuth
      const option = fld(w, 15, 13);
      if ((option & 2) === 0) return undef(w);
      const shift = fld(w, 12, 12) ? size : 0;
      return op(K.LDST, a, rn, ADDR.REG, flags, rz(fld(w, 20, 16)), 0, (option << 8) | shift, w);
    }
    const imm9 = sext(fld(w, 20, 12), 9);
    if (flags & LS.PRFM && (fld(w, 11, 10) & 1) === 1) return undef(w); // PRFM has no writeback forms
    switch (fld(w, 11, 10)) {
      case 0:
        return op(K.LDST, a, rn, ADDR.OFFSET, flags, 0, imm9, 0, w);
      case 1:
        return op(K.LDST, a, rn, ADDR.POST, flags, 0, imm9, 0, w);
      case 2:
        if (flags & LS.PRFM) return undef(w);
        return op(K.LDST, a, rn, ADDR.OFFSET, flags | LS.UNPRIV, 0, imm9, 0, w);
      default:
        return op(K.LDST, a, rn, ADDR.PRE, flags, 0, imm9, 0, w);
    }
  }
  return unsup(w, 'load/store encoding outside the model');
}

function decodeDpReg(w: number): Op {
  const sf = fld(w, 31, 31) === 1;
  const rd = fld(w, 4, 0);
  const rn = fld(w, 9, 5);
  const rm = fld(w, 20, 16);
  const imm6 = fld(w, 15, 10);
  const shiftType = fld(w, 23, 22);
  if (fld(w, 28, 24) === 0b01010) {
    if (!sf && imm6 >= 32) return undef(w);
    const d = fld(w, 30, 29) | (fld(w, 21, 21) << 2) | (sf ? 0 : 8);
    return op(K.LOGR, wz(rd), rz(rn), rz(rm), d, shiftType, imm6, 0, w);
  }
  if (fld(w, 28, 24) === 0b01011) {
    if (fld(w, 21, 21) === 0) {
      if (shiftType === 3 || (!sf && imm6 >= 32)) return undef(w);
      const d = fld(w, 30, 30) | (fld(w, 29, 29) << 1) | (sf ? 0 : 4);
      return op(K.ADDSUBR, wz(rd), rz(rn), rz(rm), d, shiftType, imm6, 0, w);
    }
    if (shiftType !== 0 || fld(w, 12, 10) > 4) return undef(w);
    return op(K.SLOW, 0, SLOW.ADDSUBX, 0, 0, 0, 0, 0, w);
  }
  if (fld(w, 28, 21) === 0b11010000) {
    if (fld(w, 15, 10) !== 0) return undef(w);
    return op(K.SLOW, 0, SLOW.ADC, 0, 0, 0, 0, 0, w);
  }
  if (fld(w, 28, 21) === 0b11010010) {
    if (fld(w, 29, 29) !== 1 || fld(w, 10, 10) !== 0 || fld(w, 4, 4) !== 0) return undef(w);
    return op(K.SLOW, 0, SLOW.CCMP, 0, 0, 0, 0, 0, w);
  }
  if (fld(w, 28, 21) === 0b11010100) {
    if (fld(w, 29, 29) !== 0 || fld(w, 11, 11) !== 0) return undef(w);
    const e = (fld(w, 30, 30) << 1) | fld(w, 10, 10);
    return op(K.CSEL, wz(rd), rz(rn), rz(rm), fld(w, 15, 12), e, sf ? 0 : 1, 0, w);
  }
  if (fld(w, 28, 21) === 0b11010110) {
    if (fld(w, 29, 29) !== 0) return undef(w);
    if (fld(w, 30, 30) === 1) {
      // One source: RBIT, REV16, REV32, REV, CLZ, CLS (opcode2 = 0).
      const opcode = fld(w, 15, 10);
      if (rm !== 0 || opcode > 5 || (opcode === 3 && !sf)) return undef(w);
      return op(K.SLOW, 0, SLOW.DP1, 0, 0, 0, 0, 0, w);
    }
    // Two source: UDIV, SDIV, LSLV, LSRV, ASRV, RORV.
    // CRC32 (no FEAT_CRC32 in the pretend core's ID registers), PACGA (no PAuth) and the unallocated
    // opcodes are UNDEFINED.
    const opcode = fld(w, 15, 10);
    if (opcode !== 2 && opcode !== 3 && (opcode < 8 || opcode > 11)) return undef(w);
    return op(K.SLOW, 0, SLOW.DP2, 0, 0, 0, 0, 0, w);
  }
  if (fld(w, 28, 24) === 0b11011) {
    const op54 = fld(w, 30, 29);
    const op31 = fld(w, 23, 21);
    const o0 = fld(w, 15, 15);
    if (op54 !== 0) return undef(w);
    const ok = op31 === 0 || (sf && (op31 === 1 || op31 === 5 || ((op31 === 2 || op31 === 6) && o0 === 0)));
    if (!ok) return undef(w);
    return op(K.SLOW, 0, SLOW.DP3, 0, 0, 0, 0, 0, w);
  }
  return unsup(w, 'data-processing (register) encoding outside the model');
}
