/**
 * The register file of an arm64 vCPU, and the fresh state of one.
 *
 * Storage is built for the interpreter: the 64-bit registers it touches on every instruction (X0–X30,
 * the stack pointers, PC, PSTATE) live as 32-bit halves in typed arrays and numbers, because BigInt
 * arithmetic per instruction was most of the cost of running guest code. The `hv_*` layer converts
 * one register at a time with {@link Arm64Cpu.getX} and friends. Every other system register is a
 * bigint in {@link Arm64Cpu.sys}, by `hv_sys_reg_t` encoding.
 *
 * Fresh state. Apple documents none. What is observed: CPSR 0 (EL0t, DAIF clear) and SCTLR_EL1 0
 * (hvf-facts.md §2.6, §5.7 [T/R]); a fresh vCPU runs from there (a binding crate's tests run guests
 * without setting CPSR, §2.6 [T]). The model keeps every register 0 except the identification
 * registers, which describe the model's pretend host:
 *  - MIDR_EL1 0x410fd0f0: implementer Arm (0x41), architecture 0xf, a part number of no real core;
 *  - MPIDR_EL1 0x80000000 | vcpu id: RES1 bit 31, Aff0 = the vCPU id (VMMs overwrite it, §5.8 [T/H]);
 *  - ID_AA64PFR0_EL1 0x11: EL0 and EL1 AArch64 only, no EL2/EL3, FP and AdvSIMD implemented (fields 0);
 *  - ID_AA64DFR0_EL1 0x101006: Armv8 debug, 2 breakpoints and 2 watchpoints (the DBGB/W*0..1 registers
 *    of the HV_SYS_REG table), no PMU (PMUVer 0: the PMU registers trap to the VMM, §2.3 [H]);
 *  - ID_AA64MMFR0_EL1 0x00100002: PARange 40 bits, 8-bit ASIDs, the 4 KiB, 16 KiB and 64 KiB stage-1
 *    granules (Apple cores have no 64 KiB granule; the model does, so that guests may use all three);
 *  - the other ID registers 0 (no optional features: no PAN, no hardware access-flag update, no LSE2,
 *    no pointer authentication).
 * @module
 */
import { HV_SYS_REG as S } from '@hvspec/spec';

/**
 * Slots of {@link Arm64Cpu.r}: slot `s` is the pair `r[2s]` (bits 31:0) and `r[2s + 1]` (bits 63:32).
 * X0–X30 are slots 0–30. Slot 31 is the stack pointer PSTATE selects, valid only inside a run (the
 * interpreter loads it from SP_EL0/SP_EL1 and stores it back). Slot 32 reads as zero (XZR) and slot 33
 * takes writes to XZR.
 */
export const SLOT = { SP: 31, ZR: 32, SINK: 33, SP_EL0: 34, SP_EL1: 35 } as const;
const SLOTS = 36;

/** arm64 architectural state of one vCPU. */
export class Arm64Cpu {
  /** 64-bit registers as 32-bit halves; see {@link SLOT}. */
  readonly r = new Uint32Array(SLOTS * 2);
  pcLo = 0;
  pcHi = 0;
  /** CPSR as written through HV_REG_CPSR (PSTATE in SPSR layout): bits 31:0 and 63:32. */
  cpsrLo = 0;
  cpsrHi = 0;
  fpcr = 0n;
  fpsr = 0n;
  /** Q0..Q31 as 128-bit values. */
  readonly q: bigint[] = Array.from({ length: 32 }, () => 0n);
  /**
   * System registers by `hv_sys_reg_t` encoding, except SP_EL0/SP_EL1 (slots). Written from outside
   * the interpreter only through {@link setSys}, which counts the writes: the interpreter keeps number
   * copies of the registers it reads on every instruction and re-reads them when the count moved.
   */
  readonly sys = new Map<number, bigint>();
  sysWrites = 0;
  /** The WFE event register (Arm ARM "The Event Register"). */
  event = false;

  /** Xn (n 0..30) or a slot, as a bigint. */
  getX(n: number): bigint {
    return toBig(this.r[2 * n]!, this.r[2 * n + 1]!);
  }
  /** Sets Xn (n 0..30) or a slot to `v`, taken modulo 2^64. */
  setX(n: number, v: bigint): void {
    this.r[2 * n] = Number(v & 0xffff_ffffn);
    this.r[2 * n + 1] = Number((v >> 32n) & 0xffff_ffffn);
  }
  get pc(): bigint {
    return toBig(this.pcLo, this.pcHi);
  }
  set pc(v: bigint) {
    this.pcLo = Number(v & 0xffff_ffffn);
    this.pcHi = Number((v >> 32n) & 0xffff_ffffn);
  }
  get cpsr(): bigint {
    return toBig(this.cpsrLo, this.cpsrHi);
  }
  set cpsr(v: bigint) {
    this.cpsrLo = Number(v & 0xffff_ffffn);
    this.cpsrHi = Number((v >> 32n) & 0xffff_ffffn);
  }
  /** A system register by `hv_sys_reg_t` encoding (0 when never written). */
  getSys(reg: number): bigint {
    if (reg === S.HV_SYS_REG_SP_EL0) return this.getX(SLOT.SP_EL0);
    if (reg === S.HV_SYS_REG_SP_EL1) return this.getX(SLOT.SP_EL1);
    return this.sys.get(reg) ?? 0n;
  }
  /**
   * Sets a system register by `hv_sys_reg_t` encoding (SP_EL0/SP_EL1 go to their slots). The only way
   * to write {@link sys} from outside the interpreter: it bumps the count the interpreter's copies watch.
   */
  setSys(reg: number, v: bigint): void {
    if (reg === S.HV_SYS_REG_SP_EL0) this.setX(SLOT.SP_EL0, v);
    else if (reg === S.HV_SYS_REG_SP_EL1) this.setX(SLOT.SP_EL1, v);
    else {
      this.sys.set(reg, v);
      this.sysWrites++;
    }
  }
}

/** Memo of the last pair converted: an exit loop reads back the same PC and registers every time. */
let memoLo = 0;
let memoHi = 0;
let memoBig = 0n;
function toBig(lo: number, hi: number): bigint {
  if (lo !== memoLo || hi !== memoHi) {
    memoLo = lo;
    memoHi = hi;
    memoBig = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }
  return memoBig;
}

/** Identification registers of the model's pretend host, besides MPIDR_EL1. */
export const MODEL_ID_REGISTERS: ReadonlyMap<number, bigint> = new Map([
  [S.HV_SYS_REG_MIDR_EL1, 0x410f_d0f0n],
  [S.HV_SYS_REG_ID_AA64PFR0_EL1, 0x11n],
  [S.HV_SYS_REG_ID_AA64DFR0_EL1, 0x10_1006n],
  [S.HV_SYS_REG_ID_AA64MMFR0_EL1, 0x0010_0002n],
]);

/** A fresh vCPU's registers. */
export function initialArm64Cpu(vcpuId: number): Arm64Cpu {
  const cpu = new Arm64Cpu();
  for (const reg of Object.values(S))
    if (reg !== S.HV_SYS_REG_SP_EL0 && reg !== S.HV_SYS_REG_SP_EL1) cpu.sys.set(reg, 0n);
  for (const [reg, value] of MODEL_ID_REGISTERS) cpu.sys.set(reg, value);
  cpu.sys.set(S.HV_SYS_REG_MPIDR_EL1, 0x8000_0000n | BigInt(vcpuId & 0xff));
  return cpu;
}
