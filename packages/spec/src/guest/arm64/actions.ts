/**
 * The arm64 guest-action language: what a generated guest program does, one action at a time.
 *
 * A program runs at EL1h, EL1t or EL0 (the scenario says which; `eret` actions move it), with the
 * stage-1 MMU off (VA = IPA, data accesses Device-nGnRnE) or on with page tables the VMM writes from
 * an {@link Arm64MmuConfig} (mmu.ts). Every action is assembled (assemble.ts) into real A64 machine
 * code; the spec predicts the exits it produces and the exceptions the guest takes itself (predict.ts).
 *
 * The guest's exception vectors (VBAR_EL1) are part of every program: each vector reports the
 * exception to the VMM with `hvc #(ARM64_REPORT_IMM | slot)` and then returns with `eret`. The VMM
 * checks ESR_EL1, ELR_EL1, SPSR_EL1 and FAR_EL1 at that exit and, for a synchronous exception, sets
 * ELR_EL1 to the end of the action that raised it, so the program goes on with the next action.
 * @module
 */

/** A general-purpose register number. 31 means XZR/WZR as a transfer register (never SP here). */
export type Arm64RegNum = number;

/** Access sizes in bytes. */
export type Arm64AccessSize = 1 | 2 | 4 | 8;

/**
 * Load `size` bytes from virtual address `ipa` into `rt` through base register `base` (which the action
 * first sets to `ipa - offset` with MOVZ/MOVK). With the MMU off the address is the IPA; with it on, the
 * VA the tables translate (the field keeps its name: it is the address the guest uses).
 * - `signed`: `'w'` = LDRSB/LDRSH to a W register, `'x'` = LDRSB/LDRSH/LDRSW to an X register;
 *   absent = zero-extending LDRB/LDRH/LDR W (size < 8) or LDR X (size 8).
 * - `acquire`: LDARB/LDARH/LDAR (AR = 1 in the syndrome; needs alignment); no offset, not signed.
 * - `offset`: the unsigned, size-scaled immediate of the LDR (a multiple of `size`, < 4096 × size);
 *   with an unaligned address the unscaled LDUR form is used instead (offset 0).
 * - `rt` = 31 loads into XZR/WZR: the value is discarded.
 */
export interface LdrAction {
  readonly op: 'ldr';
  readonly size: Arm64AccessSize;
  readonly ipa: bigint;
  readonly base: Arm64RegNum;
  readonly rt: Arm64RegNum;
  readonly signed?: 'w' | 'x';
  readonly acquire?: boolean;
  readonly offset?: number;
}

/**
 * Store the low `size` bytes of `rt` at `ipa` (STRB/STRH/STR W/STR X, STUR* when unaligned, or
 * STLRB/STLRH/STLR with `acquire`). When `value` is given (and `rt` is not 31) the action first puts it
 * in `rt`. `rt` = 31 stores zero (WZR/XZR).
 */
export interface StrAction {
  readonly op: 'str';
  readonly size: Arm64AccessSize;
  readonly ipa: bigint;
  readonly base: Arm64RegNum;
  readonly rt: Arm64RegNum;
  readonly value?: bigint;
  readonly acquire?: boolean;
  readonly offset?: number;
}

/** `hvc #imm` (0..0xfdff; 0xfe00–0xfe0f report exceptions, 0xffff is the end marker). UNDEFINED at EL0. */
export interface HvcAction {
  readonly op: 'hvc';
  readonly imm: number;
}

/** `wfi`: HVF traps it to the VMM without a GIC (hvf-facts.md §5.9 [T]); at EL0 SCTLR_EL1.nTWI = 0 traps it to EL1. */
export interface WfiAction {
  readonly op: 'wfi';
}

/**
 * `sevl; wfe; wfe`: SEVL sets the event register, the first WFE consumes it and completes, the second
 * waits, so it traps (to the VMM at EL1, HCR_EL2.TWE; to EL1 at EL0, SCTLR_EL1.nTWE = 0) whatever the
 * event register held before (an exception return, such as the framework's entry into the guest, sets it).
 */
export interface WfeAction {
  readonly op: 'wfe';
}

/** `brk #imm`: exits while hv_vcpu_set_trap_debug_exceptions(true) (hvf-facts.md §2.4 [H]), else taken by the guest. */
export interface BrkAction {
  readonly op: 'brk';
  readonly imm: number;
}

/** `svc #imm`: taken by the guest at EL1 (EC 0x15); the preferred return address is the next instruction. */
export interface SvcAction {
  readonly op: 'svc';
  readonly imm: number;
}

/** `udf #imm`: permanently UNDEFINED (EC 0x00 at EL1). */
export interface UdfAction {
  readonly op: 'udf';
  readonly imm: number;
}

/** `smc #imm`: at EL1 trapped to the VMM (EC 0x17, PC at the smc; HVF's HCR_EL2.TSC is [U]); UNDEFINED at EL0. */
export interface SmcAction {
  readonly op: 'smc';
  readonly imm: number;
}

/** The system registers the `sysreg` action accesses. */
export type Arm64SysregName = keyof typeof ARM64_SYSREGS;

/**
 * An `mrs xRt, <reg>` (`read`) or `msr <reg>, xRt`. What happens depends on the register, the EL and
 * the vCPU's debug trap (see {@link ARM64_SYSREGS}).
 */
export interface SysregAction {
  readonly op: 'sysreg';
  /** Default PMCR_EL0. */
  readonly reg?: Arm64SysregName;
  readonly read: boolean;
  readonly rt: Arm64RegNum;
  /** For a write with `rt` ≠ 31: put this value in `rt` first. */
  readonly value?: bigint;
}

/**
 * `br xReg` to `ipa` (after MOVZ/MOVK of `ipa` into `reg`): an instruction fetch there. The spec
 * predicts targets whose fetch faults (unaligned, a stage-1 fault, unmapped or without EXEC in stage 2)
 * and a branch to the next action; the VMM (or the guest's vector, through ELR_EL1) resumes after the `br`.
 */
export interface BranchAction {
  readonly op: 'branch';
  readonly ipa: bigint;
  readonly reg: Arm64RegNum;
}

/**
 * Programs the EL1 virtual timer to fire `delta` counter ticks from now and waits for it (EL1 only):
 *
 *     mrs x16, CNTVCT_EL0
 *     add x16, x16, #delta
 *     msr CNTV_CVAL_EL0, x16
 *     movz x17, #1                 // ENABLE = 1, IMASK = 0
 *     msr CNTV_CTL_EL0, x17
 *   1: mrs x16, CNTV_CTL_EL0
 *     tbz x16, #2, 1b              // until ISTATUS
 *
 * Reading the counter inside the guest makes the deadline relative, so the program does not depend
 * on the counter's value at entry (mach_absolute_time on hardware). The wait loop ends once ISTATUS
 * is set, which the VMM's answer to VTIMER_ACTIVATED (IMASK = 1, timer still enabled) preserves.
 * Clobbers X16 and X17.
 */
export interface VtimerAction {
  readonly op: 'vtimer';
  /** 0..4095. */
  readonly delta: number;
}

/** Put a 64-bit value in a register with MOVZ + MOVK (rd 0..30). */
export interface MovAction {
  readonly op: 'mov';
  readonly rd: Arm64RegNum;
  readonly value: bigint;
}

/**
 * `msr daifset, #imm` (`set`) or `msr daifclr, #imm`: masks or unmasks D, A, I, F (imm bits 3..0). At EL0
 * it is trapped to EL1 while SCTLR_EL1.UMA = 0. Unmasking with an interrupt line pending takes it at once.
 */
export interface DaifAction {
  readonly op: 'daif';
  readonly set: boolean;
  readonly imm: number;
}

/**
 * An exception return from EL1 to the next action, in a mode of the test's choice (EL1 only):
 *
 *     movz xReg, #spsr             // the target's PSTATE: M and DAIF
 *     msr SPSR_EL1, xReg
 *     adr xReg, 1f
 *     msr ELR_EL1, xReg
 *     eret
 *   1:
 *
 * `illegal` returns to EL2h, which the guest cannot: an illegal exception return (Arm ARM
 * AArch64.ExceptionReturn) keeps the EL, sets PSTATE.IL, and the next instruction raises an Illegal
 * Execution state exception (EC 0x0E) at EL1.
 */
export interface EretAction {
  readonly op: 'eret';
  readonly to: 'el0' | 'el1t' | 'el1h' | 'illegal';
  /** PSTATE.{D,A,I,F} after the return (as imm4, D = bit 3). */
  readonly daif: number;
  readonly reg: Arm64RegNum;
}

/** One guest action. */
export type Arm64Action =
  | LdrAction
  | StrAction
  | HvcAction
  | WfiAction
  | WfeAction
  | BrkAction
  | SvcAction
  | UdfAction
  | SmcAction
  | SysregAction
  | BranchAction
  | VtimerAction
  | MovAction
  | DaifAction
  | EretAction;

/** Where a program starts: the exception level and stack pointer, and how the VMM sets CPSR. */
export type Arm64StartMode = 'el1h' | 'el1t' | 'el0';

/**
 * The end-of-program marker: `hvc #0xffff` at EL1. A distinctive HVC because HVC is the one exit that
 * needs no emulation (PC already points past it) and no other action uses this immediate. At EL0, where
 * HVC is UNDEFINED, the marker is `svc #0xffff`, which the guest's vector reports.
 */
export const ARM64_END_MARKER_IMM = 0xffff;

/** The vectors report exception `slot` (0..15, VBAR_EL1 offset / 0x80) with `hvc #(ARM64_REPORT_IMM | slot)`. */
export const ARM64_REPORT_IMM = 0xfe00;

/** Offset of the vector table (VBAR_EL1) in the code page: programs are shorter than this. */
export const ARM64_VECTOR_OFFSET = 0x800;

/** Scratch registers the vtimer action clobbers. */
export const ARM64_VTIMER_SCRATCH = [16, 17] as const;

/** `hv_sys_reg_t`-style encoding (op0<<14|op1<<11|CRn<<7|CRm<<3|op2) of the registers the language uses. */
export const ARM64_SYSREG_ENC = {
  /** op0 3, op1 3, CRn 9, CRm 12, op2 0. A PMU register: trapped to the VMM with EL2 off (§2.3 [H]). */
  PMCR_EL0: 0xdce0,
  /** op0 3, op1 3, CRn 14, CRm 0, op2 2. Not an hv_sys_reg_t (hvf-facts.md §2.2: absent). */
  CNTVCT_EL0: 0xdf02,
  CNTV_CTL_EL0: 0xdf19,
  CNTV_CVAL_EL0: 0xdf1a,
  SPSR_EL1: 0xc200,
  ELR_EL1: 0xc201,
} as const;

/**
 * What an access to one of these registers does (Arm ARM register descriptions; HVF's traps as
 * QEMU's hvf code handles them, hvf-facts.md §2.3, §2.4):
 * - `group`: the exit kind of a trap to the VMM (`arm64.sysreg` for the PMU, `arm64.sysreg.<group>`);
 *   ICC_SRE_EL1 has its own (`gic.sre`): ICC_SRE_EL2.Enable = 0 traps it, where ICH_HCR_EL2.TALL0,
 *   TALL1 and TC trap the rest of the CPU interface (Arm GICv3 architecture, ICC_SRE_EL2, ICH_HCR_EL2);
 * - `dir`: which of MRS/MSR exist (the other is UNDEFINED);
 * - `el0`: at EL0 the access is UNDEFINED (`undef`) or trapped to EL1 by CNTKCTL_EL1 = 0 (`el1`);
 * - `trap`: `always`, or `debug` when only hv_vcpu_set_trap_debug_reg_accesses(true) traps it.
 */
export const ARM64_SYSREGS = {
  PMCR_EL0: { enc: 0xdce0, group: 'pmu', dir: 'rw', el0: 'none', trap: 'always', evidence: 'header' },
  OSLAR_EL1: { enc: 0x8084, group: 'oslock', dir: 'w', el0: 'undef', trap: 'always', evidence: 'tested' },
  OSLSR_EL1: { enc: 0x808c, group: 'oslock', dir: 'r', el0: 'undef', trap: 'always', evidence: 'tested' },
  OSDLR_EL1: { enc: 0x809c, group: 'oslock', dir: 'rw', el0: 'undef', trap: 'always', evidence: 'tested' },
  ICC_PMR_EL1: { enc: 0xc230, group: 'gic', dir: 'rw', el0: 'undef', trap: 'always', evidence: 'tested' },
  ICC_IAR1_EL1: { enc: 0xc660, group: 'gic', dir: 'r', el0: 'undef', trap: 'always', evidence: 'tested' },
  ICC_EOIR1_EL1: { enc: 0xc661, group: 'gic', dir: 'w', el0: 'undef', trap: 'always', evidence: 'tested' },
  ICC_SGI1R_EL1: { enc: 0xc65d, group: 'gic', dir: 'w', el0: 'undef', trap: 'always', evidence: 'tested' },
  ICC_SRE_EL1: { enc: 0xc665, group: 'gic.sre', dir: 'rw', el0: 'undef', trap: 'always', evidence: 'tested' },
  CNTPCT_EL0: { enc: 0xdf01, group: 'timer', dir: 'r', el0: 'el1', trap: 'always', evidence: 'tested' },
  CNTP_CTL_EL0: { enc: 0xdf11, group: 'timer', dir: 'rw', el0: 'el1', trap: 'always', evidence: 'tested' },
  CNTP_CVAL_EL0: { enc: 0xdf12, group: 'timer', dir: 'rw', el0: 'el1', trap: 'always', evidence: 'tested' },
  ID_AA64ISAR2_EL1: { enc: 0xc032, group: 'id', dir: 'r', el0: 'undef', trap: 'always', evidence: 'tested' },
  ID_AA64MMFR3_EL1: { enc: 0xc03b, group: 'id', dir: 'r', el0: 'undef', trap: 'always', evidence: 'tested' },
  MDSCR_EL1: { enc: 0x8012, group: 'debug', dir: 'rw', el0: 'undef', trap: 'debug', evidence: 'header' },
  DBGBVR0_EL1: { enc: 0x8004, group: 'debug', dir: 'rw', el0: 'undef', trap: 'debug', evidence: 'header' },
  DBGWCR1_EL1: { enc: 0x800f, group: 'debug', dir: 'rw', el0: 'undef', trap: 'debug', evidence: 'header' },
} as const satisfies Record<
  string,
  {
    enc: number;
    group: 'pmu' | 'oslock' | 'gic' | 'gic.sre' | 'timer' | 'id' | 'debug';
    dir: 'r' | 'w' | 'rw';
    el0: 'undef' | 'el1' | 'none';
    trap: 'always' | 'debug';
    evidence: 'header' | 'tested';
  }
>;

/** A human-readable one-line rendering, for counterexample output. */
export function formatArm64Action(a: Arm64Action): string {
  const hex = (v: bigint): string => `0x${v.toString(16)}`;
  const r = (n: number, x: boolean): string => (n === 31 ? (x ? 'xzr' : 'wzr') : `${x ? 'x' : 'w'}${n}`);
  switch (a.op) {
    case 'ldr': {
      const x = a.size === 8 || a.signed === 'x';
      const m = a.acquire ? 'ldar' : a.signed ? 'ldrs' : 'ldr';
      const suffix = a.size === 1 ? 'b' : a.size === 2 ? 'h' : a.signed && a.size === 4 ? 'w' : '';
      return `${m}${suffix} ${r(a.rt, x)}, [x${a.base}${a.offset ? `, #${a.offset}` : ''}] @ ${hex(a.ipa)}`;
    }
    case 'str': {
      const m = a.acquire ? 'stlr' : 'str';
      const suffix = a.size === 1 ? 'b' : a.size === 2 ? 'h' : '';
      return `${m}${suffix} ${r(a.rt, a.size === 8)}, [x${a.base}${a.offset ? `, #${a.offset}` : ''}] @ ${hex(a.ipa)}${a.value !== undefined ? ` = ${hex(a.value)}` : ''}`;
    }
    case 'hvc':
    case 'brk':
    case 'svc':
    case 'udf':
    case 'smc':
      return `${a.op} #0x${a.imm.toString(16)}`;
    case 'wfi':
      return 'wfi';
    case 'wfe':
      return 'sevl; wfe; wfe';
    case 'sysreg': {
      const reg = a.reg ?? 'PMCR_EL0';
      return a.read
        ? `mrs ${r(a.rt, true)}, ${reg}`
        : `msr ${reg}, ${r(a.rt, true)}${a.value !== undefined ? ` = ${hex(a.value)}` : ''}`;
    }
    case 'branch':
      return `br x${a.reg} -> ${hex(a.ipa)}`;
    case 'vtimer':
      return `vtimer +${a.delta}`;
    case 'mov':
      return `mov x${a.rd}, ${hex(a.value)}`;
    case 'daif':
      return `msr daif${a.set ? 'set' : 'clr'}, #${a.imm}`;
    case 'eret':
      return `eret -> ${a.to} (daif ${a.daif}) via x${a.reg}`;
  }
}
