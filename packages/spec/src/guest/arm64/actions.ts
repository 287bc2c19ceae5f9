/**
 * The arm64 guest-action language: what a generated guest program does, one action at a time, at
 * EL1h with the MMU off (SCTLR_EL1.M = 0), so virtual address = IPA.
 *
 * Every action is assembled (assemble.ts) into real A64 machine code; the spec predicts the exits it
 * produces (predict.ts). Data accesses must be naturally aligned: with the stage-1 MMU off every data
 * access is Device-nGnRnE, and an unaligned one is an alignment fault taken by the guest at EL1 (not
 * an exit), which the spec does not model.
 * @module
 */

/** A general-purpose register number. 31 means XZR/WZR as a transfer register (never SP here). */
export type Arm64RegNum = number;

/** Access sizes in bytes. */
export type Arm64AccessSize = 1 | 2 | 4 | 8;

/**
 * Load `size` bytes from `ipa` into `rt` through base register `base` (which the action first sets to
 * `ipa - offset` with MOVZ/MOVK).
 * - `signed`: `'w'` = LDRSB/LDRSH to a W register, `'x'` = LDRSB/LDRSH/LDRSW to an X register;
 *   absent = zero-extending LDRB/LDRH/LDR W (size < 8) or LDR X (size 8).
 * - `acquire`: LDARB/LDARH/LDAR (AR = 1 in the syndrome); no offset, not signed.
 * - `offset`: the unsigned, size-scaled immediate of the LDR (a multiple of `size`, < 4096 × size).
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
 * Store the low `size` bytes of `rt` at `ipa` (STRB/STRH/STR W/STR X, or STLRB/STLRH/STLR with
 * `acquire`). When `value` is given (and `rt` is not 31) the action first puts it in `rt`. `rt` = 31
 * stores zero (WZR/XZR).
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

/** `hvc #imm` (0..0xfffe; 0xffff is the end marker). */
export interface HvcAction {
  readonly op: 'hvc';
  readonly imm: number;
}

/** `wfi`: HVF traps it to the VMM when there is no in-framework GIC (hvf-facts.md §5.9 [T]). */
export interface WfiAction {
  readonly op: 'wfi';
}

/** `brk #imm`: exits only while hv_vcpu_set_trap_debug_exceptions(true) (hvf-facts.md §2.4 [H]). */
export interface BrkAction {
  readonly op: 'brk';
  readonly imm: number;
}

/**
 * A trapped system-register access: `mrs xRt, PMCR_EL0` (`read`) or `msr PMCR_EL0, xRt`.
 * PMCR_EL0 is chosen because with EL2 off HVF traps PMU register accesses to the VMM as EC 0x18
 * exits (hvf-facts.md §2.3 [H]); the spec's VMs never enable EL2.
 */
export interface SysregAction {
  readonly op: 'sysreg';
  readonly read: boolean;
  readonly rt: Arm64RegNum;
  /** For a write with `rt` ≠ 31: put this value in `rt` first. */
  readonly value?: bigint;
}

/**
 * `br xReg` to `ipa` (after MOVZ/MOVK of `ipa` into `reg`): an instruction fetch there. The spec
 * only predicts targets whose fetch faults (unmapped, or mapped without EXEC); the VMM answers the
 * instruction abort by setting PC to the instruction after the `br` (scenario.ts).
 */
export interface BranchAction {
  readonly op: 'branch';
  readonly ipa: bigint;
  readonly reg: Arm64RegNum;
}

/**
 * Programs the EL1 virtual timer to fire `delta` counter ticks from now and waits for it:
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

/** One guest action. */
export type Arm64Action =
  | LdrAction
  | StrAction
  | HvcAction
  | WfiAction
  | BrkAction
  | SysregAction
  | BranchAction
  | VtimerAction
  | MovAction;

/**
 * The end-of-program marker: `hvc #0xffff`. A distinctive HVC because HVC is the one exit that
 * needs no emulation (PC already points past it) and no other action uses this immediate.
 */
export const ARM64_END_MARKER_IMM = 0xffff;

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
} as const;

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
      return `hvc #0x${a.imm.toString(16)}`;
    case 'wfi':
      return 'wfi';
    case 'brk':
      return `brk #0x${a.imm.toString(16)}`;
    case 'sysreg':
      return a.read
        ? `mrs ${r(a.rt, true)}, PMCR_EL0`
        : `msr PMCR_EL0, ${r(a.rt, true)}${a.value !== undefined ? ` = ${hex(a.value)}` : ''}`;
    case 'branch':
      return `br x${a.reg} -> ${hex(a.ipa)}`;
    case 'vtimer':
      return `vtimer +${a.delta}`;
    case 'mov':
      return `mov x${a.rd}, ${hex(a.value)}`;
  }
}
