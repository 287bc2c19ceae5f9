/**
 * The spec's prediction of what an arm64 guest program does: the exact sequence of `hv_vcpu_run`
 * exits (reason, ESR, FAR, IPA, PC), what the VMM does after each (vmm.ts), the values the guest
 * writes to MMIO and trapped registers, and the registers at the end.
 *
 * It works from the actions, never from machine code: each action knows which of its instructions
 * can exit and why. The model's interpreter (packages/model/src/arm64) decodes the assembled bytes
 * instead; the two are checked against each other.
 *
 * Evidence and choices:
 * - ESR fields, PC rules: hvf-facts.md §2.8 [T]; IL = 1 for every A64 instruction (Arm ARM).
 * - Fault level: an unmapped IPA is reported as a translation fault at level 3 and a denied access as
 *   a permission fault at level 3. The real level depends on the shape of the framework's stage-2
 *   tables [U], so `syndromeMask` leaves DFSC/IFSC bits[1:0] out; for a mapping with no permissions
 *   at all (flags 0), whether the framework keeps a valid descriptor (permission fault) or removes it
 *   (translation fault) is also [U] and bits[3:0] are left out.
 * - FAR (`virtual_address`) is the byte address of the access (MMU off: VA = IPA). The IPA
 *   (`physical_address`): hardware reports the faulting page in HPFAR_EL2 (IPA[47:12]); whether HVF
 *   fills in the low 12 bits is not in the facts [U] (QEMU passes the field straight to its MMIO
 *   dispatch, which suggests a byte address). The spec predicts the byte address and
 *   `physicalAddressMask` = ~0xfff says what hardware must match.
 * - WFI: EC, IL and TI are checked; CV/COND are predicted as the Arm ARM's AArch64 values (1, 0b1110)
 *   but masked out [U].
 * - Virtual time: the model's documented clock, not a claim about hardware (see {@link ARM64_CLOCK_RULE}).
 * @module
 */

import { FSC, HV_EXIT_REASON } from '../../vocabulary/arm64.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { ARM64_SYSREG_ENC, type Arm64Action } from './actions.js';
import { type Arm64Program, assembleArm64 } from './assemble.js';
import {
  decodeEsr,
  esrBrk64,
  esrDataAbort,
  esrHvc64,
  esrInstructionAbort,
  esrSysreg,
  esrWfx,
  sysRegFields,
} from './esr.js';
import {
  type Arm64ExitKind,
  type Arm64VmmDecision,
  type Arm64VmmQuery,
  arm64VmmException,
  arm64VmmStep,
} from './vmm.js';

/**
 * The model's virtual clock, which the prediction follows: the counter advances by 1 for every
 * instruction the guest retires (one whose effect the guest completed, including HVC; an instruction
 * that exits to the VMM for emulation — aborts, WFI, trapped MSR/MRS, BRK — does not retire in the
 * guest). CNTVCT_EL0 = counter − vtimer offset. Before each instruction, if the vtimer is not masked
 * and CNTV_CTL_EL0.ENABLE && !IMASK && CNTVCT >= CNTV_CVAL_EL0, the run stops with VTIMER_ACTIVATED
 * and PC at that instruction. On hardware the counter runs on its own; the harness then only checks
 * that the exit happens.
 */
export const ARM64_CLOCK_RULE =
  'counter += 1 per retired instruction; vtimer checked before each instruction';

/** A mapping as the prediction needs it. */
export type Arm64MappingLookup = (ipa: bigint) => { readonly flags: number } | undefined;

/** Inputs of {@link predictArm64}. */
export interface Arm64PredictInput {
  readonly actions: readonly Arm64Action[];
  /** IPA the program is loaded at (4-byte aligned, in an executable mapping). */
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
  /** Instruction abort: where the VMM resumes. */
  readonly iabtResume?: bigint;
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
}

const PAGE_MASK_4K = ~0xfffn;
const ALL32 = 0xffffffffn;

function loadExtend(raw: bigint, size: number, signed: 'w' | 'x' | undefined): bigint {
  if (!signed) return BigInt.asUintN(size * 8, raw);
  const sx = BigInt.asUintN(64, BigInt.asIntN(size * 8, raw));
  return signed === 'w' ? BigInt.asUintN(32, sx) : sx;
}

/** Predicts the exits of a program. Throws RangeError for a program outside what the spec predicts. */
export function predictArm64(input: Arm64PredictInput): Arm64Prediction {
  const program = assembleArm64(input.actions, input.codeIpa);
  const regs: (bigint | undefined)[] = Array.from({ length: 31 }, (_, i) => input.initialRegs?.[i]);
  const ram = new Map<bigint, number | undefined>();
  const exits: Arm64PredictedExit[] = [];
  const codeEnd = program.base + BigInt(program.bytes.length);

  for (let a = program.base; a < codeEnd; a += 4n) {
    const m = input.lookup(a);
    if (!m || (m.flags & HV_MEMORY.EXEC) === 0)
      throw new RangeError(`code at 0x${a.toString(16)} is not in an executable mapping`);
  }

  const readByte = (ipa: bigint): number | undefined => {
    if (ram.has(ipa)) return ram.get(ipa);
    if (ipa >= program.base && ipa < codeEnd) return program.bytes[Number(ipa - program.base)];
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
    if (ipa + BigInt(size) > program.base && ipa < codeEnd)
      throw new RangeError('a store into the program itself is not predicted');
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

  /** Records an exit and applies the VMM's response to the predicted registers. */
  const exit = (e: Omit<Arm64PredictedExit, 'index' | 'vmm'> & { iabtResume?: bigint }): Arm64VmmDecision => {
    const index = exits.length;
    let vmm: Arm64VmmDecision;
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      vmm = arm64VmmException(decodeEsr(e.syndrome), {
        pc: e.pc,
        reg: (n) => regs[n],
        answer: (q) => input.answer(index, q.kind === 'mmio' ? { ...q, ipa: e.physical_address ?? 0n } : q),
        ...(e.iabtResume !== undefined ? { iabtResume: e.iabtResume } : {}),
      });
      if (vmm.kind !== e.kind)
        throw new Error(`internal: predicted ${e.kind} but the VMM classifies ${vmm.kind}`);
    } else {
      // CANCELED and VTIMER_ACTIVATED: the same VMM step a runner takes on the real exit record.
      const none = { syndrome: 0n, virtual_address: 0n, physical_address: 0n };
      vmm = arm64VmmStep(
        { reason: e.reason, exception: none },
        { pc: e.pc, reg: (n) => regs[n], answer: () => 0n },
      );
    }
    for (const r of vmm.setRegs) if (r.reg < 31) setReg(r.reg, r.value);
    exits.push({ ...e, index, vmm });
    return vmm;
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

  input.actions.forEach((act, i) => {
    const lay = program.layout[i]!;
    switch (act.op) {
      case 'mov':
        setReg(act.rd, act.value);
        return;
      case 'ldr':
      case 'str': {
        if (act.ipa % BigInt(act.size) !== 0n)
          throw new RangeError('unaligned access: an alignment fault at EL1 with the MMU off, not an exit');
        setReg(act.base, act.ipa - BigInt(act.offset ?? 0));
        if (act.op === 'str' && act.value !== undefined && act.rt !== 31) setReg(act.rt, act.value);
        const m = input.lookup(act.ipa);
        const write = act.op === 'str';
        const allowed = m !== undefined && (m.flags & (write ? HV_MEMORY.WRITE : HV_MEMORY.READ)) !== 0;
        if (allowed) {
          if (write) writeRam(act.ipa, act.size, act.rt === 31 ? 0n : regs[act.rt]);
          else {
            const raw = readRam(act.ipa, act.size);
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
          virtual_address: act.ipa,
          physical_address: act.ipa,
          physicalAddressMask: PAGE_MASK_4K,
          pc: lay.at,
        });
        return;
      }
      case 'hvc':
        exit({
          kind: 'arm64.hvc',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrHvc64(act.imm),
          syndromeMask: ALL32,
          pc: lay.at + 4n,
        });
        return;
      case 'wfi':
        exit({
          kind: 'arm64.wfi',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrWfx({ ti: 0 }),
          syndromeMask: 0xfe000003n,
          pc: lay.at,
        });
        return;
      case 'brk':
        exit({
          kind: 'arm64.brk',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrBrk64(act.imm & 0xffff),
          syndromeMask: ALL32,
          pc: lay.at,
        });
        return;
      case 'sysreg':
        if (!act.read && act.value !== undefined && act.rt !== 31) setReg(act.rt, act.value);
        exit({
          kind: 'arm64.sysreg',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrSysreg({ ...sysRegFields(ARM64_SYSREG_ENC.PMCR_EL0), rt: act.rt, read: act.read }),
          syndromeMask: ALL32,
          pc: lay.at,
        });
        return;
      case 'branch': {
        setReg(act.reg, act.ipa);
        if ((act.ipa & 3n) !== 0n)
          throw new RangeError('unaligned branch target: a PC alignment fault at EL1, not an exit');
        const m = input.lookup(act.ipa);
        if (m && (m.flags & HV_MEMORY.EXEC) !== 0) {
          if (act.ipa === lay.end) return; // a taken branch to the next action: no exit
          throw new RangeError('a branch into executable memory outside the program is not predicted');
        }
        const { fsc, mask } = fault(m?.flags);
        exit({
          kind: m ? 'arm64.iabt.permission' : 'arm64.iabt.unmapped',
          action: i,
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          syndrome: esrInstructionAbort({ ifsc: fsc }),
          syndromeMask: mask,
          virtual_address: act.ipa,
          physical_address: act.ipa,
          physicalAddressMask: PAGE_MASK_4K,
          // The branch completed; the fetch at the target faulted, so PC is the target.
          pc: act.ipa,
          iabtResume: lay.end,
        });
        return;
      }
      case 'vtimer': {
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
    }
  });

  const endPc = program.endMarker + 4n;
  exit({
    kind: 'arm64.end',
    action: input.actions.length,
    reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
    syndrome: esrHvc64(0xffff),
    syndromeMask: ALL32,
    pc: endPc,
  });
  return { program, exits, finalRegs: regs.slice(), finalPc: endPc, ramWrites: ram };
}
