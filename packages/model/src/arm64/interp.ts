/**
 * The model's arm64 guest interpreter: executes real A64 machine code at EL1 with the stage-1 MMU off
 * (VA = IPA), on the registers and guest memory the API layer hands it (engine.ts contract), until an
 * exit to the VMM, the instruction budget, or an instruction outside its subset.
 *
 * Written from the Arm ARM encodings, independently of the spec's assembler and prediction, so that
 * the agreement property (assembled program → this interpreter → exits == the spec's prediction)
 * checks two implementations against each other.
 *
 * Subset: MOVZ/MOVK/MOVN, ADR/ADRP, ADD/SUB (immediate, shifted register; flag-setting forms, CMP/CMN),
 * AND/ORR/EOR/ANDS (logical immediate and shifted register, incl. BIC/ORN/EON/BICS), CSEL/CSINC/CSINV/
 * CSNEG, B, BL, BR, BLR, RET, CBZ/CBNZ, TBZ/TBNZ, B.cond, NOP and other hints, DSB/DMB/ISB, MSR DAIFSet/
 * DAIFClr, HVC, WFI, BRK, MRS/MSR; loads/stores of 1/2/4/8 bytes (unsigned offset, register offset,
 * unscaled, pre/post-index, literal) including sign-extending forms, LDAR/STLR, LDP/STP/LDPSW.
 * Anything else returns `{kind: 'unsupported'}` with the bytes and a reason, never a guess.
 *
 * Exits and their syndromes follow hvf-facts.md §2.8: data aborts (EC 0x24) carry a full ISS with
 * ISV = 1 for single-register accesses without writeback and ISV = 0 for pairs and writeback forms;
 * instruction aborts (EC 0x20); HVC (EC 0x16, PC after it); WFI (EC 0x01, PC at it); BRK (EC 0x3C,
 * PC at it, only with trap-debug-exceptions on); trapped MSR/MRS (EC 0x18, PC at it). The fault level
 * the model reports is 3 for both translation and permission faults (the real level depends on the
 * framework's stage-2 tables [U]).
 *
 * Virtual time: `ctx.clock.count` advances by 1 per instruction the guest retires (HVC included; an
 * instruction that exits for the VMM to emulate does not retire). Before each instruction, if the
 * vtimer is not masked and CNTV_CTL_EL0.ENABLE && !IMASK && CNTVCT >= CNTV_CVAL_EL0, the run stops
 * with `vtimer`.
 * @module
 */

import { ESR_EC, FSC, HV_SYS_REG, HV_SYS_REG_ID_REGISTERS } from '@hvspec/spec';
import { BigIntMemo, Low32Memo } from '../bigint-memo.js';
import type { Arm64Engine, Arm64RunContext, Arm64Stop, MemFault } from '../engine.js';
import { isFault, readInto } from '../engine.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

/** System-register encodings (op0<<14|op1<<11|CRn<<7|CRm<<3|op2) the interpreter treats specially. */
const SR = {
  CNTVCT_EL0: 0xdf02,
  CNTV_TVAL_EL0: 0xdf18,
  CNTV_CTL_EL0: HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0,
  CNTV_CVAL_EL0: HV_SYS_REG.HV_SYS_REG_CNTV_CVAL_EL0,
  NZCV: 0xda10,
  DAIF: 0xda11,
  CURRENT_EL: 0xc212,
  SPSEL: 0xc210,
  SP_EL0: HV_SYS_REG.HV_SYS_REG_SP_EL0,
  SP_EL1: HV_SYS_REG.HV_SYS_REG_SP_EL1,
  SCTLR_EL1: HV_SYS_REG.HV_SYS_REG_SCTLR_EL1,
  MIDR_EL1: HV_SYS_REG.HV_SYS_REG_MIDR_EL1,
  MPIDR_EL1: HV_SYS_REG.HV_SYS_REG_MPIDR_EL1,
} as const;

const HELD_SYS_REGS = new Set<number>(Object.values(HV_SYS_REG));
const READ_ONLY_SYS_REGS = new Set<number>([...HV_SYS_REG_ID_REGISTERS, SR.MIDR_EL1, SR.MPIDR_EL1]);

/**
 * PMU registers: with EL2 off, HVF traps guest accesses to them to the VMM as EC 0x18 exits
 * (hvf-facts.md §2.3 [H]). op0 3 / op1 3 / CRn 9 (PMCR_EL0 … PMOVSSET_EL0), op0 3 / op1 0 / CRn 9 /
 * CRm 14 (PMINTENSET/CLR_EL1, PMMIR_EL1), and op0 3 / op1 3 / CRn 14 / CRm 8..15 (PMEVCNTRn_EL0,
 * PMEVTYPERn_EL0, PMCCFILTR_EL0).
 */
function isPmuRegister(op0: number, op1: number, crn: number, crm: number): boolean {
  if (op0 !== 3) return false;
  if (op1 === 3 && crn === 9) return true;
  if (op1 === 0 && crn === 9 && crm === 14) return true;
  return op1 === 3 && crn === 14 && crm >= 8;
}

/**
 * Debug registers hv_vcpu_set_trap_debug_reg_accesses traps: DBGBVRn/BCRn/WVRn/WCRn_EL1 and
 * MDSCR_EL1 (hvf-facts.md §2.4 [H]); MDCCINT_EL1 is in the same op0 2 / CRn 0 group.
 */
function isTrappableDebugRegister(op0: number, op1: number, crn: number, crm: number, op2: number): boolean {
  if (op0 !== 2 || op1 !== 0 || crn !== 0) return false;
  if (op2 >= 4) return true; // DBGBVR/BCR/WVR/WCR, CRm = n
  return crm === 2 && (op2 === 0 || op2 === 2); // MDCCINT_EL1, MDSCR_EL1
}

/**
 * The instruction word being executed, reused by every fetch of every run (runs are synchronous and never
 * re-entered): a fresh array per fetch made garbage collection a large part of an exit round trip.
 */
const FETCHED = new Uint8Array(4);

class Unsupported {
  constructor(readonly reason: string) {}
}

/** Bits hi..lo of an instruction word. */
function fld(insn: number, hi: number, lo: number): number {
  return (insn >>> lo) & ((1 << (hi - lo + 1)) - 1);
}

/**
 * Conversions to BigInt that a loop makes with the same value every time (a branch's offset, the
 * syndrome of the exit it ends with, the instructions a run retires), memoised (bigint-memo.ts).
 */
const BRANCH_OFFSET = new BigIntMemo();
const SYNDROME = new BigIntMemo();
const RETIRED = new BigIntMemo();
/** The registers every run's {@link Interp.refresh} tests bits of, memoised the other way. */
const CPSR = new Low32Memo();
const SCTLR = new Low32Memo();
const CNTV_CTL = new Low32Memo();

/** PC + SignExtend(imm:'00'), for a `bits`-wide word-offset field (at most 26 bits, so it fits an int32). */
function rel(pc: bigint, imm: number, bits: number): bigint {
  const shift = 32 - bits;
  return BigInt.asUintN(64, pc + BRANCH_OFFSET.of(((imm << shift) >> shift) * 4));
}

const sext = (v: bigint, bits: number): bigint => BigInt.asUintN(64, BigInt.asIntN(bits, v));
const ones = (n: number): bigint => (n === 64 ? M64 : n === 32 ? M32 : (1n << BigInt(n)) - 1n);

function ror(v: bigint, amount: number, width: number): bigint {
  const w = BigInt(width);
  const a = BigInt(amount % width);
  if (a === 0n) return v & ones(width);
  return ((v >> a) | (v << (w - a))) & ones(width);
}

/** Arm ARM DecodeBitMasks for logical immediates; undefined for reserved encodings. */
function decodeBitMasks(n: number, imms: number, immr: number, width: number): bigint | undefined {
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
  const elem = ror(ones(s + 1), r, esize);
  let out = 0n;
  for (let i = 0; i < width; i += esize) out |= elem << BigInt(i);
  return out & ones(width);
}

function addWithCarry(x: bigint, y: bigint, carry: bigint, width: number): { result: bigint; nzcv: bigint } {
  const mask = ones(width);
  const unsignedSum = (x & mask) + (y & mask) + carry;
  const result = unsignedSum & mask;
  const signedSum = BigInt.asIntN(width, x & mask) + BigInt.asIntN(width, y & mask) + carry;
  const n = (result >> BigInt(width - 1)) & 1n;
  const z = result === 0n ? 1n : 0n;
  const c = unsignedSum === result ? 0n : 1n;
  const v = BigInt.asIntN(width, result) === signedSum ? 0n : 1n;
  return { result, nzcv: (n << 3n) | (z << 2n) | (c << 1n) | v };
}

/**
 * One run of the interpreter. A class rather than closures so that a run allocates one object and
 * no functions (per-call closures dominated the cost of an exit).
 */
class Interp {
  readonly cpu: Arm64RunContext['cpu'];
  readonly sys: Map<number, bigint>;
  /** Set by `step` for stops that still retire (HVC). */
  retired = false;
  /** The counter when the run started, and instructions retired since (kept as a number: BigInt arithmetic per instruction was the main cost). */
  readonly base: bigint;
  n = 0;
  /** Value of `n` at which the vtimer condition first holds (Infinity: not in this run, or masked). */
  fireAt = Infinity;
  /** Set after a system-register write: re-derive the execution-state checks and `fireAt`. */
  recheck = true;

  constructor(readonly ctx: Arm64RunContext) {
    this.cpu = ctx.cpu;
    this.sys = ctx.cpu.sys;
    this.base = ctx.clock.count;
  }

  count(): bigint {
    return this.base + RETIRED.of(this.n);
  }
  sysGet(enc: number): bigint {
    return this.sys.get(enc) ?? 0n;
  }

  cntvct(): bigint {
    return (this.count() - this.ctx.vtimerOffset) & M64;
  }
  /** Recomputes `fireAt` and checks the execution state the model supports; a stop if unsupported. */
  refresh(): Arm64Stop | undefined {
    this.recheck = false;
    const mode = CPSR.of(this.cpu.cpsr) & 0x1f;
    if (mode !== 0x4 && mode !== 0x5) {
      return {
        kind: 'unsupported',
        bytes: new Uint8Array(0),
        reason: `CPSR.M = 0x${mode.toString(16)}: only EL1t/EL1h AArch64 is modelled (set CPSR, e.g. 0x3c5)`,
      };
    }
    if ((SCTLR.of(this.sysGet(SR.SCTLR_EL1)) & 1) === 1) {
      return {
        kind: 'unsupported',
        bytes: new Uint8Array(0),
        reason: 'SCTLR_EL1.M = 1: stage-1 translation is not modelled',
      };
    }
    const ctl = CNTV_CTL.of(this.sysGet(SR.CNTV_CTL_EL0));
    this.fireAt = Infinity;
    if (!this.ctx.vtimerMasked && (ctl & 1) === 1 && (ctl & 2) === 0) {
      const now = this.cntvct();
      const cval = this.sysGet(SR.CNTV_CVAL_EL0) & M64;
      const wait = cval > now ? cval - now : 0n;
      if (wait < 1n << 52n) this.fireAt = this.n + Number(wait);
    }
    return undefined;
  }

  spReg(): number {
    return (this.cpu.cpsr & 1n) === 1n ? SR.SP_EL1 : SR.SP_EL0;
  }
  /** Xn where 31 is XZR. */
  xr(n: number): bigint {
    return n === 31 ? 0n : (this.cpu.x[n] ?? 0n);
  }
  /** Xn where 31 is SP. */
  xsp(n: number): bigint {
    return n === 31 ? this.sysGet(this.spReg()) : (this.cpu.x[n] ?? 0n);
  }
  setX(n: number, v: bigint): void {
    if (n !== 31) this.cpu.x[n] = v & M64;
  }
  setXsp(n: number, v: bigint): void {
    if (n === 31) this.sys.set(this.spReg(), v & M64);
    else this.cpu.x[n] = v & M64;
  }
  nzcv(): bigint {
    return (this.cpu.cpsr >> 28n) & 0xfn;
  }
  setNzcv(f: bigint): void {
    this.cpu.cpsr = (this.cpu.cpsr & ~(0xfn << 28n)) | (f << 28n);
  }
  condHolds(cond: number): boolean {
    const f = this.nzcv();
    const N = (f >> 3n) & 1n,
      Z = (f >> 2n) & 1n,
      C = (f >> 1n) & 1n,
      V = f & 1n;
    let r: boolean;
    switch (cond >> 1) {
      case 0:
        r = Z === 1n;
        break;
      case 1:
        r = C === 1n;
        break;
      case 2:
        r = N === 1n;
        break;
      case 3:
        r = V === 1n;
        break;
      case 4:
        r = C === 1n && Z === 0n;
        break;
      case 5:
        r = N === V;
        break;
      case 6:
        r = N === V && Z === 0n;
        break;
      default:
        r = true;
    }
    return (cond & 1) === 1 && cond !== 0xf ? !r : r;
  }

  exception(ec: number, iss: number, va = 0n, pa = 0n): Arm64Stop {
    return {
      kind: 'exception',
      // IL = 1: every A64 instruction is 32 bits (hvf-facts.md §2.8).
      syndrome: SYNDROME.of(((ec << 26) | (1 << 25) | iss) >>> 0),
      virtual_address: va,
      physical_address: pa,
    };
  }
  faultStatus(f: MemFault): number {
    return f.mapped ? FSC.PERMISSION_L3 : FSC.TRANSLATION_L3;
  }

  /** A stage-2 data abort. `isv` fields only when the instruction is a single-register access without writeback. */
  dataAbort(
    f: MemFault,
    write: boolean,
    isv?: { size: number; sse: boolean; rt: number; sf: boolean; ar: boolean },
  ): Arm64Stop {
    let iss = (write ? 1 << 6 : 0) | this.faultStatus(f);
    if (isv) {
      iss |=
        (1 << 24) |
        (Math.log2(isv.size) << 22) |
        ((isv.sse ? 1 : 0) << 21) |
        (isv.rt << 16) |
        ((isv.sf ? 1 : 0) << 15) |
        ((isv.ar ? 1 : 0) << 14);
    }
    // MMU off: the faulting VA is the IPA.
    return this.exception(ESR_EC.DABT_LOWER, iss, f.gpa, f.gpa);
  }

  le(b: Uint8Array): bigint {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
  toBytes(v: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return out;
  }
  checkAligned(addr: bigint, align: number): void {
    // SCTLR_EL1.M = 0: data accesses are Device-nGnRnE, so an unaligned one is an alignment fault
    // taken by the guest at EL1, which the model does not run.
    if (addr % BigInt(align) !== 0n)
      throw new Unsupported(
        `unaligned ${align}-byte access at 0x${addr.toString(16)}: an alignment fault at EL1 (MMU off), not modelled`,
      );
  }

  /** Single-register load/store. Returns a stop, or undefined when done. */
  loadStore(o: {
    addr: bigint;
    size: number;
    load: boolean;
    rt: number;
    /** Sign-extend to: 'w', 'x', or none. */
    signed?: 'w' | 'x';
    ar?: boolean;
    writeback?: { rn: number; value: bigint };
    sfStore?: boolean;
  }): Arm64Stop | undefined {
    this.checkAligned(o.addr, o.size);
    const isv = o.writeback
      ? undefined
      : {
          size: o.size,
          sse: o.signed !== undefined,
          rt: o.rt,
          sf: o.load ? o.size === 8 || o.signed === 'x' : o.size === 8,
          ar: o.ar ?? false,
        };
    if (o.load) {
      const r = this.ctx.mem.read(o.addr, o.size, 'read');
      if (isFault(r)) return this.dataAbort(r, false, isv);
      let v = this.le(r);
      if (o.signed === 'x') v = sext(v, o.size * 8);
      else if (o.signed === 'w') v = sext(v, o.size * 8) & M32;
      if (o.writeback) this.setXsp(o.writeback.rn, o.writeback.value);
      this.setX(o.rt, v);
    } else {
      const f = this.ctx.mem.write(o.addr, this.toBytes(this.xr(o.rt), o.size));
      if (f) return this.dataAbort(f, true, isv);
      if (o.writeback) this.setXsp(o.writeback.rn, o.writeback.value);
    }
    return undefined;
  }

  /** MRS/MSR. Returns a stop (trap), or undefined when done. */
  sysRegAccess(
    read: boolean,
    op0: number,
    op1: number,
    crn: number,
    crm: number,
    op2: number,
    rt: number,
  ): Arm64Stop | undefined {
    const enc = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
    if (
      isPmuRegister(op0, op1, crn, crm) ||
      (isTrappableDebugRegister(op0, op1, crn, crm, op2) && this.ctx.trapDebugRegAccesses)
    ) {
      return this.exception(
        ESR_EC.SYSREG,
        (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) | (read ? 1 : 0),
      );
    }
    switch (enc) {
      case SR.CNTVCT_EL0:
        if (!read) throw new Unsupported('MSR CNTVCT_EL0 is UNDEFINED');
        this.setX(rt, this.cntvct());
        return undefined;
      case SR.CNTV_CTL_EL0:
        if (read) this.setX(rt, (this.sysGet(enc) & 3n) | (this.vtimerAssertedIgnoringMask() ? 4n : 0n));
        else this.sys.set(enc, this.xr(rt) & 3n);
        return undefined;
      case SR.CNTV_TVAL_EL0:
        if (read) this.setX(rt, (this.sysGet(SR.CNTV_CVAL_EL0) - this.cntvct()) & M32);
        else this.sys.set(SR.CNTV_CVAL_EL0, (this.cntvct() + sext(this.xr(rt) & M32, 32)) & M64);
        return undefined;
      case SR.NZCV:
        if (read) this.setX(rt, this.cpu.cpsr & (0xfn << 28n));
        else this.setNzcv((this.xr(rt) >> 28n) & 0xfn);
        return undefined;
      case SR.DAIF:
        if (read) this.setX(rt, this.cpu.cpsr & 0x3c0n);
        else this.cpu.cpsr = (this.cpu.cpsr & ~0x3c0n) | (this.xr(rt) & 0x3c0n);
        return undefined;
      case SR.CURRENT_EL:
        if (!read) throw new Unsupported('MSR CurrentEL is UNDEFINED');
        this.setX(rt, this.cpu.cpsr & 0xcn);
        return undefined;
      case SR.SPSEL:
        if (read) this.setX(rt, this.cpu.cpsr & 1n);
        else this.cpu.cpsr = (this.cpu.cpsr & ~1n) | (this.xr(rt) & 1n);
        return undefined;
      case SR.SP_EL1:
        throw new Unsupported('SP_EL1 is not accessible at EL1 (UNDEFINED)');
      case SR.SP_EL0:
        if ((this.cpu.cpsr & 1n) === 0n) throw new Unsupported('MRS/MSR SP_EL0 with SPSel = 0 is UNDEFINED');
        break;
    }
    if (!HELD_SYS_REGS.has(enc)) {
      throw new Unsupported(
        `${read ? 'MRS' : 'MSR'} of system register op0=${op0} op1=${op1} CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
      );
    }
    if (read) this.setX(rt, this.sysGet(enc));
    else {
      if (READ_ONLY_SYS_REGS.has(enc)) throw new Unsupported('MSR to a read-only ID register is UNDEFINED');
      this.sys.set(enc, this.xr(rt));
    }
    return undefined;
  }
  // ISTATUS reports the timer condition whatever IMASK and the framework's vtimer mask say.
  vtimerAssertedIgnoringMask(): boolean {
    return (
      (this.sysGet(SR.CNTV_CTL_EL0) & 1n) === 1n && this.cntvct() >= (this.sysGet(SR.CNTV_CVAL_EL0) & M64)
    );
  }

  /** The shifted Rm operand of a data-processing (shifted register) instruction. */
  shiftedRegister(insn: number, width: number): bigint {
    const v = this.xr(fld(insn, 20, 16)) & ones(width);
    const imm6 = fld(insn, 15, 10);
    const a = BigInt(imm6);
    switch (fld(insn, 23, 22)) {
      case 0:
        return (v << a) & ones(width);
      case 1:
        return v >> a;
      case 2:
        return BigInt.asUintN(width, BigInt.asIntN(width, v) >> a);
      default:
        return ror(v, imm6, width);
    }
  }

  /** Executes one instruction: a stop, or undefined once the guest retired it (PC updated). */
  step(insn: number, pc: bigint): Arm64Stop | undefined {
    const next = pc + 4n;
    const rd = insn & 0x1f;
    const rn = fld(insn, 9, 5);
    const rm = fld(insn, 20, 16);
    const sf = fld(insn, 31, 31) === 1;
    const width = sf ? 64 : 32;
    const wmask = sf ? M64 : M32;

    // ---- Data processing (immediate): op0 = 100x
    if (fld(insn, 28, 26) === 0b100) {
      switch (fld(insn, 25, 23)) {
        case 0b000:
        case 0b001: {
          // ADR / ADRP
          const imm = sext(BigInt((fld(insn, 23, 5) << 2) | fld(insn, 30, 29)), 21);
          this.setX(rd, fld(insn, 31, 31) ? (pc & ~0xfffn) + (imm << 12n) : pc + imm);
          break;
        }
        case 0b010: {
          // ADD/SUB (immediate)
          const op = fld(insn, 30, 30),
            s = fld(insn, 29, 29);
          const imm = BigInt(fld(insn, 21, 10)) << (fld(insn, 22, 22) ? 12n : 0n);
          const x = this.xsp(rn) & wmask;
          const r = op ? addWithCarry(x, ~imm & wmask, 1n, width) : addWithCarry(x, imm, 0n, width);
          if (s) {
            this.setNzcv(r.nzcv);
            this.setX(rd, r.result);
          } else this.setXsp(rd, r.result);
          break;
        }
        case 0b100: {
          // Logical (immediate)
          const n = fld(insn, 22, 22);
          if (!sf && n) throw new Unsupported('logical immediate with N = 1 in 32-bit form is unallocated');
          const imm = decodeBitMasks(n, fld(insn, 15, 10), fld(insn, 21, 16), width);
          if (imm === undefined) throw new Unsupported('reserved logical immediate');
          const x = this.xr(rn) & wmask;
          const opc = fld(insn, 30, 29);
          const result = opc === 0 || opc === 3 ? x & imm : opc === 1 ? x | imm : x ^ imm;
          if (opc === 3) {
            this.setNzcv((((result >> BigInt(width - 1)) & 1n) << 3n) | (result === 0n ? 4n : 0n));
            this.setX(rd, result);
          } else this.setXsp(rd, result);
          break;
        }
        case 0b101: {
          // Move wide (immediate)
          const opc = fld(insn, 30, 29),
            hw = fld(insn, 22, 21);
          if (opc === 1 || (!sf && hw > 1)) throw new Unsupported('unallocated move-wide encoding');
          const shift = BigInt(16 * hw);
          const imm = BigInt(fld(insn, 20, 5)) << shift;
          let v: bigint;
          if (opc === 0) v = ~imm & wmask;
          else if (opc === 2) v = imm;
          else v = ((this.xr(rd) & ~(0xffffn << shift)) | imm) & wmask;
          this.setX(rd, v);
          break;
        }
        default:
          throw new Unsupported('bitfield/extract instructions are outside the model');
      }
      this.cpu.pc = next;
      return undefined;
    }

    // ---- Branches, exception generating, system: op0 = 101x
    if (fld(insn, 28, 26) === 0b101) {
      if (fld(insn, 30, 26) === 0b00101) {
        // B / BL
        if (fld(insn, 31, 31)) this.setX(30, next);
        this.cpu.pc = rel(pc, fld(insn, 25, 0), 26);
        return undefined;
      }
      if (fld(insn, 30, 25) === 0b011010) {
        // CBZ / CBNZ
        const zero = (this.xr(rd) & wmask) === 0n;
        const taken = fld(insn, 24, 24) ? !zero : zero;
        this.cpu.pc = taken ? rel(pc, fld(insn, 23, 5), 19) : next;
        return undefined;
      }
      if (fld(insn, 30, 25) === 0b011011) {
        // TBZ / TBNZ
        const b = (fld(insn, 31, 31) << 5) | fld(insn, 23, 19);
        const set = ((this.xr(rd) >> BigInt(b)) & 1n) === 1n;
        const taken = fld(insn, 24, 24) ? set : !set;
        this.cpu.pc = taken ? rel(pc, fld(insn, 18, 5), 14) : next;
        return undefined;
      }
      if (fld(insn, 31, 24) === 0b01010100 && fld(insn, 4, 4) === 0) {
        // B.cond
        this.cpu.pc = this.condHolds(fld(insn, 3, 0)) ? rel(pc, fld(insn, 23, 5), 19) : next;
        return undefined;
      }
      if (fld(insn, 31, 25) === 0b1101011) {
        // Unconditional branch (register)
        if (fld(insn, 20, 16) !== 0x1f || fld(insn, 15, 10) !== 0 || fld(insn, 4, 0) !== 0)
          throw new Unsupported('pointer-authenticated or unallocated branch-register form');
        const opc = fld(insn, 24, 21);
        if (opc > 2) throw new Unsupported('ERET/DRPS are outside the model');
        const target = this.xr(rn);
        if (opc === 1) this.setX(30, next);
        this.cpu.pc = target;
        return undefined;
      }
      if (fld(insn, 31, 24) === 0b11010100) {
        // Exception generation
        const opc = fld(insn, 23, 21),
          ll = fld(insn, 1, 0),
          imm16 = fld(insn, 20, 5);
        if (fld(insn, 4, 2) !== 0) throw new Unsupported('unallocated exception-generating encoding');
        if (opc === 0 && ll === 2) {
          // HVC: exception-generating, the preferred return address is the next instruction.
          this.cpu.pc = next;
          this.retired = true;
          return this.exception(ESR_EC.HVC64, imm16);
        }
        if (opc === 1 && ll === 0) {
          if (!this.ctx.trapDebugExceptions)
            throw new Unsupported(
              'BRK without trap-debug-exceptions is taken by the guest at EL1 (VBAR_EL1), not modelled',
            );
          return this.exception(ESR_EC.BRK64, imm16);
        }
        throw new Unsupported(
          opc === 0 && ll === 1
            ? 'SVC is taken by the guest at EL1, not modelled'
            : opc === 0 && ll === 3
              ? 'SMC trapping by HVF is unverified (hvf-facts.md §2.8)'
              : 'HLT/DCPS are outside the model',
        );
      }
      if (fld(insn, 31, 22) === 0b1101010100) {
        // System
        const l = fld(insn, 21, 21),
          op0 = fld(insn, 20, 19),
          op1 = fld(insn, 18, 16),
          crn = fld(insn, 15, 12),
          crm = fld(insn, 11, 8),
          op2 = fld(insn, 7, 5);
        if (op0 === 0 && l === 0) {
          if (crn === 2 && op1 === 3 && rd === 31) {
            const hint = (crm << 3) | op2;
            if (hint === 3) {
              // WFI: HVF traps it without a GIC (hvf-facts.md §5.9 [T]); CV = 1, COND = 0b1110 for AArch64.
              return this.exception(ESR_EC.WFX, (1 << 24) | (0xe << 20) | 0);
            }
            if (hint === 2) throw new Unsupported('WFE: whether HVF traps it is not in the facts');
            this.cpu.pc = next; // NOP, YIELD, SEV, SEVL, and other hints execute as NOP
            return undefined;
          }
          if (crn === 3 && op1 === 3 && rd === 31 && op2 >= 2) {
            this.cpu.pc = next; // CLREX, DSB, DMB, ISB: no effect on a single in-order vCPU
            return undefined;
          }
          if (crn === 4 && op1 === 3 && rd === 31 && (op2 === 6 || op2 === 7)) {
            // MSR DAIFSet / DAIFClr, #imm4
            const m = BigInt(crm) << 6n;
            this.cpu.cpsr = op2 === 6 ? this.cpu.cpsr | m : this.cpu.cpsr & ~m;
            this.cpu.pc = next;
            return undefined;
          }
          throw new Unsupported('PSTATE/hint encoding outside the model');
        }
        if (op0 >= 2) {
          const stop = this.sysRegAccess(l === 1, op0, op1, crn, crm, op2, rd);
          if (stop) return stop;
          if (l === 0) this.recheck = true; // an MSR may change the timer, SCTLR_EL1 or SPSel
          this.cpu.pc = next;
          return undefined;
        }
        throw new Unsupported('SYS instructions (cache maintenance, TLBI, AT) are outside the model');
      }
      throw new Unsupported('unallocated branch/system encoding');
    }

    // ---- Loads and stores: op0 = x1x0
    if ((fld(insn, 28, 25) & 0b0101) === 0b0100) {
      if (fld(insn, 26, 26)) throw new Unsupported('SIMD/FP loads and stores are outside the model');
      const size = fld(insn, 31, 30);
      const bytes = 1 << size;
      if (fld(insn, 29, 24) === 0b001000) {
        // Load/store exclusive and ordered: only LDAR/STLR (o2 = 1, o1 = 0, o0 = 1, Rs = Rt2 = 31).
        const o2 = fld(insn, 23, 23),
          load = fld(insn, 22, 22) === 1,
          o1 = fld(insn, 21, 21),
          o0 = fld(insn, 15, 15);
        if (o2 !== 1 || o1 !== 0 || o0 !== 1 || fld(insn, 20, 16) !== 31 || fld(insn, 14, 10) !== 31)
          throw new Unsupported('exclusive/LORegion accesses are outside the model');
        const stop = this.loadStore({ addr: this.xsp(rn), size: bytes, load, rt: rd, ar: true });
        if (stop) return stop;
        this.cpu.pc = next;
        return undefined;
      }
      if (fld(insn, 29, 27) === 0b011 && fld(insn, 24, 24) === 0) {
        // Load register (literal)
        const opc = size;
        if (opc === 3) {
          this.cpu.pc = next; // PRFM (literal): a hint
          return undefined;
        }
        const addr = rel(pc, fld(insn, 23, 5), 19);
        const stop = this.loadStore({
          addr,
          size: opc === 1 ? 8 : 4,
          load: true,
          rt: rd,
          ...(opc === 2 ? { signed: 'x' as const } : {}),
        });
        if (stop) return stop;
        this.cpu.pc = next;
        return undefined;
      }
      if (fld(insn, 29, 27) === 0b101) {
        // Load/store pair: never a valid instruction syndrome (ISV = 0, hvf-facts.md §2.8).
        const opc = size,
          load = fld(insn, 22, 22) === 1,
          mode = fld(insn, 24, 23);
        if (opc === 3 || (opc === 1 && !load)) throw new Unsupported('unallocated load/store pair');
        const esize = opc === 2 ? 8 : 4;
        const signed = opc === 1;
        const rt2 = fld(insn, 14, 10);
        const offset = sext(BigInt(fld(insn, 21, 15)), 7) * BigInt(esize);
        const baseAddr = this.xsp(rn);
        const addr = (mode === 1 ? baseAddr : baseAddr + offset) & M64;
        this.checkAligned(addr, esize);
        const wb = mode === 1 || mode === 3 ? (baseAddr + offset) & M64 : undefined;
        if (load) {
          const r = this.ctx.mem.read(addr, esize * 2, 'read');
          if (isFault(r)) return this.dataAbort(r, false);
          let a = this.le(r.subarray(0, esize)),
            b = this.le(r.subarray(esize));
          if (signed) {
            a = sext(a, 32);
            b = sext(b, 32);
          }
          if (wb !== undefined) this.setXsp(rn, wb);
          this.setX(rd, a);
          this.setX(rt2, b);
        } else {
          const buf = new Uint8Array(esize * 2);
          buf.set(this.toBytes(this.xr(rd), esize), 0);
          buf.set(this.toBytes(this.xr(rt2), esize), esize);
          const f = this.ctx.mem.write(addr, buf);
          if (f) return this.dataAbort(f, true);
          if (wb !== undefined) this.setXsp(rn, wb);
        }
        this.cpu.pc = next;
        return undefined;
      }
      if (fld(insn, 29, 27) === 0b111) {
        const opc = fld(insn, 23, 22);
        // opc: 00 store, 01 zero-extending load, 10 sign-extend to X (size 3: PRFM), 11 sign-extend to W.
        const load = opc !== 0;
        let signed: 'w' | 'x' | undefined;
        if (opc === 2) {
          if (size === 3) {
            this.cpu.pc = next; // PRFM: a hint
            return undefined;
          }
          signed = 'x';
        } else if (opc === 3) {
          if (size >= 2) throw new Unsupported('unallocated load/store register encoding');
          signed = 'w';
        }
        let addr: bigint;
        let writeback: { rn: number; value: bigint } | undefined;
        if (fld(insn, 24, 24) === 1) {
          addr = (this.xsp(rn) + (BigInt(fld(insn, 21, 10)) << BigInt(size))) & M64; // unsigned offset
        } else if (fld(insn, 21, 21) === 1) {
          if (fld(insn, 11, 10) !== 2)
            throw new Unsupported('atomic memory operations are outside the model');
          const option = fld(insn, 15, 13);
          if ((option & 2) === 0) throw new Unsupported('unallocated register-offset extend');
          let off = this.xr(rm);
          if (option === 2) off &= M32;
          else if (option === 6) off = sext(off & M32, 32);
          off = (off << (fld(insn, 12, 12) ? BigInt(size) : 0n)) & M64;
          addr = (this.xsp(rn) + off) & M64;
        } else {
          const imm9 = sext(BigInt(fld(insn, 20, 12)), 9);
          const kind = fld(insn, 11, 10);
          if (kind === 2) throw new Unsupported('unprivileged LDTR/STTR are outside the model');
          const base = this.xsp(rn);
          addr = kind === 1 ? base : (base + imm9) & M64; // post-index uses the old base
          if (kind === 1 || kind === 3) writeback = { rn, value: (base + imm9) & M64 };
        }
        const stop = this.loadStore({
          addr,
          size: bytes,
          load,
          rt: rd,
          ...(signed ? { signed } : {}),
          ...(writeback ? { writeback } : {}),
        });
        if (stop) return stop;
        this.cpu.pc = next;
        return undefined;
      }
      throw new Unsupported('load/store encoding outside the model');
    }

    // ---- Data processing (register): op0 = x101
    if (fld(insn, 27, 25) === 0b101) {
      const shiftType = fld(insn, 23, 22),
        imm6 = fld(insn, 15, 10);
      if (!sf && imm6 >= 32) throw new Unsupported('shift amount >= 32 in 32-bit form is unallocated');
      if (fld(insn, 28, 24) === 0b01010) {
        // Logical (shifted register)
        let op2 = this.shiftedRegister(insn, width);
        if (fld(insn, 21, 21)) op2 = ~op2 & wmask;
        const x = this.xr(rn) & wmask;
        const opc = fld(insn, 30, 29);
        const result = opc === 0 || opc === 3 ? x & op2 : opc === 1 ? x | op2 : x ^ op2;
        if (opc === 3) this.setNzcv((((result >> BigInt(width - 1)) & 1n) << 3n) | (result === 0n ? 4n : 0n));
        this.setX(rd, result);
        this.cpu.pc = next;
        return undefined;
      }
      if (fld(insn, 28, 24) === 0b01011 && fld(insn, 21, 21) === 0) {
        // Add/subtract (shifted register)
        if (shiftType === 3) throw new Unsupported('ROR shift is unallocated for add/sub');
        const op2 = this.shiftedRegister(insn, width);
        const x = this.xr(rn) & wmask;
        const r = fld(insn, 30, 30)
          ? addWithCarry(x, ~op2 & wmask, 1n, width)
          : addWithCarry(x, op2, 0n, width);
        if (fld(insn, 29, 29)) this.setNzcv(r.nzcv);
        this.setX(rd, r.result);
        this.cpu.pc = next;
        return undefined;
      }
      if (fld(insn, 28, 21) === 0b11010100 && fld(insn, 29, 29) === 0 && fld(insn, 11, 11) === 0) {
        // Conditional select: CSEL / CSINC / CSINV / CSNEG
        const op = fld(insn, 30, 30),
          o2 = fld(insn, 10, 10);
        let v: bigint;
        if (this.condHolds(fld(insn, 15, 12))) v = this.xr(rn) & wmask;
        else {
          v = this.xr(rm) & wmask;
          if (op === 0 && o2 === 1) v = (v + 1n) & wmask;
          else if (op === 1 && o2 === 0) v = ~v & wmask;
          else if (op === 1 && o2 === 1) v = -v & wmask;
        }
        this.setX(rd, v);
        this.cpu.pc = next;
        return undefined;
      }
      throw new Unsupported('data-processing (register) encoding outside the model');
    }

    throw new Unsupported('SIMD/FP or unallocated encoding');
  }

  run(budget: number): Arm64Stop {
    const stop = this.loop(budget);
    this.ctx.clock.count = this.count();
    return stop;
  }

  loop(budget: number): Arm64Stop {
    for (let i = 0; i < budget; i++) {
      if (this.recheck) {
        const bad = this.refresh();
        if (bad) return bad;
      }
      if (this.n >= this.fireAt) return { kind: 'vtimer' };
      const pc = this.cpu.pc;
      if ((pc & 3n) !== 0n) {
        return {
          kind: 'unsupported',
          bytes: new Uint8Array(0),
          reason: `PC 0x${pc.toString(16)} is not 4-byte aligned: a PC alignment fault at EL1, not modelled`,
        };
      }
      const fault = readInto(this.ctx.mem, pc, 4, 'fetch', FETCHED, 0);
      if (fault !== undefined) {
        // Stage-2 fault on the fetch: instruction abort from a lower EL, PC (and FAR) at the target.
        return this.exception(ESR_EC.IABT_LOWER, this.faultStatus(fault), fault.gpa, fault.gpa);
      }
      const insn = (FETCHED[0]! | (FETCHED[1]! << 8) | (FETCHED[2]! << 16) | (FETCHED[3]! << 24)) >>> 0;
      this.retired = false;
      let stop: Arm64Stop | undefined;
      try {
        stop = this.step(insn, pc);
      } catch (e) {
        if (e instanceof Unsupported) {
          this.cpu.pc = pc;
          return { kind: 'unsupported', bytes: FETCHED.slice(), reason: e.reason };
        }
        throw e;
      }
      if (stop === undefined || this.retired) this.n++;
      if (stop) return stop;
    }
    return { kind: 'budget' };
  }
}

/** Executes guest code; see the module notes. */
export const arm64Engine: Arm64Engine = (ctx: Arm64RunContext, budget: number): Arm64Stop =>
  new Interp(ctx).run(budget);
