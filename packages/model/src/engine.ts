/**
 * The contract between the model's API layer (lifecycle, mappings, register files) and its guest
 * interpreters. The API layer owns state; an engine executes guest machine code on that state until
 * an exit, a budget of instructions runs out (so async runs can yield and notice cancellation), or an
 * instruction outside its subset.
 * @module
 */

import type { Arm64Cpu } from './arm64/state.js';

/** The kind of a guest memory access. */
export type AccessKind = 'read' | 'write' | 'fetch';

/** A stage-2 (EPT / IPA) fault: the access was to an unmapped address or not allowed by the mapping. */
export interface MemFault {
  /** Guest-physical address of the first byte that faulted. */
  readonly gpa: bigint;
  readonly access: AccessKind;
  /** Access size in bytes. */
  readonly size: number;
  /** Whether any mapping covers `gpa`. */
  readonly mapped: boolean;
  /** The mapping's `hv_memory_flags_t` (0 when unmapped). */
  readonly perms: number;
}

/** Guest-physical memory as the guest sees it, with the framework's permission checks. */
export interface GuestMemory {
  /** Reads `size` bytes; an access crossing into a page it may not touch faults at that page. */
  read(gpa: bigint, size: number, access: 'read' | 'fetch'): Uint8Array | MemFault;
  /** Writes `bytes`; on a fault nothing is written. */
  write(gpa: bigint, bytes: Uint8Array): MemFault | undefined;
  /**
   * Optional fast path of `read`: the same access and the same fault, but the bytes are copied into
   * `into` at `at` instead of into a new array; on a fault nothing is copied. `gpa` may be a number when
   * it is a safe integer (x86 linear addresses are 32-bit numbers in the interpreter). It exists because
   * the interpreters fetch and load on every instruction, and a fresh Uint8Array per access (plus the
   * BigInt arithmetic on its address) was most of the cost of the model's exit round trip. Engines call
   * it through {@link readInto}, which falls back to `read` for memories without it.
   */
  readInto?(
    gpa: bigint | number,
    size: number,
    access: 'read' | 'fetch',
    into: Uint8Array,
    at: number,
  ): MemFault | undefined;
  /**
   * Optional fast path of instruction fetch: where the host bytes of [gpa, gpa + size) are when one
   * mapping holds them all and allows `access` (guest byte `gpa` is `bytes[at]`), else undefined, and
   * `read`/`readInto` give the bytes or the fault. A live view, not a copy: an engine reads it, never
   * writes it, and drops it before its run returns (mappings change only between runs) unless the
   * memory has a {@link generation} and it has not changed. It exists
   * because copying the 15 bytes an x86 instruction may span cost more than decoding it.
   */
  span?(gpa: number, size: number, access: 'read' | 'fetch'): GuestSpan | undefined;
  /**
   * Optional: a number that changes whenever the mappings behind this memory change (map, unmap,
   * protect). A span obtained while it had one value stays valid, as a live view, for as long as it
   * keeps it — across runs too — so an engine may keep the span of its code page from one run to the
   * next instead of looking it up on every run (the exit round trip's cost). Without it, spans are
   * valid within one engine call only.
   */
  readonly generation?: number;
}

/** Where guest bytes are in host memory: see {@link GuestMemory.span}. */
export interface GuestSpan {
  readonly bytes: Uint8Array;
  readonly at: number;
}

/** True when a read/write result is a fault. */
export function isFault(r: Uint8Array | MemFault | undefined): r is MemFault {
  return r !== undefined && !(r instanceof Uint8Array);
}

/**
 * Reads `size` bytes of guest memory into `into` at `at` (`mem.readInto` when the memory has it, else
 * `mem.read` and a copy); returns the fault instead, with nothing copied.
 */
export function readInto(
  mem: GuestMemory,
  gpa: bigint | number,
  size: number,
  access: 'read' | 'fetch',
  into: Uint8Array,
  at: number,
): MemFault | undefined {
  if (mem.readInto !== undefined) return mem.readInto(gpa, size, access, into, at);
  const r = mem.read(BigInt(gpa), size, access);
  if (isFault(r)) return r;
  into.set(r, at);
  return undefined;
}

/** One segment register as the VMCS holds it: selector, base, limit and access rights. */
export interface X86Segment {
  selector: number;
  base: bigint;
  limit: number;
  ar: number;
}

/**
 * The VMCS controls the x86 engine consults (values as the VMCS holds them). They decide which
 * instructions exit and what guest exceptions become (Intel SDM Vol. 3 chapter 26).
 */
export interface X86Controls {
  /** VMCS_CTRL_CPU_BASED. */
  cpuBased: number;
  /** VMCS_CTRL_CPU_BASED2. */
  cpuBased2: number;
  /** VMCS_CTRL_VMENTRY_CONTROLS (IA-32e mode guest: bit 9). */
  entry: number;
  /** VMCS_CTRL_EXC_BITMAP. */
  excBitmap: number;
  /** VMCS_CTRL_PF_ERROR_MASK / _MATCH. */
  pfMask: number;
  pfMatch: number;
  /** VMCS_CTRL_CR3_COUNT and the CR3-target values. */
  cr3Count: number;
  readonly cr3Targets: bigint[];
  /** VMCS_CTRL_CR0_MASK / _SHADOW, VMCS_CTRL_CR4_MASK / _SHADOW. */
  cr0Mask: bigint;
  cr0Shadow: bigint;
  cr4Mask: bigint;
  cr4Shadow: bigint;
}

/** x86 architectural state the engine reads and writes (values as the VMCS / hv_x86_reg_t hold them). */
export interface X86Cpu {
  /** General-purpose registers in Intel encoding order: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15. */
  readonly gpr: bigint[];
  rip: bigint;
  rflags: bigint;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** DR0–DR7 by number (DR4 and DR5 are not registers of their own: unused). */
  readonly dr: bigint[];
  /** Segment bases/limits/access rights by name (cs, ds, es, fs, gs, ss). */
  readonly seg: Record<'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss', X86Segment>;
  /** LDTR and TR (the engine only checks whether the LDT is usable). */
  readonly ldtr: X86Segment;
  readonly tr: X86Segment;
  readonly gdtr: { base: bigint; limit: number };
  readonly idtr: { base: bigint; limit: number };
  readonly ctl: X86Controls;
}

/** The kinds of events (the interruption types of Intel SDM Table 25-17 the engine produces). */
export type X86EventType =
  | 'hardware-exception'
  | 'software-interrupt'
  | 'privileged-software-exception'
  | 'software-exception';

/** An event: an exception or software interrupt being raised or delivered. */
export interface X86EventInfo {
  readonly vector: number;
  readonly type: X86EventType;
  /** The error code it delivers (none in real mode, none for most vectors). */
  readonly errorCode?: number;
  /** The length of the instruction that raised it (INT n, INT3, INT1). */
  readonly len?: number;
}

/** Why an x86 run stopped. RIP is left at the instruction that exited (HVF semantics). */
export type X86Stop =
  | {
      readonly kind: 'io';
      readonly port: number;
      readonly size: 1 | 2 | 4;
      readonly in: boolean;
      readonly string: boolean;
      readonly rep: boolean;
      /** Port given as an immediate (E4–E7) rather than in DX. */
      readonly imm: boolean;
      /** Instruction length, for VMCS_RO_VMEXIT_INSTR_LEN. */
      readonly len: number;
      /** INS/OUTS: the linear address of the memory operand (VMCS_RO_GUEST_LIN_ADDR). */
      readonly gla?: bigint;
    }
  | { readonly kind: 'hlt' | 'vmcall' | 'cpuid' | 'rdmsr' | 'wrmsr'; readonly len: number }
  /** MOV to/from a control register that the masks or controls make exit. */
  | {
      readonly kind: 'mov-cr';
      readonly cr: number;
      readonly write: boolean;
      readonly gpr: number;
      readonly len: number;
    }
  /** MOV to/from a debug register under MOV-DR exiting. */
  | {
      readonly kind: 'mov-dr';
      readonly dr: number;
      readonly write: boolean;
      readonly gpr: number;
      readonly len: number;
    }
  | {
      readonly kind: 'ept';
      readonly fault: MemFault;
      /** The guest-linear address of the access. */
      readonly gla: bigint;
      /** The access was to a paging-structure entry (qualification bit 8 clear). */
      readonly structure?: boolean;
      /** The event being delivered when the access faulted (VMCS_RO_IDT_VECTOR_INFO). */
      readonly during?: X86EventInfo;
    }
  | { readonly kind: 'triple-fault' }
  /**
   * A guest exception the exception bitmap intercepts: it exits with reason 0 (hvf-facts.md §1.6, §1.8
   * [T]). `during` is the event whose delivery raised it (IDT-vectoring information). RIP and the
   * registers are as before the instruction that raised the first event.
   */
  | {
      readonly kind: 'exception';
      readonly event: X86EventInfo;
      /** VMCS_RO_EXIT_QUALIFIC: the linear address of a #PF, else 0. */
      readonly qualification: bigint;
      readonly during?: X86EventInfo;
    }
  | { readonly kind: 'unsupported'; readonly bytes: Uint8Array; readonly reason: string }
  | { readonly kind: 'budget' };

/** The x86 engine: runs at most `budget` instructions; optionally with a {@link X86Engine.repeat}. */
export type X86Engine = ((cpu: X86Cpu, mem: GuestMemory, budget: number) => X86Stop) & {
  /**
   * Optional fast path of a run. The caller promises that nothing of `cpu` but `rip` changed since it
   * last called the engine on `cpu` (if another call came between, `repeat` answers undefined). When
   * this run repeats the engine's last run exactly (same instructions, checked against the live guest
   * bytes), `repeat` runs it and returns its stop; otherwise it returns undefined having changed
   * nothing, and the caller runs the engine. It exists for the exit round trip: it skips deriving the
   * mode again from state the caller knows is unchanged.
   */
  readonly repeat?: (cpu: X86Cpu, mem: GuestMemory, budget: number) => X86Stop | undefined;
};

/** arm64 architectural state the engine reads and writes (typed storage; see arm64/state.ts). */
export type { Arm64Cpu };

/**
 * A stage-2 mapping as the arm64 engine sees it: guest IPA [startN, startN + size) is host
 * `bytes[offset …]`, with `hv_memory_flags_t` (a `Mapping` of mappings.ts has this shape).
 */
export interface Arm64Region {
  readonly startN: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly flags: number;
}

/** Per-run context the arm64 engine needs beyond the registers. */
export interface Arm64RunContext {
  readonly cpu: Arm64Cpu;
  /**
   * The stage-2 mapping holding `ipa` (a number below 2^53), or undefined: the guest's physical memory
   * with the framework's permission checks. Mappings change only between runs (and between the
   * slices of an async run), never during one call of the engine.
   */
  readonly region: (ipa: number) => Arm64Region | undefined;
  /** The VM's virtual counter (CNTVCT = counter − vtimer offset); engines advance it per instruction. */
  readonly clock: { count: bigint };
  readonly vtimerOffset: bigint;
  /** While true no VTIMER_ACTIVATED exit is produced. */
  readonly vtimerMasked: boolean;
  readonly trapDebugExceptions: boolean;
  readonly trapDebugRegAccesses: boolean;
  /** The virtual IRQ and FIQ lines hv_vcpu_set_pending_interrupt set for this run (hvf-facts.md §2.4 [H]). */
  readonly pendingIrq: boolean;
  readonly pendingFiq: boolean;
}

/** Why an arm64 run stopped. PC follows the Arm ARM preferred return address (after HVC, else at it). */
export type Arm64Stop =
  | {
      readonly kind: 'exception';
      readonly syndrome: bigint;
      readonly virtual_address: bigint;
      readonly physical_address: bigint;
    }
  | { readonly kind: 'vtimer' }
  | { readonly kind: 'unsupported'; readonly bytes: Uint8Array; readonly reason: string }
  | { readonly kind: 'budget' };

/** The arm64 engine: runs at most `budget` instructions. */
export type Arm64Engine = (ctx: Arm64RunContext, budget: number) => Arm64Stop;
