/**
 * The spec's prediction of what an arm64 guest program does: the exact sequence of `hv_vcpu_run`
 * exits (reason, ESR, FAR, IPA, PC), the exceptions the guest takes itself and reports through its
 * vectors (ESR_EL1, ELR_EL1, SPSR_EL1, FAR_EL1, PSTATE), what the VMM does after each (vmm.ts), the
 * values the guest writes to MMIO and trapped registers, and the registers at the end.
 *
 * It works from the actions, never from machine code: each action knows which of its instructions
 * can exit or fault and why. The model's interpreter (packages/model/src/arm64) decodes the assembled
 * bytes instead; the two are checked against each other.
 *
 * Evidence and choices:
 * - ESR_EL2 fields and the PC rules of exits: hvf-facts.md §2.8 [T]; IL = 1 for every A64 instruction.
 * - Exceptions taken by the guest (Arm ARM AArch64.TakeException): the vector is VBAR_EL1 + 0x000
 *   (current EL, SP0), 0x200 (current EL, SPx) or 0x400 (lower EL, AArch64), + 0x80 for IRQ and 0x100
 *   for FIQ; SPSR_EL1 = PSTATE; ELR_EL1 = the preferred return address (the instruction for faults,
 *   traps, UDF and BRK; the next one for SVC); ESR_EL1 for synchronous exceptions; FAR_EL1 for aborts,
 *   alignment and PC alignment faults (otherwise UNKNOWN: not checked); PSTATE becomes EL1h with DAIF
 *   masked. Stage-1 data aborts taken to EL1 have ISV = 0. WFx traps to EL1 carry CV = 1 and COND =
 *   0b1110 for AArch64 state; as with the exit, they are masked out on hardware [U].
 * - SMC at EL1 exits with EC 0x17 and PC at the smc: whether HVF sets HCR_EL2.TSC is unverified
 *   (hvf-facts.md §2.8 [U]); without it an SMC would be UNDEFINED at EL1.
 * - EL0 reads of the ID register space are UNDEFINED (EC 0x00) on a core without FEAT_IDST and a
 *   trapped MRS (EC 0x18) at EL1 on one with it (Arm ARM D19, ID_AA64MMFR2_EL1.IDS): the caller says
 *   which (`idst`), from the core's own ID_AA64MMFR2_EL1; whether Apple's cores have it is [U].
 * - An unaligned LDAR/STLR is an alignment fault on a core without FEAT_LSE2, and on one with it only
 *   when the access crosses a 16-byte boundary (SCTLR_EL1.nAA = 0; AArch64.UnalignedAccessFaults): the
 *   caller says which (`lse2`), from ID_AA64MMFR2_EL1.AT; whether Apple's cores have it is [U].
 * - Self-hosted debug stays off: the VMM writes MDSCR_EL1 = 0 (scenario.ts), and a guest write of it
 *   that may set SS or MDE is not predicted (software step, breakpoints and watchpoints are not).
 * - Kinds name the Arm ARM rule behind each exit (vmm.ts): an unaligned access to Device memory
 *   (`arm64.el1.alignment.device`) apart from an instruction's own alignment requirement, a PC
 *   alignment fault where the fetch would also fault (`arm64.el1.pc-alignment.unfetchable`), the EL0
 *   DAIF trap (`arm64.el1.sysreg.daif`), ICC_SRE_EL1 (`arm64.sysreg.gic.sre`), WFI and WFE at EL0.
 * - A pending IRQ/FIQ line (hv_vcpu_set_pending_interrupt before the first run) is taken by the guest as
 *   soon as PSTATE.I/F allow, until the first run returns (the framework then clears it, §2.4 [H]); while
 *   it is pending WFI does not wait and so does not trap. Both lines unmasked at once are not predicted
 *   (their order is IMPLEMENTATION DEFINED).
 * - Fault level of a stage-2 fault: an unmapped IPA is reported as a translation fault at level 3 and
 *   a denied access as a permission fault at level 3. The real level depends on the shape of the
 *   framework's stage-2 tables [U], so `syndromeMask` leaves DFSC/IFSC bits[1:0] out; for a mapping
 *   with no permissions at all (flags 0), whether the framework keeps a valid descriptor (permission
 *   fault) or removes it (translation fault) is also [U] and bits[3:0] are left out. A stage-2 fault on
 *   a stage-1 table walk (S1PTW = 1) also leaves WnR out (the Arm ARM has changed what it reports there).
 * - FAR (`virtual_address`) is the byte address of the access, a VA (= IPA with the MMU off). The IPA
 *   (`physical_address`): hardware reports the faulting page in HPFAR_EL2 (IPA[47:12]); whether HVF
 *   fills in the low 12 bits is not in the facts [U] (QEMU passes the field straight to its MMIO
 *   dispatch, which suggests a byte address). The spec predicts the byte address and
 *   `physicalAddressMask` = ~0xfff says what hardware must match.
 * - Virtual time: the model's documented clock, not a claim about hardware (see {@link ARM64_CLOCK_RULE}).
 * @module
 */

import { FSC, HV_EXIT_REASON, HV_SYS_REG } from '../../vocabulary/arm64.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import {
  ARM64_END_MARKER_IMM,
  ARM64_REPORT_IMM,
  ARM64_SYSREGS,
  type Arm64Action,
  type Arm64StartMode,
} from './actions.js';
import { type Arm64Program, assembleArm64, eretSpsr } from './assemble.js';
import {
  ARM64_EC,
  decodeEsr,
  esrBrk64,
  esrDataAbort,
  esrHvc64,
  esrInstructionAbort,
  esrNoIss,
  esrSmc64,
  esrSvc64,
  esrSysreg,
  esrWfx,
  sysRegFields,
} from './esr.js';
import { type Arm64MmuConfig, arm64Stage1, S1_FSC } from './mmu.js';
import {
  type Arm64ExitKind,
  type Arm64VmmDecision,
  type Arm64VmmQuery,
  arm64BaseKind,
  arm64VmmException,
  arm64VmmStep,
} from './vmm.js';

/**
 * The model's virtual clock, which the prediction follows: the counter advances by 1 for every
 * instruction the guest retires (one whose effect the guest completed, including HVC and SVC; an
 * instruction that faults, traps or exits to the VMM for emulation — aborts, WFI, trapped MSR/MRS,
 * BRK — does not retire in the guest). CNTVCT_EL0 = counter − vtimer offset. Before each instruction,
 * if the vtimer is not masked and CNTV_CTL_EL0.ENABLE && !IMASK && CNTVCT >= CNTV_CVAL_EL0, the run
 * stops with VTIMER_ACTIVATED and PC at that instruction. On hardware the counter runs on its own; the
 * harness then only checks that the exit happens.
 */
export const ARM64_CLOCK_RULE =
  'counter += 1 per retired instruction; vtimer checked before each instruction';

/** The CPSR the VMM writes for each start mode: EL1h/EL1t with DAIF masked; EL0t is the fresh vCPU's 0 (hvf-facts.md §2.6). */
export const ARM64_START_CPSR: Record<Arm64StartMode, number> = { el1h: 0x3c5, el1t: 0x3c4, el0: 0 };

/** A mapping as the prediction needs it. */
export type Arm64MappingLookup = (ipa: bigint) => { readonly flags: number } | undefined;

/** Inputs of {@link predictArm64}. */
export interface Arm64PredictInput {
  readonly actions: readonly Arm64Action[];
  /** IPA the program is loaded at (2 KiB aligned, in an executable mapping); its vectors follow at +0x800. */
  readonly codeIpa: bigint;
  /** X registers the VMM sets before the first run; others are unknown. */
  readonly initialRegs?: Readonly<Record<number, bigint>>;
  readonly lookup: Arm64MappingLookup;
  /** Initial content of guest RAM, one byte at a time, where known. */
  readonly memory?: (ipa: bigint) => number | undefined;
  /** The VMM's answer to the read of exit number `exitIndex` (deterministic, chosen by the caller). */
  readonly answer: (exitIndex: number, q: Arm64VmmQuery) => bigint;
  /** Whether hv_vcpus_exit is called before the first run (the first exit is then CANCELED). */
  readonly cancelFirst?: boolean;
  /**
   * Follow the model's clock (default true). When false (hardware), the wait loop's registers after a
   * vtimer action are unknown: whether X16 reads IMASK set depends on when the exit really came.
   */
  readonly exactClock?: boolean;
  /** The mode the program starts in (default EL1h); the CPSR is {@link ARM64_START_CPSR}. */
  readonly start?: Arm64StartMode;
  /** Stage 1 on, with these tables (the code page must be mapped to itself); off when absent. */
  readonly mmu?: Arm64MmuConfig;
  /** hv_vcpu_set_trap_debug_exceptions (default true: BRK exits). */
  readonly trapDebug?: boolean;
  /** hv_vcpu_set_trap_debug_reg_accesses (default false). */
  readonly trapDebugRegs?: boolean;
  /** Interrupt lines the VMM makes pending before the first run. */
  readonly irq?: boolean;
  readonly fiq?: boolean;
  /**
   * Whether the core implements FEAT_IDST (ID_AA64MMFR2_EL1.IDS = 1), which changes how an EL0 read of
   * the ID register space is reported (see the module notes); `'unknown'` makes such a read
   * unpredicted. Default false (the model's core).
   */
  readonly idst?: boolean | 'unknown';
  /**
   * Whether the core implements FEAT_LSE2 (ID_AA64MMFR2_EL1.AT = 1), under which an unaligned
   * load-acquire/store-release faults only when it crosses a 16-byte boundary (see the module notes);
   * `'unknown'` makes one inside 16 bytes unpredicted. Default false (the model's core).
   */
  readonly lse2?: boolean | 'unknown';
}

/** An exception the guest took and reported from its vector: the EL1 state the VMM reads back. */
export interface Arm64GuestException {
  /** The vector slot (VBAR_EL1 offset / 0x80). */
  readonly slot: number;
  /** ESR_EL1 (absent for IRQ/FIQ: not written) and the bits hardware must match. */
  readonly esr?: { readonly value: bigint; readonly mask: bigint };
  readonly elr: bigint;
  readonly spsr: bigint;
  /** FAR_EL1 (absent where the Arm ARM leaves it UNKNOWN). */
  readonly far?: bigint;
  /** CPSR at the report: EL1h, DAIF masked, NZCV kept. */
  readonly cpsr: bigint;
}

/** One predicted exit and the VMM's response to it. */
export interface Arm64PredictedExit {
  readonly index: number;
  readonly kind: Arm64ExitKind;
  /** Index of the action that exits (actions.length for the end marker, -1 for a cancel before the first run). */
  readonly action: number;
  readonly reason: number;
  /** ESR_EL2 (0 for non-exception exits). */
  readonly syndrome: bigint;
  /** The syndrome bits hardware must match (see the module notes). */
  readonly syndromeMask: bigint;
  readonly virtual_address?: bigint;
  readonly physical_address?: bigint;
  readonly physicalAddressMask?: bigint;
  /** The vCPU's PC when `hv_vcpu_run` returns. */
  readonly pc: bigint;
  /** What the VMM does (registers it sets, values it records). */
  readonly vmm: Arm64VmmDecision;
  /** Where the VMM resumes: PC after an instruction abort, ELR_EL1 after a reported synchronous exception. */
  readonly resume?: bigint;
  /** A report from the guest's vectors. */
  readonly guest?: Arm64GuestException;
}

/** The whole prediction. */
export interface Arm64Prediction {
  readonly program: Arm64Program;
  readonly exits: readonly Arm64PredictedExit[];
  /** X0..X30 after the end marker (undefined where the value is unknown). */
  readonly finalRegs: readonly (bigint | undefined)[];
  /** PC after the end marker. */
  readonly finalPc: bigint;
  /** Bytes the guest wrote to RAM (not MMIO) without exiting, by IPA; undefined = unknown value. */
  readonly ramWrites: ReadonlyMap<bigint, number | undefined>;
  /** The CPSR the VMM writes before the first run. */
  readonly startCpsr: number;
}

const PAGE_MASK_4K = ~0xfffn;
const ALL32 = 0xffffffffn;
/** MDSCR_EL1.SS (bit 0) and MDE (bit 15): software step and breakpoints/watchpoints (Arm ARM D2). */
export const MDSCR_SS_MDE = 0x8001n;
/** The bits of a WFx syndrome hardware must match: EC, IL, TI (CV/COND are [U]). */
const WFX_MASK = 0xfe000003n;

function loadExtend(raw: bigint, size: number, signed: 'w' | 'x' | undefined): bigint {
  if (!signed) return BigInt.asUintN(size * 8, raw);
  const sx = BigInt.asUintN(64, BigInt.asIntN(size * 8, raw));
  return signed === 'w' ? BigInt.asUintN(32, sx) : sx;
}

/** The ESR of a data abort without an instruction syndrome (ISV 0: SAS, SSE, SRT, SF and AR are 0). */
function esrDataAbortNoSyndrome(f: { wnr: boolean; dfsc: number; ec?: number; s1ptw?: boolean }): bigint {
  return esrDataAbort({ isv: false, sas: 0, sse: false, srt: 0, sf: false, ar: false, ...f });
}

/** The exit kind of a stage-1 fault reported at EL1 from its DFSC. */
function s1DataKind(fsc: number): Arm64ExitKind {
  if (fsc === FSC.ALIGNMENT) return 'arm64.el1.alignment';
  if (fsc >= S1_FSC.PERMISSION) return 'arm64.el1.dabt.permission';
  if (fsc >= S1_FSC.ACCESS_FLAG) return 'arm64.el1.dabt.access-flag';
  if (fsc >= S1_FSC.TRANSLATION) return 'arm64.el1.dabt.translation';
  throw new RangeError('an address-size fault is not predicted');
}

/** Predicts the exits of a program. Throws RangeError for a program outside what the spec predicts. */
export function predictArm64(input: Arm64PredictInput): Arm64Prediction {
  const start = input.start ?? 'el1h';
  const program = assembleArm64(input.actions, input.codeIpa, start);
  const mmu = input.mmu;
  const trapDebug = input.trapDebug ?? true;
  const regs: (bigint | undefined)[] = Array.from({ length: 31 }, (_, i) => input.initialRegs?.[i]);
  const ram = new Map<bigint, number | undefined>();
  const exits: Arm64PredictedExit[] = [];
  const codeEnd = program.base + BigInt(program.bytes.length);
  const vectorsEnd = program.vbar + BigInt(program.vectors.length);
  const startCpsr = ARM64_START_CPSR[start];

  // PSTATE as the prediction tracks it. No action sets the flags, so NZCV stays as the VMM wrote it (0).
  let el: 0 | 1 = start === 'el0' ? 0 : 1;
  let spsel = start === 'el1h' ? 1 : 0;
  let daif = (startCpsr >> 6) & 0xf;
  let il = 0;
  const psr = (): bigint => BigInt((il << 20) | (daif << 6) | (el << 2) | spsel);
  /** Whether the interrupt lines are still pending: until the first run returns. */
  let pending = (input.irq || input.fiq) && !input.cancelFirst;
  if (input.irq && input.fiq)
    throw new RangeError('IRQ and FIQ pending together: their order is not predicted');

  const s2 = (ipa: bigint, need: number): { ok: true } | { ok: false; flags: number | undefined } => {
    const m = input.lookup(ipa);
    return m !== undefined && (m.flags & need) !== 0 ? { ok: true } : { ok: false, flags: m?.flags };
  };
  /** The instructions at [from, to) must be fetchable at `atEl` (stage 1 and stage 2). */
  const fetchable = (from: bigint, to: bigint, atEl: 0 | 1): void => {
    for (let a = from & ~0xfffn; a < to; a += 0x1000n) {
      const t = arm64Stage1(mmu, a < from ? from : a, 'fetch', atEl);
      if (t.kind !== 'ok' || !s2(t.ipa, HV_MEMORY.EXEC).ok || t.ipa !== (a < from ? from : a))
        throw new RangeError(
          `code at 0x${a.toString(16)} is not executable (and mapped to itself) at EL${atEl}`,
        );
    }
  };
  fetchable(program.base, codeEnd, el);
  fetchable(program.vbar, vectorsEnd, 1);

  const readByte = (ipa: bigint): number | undefined => {
    if (ram.has(ipa)) return ram.get(ipa);
    if (ipa >= program.base && ipa < codeEnd) return program.bytes[Number(ipa - program.base)];
    if (ipa >= program.vbar && ipa < vectorsEnd) return program.vectors[Number(ipa - program.vbar)];
    return input.memory?.(ipa);
  };
  const readRam = (ipa: bigint, size: number): bigint | undefined => {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) {
      const b = readByte(ipa + BigInt(i));
      if (b === undefined) return undefined;
      v = (v << 8n) | BigInt(b);
    }
    return v;
  };
  const writeRam = (ipa: bigint, size: number, value: bigint | undefined): void => {
    if (ipa + BigInt(size) > program.base && ipa < program.base + 0x1000n)
      throw new RangeError('a store into the program itself is not predicted');
    if (mmu && ipa + BigInt(size) > mmu.tableIpa && ipa < mmu.tableIpa + BigInt(mmu.tableSize))
      throw new RangeError('a store into the page tables is not predicted');
    for (let i = 0; i < size; i++)
      ram.set(ipa + BigInt(i), value === undefined ? undefined : Number((value >> BigInt(8 * i)) & 0xffn));
  };
  const setReg = (n: number, v: bigint | undefined): void => {
    if (n !== 31) regs[n] = v === undefined ? undefined : BigInt.asUintN(64, v);
  };
  const fault = (flags: number | undefined): { fsc: number; mask: bigint } =>
    flags === undefined
      ? { fsc: FSC.TRANSLATION_L3, mask: ALL32 & ~0x3n }
      : { fsc: FSC.PERMISSION_L3, mask: flags === 0 ? ALL32 & ~0xfn : ALL32 & ~0x3n };

  /** Records an exit, applies the VMM's response to the predicted registers, ends the first run. */
  const exit = (e: Omit<Arm64PredictedExit, 'index' | 'vmm'>): Arm64VmmDecision => {
    const index = exits.length;
    let vmm: Arm64VmmDecision;
    const ctx = {
      pc: e.pc,
      reg: (n: number) => regs[n],
      answer: (q: Arm64VmmQuery) =>
        input.answer(index, q.kind === 'mmio' ? { ...q, ipa: e.physical_address ?? 0n } : q),
      sysReg: (r: number) => guestSysReg(e.guest, r),
      ...(e.resume !== undefined ? { resume: e.resume } : {}),
    };
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      vmm = arm64VmmException(decodeEsr(e.syndrome), ctx);
      if (vmm.kind !== arm64BaseKind(e.kind))
        throw new Error(`internal: predicted ${e.kind} but the VMM classifies ${vmm.kind}`);
    } else {
      // CANCELED and VTIMER_ACTIVATED: the same VMM step a runner takes on the real exit record.
      const none = { syndrome: 0n, virtual_address: 0n, physical_address: 0n };
      vmm = arm64VmmStep({ reason: e.reason, exception: none }, { ...ctx, answer: () => 0n });
    }
    for (const r of vmm.setRegs) if (r.reg < 31) setReg(r.reg, r.value);
    exits.push({ ...e, index, vmm });
    pending = false;
    return vmm;
  };

  /**
   * The guest takes an exception at EL1 and its vector reports it; the VMM resumes it (ELR_EL1 =
   * `resume` for a synchronous one), and the vector's ERET restores PSTATE from SPSR_EL1.
   */
  const guestException = (g: {
    kind: Arm64ExitKind;
    action: number;
    type: 0 | 1 | 2;
    esr?: { value: bigint; mask: bigint };
    elr: bigint;
    far?: bigint;
    resume?: bigint;
  }): void => {
    const slot = (el === 0 ? 8 : spsel === 1 ? 4 : 0) + g.type;
    const spsr = psr();
    const guest: Arm64GuestException = {
      slot,
      ...(g.esr ? { esr: g.esr } : {}),
      elr: g.elr,
      spsr,
      ...(g.far !== undefined ? { far: g.far } : {}),
      cpsr: 0x3c5n,
    };
    exit({
      kind: g.kind,
      action: g.action,
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      syndrome: esrHvc64(ARM64_REPORT_IMM | slot),
      syndromeMask: ALL32,
      pc: program.vbar + BigInt(slot * 0x80 + 4),
      ...(g.resume !== undefined ? { resume: g.resume } : {}),
      guest,
    });
    // The vector's ERET: SPSR_EL1 as saved, with IL cleared by the VMM after an illegal-state report.
    il = 0;
    daif = Number((spsr >> 6n) & 0xfn);
  };
  const undefinedAt = (action: number, at: bigint, resume: bigint): void =>
    guestException({
      kind: 'arm64.el1.undefined',
      action,
      type: 0,
      esr: { value: esrNoIss(ARM64_EC.UNKNOWN), mask: ALL32 },
      elr: at,
      resume,
    });
  /** A pending line the guest takes now, before the instruction at `next`. */
  const interrupt = (action: number, next: bigint): void => {
    if (!pending) return;
    const irq = input.irq && (daif & 2) === 0;
    const fiq = input.fiq && (daif & 1) === 0;
    if (!irq && !fiq) return;
    guestException({ kind: irq ? 'arm64.el1.irq' : 'arm64.el1.fiq', action, type: irq ? 1 : 2, elr: next });
  };
  /** A data or instruction abort taken at EL1 (stage 1, alignment). */
  const s1Abort = (
    action: number,
    fetch: boolean,
    write: boolean,
    fsc: number,
    va: bigint,
    at: bigint,
    resume: bigint,
    kind?: Arm64ExitKind,
  ) => {
    const ec = fetch
      ? el === 0
        ? ARM64_EC.IABT_LOWER
        : ARM64_EC.IABT_CURRENT
      : el === 0
        ? ARM64_EC.DABT_LOWER
        : ARM64_EC.DABT_CURRENT;
    const value = fetch
      ? esrInstructionAbort({ ifsc: fsc, ec })
      : esrDataAbortNoSyndrome({ wnr: write, dfsc: fsc, ec });
    guestException({
      kind: kind ?? (fetch ? 'arm64.el1.iabt' : s1DataKind(fsc)),
      action,
      type: 0,
      esr: { value, mask: ALL32 },
      elr: at,
      far: va,
      resume,
    });
  };

  if (input.cancelFirst) {
    exit({
      kind: 'arm64.canceled',
      action: -1,
      reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED,
      syndrome: 0n,
      syndromeMask: 0n,
      pc: program.base,
    });
  }
  interrupt(-1, program.base);

  input.actions.forEach((act, i) => {
    const lay = program.layout[i]!;
    switch (act.op) {
      case 'mov':
        setReg(act.rd, act.value);
        return;
      case 'ldr':
      case 'str': {
        const va = act.ipa;
        const size = BigInt(act.size);
        setReg(act.base, va - BigInt(act.offset ?? 0));
        if (act.op === 'str' && act.value !== undefined && act.rt !== 31) setReg(act.rt, act.value);
        const write = act.op === 'str';
        const misaligned = va % size !== 0n;
        if ((va & 0xfffn) + size > 0x1000n)
          throw new RangeError('an access crossing a 4 KiB page is not predicted');
        if (misaligned && act.acquire) {
          // LDAR/STLR need alignment (Arm ARM B2, "Alignment of data accesses"); with FEAT_LSE2 only
          // across a 16-byte boundary, SCTLR_EL1.nAA being 0 as the VMM sets it (AArch64.UnalignedAccessFaults).
          const crosses16 = (va & 15n) + size > 16n;
          const lse2 = input.lse2 ?? false;
          if (lse2 === 'unknown' && !crosses16)
            throw new RangeError(
              'an unaligned acquire/release inside 16 bytes on a core not known to have FEAT_LSE2 or not',
            );
          if (!lse2 || crosses16) {
            s1Abort(i, false, write, FSC.ALIGNMENT, va, lay.at, lay.end);
            return;
          }
        }
        const t = arm64Stage1(mmu, va, write ? 'write' : 'read', el);
        if (t.kind === 'fault') {
          s1Abort(i, false, write, t.fsc, va, lay.at, lay.end);
          return;
        }
        if (t.kind === 'walk') {
          walkFault(i, false, t.ipa, va, lay.at, lay.end);
          return;
        }
        if (misaligned && t.device) {
          s1Abort(i, false, write, FSC.ALIGNMENT, va, lay.at, lay.end, 'arm64.el1.alignment.device');
          return;
        }
        const ipa = t.ipa;
        const m = input.lookup(ipa);
        const allowed = m !== undefined && (m.flags & (write ? HV_MEMORY.WRITE : HV_MEMORY.READ)) !== 0;
        if (allowed) {
          if (write) writeRam(ipa, act.size, act.rt === 31 ? 0n : regs[act.rt]);
          else {
            const raw = readRam(ipa, act.size);
            setReg(
              act.rt,
              raw === undefined
                ? undefined
                : loadExtend(raw, act.size, act.op === 'ldr' ? act.signed : undefined),
            );
          }
          return;
        }
        const { fsc, mask } = fault(m?.flags);
        const signed = act.op === 'ldr' ? act.signed : undefined;
        exit({
          kind: `arm64.dabt.${write ? 'write' : 'read'}.${m ? 'permission' : 'unmapped'}`,
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrDataAbort({
            isv: true,
            sas: Math.log2(act.size),
            sse: signed !== undefined,
            srt: act.rt,
            sf: act.size === 8 || signed === 'x',
            ar: act.acquire ?? false,
            wnr: write,
            dfsc: fsc,
          }),
          syndromeMask: mask,
          virtual_address: va,
          physical_address: ipa,
          physicalAddressMask: PAGE_MASK_4K,
          pc: lay.at,
        });
        return;
      }
      case 'hvc':
      case 'smc': {
        if (el === 0) {
          undefinedAt(i, lay.at, lay.end);
          return;
        }
        // HVC has executed when it exits (PC past it), a trapped SMC has not (PC at it): hvf-facts.md §2.8 [T].
        const hvc = act.op === 'hvc';
        exit({
          kind: `arm64.${act.op}`,
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: hvc ? esrHvc64(act.imm) : esrSmc64(act.imm),
          syndromeMask: ALL32,
          pc: hvc ? lay.at + 4n : lay.at,
        });
        return;
      }
      case 'svc':
        guestException({
          kind: 'arm64.el1.svc',
          action: i,
          type: 0,
          esr: { value: esrSvc64(act.imm), mask: ALL32 },
          elr: lay.at + 4n,
          resume: lay.end,
        });
        return;
      case 'udf':
        undefinedAt(i, lay.at, lay.end);
        return;
      case 'wfi':
      case 'wfe': {
        const ti = act.op === 'wfi' ? 0 : 1;
        // A pending interrupt line wakes WFI: it does not wait, so it does not trap (Arm ARM, HCR_EL2.TWI).
        if (ti === 0 && pending) return;
        if (el === 0) {
          guestException({
            kind: ti === 0 ? 'arm64.el1.wfi' : 'arm64.el1.wfe',
            action: i,
            type: 0,
            esr: { value: esrWfx({ ti }), mask: WFX_MASK },
            elr: lay.at,
            resume: lay.end,
          });
          return;
        }
        exit({
          kind: ti === 0 ? 'arm64.wfi' : 'arm64.wfe',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrWfx({ ti }),
          syndromeMask: WFX_MASK,
          pc: lay.at,
        });
        return;
      }
      case 'brk':
        if (!trapDebug) {
          guestException({
            kind: 'arm64.el1.brk',
            action: i,
            type: 0,
            esr: { value: esrBrk64(act.imm & 0xffff), mask: ALL32 },
            elr: lay.at,
            resume: lay.end,
          });
          return;
        }
        exit({
          kind: 'arm64.brk',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrBrk64(act.imm & 0xffff),
          syndromeMask: ALL32,
          pc: lay.at,
        });
        return;
      case 'sysreg': {
        if (!act.read && act.value !== undefined && act.rt !== 31) setReg(act.rt, act.value);
        const name = act.reg ?? 'PMCR_EL0';
        const info = ARM64_SYSREGS[name];
        const fields = sysRegFields(info.enc);
        const dirOk = info.dir === 'rw' || (info.dir === 'r') === act.read;
        if (el === 0) {
          if (info.el0 === 'none') throw new RangeError(`${name} at EL0 is not predicted`);
          if (info.group === 'id' && act.read) {
            // An EL0 read of the ID space is UNDEFINED (EC 0x00), or with FEAT_IDST reported as a
            // trapped MRS (EC 0x18) — Arm ARM D19, ID_AA64MMFR2_EL1.IDS; whether Apple's cores have
            // it is not in the facts [U].
            const idst = input.idst ?? false;
            if (idst === 'unknown')
              throw new RangeError(
                'an EL0 read of the ID space on a core not known to have FEAT_IDST or not',
              );
            if (idst) {
              guestException({
                kind: 'arm64.el1.sysreg',
                action: i,
                type: 0,
                esr: { value: esrSysreg({ ...fields, rt: act.rt, read: true }), mask: ALL32 },
                elr: lay.at,
                resume: lay.end,
              });
              return;
            }
          }
          if (info.el0 === 'undef' || !dirOk) {
            undefinedAt(i, lay.at, lay.end);
            return;
          }
          // CNTKCTL_EL1 = 0 (the VMM's setting): EL0 counter and timer accesses trap to EL1.
          guestException({
            kind: 'arm64.el1.sysreg',
            action: i,
            type: 0,
            esr: { value: esrSysreg({ ...fields, rt: act.rt, read: act.read }), mask: ALL32 },
            elr: lay.at,
            resume: lay.end,
          });
          return;
        }
        if (!dirOk) {
          undefinedAt(i, lay.at, lay.end);
          return;
        }
        if (info.trap === 'debug' && !input.trapDebugRegs) {
          // Not trapped: the guest reads what the register holds (unknown here) or writes it. A write
          // that arms software step or breakpoints/watchpoints (MDSCR_EL1.SS, MDE) would make debug
          // exceptions the spec does not predict (Arm ARM D2); with both clear the other debug
          // registers have no effect.
          if (act.read) setReg(act.rt, undefined);
          else if (name === 'MDSCR_EL1') {
            const v = act.rt === 31 ? 0n : regs[act.rt];
            if (v === undefined || (v & MDSCR_SS_MDE) !== 0n)
              throw new RangeError('a write of MDSCR_EL1 that may set SS or MDE is not predicted');
          }
          return;
        }
        exit({
          kind: info.group === 'pmu' ? 'arm64.sysreg' : `arm64.sysreg.${info.group}`,
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrSysreg({ ...fields, rt: act.rt, read: act.read }),
          syndromeMask: ALL32,
          pc: lay.at,
        });
        return;
      }
      case 'branch': {
        const va = act.ipa;
        setReg(act.reg, va);
        if ((va & 3n) !== 0n) {
          // PC alignment is checked before the fetch (Arm ARM D1, "Synchronous exception
          // prioritization"): the same exception whether or not the fetch there would fault.
          const f = arm64Stage1(mmu, va & ~3n, 'fetch', el);
          const fetchable = f.kind === 'ok' && s2(f.ipa, HV_MEMORY.EXEC).ok;
          guestException({
            kind: fetchable ? 'arm64.el1.pc-alignment' : 'arm64.el1.pc-alignment.unfetchable',
            action: i,
            type: 0,
            esr: { value: esrNoIss(ARM64_EC.PC_ALIGNMENT), mask: ALL32 },
            elr: va,
            far: va,
            resume: lay.end,
          });
          return;
        }
        const t = arm64Stage1(mmu, va, 'fetch', el);
        if (t.kind === 'fault') {
          s1Abort(i, true, false, t.fsc, va, va, lay.end);
          return;
        }
        if (t.kind === 'walk') {
          walkFault(i, true, t.ipa, va, va, lay.end);
          return;
        }
        const m = input.lookup(t.ipa);
        if (m && (m.flags & HV_MEMORY.EXEC) !== 0) {
          if (va === lay.end) return; // a taken branch to the next action: no exit
          throw new RangeError('a branch into executable memory outside the program is not predicted');
        }
        const { fsc, mask } = fault(m?.flags);
        exit({
          kind: m ? 'arm64.iabt.permission' : 'arm64.iabt.unmapped',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrInstructionAbort({ ifsc: fsc }),
          syndromeMask: mask,
          virtual_address: va,
          physical_address: t.ipa,
          physicalAddressMask: PAGE_MASK_4K,
          // The branch completed; the fetch at the target faulted, so PC is the target.
          pc: va,
          resume: lay.end,
        });
        return;
      }
      case 'vtimer': {
        if (el === 0)
          throw new RangeError('the vtimer action at EL0 is not predicted (CNTKCTL_EL1 traps it)');
        // Retired instructions from the counter read to the first point where CNTVCT >= CVAL:
        // five set-up instructions, then the two-instruction wait loop (actions.ts).
        const n = Math.max(5, act.delta);
        exit({
          kind: 'arm64.vtimer',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED,
          syndrome: 0n,
          syndromeMask: 0n,
          pc: lay.at + BigInt(4 * ((n - 5) % 2)),
        });
        // After the VMM writes ENABLE|IMASK the loop reads ENABLE|IMASK|ISTATUS and falls through.
        setReg(16, input.exactClock === false ? undefined : 7n);
        setReg(17, 1n);
        return;
      }
      case 'daif': {
        if (el === 0) {
          // SCTLR_EL1.UMA = 0: MSR DAIFSet/DAIFClr at EL0 traps to EL1 (ISS: Op0 0, Op2, Op1 3, CRn 4, CRm = imm, Rt 31).
          const iss = esrSysreg({
            op0: 0,
            op1: 3,
            crn: 4,
            crm: act.imm,
            op2: act.set ? 6 : 7,
            rt: 31,
            read: false,
          });
          guestException({
            kind: 'arm64.el1.sysreg.daif',
            action: i,
            type: 0,
            esr: { value: iss, mask: ALL32 },
            elr: lay.at,
            resume: lay.end,
          });
          return;
        }
        daif = act.set ? daif | act.imm : daif & ~act.imm;
        interrupt(i, lay.end);
        return;
      }
      case 'eret': {
        if (el === 0)
          throw new RangeError('an eret action at EL0 is not predicted (ERET is UNDEFINED there)');
        setReg(act.reg, lay.end);
        if (act.to === 'illegal') {
          // Illegal exception return: EL and SP kept, DAIF and NZCV from SPSR, IL set; the next
          // instruction takes an Illegal Execution state exception.
          if (pending && (act.daif & 3) !== 3)
            throw new RangeError('an illegal return with a line pending and unmasked is not predicted');
          daif = act.daif;
          il = 1;
          guestException({
            kind: 'arm64.el1.illegal',
            action: i,
            type: 0,
            esr: { value: esrNoIss(ARM64_EC.ILLEGAL_STATE), mask: ALL32 },
            elr: lay.end,
            resume: lay.end,
          });
          return;
        }
        const spsr = eretSpsr(act);
        el = act.to === 'el0' ? 0 : 1;
        spsel = spsr & 1;
        daif = act.daif;
        fetchable(lay.end, codeEnd, el);
        interrupt(i, lay.end);
        return;
      }
    }
  });

  if (program.endsAtEl0) {
    // HVC is UNDEFINED at EL0: the end marker is an SVC, which the guest's vector reports.
    guestException({
      kind: 'arm64.end',
      action: input.actions.length,
      type: 0,
      esr: { value: esrSvc64(ARM64_END_MARKER_IMM), mask: ALL32 },
      elr: program.endMarker + 4n,
    });
  } else {
    exit({
      kind: 'arm64.end',
      action: input.actions.length,
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      syndrome: esrHvc64(ARM64_END_MARKER_IMM),
      syndromeMask: ALL32,
      pc: program.endMarker + 4n,
    });
  }
  const last = exits[exits.length - 1]!;
  return { program, exits, finalRegs: regs.slice(), finalPc: last.pc, ramWrites: ram, startCpsr };

  /** A stage-2 fault on a descriptor read of the stage-1 walk: an exit with S1PTW = 1. */
  function walkFault(
    action: number,
    fetch: boolean,
    descIpa: bigint,
    va: bigint,
    pc: bigint,
    resume: bigint,
  ): void {
    const m = input.lookup(descIpa);
    if (m !== undefined && (m.flags & HV_MEMORY.READ) !== 0)
      throw new RangeError('a table descriptor pointing at readable memory is not predicted');
    const { fsc, mask } = fault(m?.flags);
    exit({
      kind: 'arm64.s1ptw',
      action,
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      syndrome: fetch
        ? esrInstructionAbort({ ifsc: fsc, s1ptw: true })
        : esrDataAbortNoSyndrome({ wnr: false, dfsc: fsc, s1ptw: true }),
      syndromeMask: mask & ~(1n << 6n),
      virtual_address: va,
      physical_address: descIpa,
      physicalAddressMask: PAGE_MASK_4K,
      pc,
      resume,
    });
  }
}

/** The EL1 system registers of a report, as the VMM reads them back with hv_vcpu_get_sys_reg. */
function guestSysReg(g: Arm64GuestException | undefined, reg: number): bigint | undefined {
  if (g === undefined) return undefined;
  switch (reg) {
    case HV_SYS_REG.HV_SYS_REG_ESR_EL1:
      return g.esr?.value;
    case HV_SYS_REG.HV_SYS_REG_ELR_EL1:
      return g.elr;
    case HV_SYS_REG.HV_SYS_REG_SPSR_EL1:
      return g.spsr;
    case HV_SYS_REG.HV_SYS_REG_FAR_EL1:
      return g.far;
    default:
      return undefined;
  }
}
