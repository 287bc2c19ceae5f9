/**
 * The model's arm64 guest interpreter: executes A64 machine code at EL0 and EL1 (EL0t, EL1t, EL1h) on
 * the registers and guest memory the API layer hands it (engine.ts contract), until an exit to the
 * VMM, the instruction budget, or an instruction outside its subset.
 *
 * Written from the Arm ARM (decode tables, the pseudocode of exception entry and return, VMSAv8-64
 * translation), independently of the spec's assembler and prediction, so that the agreement property
 * (assembled program → this interpreter → exits == the spec's prediction) checks two implementations.
 *
 * What the guest sees (an Armv8.0 core with EL0/EL1 AArch64, a hypervisor at EL2, no EL3):
 *  - Exceptions taken by the guest itself go through VBAR_EL1 (current EL with SP0/SPx, lower EL
 *    AArch64; +0x80 IRQ, +0x100 FIQ) with ESR_EL1, ELR_EL1 (the preferred return address), SPSR_EL1
 *    and, for aborts and PC alignment faults, FAR_EL1; PSTATE becomes EL1h with DAIF masked. Sources:
 *    UNDEFINED encodings (decode.ts), SVC, BRK while hv_vcpu_set_trap_debug_exceptions is false,
 *    HVC/SMC/ERET at EL0, WFI/WFE at EL0 with SCTLR_EL1.nTWI/nTWE = 0, EL0 accesses to EL1 registers,
 *    the EL0 timer/DAIF traps of CNTKCTL_EL1 and SCTLR_EL1.UMA, alignment faults (Device memory, which
 *    is all data memory with the MMU off; SCTLR_EL1.A; LDAR/STLR), stage-1 translation, access-flag,
 *    address-size and permission faults, PC and SP alignment faults, Illegal Execution state (an ERET
 *    to an illegal SPSR), and the virtual IRQ/FIQ lines of hv_vcpu_set_pending_interrupt when PSTATE.I/F
 *    are clear. ERET returns from them and sets the event register.
 *  - Stage-1 translation with the guest's own tables when SCTLR_EL1.M = 1: TTBR0/TTBR1 by VA bit 63,
 *    T0SZ/T1SZ (clamped to 16..39, as QEMU does), 4/16/64 KiB granules, table/block/page descriptors,
 *    APTable/UXNTable/PXNTable, AP, UXN, PXN (EL0-writable memory is PXN), SCTLR_EL1.WXN, the access
 *    flag (no hardware update), MAIR_EL1 memory types, TCR_EL1.IPS. Descriptor reads go through stage 2;
 *    a stage-2 fault there is an exit with S1PTW = 1. Translations are cached per 4 KiB page until a
 *    TLBI, a write to SCTLR/TCR/TTBR/MAIR_EL1, or the next call of the engine.
 *  - Exits to the VMM (hvf-facts.md §2.8): stage-2 data aborts (EC 0x24; ISV = 1 with SAS, SSE, SRT,
 *    SF, AR for single-register accesses without writeback, ISV = 0 for pairs, writeback and table
 *    walks; FAR = the VA, IPA = the byte address), instruction aborts (EC 0x20), HVC (EC 0x16, PC after
 *    it), SMC at EL1 (EC 0x17, PC at it: HVF's HCR_EL2.TSC is unverified, §2.8 [U]), WFI/WFE that would
 *    wait (EC 0x01, TI 0/1, PC at it: HCR_EL2.TWI/TWE), BRK with trap-debug-exceptions on (EC 0x3C),
 *    and the system registers HVF traps (EC 0x18, PC at it): PMU registers with EL2 off (§2.3 [H]); the
 *    OS lock registers OSLAR/OSLSR/OSDLR_EL1, CNTPCT_EL0 and the EL1 physical timer, the GICv3 CPU
 *    interface (ICC_*) without an in-framework GIC, and ID registers outside hv_sys_reg_t (QEMU's HVF
 *    code handles all of these, so they reach the VMM [T]); debug registers while
 *    hv_vcpu_set_trap_debug_reg_accesses is on (§2.4 [H]). The fault level of a stage-2 fault is
 *    reported as 3 (the real level depends on the framework's tables [U]).
 *  - WFI completes without waiting (and without a trap) while an IRQ or FIQ line is pending, and WFE
 *    while the event register is set (it clears it): the traps apply only when the instruction would
 *    wait (Arm ARM, HCR_EL2.TWI/TWE). Both lines at once, unmasked, are taken IRQ first [U].
 *
 * Not modelled (the run stops with the "unsupported instruction" result instead): AArch32, EL2/EL3
 * modes, big-endian data (SCTLR_EL1.EE/E0E), top-byte-ignore, reserved TCR granules, instruction fetch
 * from Device memory, SIMD&FP, exclusives, DC/AT, hardware breakpoints, watchpoints and single-step
 * (a run, or a guest MSR, that leaves MDSCR_EL1.SS = 1, or MDE = 1 with a DBGBCRn/DBGWCRn enabled,
 * stops as unsupported rather than run without the debug events the Arm ARM would raise).
 *
 * Virtual time: `ctx.clock.count` advances by 1 per instruction the guest retires (one that completes,
 * or that generates an exception whose return address is the next instruction: SVC, HVC; not one that
 * faults, traps or exits for emulation). Before each instruction, if the vtimer is not masked and
 * CNTV_CTL_EL0.ENABLE && !IMASK && CNTVCT >= CNTV_CVAL_EL0, the run stops with `vtimer`.
 *
 * Speed: registers are 32-bit halves in a typed array (state.ts); instructions are decoded once per
 * word and cached per guest page (re-decoded when the word there changes), and the loop is one switch.
 * @module
 */

import { HV_MEMORY, HV_SYS_REG as S } from '@hvspec/spec';
import type { Arm64Engine, Arm64Region, Arm64RunContext, Arm64Stop } from '../engine.js';
import { condHolds } from './conditions.js';
import { ADDR, decode, K, LS, type Op, PSTATE_FIELD } from './decode.js';
import { executeSlow, type SlowRegs } from './slow.js';
import { type Arm64Cpu, SLOT } from './state.js';

// ---- constants ------------------------------------------------------------------------------------

const TWO32 = 4294967296;
/** Exception classes (Arm ARM D19 "ESR_ELx"). */
const EC = {
  UNKNOWN: 0x00,
  WFX: 0x01,
  ILLEGAL: 0x0e,
  SVC64: 0x15,
  HVC64: 0x16,
  SMC64: 0x17,
  SYSREG: 0x18,
  IABT_LOWER: 0x20,
  IABT_CUR: 0x21,
  PC_ALIGN: 0x22,
  DABT_LOWER: 0x24,
  DABT_CUR: 0x25,
  SP_ALIGN: 0x26,
  BRK64: 0x3c,
} as const;
/** Fault status codes. */
const FSC_ADDR_SIZE = 0x00;
const FSC_TRANSLATION = 0x04;
const FSC_ACCESS_FLAG = 0x08;
const FSC_PERMISSION = 0x0c;
const FSC_ALIGNMENT = 0x21;
/** The PA size of the pretend core (ID_AA64MMFR0_EL1.PARange = 40 bits, state.ts). */
const PA_BITS = 40;

const ACC_READ = 0;
const ACC_WRITE = 1;
const ACC_FETCH = 2;
/** Permission bits of a cached translation. */
const P_R0 = 1;
const P_W0 = 2;
const P_X0 = 4;
const P_R1 = 8;
const P_W1 = 16;
const P_X1 = 32;
const P_DEVICE = 64;
const P_ALL = P_R0 | P_W0 | P_X0 | P_R1 | P_W1 | P_X1;
const NEED_S2 = [HV_MEMORY.READ, HV_MEMORY.WRITE, HV_MEMORY.EXEC] as const;

/** Results of a translation or an access. */
const OK = 0;
/** A stage-1 fault (or alignment/address-size fault): the guest takes it at EL1. */
const F_S1 = 1;
/** A stage-2 fault: an exit to the VMM. */
const F_S2 = 2;
/** Something outside the model. */
const F_UNSUP = 3;

/** System registers the interpreter reads as numbers (refreshed after every MSR). */
const R_SCTLR = S.HV_SYS_REG_SCTLR_EL1;
/** MDSCR_EL1, then the controls of the pretend core's 2 breakpoints and 2 watchpoints. */
const DEBUG_CONTROLS = [
  S.HV_SYS_REG_MDSCR_EL1,
  S.HV_SYS_REG_DBGBCR0_EL1,
  S.HV_SYS_REG_DBGBCR1_EL1,
  S.HV_SYS_REG_DBGWCR0_EL1,
  S.HV_SYS_REG_DBGWCR1_EL1,
] as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---- the decoded-instruction cache -----------------------------------------------------------------

/** Decoded ops of one 4 KiB page of a host buffer, each valid while the word there is unchanged. */
class PageCode {
  readonly words = new Uint32Array(1024);
  readonly ops: (Op | undefined)[] = new Array<Op | undefined>(1024).fill(undefined);
}
/** Per host buffer: a 32-bit view (when aligned and the host is little-endian) and the decoded pages. */
class BufferCode {
  readonly u32: Uint32Array | undefined;
  readonly pages = new Map<number, PageCode>();
  constructor(bytes: Uint8Array) {
    this.u32 =
      LITTLE_ENDIAN && bytes.byteOffset % 4 === 0
        ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
        : undefined;
  }
}
const CODE = new WeakMap<Uint8Array, BufferCode>();

// ---- arithmetic on 32-bit halves (results in module variables: no allocation per instruction) -----

let RLO = 0;
let RHI = 0;
let RNZCV = 0;

function awc64(alo: number, ahi: number, blo: number, bhi: number, cin: number): void {
  const lo = alo + blo + cin;
  const c0 = lo > 0xffffffff ? 1 : 0;
  const rlo = lo >>> 0;
  const hi = ahi + bhi + c0;
  const rhi = hi >>> 0;
  RLO = rlo;
  RHI = rhi;
  RNZCV =
    ((rhi >>> 31) << 3) |
    ((rlo | rhi) === 0 ? 4 : 0) |
    (hi > 0xffffffff ? 2 : 0) |
    ((~(ahi ^ bhi) & (ahi ^ rhi)) >>> 31);
}

function awc32(a: number, b: number, cin: number): void {
  const s = a + b + cin;
  const r = s >>> 0;
  RLO = r;
  RHI = 0;
  RNZCV = ((r >>> 31) << 3) | (r === 0 ? 4 : 0) | (s > 0xffffffff ? 2 : 0) | ((~(a ^ b) & (a ^ r)) >>> 31);
}

/** Shifted register operand (LSL, LSR, ASR, ROR by 0..63) of a 64-bit value. */
function shift64(lo: number, hi: number, type: number, amt: number): void {
  if (amt === 0) {
    RLO = lo;
    RHI = hi;
    return;
  }
  switch (type) {
    case 0:
      if (amt < 32) {
        RHI = ((hi << amt) | (lo >>> (32 - amt))) >>> 0;
        RLO = (lo << amt) >>> 0;
      } else {
        RHI = (lo << (amt - 32)) >>> 0;
        RLO = 0;
      }
      return;
    case 1:
      if (amt < 32) {
        RLO = ((lo >>> amt) | (hi << (32 - amt))) >>> 0;
        RHI = hi >>> amt;
      } else {
        RLO = hi >>> (amt - 32);
        RHI = 0;
      }
      return;
    case 2:
      if (amt < 32) {
        RLO = ((lo >>> amt) | (hi << (32 - amt))) >>> 0;
        RHI = ((hi | 0) >> amt) >>> 0;
      } else {
        RLO = ((hi | 0) >> (amt - 32)) >>> 0;
        RHI = ((hi | 0) >> 31) >>> 0;
      }
      return;
    default: {
      let l = lo;
      let h = hi;
      let a = amt;
      if (a >= 32) {
        l = hi;
        h = lo;
        a -= 32;
      }
      if (a === 0) {
        RLO = l;
        RHI = h;
      } else {
        RLO = ((l >>> a) | (h << (32 - a))) >>> 0;
        RHI = ((h >>> a) | (l << (32 - a))) >>> 0;
      }
    }
  }
}

function shift32(v: number, type: number, amt: number): number {
  if (amt === 0) return v;
  switch (type) {
    case 0:
      return (v << amt) >>> 0;
    case 1:
      return v >>> amt;
    case 2:
      return ((v | 0) >> amt) >>> 0;
    default:
      return ((v >>> amt) | (v << (32 - amt))) >>> 0;
  }
}

const toBig = (lo: number, hi: number): bigint => (hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo));
const lo32 = (v: bigint): number => Number(v & 0xffff_ffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffff_ffffn);

/** Conversions an exit loop repeats with the same values (bigint-memo.ts style, one entry each). */
let retMemoNum = -1;
let retMemoBig = 0n;
function retiredBig(n: number): bigint {
  if (n !== retMemoNum) {
    retMemoNum = n;
    retMemoBig = BigInt(n);
  }
  return retMemoBig;
}
let synMemoNum = -1;
let synMemoBig = 0n;
function syndromeBig(v: number): bigint {
  if (v !== synMemoNum) {
    synMemoNum = v;
    synMemoBig = BigInt(v);
  }
  return synMemoBig;
}

// ---- the interpreter ---------------------------------------------------------------------------------

/** Thrown inside an op for an instruction the model does not run (caught by the loop). */
class Unsupported {
  constructor(readonly reason: string) {}
}

/**
 * The interpreter state of one vCPU, kept between runs (the TLB arrays are allocated once); `ctx` and
 * the run-scoped fields are reset by each call of the engine.
 */
class Interp implements SlowRegs {
  ctx!: Arm64RunContext;
  cpu!: Arm64Cpu;
  r!: Uint32Array;
  /** PC of the instruction being executed. */
  pcLo = 0;
  pcHi = 0;
  /** PSTATE, split: EL (0/1), SPSel, NZCV (4 bits), DAIF (4 bits: D A I F), IL and SS. */
  el = 0;
  spsel = 0;
  nzcv = 0;
  daif = 0;
  il = 0;
  ss = 0;

  /** Instructions executed in this call (the budget) and retired (the clock). */
  i = 0;
  n = 0;
  budget = 0;
  /** The loop checks interrupts, the vtimer and the budget only when `i` reaches this. */
  limit = 0;
  fireAt = Infinity;
  baseCount = 0n;

  /** System registers as numbers. */
  sctlr = 0;
  mmu = false;
  tcrLo = 0;
  tcrHi = 0;
  mairLo = 0;
  mairHi = 0;
  ttbr0Lo = 0;
  ttbr0Hi = 0;
  ttbr1Lo = 0;
  ttbr1Hi = 0;
  vbarLo = 0;
  vbarHi = 0;
  cntkctl = 0;
  unsupportedConfig = '';
  /** cpu.sysWrites when the fields above were last refreshed. */
  sysWrites = -1;
  /** The bigints the number fields above were converted from (see refresh). */
  readonly seen: (bigint | undefined)[] = new Array<bigint | undefined>(7).fill(undefined);
  /** MDSCR_EL1 and the breakpoint/watchpoint controls as {@link debugArmed} last saw them. */
  readonly seenDebug: (bigint | undefined)[] = new Array<bigint | undefined>(DEBUG_CONTROLS.length).fill(
    undefined,
  );
  debugWhy = '';

  /** The code page the PC is in: its tag (VA bits 31:12 with bits 1:0 of the PC, see fetch), host view, decoded ops. */
  cpTag = -1;
  cpHi = -1;
  /** IPA and stage-2 mapping of the cached code page. */
  cpIpa = 0;
  cpRegion: Arm64Region | undefined = undefined;
  cU32: Uint32Array | undefined = undefined;
  cBytes: Uint8Array = new Uint8Array(0);
  cBase = 0;
  cOps: (Op | undefined)[] = [];
  cWords: Uint32Array = new Uint32Array(0);

  /** Translation cache: direct mapped on VA bits 19:12, tagged with the VA page and a generation. */
  readonly tTag = new Float64Array(256);
  readonly tGen = new Int32Array(256);
  readonly tPerm = new Uint8Array(256);
  readonly tLevel = new Uint8Array(256);
  readonly tIpa = new Float64Array(256);
  readonly tRegion: (Arm64Region | undefined)[] = new Array<Arm64Region | undefined>(256).fill(undefined);
  gen = 0;

  /** Results of stage1()/stage2(): the IPA of the page, its stage-2 region and permissions, or the fault. */
  xIpa = 0;
  xRegion: Arm64Region | undefined = undefined;
  xPerm = 0;
  fStatus = 0;
  fIpa = 0;
  fS1ptw = false;
  fReason = '';

  /** Loaded values of the last access. */
  vLo = 0;
  vHi = 0;

  // ---- run set-up and tear-down -----------------------------------------------------------------

  run(ctx: Arm64RunContext, budget: number): Arm64Stop {
    this.ctx = ctx;
    const cpu = ctx.cpu;
    this.cpu = cpu;
    this.r = cpu.r;
    this.pcLo = cpu.pcLo;
    this.pcHi = cpu.pcHi;
    const m = cpu.cpsrLo;
    if ((m & 0x1f) !== 0 && (m & 0x1f) !== 4 && (m & 0x1f) !== 5) {
      return {
        kind: 'unsupported',
        bytes: new Uint8Array(0),
        reason: `CPSR.M = 0x${(m & 0x1f).toString(16)}: only EL0t, EL1t and EL1h AArch64 are modelled`,
      };
    }
    this.el = (m >>> 2) & 3;
    this.spsel = m & 1;
    this.nzcv = m >>> 28;
    this.daif = (m >>> 6) & 0xf;
    this.il = (m >>> 20) & 1;
    this.ss = (m >>> 21) & 1;
    this.loadSp();
    this.i = 0;
    this.n = 0;
    this.budget = budget;
    this.baseCount = ctx.clock.count;
    // Mappings, guest page tables and the EL may have changed since the last call: forget cached
    // translations, except that the code page survives when the MMU is off and its stage-2 mapping is
    // the same object with EXEC still allowed (what an exit loop re-enters every time).
    this.gen = (this.gen + 1) | 0;
    if (this.il === 1) this.cpTag = -1;
    if (this.cpTag !== -1) {
      const region = this.mmu ? undefined : ctx.region(this.cpIpa);
      if (region !== this.cpRegion || region === undefined || (region.flags & HV_MEMORY.EXEC) === 0)
        this.cpTag = -1;
    }
    let stop =
      cpu.sysWrites === this.sysWrites && this.unsupportedConfig === '' && this.debugWhy === ''
        ? undefined
        : this.refresh();
    this.sysWrites = cpu.sysWrites;
    if (stop === undefined) {
      this.retime();
      try {
        stop = this.loop();
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        stop = { kind: 'unsupported', bytes: this.wordBytes(), reason: e.reason };
      }
    }
    this.storeSp();
    cpu.pcLo = this.pcLo;
    cpu.pcHi = this.pcHi;
    cpu.cpsrLo = this.psr() >>> 0;
    cpu.cpsrHi = 0;
    ctx.clock.count = this.count();
    return stop;
  }

  /** PSTATE in SPSR layout (the fields the pretend core has). */
  psr(): number {
    return (
      ((this.nzcv << 28) |
        (this.ss << 21) |
        (this.il << 20) |
        (this.daif << 6) |
        (this.el << 2) |
        this.spsel) >>>
      0
    );
  }

  /** The banked SP PSTATE selects is slot 31 during a run. */
  spBank(): number {
    return this.el !== 0 && this.spsel === 1 ? SLOT.SP_EL1 : SLOT.SP_EL0;
  }
  loadSp(): void {
    const b = this.spBank() * 2;
    this.r[62] = this.r[b]!;
    this.r[63] = this.r[b + 1]!;
  }
  storeSp(): void {
    const b = this.spBank() * 2;
    this.r[b] = this.r[62]!;
    this.r[b + 1] = this.r[63]!;
  }

  sysBig(reg: number): bigint {
    return this.cpu.sys.get(reg) ?? 0n;
  }

  /**
   * Re-reads the system registers the loop depends on; a stop when their setting is outside the model.
   * Each is converted only when its value changed since the last call (an exit loop runs with the same
   * values every time, and BigInt conversions were most of the cost of a round trip).
   */
  refresh(): Arm64Stop | undefined {
    const sys = this.cpu.sys;
    const sctlr = sys.get(R_SCTLR) ?? 0n;
    const tcr = sys.get(S.HV_SYS_REG_TCR_EL1) ?? 0n;
    const mair = sys.get(S.HV_SYS_REG_MAIR_EL1) ?? 0n;
    const t0 = sys.get(S.HV_SYS_REG_TTBR0_EL1) ?? 0n;
    const t1 = sys.get(S.HV_SYS_REG_TTBR1_EL1) ?? 0n;
    const vbar = sys.get(S.HV_SYS_REG_VBAR_EL1) ?? 0n;
    const cntkctl = sys.get(S.HV_SYS_REG_CNTKCTL_EL1) ?? 0n;
    const seen = this.seen;
    if (
      sctlr !== seen[0] ||
      tcr !== seen[1] ||
      mair !== seen[2] ||
      t0 !== seen[3] ||
      t1 !== seen[4] ||
      vbar !== seen[5] ||
      cntkctl !== seen[6]
    ) {
      seen[0] = sctlr;
      seen[1] = tcr;
      seen[2] = mair;
      seen[3] = t0;
      seen[4] = t1;
      seen[5] = vbar;
      seen[6] = cntkctl;
      this.sctlr = lo32(sctlr);
      this.mmu = (this.sctlr & 1) === 1;
      this.tcrLo = lo32(tcr);
      this.tcrHi = hi32(tcr);
      this.mairLo = lo32(mair);
      this.mairHi = hi32(mair);
      this.ttbr0Lo = lo32(t0);
      this.ttbr0Hi = hi32(t0);
      this.ttbr1Lo = lo32(t1);
      this.ttbr1Hi = hi32(t1);
      this.vbarLo = lo32(vbar);
      this.vbarHi = hi32(vbar);
      this.cntkctl = lo32(cntkctl);
      this.gen = (this.gen + 1) | 0;
      this.cpTag = -1;
      let why = '';
      if ((this.sctlr & (3 << 24)) !== 0) why = 'SCTLR_EL1.EE/E0E = 1: big-endian data is not modelled';
      else if ((this.tcrHi & (3 << 5)) !== 0) why = 'TCR_EL1.TBI0/TBI1 = 1: top-byte-ignore is not modelled';
      this.unsupportedConfig = why;
    }
    if (this.unsupportedConfig !== '')
      return { kind: 'unsupported', bytes: new Uint8Array(0), reason: this.unsupportedConfig };
    const why = this.debugArmed();
    if (why !== '') return { kind: 'unsupported', bytes: new Uint8Array(0), reason: why };
    return undefined;
  }

  /**
   * Why the debug registers would make debug events the model does not implement, or ''. Software step
   * needs MDSCR_EL1.SS = 1; breakpoints and watchpoints need MDSCR_EL1.MDE = 1 and a DBGBCRn/DBGWCRn
   * with E = 1 (Arm ARM D2, AArch64.CheckDebug, "Software Step exceptions"). Checked whether or not
   * debug exceptions are enabled from the guest's EL: with hv_vcpu_set_trap_debug_exceptions they are,
   * whatever PSTATE.D.
   */
  debugArmed(): string {
    const sys = this.cpu.sys;
    const seen = this.seenDebug;
    let changed = false;
    for (let k = 0; k < DEBUG_CONTROLS.length; k++) {
      const v = sys.get(DEBUG_CONTROLS[k]!) ?? 0n;
      if (v !== seen[k]) {
        seen[k] = v;
        changed = true;
      }
    }
    if (!changed) return this.debugWhy;
    const mdscr = seen[0] ?? 0n;
    this.debugWhy =
      (mdscr & 1n) !== 0n
        ? 'MDSCR_EL1.SS = 1: software step is not modelled'
        : (mdscr & 0x8000n) !== 0n && seen.slice(1).some((c) => ((c ?? 0n) & 1n) !== 0n)
          ? 'MDSCR_EL1.MDE = 1 with a breakpoint or watchpoint enabled: hardware breakpoints and watchpoints are not modelled'
          : '';
    return this.debugWhy;
  }

  count(): bigint {
    return this.n === 0 ? this.baseCount : this.baseCount + retiredBig(this.n);
  }
  cntvct(): bigint {
    return (this.count() - this.ctx.vtimerOffset) & 0xffff_ffff_ffff_ffffn;
  }
  /** ISTATUS: the timer condition, whatever IMASK and the framework's vtimer mask say. */
  vtimerCondition(): boolean {
    return (
      (this.sysBig(S.HV_SYS_REG_CNTV_CTL_EL0) & 1n) === 1n &&
      this.cntvct() >= this.sysBig(S.HV_SYS_REG_CNTV_CVAL_EL0)
    );
  }
  /** Recomputes when the vtimer fires and the loop's next check point. */
  retime(): void {
    const ctl = this.sysBig(S.HV_SYS_REG_CNTV_CTL_EL0);
    this.fireAt = Infinity;
    if (!this.ctx.vtimerMasked && (ctl & 3n) === 1n) {
      const now = this.cntvct();
      const cval = this.sysBig(S.HV_SYS_REG_CNTV_CVAL_EL0);
      const wait = cval > now ? cval - now : 0n;
      if (wait < 1n << 52n) this.fireAt = this.n + Number(wait);
    }
    this.relimit();
  }
  /** An interrupt line the guest takes now (unmasked); IRQ before FIQ. */
  interruptDue(): number {
    if (this.ctx.pendingIrq && (this.daif & 2) === 0) return 0x80;
    if (this.ctx.pendingFiq && (this.daif & 1) === 0) return 0x100;
    return 0;
  }
  /**
   * Sets the next check point. The loop counts `i` before an instruction executes and `n` after it
   * retires, so in the middle of one (`exact` false) the distance to the timer may be one less than
   * `fireAt - n`: stopping one instruction early is harmless, the check point then sets it exactly.
   */
  relimit(exact = false): void {
    if (this.interruptDue() !== 0) {
      this.limit = this.i;
      return;
    }
    const untilTimer =
      this.fireAt === Infinity ? Infinity : this.i + Math.max(0, this.fireAt - this.n - (exact ? 0 : 1));
    this.limit = Math.min(this.budget, untilTimer);
  }

  /** The check point: budget, vtimer, interrupts. A stop, or undefined to go on. */
  checkpoint(): Arm64Stop | undefined {
    if (this.n >= this.fireAt) return { kind: 'vtimer' };
    const vec = this.interruptDue();
    if (vec !== 0) {
      // Taken before the instruction at PC: that is the preferred return address; ESR/FAR unchanged.
      this.takeException(-1, 0, this.pcLo, this.pcHi, false, 0, 0, vec);
      return undefined;
    }
    if (this.i >= this.budget) return { kind: 'budget' };
    this.relimit(true);
    return undefined;
  }

  // ---- exceptions -------------------------------------------------------------------------------

  /**
   * Takes an exception to EL1 (Arm ARM AArch64.TakeException): SPSR_EL1 = PSTATE, ELR_EL1 = the
   * preferred return address, ESR_EL1 (synchronous only: `ec` ≥ 0), FAR_EL1 (aborts, PC alignment:
   * `withFar`); PSTATE = EL1h with DAIF masked, IL and SS clear, NZCV kept; PC = VBAR_EL1 + the
   * vector offset.
   */
  takeException(
    ec: number,
    iss: number,
    retLo: number,
    retHi: number,
    withFar: boolean,
    farLo: number,
    farHi: number,
    kindOffset = 0,
  ): void {
    const sys = this.cpu.sys;
    const from = this.el;
    const offset = (from === 0 ? 0x400 : this.spsel === 1 ? 0x200 : 0) + kindOffset;
    sys.set(S.HV_SYS_REG_SPSR_EL1, BigInt(this.psr()));
    sys.set(S.HV_SYS_REG_ELR_EL1, toBig(retLo, retHi));
    if (ec >= 0) sys.set(S.HV_SYS_REG_ESR_EL1, BigInt(((ec << 26) | (1 << 25) | iss) >>> 0));
    if (withFar) sys.set(S.HV_SYS_REG_FAR_EL1, toBig(farLo, farHi));
    this.storeSp();
    this.el = 1;
    this.spsel = 1;
    this.daif = 0xf;
    this.il = 0;
    this.ss = 0;
    this.loadSp();
    this.pcLo = ((this.vbarLo & 0xfffff800) >>> 0) + offset;
    this.pcHi = this.vbarHi;
    this.cpTag = -1;
    this.relimit();
  }

  /** A synchronous exception at EL1 for the instruction at PC (ELR = PC). */
  fault(ec: number, iss: number): null {
    this.takeException(ec, iss, this.pcLo, this.pcHi, false, 0, 0);
    return null;
  }
  undefinedInstruction(): null {
    return this.fault(EC.UNKNOWN, 0);
  }

  /** An exit to the VMM. */
  exit(ec: number, iss: number, va = 0n, pa = 0n): Arm64Stop {
    // IL = 1: every A64 instruction is 32 bits (hvf-facts.md §2.8).
    return {
      kind: 'exception',
      syndrome: syndromeBig(((ec << 26) | (1 << 25) | iss) >>> 0),
      virtual_address: va,
      physical_address: pa,
    };
  }

  /** ERET at EL1 (Arm ARM AArch64.ExceptionReturn). */
  eret(): void {
    const spsr = lo32(this.sysBig(S.HV_SYS_REG_SPSR_EL1));
    const elr = this.sysBig(S.HV_SYS_REG_ELR_EL1);
    const m = spsr & 0x1f;
    // Illegal: AArch32 (M[4]), a higher or unimplemented EL, EL0 with SP_ELx, M[1] set.
    const illegal = (m & 0x10) !== 0 || ((m >>> 2) & 3) > 1 || (m & 2) !== 0 || m === 1;
    this.storeSp();
    this.nzcv = spsr >>> 28;
    this.daif = (spsr >>> 6) & 0xf;
    this.ss = (spsr >>> 21) & 1;
    if (illegal) this.il = 1;
    else {
      this.el = (m >>> 2) & 3;
      this.spsel = m & 1;
      this.il = (spsr >>> 20) & 1;
    }
    this.loadSp();
    this.pcLo = lo32(elr);
    this.pcHi = hi32(elr);
    this.cpu.event = true;
    this.cpTag = -1;
    this.relimit();
  }

  // ---- memory -----------------------------------------------------------------------------------

  /**
   * Stage 1 for the 4 KiB page of VA (lo, hi), checked for an access of kind `acc` at EL `el`: OK with
   * xIpa, xRegion (the stage-2 mapping, possibly none) and xPerm; F_S1, F_S2 (a stage-2 fault on the
   * table walk) or F_UNSUP with the fault's fields. Stage 2 of the final address is {@link stage2}.
   */
  stage1(vaLo: number, vaHi: number, acc: number, el: number): number {
    const page = vaHi * 1048576 + (vaLo >>> 12);
    const slot = (vaLo >>> 12) & 0xff;
    if (this.tTag[slot] !== page || this.tGen[slot] !== this.gen) {
      const f = this.mmu ? this.walk(vaLo, vaHi) : this.flat(vaLo, vaHi);
      if (f !== OK) return f;
      this.tTag[slot] = page;
      this.tGen[slot] = this.gen;
      this.tPerm[slot] = this.xPerm;
      this.tLevel[slot] = this.fStatus;
      this.tIpa[slot] = this.xIpa;
      this.tRegion[slot] = this.xRegion;
    }
    const perm = this.tPerm[slot]!;
    const need =
      acc === ACC_READ
        ? el === 0
          ? P_R0
          : P_R1
        : acc === ACC_WRITE
          ? el === 0
            ? P_W0
            : P_W1
          : el === 0
            ? P_X0
            : P_X1;
    if ((perm & need) === 0) {
      this.fStatus = FSC_PERMISSION + this.tLevel[slot]!;
      return F_S1;
    }
    if (acc === ACC_FETCH && (perm & P_DEVICE) !== 0 && this.mmu) {
      this.fReason = 'an instruction fetch from Device memory is CONSTRAINED UNPREDICTABLE; not modelled';
      return F_UNSUP;
    }
    this.xPerm = perm;
    this.xIpa = this.tIpa[slot]!;
    this.xRegion = this.tRegion[slot];
    return OK;
  }

  /** Stage 2 of the page {@link stage1} found, for `acc`: OK, or F_S2 with the fault (level reported as 3). */
  stage2(acc: number, vaLo: number): number {
    const region = this.xRegion;
    if (region === undefined || (region.flags & NEED_S2[acc]!) === 0) {
      this.fStatus = region === undefined ? FSC_TRANSLATION + 3 : FSC_PERMISSION + 3;
      this.fIpa = this.xIpa + (vaLo & 0xfff);
      this.fS1ptw = false;
      return F_S2;
    }
    return OK;
  }

  /** Stage 1 off: VA = IPA, data Device-nGnRnE, every permission; a VA beyond the PA size is an address-size fault. */
  flat(vaLo: number, vaHi: number): number {
    if (vaHi >>> (PA_BITS - 32) !== 0) {
      this.fStatus = FSC_ADDR_SIZE;
      return F_S1;
    }
    this.xIpa = vaHi * TWO32 + ((vaLo & 0xfffff000) >>> 0);
    this.xRegion = this.ctx.region(this.xIpa);
    this.xPerm = P_ALL | P_DEVICE;
    this.fStatus = 0;
    return OK;
  }

  /** The VMSAv8-64 stage-1 walk (see the module notes). On OK, fStatus holds the leaf level. */
  walk(vaLo: number, vaHi: number): number {
    const upper = vaHi >>> 31 === 1;
    const tl = this.tcrLo;
    let tsz: number;
    let epd: number;
    let gran: number;
    let tLo: number;
    let tHi: number;
    if (!upper) {
      tsz = tl & 0x3f;
      epd = (tl >>> 7) & 1;
      const tg = (tl >>> 14) & 3;
      gran = tg === 0 ? 12 : tg === 1 ? 16 : tg === 2 ? 14 : 0;
      tLo = this.ttbr0Lo;
      tHi = this.ttbr0Hi;
    } else {
      tsz = (tl >>> 16) & 0x3f;
      epd = (tl >>> 23) & 1;
      const tg = tl >>> 30;
      gran = tg === 1 ? 14 : tg === 2 ? 12 : tg === 3 ? 16 : 0;
      tLo = this.ttbr1Lo;
      tHi = this.ttbr1Hi;
    }
    if (gran === 0) {
      this.fReason = `TCR_EL1.TG${upper ? 1 : 0} holds a reserved granule encoding; not modelled`;
      return F_UNSUP;
    }
    tsz = Math.min(39, Math.max(16, tsz));
    const inputsize = 64 - tsz;
    // VA[63:inputsize] must be all 0 (TTBR0) or all 1 (TTBR1).
    let inRange: boolean;
    if (inputsize >= 32) {
      const top = vaHi >>> (inputsize - 32);
      inRange = upper ? top === 0xffffffff >>> (inputsize - 32) : top === 0;
    } else {
      const top = vaLo >>> inputsize;
      inRange = upper ? vaHi === 0xffffffff && top === 0xffffffff >>> inputsize : vaHi === 0 && top === 0;
    }
    if (!inRange || epd === 1) {
      this.fStatus = FSC_TRANSLATION;
      return F_S1;
    }
    const ipsCode = this.tcrHi & 7;
    const ps = Math.min(PA_BITS, [32, 36, 40, 42, 44, 48, 52, 52][ipsCode]!);
    const psLimit = 2 ** ps;
    const stride = gran - 3;
    const start = 4 - Math.ceil((inputsize - gran) / stride);
    const va48 = (vaHi & 0xffff) * TWO32 + vaLo;
    // The table base: TTBR bits 47:1, aligned to the start-level table (at least 64 bytes).
    const topBits = inputsize - (gran + stride * (3 - start));
    const align = 2 ** Math.max(topBits + 3, 6);
    let base = Math.floor(((tHi & 0xffff) * TWO32 + ((tLo & 0xfffffffe) >>> 0)) / align) * align;
    if (base >= psLimit) {
      this.fStatus = FSC_ADDR_SIZE;
      return F_S1;
    }
    let apt = 0;
    let uxnT = 0;
    let pxnT = 0;
    for (let level = start; ; level++) {
      const shift = gran + stride * (3 - level);
      const bits = level === start ? inputsize - shift : stride;
      const index = Math.floor(va48 / 2 ** shift) % 2 ** bits;
      const descIpa = base + index * 8;
      const region = this.ctx.region(descIpa);
      if (region === undefined || (region.flags & HV_MEMORY.READ) === 0) {
        this.fStatus = region === undefined ? FSC_TRANSLATION + 3 : FSC_PERMISSION + 3;
        this.fIpa = descIpa;
        this.fS1ptw = true;
        return F_S2;
      }
      const at = region.offset + (descIpa - region.startN);
      const b = region.bytes;
      const dlo = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
      const dhi = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0;
      if ((dlo & 1) === 0) {
        this.fStatus = FSC_TRANSLATION + level;
        return F_S1;
      }
      if (level < 3 && (dlo & 2) !== 0) {
        const next = (dhi & 0xffff) * TWO32 + (dlo >>> gran) * 2 ** gran;
        if (next >= psLimit) {
          this.fStatus = FSC_ADDR_SIZE + level;
          return F_S1;
        }
        apt |= (dhi >>> 29) & 3;
        uxnT |= (dhi >>> 28) & 1;
        pxnT |= (dhi >>> 27) & 1;
        base = next;
        continue;
      }
      // A page (level 3, 0b11) or a block where the granule has them (4 KiB: levels 1-2; 16/64 KiB: 2).
      const blockOk = level === 3 ? (dlo & 2) !== 0 : gran === 12 ? level >= 1 : level === 2;
      if (!blockOk) {
        this.fStatus = FSC_TRANSLATION + level;
        return F_S1;
      }
      const oa = Math.floor(((dhi & 0xffff) * TWO32 + dlo) / 2 ** shift) * 2 ** shift;
      if (oa >= psLimit) {
        this.fStatus = FSC_ADDR_SIZE + level;
        return F_S1;
      }
      if ((dlo & 0x400) === 0) {
        this.fStatus = FSC_ACCESS_FLAG + level;
        return F_S1;
      }
      const ap = (dlo >>> 6) & 3;
      const uxn = (dhi >>> 22) & 1;
      const pxn = (dhi >>> 21) & 1;
      const w1 = (ap & 2) === 0 && (apt & 2) === 0;
      const r0 = (ap & 1) === 1 && (apt & 1) === 0;
      const w0 = ap === 1 && apt === 0;
      let x0 = uxn === 0 && uxnT === 0;
      // Memory writable at EL0 is never executable at EL1 (Arm ARM, "Instruction execution permissions").
      let x1 = pxn === 0 && pxnT === 0 && !w0;
      if ((this.sctlr & (1 << 19)) !== 0 && (w1 || w0)) {
        x0 = false;
        x1 = false;
      }
      const attrIdx = (dlo >>> 2) & 7;
      const attr =
        attrIdx < 4 ? (this.mairLo >>> (8 * attrIdx)) & 0xff : (this.mairHi >>> (8 * (attrIdx - 4))) & 0xff;
      this.xPerm =
        P_R1 |
        (w1 ? P_W1 : 0) |
        (r0 ? P_R0 : 0) |
        (w0 ? P_W0 : 0) |
        (x0 ? P_X0 : 0) |
        (x1 ? P_X1 : 0) |
        ((attr & 0xf0) === 0 ? P_DEVICE : 0);
      this.xIpa = oa + Math.floor((va48 % 2 ** shift) / 4096) * 4096;
      this.xRegion = this.ctx.region(this.xIpa);
      this.fStatus = level;
      return OK;
    }
  }

  /** A data-abort or alignment fault taken at EL1 for the access at VA. */
  dataFaultEl1(status: number, write: boolean, vaLo: number, vaHi: number): null {
    const ec = this.el === 0 ? EC.DABT_LOWER : EC.DABT_CUR;
    this.takeException(ec, (write ? 1 << 6 : 0) | status, this.pcLo, this.pcHi, true, vaLo, vaHi);
    return null;
  }

  /** The stage-2 data abort exit for the access at VA (syndrome `isv` bits when the access has an instruction syndrome). */
  dataAbortExit(write: boolean, vaLo: number, vaHi: number, isv: number): Arm64Stop {
    let iss = this.fStatus;
    if (this.fS1ptw) iss |= 1 << 7;
    else {
      if (write) iss |= 1 << 6;
      iss |= isv;
    }
    return this.exit(EC.DABT_LOWER, iss, toBig(vaLo, vaHi), BigInt(this.fIpa));
  }

  /**
   * One data access of `size` bytes (element size `align` for the alignment checks) at VA: stage 1
   * (both pages when it crosses one), alignment, stage 2, then read into vLo/vHi or write `wLo/wHi`
   * (nothing when `dry`). Returns undefined when done, null when the guest took a fault, or the exit.
   */
  access(
    vaLo: number,
    vaHi: number,
    size: number,
    align: number,
    write: boolean,
    flags: number,
    isv: number,
    wLo: number,
    wHi: number,
    dry = false,
  ): Arm64Stop | null | undefined {
    const misaligned = (vaLo & (align - 1)) !== 0;
    // Alignment required by the instruction (LDAR/STLR: no FEAT_LSE2) or by SCTLR_EL1.A: before translation.
    if (misaligned && ((flags & LS.AR) !== 0 || (this.sctlr & 2) !== 0))
      return this.dataFaultEl1(FSC_ALIGNMENT, write, vaLo, vaHi);
    const el = (flags & LS.UNPRIV) !== 0 ? 0 : this.el;
    const acc = write ? ACC_WRITE : ACC_READ;
    const off = vaLo & 0xfff;
    let f = this.stage1(vaLo, vaHi, acc, el);
    // Device memory (all data memory with the MMU off) needs alignment: a stage-1 check, before stage 2.
    if (f === OK && misaligned && (this.xPerm & P_DEVICE) !== 0) {
      this.fStatus = FSC_ALIGNMENT;
      f = F_S1;
    }
    if (f === OK) f = this.stage2(acc, vaLo);
    if (f !== OK) return this.accessFault(f, write, vaLo, vaHi, isv);
    if (off + size <= 4096) {
      if (dry) return undefined;
      const region = this.xRegion as Arm64Region;
      const at = region.offset + (this.xIpa - region.startN) + off;
      const b = region.bytes;
      if (write) {
        b[at] = wLo;
        if (size > 1) {
          b[at + 1] = wLo >>> 8;
          if (size > 2) {
            b[at + 2] = wLo >>> 16;
            b[at + 3] = wLo >>> 24;
            if (size > 4) {
              b[at + 4] = wHi;
              b[at + 5] = wHi >>> 8;
              b[at + 6] = wHi >>> 16;
              b[at + 7] = wHi >>> 24;
            }
          }
        }
      } else if (size === 8) {
        this.vLo = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
        this.vHi = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0;
      } else {
        this.vLo =
          size === 4
            ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
            : size === 2
              ? b[at]! | (b[at + 1]! << 8)
              : b[at]!;
        this.vHi = 0;
      }
      return undefined;
    }
    // Crossing into the next 4 KiB page (unaligned Normal memory): translate it too, then go byte by byte.
    const first = this.xRegion as Arm64Region;
    const firstAt = first.offset + (this.xIpa - first.startN);
    const nl = ((vaLo & 0xfffff000) >>> 0) + 4096;
    const nextLo = nl >>> 0;
    const nextHi = nl > 0xffffffff ? (vaHi + 1) >>> 0 : vaHi;
    let f2 = this.stage1(nextLo, nextHi, acc, el);
    if (f2 === OK) f2 = this.stage2(acc, nextLo);
    if (f2 !== OK) return this.accessFault(f2, write, nextLo, nextHi, isv);
    if (dry) return undefined;
    const second = this.xRegion as Arm64Region;
    const secondAt = second.offset + (this.xIpa - second.startN);
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < size; k++) {
      const p = off + k;
      const b = p < 4096 ? first.bytes : second.bytes;
      const at = p < 4096 ? firstAt + p : secondAt + p - 4096;
      if (write) b[at] = k < 4 ? wLo >>> (8 * k) : wHi >>> (8 * (k - 4));
      else if (k < 4) lo = (lo | (b[at]! << (8 * k))) >>> 0;
      else hi = (hi | (b[at]! << (8 * (k - 4)))) >>> 0;
    }
    this.vLo = lo;
    this.vHi = hi;
    return undefined;
  }

  accessFault(f: number, write: boolean, vaLo: number, vaHi: number, isv: number): Arm64Stop | null {
    if (f === F_S1) return this.dataFaultEl1(this.fStatus, write, vaLo, vaHi);
    if (f === F_S2) return this.dataAbortExit(write, vaLo, vaHi, isv);
    throw new Unsupported(this.fReason);
  }

  /** Moves to the page of PC: translation for fetch, PC alignment, Illegal Execution state. */
  fetchPage(): Arm64Stop | null | undefined {
    const pl = this.pcLo;
    const ph = this.pcHi;
    if ((pl & 3) !== 0) {
      this.takeException(EC.PC_ALIGN, 0, pl, ph, true, pl, ph);
      this.i++;
      return null;
    }
    let f = this.stage1(pl, ph, ACC_FETCH, this.el);
    if (f === OK) f = this.stage2(ACC_FETCH, pl);
    if (f === F_S1) {
      this.takeException(this.el === 0 ? EC.IABT_LOWER : EC.IABT_CUR, this.fStatus, pl, ph, true, pl, ph);
      this.i++;
      return null;
    }
    if (f === F_S2) {
      // Stage-2 fault on the fetch (or its walk): instruction abort from a lower EL, PC at the address.
      const iss = this.fStatus | (this.fS1ptw ? 1 << 7 : 0);
      return this.exit(EC.IABT_LOWER, iss, toBig(pl, ph), BigInt(this.fIpa));
    }
    if (f === F_UNSUP) throw new Unsupported(this.fReason);
    if (this.il === 1) {
      // Illegal Execution state: taken on the instruction instead of executing it.
      this.fault(EC.ILLEGAL, 0);
      this.i++;
      return null;
    }
    const region = this.xRegion as Arm64Region;
    const bytes = region.bytes;
    let code = CODE.get(bytes);
    if (code === undefined) {
      code = new BufferCode(bytes);
      CODE.set(bytes, code);
    }
    const hostPage = region.offset + (this.xIpa - region.startN);
    let pc = code.pages.get(hostPage);
    if (pc === undefined) {
      pc = new PageCode();
      code.pages.set(hostPage, pc);
    }
    this.cpTag = pl & -4096;
    this.cpHi = ph;
    this.cpIpa = this.xIpa;
    this.cpRegion = region;
    this.cU32 = code.u32;
    this.cBytes = bytes;
    this.cBase = hostPage >>> 2;
    this.cOps = pc.ops;
    this.cWords = pc.words;
    return undefined;
  }

  /** The bytes of the instruction at PC, when its page is the cached one (for an "unsupported" stop). */
  wordBytes(): Uint8Array {
    if ((this.pcLo & -4093) !== this.cpTag || this.pcHi !== this.cpHi) return new Uint8Array(0);
    const w = this.cWords[(this.pcLo & 0xfff) >>> 2]!;
    return Uint8Array.of(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24);
  }

  // ---- the loop -------------------------------------------------------------------------------

  loop(): Arm64Stop {
    const r = this.r;
    for (;;) {
      if (this.i >= this.limit) {
        const s = this.checkpoint();
        if (s !== undefined) return s;
        continue;
      }
      const pl = this.pcLo;
      if ((pl & -4093) !== this.cpTag || this.pcHi !== this.cpHi) {
        const s = this.fetchPage();
        if (s !== undefined) {
          if (s === null) continue;
          return s;
        }
      }
      const idx = (this.pcLo & 0xfff) >>> 2;
      const u32 = this.cU32;
      let word: number;
      if (u32 !== undefined) word = u32[this.cBase + idx]!;
      else {
        const b = this.cBytes;
        const at = (this.cBase + idx) * 4;
        word = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
      }
      let o = this.cOps[idx];
      if (o === undefined || this.cWords[idx] !== word) {
        o = decode(word);
        this.cOps[idx] = o;
        this.cWords[idx] = word;
      }
      this.i++;
      const a2 = o.a << 1;
      switch (o.k) {
        case K.ADDI: {
          const b2 = o.b << 1;
          const lo = r[b2]! + o.i;
          r[a2 + 1] = (r[b2 + 1]! + (lo > 0xffffffff ? 1 : 0)) >>> 0;
          r[a2] = lo >>> 0;
          break;
        }
        case K.SUBI: {
          const b2 = o.b << 1;
          const lo = r[b2]! - o.i;
          r[a2 + 1] = (r[b2 + 1]! - (lo < 0 ? 1 : 0)) >>> 0;
          r[a2] = lo >>> 0;
          break;
        }
        case K.ADDI32:
          r[a2] = (r[o.b << 1]! + o.i) >>> 0;
          r[a2 + 1] = 0;
          break;
        case K.SUBI32:
          r[a2] = (r[o.b << 1]! - o.i) >>> 0;
          r[a2 + 1] = 0;
          break;
        case K.ADDSI: {
          const b2 = o.b << 1;
          awc64(r[b2]!, r[b2 + 1]!, o.i, 0, 0);
          r[a2] = RLO;
          r[a2 + 1] = RHI;
          this.nzcv = RNZCV;
          break;
        }
        case K.SUBSI: {
          const b2 = o.b << 1;
          awc64(r[b2]!, r[b2 + 1]!, ~o.i >>> 0, 0xffffffff, 1);
          r[a2] = RLO;
          r[a2 + 1] = RHI;
          this.nzcv = RNZCV;
          break;
        }
        case K.ADDSI32:
          awc32(r[o.b << 1]!, o.i, 0);
          r[a2] = RLO;
          r[a2 + 1] = 0;
          this.nzcv = RNZCV;
          break;
        case K.SUBSI32:
          awc32(r[o.b << 1]!, ~o.i >>> 0, 1);
          r[a2] = RLO;
          r[a2 + 1] = 0;
          this.nzcv = RNZCV;
          break;
        case K.MOVI:
          r[a2] = o.i;
          r[a2 + 1] = o.j;
          break;
        case K.MOVK: {
          const h = o.b;
          const v = o.i;
          if (h === 0) r[a2] = ((r[a2]! & 0xffff0000) | v) >>> 0;
          else if (h === 1) r[a2] = ((r[a2]! & 0xffff) | (v << 16)) >>> 0;
          else if (h === 2) r[a2 + 1] = ((r[a2 + 1]! & 0xffff0000) | v) >>> 0;
          else r[a2 + 1] = ((r[a2 + 1]! & 0xffff) | (v << 16)) >>> 0;
          break;
        }
        case K.MOVK32:
          r[a2] = o.b === 0 ? ((r[a2]! & 0xffff0000) | o.i) >>> 0 : ((r[a2]! & 0xffff) | (o.i << 16)) >>> 0;
          r[a2 + 1] = 0;
          break;
        case K.LOGI:
        case K.LOGI32: {
          const b2 = o.b << 1;
          const xl = r[b2]!;
          const xh = o.k === K.LOGI ? r[b2 + 1]! : 0;
          let l: number;
          let h: number;
          switch (o.c) {
            case 1:
              l = xl | o.i;
              h = xh | o.j;
              break;
            case 2:
              l = xl ^ o.i;
              h = xh ^ o.j;
              break;
            default:
              l = xl & o.i;
              h = xh & o.j;
          }
          l >>>= 0;
          h >>>= 0;
          if (o.c === 3)
            this.nzcv =
              o.k === K.LOGI
                ? ((h >>> 31) << 3) | ((l | h) === 0 ? 4 : 0)
                : ((l >>> 31) << 3) | (l === 0 ? 4 : 0);
          r[a2] = l;
          r[a2 + 1] = h;
          break;
        }
        case K.ADDSUBR: {
          const b2 = o.b << 1;
          const c2 = o.c << 1;
          const d = o.d;
          if ((d & 4) === 0) {
            shift64(r[c2]!, r[c2 + 1]!, o.e, o.i);
            if ((d & 1) === 0) awc64(r[b2]!, r[b2 + 1]!, RLO, RHI, 0);
            else awc64(r[b2]!, r[b2 + 1]!, ~RLO >>> 0, ~RHI >>> 0, 1);
          } else {
            const m = shift32(r[c2]!, o.e, o.i);
            if ((d & 1) === 0) awc32(r[b2]!, m, 0);
            else awc32(r[b2]!, ~m >>> 0, 1);
          }
          if ((d & 2) !== 0) this.nzcv = RNZCV;
          r[a2] = RLO;
          r[a2 + 1] = RHI;
          break;
        }
        case K.LOGR: {
          const b2 = o.b << 1;
          const c2 = o.c << 1;
          const d = o.d;
          let ml: number;
          let mh: number;
          if ((d & 8) === 0) {
            shift64(r[c2]!, r[c2 + 1]!, o.e, o.i);
            ml = RLO;
            mh = RHI;
          } else {
            ml = shift32(r[c2]!, o.e, o.i);
            mh = 0;
          }
          if ((d & 4) !== 0) {
            ml = ~ml;
            mh = (d & 8) === 0 ? ~mh : 0;
          }
          const xl = r[b2]!;
          const xh = (d & 8) === 0 ? r[b2 + 1]! : 0;
          const opc = d & 3;
          let l: number;
          let h: number;
          if (opc === 1) {
            l = xl | ml;
            h = xh | mh;
          } else if (opc === 2) {
            l = xl ^ ml;
            h = xh ^ mh;
          } else {
            l = xl & ml;
            h = xh & mh;
          }
          l >>>= 0;
          h >>>= 0;
          if (opc === 3)
            this.nzcv =
              (d & 8) === 0
                ? ((h >>> 31) << 3) | ((l | h) === 0 ? 4 : 0)
                : ((l >>> 31) << 3) | (l === 0 ? 4 : 0);
          r[a2] = l;
          r[a2 + 1] = h;
          break;
        }
        case K.CSEL: {
          const is32 = o.i === 1;
          let l: number;
          let h: number;
          if (condHolds(o.d, this.nzcv)) {
            l = r[o.b << 1]!;
            h = is32 ? 0 : r[(o.b << 1) + 1]!;
          } else {
            const c2 = o.c << 1;
            l = r[c2]!;
            h = is32 ? 0 : r[c2 + 1]!;
            switch (o.e) {
              case 1: {
                // CSINC
                const s = l + 1;
                l = s >>> 0;
                if (!is32 && s > 0xffffffff) h = (h + 1) >>> 0;
                break;
              }
              case 2: // CSINV
                l = ~l >>> 0;
                h = is32 ? 0 : ~h >>> 0;
                break;
              case 3: // CSNEG
                awc64(0, 0, ~l >>> 0, is32 ? 0 : ~h >>> 0, 1);
                l = RLO;
                h = is32 ? 0 : RHI;
                break;
            }
          }
          r[a2] = l;
          r[a2 + 1] = h;
          break;
        }
        case K.ADR: {
          const base = o.b === 1 ? (this.pcLo & 0xfffff000) >>> 0 : this.pcLo;
          const s = base + o.i;
          const carry = Math.floor(s / TWO32);
          r[a2] = s - carry * TWO32;
          r[a2 + 1] = (this.pcHi + carry) >>> 0;
          break;
        }
        case K.B:
          this.n++;
          this.jump(o.i);
          continue;
        case K.BL:
          this.link();
          this.n++;
          this.jump(o.i);
          continue;
        case K.BCOND:
          if (condHolds(o.a, this.nzcv)) {
            this.n++;
            this.jump(o.i);
            continue;
          }
          break;
        case K.CBZ: {
          const zero = o.c === 1 ? r[a2] === 0 : (r[a2]! | r[a2 + 1]!) === 0;
          if (zero !== (o.b === 1)) {
            this.n++;
            this.jump(o.i);
            continue;
          }
          break;
        }
        case K.TBZ: {
          const bit = o.b < 32 ? (r[a2]! >>> o.b) & 1 : (r[a2 + 1]! >>> (o.b - 32)) & 1;
          if (bit === o.c) {
            this.n++;
            this.jump(o.i);
            continue;
          }
          break;
        }
        case K.BR: {
          this.n++;
          this.pcLo = r[a2]!;
          this.pcHi = r[a2 + 1]!;
          continue;
        }
        case K.BLR: {
          const tl = r[a2]!;
          const th = r[a2 + 1]!;
          this.link();
          this.n++;
          this.pcLo = tl;
          this.pcHi = th;
          continue;
        }
        case K.NOP:
          break;
        case K.LDST: {
          const s = this.ldst(o);
          if (s === undefined) break;
          if (s === null) continue;
          return s;
        }
        case K.HVC:
          if (this.el === 0) {
            this.undefinedInstruction();
            continue;
          }
          // HVC generates the exception: its preferred return address is the next instruction.
          this.n++;
          this.advance();
          return this.exit(EC.HVC64, o.i);
        default: {
          const s = this.other(o);
          if (s === undefined) break;
          if (s === null) continue;
          return s;
        }
      }
      this.n++;
      this.advance();
    }
  }

  advance(): void {
    const l = this.pcLo + 4;
    if (l > 0xffffffff) {
      this.pcLo = l - TWO32;
      this.pcHi = (this.pcHi + 1) >>> 0;
    } else this.pcLo = l;
  }
  /** PC += a signed byte offset. */
  jump(off: number): void {
    const s = this.pcLo + off;
    if (s >= 0 && s <= 0xffffffff) this.pcLo = s;
    else {
      const carry = Math.floor(s / TWO32);
      this.pcLo = s - carry * TWO32;
      this.pcHi = (this.pcHi + carry) >>> 0;
    }
  }
  /** X30 = PC + 4. */
  link(): void {
    const l = this.pcLo + 4;
    this.r[60] = l >>> 0;
    this.r[61] = l > 0xffffffff ? (this.pcHi + 1) >>> 0 : this.pcHi;
  }

  /** Single-register loads/stores (LDST, LDLIT) and pairs (LDP). */
  ldst(o: Op): Arm64Stop | null | undefined {
    const r = this.r;
    const flags = o.d;
    if ((flags & LS.PRFM) !== 0) return undefined;
    const sizeLog = flags & 3;
    const size = 1 << sizeLog;
    const b2 = o.b << 1;
    if (o.b === SLOT.SP && (this.sctlr & (this.el === 0 ? 16 : 8)) !== 0 && (r[62]! & 15) !== 0)
      return this.fault(EC.SP_ALIGN, 0);
    const baseLo = r[b2]!;
    const baseHi = r[b2 + 1]!;
    let aLo = baseLo;
    let aHi = baseHi;
    if (o.c === ADDR.REG) {
      const e2 = o.e << 1;
      const option = o.j >>> 8;
      let ml = r[e2]!;
      let mh = r[e2 + 1]!;
      if (option === 2) mh = 0;
      else if (option === 6) mh = (ml >>> 31) * 0xffffffff;
      shift64(ml, mh, 0, o.j & 0xff);
      ml = RLO;
      mh = RHI;
      awc64(baseLo, baseHi, ml, mh, 0);
      aLo = RLO;
      aHi = RHI;
    } else if (o.c !== ADDR.POST && o.i !== 0) {
      const s = baseLo + o.i;
      const carry = Math.floor(s / TWO32);
      aLo = s - carry * TWO32;
      aHi = (baseHi + carry) >>> 0;
    }
    const load = (flags & LS.LOAD) !== 0;
    const rt = o.w & 0x1f;
    // Instruction syndrome for a stage-2 abort: single register without writeback (hvf-facts.md §2.8).
    const sx = (flags & (LS.SX | LS.SW)) !== 0;
    const sf = load ? sizeLog === 3 || (flags & LS.SX) !== 0 : sizeLog === 3;
    const isv =
      o.c === ADDR.OFFSET || o.c === ADDR.REG
        ? (1 << 24) |
          (sizeLog << 22) |
          (sx ? 1 << 21 : 0) |
          (rt << 16) |
          (sf ? 1 << 15 : 0) |
          ((flags & LS.AR) !== 0 ? 1 << 14 : 0)
        : 0;
    const a2 = o.a << 1;
    const s = load
      ? this.access(aLo, aHi, size, size, false, flags, isv, 0, 0)
      : this.access(aLo, aHi, size, size, true, flags, isv, r[a2]!, r[a2 + 1]!);
    if (s !== undefined) return s;
    if (o.c === ADDR.PRE || o.c === ADDR.POST) {
      const t = baseLo + o.i;
      const carry = Math.floor(t / TWO32);
      r[b2] = t - carry * TWO32;
      r[b2 + 1] = (baseHi + carry) >>> 0;
    }
    if (load) this.loaded(a2, sizeLog, flags);
    return undefined;
  }

  /** Writes vLo/vHi, extended as the load says, to the slot at a2. */
  loaded(a2: number, sizeLog: number, flags: number): void {
    let l = this.vLo;
    let h = this.vHi;
    if ((flags & (LS.SX | LS.SW)) !== 0 && sizeLog < 3) {
      if (sizeLog === 0) l = ((l << 24) >> 24) >>> 0;
      else if (sizeLog === 1) l = ((l << 16) >> 16) >>> 0;
      h = (flags & LS.SX) !== 0 ? ((l | 0) >> 31) >>> 0 : 0;
    }
    this.r[a2] = l;
    this.r[a2 + 1] = h;
  }

  loadLiteral(o: Op): Arm64Stop | null | undefined {
    const s = this.pcLo + o.i;
    const carry = Math.floor(s / TWO32);
    const aLo = s - carry * TWO32;
    const aHi = (this.pcHi + carry) >>> 0;
    const sizeLog = o.d & 3;
    const rt = o.w & 0x1f;
    const sx = (o.d & LS.SX) !== 0;
    const isv =
      (1 << 24) | (sizeLog << 22) | (sx ? 1 << 21 : 0) | (rt << 16) | (sizeLog === 3 || sx ? 1 << 15 : 0);
    const st = this.access(aLo, aHi, 1 << sizeLog, 1 << sizeLog, false, o.d, isv, 0, 0);
    if (st !== undefined) return st;
    this.loaded(o.a << 1, sizeLog, o.d);
    return undefined;
  }

  pair(o: Op): Arm64Stop | null | undefined {
    const r = this.r;
    const flags = o.d;
    const esizeLog = flags & 3;
    const esize = 1 << esizeLog;
    const b2 = o.b << 1;
    if (o.b === SLOT.SP && (this.sctlr & (this.el === 0 ? 16 : 8)) !== 0 && (r[62]! & 15) !== 0)
      return this.fault(EC.SP_ALIGN, 0);
    const baseLo = r[b2]!;
    const baseHi = r[b2 + 1]!;
    const t = baseLo + o.i;
    const carry = Math.floor(t / TWO32);
    const wbLo = t - carry * TWO32;
    const wbHi = (baseHi + carry) >>> 0;
    const aLo = o.c === ADDR.POST ? baseLo : wbLo;
    const aHi = o.c === ADDR.POST ? baseHi : wbHi;
    const load = (flags & LS.LOAD) !== 0;
    const a2 = o.a << 1;
    const e2 = o.e << 1;
    // Pairs never carry an instruction syndrome (ISV = 0, hvf-facts.md §2.8). The first element faults
    // first; a store checks both elements before it writes either.
    const bLo = (aLo + esize) >>> 0;
    const bHi = aLo + esize > 0xffffffff ? (aHi + 1) >>> 0 : aHi;
    if (!load) {
      const d1 = this.access(aLo, aHi, esize, esize, true, flags, 0, 0, 0, true);
      if (d1 !== undefined) return d1;
      const d2 = this.access(bLo, bHi, esize, esize, true, flags, 0, 0, 0, true);
      if (d2 !== undefined) return d2;
    }
    let s = this.access(aLo, aHi, esize, esize, !load, flags, 0, r[a2]!, r[a2 + 1]!);
    if (s !== undefined) return s;
    const v1Lo = this.vLo;
    const v1Hi = this.vHi;
    s = this.access(bLo, bHi, esize, esize, !load, flags, 0, r[e2]!, r[e2 + 1]!);
    if (s !== undefined) return s;
    const v2Lo = this.vLo;
    const v2Hi = this.vHi;
    if (o.c !== ADDR.OFFSET) {
      r[b2] = wbLo;
      r[b2 + 1] = wbHi;
    }
    if (load) {
      this.vLo = v1Lo;
      this.vHi = v1Hi;
      this.loaded(a2, esizeLog, flags);
      this.vLo = v2Lo;
      this.vHi = v2Hi;
      this.loaded(e2, esizeLog, flags);
    }
    return undefined;
  }

  /** Everything that is not on the hot path. */
  other(o: Op): Arm64Stop | null | undefined {
    switch (o.k) {
      case K.LDLIT:
        return this.loadLiteral(o);
      case K.LDP:
        return this.pair(o);
      case K.UNDEF:
        return this.undefinedInstruction();
      case K.UNSUP:
        throw new Unsupported(o.m);
      case K.SVC: {
        // SVC is taken by the guest at EL1; its preferred return address is the next instruction.
        const l = this.pcLo + 4;
        const retLo = l >>> 0;
        const retHi = l > 0xffffffff ? (this.pcHi + 1) >>> 0 : this.pcHi;
        this.n++;
        this.takeException(EC.SVC64, o.i, retLo, retHi, false, 0, 0);
        return null;
      }
      case K.SMC:
        // UNDEFINED at EL0; at EL1 trapped to the hypervisor (HCR_EL2.TSC), PC at the SMC
        // (hvf-facts.md §2.8: whether HVF sets TSC is unverified [U]).
        if (this.el === 0) return this.undefinedInstruction();
        return this.exit(EC.SMC64, o.i);
      case K.BRK:
        if (this.ctx.trapDebugExceptions) return this.exit(EC.BRK64, o.i);
        return this.fault(EC.BRK64, o.i);
      case K.WFI:
        // A pending interrupt (masked or not) is a wake-up event: WFI completes without waiting, so
        // neither trap applies (Arm ARM: the traps are on WFI "that would otherwise wait").
        if (this.ctx.pendingIrq || this.ctx.pendingFiq) return undefined;
        if (this.el === 0 && (this.sctlr & (1 << 16)) === 0)
          return this.fault(EC.WFX, (1 << 24) | (0xe << 20));
        // HVF traps WFI without a GIC (hvf-facts.md §5.9 [T]); CV = 1, COND = 0b1110 for AArch64.
        return this.exit(EC.WFX, (1 << 24) | (0xe << 20));
      case K.WFE:
        if (this.cpu.event) {
          this.cpu.event = false;
          return undefined;
        }
        if (this.el === 0 && (this.sctlr & (1 << 18)) === 0)
          return this.fault(EC.WFX, (1 << 24) | (0xe << 20) | 1);
        // QEMU's HVF code handles WFE traps (EC 0x01 with TI = 1), so they reach the VMM [T].
        return this.exit(EC.WFX, (1 << 24) | (0xe << 20) | 1);
      case K.SEV:
      case K.SEVL:
        this.cpu.event = true;
        return undefined;
      case K.ERET:
        if (this.el === 0) return this.undefinedInstruction();
        this.n++;
        this.eret();
        return null;
      case K.MSRI:
        return this.msrImmediate(o);
      case K.SYSREG:
        return this.sysreg(o);
      case K.TLBI:
        if (this.el === 0) return this.undefinedInstruction();
        this.gen = (this.gen + 1) | 0;
        this.cpTag = -1;
        return undefined;
      case K.IC:
        if (this.el === 0) return this.undefinedInstruction();
        return undefined;
      case K.SLOW:
        executeSlow(o.b, o.w, this);
        return undefined;
      default:
        throw new Unsupported(`internal: op kind ${o.k}`);
    }
  }

  // SlowRegs, for slow.ts.
  get(n: number, sp = false): bigint {
    const s = n === 31 ? (sp ? SLOT.SP : SLOT.ZR) : n;
    return toBig(this.r[2 * s]!, this.r[2 * s + 1]!);
  }
  set(n: number, v: bigint, sp = false): void {
    if (n === 31 && !sp) return;
    this.r[2 * n] = lo32(v);
    this.r[2 * n + 1] = hi32(v);
  }

  msrImmediate(o: Op): Arm64Stop | null | undefined {
    const imm = o.i;
    if (o.a === PSTATE_FIELD.SPSEL) {
      if (this.el === 0) return this.undefinedInstruction();
      this.storeSp();
      this.spsel = imm & 1;
      this.loadSp();
      return undefined;
    }
    if (this.el === 0 && (this.sctlr & (1 << 9)) === 0) {
      // SCTLR_EL1.UMA = 0: EL0 access to DAIF is trapped to EL1 (ISS: Op0 0, Op1 3, CRn 4, CRm = imm, Op2, Rt 31).
      const op2 = o.a === PSTATE_FIELD.DAIFSET ? 6 : 7;
      return this.fault(EC.SYSREG, (op2 << 17) | (3 << 14) | (4 << 10) | (31 << 5) | (imm << 1));
    }
    this.daif = o.a === PSTATE_FIELD.DAIFSET ? this.daif | imm : this.daif & ~imm;
    this.relimit();
    return undefined;
  }

  /** MRS/MSR (see the module notes for what traps where). */
  sysreg(o: Op): Arm64Stop | null | undefined {
    const read = o.b === 1;
    const enc = o.i;
    const rt = o.c;
    const op0 = enc >>> 14;
    const op1 = (enc >>> 11) & 7;
    const crn = (enc >>> 7) & 15;
    const crm = (enc >>> 3) & 15;
    const op2 = enc & 7;
    const iss =
      (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) | (read ? 1 : 0);
    const el0 = this.el === 0;
    const toVmm = (): Arm64Stop => this.exit(EC.SYSREG, iss);
    const toEl1 = (): null => this.fault(EC.SYSREG, iss);
    const a2 = o.a << 1;
    const readValue = (v: bigint): undefined => {
      this.r[a2] = lo32(v);
      this.r[a2 + 1] = hi32(v);
      return undefined;
    };
    const value = (): bigint => toBig(this.r[a2]!, this.r[a2 + 1]!);

    // Timers and counters (op0 3, op1 3, CRn 14).
    if (op0 === 3 && op1 === 3 && crn === 14 && crm < 8) {
      const k = this.cntkctl;
      if (crm === 0 && op2 === 1) {
        // CNTPCT_EL0: read-only; EL0 needs CNTKCTL_EL1.EL0PCTEN; HVF traps it (QEMU handles it [T]).
        if (!read) return this.undefinedInstruction();
        if (el0 && (k & 1) === 0) return toEl1();
        return toVmm();
      }
      if (crm === 2 && op2 <= 2) {
        // CNTP_TVAL/CTL/CVAL_EL0: EL0 needs CNTKCTL_EL1.EL0PTEN; the EL1 physical timer traps to the VMM
        // without an in-framework GIC (QEMU handles CTL and CVAL [T]; TVAL is behind the same control).
        if (el0 && (k & (1 << 9)) === 0) return toEl1();
        return toVmm();
      }
      if (crm === 0 && op2 === 2) {
        if (!read) return this.undefinedInstruction();
        if (el0 && (k & 2) === 0) return toEl1();
        return readValue(this.cntvct());
      }
      if (crm === 3 && op2 <= 2) {
        if (el0 && (k & (1 << 8)) === 0) return toEl1();
        const ctl = S.HV_SYS_REG_CNTV_CTL_EL0;
        const cval = S.HV_SYS_REG_CNTV_CVAL_EL0;
        if (op2 === 1) {
          if (read) return readValue((this.sysBig(ctl) & 3n) | (this.vtimerCondition() ? 4n : 0n));
          this.cpu.sys.set(ctl, value() & 3n);
        } else if (op2 === 2) {
          if (read) return readValue(this.sysBig(cval));
          this.cpu.sys.set(cval, value());
        } else {
          if (read) return readValue((this.sysBig(cval) - this.cntvct()) & 0xffff_ffffn);
          this.cpu.sys.set(
            cval,
            (this.cntvct() + BigInt.asUintN(64, BigInt.asIntN(32, value()))) & 0xffff_ffff_ffff_ffffn,
          );
        }
        this.retime();
        return undefined;
      }
      throw new Unsupported(
        `system register op0=${op0} op1=${op1} CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
      );
    }
    // PSTATE registers.
    if (op0 === 3 && crn === 4 && crm === 2 && ((op1 === 3 && op2 <= 1) || (op1 === 0 && op2 <= 2))) {
      if (op1 === 3 && op2 === 0) {
        if (read) return readValue(BigInt((this.nzcv << 28) >>> 0));
        this.nzcv = (lo32(value()) >>> 28) & 0xf;
        return undefined;
      }
      if (op1 === 3 && op2 === 1) {
        if (el0 && (this.sctlr & (1 << 9)) === 0) return toEl1();
        if (read) return readValue(BigInt(this.daif << 6));
        this.daif = (lo32(value()) >>> 6) & 0xf;
        this.relimit();
        return undefined;
      }
      if (el0) return this.undefinedInstruction();
      if (op2 === 2) {
        if (!read) return this.undefinedInstruction();
        return readValue(BigInt(this.el << 2));
      }
      if (op2 === 0) {
        if (read) return readValue(BigInt(this.spsel));
        this.storeSp();
        this.spsel = lo32(value()) & 1;
        this.loadSp();
        return undefined;
      }
      if (op2 === 1) return this.undefinedInstruction(); // DIT (3,3,4,2,5) is op1 3; (3,0,4,2,1) unallocated
    }
    // Debug and OS lock registers (op0 2).
    if (op0 === 2) {
      if (el0) return this.undefinedInstruction();
      if (op1 === 0 && crn === 1 && op2 === 4 && (crm === 0 || crm === 1 || crm === 3)) {
        // OSLAR_EL1 is write-only, OSLSR_EL1 read-only, OSDLR_EL1 read/write; all trapped to the VMM
        // (MDCR_EL2.TDOSA; QEMU's HVF code emulates them [T]).
        if ((crm === 0 && read) || (crm === 1 && !read)) return this.undefinedInstruction();
        return toVmm();
      }
      if (op1 === 0 && crn === 0) {
        const isBp = op2 >= 4;
        const isCtl = crm === 2 && (op2 === 0 || op2 === 2); // MDCCINT_EL1, MDSCR_EL1
        if (isBp || isCtl) {
          // The pretend core has 2 breakpoints and 2 watchpoints (ID_AA64DFR0_EL1): DBG*2..15 are unallocated.
          if (isBp && crm >= 2) return this.undefinedInstruction();
          if (this.ctx.trapDebugRegAccesses) return toVmm();
          if (read) return readValue(this.sysBig(enc));
          this.cpu.sys.set(enc, value());
          const why = this.debugArmed();
          return why === '' ? undefined : { kind: 'unsupported', bytes: this.wordBytes(), reason: why };
        }
      }
      throw new Unsupported(
        `system register op0=${op0} op1=${op1} CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
      );
    }
    // PMU registers: trapped to the VMM with EL2 off (hvf-facts.md §2.3 [H]). At EL0 the EL1 control
    // PMUSERENR_EL0.EN comes first; its value under HVF is the framework's [U], the model takes 0.
    if (
      op0 === 3 &&
      ((op1 === 3 && crn === 9) ||
        (op1 === 0 && crn === 9 && crm === 14) ||
        (op1 === 3 && crn === 14 && crm >= 8))
    ) {
      if (el0) return op1 === 0 ? this.undefinedInstruction() : toEl1();
      return toVmm();
    }
    // EL0 sees only the op1 = 3 space (TPIDR_EL0, TPIDRRO_EL0, and the groups above).
    if (el0) {
      if (op0 === 3 && op1 === 3 && crn === 13 && crm === 0 && (op2 === 2 || op2 === 3)) {
        if (op2 === 3 && !read) return this.undefinedInstruction();
        if (read) return readValue(this.sysBig(enc));
        this.cpu.sys.set(enc, value());
        return undefined;
      }
      if (op0 === 3 && op1 === 3)
        throw new Unsupported(
          `EL0 system register op0=3 op1=3 CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
        );
      return this.undefinedInstruction();
    }
    // GICv3 CPU interface without an in-framework GIC: trapped to the VMM (QEMU's HVF code emulates them [T]).
    if (
      op0 === 3 &&
      op1 === 0 &&
      ((crn === 4 && crm === 6 && op2 === 0) || (crn === 12 && crm >= 8 && crm <= 12))
    ) {
      const icc = iccDirection(crm, op2, crn);
      if (icc === undefined)
        throw new Unsupported(
          `system register op0=3 op1=0 CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
        );
      if ((icc === 'r' && !read) || (icc === 'w' && read)) return this.undefinedInstruction();
      return toVmm();
    }
    // Identification registers.
    if (op0 === 3 && op1 === 0 && crn === 0) {
      if (!read) return this.undefinedInstruction();
      if (crm === 0) {
        if (op2 === 0 || op2 === 5) return readValue(this.sysBig(enc));
        throw new Unsupported(`ID register op0=3 op1=0 CRn=0 CRm=0 op2=${op2} is outside the model`);
      }
      if (crm <= 7) {
        // The framework answers the ID registers of its vCPU configuration (hv_sys_reg_t); the rest of the
        // ID space traps to the VMM (QEMU reads them as 0 there [T]).
        if (this.cpu.sys.has(enc) && HELD.has(enc)) return readValue(this.sysBig(enc));
        return toVmm();
      }
    }
    if (enc === S.HV_SYS_REG_SP_EL0) {
      if (this.spsel === 0) return this.undefinedInstruction();
      const b = SLOT.SP_EL0 * 2;
      if (read) return readValue(toBig(this.r[b]!, this.r[b + 1]!));
      const v = value();
      this.r[b] = lo32(v);
      this.r[b + 1] = hi32(v);
      return undefined;
    }
    if (enc === S.HV_SYS_REG_SP_EL1) return this.undefinedInstruction();
    if (ABSENT.has(enc)) return this.undefinedInstruction();
    if (EL1_REGS.has(enc)) {
      if (read) return readValue(this.sysBig(enc));
      this.cpu.sys.set(enc, value());
      if (REFRESH.has(enc)) return this.refresh();
      return undefined;
    }
    throw new Unsupported(
      `${read ? 'MRS' : 'MSR'} of system register op0=${op0} op1=${op1} CRn=${crn} CRm=${crm} op2=${op2} is outside the model`,
    );
  }
}

/** hv_sys_reg_t values the framework holds. */
const HELD = new Set<number>(Object.values(S));
/** Registers of features the pretend core lacks (PAuth keys, SCXTNUM, TPIDR2): UNDEFINED. */
const ABSENT = new Set<number>([
  S.HV_SYS_REG_APIAKEYLO_EL1,
  S.HV_SYS_REG_APIAKEYHI_EL1,
  S.HV_SYS_REG_APIBKEYLO_EL1,
  S.HV_SYS_REG_APIBKEYHI_EL1,
  S.HV_SYS_REG_APDAKEYLO_EL1,
  S.HV_SYS_REG_APDAKEYHI_EL1,
  S.HV_SYS_REG_APDBKEYLO_EL1,
  S.HV_SYS_REG_APDBKEYHI_EL1,
  S.HV_SYS_REG_APGAKEYLO_EL1,
  S.HV_SYS_REG_APGAKEYHI_EL1,
  S.HV_SYS_REG_SCXTNUM_EL1,
  S.HV_SYS_REG_SCXTNUM_EL0,
  S.HV_SYS_REG_TPIDR2_EL0,
]);
/** EL1 registers the guest reads and writes as plain storage. */
const EL1_REGS = new Set<number>([
  S.HV_SYS_REG_SCTLR_EL1,
  S.HV_SYS_REG_CPACR_EL1,
  S.HV_SYS_REG_TTBR0_EL1,
  S.HV_SYS_REG_TTBR1_EL1,
  S.HV_SYS_REG_TCR_EL1,
  S.HV_SYS_REG_SPSR_EL1,
  S.HV_SYS_REG_ELR_EL1,
  S.HV_SYS_REG_AFSR0_EL1,
  S.HV_SYS_REG_AFSR1_EL1,
  S.HV_SYS_REG_ESR_EL1,
  S.HV_SYS_REG_FAR_EL1,
  S.HV_SYS_REG_PAR_EL1,
  S.HV_SYS_REG_MAIR_EL1,
  S.HV_SYS_REG_AMAIR_EL1,
  S.HV_SYS_REG_VBAR_EL1,
  S.HV_SYS_REG_CONTEXTIDR_EL1,
  S.HV_SYS_REG_TPIDR_EL1,
  S.HV_SYS_REG_CNTKCTL_EL1,
  S.HV_SYS_REG_CSSELR_EL1,
  S.HV_SYS_REG_TPIDR_EL0,
  S.HV_SYS_REG_TPIDRRO_EL0,
]);
/** Writes that change translation, vectors or the EL0 timer controls. */
const REFRESH = new Set<number>([
  S.HV_SYS_REG_SCTLR_EL1,
  S.HV_SYS_REG_TTBR0_EL1,
  S.HV_SYS_REG_TTBR1_EL1,
  S.HV_SYS_REG_TCR_EL1,
  S.HV_SYS_REG_MAIR_EL1,
  S.HV_SYS_REG_VBAR_EL1,
  S.HV_SYS_REG_CNTKCTL_EL1,
]);

/**
 * Direction of the GICv3 CPU interface registers (Arm GICv3 architecture): 'r' read-only, 'w'
 * write-only, 'rw'; undefined for an encoding that is not one.
 */
function iccDirection(crm: number, op2: number, crn: number): 'r' | 'w' | 'rw' | undefined {
  if (crn === 4) return 'rw'; // ICC_PMR_EL1
  switch (crm) {
    case 8: // IAR0 EOIR0 HPPIR0 BPR0 AP0R0-3
      return op2 === 0 || op2 === 2 ? 'r' : op2 === 1 ? 'w' : 'rw';
    case 9: // AP1R0-3
      return op2 <= 3 ? 'rw' : undefined;
    case 11: // DIR RPR SGI1R ASGI1R SGI0R
      return op2 === 1 || op2 >= 5 ? 'w' : op2 === 3 ? 'r' : undefined;
    case 12: // IAR1 EOIR1 HPPIR1 BPR1 CTLR SRE IGRPEN0 IGRPEN1
      return op2 === 0 || op2 === 2 ? 'r' : op2 === 1 ? 'w' : 'rw';
    default:
      return undefined;
  }
}

const ENGINES = new WeakMap<Arm64Cpu, Interp>();

/** Executes guest code; see the module notes. */
export const arm64Engine: Arm64Engine = (ctx: Arm64RunContext, budget: number): Arm64Stop => {
  let e = ENGINES.get(ctx.cpu);
  if (e === undefined) {
    e = new Interp();
    ENGINES.set(ctx.cpu, e);
  }
  return e.run(ctx, budget);
};
