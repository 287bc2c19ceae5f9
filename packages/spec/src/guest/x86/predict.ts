/**
 * The spec's prediction for an x86 guest program: the exact sequence of exits a backend must produce
 * when a VMM runs the program under a canonical setup (`setup.ts`), what the VMM does after each, and
 * the final registers and memory. It works at the level of actions (what each action means), and uses
 * the assembler only for where each instruction is (RIP) and how long it is.
 *
 * Facts it encodes (hvf-facts.md; Intel SDM Vol. 3 chapters 25–28 for VMX, chapter 6 for events):
 * - RIP stays at the exiting instruction; the VMM advances it (§1.7 [T]). In real mode RIP is the
 *   offset in CS (CS.base + RIP is the linear address).
 * - I/O exits: reason 30, qualification per §1.6 [T], instruction length defined; data in RAX. String
 *   I/O (INS/OUTS) sets bit 4, REP bit 5, never bit 6 (the port is in DX), and VMCS_RO_GUEST_LIN_ADDR is
 *   the linear address of the memory operand (SDM §28.2.1); it exits before touching memory. The spec's
 *   VMM completes a string instruction without transferring data: RSI/RDI advance by size × count,
 *   RCX becomes 0 under REP.
 * - HLT exits: reason 12 when VMCS_CTRL_CPU_BASED has CPU_BASED_HLT (§1.8 [T]); qualification 0 (SDM:
 *   "for all other VM exits, this field is cleared"); instruction length 1.
 * - VMCALL exits with reason 18 (§1.8 [T]: Apple's real-, protected- and long-mode guests all end in one);
 *   CPUID with reason 10; RDMSR / WRMSR with 31 / 32 and the MSR in RCX, the value of WRMSR in EDX:EAX
 *   (§1.8 [T] for EFER; the VMM has made no MSR native, so every MSR exits: SDM §26.1.3). Instruction
 *   lengths 3 and 2; qualification 0. The VMM writes the results (CPUID: EAX–EDX; RDMSR: EDX:EAX).
 * - MOV to CR0/CR4 exits (reason 28) when a bit the guest/host mask owns differs between the source
 *   and the read shadow; otherwise it executes and leaves the owned bits alone (SDM §26.1.3). MOV from
 *   CR0/CR4 never exits and reads the shadow for owned bits. MOV to/from CR3 exits under CR3-load /
 *   CR3-store exiting (with a CR3-target count of 0), MOV to/from CR8 under CR8-load / CR8-store
 *   exiting. Qualification §1.6: CR number, type 0 (to) / 1 (from), the GPR. The spec's VMM ignores
 *   writes and answers reads.
 * - MOV DR exits (reason 29) under CPU_BASED_MOV_DR; qualification: DR number, bit 4 direction (1 =
 *   from DR), GPR (SDM Table 28-4). Without it the move executes.
 * - EPT violations: reason 48, GPA in VMCS_GUEST_PHYSICAL_ADDRESS, the linear address in
 *   VMCS_RO_GUEST_LIN_ADDR, access bit + the GPA's permission bits + bit 7 (GLA valid) + bit 8 (the
 *   access was to the translation of a linear address; clear for an access to a paging structure,
 *   whose access bits are not pinned: EPT_STRUCTURE_QUALIFICATION_MASK) (§1.6 [T]; bits 6 and 9–11 are
 *   host dependent, {@link EPT_QUALIFICATION_MASK}). The instruction length is not defined for EPT
 *   violations; the VMM decodes the instruction itself (`vmmAdvance`).
 * - An access needs READ (load, paging-structure read), WRITE (store) or EXEC (fetch) in the mapping's
 *   flags [H]; an access the mapping allows does not exit. With paging on the linear address is first
 *   translated through the canonical tables (`paging.ts`); a not-present page is a #PF.
 * - Guest exceptions and software interrupts follow SDM §25.2 and §6.15: an exception (hardware, or a
 *   software exception from INT3 / INT1) exits with reason 0 when its bit is set in
 *   VMCS_CTRL_EXC_BITMAP (#PF: also under PFEC_MASK/MATCH); a software interrupt (INT n) never
 *   consults the bitmap. Otherwise the event is delivered through the guest's IDT; with the canonical
 *   IDTR limit 0 no gate is there, so delivery raises #GP (error code: vector × 8 + 2, + 1 unless the
 *   event was INT n / INT3; none in real mode), which is handled the same way, with the event being
 *   delivered in VMCS_RO_IDT_VECTOR_INFO (+ its error code in VMCS_RO_IDT_VECTOR_ERROR) and, when that
 *   event came from an instruction (INT n, INT3, INT1), the instruction's length in
 *   VMCS_RO_VMEXIT_INSTR_LEN (SDM §28.2.4, §28.2.5). A #GP while delivering a contributory exception or
 *   a #PF is a #DF instead; a fault while delivering #DF is a triple fault: reason 2, the vCPU in
 *   shutdown, the prediction ends (SDM Table 6-5). VM-exit interruption information: vector, type
 *   (3 hardware, 5 privileged software, 6 software exception), error-code valid, valid; error code in
 *   VMCS_RO_VMEXIT_IRQ_ERROR; qualification 0 except #PF (the linear address) and #DB (DR6-like bits,
 *   B3–B0 unpinned); the instruction length is defined only for INT3/INT1 exits. RIP stays at the
 *   instruction (faults, and the exits of INT n / INT3 / INT1 before delivery). Real mode delivers no
 *   error codes. RIP after a triple fault is not predicted [U].
 *
 * Cases the spec does not predict (the prediction stops with `unspecified`): a mapping with WRITE but
 * not READ (an EPT misconfiguration in hardware terms; what HVF does with it is unknown [U]); a store
 * into the program's own code or page tables; a jump to executable memory outside the program; a jump
 * into the middle of the program; a delivery through an IDT gate that exists; a CR3 write that changes
 * the page tables; CR8 without CR8 exiting (the APIC's TPR); HLT without HLT exiting.
 * @module
 */
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { CPU_BASED, VMX_REASON } from '../../vocabulary/x86.js';
import {
  X86_END_PORT,
  X86_GPRS,
  type X86Action,
  type X86Gpr,
  type X86Mode,
  type X86Program,
  type X86Size,
  x86ModePaging,
} from './actions.js';
import { assembleX86, type X86Assembly, type X86Instruction } from './assemble.js';
import {
  crAccessQualification,
  DEBUG_QUALIFICATION_MASK,
  drAccessQualification,
  EPT_QUALIFICATION_MASK,
  EPT_STRUCTURE_QUALIFICATION_MASK,
  type EptAccess,
  eptQualification,
  type InterruptionType,
  interruptionInfo,
  ioQualification,
} from './exits.js';
import { translateX86, type X86PageTables } from './paging.js';
import { X86_SETUP_CPU_BASED, x86CrControl } from './setup.js';

/** Names of the exit kinds the harness reports as covered. */
export type X86ExitKind =
  | 'x86.io.out.imm8'
  | 'x86.io.out.dx'
  | 'x86.io.in.imm8'
  | 'x86.io.in.dx'
  | 'x86.io.outs'
  | 'x86.io.outs.rep'
  | 'x86.io.ins'
  | 'x86.io.ins.rep'
  | 'x86.hlt'
  | 'x86.vmcall'
  | 'x86.cpuid'
  | 'x86.rdmsr'
  | 'x86.wrmsr'
  | 'x86.cr.write.cr0'
  | 'x86.cr.write.cr3'
  | 'x86.cr.write.cr4'
  | 'x86.cr.write.cr8'
  | 'x86.cr.read.cr3'
  | 'x86.cr.read.cr8'
  | 'x86.dr.write'
  | 'x86.dr.read'
  | 'x86.ept.read.unmapped'
  | 'x86.ept.read.denied'
  | 'x86.ept.write.unmapped'
  | 'x86.ept.write.readonly'
  | 'x86.ept.write.denied'
  | 'x86.ept.fetch.unmapped'
  | 'x86.ept.fetch.noexec'
  | 'x86.ept.paging-structure'
  | X86ExceptionKind
  | 'x86.triple-fault'
  | 'x86.end';

/**
 * The short name of an exception a spec program raises, as in its exit kind: #DE (vector 0), #DB (1),
 * #BP (3), #UD (6), #DF (8), #GP (13), #PF (14).
 */
export type ExceptionName = 'de' | 'db' | 'bp' | 'ud' | 'df' | 'gp' | 'pf';
/** The exceptions the spec's programs raise, by vector, with the short names their kinds use. */
const EXCEPTION_NAMES = {
  0: 'de',
  1: 'db',
  3: 'bp',
  6: 'ud',
  8: 'df',
  13: 'gp',
  14: 'pf',
} as const satisfies Readonly<Record<number, ExceptionName>>;
/** An exception exit; `.vectoring` when it happened while another event was being delivered. */
export type X86ExceptionKind = `x86.exception.${ExceptionName}` | `x86.exception.${ExceptionName}.vectoring`;

/**
 * Every exit kind, for coverage reports. `x86.triple-fault` and the `.vectoring` kinds need an exception
 * bitmap without the faulting vector's bit (the scenario option `excBitmap`) or a software interrupt:
 * under the canonical setup every exception exits with reason 0 first.
 */
export const X86_EXIT_KINDS: readonly X86ExitKind[] = [
  'x86.io.out.imm8',
  'x86.io.out.dx',
  'x86.io.in.imm8',
  'x86.io.in.dx',
  'x86.io.outs',
  'x86.io.outs.rep',
  'x86.io.ins',
  'x86.io.ins.rep',
  'x86.hlt',
  'x86.vmcall',
  'x86.cpuid',
  'x86.rdmsr',
  'x86.wrmsr',
  'x86.cr.write.cr0',
  'x86.cr.write.cr3',
  'x86.cr.write.cr4',
  'x86.cr.write.cr8',
  'x86.cr.read.cr3',
  'x86.cr.read.cr8',
  'x86.dr.write',
  'x86.dr.read',
  'x86.ept.read.unmapped',
  'x86.ept.read.denied',
  'x86.ept.write.unmapped',
  'x86.ept.write.readonly',
  'x86.ept.write.denied',
  'x86.ept.fetch.unmapped',
  'x86.ept.fetch.noexec',
  'x86.ept.paging-structure',
  'x86.exception.de',
  'x86.exception.db',
  'x86.exception.bp',
  'x86.exception.ud',
  'x86.exception.gp',
  'x86.exception.pf',
  'x86.exception.df.vectoring',
  'x86.exception.gp.vectoring',
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

/** A question the VMM answers: a value the guest reads from the VMM (through an exit). */
export type X86VmmQuestion =
  | { readonly kind: 'in'; readonly port: number; readonly size: X86Size; readonly exitIndex: number }
  | { readonly kind: 'mmio-read'; readonly gpa: bigint; readonly size: X86Size; readonly exitIndex: number }
  /** CPUID: one of the four result registers for the leaf in EAX (and subleaf in ECX). */
  | {
      readonly kind: 'cpuid';
      readonly leaf: number;
      readonly subleaf: number;
      readonly reg: 'eax' | 'ebx' | 'ecx' | 'edx';
      readonly exitIndex: number;
    }
  /** RDMSR: the low (EAX) or high (EDX) half of the MSR's value. */
  | {
      readonly kind: 'rdmsr';
      readonly msr: number;
      readonly half: 'low' | 'high';
      readonly exitIndex: number;
    }
  /** MOV from CR3/CR8 or from a DR that exited: the value the VMM puts into the register. */
  | { readonly kind: 'mov-from'; readonly register: string; readonly exitIndex: number };

/** A deterministic VMM: a value derived from the question (so a trace can state it), masked to its size. */
export function defaultX86Answer(q: X86VmmQuestion): number {
  let key: number;
  switch (q.kind) {
    case 'in':
      key = q.port | 0x10000;
      break;
    case 'mmio-read':
      key = Number(q.gpa & 0xffff_ffffn);
      break;
    case 'cpuid':
      key = (q.leaf ^ Math.imul(q.subleaf, 0x45d9f3b) ^ ['eax', 'ebx', 'ecx', 'edx'].indexOf(q.reg)) >>> 0;
      break;
    case 'rdmsr':
      key = (q.msr ^ (q.half === 'high' ? 0x5555_5555 : 0)) >>> 0;
      break;
    case 'mov-from':
      key = [...q.register].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 0x0100_0193) >>> 0, 0x811c_9dc5);
      break;
  }
  const v = (Math.imul(key ^ 0x9e37_79b9, 0x85eb_ca6b) ^ Math.imul(q.exitIndex + 1, 0x0100_0193)) >>> 0;
  if (q.kind === 'in' || q.kind === 'mmio-read') return maskTo(v, q.size);
  // CR8 holds a 4-bit priority (SDM §2.5): a VMM answering a CR8 read gives 0–15.
  if (q.kind === 'mov-from' && q.register === 'cr8') return v & 0xf;
  return v;
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
  /** VMCS_RO_GUEST_LIN_ADDR (EPT violations, string I/O). */
  readonly gla?: bigint;
  /** VMCS_RO_VMEXIT_INSTR_LEN where it is defined (instruction exits, INT3/INT1, delivery of INT n). */
  readonly instrLen?: number;
  /** VMCS_RO_VMEXIT_IRQ_INFO (exception exits, reason 0, only), compared under `VMEXIT_IRQ_INFO_MASK`. */
  readonly irqInfo?: number;
  /** VMCS_RO_VMEXIT_IRQ_ERROR (when `irqInfo` has the error-code-valid bit). */
  readonly irqError?: number;
  /**
   * VMCS_RO_IDT_VECTOR_INFO (exception exits and EPT violations): the event being delivered, or 0 when
   * none was (then only bit 31 is compared).
   */
  readonly idtVectorInfo?: number;
  /** VMCS_RO_IDT_VECTOR_ERROR (when `idtVectorInfo` has the error-code-valid bit). */
  readonly idtVectorError?: number;
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
  /** Set when the run cannot continue (the code itself faulted, or a triple fault): the VMM stops after the last exit. */
  readonly stopped?: string;
  /** Final low-32-bit values of the eight GPRs (when the end marker is reached). */
  readonly finalRegs: Record<X86RegName, number>;
  /** Final bytes of every range a load or store reached without exiting, merged, in GPA order. */
  readonly memory: ReadonlyArray<{ readonly gpa: bigint; readonly bytes: Uint8Array }>;
  /** Flags of every mapping an access (data, fetch or page walk) touched, for backends with permission deviations. */
  readonly touchedFlags: readonly number[];
}

/** What the prediction needs to know. */
export interface X86PredictInput {
  readonly program: X86Program;
  /** The linear address the code is loaded at (its GPA too: the code is identity-mapped). */
  readonly gpa: bigint;
  /** The mode of the canonical setup the program runs under (default `prot32`). */
  readonly mode?: X86Mode;
  /** The canonical page tables, loaded in CR3 (required in the paging modes). */
  readonly paging?: X86PageTables;
  /** Initial low 32 bits of the GPRs (missing = 0). */
  readonly regs?: Partial<Record<X86Gpr, number>>;
  /** The mapping covering a GPA (page granular), or undefined when unmapped. */
  readonly lookup: (gpa: bigint) => { readonly flags: number } | undefined;
  /** Guest memory before the run, outside the program's code (missing = 0, as fresh host buffers are zeroed). */
  readonly initialByte?: (gpa: bigint) => number;
  /**
   * The GPA that stands for the host byte behind `gpa` when one host buffer is mapped at several GPAs
   * (a store through one is seen through the others); default: every GPA is its own byte.
   */
  readonly canonical?: (gpa: bigint) => bigint;
  /** The VMM's answers; default {@link defaultX86Answer}. */
  readonly answer?: (q: X86VmmQuestion) => number;
  /** VMCS_CTRL_EXC_BITMAP as the VMM set it (default: the canonical 0xffffffff); the IDTR limit is the setup's 0. */
  readonly excBitmap?: number;
  /**
   * VMCS_CTRL_CPU_BASED as the setup wrote it (canonicalised against the backend's capabilities;
   * default: exactly the requested `X86_SETUP_CPU_BASED`). It decides HLT, CR3, CR8 and MOV-DR exits.
   */
  readonly cpuBased?: number;
}

const PAGE = 4096n;
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

/** An event being delivered (SDM §6; the interruption types of Table 25-17). */
export interface X86Event {
  readonly vector: number;
  readonly type: InterruptionType;
  readonly errorCode?: number;
  /** The length of the instruction that raised it (INT n, INT3, INT1). */
  readonly length?: number;
}

/** Why an access did not reach memory. */
type AccessFault =
  | {
      readonly kind: 'ept';
      readonly access: EptAccess;
      readonly gpa: bigint;
      readonly gla: bigint;
      readonly mapped: boolean;
      readonly perms: number;
      /** The access was to a paging-structure entry (bit 8 clear). */
      readonly structure: boolean;
    }
  | { readonly kind: 'exception'; readonly event: X86Event; readonly qualification: bigint };

/** What an event becomes: see {@link x86EventOutcome}. */
export type X86EventOutcome =
  | { readonly kind: 'exit'; readonly event: X86Event; readonly during?: X86Event }
  | { readonly kind: 'triple-fault' };

const CONTRIBUTORY = new Set([0, 10, 11, 12, 13]);
const DF = 8;
const GP = 13;
const PF = 14;

/**
 * What an event becomes under the canonical IDTR limit 0 (SDM §25.2, §6.15): an exit with reason 0 for
 * the first exception the exception bitmap intercepts — with the event being delivered at that point
 * as IDT-vectoring information — or a triple fault. A software interrupt (INT n) never consults the
 * bitmap. Every delivery through the IDT fails, since no gate lies within the limit, and raises #GP
 * (error code vector × 8 + 2, + 1 unless the event was INT n or INT3; none in real mode); a #GP while
 * delivering a contributory exception (#DE, #TS, #NP, #SS, #GP) or a #PF is a #DF instead (error code 0),
 * and one while delivering a #DF is a triple fault (Table 6-5). A page fault under PFEC_MASK/MATCH 0 is
 * intercepted exactly when its bitmap bit is set.
 */
export function x86EventOutcome(first: X86Event, excBitmap: number, real: boolean): X86EventOutcome {
  let current = first;
  let during: X86Event | undefined;
  for (;;) {
    const exception = current.type !== 'software-interrupt';
    if (exception && ((excBitmap >>> current.vector) & 1) === 1)
      return { kind: 'exit', event: current, ...(during ? { during } : {}) };
    if (current.vector === DF && current.type === 'hardware-exception') return { kind: 'triple-fault' };
    const ext = current.type === 'software-interrupt' || current.type === 'software-exception' ? 0 : 1;
    const doubles =
      current.type === 'hardware-exception' && (CONTRIBUTORY.has(current.vector) || current.vector === PF);
    const next: X86Event = doubles
      ? { vector: DF, type: 'hardware-exception', ...(real ? {} : { errorCode: 0 }) }
      : {
          vector: GP,
          type: 'hardware-exception',
          ...(real ? {} : { errorCode: current.vector * 8 + 2 + ext }),
        };
    during = current;
    current = next;
  }
}

/**
 * The event of an instruction that always raises one (SDM Vol. 2): UD2 #UD, INT3 #BP and INT n as
 * software events that carry their length, INT1 #DB as a privileged software exception, and DIV by
 * ECX = 0 #DE before anything is written.
 */
function trapEvent(
  a: Extract<X86Action, { op: 'ud2' | 'int3' | 'int1' | 'int' | 'div0' }>,
  length: number,
): X86Event {
  switch (a.op) {
    case 'ud2':
      return { vector: 6, type: 'hardware-exception' };
    case 'int3':
      return { vector: 3, type: 'software-exception', length };
    case 'int1':
      return { vector: 1, type: 'privileged-software-exception', length };
    case 'int':
      return { vector: a.vector, type: 'software-interrupt', length };
    case 'div0':
      return { vector: 0, type: 'hardware-exception' };
  }
}

class Unspecified {
  constructor(readonly reason: string) {}
}

/** Predicts the run of `input.program`. Throws TypeError for a malformed program (see `assembleX86`). */
export function predictX86(input: X86PredictInput): X86Prediction {
  const mode = input.mode ?? 'prot32';
  const real = mode === 'real';
  const long = mode === 'long64';
  const paging = x86ModePaging(mode);
  if (paging && (input.paging === undefined || input.paging.mode !== mode))
    throw new TypeError(`mode ${mode} needs the canonical page tables of ${mode} (input.paging)`);
  const asm = assembleX86(input.program, input.gpa, mode);
  const actions = input.program.actions;
  const answer = input.answer ?? defaultX86Answer;
  const excBitmap = (input.excBitmap ?? 0xffff_ffff) >>> 0;
  const cpuBased = (input.cpuBased ?? X86_SETUP_CPU_BASED) >>> 0;
  const control = (bit: number): boolean => (cpuBased & bit) !== 0;
  const cr = x86CrControl(mode);
  const codeStart = input.gpa;
  const codeEnd = input.gpa + BigInt(asm.bytes.length);
  const csBase = asm.csBase;
  const ripOf = (linear: bigint): bigint => linear - csBase;
  const tables = input.paging?.pages ?? [];
  const inTables = (g: bigint): boolean => tables.some((t) => g >= t.gpa && g < t.gpa + PAGE);
  const regs: Record<X86Gpr, number> = { eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0, ebp: 0, esi: 0, edi: 0 };
  for (const r of X86_GPRS) regs[r] = (input.regs?.[r] ?? 0) >>> 0;
  const dr = [0, 0, 0, 0];
  let cr3 = paging ? (input.paging?.root ?? 0n) : 0n;
  const written = new Map<bigint, number>();
  const touchedRanges: Array<[bigint, number]> = [];
  const touched = new Set<number>();
  const exits: X86ExpectedExit[] = [];

  const tableByte = (g: bigint): number | undefined => {
    for (const t of tables) if (g >= t.gpa && g < t.gpa + PAGE) return t.bytes[Number(g - t.gpa)]!;
    return undefined;
  };
  const canonical = input.canonical ?? ((g: bigint): bigint => g);
  const byteAt = (gpa: bigint): number => {
    const g = canonical(gpa);
    const w = written.get(g);
    if (w !== undefined) return w;
    if (g >= codeStart && g < codeEnd) return asm.bytes[Number(g - codeStart)]!;
    return tableByte(g) ?? (input.initialByte?.(g) ?? 0) & 0xff;
  };

  /** The mapping of a GPA, refusing WRITE-without-READ mappings (unknown behaviour). */
  const mappingOf = (g: bigint): { flags: number } | undefined => {
    const m = input.lookup(g);
    if (m) {
      touched.add(m.flags);
      if (m.flags & HV_MEMORY.WRITE && !(m.flags & HV_MEMORY.READ)) {
        throw new Unspecified(
          `GPA 0x${g.toString(16)} is mapped WRITE without READ (an EPT misconfiguration; HVF's behaviour is unknown [U])`,
        );
      }
    }
    return m;
  };

  /**
   * Resolves an access of `size` bytes at `linear` (already past segmentation) page by page: the GPA of
   * each byte, or the first fault (#PF, a paging-structure EPT violation, an EPT violation).
   */
  const resolve = (linear: bigint, size: number, access: EptAccess): bigint[] | AccessFault => {
    const out: bigint[] = [];
    let structureFault: AccessFault | undefined;
    const readEntry = (g: bigint, width: 4 | 8): bigint | undefined => {
      const m = mappingOf(g);
      if (!m || !(m.flags & HV_MEMORY.READ)) {
        structureFault = {
          kind: 'ept',
          access: 'read',
          gpa: g,
          gla: linear,
          mapped: m !== undefined,
          perms: m ? m.flags : 0,
          structure: true,
        };
        return undefined;
      }
      let v = 0n;
      for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(byteAt(g + BigInt(k)));
      return v;
    };
    let i = 0;
    while (i < size) {
      const l = linear + BigInt(i);
      let g = l;
      if (paging) {
        const t = translateX86(mode as 'prot32-paging' | 'long64', cr3, l, access, readEntry);
        if (t.kind === 'structure') return { ...(structureFault as AccessFault), gla: l } as AccessFault;
        if (t.kind === 'page-fault')
          return {
            kind: 'exception',
            event: { vector: PF, type: 'hardware-exception', errorCode: t.errorCode },
            qualification: l,
          };
        g = t.gpa;
      }
      const m = mappingOf(g);
      const need = access === 'read' ? HV_MEMORY.READ : access === 'write' ? HV_MEMORY.WRITE : HV_MEMORY.EXEC;
      if (!m || !(m.flags & need))
        return {
          kind: 'ept',
          access,
          gpa: g,
          gla: l,
          mapped: m !== undefined,
          perms: m ? m.flags : 0,
          structure: false,
        };
      // The rest of this page translates the same way.
      const pageLeft = Number(PAGE - (l % PAGE));
      for (let k = 0; k < pageLeft && i < size; k++, i++) out.push(g + BigInt(k));
    }
    return out;
  };

  /** A data access through DS (real mode: the segment limit 0xffff, #GP(0) beyond it, no error code). */
  const dataAccess = (offset: bigint, size: number, access: EptAccess): bigint[] | AccessFault => {
    if (real && offset + BigInt(size) - 1n > 0xffffn)
      return { kind: 'exception', event: { vector: GP, type: 'hardware-exception' }, qualification: 0n };
    return resolve(offset, size, access);
  };

  const tracked = (...names: X86Gpr[]): Partial<Record<X86RegName, number>> => {
    const out: Partial<Record<X86RegName, number>> = {};
    for (const n of names) out[REG_NAME[n]] = regs[n];
    return out;
  };

  const eptExit = (
    i: number,
    f: Extract<AccessFault, { kind: 'ept' }>,
    rip: bigint,
    extra: {
      vmmAdvance?: number;
      vmmRegs?: Partial<Record<X86RegName, number>>;
      vmmRip?: bigint;
      regs: Partial<Record<X86RegName, number>>;
    },
  ): X86ExpectedExit => {
    let kind: X86ExitKind;
    if (f.structure) kind = 'x86.ept.paging-structure';
    else if (!f.mapped) kind = `x86.ept.${f.access}.unmapped`;
    else if (f.access === 'fetch') kind = 'x86.ept.fetch.noexec';
    else if (f.access === 'write' && f.perms & HV_MEMORY.READ) kind = 'x86.ept.write.readonly';
    else kind = `x86.ept.${f.access}.denied`;
    return {
      kind,
      actionIndex: i,
      reason: VMX_REASON.VMX_REASON_EPT_VIOLATION,
      qualification: eptQualification({
        access: f.access,
        perms: f.perms & 7,
        glaValid: true,
        glaTranslated: !f.structure,
      }),
      qualificationMask: f.structure ? EPT_STRUCTURE_QUALIFICATION_MASK : EPT_QUALIFICATION_MASK,
      gpa: f.gpa,
      gla: f.gla,
      idtVectorInfo: 0,
      rip,
      regs: extra.regs,
      ...(extra.vmmAdvance !== undefined ? { vmmAdvance: extra.vmmAdvance } : {}),
      vmmRegs: extra.vmmRegs ?? {},
      ...(extra.vmmRip !== undefined ? { vmmRip: extra.vmmRip } : {}),
      ...(f.mapped ? { touchedFlags: f.perms } : {}),
    };
  };

  let stopped: string | undefined;
  /**
   * Pushes the exit of an event raised by action `i`'s main instruction at `rip`; after a triple fault
   * (its exit pushed, the run stopped) returns false.
   */
  const eventExit = (
    i: number,
    e: X86Event,
    qualification: bigint,
    rip: bigint,
    vmm: { vmmAdvance?: number; vmmRip: bigint },
    regs: Partial<Record<X86RegName, number>>,
  ): boolean => {
    const o = x86EventOutcome(e, excBitmap, real);
    if (o.kind === 'triple-fault') {
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
      return false;
    }
    const ev = o.event;
    const name = EXCEPTION_NAMES[ev.vector as keyof typeof EXCEPTION_NAMES];
    if (name === undefined) throw new Error(`no exit kind for vector ${ev.vector}`);
    const info = (x: X86Event): number =>
      interruptionInfo({ vector: x.vector, type: x.type, errorCodeValid: x.errorCode !== undefined });
    // The instruction length is saved for exits from software exceptions and from the delivery of
    // software events (SDM §28.2.4, §28.2.5), not for hardware exceptions.
    const length = ev.length ?? o.during?.length;
    exits.push({
      kind: o.during
        ? (`x86.exception.${name}.vectoring` as X86ExitKind)
        : (`x86.exception.${name}` as X86ExitKind),
      actionIndex: i,
      reason: VMX_REASON.VMX_REASON_EXC_NMI,
      qualification: ev.vector === PF && !o.during ? qualification : 0n,
      qualificationMask: ev.vector === 1 ? DEBUG_QUALIFICATION_MASK : IO_MASK,
      irqInfo: info(ev),
      ...(ev.errorCode !== undefined ? { irqError: ev.errorCode } : {}),
      idtVectorInfo: o.during ? info(o.during) : 0,
      ...(o.during?.errorCode !== undefined ? { idtVectorError: o.during.errorCode } : {}),
      ...(length !== undefined ? { instrLen: length } : {}),
      rip,
      regs,
      ...(vmm.vmmAdvance !== undefined ? { vmmAdvance: vmm.vmmAdvance } : {}),
      vmmRegs: {},
      vmmRip: vmm.vmmRip,
    });
    return true;
  };

  let unspecified: { actionIndex: number; reason: string } | undefined;
  let i = 0;
  try {
    loop: for (;;) {
      const isEnd = i === actions.length;
      const placed = isEnd ? undefined : asm.actions[i]!;
      const setup: readonly X86Instruction[] = placed?.setup ?? [];
      const main = placed ? placed.main : asm.end;
      // Instruction fetches of the action: its setup instructions, then the main one.
      let fetchFault: { f: AccessFault; rip: bigint } | undefined;
      for (const [k, ins] of [...setup, main].entries()) {
        const at = codeStart + BigInt(ins.offset);
        const f = resolve(at, ins.length, 'fetch');
        if (!Array.isArray(f)) {
          fetchFault = { f, rip: ripOf(at) };
          break;
        }
        // A setup instruction that fetched fine has executed before the next one is fetched.
        if (k < setup.length) applySetup(actions[i]!, k);
      }
      if (fetchFault) {
        const f = fetchFault.f;
        if (f.kind === 'ept') exits.push(eptExit(i, f, fetchFault.rip, { regs: tracked('eax') }));
        else
          eventExit(i, f.event, f.qualification, fetchFault.rip, { vmmRip: fetchFault.rip }, tracked('eax'));
        const last = exits[exits.length - 1]!;
        if (last.vmmRip !== undefined) {
          const { vmmRip: _drop, ...rest } = last;
          exits[exits.length - 1] = rest;
        }
        stopped = "the program's own code cannot be fetched";
        break;
      }
      const rip = ripOf(codeStart + BigInt(main.offset));
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
      /**
       * The exit of the main instruction itself (VMCALL, CPUID, RDMSR, WRMSR and HLT have no
       * qualification; I/O and MOV CR/DR have theirs): the VMM resumes after the instruction.
       */
      const instructionExit = (
        kind: X86ExitKind,
        reason: number,
        regsAt: Partial<Record<X86RegName, number>>,
        vmmRegs: Partial<Record<X86RegName, number>> = {},
        qualification = 0n,
        linear: { gla?: bigint } = {},
      ): void => {
        exits.push({
          kind,
          actionIndex: i,
          reason,
          qualification,
          qualificationMask: IO_MASK,
          ...linear,
          instrLen: main.length,
          rip,
          regs: regsAt,
          vmmRegs,
          vmmRip: next,
        });
      };
      /** Raises an event at the main instruction, which the VMM skips; false after a triple fault. */
      const raise = (e: X86Event, qualification = 0n, regsAt = tracked('eax')): boolean =>
        eventExit(i, e, qualification, rip, { vmmAdvance: main.length, vmmRip: next }, regsAt);
      switch (a.op) {
        case 'mov':
          regs[a.reg] = a.value >>> 0;
          break;
        case 'hlt':
          if (!control(CPU_BASED.CPU_BASED_HLT))
            throw new Unspecified('hlt without HLT exiting waits for an interrupt (not modelled)');
          instructionExit('x86.hlt', VMX_REASON.VMX_REASON_HLT, tracked('eax'));
          break;
        case 'vmcall':
          instructionExit('x86.vmcall', VMX_REASON.VMX_REASON_VMCALL, tracked('eax'));
          break;
        case 'cpuid': {
          const at = tracked('eax', 'ecx');
          const q = (reg: 'eax' | 'ebx' | 'ecx' | 'edx') =>
            answer({ kind: 'cpuid', leaf: a.leaf >>> 0, subleaf: regs.ecx, reg, exitIndex: exits.length }) >>>
            0;
          const out = { eax: q('eax'), ebx: q('ebx'), ecx: q('ecx'), edx: q('edx') };
          regs.eax = out.eax;
          regs.ebx = out.ebx;
          regs.ecx = out.ecx;
          regs.edx = out.edx;
          instructionExit('x86.cpuid', VMX_REASON.VMX_REASON_CPUID, at, tracked('eax', 'ebx', 'ecx', 'edx'));
          break;
        }
        case 'rdmsr': {
          const at = tracked('ecx');
          const q = (half: 'low' | 'high') =>
            answer({ kind: 'rdmsr', msr: a.msr >>> 0, half, exitIndex: exits.length }) >>> 0;
          regs.eax = q('low');
          regs.edx = q('high');
          instructionExit('x86.rdmsr', VMX_REASON.VMX_REASON_RDMSR, at, tracked('eax', 'edx'));
          break;
        }
        case 'wrmsr':
          instructionExit('x86.wrmsr', VMX_REASON.VMX_REASON_WRMSR, tracked('eax', 'ecx', 'edx'));
          break;
        case 'in':
        case 'out': {
          const isIn = a.op === 'in';
          const vmmRegs: Partial<Record<X86RegName, number>> = {};
          const atExit = a.form === 'dx' ? tracked('eax', 'edx') : tracked('eax');
          if (isIn) {
            const v = maskTo(
              answer({ kind: 'in', port: a.port, size: a.size, exitIndex: exits.length }) >>> 0,
              a.size,
            );
            regs.eax = mergeLow(regs.eax, v, a.size);
            vmmRegs.RAX = regs.eax;
          }
          const q = {
            size: a.size,
            in: isIn,
            string: false,
            rep: false,
            imm: a.form === 'imm8',
            port: a.port,
          };
          instructionExit(
            `x86.io.${a.op}.${a.form}`,
            VMX_REASON.VMX_REASON_IO,
            atExit,
            vmmRegs,
            ioQualification(q),
          );
          break;
        }
        case 'outs':
        case 'ins': {
          const outs = a.op === 'outs';
          const index: X86Gpr = outs ? 'esi' : 'edi';
          const atExit = tracked(index, 'edx', ...(a.rep !== undefined ? (['ecx'] as const) : []));
          const count = a.rep ?? 1;
          // Real mode addresses through SI/DI (16-bit address size): the index wraps at 64 KiB.
          const advanced = real
            ? ((regs[index] & 0xffff_0000) | ((regs[index] + a.size * count) & 0xffff)) >>> 0
            : (regs[index] + a.size * count) >>> 0;
          regs[index] = advanced;
          const vmmRegs: Partial<Record<X86RegName, number>> = { [REG_NAME[index]]: advanced };
          if (a.rep !== undefined) {
            regs.ecx = real ? (regs.ecx & 0xffff_0000) >>> 0 : 0;
            vmmRegs.RCX = regs.ecx;
          }
          const q = {
            size: a.size,
            in: !outs,
            string: true,
            rep: a.rep !== undefined,
            imm: false,
            port: a.port,
          };
          instructionExit(
            `x86.io.${a.op}${a.rep !== undefined ? '.rep' : ''}`,
            VMX_REASON.VMX_REASON_IO,
            atExit,
            vmmRegs,
            ioQualification(q),
            { gla: a.addr },
          );
          break;
        }
        case 'load':
        case 'store': {
          const isLoad = a.op === 'load';
          const access: EptAccess = isLoad ? 'read' : 'write';
          const atExit = a.via === 'ebx' ? tracked('eax', 'ebx') : tracked('eax');
          const f = dataAccess(a.addr, a.size, access);
          if (!Array.isArray(f)) {
            if (f.kind === 'exception') {
              if (!raise(f.event, f.qualification, atExit)) break loop;
              break;
            }
            const vmmRegs: Partial<Record<X86RegName, number>> = {};
            // The VMM emulates a device only for accesses that reached a GPA (bit 8 set).
            if (isLoad && !f.structure) {
              const v = maskTo(
                answer({ kind: 'mmio-read', gpa: f.gpa, size: a.size, exitIndex: exits.length }) >>> 0,
                a.size,
              );
              regs.eax = mergeLow(regs.eax, v, a.size);
              vmmRegs.RAX = regs.eax;
            }
            exits.push(eptExit(i, f, rip, { vmmAdvance: main.length, vmmRegs, vmmRip: next, regs: atExit }));
          } else if (isLoad) {
            let v = 0;
            for (let k = a.size - 1; k >= 0; k--) v = (v * 256 + byteAt(f[k]!)) >>> 0;
            regs.eax = mergeLow(regs.eax, v, a.size);
            for (const g of f) touchedRanges.push([canonical(g), 1]);
          } else {
            for (const g of f) {
              if ((g >= codeStart && g < codeEnd) || inTables(g))
                throw new Unspecified(
                  "a store into the program's own code or page tables (self-modifying code and live page-table edits are not modelled)",
                );
            }
            f.forEach((g, k) => {
              written.set(canonical(g), (regs.eax >>> (8 * k)) & 0xff);
              touchedRanges.push([canonical(g), 1]);
            });
          }
          break;
        }
        case 'mov-to-cr': {
          const value = regs[a.reg];
          const qual = crAccessQualification({ cr: a.cr, type: 'to', gpr: X86_GPRS.indexOf(a.reg) });
          let exits_ = false;
          if (a.cr === 0 || a.cr === 4) {
            const mask = a.cr === 0 ? cr.cr0Mask : cr.cr4Mask;
            const shadow = a.cr === 0 ? cr.cr0Shadow : cr.cr4Shadow;
            exits_ = ((BigInt(value) ^ shadow) & mask) !== 0n;
            // Without an exit only the bits outside the mask change: with the canonical masks (all of
            // bits 31:0) and a 32-bit source, none.
            if (!exits_ && (mask | 0xffff_ffffn) !== mask)
              throw new Unspecified('a CR0/CR4 write under a partial guest/host mask (not modelled)');
          } else if (a.cr === 3) {
            exits_ = control(CPU_BASED.CPU_BASED_CR3_LOAD);
            if (!exits_) {
              if (paging && BigInt(value) !== cr3)
                throw new Unspecified('a CR3 write that changes the page tables (not modelled)');
              cr3 = BigInt(value);
            }
          } else {
            exits_ = control(CPU_BASED.CPU_BASED_CR8_LOAD);
            if (!exits_)
              throw new Unspecified('CR8 without CR8-load exiting reaches the APIC TPR (not modelled)');
          }
          if (exits_) {
            instructionExit(`x86.cr.write.cr${a.cr}`, VMX_REASON.VMX_REASON_MOV_CR, tracked(a.reg), {}, qual);
          }
          break;
        }
        case 'mov-from-cr': {
          if (a.cr === 0 || a.cr === 4) {
            // Owned bits read from the shadow, the others from the register (SDM §26.1.3, §27.3).
            const mask = a.cr === 0 ? cr.cr0Mask : cr.cr4Mask;
            const shadow = a.cr === 0 ? cr.cr0Shadow : cr.cr4Shadow;
            const guest = a.cr === 0 ? cr.cr0 : cr.cr4;
            regs[a.reg] = Number(((guest & ~mask) | (shadow & mask)) & 0xffff_ffffn);
            break;
          }
          const store = a.cr === 3 ? CPU_BASED.CPU_BASED_CR3_STORE : CPU_BASED.CPU_BASED_CR8_STORE;
          if (!control(store)) {
            if (a.cr === 8)
              throw new Unspecified('CR8 without CR8-store exiting reads the APIC TPR (not modelled)');
            regs[a.reg] = Number(cr3 & 0xffff_ffffn);
            break;
          }
          const v = answer({ kind: 'mov-from', register: `cr${a.cr}`, exitIndex: exits.length }) >>> 0;
          regs[a.reg] = v;
          instructionExit(
            `x86.cr.read.cr${a.cr}`,
            VMX_REASON.VMX_REASON_MOV_CR,
            {},
            { [REG_NAME[a.reg]]: v },
            crAccessQualification({ cr: a.cr, type: 'from', gpr: X86_GPRS.indexOf(a.reg) }),
          );
          break;
        }
        case 'mov-to-dr':
        case 'mov-from-dr': {
          const to = a.op === 'mov-to-dr';
          if (!control(CPU_BASED.CPU_BASED_MOV_DR)) {
            if (to) dr[a.dr] = regs[a.reg];
            else regs[a.reg] = dr[a.dr]!;
            break;
          }
          const vmmRegs: Partial<Record<X86RegName, number>> = {};
          if (!to) {
            const v = answer({ kind: 'mov-from', register: `dr${a.dr}`, exitIndex: exits.length }) >>> 0;
            regs[a.reg] = v;
            vmmRegs[REG_NAME[a.reg]] = v;
          }
          instructionExit(
            to ? 'x86.dr.write' : 'x86.dr.read',
            VMX_REASON.VMX_REASON_MOV_DR,
            to ? tracked(a.reg) : {},
            vmmRegs,
            drAccessQualification({ dr: a.dr, direction: to ? 'to' : 'from', gpr: X86_GPRS.indexOf(a.reg) }),
          );
          break;
        }
        case 'ud2':
        case 'int3':
        case 'int1':
        case 'int':
        case 'div0':
          if (!raise(trapEvent(a, main.length))) break loop;
          break;
        case 'load-ds': {
          const sel = a.selector & 0xffff;
          if (real) {
            if (sel !== 0) throw new Unspecified('a real-mode DS load that moves DS.base (not modelled)');
            break;
          }
          // A null selector loads a null DS; anything else is beyond the canonical GDT limit 0 (or in
          // the unusable LDT): #GP with the selector (RPL cleared) as error code (SDM Vol. 2, MOV).
          if ((sel & 0xfffc) === 0) throw new Unspecified('a null DS load (not modelled)');
          if (!raise({ vector: GP, type: 'hardware-exception', errorCode: sel & 0xfffc })) break loop;
          break;
        }
        case 'jump': {
          if ('action' in a.target) {
            i = a.target.action;
            continue loop;
          }
          const t = a.target.addr;
          if (t >= codeStart && t < codeEnd) {
            const k = asm.actions.findIndex((p) => codeStart + BigInt(p.start) === t);
            if (t === codeStart + BigInt(asm.end.offset)) i = actions.length;
            else if (k > i) i = k;
            else
              throw new Unspecified(
                `a jump to 0x${t.toString(16)}, inside the program but not at a later action`,
              );
            continue loop;
          }
          const f = resolve(t, 1, 'fetch');
          if (Array.isArray(f))
            throw new Unspecified(
              `a jump to executable memory at 0x${t.toString(16)} outside the program (its contents are not modelled)`,
            );
          // The VMM cannot run what is not there; it resumes the program at the next action.
          const at = tracked('eax', ...(long ? (['ebx'] as const) : []));
          if (f.kind === 'ept') exits.push(eptExit(i, f, ripOf(t), { vmmRip: next, regs: at }));
          else if (!eventExit(i, f.event, f.qualification, ripOf(t), { vmmRip: next }, at)) break loop;
          break;
        }
      }
      i++;
    }
  } catch (e) {
    if (!(e instanceof Unspecified)) throw e;
    unspecified = { actionIndex: i, reason: e.reason };
  }

  /** The register effect of setup instruction `k` of action `a` (register loads). */
  function applySetup(a: X86Action, k: number): void {
    switch (a.op) {
      case 'load':
      case 'store':
        regs.ebx = Number(a.addr);
        break;
      case 'in':
      case 'out':
        regs.edx = a.port;
        break;
      case 'outs':
      case 'ins':
        if (k === 0) regs[a.op === 'outs' ? 'esi' : 'edi'] = Number(a.addr);
        else if (k === 1) regs.edx = a.port;
        else regs.ecx = (a.rep ?? 0) >>> 0;
        break;
      case 'jump':
        if ('addr' in a.target) regs.ebx = Number(a.target.addr);
        break;
      case 'cpuid':
        regs.eax = a.leaf >>> 0;
        break;
      case 'rdmsr':
      case 'wrmsr':
        regs.ecx = a.msr >>> 0;
        break;
      case 'div0':
        regs.ecx = 0;
        break;
      case 'load-ds':
        regs.eax = a.selector >>> 0;
        break;
      default:
        throw new Error(`action ${a.op} has no setup instruction`);
    }
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
