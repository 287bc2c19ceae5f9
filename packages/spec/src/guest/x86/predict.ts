/**
 * The spec's prediction for an x86 guest program: the exact sequence of exits a backend must produce
 * when a VMM runs the program under the canonical `prot32` setup, what the VMM does after each, and
 * the final registers and memory. It works at the level of actions (what each action means), and uses
 * the assembler only for where each instruction is (RIP) and how long it is.
 *
 * Facts it encodes (hvf-facts.md):
 * - RIP stays at the exiting instruction; the VMM advances it (§1.7 [T]).
 * - I/O exits: reason 30, qualification per §1.6 [T], instruction length defined; data in RAX.
 * - HLT exits: reason 12 (CPU_BASED_HLT requested, §1.8 [T]); qualification 0 (Intel SDM: "for all
 *   other VM exits, this field is cleared"); instruction length 1.
 * - EPT violations: reason 48, GPA in VMCS_GUEST_PHYSICAL_ADDRESS, access bit + the GPA's permission
 *   bits + bits 7 and 8 (the GLA is valid and is the linear address that was translated: with paging
 *   off every access is one) (§1.6 [T]; bits 6 and 9–11 are host dependent, see
 *   {@link EPT_QUALIFICATION_MASK}). The instruction length is not defined for EPT violations and is
 *   not predicted; the VMM decodes the instruction itself, which the prediction carries as `vmmAdvance`.
 * - An access needs READ (load), WRITE (store) or EXEC (fetch) in the mapping's flags, as the API
 *   documents the flags [H]; an access the mapping allows does not exit.
 * - `ud2` raises #UD (vector 6, a fault). With bit 6 of VMCS_CTRL_EXC_BITMAP set (the canonical
 *   0xffffffff, §1.8 [T]) it exits with reason 0, VMCS_RO_VMEXIT_IRQ_INFO = valid | hardware exception
 *   (type 3) | vector 6 = 0x80000306 (no error code: Intel SDM Table 6-1), qualification 0 (Intel SDM:
 *   only #DB and #PF exits define one; "for all other VM exits, this field is cleared") and RIP at the
 *   ud2 (a fault). The XNU test checks the same layout for #PF: `IRQ_INFO & 0x800003ff == 0x8000030e`
 *   (§1.8 [T]). Bit 12 of IRQ_INFO is not compared (`VMEXIT_IRQ_INFO_MASK`, exits.ts). The instruction
 *   length is saved only for software exceptions and interrupts (Intel SDM "VM-Exit Instruction
 *   Length"), so for #UD it is not predicted [U]; the VMM knows the ud2 is two bytes (`vmmAdvance`)
 *   and skips it.
 * - With bit 6 clear the guest delivers #UD through its IDT. The canonical IDTR limit 0 cannot hold
 *   vector 6's gate, so delivery raises #GP; with the #GP gate out of the limit too the #GP becomes a
 *   #DF, and #DF's failure is a triple fault (Intel SDM Vol. 3 §6.15, "Interrupt 8"): reason 2,
 *   qualification 0, and the vCPU is in shutdown, so the prediction ends there. Only with an exception
 *   bitmap that has none of bits 6, 8, 13 is that the whole story; another bitmap is `unspecified`. RIP
 *   after a triple fault is not predicted [U]; the GPRs are, since failed deliveries push nothing.
 *
 * Cases the spec does not predict (the prediction stops with `unspecified`): a mapping with WRITE but
 * not READ (an EPT misconfiguration in hardware terms; what HVF does with it is unknown [U]); a store
 * into the program's own code; a jump to executable memory outside the program (the spec does not
 * model what is there); a jump into the middle of the program.
 * @module
 */
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { VMX_REASON } from '../../vocabulary/x86.js';
import { X86_END_PORT, X86_GPRS, type X86Gpr, type X86Program, type X86Size } from './actions.js';
import { assembleX86, type X86Assembly } from './assemble.js';
import {
  EPT_QUALIFICATION_MASK,
  type EptAccess,
  eptQualification,
  interruptionInfo,
  ioQualification,
} from './exits.js';

/** Names of the exit kinds the harness reports as covered. */
export type X86ExitKind =
  | 'x86.io.out.imm8'
  | 'x86.io.out.dx'
  | 'x86.io.in.imm8'
  | 'x86.io.in.dx'
  | 'x86.hlt'
  | 'x86.ept.read.unmapped'
  | 'x86.ept.read.denied'
  | 'x86.ept.write.unmapped'
  | 'x86.ept.write.readonly'
  | 'x86.ept.write.denied'
  | 'x86.ept.fetch.unmapped'
  | 'x86.ept.fetch.noexec'
  | 'x86.exception.ud'
  | 'x86.triple-fault'
  | 'x86.end';

/**
 * Every exit kind, for coverage reports. `x86.triple-fault` needs an exception bitmap without the
 * faulting vector's bit (the scenario option `excBitmap: 0`): under the canonical setup every exception
 * exits with reason 0 first.
 */
export const X86_EXIT_KINDS: readonly X86ExitKind[] = [
  'x86.io.out.imm8',
  'x86.io.out.dx',
  'x86.io.in.imm8',
  'x86.io.in.dx',
  'x86.hlt',
  'x86.ept.read.unmapped',
  'x86.ept.read.denied',
  'x86.ept.write.unmapped',
  'x86.ept.write.readonly',
  'x86.ept.write.denied',
  'x86.ept.fetch.unmapped',
  'x86.ept.fetch.noexec',
  'x86.exception.ud',
  'x86.triple-fault',
  'x86.end',
];

/** The hv_x86_reg_t names of the registers a prediction talks about. */
export type X86RegName = 'RAX' | 'RCX' | 'RDX' | 'RBX' | 'RSP' | 'RBP' | 'RSI' | 'RDI';
const REG_NAME: Record<X86Gpr, X86RegName> = {
  eax: 'RAX',
  ecx: 'RCX',
  edx: 'RDX',
  ebx: 'RBX',
  esp: 'RSP',
  ebp: 'RBP',
  esi: 'RSI',
  edi: 'RDI',
};

/** A question the VMM answers: the value an IN or an emulated MMIO load returns. */
export type X86VmmQuestion =
  | { readonly kind: 'in'; readonly port: number; readonly size: X86Size; readonly exitIndex: number }
  | { readonly kind: 'mmio-read'; readonly gpa: bigint; readonly size: X86Size; readonly exitIndex: number };

/** A deterministic VMM: a value derived from the question (so a trace can state it), masked to the size. */
export function defaultX86Answer(q: X86VmmQuestion): number {
  const key = q.kind === 'in' ? q.port | 0x10000 : Number(q.gpa & 0xffff_ffffn);
  const v = (Math.imul(key ^ 0x9e37_79b9, 0x85eb_ca6b) ^ Math.imul(q.exitIndex + 1, 0x0100_0193)) >>> 0;
  return maskTo(v, q.size);
}

/** One predicted exit and the VMM's answer to it. */
export interface X86ExpectedExit {
  readonly kind: X86ExitKind;
  /** Index of the action that exits (`actions.length` for the end marker). */
  readonly actionIndex: number;
  /** Basic exit reason (VMCS_RO_EXIT_REASON low 16 bits; bit 31 clear). */
  readonly reason: number;
  /** VMCS_RO_EXIT_QUALIFIC, compared under `qualificationMask`. */
  readonly qualification: bigint;
  readonly qualificationMask: bigint;
  /** VMCS_GUEST_PHYSICAL_ADDRESS (EPT violations only). */
  readonly gpa?: bigint;
  /** VMCS_RO_GUEST_LIN_ADDR (EPT violations only; = GPA with paging off). */
  readonly gla?: bigint;
  /** VMCS_RO_VMEXIT_INSTR_LEN (I/O and HLT only; undefined for EPT violations and hardware exceptions). */
  readonly instrLen?: number;
  /** VMCS_RO_VMEXIT_IRQ_INFO (exception exits, reason 0, only), compared under `VMEXIT_IRQ_INFO_MASK`. */
  readonly irqInfo?: number;
  /** RIP at the exit: the exiting instruction (undefined: not predicted, after a triple fault [U]). */
  readonly rip?: bigint;
  /** Low 32 bits of the registers that matter at this exit. */
  readonly regs: Partial<Record<X86RegName, number>>;
  /** EPT data accesses and exceptions: the length of the instruction as the VMM's own decoder finds it. */
  readonly vmmAdvance?: number;
  /** The registers the VMM writes before resuming (low 32 bits; the VMM writes them zero-extended). */
  readonly vmmRegs: Partial<Record<X86RegName, number>>;
  /** The RIP the VMM writes before resuming (absent after the end marker and a triple fault). */
  readonly vmmRip?: bigint;
  /** The `hv_memory_flags_t` of the mapping the access touched (undefined: unmapped or no data access). */
  readonly touchedFlags?: number;
}

/** The prediction for a whole program. */
export interface X86Prediction {
  readonly assembly: X86Assembly;
  /** The exits in order; the last is the end marker unless `unspecified` or `stopped` is set. */
  readonly exits: readonly X86ExpectedExit[];
  /** Set when the spec does not predict what comes after `exits`. */
  readonly unspecified?: { readonly actionIndex: number; readonly reason: string };
  /** Set when the run cannot continue (the code itself faulted): the VMM stops after the last exit. */
  readonly stopped?: string;
  /** Final low-32-bit values of the eight GPRs (when the end marker is reached). */
  readonly finalRegs: Record<X86RegName, number>;
  /** Final bytes of every range a load or store reached without exiting, merged, in GPA order. */
  readonly memory: ReadonlyArray<{ readonly gpa: bigint; readonly bytes: Uint8Array }>;
  /** Flags of every mapping an access (data or fetch) touched, for backends with permission deviations. */
  readonly touchedFlags: readonly number[];
}

/** What the prediction needs to know. */
export interface X86PredictInput {
  readonly program: X86Program;
  /** The GPA the code is loaded at (RIP starts here). */
  readonly gpa: bigint;
  /** Initial low 32 bits of the GPRs (missing = 0). */
  readonly regs?: Partial<Record<X86Gpr, number>>;
  /** The mapping covering a GPA (page granular), or undefined when unmapped. */
  readonly lookup: (gpa: bigint) => { readonly flags: number } | undefined;
  /** Guest memory before the run, outside the program's code (missing = 0, as fresh host buffers are zeroed). */
  readonly initialByte?: (gpa: bigint) => number;
  /** The VMM's answers; default {@link defaultX86Answer}. */
  readonly answer?: (q: X86VmmQuestion) => number;
  /** VMCS_CTRL_EXC_BITMAP as the VMM set it (default: the canonical 0xffffffff); the IDTR limit is the setup's 0. */
  readonly excBitmap?: number;
}

const PAGE = 4096n;
const UD = 6;
const DF = 8;
const GP = 13;
const IO_MASK = 0xffff_ffff_ffff_ffffn;

function maskTo(v: number, size: X86Size): number {
  return size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff);
}

/** Merges `size` low bytes of `value` into `old`, as a write to AL/AX/EAX does. */
function mergeLow(old: number, value: number, size: X86Size): number {
  if (size === 4) return value >>> 0;
  const mask = size === 1 ? 0xff : 0xffff;
  return ((old & ~mask) | (value & mask)) >>> 0;
}

interface Fault {
  readonly gpa: bigint;
  readonly mapped: boolean;
  readonly perms: number;
}

class Unspecified {
  constructor(readonly reason: string) {}
}

/** Predicts the run of `input.program`. Throws TypeError for a malformed program (see `assembleX86`). */
export function predictX86(input: X86PredictInput): X86Prediction {
  const asm = assembleX86(input.program, input.gpa);
  const actions = input.program.actions;
  const answer = input.answer ?? defaultX86Answer;
  const excBitmap = (input.excBitmap ?? 0xffff_ffff) >>> 0;
  const intercepted = (v: number): boolean => ((excBitmap >>> v) & 1) === 1;
  const codeStart = input.gpa;
  const codeEnd = input.gpa + BigInt(asm.bytes.length);
  const regs: Record<X86Gpr, number> = { eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0, ebp: 0, esi: 0, edi: 0 };
  for (const r of X86_GPRS) regs[r] = (input.regs?.[r] ?? 0) >>> 0;
  const written = new Map<bigint, number>();
  const touchedRanges: Array<[bigint, number]> = [];
  const touched = new Set<number>();
  const exits: X86ExpectedExit[] = [];

  const byteAt = (g: bigint): number => {
    const w = written.get(g);
    if (w !== undefined) return w;
    if (g >= codeStart && g < codeEnd) return asm.bytes[Number(g - codeStart)]!;
    return (input.initialByte?.(g) ?? 0) & 0xff;
  };

  /** Checks an access byte range page by page; the first page that denies it is the fault. */
  const check = (gpa: bigint, size: number, access: EptAccess): Fault | undefined => {
    let g = gpa;
    const end = gpa + BigInt(size);
    while (g < end) {
      const m = input.lookup(g);
      if (m) {
        touched.add(m.flags);
        if (m.flags & HV_MEMORY.WRITE && !(m.flags & HV_MEMORY.READ)) {
          throw new Unspecified(
            `GPA 0x${g.toString(16)} is mapped WRITE without READ (an EPT misconfiguration; HVF's behaviour is unknown [U])`,
          );
        }
      }
      const need = access === 'read' ? HV_MEMORY.READ : access === 'write' ? HV_MEMORY.WRITE : HV_MEMORY.EXEC;
      if (!m || !(m.flags & need)) return { gpa: g, mapped: m !== undefined, perms: m ? m.flags : 0 };
      g = (g / PAGE + 1n) * PAGE;
    }
    return undefined;
  };

  const tracked = (...names: X86Gpr[]): Partial<Record<X86RegName, number>> => {
    const out: Partial<Record<X86RegName, number>> = {};
    for (const n of names) out[REG_NAME[n]] = regs[n];
    return out;
  };

  const eptExit = (
    i: number,
    access: EptAccess,
    f: Fault,
    rip: bigint,
    extra: {
      vmmAdvance?: number;
      vmmRegs?: Partial<Record<X86RegName, number>>;
      vmmRip: bigint;
      regs: Partial<Record<X86RegName, number>>;
    },
  ): X86ExpectedExit => {
    let kind: X86ExitKind;
    if (!f.mapped) kind = `x86.ept.${access}.unmapped`;
    else if (access === 'fetch') kind = 'x86.ept.fetch.noexec';
    else if (access === 'write' && f.perms & HV_MEMORY.READ) kind = 'x86.ept.write.readonly';
    else kind = `x86.ept.${access}.denied`;
    return {
      kind,
      actionIndex: i,
      reason: VMX_REASON.VMX_REASON_EPT_VIOLATION,
      qualification: eptQualification({ access, perms: f.perms & 7, glaValid: true, glaTranslated: true }),
      qualificationMask: EPT_QUALIFICATION_MASK,
      gpa: f.gpa,
      gla: f.gpa,
      rip,
      regs: extra.regs,
      ...(extra.vmmAdvance !== undefined ? { vmmAdvance: extra.vmmAdvance } : {}),
      vmmRegs: extra.vmmRegs ?? {},
      vmmRip: extra.vmmRip,
      ...(f.mapped ? { touchedFlags: f.perms } : {}),
    };
  };

  let unspecified: { actionIndex: number; reason: string } | undefined;
  let stopped: string | undefined;
  let i = 0;
  try {
    loop: for (;;) {
      const isEnd = i === actions.length;
      const start = isEnd ? asm.end.offset : asm.actions[i]!.start;
      const main = isEnd ? asm.end : asm.actions[i]!.main;
      // Instruction fetches of the action: a setup instruction (if any), then the main one.
      const instrs: Array<[number, number]> =
        start < main.offset
          ? [
              [start, main.offset - start],
              [main.offset, main.length],
            ]
          : [[main.offset, main.length]];
      let fetchFault: { f: Fault; rip: bigint } | undefined;
      for (const [off, len] of instrs) {
        const f = check(codeStart + BigInt(off), len, 'fetch');
        if (f) {
          fetchFault = { f, rip: codeStart + BigInt(off) };
          break;
        }
        // A setup instruction that fetched fine has executed before the main one is fetched.
        if (off !== main.offset) {
          const a = actions[i]!;
          if (a.op === 'load' || a.op === 'store') regs.ebx = Number(a.gpa);
          else if (a.op === 'in' || a.op === 'out') regs.edx = a.port;
        }
      }
      if (fetchFault) {
        const e = eptExit(i, 'fetch', fetchFault.f, fetchFault.rip, {
          vmmRip: fetchFault.rip,
          regs: tracked('eax'),
        });
        const { vmmRip: _drop, ...rest } = e;
        exits.push(rest);
        stopped = `the program's own code at 0x${fetchFault.f.gpa.toString(16)} is not executable`;
        break;
      }
      const rip = codeStart + BigInt(main.offset);
      const next = rip + BigInt(main.length);
      if (isEnd) {
        exits.push({
          kind: 'x86.end',
          actionIndex: i,
          reason: VMX_REASON.VMX_REASON_IO,
          qualification: ioQualification({
            size: 1,
            in: false,
            string: false,
            rep: false,
            imm: true,
            port: X86_END_PORT,
          }),
          qualificationMask: IO_MASK,
          instrLen: main.length,
          rip,
          regs: tracked(...X86_GPRS),
          vmmRegs: {},
        });
        break;
      }
      const a = actions[i]!;
      switch (a.op) {
        case 'mov':
          regs[a.reg] = a.value >>> 0;
          i++;
          break;
        case 'hlt':
          exits.push({
            kind: 'x86.hlt',
            actionIndex: i,
            reason: VMX_REASON.VMX_REASON_HLT,
            qualification: 0n,
            qualificationMask: IO_MASK,
            instrLen: main.length,
            rip,
            regs: tracked('eax'),
            vmmRegs: {},
            vmmRip: next,
          });
          i++;
          break;
        case 'in':
        case 'out': {
          const isIn = a.op === 'in';
          const exitIndex = exits.length;
          const vmmRegs: Partial<Record<X86RegName, number>> = {};
          const atExit = a.form === 'dx' ? tracked('eax', 'edx') : tracked('eax');
          if (isIn) {
            const v = maskTo(answer({ kind: 'in', port: a.port, size: a.size, exitIndex }) >>> 0, a.size);
            regs.eax = mergeLow(regs.eax, v, a.size);
            vmmRegs.RAX = regs.eax;
          }
          exits.push({
            kind: `x86.io.${a.op}.${a.form}`,
            actionIndex: i,
            reason: VMX_REASON.VMX_REASON_IO,
            qualification: ioQualification({
              size: a.size,
              in: isIn,
              string: false,
              rep: false,
              imm: a.form === 'imm8',
              port: a.port,
            }),
            qualificationMask: IO_MASK,
            instrLen: main.length,
            rip,
            regs: atExit,
            vmmRegs,
            vmmRip: next,
          });
          i++;
          break;
        }
        case 'load':
        case 'store': {
          const isLoad = a.op === 'load';
          const access: EptAccess = isLoad ? 'read' : 'write';
          const atExit = a.via === 'ebx' ? tracked('eax', 'ebx') : tracked('eax');
          const f = check(a.gpa, a.size, access);
          if (f) {
            const vmmRegs: Partial<Record<X86RegName, number>> = {};
            if (isLoad) {
              const v = maskTo(
                answer({ kind: 'mmio-read', gpa: a.gpa, size: a.size, exitIndex: exits.length }) >>> 0,
                a.size,
              );
              regs.eax = mergeLow(regs.eax, v, a.size);
              vmmRegs.RAX = regs.eax;
            }
            exits.push(
              eptExit(i, access, f, rip, { vmmAdvance: main.length, vmmRegs, vmmRip: next, regs: atExit }),
            );
          } else if (isLoad) {
            let v = 0;
            for (let k = a.size - 1; k >= 0; k--) v = (v * 256 + byteAt(a.gpa + BigInt(k))) >>> 0;
            regs.eax = mergeLow(regs.eax, v, a.size);
            touchedRanges.push([a.gpa, a.size]);
          } else {
            if (a.gpa < codeEnd && a.gpa + BigInt(a.size) > codeStart)
              throw new Unspecified(
                "a store into the program's own code (self-modifying code is not modelled)",
              );
            for (let k = 0; k < a.size; k++) written.set(a.gpa + BigInt(k), (regs.eax >>> (8 * k)) & 0xff);
            touchedRanges.push([a.gpa, a.size]);
          }
          i++;
          break;
        }
        case 'ud2': {
          if (intercepted(UD)) {
            exits.push({
              kind: 'x86.exception.ud',
              actionIndex: i,
              reason: VMX_REASON.VMX_REASON_EXC_NMI,
              qualification: 0n,
              qualificationMask: IO_MASK,
              irqInfo: interruptionInfo({ vector: UD, type: 'hardware-exception', errorCodeValid: false }),
              rip,
              regs: tracked('eax'),
              vmmAdvance: main.length,
              vmmRegs: {},
              vmmRip: next,
            });
            i++;
            break;
          }
          if (intercepted(GP) || intercepted(DF))
            throw new Unspecified(
              `#UD goes to the guest but VMCS_CTRL_EXC_BITMAP 0x${excBitmap.toString(16)} intercepts #GP or #DF on the way to the triple fault (not modelled)`,
            );
          exits.push({
            kind: 'x86.triple-fault',
            actionIndex: i,
            reason: VMX_REASON.VMX_REASON_TRIPLE_FAULT,
            qualification: 0n,
            qualificationMask: IO_MASK,
            regs: tracked(...X86_GPRS),
            vmmRegs: {},
          });
          stopped = 'triple fault: the vCPU is in shutdown';
          break loop;
        }
        case 'jump': {
          if ('action' in a.target) {
            i = a.target.action;
            break;
          }
          const t = a.target.gpa;
          if (t >= codeStart && t < codeEnd) {
            const k = asm.actions.findIndex((p) => codeStart + BigInt(p.start) === t);
            if (t === codeStart + BigInt(asm.end.offset)) i = actions.length;
            else if (k > i) i = k;
            else
              throw new Unspecified(
                `a jump to 0x${t.toString(16)}, inside the program but not at a later action`,
              );
            break;
          }
          const f = check(t, 1, 'fetch');
          if (!f)
            throw new Unspecified(
              `a jump to executable memory at 0x${t.toString(16)} outside the program (its contents are not modelled)`,
            );
          // The VMM cannot run unmapped code; it resumes the program at the next action.
          exits.push(eptExit(i, 'fetch', f, t, { vmmRip: next, regs: tracked('eax') }));
          i++;
          break;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Unspecified)) throw e;
    unspecified = { actionIndex: i, reason: e.reason };
  }

  const finalRegs = {} as Record<X86RegName, number>;
  for (const r of X86_GPRS) finalRegs[REG_NAME[r]] = regs[r];
  return {
    assembly: asm,
    exits,
    ...(unspecified ? { unspecified } : {}),
    ...(stopped ? { stopped } : {}),
    finalRegs,
    memory: mergeRanges(touchedRanges).map(([g, n]) => ({
      gpa: g,
      bytes: Uint8Array.from({ length: n }, (_, k) => byteAt(g + BigInt(k))),
    })),
    touchedFlags: [...touched].sort((x, y) => x - y),
  };
}

function mergeRanges(ranges: Array<[bigint, number]>): Array<[bigint, number]> {
  const sorted = [...ranges].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Array<[bigint, number]> = [];
  for (const [g, n] of sorted) {
    const last = out[out.length - 1];
    if (last && g <= last[0] + BigInt(last[1])) {
      const end = g + BigInt(n) > last[0] + BigInt(last[1]) ? g + BigInt(n) : last[0] + BigInt(last[1]);
      last[1] = Number(end - last[0]);
    } else out.push([g, n]);
  }
  return out;
}
