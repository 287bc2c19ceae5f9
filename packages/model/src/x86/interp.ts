/**
 * The model's x86 interpreter: runs real machine code in every mode the spec's canonical setups use —
 * real-address mode (under unrestricted guest), 16- and 32-bit protected mode with paging off or with
 * 32-bit paging, and IA-32e mode (64-bit and compatibility code) with 4-level paging — on a
 * {@link GuestMemory} that enforces the mappings' permissions (EPT), and decides itself which
 * instructions exit under the VMCS controls in {@link X86Cpu.ctl}.
 *
 * Semantics it follows (hvf-facts.md; Intel SDM Vol. 3 chapters 4, 6, 25–28):
 * - On an exit RIP stays at the exiting instruction and nothing the instruction would have changed is
 *   changed (§1.7 [T]); the stop carries the instruction length where VMX defines one.
 * - Instructions that exit: I/O (the framework forces I/O exiting, §1.8 [T]; INS/OUTS with their memory
 *   operand's linear address), HLT under CPU_BASED_HLT, VMCALL, CPUID, RDMSR/WRMSR (no MSR bitmaps),
 *   MOV to CR0/CR4 when a bit owned by the guest/host mask differs from the read shadow, MOV to/from CR3
 *   under CR3-load/-store exiting (unless the value is a CR3 target), MOV to/from CR8 under CR8-load/-store
 *   exiting, MOV DR under MOV-DR exiting (SDM §26.1). Privilege faults come first (SDM §26.1.1); at CPL 0
 *   there are none.
 * - Guest exceptions and software interrupts: an exception exits when its bit is set in the exception
 *   bitmap (#PF: by PFEC_MASK/MATCH too); otherwise it is delivered. Real mode delivers through the
 *   IVT (pushes FLAGS, CS, IP); protected and long mode delivery through a gate inside the IDT limit is
 *   outside the subset, and a vector beyond the limit raises #GP(vector × 8 + 2 + EXT). A fault while
 *   delivering becomes #DF or a triple fault by SDM Table 6-5, and an exit during delivery carries the
 *   event being delivered as IDT-vectoring information (SDM §28.2.4).
 * - Memory: instruction fetch, data and paging-structure accesses go through the mappings (a missing
 *   permission is an EPT violation for that access: bit 8 clear for paging-structure accesses); with
 *   paging on, linear addresses are translated by a page walk (4 KiB, 4 MiB and 2 MiB / 1 GiB pages;
 *   accessed/dirty bits are set as the CPU sets them) cached in a small TLB that is flushed at every run
 *   and by CR0/CR3/CR4 changes.
 *
 * The subset of instructions: prefixes 66, 67, the segment overrides, REX (64-bit mode), REP on string
 * I/O; `mov` r/m forms (88–8B, C6, C7), moffs (A0–A3), immediates (B0–BF, REX.W B8+r io), `mov` to/from a
 * segment register (8C, 8E); `add or adc sbb and sub xor cmp` in all their forms (00–3D, 80, 81, 83);
 * `inc`/`dec` (40–4F outside 64-bit mode, FE/FF /0 /1); `div` (F6/F7 /6); `push`/`pop` r (50–5F); `jmp`
 * rel8/rel16/rel32 (EB, E9), r/m (FF /4), far (EA, FF /5); `jcc` (70–7F, 0F 80–8F); `nop` (90); `lea`
 * (8D); `in`/`out` (E4–E7, EC–EF), `ins`/`outs` (6C–6F); `int3`, `int n`, `int1` (CC, CD, F1); `iret`
 * in real mode (CF); `hlt` (F4); `cli`/`sti` (FA, FB); `ud2`; `vmcall`; `cpuid`; `rdmsr`/`wrmsr`; `mov`
 * to/from CR0/CR2/CR3/CR4/CR8 and DR0–DR7; `lgdt`/`lidt`. 64-bit operand size (REX.W) is supported by
 * `mov`, the ALU group, `inc`/`dec` and `lea`.
 *
 * Everything else stops with `{kind: 'unsupported', bytes, reason}`, never a guess: other
 * instructions, LOCK, REP on anything but string I/O, a REP string instruction with count 0, virtual-8086
 * mode, PAE paging outside IA-32e mode, SMEP/SMAP/PKE, CPL > 0 code, expand-down data segments, call
 * gates and task switches, delivery through an IDT gate in protected/long mode, general-detect debug
 * traps, CR8 without CR8 exiting (the APIC TPR).
 *
 * Undefined flags: AND/OR/XOR leave AF undefined in the SDM; this engine clears it. DIV leaves every
 * arithmetic flag undefined; this engine leaves them unchanged.
 * Registers: outside 64-bit mode 32-bit writes change bits 31:0 only and bits 63:32 are left alone
 * (undefined in 32-bit modes, SDM Vol. 1 §3.4.1.1); in 64-bit mode they zero bits 63:32.
 * @module
 */

import { BigIntMemo, Low32Memo } from '../bigint-memo.js';
import type {
  GuestMemory,
  MemFault,
  X86Cpu,
  X86Engine,
  X86EventInfo,
  X86Segment,
  X86Stop,
} from '../engine.js';
import { isFault, readInto } from '../engine.js';

type Size = 1 | 2 | 4;
type SegName = 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss';

const CF = 1 << 0;
const PF = 1 << 2;
const AF = 1 << 4;
const ZF = 1 << 6;
const SF = 1 << 7;
const TF = 1 << 8;
const IF = 1 << 9;
const OF = 1 << 11;
const AC = 1 << 18;
const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
const TWO32 = 0x1_0000_0000;

/** CPU-based controls the engine reads (Intel SDM Table 25-6). */
const CTL_HLT = 1 << 7;
const CTL_CR3_LOAD = 1 << 15;
const CTL_CR3_STORE = 1 << 16;
const CTL_CR8_LOAD = 1 << 19;
const CTL_CR8_STORE = 1 << 20;
const CTL_TPR_SHADOW = 1 << 21;
const CTL_MOV_DR = 1 << 23;
const CTL_UNCOND_IO = 1 << 24;
const CTL_IO_BITMAPS = 1 << 25;
/** CPU-based 2: descriptor-table exiting (SDM Table 25-7). */
const CTL2_DESC_TABLE = 1 << 2;
/** VM-entry: IA-32e mode guest. */
const ENTRY_IA32E = 1 << 9;

/** RFLAGS bits the mode depends on: VM (virtual-8086) and IOPL (whether I/O is allowed at CPL 0). */
const MODE_FLAGS = 0x2_3000;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const EFER_NXE = 1n << 11n;

/**
 * Segment-override prefixes by byte, as a dense 256-entry table: every instruction looks its first byte
 * up, and a missing key of a sparse object is a slow lookup (~15 ns).
 */
const SEG_PREFIX = new Array<SegName | undefined>(256).fill(undefined);
Object.assign(SEG_PREFIX, { 38: 'es', 46: 'cs', 54: 'ss', 62: 'ds', 100: 'fs', 101: 'gs' });
const SREG: readonly (SegName | undefined)[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', undefined, undefined];
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'] as const;

/** Thrown inside a step to stop the run; caught by the engine loop. */
class Stop {
  constructor(readonly stop: X86Stop) {}
}

/** A guest exception raised inside a step (a fault: RIP at the instruction); caught by the engine loop. */
class Fault {
  constructor(
    readonly vector: number,
    readonly errorCode: number | undefined,
    /** #PF: the linear address (CR2). */
    readonly address = 0,
  ) {}
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  let p = 1;
  while (b) {
    p ^= b & 1;
    b >>= 1;
  }
  PARITY[i] = p ? PF : 0;
}

function maskOf(size: Size): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}
function signOf(size: Size): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x8000_0000;
}
function trunc(v: number, size: Size): number {
  return size === 4 ? v >>> 0 : v & maskOf(size);
}
/** The little-endian value of `size` bytes of `b` from `at`. */
function fromLe(b: Uint8Array, size: number, at = 0): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v * 256 + b[at + i]!) >>> 0;
  return v;
}
/**
 * `x` as a small integer when it is one. V8 keeps a numeric field of the one Run as a small integer until
 * a boxed double is stored into it, and as a boxed double for good after that; values converted from
 * bigints or computed in floating point (page walks, 64-bit RIPs) can arrive boxed even when they are
 * small integers, and one such store made the flat 32-bit path 40 % slower for the rest of the process.
 * Values that do not come from small-integer arithmetic go through here before they are stored.
 */
function smi(x: number): number {
  return (x | 0) === x ? x | 0 : x;
}

/** A linear address (a safe integer, negative for the upper canonical half) as the VMCS's u64. */
function linearBig(l: number): bigint {
  return BigInt.asUintN(64, BigInt(l));
}
/** The page number and the 48-bit form of a 64-bit-mode linear address. */
function low48(l: number): number {
  return l < 0 ? l + 2 ** 48 : l;
}

/**
 * A memory operand: segment and effective offset (64-bit mode: the signed 64-bit effective address), or
 * for RIP-relative addressing the displacement from the end of the instruction (known once every byte of
 * the instruction is fetched, which every access comes after).
 */
interface MemOperand {
  readonly seg: SegName;
  readonly offset: number;
  readonly ripDisp?: number;
}
interface ModRm {
  readonly mod: number;
  /** ModRM.reg extended by REX.R. */
  readonly reg: number;
  /** ModRM.rm extended by REX.B (register operands). */
  readonly rm: number;
  readonly mem?: MemOperand;
}

/** What the step decoded before the opcode. */
interface Prefixes {
  /** Operand size: 2, 4, or 8 (REX.W). */
  osz: 2 | 4 | 8;
  /** Address size: 2, 4 or 8. */
  asz: 2 | 4 | 8;
  seg: SegName | undefined;
  rep: number;
  rex: number;
}

/** A TLB entry: a linear page's physical page, and whether a write through it may skip the walk. */
interface TlbEntry {
  /** The flush generation it belongs to (a flush bumps the run's generation instead of clearing slots). */
  gen: number;
  page: number;
  gpa: number;
  dirty: boolean;
  noExec: boolean;
}
const TLB_SIZE = 64;
/** The most instructions a replayed run ({@link Run.replay}) may have. */
const TRACE_MAX = 4;

/**
 * The state of one run: registers as numbers, loaded on first use and written back (if changed) on every
 * stop. One Run is reused by every engine call ({@link begin}): a run is synchronous and never re-entered,
 * and allocating the object and its buffers per run was a large part of the garbage an exit made.
 */
class Run implements Prefixes {
  private readonly lo = new Uint32Array(16);
  private readonly hi = new Uint32Array(16);
  private loaded = 0;
  private hiLoaded = 0;
  private dirty = 0;
  cpu!: X86Cpu;
  mem!: GuestMemory;
  /** RIP as a number (64-bit mode: the signed canonical value; else EIP). */
  rip = 0;
  flags = 0;
  private flags0 = 0;
  /** 64-bit code (IA-32e mode with CS.L = 1). */
  long = false;
  /** IA-32e mode active (EFER.LMA). */
  lma = false;
  /** Default operand and address size of the code segment. */
  defSize: 2 | 4 = 4;
  /** Paging: 0 off, 1 32-bit paging, 2 4-level paging. */
  paging = 0;
  /** Real-address mode (CR0.PE = 0). */
  real = false;
  /** CS.base (low 32 bits outside 64-bit mode) and CS.limit, as numbers. */
  private csBase = 0;
  private csLimit = 0;
  // Per instruction: its bytes are code[codeAt …], `fetched` of them so far (at most 15) — a view of
  // guest memory (GuestMemory.span) when one mapping holds them all, else copied into `own`.
  start = 0;
  pos = 0;
  private readonly own = new Uint8Array(15);
  private code: Uint8Array = this.own;
  private codeAt = 0;
  private fetched = 0;
  /** Scratch buffer of data loads and page-table entries. */
  private readonly data = new Uint8Array(8);
  private readonly tlb: (TlbEntry | undefined)[] = new Array(TLB_SIZE).fill(undefined);
  private tlbGen = 0;
  /**
   * Paging off: the guest page instructions were last fetched from, as a span (GuestMemory.span), -1
   * when none. Kept from run to run while the memory and its mappings' generation stay the same (a
   * span is a live view, so guest and host writes to the page are seen; only a mapping change can
   * make it stale): looking the page up again on every run was a measurable part of an exit.
   */
  private codePage = -1;
  private codeMem: GuestMemory | undefined;
  private codeGeneration = -1;
  private codePageBytes: Uint8Array = this.own;
  private codePageAt = 0;
  /** The last instruction-fetch translation: linear page → physical page. */
  private fetchPage = -1;
  private fetchGpa = 0;
  /** Results of the 64-bit helpers (the high half of a result, the value of a 64-bit load). */
  resHi = 0;
  // The current instruction's prefixes (Prefixes), reset per instruction: fields of the Run itself, so
  // that reading one is a single load and nothing is allocated per step.
  osz: 2 | 4 | 8 = 4;
  asz: 2 | 4 | 8 = 4;
  seg: SegName | undefined = undefined;
  rep = 0;
  rex = 0;
  /** Whether IN/OUT/INS/OUTS are allowed at the current CPL and IOPL (real mode, or CPL ≤ IOPL). */
  ioPermitted = true;

  // The replay of the last run (see {@link replay}). While a run goes on, `traceN` counts the
  // instructions it has noted (a run is replayable when it noted every one it executed), their
  // offsets in the code page and their bytes; -1 once an instruction could not be noted.
  private traceN = 0;
  private traceBytesN = 0;
  private traceRip = 0;
  private readonly traceOffset = new Int32Array(TRACE_MAX);
  private readonly traceLength = new Uint8Array(TRACE_MAX);
  private readonly traceBytes = new Uint8Array(TRACE_MAX * 15);
  private tracePage = -1;
  /** The recorded run: its start and end RIP, its stop, and what it depended on. */
  private replayStop: X86Stop | undefined;
  private replayCpu: X86Cpu | undefined;
  private replayRip = 0;
  private replayEndRip = 0;
  /** RIP as the CPU held it when the recorded run began, and when it ended (see {@link repeat}). */
  private replayRipBig = 0n;
  private replayEndRipBig = 0n;
  private replayMem: GuestMemory | undefined;
  private replayGeneration = -1;
  /** cpu.rip when this run began. */
  private startRipBig = 0n;
  private replayCount = 0;
  private replayEpoch = -1;
  private replayFlags = 0;
  private replayCpuBased = 0;
  private replayPage = -1;
  private replayN = 0;
  private readonly replayOffset = new Int32Array(TRACE_MAX);
  private readonly replayLength = new Uint8Array(TRACE_MAX);
  private readonly replayBytes = new Uint8Array(TRACE_MAX * 15);
  /** Bumped by every derivation of the mode: a replay recorded under another derivation is not used. */
  private modeEpoch = 0;

  /** Starts a run of `cpu` on `mem`. Returns why the mode is outside the subset, or undefined. */
  begin(cpu: X86Cpu, mem: GuestMemory): string | undefined {
    this.cpu = cpu;
    this.mem = mem;
    this.loaded = 0;
    this.hiLoaded = 0;
    this.dirty = 0;
    this.flags = smi(RFLAGS.of(cpu.rflags));
    this.flags0 = this.flags;
    const generation = mem.generation;
    if (mem !== this.codeMem || generation === undefined || generation !== this.codeGeneration)
      this.codePage = -1;
    this.flushTlb();
    const why = this.setMode();
    if (why !== undefined) return why;
    this.rip = smi(this.long ? Number(BigInt.asIntN(64, cpu.rip)) : RIP_IN.of(cpu.rip));
    this.traceN = 0;
    this.traceBytesN = 0;
    this.traceRip = this.rip;
    this.startRipBig = cpu.rip;
    return undefined;
  }

  /**
   * Notes the instruction just decoded (its bytes are code[codeAt …+pos]) as one whose whole effect is
   * determined by its bytes, the mode, RFLAGS and the I/O controls: a near `jmp` outside 64-bit mode,
   * an `in`/`out` with an immediate port. Only instructions fetched from the kept code page are noted
   * (their bytes can be checked there again); any other breaks the trace.
   */
  note(): undefined {
    const n = this.traceN;
    if (n < 0) return undefined;
    const len = this.pos;
    const linear = (this.csBase + (this.start >>> 0)) >>> 0;
    const offset = linear & 0xfff;
    if (
      n >= TRACE_MAX ||
      this.paging !== 0 ||
      this.long ||
      this.code !== this.codePageBytes ||
      this.codePage === -1 ||
      linear - offset !== this.codePage ||
      this.codeAt - this.codePageAt !== offset ||
      offset + len > 4096 ||
      (n > 0 && this.tracePage !== this.codePage)
    ) {
      this.traceN = -1;
      return undefined;
    }
    this.tracePage = this.codePage;
    this.traceOffset[n] = offset;
    this.traceLength[n] = len;
    this.traceBytes.set(this.code.subarray(this.codeAt, this.codeAt + len), this.traceBytesN);
    this.traceBytesN += len;
    this.traceN = n + 1;
    return undefined;
  }

  /**
   * After a run that stopped with `stop` after `executed` instructions: when it noted every one
   * ({@link note}), it becomes the run {@link replay} may repeat.
   */
  record(stop: X86Stop, executed: number): void {
    if (this.traceN !== executed || executed === 0) return;
    const n = executed;
    this.replayStop = stop;
    this.replayCpu = this.cpu;
    this.replayRip = this.traceRip;
    this.replayEndRip = this.rip;
    this.replayRipBig = this.startRipBig;
    this.replayEndRipBig = this.cpu.rip;
    this.replayMem = this.mem;
    this.replayGeneration = this.mem.generation ?? -1;
    this.replayCount = n;
    this.replayEpoch = this.modeEpoch;
    this.replayFlags = this.flags;
    this.replayCpuBased = this.cpu.ctl.cpuBased;
    this.replayPage = this.tracePage;
    this.replayN = n;
    this.replayOffset.set(this.traceOffset.subarray(0, n));
    this.replayLength.set(this.traceLength.subarray(0, n));
    this.replayBytes.set(this.traceBytes.subarray(0, this.traceBytesN));
  }

  /** Forgets the recorded run: a run that is not its replay may change anything {@link repeat} relies on. */
  forget(): void {
    this.replayStop = undefined;
    this.replayCpu = undefined;
  }

  /**
   * {@link X86Engine.repeat}: the recorded run again, when it was the engine's last call, on `cpu`,
   * which has changed only in RIP since (the caller's promise) and now starts where that run started,
   * on the same memory with the same mappings, and the instruction bytes are still the same. Then the
   * mode, RFLAGS and controls are those of that run, and so is everything it did.
   */
  repeat(cpu: X86Cpu, mem: GuestMemory, budget: number): X86Stop | undefined {
    const stop = this.replayStop;
    if (
      stop === undefined ||
      cpu !== this.replayCpu ||
      mem !== this.replayMem ||
      mem.generation !== this.replayGeneration ||
      budget < this.replayCount ||
      cpu.rip !== this.replayRipBig ||
      !this.sameBytes()
    )
      return undefined;
    cpu.rip = this.replayEndRipBig;
    return stop;
  }

  /** Whether the recorded run's instructions still have their bytes in the kept code page. */
  private sameBytes(): boolean {
    if (this.codePage !== this.replayPage || this.codeMem !== this.replayMem) return false;
    const page = this.codePageBytes;
    const base = this.codePageAt;
    const bytes = this.replayBytes;
    let b = 0;
    for (let i = 0; i < this.replayN; i++) {
      const at = base + (this.replayOffset[i] as number);
      const len = this.replayLength[i] as number;
      for (let j = 0; j < len; j++) if (page[at + j] !== bytes[b + j]) return false;
      b += len;
    }
    return true;
  }

  /**
   * The stop of this run without decoding it, when it starts where the recorded run started and
   * everything that run depended on is the same: the CPU, the mode (same derivation, paging off, not
   * 64-bit code), RFLAGS, the processor-based controls (I/O exiting), the code page (same memory,
   * mappings unchanged: the page the run begins on was kept), enough budget, and every instruction's
   * bytes, read again from the live page (the host or the guest may have rewritten them). The noted
   * instructions change nothing but RIP, so RIP then is the recorded one. Undefined otherwise.
   */
  replay(budget: number): X86Stop | undefined {
    const stop = this.replayStop;
    if (
      stop === undefined ||
      this.rip !== this.replayRip ||
      this.cpu !== this.replayCpu ||
      this.modeEpoch !== this.replayEpoch ||
      this.modeCpu !== this.cpu ||
      this.paging !== 0 ||
      this.long ||
      this.flags !== this.replayFlags ||
      this.cpu.ctl.cpuBased !== this.replayCpuBased ||
      budget < this.replayCount ||
      !this.sameBytes()
    )
      return undefined;
    this.rip = this.replayEndRip;
    return stop;
  }

  // The inputs of the last mode derivation: an exit loop enters the same mode run after run, and
  // deriving it again was a measurable part of the exit round trip.
  private modeCpu: X86Cpu | undefined;
  private modeCr0 = -1n;
  private modeCr4 = -1n;
  private modeEfer = -1n;
  private modeCs: X86Segment | undefined;
  private modeAr = -1;
  private modeBase = -1n;
  private modeLimit = -1;
  private modeFlags = -1;

  /** Derives the mode from CR0, CR4, EFER and CS; why it is outside the subset, or undefined. */
  setMode(): string | undefined {
    const cpu = this.cpu;
    const cs = cpu.seg.cs;
    if (
      cpu === this.modeCpu &&
      cpu.cr0 === this.modeCr0 &&
      cpu.cr4 === this.modeCr4 &&
      cpu.efer === this.modeEfer &&
      cs === this.modeCs &&
      cs.ar === this.modeAr &&
      cs.base === this.modeBase &&
      cs.limit === this.modeLimit &&
      (this.flags & MODE_FLAGS) === this.modeFlags
    ) {
      this.fetchPage = -1;
      return undefined;
    }
    return this.rederiveMode();
  }

  /** {@link setMode} when the inputs changed: kept out of it, so that the check alone is small enough to inline. */
  private rederiveMode(): string | undefined {
    const cpu = this.cpu;
    const cs = cpu.seg.cs;
    this.modeCpu = undefined;
    this.modeEpoch++;
    const why = this.deriveMode();
    if (why === undefined) {
      this.modeCpu = cpu;
      this.modeCr0 = cpu.cr0;
      this.modeCr4 = cpu.cr4;
      this.modeEfer = cpu.efer;
      this.modeCs = cs;
      this.modeAr = cs.ar;
      this.modeBase = cs.base;
      this.modeLimit = cs.limit;
      this.modeFlags = this.flags & MODE_FLAGS;
    }
    return why;
  }

  private deriveMode(): string | undefined {
    const cpu = this.cpu;
    const cr0 = CR0.of(cpu.cr0);
    const cr4 = CR4.of(cpu.cr4);
    this.real = (cr0 & 1) === 0;
    this.lma = (EFER.of(cpu.efer) & 0x400) !== 0;
    const cs = cpu.seg.cs;
    this.long = this.lma && ((cs.ar >> 13) & 1) === 1;
    if ((this.flags & 0x2_0000) !== 0) return 'virtual-8086 mode (RFLAGS.VM = 1) is outside the subset';
    if (cr4 & ((1 << 20) | (1 << 21) | (1 << 22)))
      return 'SMEP, SMAP and protection keys are outside the subset';
    if ((cr0 & 0x8000_0000) !== 0) {
      if (this.real) return 'CR0.PG = 1 with CR0.PE = 0 is not a valid state';
      if (this.lma) {
        if ((cr4 & 0x20) === 0) return 'IA-32e mode without CR4.PAE is not a valid state';
        if (cr4 & (1 << 12)) return '5-level paging (CR4.LA57) is outside the subset';
        this.paging = 2;
      } else if (cr4 & 0x20) return 'PAE paging outside IA-32e mode is outside the subset';
      else this.paging = 1;
    } else {
      if (this.lma) return 'IA-32e mode without paging is not a valid state';
      this.paging = 0;
    }
    if (!this.real && this.cpl() !== 0) return 'code at CPL > 0 is outside the subset';
    this.ioPermitted = this.real || this.cpl() <= this.iopl();
    this.defSize = this.long ? 4 : ((cs.ar >> 14) & 1) === 1 ? 4 : 2;
    if (this.long && this.defSize === 4 && ((cs.ar >> 14) & 1) === 1)
      return 'a 64-bit code segment with D = 1 is not a valid state';
    this.csBase = this.long ? 0 : smi(CS_BASE.of(cs.base));
    this.csLimit = cs.limit >>> 0;
    this.fetchPage = -1;
    return undefined;
  }

  commit(): void {
    const c = this.cpu;
    for (let i = 0; this.dirty !== 0; i++) {
      const bit = 1 << i;
      if (this.dirty & bit) {
        c.gpr[i] =
          this.hiLoaded & bit
            ? (BigInt(this.hi[i]!) << 32n) | BigInt(this.lo[i]!)
            : ((c.gpr[i] ?? 0n) & ~0xffff_ffffn) | BigInt(this.lo[i]!);
        this.dirty &= ~bit;
      }
    }
    c.rip = this.long ? BigInt.asUintN(64, BigInt(this.rip)) : RIP_OUT.of(this.rip);
    if (this.flags !== this.flags0) c.rflags = (c.rflags & ~0xffff_ffffn) | BigInt(this.flags >>> 0);
  }

  /** The low 32 bits of GPR `r` (Intel order, 0–15). */
  r32(r: number): number {
    if (!(this.loaded & (1 << r))) {
      this.lo[r] = Number(BigInt.asUintN(32, this.cpu.gpr[r] ?? 0n));
      this.loaded |= 1 << r;
    }
    return this.lo[r]!;
  }
  /** The high 32 bits of GPR `r`. */
  r64hi(r: number): number {
    const bit = 1 << r;
    if (!(this.hiLoaded & bit)) {
      this.hi[r] = Number(BigInt.asUintN(64, this.cpu.gpr[r] ?? 0n) >> 32n);
      this.hiLoaded |= bit;
    }
    return this.hi[r]!;
  }
  /** Writes the low 32 bits of GPR `r` as a 32-bit register write: in 64-bit mode bits 63:32 become 0. */
  w32(r: number, v: number): void {
    const bit = 1 << r;
    this.lo[r] = v;
    this.loaded |= bit;
    this.dirty |= bit;
    if (this.long) {
      this.hi[r] = 0;
      this.hiLoaded |= bit;
    }
  }
  /** Writes bits 31:0 of GPR `r`, keeping bits 63:32 (8- and 16-bit register writes). */
  private wLow(r: number, v: number): void {
    this.lo[r] = v;
    this.loaded |= 1 << r;
    this.dirty |= 1 << r;
  }
  /** Writes all 64 bits of GPR `r`. */
  w64(r: number, lo: number, hi: number): void {
    const bit = 1 << r;
    this.lo[r] = lo;
    this.hi[r] = hi;
    this.loaded |= bit;
    this.hiLoaded |= bit;
    this.dirty |= bit;
  }

  /** Ends an instruction that falls through: RIP moves past it. */
  finish(): undefined {
    this.rip = this.ripAfter(this.start + this.pos);
    return undefined;
  }
  /** Ends an instruction that branches to `target` (an offset in CS, or a 64-bit-mode address). */
  branch(target: number, osz: number): undefined {
    this.rip = osz === 2 ? target & 0xffff : this.long && osz === 8 ? smi(target) : this.ripAfter(target);
    if (this.long && (this.rip < -(2 ** 47) || this.rip >= 2 ** 47)) {
      // A jump to a non-canonical address faults at the jump (SDM Vol. 2, JMP).
      this.rip = this.start;
      throw new Fault(13, 0);
    }
    return undefined;
  }
  /** `v` as a RIP of this code: 64-bit mode adds in 64 bits, else EIP wraps at 32 bits. */
  private ripAfter(v: number): number {
    return this.long ? v : v >>> 0;
  }

  // ---- instruction fetch ----

  beginInstruction(): void {
    this.start = this.rip;
    this.pos = 0;
    this.fetched = 0;
  }

  /** The instruction byte at `pos`, fetching from guest memory page by page as decoding needs it. */
  next(): number {
    if (this.pos >= this.fetched) this.fetchMore();
    return this.code[this.codeAt + this.pos++]!;
  }

  private fetchMore(): void {
    // The common case first, kept small: the first bytes of an instruction, paging off, not 64-bit code.
    if (this.fetched === 0 && this.paging === 0 && !this.long) {
      const offset = this.start >>> 0;
      if (offset <= this.csLimit) {
        const linear = (this.csBase + offset) >>> 0;
        const n = Math.min(15, 4096 - (linear & 0xfff));
        const page = linear - (linear & 0xfff);
        if (page === this.codePage) {
          this.code = this.codePageBytes;
          this.codeAt = this.codePageAt + (linear & 0xfff);
          this.fetched = n;
          return;
        }
        // The whole page when one mapping holds it (then the rest of this run's fetches from the page
        // skip the lookup), else the instruction's bytes as before.
        const mem = this.mem;
        const whole = mem.span?.(page, 4096, 'fetch');
        if (whole !== undefined) {
          this.codePage = page;
          this.codeMem = mem;
          this.codeGeneration = mem.generation ?? -1;
          this.codePageBytes = whole.bytes;
          this.codePageAt = smi(whole.at);
          this.code = whole.bytes;
          this.codeAt = smi(whole.at) + (linear & 0xfff);
          this.fetched = n;
          return;
        }
        const view = this.mem.span?.(linear, n, 'fetch');
        if (view !== undefined) {
          this.code = view.bytes;
          this.codeAt = smi(view.at);
          this.fetched = n;
          return;
        }
      }
    }
    this.fetchSlow();
  }

  private fetchSlow(): void {
    if (this.fetched >= 15) throw new Fault(13, 0); // an instruction longer than 15 bytes
    let linear: number;
    if (this.long) {
      linear = this.start + this.fetched;
      if (linear < -(2 ** 47) || linear >= 2 ** 47) throw new Fault(13, 0);
    } else {
      const offset = (this.start + this.fetched) >>> 0;
      if (offset > this.csLimit) throw new Fault(13, 0);
      linear = (this.csBase + offset) >>> 0;
    }
    const toPageEnd = 4096 - (low48(linear) % 4096);
    const n = Math.min(15 - this.fetched, toPageEnd);
    let gpa = linear;
    if (this.paging !== 0) {
      const page = Math.floor(low48(linear) / 4096);
      if (page !== this.fetchPage) {
        this.fetchGpa = smi(this.translatePage(linear, 'fetch'));
        this.fetchPage = smi(page);
      }
      gpa = this.fetchGpa + (low48(linear) % 4096);
    }
    if (this.fetched === 0) {
      const view = this.mem.span?.(gpa, n, 'fetch');
      if (view !== undefined) {
        this.code = view.bytes;
        this.codeAt = smi(view.at);
        this.fetched = n;
        return;
      }
      this.code = this.own;
      this.codeAt = 0;
    } else if (this.code !== this.own) {
      // The instruction continues past its view's page: its first bytes move to `own`.
      this.own.set(this.code.subarray(this.codeAt, this.codeAt + this.fetched));
      this.code = this.own;
      this.codeAt = 0;
    }
    const fault = readInto(this.mem, gpa, n, 'fetch', this.own, this.fetched);
    if (fault !== undefined) throw new Stop({ kind: 'ept', fault, gla: linearBig(linear) });
    this.fetched += n;
  }

  imm(size: Size): number {
    let v = 0;
    for (let i = 0; i < size; i++) v += this.next() * 2 ** (8 * i);
    return v >>> 0;
  }
  simm8(): number {
    const b = this.next();
    return b >= 0x80 ? b - 0x100 : b;
  }
  simm16(): number {
    const v = this.imm(2);
    return v >= 0x8000 ? v - 0x10000 : v;
  }
  simm32(): number {
    return this.imm(4) | 0;
  }

  unsupported(reason: string): never {
    const bytes = this.code.slice(this.codeAt, this.codeAt + Math.min(Math.max(this.pos, 1), this.fetched));
    throw new Stop({ kind: 'unsupported', bytes, reason });
  }

  // ---- registers ----

  /** An 8-bit register: with a REX prefix 4–7 are SPL…DIL, without AH…BH. */
  getByte(r: number, rex: number): number {
    return r < 4 || rex !== 0 ? this.r32(r) & 0xff : (this.r32(r - 4) >>> 8) & 0xff;
  }
  get(r: number, size: Size, rex = 0): number {
    if (size === 4) return this.r32(r);
    if (size === 2) return this.r32(r) & 0xffff;
    return this.getByte(r, rex);
  }
  set(r: number, size: Size, v: number, rex = 0): void {
    if (size === 4) this.w32(r, v >>> 0);
    else if (size === 2) this.wLow(r, ((this.r32(r) & 0xffff_0000) | (v & 0xffff)) >>> 0);
    else if (r < 4 || rex !== 0) this.wLow(r, ((this.r32(r) & 0xffff_ff00) | (v & 0xff)) >>> 0);
    else this.wLow(r - 4, ((this.r32(r - 4) & 0xffff_00ff) | ((v & 0xff) << 8)) >>> 0);
  }
  /** The address-size-wide value of a register used as an address or a count. */
  addrReg(r: number, asz: number): number {
    if (asz === 2) return this.r32(r) & 0xffff;
    if (asz === 4) return this.r32(r);
    return (this.r64hi(r) | 0) * TWO32 + this.r32(r);
  }
  /** Writes an address-size-wide register (asz 2 keeps the rest, 4 is a 32-bit write, 8 all 64 bits). */
  setAddrReg(r: number, asz: number, v: number): void {
    if (asz === 2) this.wLow(r, ((this.r32(r) & 0xffff_0000) | (v & 0xffff)) >>> 0);
    else if (asz === 4) this.w32(r, v >>> 0);
    else this.w64(r, v >>> 0, Math.floor(v / TWO32) >>> 0);
  }

  // ---- addressing ----

  modrm(p: Prefixes): ModRm {
    const b = this.next();
    const mod = b >> 6;
    const reg = ((b >> 3) & 7) | ((p.rex & 4) << 1);
    const rm = b & 7;
    if (mod === 3) return { mod, reg, rm: rm | ((p.rex & 1) << 3) };
    if (p.asz === 2) return { mod, reg, rm, mem: this.modrm16(mod, rm, p.seg) };
    let seg: SegName = 'ds';
    let base = 0;
    let baseHi = 0;
    let index = 0;
    let indexHi = 0;
    let scale = 1;
    let rmBase = rm;
    let ripRelative = false;
    const wide = p.asz === 8;
    if (rm === 4) {
      const sib = this.next();
      scale = 1 << (sib >> 6);
      const idx = ((sib >> 3) & 7) | ((p.rex & 2) << 2);
      rmBase = sib & 7;
      if (idx !== 4) {
        index = this.r32(idx);
        if (wide) indexHi = this.r64hi(idx);
      }
      if (rmBase === 5 && mod === 0) rmBase = -1;
    } else if (rm === 5 && mod === 0) {
      rmBase = -1;
      ripRelative = this.long;
    }
    if (rmBase >= 0) {
      const r = rmBase | ((p.rex & 1) << 3);
      base = this.r32(r);
      if (wide) baseHi = this.r64hi(r);
      if (rmBase === 4 || rmBase === 5) seg = 'ss';
    }
    let disp = 0;
    if (mod === 0 && rmBase === -1) disp = this.simm32();
    else if (mod === 1) disp = this.simm8();
    else if (mod === 2) disp = this.simm32();
    if (ripRelative) {
      if (p.asz === 4)
        this.unsupported('EIP-relative addressing (0x67 with RIP-relative) is outside the subset');
      return { mod, reg, rm, mem: { seg: p.seg ?? seg, offset: 0, ripDisp: disp } };
    }
    let offset: number;
    if (!this.long || p.asz === 4) offset = (base + index * scale + disp) >>> 0;
    else {
      // 64-bit effective address: the low and high halves with their carries, then the signed value.
      const sum = base + index * scale + (disp >>> 0);
      const lo = sum >>> 0;
      const carry = Math.floor(sum / TWO32);
      const hi = (baseHi + Math.imul(indexHi, scale) + (disp < 0 ? 0xffff_ffff : 0) + carry) | 0;
      offset = hi * TWO32 + lo;
    }
    return { mod, reg, rm, mem: { seg: p.seg ?? seg, offset } };
  }

  /** 16-bit addressing (SDM Vol. 2 Table 2-1). */
  private modrm16(mod: number, rm: number, override: SegName | undefined): MemOperand {
    let base = 0;
    let seg: SegName = 'ds';
    if (rm === 6 && mod === 0) base = this.imm(2);
    else {
      const bx = this.r32(3) & 0xffff;
      const bp = this.r32(5) & 0xffff;
      const si = this.r32(6) & 0xffff;
      const di = this.r32(7) & 0xffff;
      base = [bx + si, bx + di, bp + si, bp + di, si, di, bp, bx][rm]!;
      if (rm === 2 || rm === 3 || rm === 6) seg = 'ss';
    }
    const disp = mod === 1 ? this.simm8() : mod === 2 ? this.simm16() : 0;
    return { seg: override ?? seg, offset: (base + disp) & 0xffff };
  }

  /** The effective offset of `m` (RIP-relative: from the end of the instruction, fetched by now). */
  offsetOf(m: MemOperand): number {
    return m.ripDisp === undefined ? m.offset : this.start + this.pos + m.ripDisp;
  }
  /** The operand `k` bytes after `m`. */
  after(m: MemOperand, k: number): MemOperand {
    return { seg: m.seg, offset: this.offsetOf(m) + k };
  }

  /**
   * The linear address of `size` bytes at `m` after segmentation (SDM Vol. 3 §3.4, §5.3): 64-bit mode
   * adds only the FS/GS base and checks canonicality; elsewhere the base is added and the limit checked
   * (#GP(0), #SS(0) for SS).
   */
  linear(m: MemOperand, size: number): number {
    if (this.long) {
      let l = this.offsetOf(m);
      if (m.seg === 'fs' || m.seg === 'gs') l += Number(BigInt.asIntN(64, this.cpu.seg[m.seg].base));
      if (!(l >= -(2 ** 47) && l + size - 1 < 2 ** 47)) throw new Fault(m.seg === 'ss' ? 12 : 13, 0);
      return l;
    }
    const s = this.cpu.seg[m.seg];
    if (!this.real && (s.ar & 0x1_0000) !== 0) throw new Fault(m.seg === 'ss' ? 12 : 13, 0);
    if (!this.real && (s.ar & 0x1c) === 0x14)
      this.unsupported('expand-down data segments are outside the subset');
    if (s.limit !== 0xffff_ffff && m.offset + size - 1 > s.limit)
      throw new Fault(m.seg === 'ss' ? 12 : 13, 0);
    return (Number(s.base & 0xffff_ffffn) + m.offset) >>> 0;
  }

  // ---- paging ----

  flushTlb(): void {
    this.tlbGen++;
    this.fetchPage = -1;
  }

  /**
   * The physical page (4 KiB aligned GPA, a number) a linear address's page maps to for `access` at CPL 0
   * (SDM Vol. 3 §4.3, §4.5, §4.6, §4.8), through the TLB; throws the #PF or the paging-structure EPT stop.
   */
  translatePage(linear: number, access: 'read' | 'write' | 'fetch'): number {
    const l = low48(linear);
    const page = Math.floor(l / 4096);
    const slot = page % TLB_SIZE;
    const hit = this.tlb[slot];
    if (
      hit !== undefined &&
      hit.gen === this.tlbGen &&
      hit.page === page &&
      (access !== 'write' || hit.dirty) &&
      !(access === 'fetch' && hit.noExec)
    )
      return hit.gpa;
    const e = this.walk(linear, access);
    this.tlb[slot] = e;
    return e.gpa;
  }

  private walk(linear: number, access: 'read' | 'write' | 'fetch'): TlbEntry {
    const l = low48(linear);
    const page = Math.floor(l / 4096);
    const write = access === 'write';
    const cr0 = CR0.of(this.cpu.cr0);
    const wp = (cr0 & 0x1_0000) !== 0;
    const nxe = this.paging === 2 && (this.cpu.efer & EFER_NXE) !== 0n;
    const w = write ? 2 : 0;
    const id = access === 'fetch' && nxe ? 16 : 0;
    const pf = (present: boolean, rsvd = false): never => {
      throw new Fault(14, (present ? 1 : 0) | w | id | (rsvd ? 8 : 0), linear);
    };
    /**
     * Reads an entry (4 or 8 bytes) as lo/hi halves; an EPT fault on it stops the run (bit 8 clear).
     * Through `mem.read`, not the fast paths instruction fetch uses: walks are rare (a TLB miss), and
     * sharing those paths gave them type feedback that slowed every later flat 32-bit fetch.
     */
    const entry = (gpa: number, width: 4 | 8): [number, number] => {
      const r = this.mem.read(BigInt(gpa), width, 'read');
      if (isFault(r)) throw new Stop({ kind: 'ept', fault: r, gla: linearBig(linear), structure: true });
      return [fromLe(r, 4), width === 8 ? fromLe(r, 4, 4) : 0];
    };
    /** Sets bits in an entry in guest memory (accessed/dirty), as a paging-structure write (EPT write permission). */
    const setBits = (gpa: number, lo: number, bits: number): void => {
      const v = (lo | bits) >>> 0;
      const f = this.mem.write(
        BigInt(gpa),
        Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24),
      );
      if (f !== undefined) throw new Stop({ kind: 'ept', fault: f, gla: linearBig(linear), structure: true });
    };
    let writable = true;
    let noExec = false;
    if (this.paging === 1) {
      const l32 = l >>> 0;
      const cr3 = Number(this.cpu.cr3 & 0xffff_f000n);
      const pdeAt = cr3 + (l32 >>> 22) * 4;
      const [pde] = entry(pdeAt, 4);
      if (!(pde & 1)) pf(false);
      writable = (pde & 2) !== 0;
      const pse = (Number(this.cpu.cr4 & 0xffff_ffffn) & 0x10) !== 0;
      if (pse && pde & 0x80) {
        if (pde & 0x3f_e000) this.unsupported('a 4 MiB page with PSE-36 address bits is outside the subset');
        if (write && !writable && wp) pf(true);
        const dirty = (pde & 0x60) === 0x60;
        if (!(pde & 0x20) || (write && !dirty)) setBits(pdeAt, pde, write ? 0x60 : 0x20);
        const gpa = ((pde & 0xffc0_0000) >>> 0) + (l32 & 0x3f_f000);
        return { gen: this.tlbGen, page, gpa, dirty: dirty || write, noExec };
      }
      if (!(pde & 0x20)) setBits(pdeAt, pde, 0x20);
      const pteAt = ((pde & 0xffff_f000) >>> 0) + ((l32 >>> 12) & 0x3ff) * 4;
      const [pte] = entry(pteAt, 4);
      if (!(pte & 1)) pf(false);
      writable = writable && (pte & 2) !== 0;
      if (write && !writable && wp) pf(true);
      const dirty = (pte & 0x60) === 0x60;
      if (!(pte & 0x20) || (write && !dirty)) setBits(pteAt, pte, write ? 0x60 : 0x20);
      return { gen: this.tlbGen, page, gpa: (pte & 0xffff_f000) >>> 0, dirty: dirty || write, noExec };
    }
    // 4-level paging: PML4, PDPT, PD, PT; indices from bits 47:39, 38:30, 29:21, 20:12.
    let table = Number(this.cpu.cr3 & 0x000f_ffff_ffff_f000n);
    const shifts = [39, 30, 21, 12];
    for (let level = 0; level < 4; level++) {
      const shift = shifts[level]!;
      const at = table + (Math.floor(l / 2 ** shift) % 512) * 8;
      const [lo, hi] = entry(at, 8);
      if (!(lo & 1)) pf(false);
      // Reserved bits: XD without NXE, physical-address bits beyond the model's 46 (bits 51:46), PS in a PML4E.
      if ((hi & 0x8000_0000 && !nxe) || hi & 0x000f_c000 || (level === 0 && lo & 0x80)) pf(true, true);
      writable = writable && (lo & 2) !== 0;
      if (hi & 0x8000_0000) noExec = true;
      const leaf = level === 3 || (level > 0 && (lo & 0x80) !== 0);
      const address = (hi & 0xf_ffff) * TWO32 + ((lo & 0xffff_f000) >>> 0);
      if (!leaf) {
        if (!(lo & 0x20)) setBits(at, lo, 0x20);
        table = address - (address % 4096);
        continue;
      }
      if (access === 'fetch' && noExec) pf(true);
      if (write && !writable && wp) pf(true);
      const dirty = (lo & 0x60) === 0x60;
      if (!(lo & 0x20) || (write && !dirty)) setBits(at, lo, write ? 0x60 : 0x20);
      const size = 2 ** shift;
      // A large page's address bits below its size, except bit 12 (PAT), are reserved (SDM Table 4-17, 4-15).
      if (level < 3 && (lo & (size - 1) & ~0x1fff) !== 0) pf(true, true);
      const frame = address - (address % size);
      return { gen: this.tlbGen, page, gpa: frame + (l % size) - (l % 4096), dirty: dirty || write, noExec };
    }
    throw new Error('unreachable: the 4-level walk ends at level 4');
  }

  /** The GPA (a number) of the byte at `linear`, for a data access of kind `access`. */
  phys(linear: number, access: 'read' | 'write'): number {
    if (this.paging === 0) return linear;
    return this.translatePage(linear, access) + (low48(linear) % 4096);
  }

  /** Reads `size` (≤ 8) bytes at `linear` into `data`, page by page; EPT faults stop the run. */
  readLinear(linear: number, size: number, into: Uint8Array = this.data, at = 0): void {
    const first = this.paging === 0 ? size : Math.min(size, 4096 - (low48(linear) % 4096));
    const g = this.phys(linear, 'read');
    const f = readInto(this.mem, g, first, 'read', into, at);
    if (f !== undefined)
      throw new Stop({ kind: 'ept', fault: f, gla: linearBig(linear + (Number(f.gpa) - g)) });
    if (first < size) this.readLinear(linear + first, size - first, into, at + first);
  }

  /**
   * Writes `bytes` at `linear`. An access that spans two pages writes them one after the other; when the
   * second faults, the first page's bytes are put back, so that a faulting store changes nothing.
   */
  writeLinear(linear: number, bytes: Uint8Array): void {
    const first = this.paging === 0 ? bytes.length : Math.min(bytes.length, 4096 - (low48(linear) % 4096));
    const g1 = this.phys(linear, 'write');
    const fault = (f: MemFault, g: number, l: number): never => {
      throw new Stop({ kind: 'ept', fault: f, gla: linearBig(l + (Number(f.gpa) - g)) });
    };
    if (first === bytes.length) {
      const f = this.mem.write(BigInt(g1), bytes);
      if (f !== undefined) fault(f, g1, linear);
      return;
    }
    const g2 = this.phys(linear + first, 'write');
    const old = new Uint8Array(first);
    const readable = readInto(this.mem, g1, first, 'read', old, 0) === undefined;
    const f1 = this.mem.write(BigInt(g1), bytes.subarray(0, first));
    if (f1 !== undefined) fault(f1, g1, linear);
    const f2 = this.mem.write(BigInt(g2), bytes.subarray(first));
    if (f2 !== undefined) {
      if (readable) this.mem.write(BigInt(g1), old);
      fault(f2, g2, linear + first);
    }
  }

  load(m: MemOperand, size: Size): number {
    const l = this.linear(m, size);
    if (this.paging === 0) {
      const fault = readInto(this.mem, l, size, 'read', this.data, 0);
      if (fault !== undefined) throw new Stop({ kind: 'ept', fault, gla: fault.gpa });
    } else this.readLinear(l, size);
    return fromLe(this.data, size);
  }
  /** A 64-bit load: the low half returned, the high half in `resHi`. */
  load64(m: MemOperand): number {
    const l = this.linear(m, 8);
    this.readLinear(l, 8);
    this.resHi = fromLe(this.data, 4, 4);
    return fromLe(this.data, 4);
  }

  store(m: MemOperand, size: number, v: number, hi = 0): void {
    const l = this.linear(m, size);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < Math.min(size, 4); i++) bytes[i] = (v >>> (8 * i)) & 0xff;
    for (let i = 4; i < size; i++) bytes[i] = (hi >>> (8 * (i - 4))) & 0xff;
    if (this.paging === 0) {
      const f = this.mem.write(BigInt(l), bytes);
      if (f) throw new Stop({ kind: 'ept', fault: f, gla: f.gpa });
    } else this.writeLinear(l, bytes);
  }

  readRm(x: ModRm, size: Size, rex = 0): number {
    return x.mem ? this.load(x.mem, size) : this.get(x.rm, size, rex);
  }
  writeRm(x: ModRm, size: Size, v: number, rex = 0): void {
    if (x.mem) this.store(x.mem, size, v);
    else this.set(x.rm, size, v, rex);
  }
  /** 64-bit r/m read: low half returned, high half in `resHi`. */
  readRm64(x: ModRm): number {
    if (x.mem) return this.load64(x.mem);
    this.resHi = this.r64hi(x.rm);
    return this.r32(x.rm);
  }
  writeRm64(x: ModRm, lo: number, hi: number): void {
    if (x.mem) this.store(x.mem, 8, lo, hi);
    else this.w64(x.rm, lo >>> 0, hi >>> 0);
  }

  // ---- flags ----

  /** Computes an ALU operation; returns the result and the new arithmetic flags. */
  alu(op: number, a: number, b: number, size: Size): [number, number] {
    const mask = maskOf(size);
    const sign = signOf(size);
    const cin = this.flags & CF ? 1 : 0;
    let r: number;
    let f = 0;
    switch (op) {
      case 0: // add
      case 2: {
        // adc
        const c = op === 2 ? cin : 0;
        const sum = a + b + c;
        r = trunc(sum, size);
        if (sum > mask) f |= CF;
        if ((a ^ r) & (b ^ r) & sign) f |= OF;
        if ((a ^ b ^ r) & 0x10) f |= AF;
        break;
      }
      case 3: // sbb
      case 5: // sub
      case 7: {
        // cmp
        const c = op === 3 ? cin : 0;
        r = trunc(a - b - c, size);
        if (a < b + c) f |= CF;
        if ((a ^ b) & (a ^ r) & sign) f |= OF;
        if ((a ^ b ^ r) & 0x10) f |= AF;
        break;
      }
      case 1:
        r = trunc(a | b, size);
        break;
      case 4:
        r = trunc(a & b, size);
        break;
      default:
        r = trunc(a ^ b, size);
        break;
    }
    if (r === 0) f |= ZF;
    if (r & sign) f |= SF;
    f |= PARITY[r & 0xff]!;
    return [r, f];
  }

  /** A 64-bit ALU operation on halves: returns the low half and the flags in `aluFlags`, the high half in `resHi`. */
  alu64(op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
    const cin = op === 2 || op === 3 ? (this.flags & CF ? 1 : 0) : 0;
    let lo: number;
    let hi: number;
    let f = 0;
    if (op === 0 || op === 2) {
      const sLo = aLo + bLo + cin;
      lo = sLo >>> 0;
      const sHi = aHi + bHi + (sLo > 0xffff_ffff ? 1 : 0);
      hi = sHi >>> 0;
      if (sHi > 0xffff_ffff) f |= CF;
      if ((aHi ^ hi) & (bHi ^ hi) & 0x8000_0000) f |= OF;
      if ((aLo ^ bLo ^ lo) & 0x10) f |= AF;
    } else if (op === 3 || op === 5 || op === 7) {
      const dLo = aLo - bLo - cin;
      lo = dLo >>> 0;
      const borrow = dLo < 0 ? 1 : 0;
      const dHi = aHi - bHi - borrow;
      hi = dHi >>> 0;
      if (dHi < 0) f |= CF;
      if ((aHi ^ bHi) & (aHi ^ hi) & 0x8000_0000) f |= OF;
      if ((aLo ^ bLo ^ lo) & 0x10) f |= AF;
    } else {
      lo = (op === 1 ? aLo | bLo : op === 4 ? aLo & bLo : aLo ^ bLo) >>> 0;
      hi = (op === 1 ? aHi | bHi : op === 4 ? aHi & bHi : aHi ^ bHi) >>> 0;
    }
    if (lo === 0 && hi === 0) f |= ZF;
    if (hi & 0x8000_0000) f |= SF;
    f |= PARITY[lo & 0xff]!;
    this.resHi = hi;
    this.aluFlags = f;
    return lo;
  }
  aluFlags = 0;

  setArith(f: number, keep = 0): void {
    this.flags = ((this.flags & ~(ARITH_FLAGS & ~keep)) | (f & ~keep)) >>> 0;
  }

  cond(cc: number): boolean {
    const f = this.flags;
    let v: boolean;
    switch (cc >> 1) {
      case 0:
        v = (f & OF) !== 0;
        break;
      case 1:
        v = (f & CF) !== 0;
        break;
      case 2:
        v = (f & ZF) !== 0;
        break;
      case 3:
        v = (f & (CF | ZF)) !== 0;
        break;
      case 4:
        v = (f & SF) !== 0;
        break;
      case 5:
        v = (f & PF) !== 0;
        break;
      case 6:
        v = ((f & SF) !== 0) !== ((f & OF) !== 0);
        break;
      default:
        v = (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0);
        break;
    }
    return cc & 1 ? !v : v;
  }

  cpl(): number {
    return this.real ? 0 : (this.cpu.seg.cs.ar >> 5) & 3;
  }
  iopl(): number {
    return (this.flags >> 12) & 3;
  }

  // ---- stack (push/pop through SS) ----

  /** The stack's address size: 8 in 64-bit mode, else SS.B. */
  private stackSize(): 2 | 4 | 8 {
    if (this.long) return 8;
    return this.real || ((this.cpu.seg.ss.ar >> 14) & 1) === 0 ? 2 : 4;
  }
  push(v: number, size: 2 | 4 | 8, hi = 0): void {
    const ssz = this.stackSize();
    let sp = this.addrReg(4, ssz) - size;
    if (ssz === 2) sp &= 0xffff;
    else if (ssz === 4) sp = sp >>> 0;
    this.store({ seg: 'ss', offset: sp }, size, v, hi);
    this.setAddrReg(4, ssz, sp);
  }
  pop(size: 2 | 4 | 8): number {
    const ssz = this.stackSize();
    const sp = this.addrReg(4, ssz);
    const v =
      size === 8 ? this.load64({ seg: 'ss', offset: sp }) : this.load({ seg: 'ss', offset: sp }, size);
    const next = sp + size;
    this.setAddrReg(4, ssz, ssz === 2 ? next & 0xffff : ssz === 4 ? next >>> 0 : next);
    return v;
  }

  // ---- segments ----

  /**
   * Loads segment register `s` with `selector` (SDM Vol. 3 §3.4.3, Vol. 2 MOV/JMP): in real mode base =
   * selector × 16 with limit and attributes kept; otherwise the descriptor from the GDT (a selector
   * beyond the GDT limit, or in an unusable LDT, is #GP(selector); not present #NP / #SS). The accessed
   * bit is set in the descriptor as the CPU does.
   */
  loadSegment(s: SegName, selector: number): void {
    const seg = this.cpu.seg[s];
    if (this.real) {
      seg.selector = selector;
      seg.base = BigInt(selector) << 4n;
      if (s === 'cs') this.setMode();
      return;
    }
    const index = selector & 0xfff8;
    const err = selector & 0xfffc;
    if ((selector & 0xfffc) === 0 && (selector & 4) === 0) {
      if (s === 'cs' || (s === 'ss' && !this.long)) throw new Fault(13, 0);
      seg.selector = selector;
      seg.ar = 0x1_0000;
      return;
    }
    if (selector & 4) {
      if (this.cpu.ldtr.ar & 0x1_0000) throw new Fault(13, err);
      this.unsupported('segment loads from an LDT are outside the subset');
    }
    if (index + 7 > this.cpu.gdtr.limit) throw new Fault(13, err);
    const at = this.long
      ? Number(BigInt.asIntN(64, this.cpu.gdtr.base)) + index
      : (Number(this.cpu.gdtr.base & 0xffff_ffffn) + index) >>> 0;
    this.readLinear(at, 8);
    const lo = fromLe(this.data, 4);
    const hi = fromLe(this.data, 4, 4);
    const ar = (hi >>> 8) & 0xf0ff;
    const type = ar & 0x1f;
    const code = (type & 0x18) === 0x18;
    const data = (type & 0x18) === 0x10;
    const rpl = selector & 3;
    const dpl = (ar >> 5) & 3;
    if (s === 'cs') {
      if (!code) throw new Fault(13, err);
      if (type & 4 ? dpl > 0 : dpl !== 0 || rpl > 0) throw new Fault(13, err);
    } else if (s === 'ss') {
      if (!data || !(type & 2) || dpl !== 0 || rpl !== 0) throw new Fault(13, err);
    } else if (!(data || (code && type & 2)) || (!(code && type & 4) && dpl < rpl)) throw new Fault(13, err);
    if (!(ar & 0x80)) throw new Fault(s === 'ss' ? 12 : 11, err);
    if (!(type & 1)) {
      const f = this.mem.write(BigInt(this.phys(at + 5, 'write')), Uint8Array.of(((hi >>> 8) & 0xff) | 1));
      if (f !== undefined) throw new Stop({ kind: 'ept', fault: f, gla: linearBig(at + 5) });
    }
    const limitRaw = (lo & 0xffff) | (hi & 0xf_0000);
    seg.selector = selector;
    seg.base = BigInt(((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0);
    seg.limit = ar & 0x8000 ? (limitRaw * 4096 + 0xfff) >>> 0 : limitRaw;
    seg.ar = ar | 1;
    if (s === 'cs') {
      const why = this.setMode();
      if (why !== undefined) this.unsupported(why);
    }
  }

  // ---- events ----

  /**
   * Raises an event for the instruction that started at `start` and decides what it becomes (SDM §25.2,
   * §6.15, §20.1.4): an exception whose exception-bitmap bit is set exits (with the event being delivered
   * as IDT-vectoring information); otherwise it is delivered — through the IVT in real mode, or, when the
   * IDT has no gate for it, by raising #GP, which with SDM Table 6-5 becomes a #DF or a triple fault.
   * Returns the stop, or undefined when a real-mode delivery succeeded and the guest goes on at the handler.
   */
  raise(first: X86EventInfo, address: number): X86Stop | undefined {
    let current = first;
    let during: X86EventInfo | undefined;
    const ctl = this.cpu.ctl;
    for (;;) {
      if (
        current.type !== 'software-interrupt' &&
        this.intercepts(current, ctl.excBitmap, ctl.pfMask, ctl.pfMatch)
      )
        return {
          kind: 'exception',
          event: current,
          qualification: current.vector === 14 && during === undefined ? linearBig(address) : 0n,
          ...(during !== undefined ? { during } : {}),
        };
      if (current.vector === 14 && current.type === 'hardware-exception') this.cpu.cr2 = linearBig(address);
      const gateEnd = this.real
        ? current.vector * 4 + 3
        : current.vector * (this.lma ? 16 : 8) + (this.lma ? 15 : 7);
      if (gateEnd <= this.cpu.idtr.limit) {
        if (!this.real)
          this.unsupported(`delivery of vector ${current.vector} through an IDT gate is outside the subset`);
        const stop = this.deliverReal(current);
        if (stop !== undefined) return stop;
        return undefined;
      }
      // No gate: delivery raises #GP; a second fault while delivering becomes #DF or shuts down.
      if (current.vector === 8 && current.type === 'hardware-exception') return { kind: 'triple-fault' };
      const ext = current.type === 'software-interrupt' || current.type === 'software-exception' ? 0 : 1;
      const benign =
        current.type !== 'hardware-exception' ||
        !(CONTRIBUTORY[current.vector] === 1 || current.vector === 14);
      const real = this.real;
      during = current;
      current = benign
        ? {
            vector: 13,
            type: 'hardware-exception',
            ...(real ? {} : { errorCode: current.vector * 8 + 2 + ext }),
          }
        : { vector: 8, type: 'hardware-exception', ...(real ? {} : { errorCode: 0 }) };
    }
  }

  private intercepts(e: X86EventInfo, bitmap: number, pfMask: number, pfMatch: number): boolean {
    const bit = ((bitmap >>> e.vector) & 1) === 1;
    if (e.vector !== 14 || e.type !== 'hardware-exception') return bit;
    // SDM §25.2: with bit 14 set a #PF exits iff PFEC & MASK = MATCH; with it clear, iff they differ.
    return (((e.errorCode ?? 0) & pfMask) >>> 0 === pfMatch >>> 0) === bit;
  }

  /**
   * Real-address-mode delivery (SDM Vol. 3 §20.1.4): push FLAGS, CS and IP (the next instruction for a
   * software event, this one for a fault), clear IF, TF and AC, and jump to the IVT's CS:IP. An EPT
   * violation on the way exits with the event as IDT-vectoring information.
   */
  private deliverReal(e: X86EventInfo): X86Stop | undefined {
    const ivt = (Number(this.cpu.idtr.base & 0xffff_ffffn) + e.vector * 4) >>> 0;
    const back = e.len !== undefined ? this.start + e.len : this.start;
    const sp = this.r32(4);
    try {
      this.readLinear(ivt, 4);
      const ip = this.data[0]! | (this.data[1]! << 8);
      const cs = this.data[2]! | (this.data[3]! << 8);
      this.push(this.flags & 0xffff, 2);
      this.push(this.cpu.seg.cs.selector, 2);
      this.push(back & 0xffff, 2);
      this.flags = (this.flags & ~(IF | TF | AC)) >>> 0;
      this.loadSegment('cs', cs);
      this.rip = smi(ip);
      return undefined;
    } catch (x) {
      // The exit reports the state before delivery began (SDM §28.2.4): the stack pointer goes back.
      this.wLow(4, sp);
      if (x instanceof Stop && x.stop.kind === 'ept') return { ...x.stop, during: e };
      if (x instanceof Fault)
        this.unsupported(
          `a fault (vector ${x.vector}) while delivering through the IVT is outside the subset`,
        );
      throw x;
    }
  }
}

/** Contributory exceptions by vector: #DE, #TS, #NP, #SS, #GP (SDM Table 6-4). */
const CONTRIBUTORY = new Uint8Array(32);
for (const v of [0, 10, 11, 12, 13]) CONTRIBUTORY[v] = 1;

/** Executes one instruction. Returns a stop for an exit; throws {@link Stop} or {@link Fault} from deeper helpers. */
function step(s: Run): X86Stop | undefined {
  s.beginInstruction();
  const def = s.defSize;
  const p: Prefixes = s;
  p.osz = def;
  p.asz = s.long ? 8 : def;
  p.seg = undefined;
  p.rep = 0;
  p.rex = 0;
  let op: number;
  for (;;) {
    op = s.next();
    if (op === 0x66) p.osz = def === 2 ? 4 : 2;
    else if (SEG_PREFIX[op] !== undefined) p.seg = SEG_PREFIX[op];
    else if (op === 0x67) p.asz = s.long ? 4 : def === 2 ? 4 : 2;
    else if (op === 0xf3 || op === 0xf2) p.rep = op;
    else if (op === 0xf0) s.unsupported('the LOCK prefix is outside the subset');
    else break;
  }
  if (s.long) {
    // In 64-bit mode CS/DS/ES/SS overrides are ignored (SDM Vol. 1 §3.3.7.1).
    if (p.seg !== 'fs' && p.seg !== 'gs') p.seg = undefined;
    if ((op & 0xf0) === 0x40) {
      p.rex = op;
      if (op & 8) p.osz = 8;
      op = s.next();
      if (
        op === 0x66 ||
        op === 0x67 ||
        op === 0xf2 ||
        op === 0xf3 ||
        SEG_PREFIX[op] !== undefined ||
        (op & 0xf0) === 0x40
      )
        s.unsupported('a prefix after REX is outside the subset');
    }
  }
  if (p.rep !== 0 && (op < 0x6c || op > 0x6f))
    s.unsupported(`prefix 0x${p.rep.toString(16)} (REP) on anything but string I/O is outside the subset`);
  const osz = p.osz;
  const rex = p.rex;

  // ALU r/m,reg / reg,r/m / acc,imm: 00–3F except the 0x?6/0x?7/0x?E/0x?F one-byte ops.
  if (op < 0x40 && (op & 7) < 6) {
    const alu = op >> 3;
    const form = op & 7;
    const wide = form & 1;
    if (wide && osz === 8) return alu64Op(s, p, alu, form);
    const size: Size = wide ? (osz as Size) : 1;
    if (form < 4) {
      const x = s.modrm(p);
      const rmv = s.readRm(x, size, rex);
      const regv = s.get(x.reg, size, rex);
      const toRm = form < 2;
      const [r, f] = toRm ? s.alu(alu, rmv, regv, size) : s.alu(alu, regv, rmv, size);
      if (alu !== 7) {
        if (toRm) s.writeRm(x, size, r, rex);
        else s.set(x.reg, size, r, rex);
      }
      s.setArith(f);
      return s.finish();
    }
    const imm = s.imm(size);
    const [r, f] = s.alu(alu, s.get(0, size), imm, size);
    if (alu !== 7) s.set(0, size, r);
    s.setArith(f);
    return s.finish();
  }

  // Two-byte opcodes. Kept out of the switch below so that its cases (0x40–0xFF) are dense enough for V8
  // to compile it as a jump table (it needs a spread under 3× the number of cases); with 0x0F among them
  // it was a chain of up to ~100 comparisons per instruction.
  if (op === 0x0f) return twoByte(s, p);

  switch (op) {
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f: {
      const r = op & 7;
      const size = osz as Size;
      const [v, f] = s.alu(op < 0x48 ? 0 : 5, s.get(r, size), 1, size);
      s.set(r, size, v);
      s.setArith(f, CF);
      return s.finish();
    }
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57: {
      const r = (op & 7) | ((rex & 1) << 3);
      if (s.long && osz !== 2) s.push(s.r32(r), 8, s.r64hi(r));
      else s.push(s.get(r, osz as Size), osz as 2 | 4);
      return s.finish();
    }
    case 0x58:
    case 0x59:
    case 0x5a:
    case 0x5b:
    case 0x5c:
    case 0x5d:
    case 0x5e:
    case 0x5f: {
      const r = (op & 7) | ((rex & 1) << 3);
      if (s.long && osz !== 2) {
        const lo = s.pop(8);
        s.w64(r, lo, s.resHi);
      } else s.set(r, osz as Size, s.pop(osz as 2 | 4));
      return s.finish();
    }
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
      return stringIo(s, p, op);
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f: {
      const d = s.simm8();
      const next = s.start + s.pos;
      return s.cond(op & 0xf) ? s.branch(next + d, branchSize(s, osz)) : s.finish();
    }
    case 0x80:
    case 0x81:
    case 0x83: {
      if (op !== 0x80 && osz === 8) {
        const x = s.modrm(p);
        const imm = op === 0x81 ? s.simm32() : s.simm8();
        const a = s.readRm64(x);
        const aHi = s.resHi;
        const lo = s.alu64(x.reg, a, aHi, imm >>> 0, imm < 0 ? 0xffff_ffff : 0);
        const hi = s.resHi;
        if (x.reg !== 7) s.writeRm64(x, lo, hi);
        s.setArith(s.aluFlags);
        return s.finish();
      }
      const size: Size = op === 0x80 ? 1 : (osz as Size);
      const x = s.modrm(p);
      const imm = op === 0x81 ? s.imm(size) : op === 0x83 ? trunc(s.simm8(), size) : s.imm(1);
      const a = s.readRm(x, size, rex);
      const [r, f] = s.alu(x.reg, a, imm, size);
      if (x.reg !== 7) s.writeRm(x, size, r, rex);
      s.setArith(f);
      return s.finish();
    }
    case 0x88:
    case 0x89: {
      const x = s.modrm(p);
      if (op === 0x89 && osz === 8) {
        s.writeRm64(x, s.r32(x.reg), s.r64hi(x.reg));
        return s.finish();
      }
      const size: Size = op === 0x88 ? 1 : (osz as Size);
      s.writeRm(x, size, s.get(x.reg, size, rex), rex);
      return s.finish();
    }
    case 0x8a:
    case 0x8b: {
      const x = s.modrm(p);
      if (op === 0x8b && osz === 8) {
        const lo = s.readRm64(x);
        s.w64(x.reg, lo, s.resHi);
        return s.finish();
      }
      const size: Size = op === 0x8a ? 1 : (osz as Size);
      s.set(x.reg, size, s.readRm(x, size, rex), rex);
      return s.finish();
    }
    case 0x8c: {
      // mov r/m16, Sreg (a register destination takes the selector zero-extended).
      const x = s.modrm(p);
      const sreg = SREG[x.reg & 7];
      if (sreg === undefined) throw new Fault(6, undefined);
      const v = s.cpu.seg[sreg].selector;
      if (x.mem) s.store(x.mem, 2, v);
      else s.set(x.rm, osz === 8 ? 4 : (osz as Size), v);
      return s.finish();
    }
    case 0x8d: {
      const x = s.modrm(p);
      if (!x.mem) throw new Fault(6, undefined); // lea with a register operand
      const m: MemOperand = { seg: x.mem.seg, offset: s.offsetOf(x.mem) };
      if (osz === 8) s.w64(x.reg, m.offset >>> 0, Math.floor(m.offset / TWO32) >>> 0);
      else s.set(x.reg, osz as Size, m.offset >>> 0);
      return s.finish();
    }
    case 0x8e: {
      const x = s.modrm(p);
      const sreg = SREG[x.reg & 7];
      if (sreg === undefined || sreg === 'cs') throw new Fault(6, undefined);
      const sel = x.mem ? s.load(x.mem, 2) : s.get(x.rm, 2);
      s.loadSegment(sreg, sel);
      return s.finish();
    }
    case 0x90:
      return s.finish();
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const size: Size = op & 1 ? (osz === 8 ? 4 : (osz as Size)) : 1;
      if (osz === 8 && op & 1) s.unsupported('a 64-bit moffs move is outside the subset');
      let offset: number;
      if (p.asz === 8) {
        const lo = s.imm(4);
        const hi = s.imm(4) | 0;
        offset = hi * TWO32 + lo;
      } else offset = s.imm(p.asz as Size);
      const m: MemOperand = { seg: p.seg ?? 'ds', offset };
      if (op < 0xa2) s.set(0, size, s.load(m, size));
      else s.store(m, size, s.get(0, size));
      return s.finish();
    }
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      s.set((op & 7) | ((rex & 1) << 3), 1, s.imm(1), rex);
      return s.finish();
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf: {
      const r = (op & 7) | ((rex & 1) << 3);
      if (osz === 8) {
        const lo = s.imm(4);
        s.w64(r, lo, s.imm(4));
      } else s.set(r, osz as Size, s.imm(osz as Size));
      return s.finish();
    }
    case 0xc6:
    case 0xc7: {
      const x = s.modrm(p);
      if ((x.reg & 7) !== 0)
        return s.unsupported(`${op.toString(16).toUpperCase()} /${x.reg & 7} is outside the subset`);
      if (op === 0xc7 && osz === 8) {
        const imm = s.simm32();
        s.writeRm64(x, imm >>> 0, imm < 0 ? 0xffff_ffff : 0);
        return s.finish();
      }
      const size: Size = op === 0xc6 ? 1 : (osz as Size);
      s.writeRm(x, size, s.imm(size), rex);
      return s.finish();
    }
    case 0xcc:
      return deliver(s, { vector: 3, type: 'software-exception', len: s.pos });
    case 0xcd: {
      const vector = s.next();
      return deliver(s, { vector, type: 'software-interrupt', len: s.pos });
    }
    case 0xcf: {
      if (!s.real) return s.unsupported('iret outside real mode is outside the subset');
      if (osz !== 2) return s.unsupported('a 32-bit iret in real mode is outside the subset');
      const ip = s.pop(2);
      const cs = s.pop(2);
      const fl = s.pop(2);
      s.loadSegment('cs', cs);
      s.flags = ((s.flags & 0xffff_0000) | (fl & 0x7fd5) | 2) >>> 0;
      s.rip = ip;
      return undefined;
    }
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef: {
      if (!s.ioPermitted)
        s.unsupported('I/O with CPL > IOPL consults the TSS I/O bitmap (#GP), outside the subset');
      ioExiting(s);
      const imm = op < 0xe8;
      const port = imm ? s.next() : s.get(2, 2);
      const size: Size = op & 1 ? (osz === 8 ? 4 : (osz as Size)) : 1;
      if (imm) s.note();
      return ioStop(port, size, (op & 2) === 0, imm, s.pos);
    }
    case 0xe9: {
      const d = osz === 2 ? s.simm16() : s.simm32();
      s.branch(s.start + s.pos + d, branchSize(s, osz));
      return s.note();
    }
    case 0xea: {
      if (s.long) throw new Fault(6, undefined);
      const offset = s.imm(osz === 2 ? 2 : 4);
      const sel = s.imm(2);
      return farJump(s, sel, offset, osz);
    }
    case 0xeb: {
      const d = s.simm8();
      s.branch(s.start + s.pos + d, branchSize(s, osz));
      return s.note();
    }
    case 0xf1:
      return deliver(s, { vector: 1, type: 'privileged-software-exception', len: s.pos });
    case 0xf4:
      if (s.cpl() !== 0) throw new Fault(13, 0);
      if ((s.cpu.ctl.cpuBased & CTL_HLT) === 0)
        s.unsupported('hlt without HLT exiting waits for an interrupt, which the model never delivers');
      return { kind: 'hlt', len: s.pos };
    case 0xf6:
    case 0xf7: {
      const x = s.modrm(p);
      if ((x.reg & 7) !== 6)
        return s.unsupported(`${op.toString(16).toUpperCase()} /${x.reg & 7} is outside the subset`);
      if (osz === 8 && op === 0xf7) return s.unsupported('a 64-bit div is outside the subset');
      return divide(s, x, op === 0xf6 ? 1 : (osz as Size), rex);
    }
    case 0xfa:
    case 0xfb:
      if (!s.real && s.cpl() > s.iopl()) s.unsupported('cli/sti with CPL > IOPL raises #GP');
      s.flags = op === 0xfa ? (s.flags & ~IF) >>> 0 : (s.flags | IF) >>> 0;
      return s.finish();
    case 0xfe:
    case 0xff: {
      const x = s.modrm(p);
      const sub = x.reg & 7;
      if (sub === 0 || sub === 1) {
        if (op === 0xff && osz === 8) {
          const a = s.readRm64(x);
          const lo = s.alu64(sub === 0 ? 0 : 5, a, s.resHi, 1, 0);
          const hi = s.resHi;
          s.writeRm64(x, lo, hi);
          s.setArith(s.aluFlags, CF);
          return s.finish();
        }
        const size: Size = op === 0xfe ? 1 : (osz as Size);
        const a = s.readRm(x, size, rex);
        const [r, f] = s.alu(sub === 0 ? 0 : 5, a, 1, size);
        s.writeRm(x, size, r, rex);
        s.setArith(f, CF);
        return s.finish();
      }
      if (op === 0xff && sub === 4) {
        // jmp r/m: 64 bits in 64-bit mode whatever the operand size (SDM Vol. 2, JMP).
        if (s.long) {
          const lo = s.readRm64(x);
          return s.branch((s.resHi | 0) * TWO32 + lo, 8);
        }
        return s.branch(s.readRm(x, osz as Size), osz);
      }
      if (op === 0xff && sub === 5) {
        if (!x.mem) throw new Fault(6, undefined);
        const size = osz === 8 ? 8 : osz;
        let offset: number;
        if (size === 8) offset = s.load64(x.mem);
        else offset = s.load(x.mem, size as Size);
        const selAt = s.after(x.mem, size);
        const sel = s.load(selAt, 2);
        return farJump(s, sel, size === 8 ? (s.resHi | 0) * TWO32 + offset : offset, osz);
      }
      return s.unsupported(`${op.toString(16).toUpperCase()} /${sub} is outside the subset`);
    }
    default:
      return s.unsupported(`opcode ${op.toString(16).padStart(2, '0').toUpperCase()} is outside the subset`);
  }
}

/** The operand size a near branch truncates its target to: 16 bits with a 16-bit operand size. */
function branchSize(s: Run, osz: number): number {
  if (!s.long) return osz;
  // Intel ignores 0x66 on near branches in 64-bit mode, AMD truncates RIP: not pinned, so outside the subset.
  if (osz === 2)
    s.unsupported('a near branch with a 16-bit operand size in 64-bit mode is outside the subset');
  return 8;
}

/** The ALU group with a 64-bit operand size (REX.W 01/03/05/…): on 32-bit halves. */
function alu64Op(s: Run, p: Prefixes, alu: number, form: number): X86Stop | undefined {
  let aLo: number;
  let aHi: number;
  let bLo: number;
  let bHi: number;
  let x: ModRm | undefined;
  if (form < 4) {
    x = s.modrm(p);
    const rmLo = s.readRm64(x);
    const rmHi = s.resHi;
    const regLo = s.r32(x.reg);
    const regHi = s.r64hi(x.reg);
    if (form < 2) [aLo, aHi, bLo, bHi] = [rmLo, rmHi, regLo, regHi];
    else [aLo, aHi, bLo, bHi] = [regLo, regHi, rmLo, rmHi];
  } else {
    const imm = s.simm32();
    aLo = s.r32(0);
    aHi = s.r64hi(0);
    bLo = imm >>> 0;
    bHi = imm < 0 ? 0xffff_ffff : 0;
  }
  const lo = s.alu64(alu, aLo, aHi, bLo, bHi);
  const hi = s.resHi;
  if (alu !== 7) {
    if (x === undefined) s.w64(0, lo, hi);
    else if (form < 2) s.writeRm64(x, lo, hi);
    else s.w64(x.reg, lo, hi);
  }
  s.setArith(s.aluFlags);
  return s.finish();
}

/** DIV r/m (F6 /6, F7 /6): #DE for a zero divisor or a quotient that does not fit (SDM Vol. 2, DIV). */
function divide(s: Run, x: ModRm, size: Size, rex: number): X86Stop | undefined {
  const divisor = s.readRm(x, size, rex);
  if (divisor === 0) throw new Fault(0, undefined);
  if (size === 1) {
    const ax = s.get(0, 2);
    const q = Math.floor(ax / divisor);
    if (q > 0xff) throw new Fault(0, undefined);
    s.set(0, 2, ((ax % divisor) << 8) | q);
    return s.finish();
  }
  const bits = size * 8;
  const dividend = (BigInt(s.get(2, size)) << BigInt(bits)) | BigInt(s.get(0, size));
  const q = dividend / BigInt(divisor);
  if (q >> BigInt(bits) !== 0n) throw new Fault(0, undefined);
  s.set(0, size, Number(q));
  s.set(2, size, Number(dividend % BigInt(divisor)));
  return s.finish();
}

/** The last non-string I/O stop: frozen, and returned again while an exit loop exits the same way. */
let lastIo: X86Stop & { kind: 'io' } = Object.freeze({
  kind: 'io',
  port: -1,
  size: 1,
  in: false,
  string: false,
  rep: false,
  imm: false,
  len: 0,
});

/** IN/OUT's stop, without an allocation when it equals the last one (an exit loop's every exit). */
function ioStop(port: number, size: Size, isIn: boolean, imm: boolean, len: number): X86Stop {
  const l = lastIo;
  if (l.port === port && l.size === size && l.in === isIn && l.imm === imm && l.len === len) return l;
  lastIo = Object.freeze({ kind: 'io', port, size, in: isIn, string: false, rep: false, imm, len });
  return lastIo;
}

/** Checks that I/O instructions exit unconditionally (the framework forces it, hvf-facts.md §1.8). */
function ioExiting(s: Run): void {
  const c = s.cpu.ctl.cpuBased;
  if ((c & CTL_UNCOND_IO) === 0 || (c & CTL_IO_BITMAPS) !== 0)
    s.unsupported('I/O without unconditional I/O exiting (or with I/O bitmaps) is outside the subset');
}

/** INS/OUTS (6C–6F), with REP: an I/O exit with the memory operand's linear address (SDM §28.2.1). */
function stringIo(s: Run, p: Prefixes, op: number): X86Stop {
  if (!s.real && s.cpl() > s.iopl())
    s.unsupported('I/O with CPL > IOPL consults the TSS I/O bitmap (#GP), outside the subset');
  ioExiting(s);
  const size: Size = op & 1 ? (p.osz === 8 ? 4 : (p.osz as Size)) : 1;
  const ins = op < 0x6e;
  if (p.rep !== 0 && s.addrReg(1, p.asz) === 0)
    s.unsupported('a REP string I/O instruction with count 0 (whether it exits is not pinned)');
  // OUTS reads DS:rSI (segment overridable), INS writes ES:rDI (SDM Vol. 2, INS/OUTS).
  const m: MemOperand = ins
    ? { seg: 'es', offset: s.addrReg(7, p.asz) }
    : { seg: p.seg ?? 'ds', offset: s.addrReg(6, p.asz) };
  // The exit comes before the access, so no limit or canonicality check applies to the reported address.
  const base = s.cpu.seg[m.seg].base;
  const gla = s.long
    ? linearBig(m.offset + (m.seg === 'fs' || m.seg === 'gs' ? Number(BigInt.asIntN(64, base)) : 0))
    : BigInt((Number(base & 0xffff_ffffn) + m.offset) >>> 0);
  return {
    kind: 'io',
    port: s.get(2, 2),
    size,
    in: ins,
    string: true,
    rep: p.rep !== 0,
    imm: false,
    len: s.pos,
    gla,
  };
}

/** A far JMP (EA, FF /5): a new CS (real mode: selector × 16; otherwise a code descriptor) and RIP. */
function farJump(s: Run, selector: number, offset: number, osz: number): X86Stop | undefined {
  s.loadSegment('cs', selector);
  s.rip = osz === 2 ? offset & 0xffff : s.long ? smi(offset) : offset >>> 0;
  return undefined;
}

/** Raises a software event or exception from the current instruction; a stop, or undefined to go on. */
function deliver(s: Run, e: X86EventInfo): X86Stop | undefined {
  return s.raise(e, 0);
}

/** Two-byte opcodes (0F xx). */
function twoByte(s: Run, p: Prefixes): X86Stop | undefined {
  const op2 = s.next();
  if (op2 >= 0x80 && op2 <= 0x8f) {
    const d = p.osz === 2 ? s.simm16() : s.simm32();
    const next = s.start + s.pos;
    return s.cond(op2 & 0xf) ? s.branch(next + d, branchSize(s, p.osz)) : s.finish();
  }
  switch (op2) {
    case 0x0b:
      throw new Fault(6, undefined); // ud2
    case 0x01: {
      const b = s.next();
      if (b === 0xc1) return { kind: 'vmcall', len: s.pos };
      s.pos--;
      const x = s.modrm(p);
      const sub = x.reg & 7;
      if ((sub === 2 || sub === 3) && x.mem) {
        if (s.cpl() !== 0) throw new Fault(13, 0);
        if (s.cpu.ctl.cpuBased2 & CTL2_DESC_TABLE)
          s.unsupported('lgdt/lidt under descriptor-table exiting (an exit the model does not produce)');
        const m = x.mem;
        const limit = s.load(m, 2);
        const baseAt = s.after(m, 2);
        let base: bigint;
        if (s.long) {
          const lo = s.load64(baseAt);
          base = (BigInt(s.resHi) << 32n) | BigInt(lo);
        } else base = BigInt(s.load(baseAt, 4) & (p.osz === 2 ? 0xff_ffff : 0xffff_ffff));
        const t = sub === 2 ? s.cpu.gdtr : s.cpu.idtr;
        t.base = base;
        t.limit = limit;
        return s.finish();
      }
      return s.unsupported(`0F 01 /${sub} is outside the subset`);
    }
    case 0x20:
    case 0x22:
      return movCr(s, p, op2 === 0x22);
    case 0x21:
    case 0x23:
      return movDr(s, p, op2 === 0x23);
    case 0x30:
    case 0x32:
      // No MSR bitmaps (the model offers none): every RDMSR/WRMSR at CPL 0 exits (SDM §26.1.3).
      if (s.cpl() !== 0) throw new Fault(13, 0);
      return { kind: op2 === 0x32 ? 'rdmsr' : 'wrmsr', len: s.pos };
    case 0xa2:
      return { kind: 'cpuid', len: s.pos };
    default:
      return s.unsupported(`two-byte opcode 0F ${op2.toString(16).padStart(2, '0')} is outside the subset`);
  }
}

/**
 * MOV to/from a control register (0F 22 / 0F 20; SDM Vol. 2 MOV, Vol. 3 §26.1.3, §27.3): the exit
 * conditions of CR0/CR4 (guest/host mask against the read shadow), CR3 (CR3-load/-store exiting, CR3
 * targets) and CR8 (CR8-load/-store exiting); otherwise the move executes, with the mode re-derived and the
 * TLB flushed when paging changes.
 */
function movCr(s: Run, p: Prefixes, write: boolean): X86Stop | undefined {
  const b = s.next();
  const cr = ((b >> 3) & 7) | ((p.rex & 4) << 1);
  const gpr = (b & 7) | ((p.rex & 1) << 3);
  if (s.cpl() !== 0) throw new Fault(13, 0);
  if (!(cr === 0 || cr === 2 || cr === 3 || cr === 4 || (cr === 8 && s.long))) throw new Fault(6, undefined);
  const cpu = s.cpu;
  const ctl = cpu.ctl;
  const exit: X86Stop = { kind: 'mov-cr', cr, write, gpr, len: s.pos };
  const value = (): bigint =>
    s.long ? (BigInt(s.r64hi(gpr)) << 32n) | BigInt(s.r32(gpr)) : BigInt(s.r32(gpr));
  const put = (v: bigint): void => {
    if (s.long) s.w64(gpr, Number(v & 0xffff_ffffn), Number((v >> 32n) & 0xffff_ffffn));
    else s.w32(gpr, Number(v & 0xffff_ffffn));
  };
  if (!write) {
    switch (cr) {
      case 0:
        put((cpu.cr0 & ~ctl.cr0Mask) | (ctl.cr0Shadow & ctl.cr0Mask));
        break;
      case 2:
        put(cpu.cr2);
        break;
      case 3:
        if (ctl.cpuBased & CTL_CR3_STORE) return exit;
        put(cpu.cr3);
        break;
      case 4:
        put((cpu.cr4 & ~ctl.cr4Mask) | (ctl.cr4Shadow & ctl.cr4Mask));
        break;
      default:
        if (ctl.cpuBased & CTL_CR8_STORE) return exit;
        return s.unsupported('a CR8 read without CR8-store exiting reads the APIC TPR, outside the subset');
    }
    return s.finish();
  }
  const v = value();
  switch (cr) {
    case 0: {
      if (((v ^ ctl.cr0Shadow) & ctl.cr0Mask) !== 0n) return exit;
      const next = (cpu.cr0 & ctl.cr0Mask) | (v & ~ctl.cr0Mask);
      const n = Number(next & 0xffff_ffffn);
      if (next >> 32n !== 0n || (n & 0x8000_0001) >>> 0 === 0x8000_0000 || (n & 0x6000_0000) === 0x2000_0000)
        throw new Fault(13, 0);
      // NE is fixed to 1 in VMX operation (IA32_VMX_CR0_FIXED0; PE and PG may be 0 under unrestricted guest).
      if ((n & 0x20) === 0) throw new Fault(13, 0);
      const pgOn = (n & 0x8000_0000) !== 0 && (CR0.of(cpu.cr0) & 0x8000_0000) === 0;
      const pgOff = (n & 0x8000_0000) === 0 && (CR0.of(cpu.cr0) & 0x8000_0000) !== 0;
      if (pgOn && cpu.efer & EFER_LME) {
        // IA-32e mode activation (SDM Vol. 3 §10.8.5): PAE must be on and CS not 64-bit.
        if ((cpu.cr4 & 0x20n) === 0n || (cpu.seg.cs.ar >> 13) & 1) throw new Fault(13, 0);
        cpu.efer |= EFER_LMA;
      }
      if (pgOff && cpu.efer & EFER_LMA) {
        if (s.long) throw new Fault(13, 0);
        cpu.efer &= ~EFER_LMA;
      }
      cpu.cr0 = next;
      break;
    }
    case 3: {
      const targets = ctl.cr3Targets.slice(0, Math.min(ctl.cr3Count, 4));
      if (ctl.cpuBased & CTL_CR3_LOAD && !targets.includes(v)) return exit;
      if (s.long && v >> 52n !== 0n) throw new Fault(13, 0);
      cpu.cr3 = v;
      break;
    }
    case 4: {
      if (((v ^ ctl.cr4Shadow) & ctl.cr4Mask) !== 0n) return exit;
      const next = (cpu.cr4 & ctl.cr4Mask) | (v & ~ctl.cr4Mask);
      // Reserved bits, VMXE fixed to 1 in VMX operation, PAE fixed in IA-32e mode.
      if ((next & ~0x0077_2fffn) !== 0n || (next & 0x2000n) === 0n || (s.lma && (next & 0x20n) === 0n))
        throw new Fault(13, 0);
      cpu.cr4 = next;
      break;
    }
    case 2:
      cpu.cr2 = v;
      return s.finish();
    default:
      if (ctl.cpuBased & CTL_CR8_LOAD && !(ctl.cpuBased & CTL_TPR_SHADOW)) return exit;
      return s.unsupported('a CR8 write without CR8-load exiting reaches the APIC TPR, outside the subset');
  }
  s.flushTlb();
  s.finish();
  const why = s.setMode();
  if (why !== undefined) s.unsupported(why);
  return undefined;
}

/**
 * MOV to/from a debug register (0F 23 / 0F 21; SDM Vol. 2 MOV, Vol. 3 §19.2): #UD for DR4/DR5 with
 * CR4.DE; an exit under MOV-DR exiting; otherwise DR0–DR3 take any value, DR6 and DR7 their fixed bits.
 */
function movDr(s: Run, p: Prefixes, write: boolean): X86Stop | undefined {
  const b = s.next();
  const dr = (b >> 3) & 7;
  const gpr = (b & 7) | ((p.rex & 1) << 3);
  if (p.rex & 4) throw new Fault(6, undefined);
  if (s.cpl() !== 0) throw new Fault(13, 0);
  const cpu = s.cpu;
  if ((dr === 4 || dr === 5) && cpu.cr4 & 0x8n) throw new Fault(6, undefined);
  if (cpu.ctl.cpuBased & CTL_MOV_DR) return { kind: 'mov-dr', dr, write, gpr, len: s.pos };
  if ((cpu.dr[7] ?? 0n) & 0x2000n)
    return s.unsupported('a debug-register access under DR7.GD raises #DB, outside the subset');
  const n = dr === 4 ? 6 : dr === 5 ? 7 : dr;
  if (!write) {
    const v = cpu.dr[n] ?? 0n;
    if (s.long) s.w64(gpr, Number(v & 0xffff_ffffn), Number(v >> 32n));
    else s.w32(gpr, Number(v & 0xffff_ffffn));
    return s.finish();
  }
  let v = s.long ? (BigInt(s.r64hi(gpr)) << 32n) | BigInt(s.r32(gpr)) : BigInt(s.r32(gpr));
  if (n >= 6) {
    if (v >> 32n !== 0n) throw new Fault(13, 0);
    // DR6: bits 4–11 and 16–31 read as 1, bit 12 as 0; DR7: bit 10 reads as 1, bits 11, 12, 14, 15 as 0.
    v = n === 6 ? (v | 0xffff_0ff0n) & 0xffff_efffn : (v | 0x400n) & ~0xd800n;
  } else if (!s.long) v &= 0xffff_ffffn;
  cpu.dr[n] = v;
  return s.finish();
}

/** The one Run every engine call reuses (see {@link Run}). */
const RUN = new Run();
/** The conversions every run makes, memoised: an exit loop makes the same ones each time (bigint-memo.ts). */
const CR0 = new Low32Memo();
const CR4 = new Low32Memo();
const EFER = new Low32Memo();
const RFLAGS = new Low32Memo();
const RIP_IN = new Low32Memo();
const CS_BASE = new Low32Memo();
const RIP_OUT = new BigIntMemo();

/** One engine call: a replay of the recorded run if it repeats (Run.replay), else the interpreter. */
function x86Run(cpu: X86Cpu, mem: GuestMemory, budget: number): X86Stop {
  const s = RUN;
  // IA-32e mode is what VM entry's "IA-32e mode guest" control says (SDM §27.3.2.1: it loads EFER.LMA).
  const ia32e = (cpu.ctl.entry & ENTRY_IA32E) !== 0;
  if (ia32e !== ((EFER.of(cpu.efer) & 0x400) !== 0))
    cpu.efer = ia32e ? cpu.efer | EFER_LMA : cpu.efer & ~EFER_LMA;
  const mode = s.begin(cpu, mem);
  if (mode !== undefined) {
    s.forget();
    return { kind: 'unsupported', bytes: new Uint8Array(0), reason: mode };
  }
  const replayed = s.replay(budget);
  if (replayed !== undefined) s.commit();
  else s.forget();
  const stop = replayed ?? runLoop(s, budget);
  // A VM exit saves EFER.LMA into the "IA-32e mode guest" entry control (SDM §28.3.1).
  const lma = (EFER.of(cpu.efer) & 0x400) !== 0;
  if (lma !== ia32e) cpu.ctl.entry = lma ? cpu.ctl.entry | ENTRY_IA32E : cpu.ctl.entry & ~ENTRY_IA32E;
  return stop;
}

/**
 * The x86 engine: runs at most `budget` instructions of `cpu` on `mem`. See the module comment for
 * the subset and the modes. Its `repeat` is {@link Run.repeat}.
 */
export const x86Engine: X86Engine = Object.assign(x86Run, {
  repeat: (cpu: X86Cpu, mem: GuestMemory, budget: number): X86Stop | undefined =>
    RUN.repeat(cpu, mem, budget),
});

function runLoop(s: Run, budget: number): X86Stop {
  let n = 0;
  // The try is outside the instruction loop (entered again after a guest fault that was delivered), so
  // that the loop itself is a plain one.
  for (;;) {
    try {
      for (; n < budget; n++) {
        const stop = step(s);
        if (stop !== undefined) {
          // Exits leave RIP at the instruction (s.rip was not moved by the exiting step).
          s.commit();
          s.record(stop, n + 1);
          return stop;
        }
      }
      s.commit();
      return { kind: 'budget' };
    } catch (e) {
      n++;
      const stop = fault(s, e);
      if (stop !== undefined) {
        s.commit();
        return stop;
      }
    }
  }
}

/**
 * What an instruction that threw becomes: an exit (`Stop`), or a guest fault raised as an event (RIP at
 * the instruction, which did not happen); undefined when a real-mode delivery succeeded.
 */
function fault(s: Run, e: unknown): X86Stop | undefined {
  s.rip = s.start;
  if (e instanceof Stop) return e.stop;
  if (!(e instanceof Fault)) throw e;
  try {
    return s.raise(
      {
        vector: e.vector,
        type: 'hardware-exception',
        ...(e.errorCode !== undefined && !s.real ? { errorCode: e.errorCode } : {}),
      },
      e.address,
    );
  } catch (x) {
    if (!(x instanceof Stop)) throw x;
    return x.stop;
  }
}

/** The `add`…`cmp` mnemonics in opcode order, for disassembly in diagnostics. */
export const X86_ALU_MNEMONICS: readonly string[] = ALU_NAMES;
