/**
 * What the spec's VMM does after each arm64 exit: a pure function of the exit record (and, for a
 * report from the guest's vectors, the EL1 registers it reads back), in the style of QEMU's hvf exit
 * handler (two switches: exit reason, then exception class — STYLE.md), with every PC change explicit
 * (hvf-facts.md §2.8 PC-advance rules [T]).
 *
 * Policy (documented choices):
 * - Data abort with ISV = 1 (MMIO): a read writes the VMM's answer to Rt unless Rt = 31, sign-extended
 *   from the access size when SSE and truncated to 32 bits when !SF; a write records the low `size`
 *   bytes of Rt (0 for Rt = 31). Then PC += 4. ISV = 0 cannot be emulated without decoding the
 *   instruction: the VMM stops (`unhandled`).
 * - A stage-2 fault on the guest's own table walk (S1PTW = 1) is not MMIO: the VMM skips the access
 *   (PC += 4 for a data abort; for an instruction abort it resumes where the caller says).
 * - HVC: nothing (PC already points past it). `hvc #0xffff` is the end of the program.
 * - `hvc #(0xfe00 | slot)` is a report from the guest's vector `slot`: the VMM reads ESR_EL1 to name
 *   it; for a synchronous exception it sets ELR_EL1 to the resume address the caller gives (the end of
 *   the action), after an Illegal Execution state exception it also clears SPSR_EL1.IL, so that the
 *   vector's ERET goes on with the program; after IRQ/FIQ it changes nothing. An SVC #0xffff reported
 *   from EL0 is the end of a program that ends at EL0.
 * - WFI/WFE, trapped MSR/MRS, trapped SMC, BRK: PC += 4 (a sysreg read writes the answer to Rt unless 31).
 * - Instruction abort: the VMM cannot run code that is not there; it resumes at the address the caller
 *   supplies (the instruction after the `br` that jumped, from the program's layout).
 * - VTIMER_ACTIVATED: the framework has masked the vtimer (hvf-facts.md §2.6 [H]). The VMM does what a
 *   guest's timer handler would: it writes CNTV_CTL_EL0 = ENABLE | IMASK with hv_vcpu_set_sys_reg, so the
 *   timer stays enabled (ISTATUS still reads 1, which ends the guest's wait loop) but no longer asserts
 *   its interrupt, and then unmasks with hv_vcpu_set_vtimer_mask(false) (unmasking while the timer
 *   still asserted would make every run exit again, §2.6 [U]).
 * - CANCELED: nothing; run again.
 * @module
 */

import type { Arm64Exit, Capabilities, Deviation } from '../../backend.js';
import { HV_EXIT_REASON, HV_REG, HV_SYS_REG } from '../../vocabulary/arm64.js';
import { ARM64_END_MARKER_IMM, ARM64_REPORT_IMM, ARM64_SYSREGS } from './actions.js';
import { ARM64_EC, type DecodedEsr, decodeEsr, describeFsc } from './esr.js';

/** The exit kinds the harness reports as covered. */
export type Arm64ExitKind = (typeof ARM64_EXIT_KINDS)[number];

/** Every exit kind, for coverage reports: exits to the VMM, then the guest's own exceptions it reports. */
export const ARM64_EXIT_KINDS = [
  'arm64.dabt.read.unmapped',
  'arm64.dabt.read.permission',
  'arm64.dabt.write.unmapped',
  'arm64.dabt.write.permission',
  'arm64.iabt.unmapped',
  'arm64.iabt.permission',
  'arm64.s1ptw',
  'arm64.hvc',
  'arm64.smc',
  'arm64.wfi',
  'arm64.wfe',
  'arm64.brk',
  'arm64.sysreg',
  'arm64.sysreg.oslock',
  'arm64.sysreg.gic',
  'arm64.sysreg.gic.sre',
  'arm64.sysreg.timer',
  'arm64.sysreg.id',
  'arm64.sysreg.debug',
  'arm64.vtimer',
  'arm64.canceled',
  'arm64.el1.undefined',
  'arm64.el1.svc',
  'arm64.el1.brk',
  'arm64.el1.wfi',
  'arm64.el1.wfe',
  'arm64.el1.sysreg',
  'arm64.el1.sysreg.daif',
  'arm64.el1.alignment',
  'arm64.el1.alignment.device',
  'arm64.el1.dabt.translation',
  'arm64.el1.dabt.permission',
  'arm64.el1.dabt.access-flag',
  'arm64.el1.iabt',
  'arm64.el1.pc-alignment',
  'arm64.el1.pc-alignment.unfetchable',
  'arm64.el1.illegal',
  'arm64.el1.irq',
  'arm64.el1.fiq',
  'arm64.end',
] as const;

/**
 * Kinds that refine another: the exit record and the EL1 registers are those of the base kind, and only
 * the program tells them apart (so the VMM, which classifies from the record, names the base kind). They
 * are separate kinds because they are separate rules of the Arm ARM, which an implementation may get
 * right or wrong separately:
 * - `arm64.el1.alignment.device`: an unaligned access to Device memory (all data memory while the
 *   stage-1 MMU is off) is an Alignment fault whatever SCTLR_EL1.A says (Arm ARM B2, "Alignment of data
 *   accesses"); the base kind is the alignment an instruction itself requires (LDAR/STLR);
 * - `arm64.el1.pc-alignment.unfetchable`: a branch to a misaligned address where the fetch would also
 *   fault: the PC alignment fault comes first (Arm ARM D1, "Synchronous exception prioritization").
 */
export const ARM64_REFINED_KINDS: Readonly<Partial<Record<Arm64ExitKind, Arm64ExitKind>>> = {
  'arm64.el1.alignment.device': 'arm64.el1.alignment',
  'arm64.el1.pc-alignment.unfetchable': 'arm64.el1.pc-alignment',
};

/** The kind the VMM names for an exit of kind `k` (its base kind, or itself). */
export function arm64BaseKind(k: Arm64ExitKind): Arm64ExitKind {
  return ARM64_REFINED_KINDS[k] ?? k;
}

/** The deviation by which a backend declares it never produces exit kind `kind` as the spec predicts. */
export function arm64KindDeviation(caps: Capabilities, kind: string): Deviation | undefined {
  return caps.deviations.find((d) => (d.arm64ExitKinds as readonly string[] | undefined)?.includes(kind));
}

/** A read the VMM answers: an MMIO load or a trapped MRS. */
export type Arm64VmmQuery =
  | { readonly kind: 'mmio'; readonly ipa: bigint; readonly size: number }
  | {
      readonly kind: 'sysreg';
      readonly op0: number;
      readonly op1: number;
      readonly crn: number;
      readonly crm: number;
      readonly op2: number;
    };

/** What the VMM decided for one exit. */
export interface Arm64VmmDecision {
  readonly kind: Arm64ExitKind | 'unhandled';
  /** `hv_vcpu_set_reg` calls, in order (HV_REG numbers; PC last). */
  readonly setRegs: readonly { readonly reg: number; readonly value: bigint }[];
  /** `hv_vcpu_set_sys_reg` calls. */
  readonly setSysRegs: readonly { readonly reg: number; readonly value: bigint }[];
  /** Whether to call hv_vcpu_set_vtimer_mask(false). */
  readonly vtimerUnmask: boolean;
  /** For a guest write (MMIO store or MSR): the value the VMM records; undefined if unknown. */
  readonly written?: { readonly value: bigint | undefined; readonly size: number };
  /** For a read the VMM answered: the raw answer and the value it put in Rt. */
  readonly answered?: { readonly raw: bigint; readonly rtValue: bigint };
  /** The end marker: stop running. */
  readonly done: boolean;
  /** Why the VMM could not handle the exit (kind `unhandled`). */
  readonly reason?: string;
}

/** What the VMM needs besides the exit record. */
export interface Arm64VmmContext {
  /** The vCPU's PC when the run returned. */
  readonly pc: bigint;
  /** Reads X0..X30 (undefined if the caller does not know the value). */
  readonly reg: (n: number) => bigint | undefined;
  /** Reads an EL1 system register (hv_vcpu_get_sys_reg) for a report; undefined if not known. */
  readonly sysReg?: (reg: number) => bigint | undefined;
  /** The VMM's answer to a read (raw; the VMM applies size/sign rules itself). */
  readonly answer: (q: Arm64VmmQuery) => bigint;
  /** Where the program goes on after an instruction abort (PC) or a reported synchronous exception (ELR_EL1). */
  readonly resume?: bigint;
}

/** Sign- or zero-extends an MMIO load the way hvf-facts.md §2.8 says a VMM completes it. */
export function completeMmioLoad(raw: bigint, size: number, sse: boolean, sf: boolean): bigint {
  const bits = BigInt(size * 8);
  let v = BigInt.asUintN(Number(bits), raw);
  if (sse && size < 8) v = BigInt.asUintN(64, BigInt.asIntN(Number(bits), v));
  if (!sf) v = BigInt.asUintN(32, v);
  return v;
}

const none = { setRegs: [], setSysRegs: [], vtimerUnmask: false, done: false } as const;

function unhandled(reason: string): Arm64VmmDecision {
  return { ...none, kind: 'unhandled', reason };
}

/** The VMM's response to an exception exit whose syndrome is already decoded. */
export function arm64VmmException(esr: DecodedEsr, ctx: Arm64VmmContext): Arm64VmmDecision {
  const next = { reg: HV_REG.HV_REG_PC, value: ctx.pc + 4n };
  switch (esr.kind) {
    case 'data-abort': {
      const fsc = describeFsc(esr.dfsc);
      const how =
        fsc.type === 'translation' ? 'unmapped' : fsc.type === 'permission' ? 'permission' : undefined;
      if (!how) return unhandled(`data abort with DFSC 0x${esr.dfsc.toString(16)} (${fsc.type})`);
      if (esr.s1ptw) return { ...none, kind: 'arm64.s1ptw', setRegs: [next] };
      if (!esr.isv)
        return unhandled(
          'data abort with ISV = 0: the instruction must be decoded (LDP/STP, writeback, SIMD)',
        );
      if (esr.cm) return unhandled('a cache-maintenance abort is not MMIO');
      if (esr.wnr) {
        const v = esr.srt === 31 ? 0n : ctx.reg(esr.srt);
        return {
          ...none,
          kind: how === 'unmapped' ? 'arm64.dabt.write.unmapped' : 'arm64.dabt.write.permission',
          setRegs: [next],
          written: { value: v === undefined ? undefined : BigInt.asUintN(esr.size * 8, v), size: esr.size },
        };
      }
      const raw = BigInt.asUintN(esr.size * 8, ctx.answer({ kind: 'mmio', ipa: 0n, size: esr.size }));
      const rtValue = completeMmioLoad(raw, esr.size, esr.sse, esr.sf);
      return {
        ...none,
        kind: how === 'unmapped' ? 'arm64.dabt.read.unmapped' : 'arm64.dabt.read.permission',
        // Rt = 31 is XZR: writing HV_REG_X0 + 31 would hit HV_REG_PC (hvf-facts.md §2.8 bug magnet [T]).
        setRegs: esr.srt === 31 ? [next] : [{ reg: esr.srt, value: rtValue }, next],
        answered: { raw, rtValue },
      };
    }
    case 'instruction-abort': {
      const fsc = describeFsc(esr.ifsc);
      const how =
        fsc.type === 'translation' ? 'unmapped' : fsc.type === 'permission' ? 'permission' : undefined;
      if (!how) return unhandled(`instruction abort with IFSC 0x${esr.ifsc.toString(16)}`);
      if (ctx.resume === undefined) return unhandled('instruction abort with no resume address');
      return {
        ...none,
        kind: esr.s1ptw
          ? 'arm64.s1ptw'
          : how === 'unmapped'
            ? 'arm64.iabt.unmapped'
            : 'arm64.iabt.permission',
        setRegs: [{ reg: HV_REG.HV_REG_PC, value: ctx.resume }],
      };
    }
    case 'hvc64':
      // HVC is exception-generating: PC already points past it; do NOT advance (hvf-facts.md §2.8 [T]).
      if (esr.imm16 === ARM64_END_MARKER_IMM) return { ...none, kind: 'arm64.end', done: true };
      if ((esr.imm16 & 0xfff0) === ARM64_REPORT_IMM) return report(esr.imm16 & 0xf, ctx);
      return { ...none, kind: 'arm64.hvc' };
    case 'smc64':
      // A trapped SMC leaves PC at it (hvf-facts.md §2.8 [T]; whether HVF traps SMC is [U]): skip it.
      return { ...none, kind: 'arm64.smc', setRegs: [next] };
    case 'wfx':
      if (esr.ti > 1) return unhandled(`WFx with TI ${esr.ti}`);
      return { ...none, kind: esr.ti === 0 ? 'arm64.wfi' : 'arm64.wfe', setRegs: [next] };
    case 'brk64':
      return { ...none, kind: 'arm64.brk', setRegs: [next] };
    case 'sysreg': {
      const enc = (esr.op0 << 14) | (esr.op1 << 11) | (esr.crn << 7) | (esr.crm << 3) | esr.op2;
      const known = Object.values(ARM64_SYSREGS).find((r) => r.enc === enc);
      if (!known)
        return unhandled(`trapped system register 0x${enc.toString(16)} is not one the spec's VMM emulates`);
      const kind: Arm64ExitKind = known.group === 'pmu' ? 'arm64.sysreg' : `arm64.sysreg.${known.group}`;
      if (!esr.read) {
        const v = esr.rt === 31 ? 0n : ctx.reg(esr.rt);
        return { ...none, kind, setRegs: [next], written: { value: v, size: 8 } };
      }
      const raw = BigInt.asUintN(
        64,
        ctx.answer({ kind: 'sysreg', op0: esr.op0, op1: esr.op1, crn: esr.crn, crm: esr.crm, op2: esr.op2 }),
      );
      return {
        ...none,
        kind,
        setRegs: esr.rt === 31 ? [next] : [{ reg: esr.rt, value: raw }, next],
        answered: { raw, rtValue: raw },
      };
    }
    case 'svc64':
    case 'unknown':
      return unhandled(`exception class 0x${esr.ec.toString(16)}`);
  }
}

/** PSTATE.IL in SPSR layout. */
const SPSR_IL = 1n << 20n;

/** A report from the guest's vector `slot` (see the module notes). */
function report(slot: number, ctx: Arm64VmmContext): Arm64VmmDecision {
  const type = slot & 3;
  if (type === 1) return { ...none, kind: 'arm64.el1.irq' };
  if (type === 2) return { ...none, kind: 'arm64.el1.fiq' };
  if (type === 3 || slot >= 12) return unhandled(`a report from vector slot ${slot} (SError or AArch32)`);
  const esrValue = ctx.sysReg?.(HV_SYS_REG.HV_SYS_REG_ESR_EL1);
  if (esrValue === undefined) return unhandled('a synchronous exception report without ESR_EL1');
  const esr = decodeEsr(esrValue);
  if (esr.kind === 'svc64' && esr.imm16 === ARM64_END_MARKER_IMM && slot === 8)
    return { ...none, kind: 'arm64.end', done: true };
  const kind = guestKind(esr);
  if (kind === undefined) return unhandled(`a guest exception with EC 0x${esr.ec.toString(16)}`);
  if (ctx.resume === undefined) return unhandled('a synchronous exception report with no resume address');
  const setSysRegs: { reg: number; value: bigint }[] = [
    { reg: HV_SYS_REG.HV_SYS_REG_ELR_EL1, value: ctx.resume },
  ];
  if (kind === 'arm64.el1.illegal') {
    const spsr = ctx.sysReg?.(HV_SYS_REG.HV_SYS_REG_SPSR_EL1);
    if (spsr === undefined) return unhandled('an illegal-state report without SPSR_EL1');
    setSysRegs.push({ reg: HV_SYS_REG.HV_SYS_REG_SPSR_EL1, value: spsr & ~SPSR_IL });
  }
  return { ...none, kind, setSysRegs };
}

/** The exception classes whose EL1 exit kind the class alone decides. */
const EL1_KIND_OF_EC: Partial<Record<number, Arm64ExitKind>> = {
  [ARM64_EC.UNKNOWN]: 'arm64.el1.undefined',
  [ARM64_EC.SVC64]: 'arm64.el1.svc',
  [ARM64_EC.BRK64]: 'arm64.el1.brk',
  [ARM64_EC.ILLEGAL_STATE]: 'arm64.el1.illegal',
  [ARM64_EC.PC_ALIGNMENT]: 'arm64.el1.pc-alignment',
  [ARM64_EC.IABT_LOWER]: 'arm64.el1.iabt',
  [ARM64_EC.IABT_CURRENT]: 'arm64.el1.iabt',
};

/** The EL1 data aborts the guest reports, by fault type (any level). */
const EL1_DABT_KIND: Partial<Record<ReturnType<typeof describeFsc>['type'], Arm64ExitKind>> = {
  alignment: 'arm64.el1.alignment',
  translation: 'arm64.el1.dabt.translation',
  permission: 'arm64.el1.dabt.permission',
  'access-flag': 'arm64.el1.dabt.access-flag',
};

/** The exit kind of a synchronous exception the guest took, from its ESR_EL1. */
function guestKind(esr: DecodedEsr): Arm64ExitKind | undefined {
  const fixed = EL1_KIND_OF_EC[esr.ec];
  if (fixed !== undefined) return fixed;
  switch (esr.kind) {
    case 'wfx':
      if (esr.ti > 1) return undefined;
      return esr.ti === 0 ? 'arm64.el1.wfi' : 'arm64.el1.wfe';
    case 'sysreg':
      // MSR DAIFSet/DAIFClr (MSR immediate: Op0 0, Op1 3, CRn 4, Op2 6/7) trapped by SCTLR_EL1.UMA.
      if (esr.op0 === 0 && esr.op1 === 3 && esr.crn === 4 && (esr.op2 === 6 || esr.op2 === 7))
        return 'arm64.el1.sysreg.daif';
      return 'arm64.el1.sysreg';
    case 'data-abort':
      return EL1_DABT_KIND[describeFsc(esr.dfsc).type];
    default:
      return undefined;
  }
}

/** The VMM's response to one `hv_vcpu_run` exit record. */
export function arm64VmmStep(exit: Arm64Exit, ctx: Arm64VmmContext): Arm64VmmDecision {
  switch (exit.reason) {
    case HV_EXIT_REASON.HV_EXIT_REASON_CANCELED:
      return { ...none, kind: 'arm64.canceled' };
    case HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED:
      return {
        ...none,
        kind: 'arm64.vtimer',
        setSysRegs: [{ reg: HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0, value: CNTV_CTL_ENABLE | CNTV_CTL_IMASK }],
        vtimerUnmask: true,
      };
    case HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION: {
      const esr = decodeEsr(exit.exception.syndrome);
      // The MMIO answer gets the faulting IPA from the exit record, not from the decoded syndrome.
      const answer = (q: Arm64VmmQuery): bigint =>
        ctx.answer(q.kind === 'mmio' ? { ...q, ipa: exit.exception.physical_address } : q);
      return arm64VmmException(esr, { ...ctx, answer });
    }
    default:
      return unhandled(`exit reason ${exit.reason}`);
  }
}

/** CNTV_CTL_EL0 bits (Arm ARM): ENABLE bit 0, IMASK bit 1, ISTATUS bit 2 (read-only). */
export const CNTV_CTL_ENABLE = 1n;
export const CNTV_CTL_IMASK = 2n;
export const CNTV_CTL_ISTATUS = 4n;
