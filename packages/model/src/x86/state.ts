/**
 * The register file of one x86 vCPU: `hv_x86_reg_t` registers and VMCS fields over one store.
 *
 * Guest state lives in one place — the {@link X86Cpu} the engine runs on, plus a VMCS field map for the
 * rest — so `hv_vcpu_read_register(HV_X86_RIP)` and `VMCS_GUEST_RIP` are the same value, as are the
 * segment selectors, CR0/CR3/CR4, RSP, RFLAGS, descriptor tables, LDTR/TR and DR7 (the XNU test mixes both
 * interfaces on the same vCPU, hvf-facts.md §1.8 [T]).
 *
 * Widths: VMCS fields keep their Intel width (a write is truncated, hvf-facts.md §1.4). Registers round-trip
 * all 64 bits (the model README's choices: a register reads back all 64 bits written); when a register is stored in
 * a narrower field (a selector, a limit, access rights), the full value written through the register API is
 * remembered and returned as long as the field still holds its truncation — i.e. until the guest or a VMCS
 * write changes the field.
 *
 * Initial state (the model's host description; Apple documents none): the Intel "state after INIT" (SDM
 * Vol. 3 §10.1.1) with the reset vector — RIP 0xfff0, CS selector 0xf000 base 0xffff0000, data segments
 * base 0 limit 0xffff AR 0x93, CS AR 0x9b, LDTR AR 0x82, TR AR 0x8b, GDTR/IDTR limit 0xffff, RFLAGS 0x2,
 * DR6 0xffff0ff0, DR7 0x400, XCR0 1 — except CR0 = 0x20 (NE, required by VMX operation: CR0_FIXED0) where
 * INIT would give 0x60000010. Every other field, including all controls, reads 0 until written.
 * @module
 */
import { HV, HV_X86_REG as R, type Result, VMCS, vmcsFieldWidth } from '@hvspec/spec';
import type { X86Cpu, X86Segment } from '../engine.js';

type SegName = 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss';

/**
 * A VMCS field held in a property of the register file rather than in the field map: in the engine's CPU
 * object, or among the exit-information fields.
 */
interface Slot {
  get(file: X86RegisterFile): bigint;
  set(file: X86RegisterFile, value: bigint): void;
}

/**
 * Slots by field encoding, as a dense table: VMCS encodings are below 0x8000 (Intel SDM Vol. 3 Appendix
 * B: bits 31:15 are 0), and every VMCS read and write looks its field up (a Map lookup per call was a
 * measurable part of the exit round trip).
 */
const SLOTS = new Array<Slot | undefined>(0x8000).fill(undefined);
function slot(
  field: number,
  get: (file: X86RegisterFile) => bigint,
  set: (file: X86RegisterFile, value: bigint) => void,
): void {
  SLOTS[field] = { get, set };
}
function slotOf(field: number): Slot | undefined {
  return field < SLOTS.length ? SLOTS[field] : undefined;
}

/** Base and limit slots of a descriptor-table register (GDTR, IDTR; also the base and limit of a segment). */
function tableSlots(
  table: (file: X86RegisterFile) => { base: bigint; limit: number },
  base: number,
  limit: number,
): void {
  slot(
    base,
    (f) => table(f).base,
    (f, v) => (table(f).base = v),
  );
  slot(
    limit,
    (f) => BigInt(table(f).limit),
    (f, v) => (table(f).limit = Number(v)),
  );
}

/** The four slots of a segment register (the six data/code segments, LDTR, TR). */
function segmentSlots(
  seg: (file: X86RegisterFile) => X86Segment,
  selector: number,
  base: number,
  limit: number,
  ar: number,
): void {
  slot(
    selector,
    (f) => BigInt(seg(f).selector),
    (f, v) => (seg(f).selector = Number(v)),
  );
  tableSlots(seg, base, limit);
  slot(
    ar,
    (f) => BigInt(seg(f).ar),
    (f, v) => (seg(f).ar = Number(v)),
  );
}

const SEGMENT_FIELDS: readonly [SegName, number, number, number, number][] = [
  // name, selector, base, limit, access rights
  ['es', VMCS.VMCS_GUEST_ES, VMCS.VMCS_GUEST_ES_BASE, VMCS.VMCS_GUEST_ES_LIMIT, VMCS.VMCS_GUEST_ES_AR],
  ['cs', VMCS.VMCS_GUEST_CS, VMCS.VMCS_GUEST_CS_BASE, VMCS.VMCS_GUEST_CS_LIMIT, VMCS.VMCS_GUEST_CS_AR],
  ['ss', VMCS.VMCS_GUEST_SS, VMCS.VMCS_GUEST_SS_BASE, VMCS.VMCS_GUEST_SS_LIMIT, VMCS.VMCS_GUEST_SS_AR],
  ['ds', VMCS.VMCS_GUEST_DS, VMCS.VMCS_GUEST_DS_BASE, VMCS.VMCS_GUEST_DS_LIMIT, VMCS.VMCS_GUEST_DS_AR],
  ['fs', VMCS.VMCS_GUEST_FS, VMCS.VMCS_GUEST_FS_BASE, VMCS.VMCS_GUEST_FS_LIMIT, VMCS.VMCS_GUEST_FS_AR],
  ['gs', VMCS.VMCS_GUEST_GS, VMCS.VMCS_GUEST_GS_BASE, VMCS.VMCS_GUEST_GS_LIMIT, VMCS.VMCS_GUEST_GS_AR],
];
for (const [name, sel, base, limit, ar] of SEGMENT_FIELDS) {
  segmentSlots((f) => f.cpu.seg[name], sel, base, limit, ar);
}
segmentSlots(
  (f) => f.cpu.ldtr,
  VMCS.VMCS_GUEST_LDTR,
  VMCS.VMCS_GUEST_LDTR_BASE,
  VMCS.VMCS_GUEST_LDTR_LIMIT,
  VMCS.VMCS_GUEST_LDTR_AR,
);
segmentSlots(
  (f) => f.cpu.tr,
  VMCS.VMCS_GUEST_TR,
  VMCS.VMCS_GUEST_TR_BASE,
  VMCS.VMCS_GUEST_TR_LIMIT,
  VMCS.VMCS_GUEST_TR_AR,
);
tableSlots((f) => f.cpu.gdtr, VMCS.VMCS_GUEST_GDTR_BASE, VMCS.VMCS_GUEST_GDTR_LIMIT);
tableSlots((f) => f.cpu.idtr, VMCS.VMCS_GUEST_IDTR_BASE, VMCS.VMCS_GUEST_IDTR_LIMIT);

// Single-property slots, one row each. Each row has closures of its own, not one shared `f.cpu[key]`: a
// property access with a varying key is a slow (megamorphic) lookup. The exit-information fields are the
// ones every exit writes (X86RegisterFile.exit); the CR0/CR4 masks and shadows are the bigint controls.
const PROPERTY_SLOTS: readonly [number, Slot['get'], Slot['set']][] = [
  [VMCS.VMCS_GUEST_CR0, (f) => f.cpu.cr0, (f, v) => (f.cpu.cr0 = v)],
  [VMCS.VMCS_GUEST_CR3, (f) => f.cpu.cr3, (f, v) => (f.cpu.cr3 = v)],
  [VMCS.VMCS_GUEST_CR4, (f) => f.cpu.cr4, (f, v) => (f.cpu.cr4 = v)],
  [VMCS.VMCS_GUEST_RIP, (f) => f.cpu.rip, (f, v) => (f.cpu.rip = v)],
  [VMCS.VMCS_GUEST_RFLAGS, (f) => f.cpu.rflags, (f, v) => (f.cpu.rflags = v)],
  [VMCS.VMCS_GUEST_RSP, (f) => f.cpu.gpr[4] as bigint, (f, v) => (f.cpu.gpr[4] = v)],
  [VMCS.VMCS_GUEST_IA32_EFER, (f) => f.cpu.efer, (f, v) => (f.cpu.efer = v)],
  [VMCS.VMCS_GUEST_DR7, (f) => f.cpu.dr[7] as bigint, (f, v) => (f.cpu.dr[7] = v)],
  [VMCS.VMCS_RO_EXIT_REASON, (f) => f.exit.reason, (f, v) => (f.exit.reason = v)],
  [VMCS.VMCS_RO_EXIT_QUALIFIC, (f) => f.exit.qualification, (f, v) => (f.exit.qualification = v)],
  [VMCS.VMCS_RO_VMEXIT_INSTR_LEN, (f) => f.exit.instrLen, (f, v) => (f.exit.instrLen = v)],
  [VMCS.VMCS_RO_VMEXIT_IRQ_INFO, (f) => f.exit.irqInfo, (f, v) => (f.exit.irqInfo = v)],
  [VMCS.VMCS_RO_IDT_VECTOR_INFO, (f) => f.exit.idtVectorInfo, (f, v) => (f.exit.idtVectorInfo = v)],
  [VMCS.VMCS_CTRL_CR0_MASK, (f) => f.cpu.ctl.cr0Mask, (f, v) => (f.cpu.ctl.cr0Mask = v)],
  [VMCS.VMCS_CTRL_CR0_SHADOW, (f) => f.cpu.ctl.cr0Shadow, (f, v) => (f.cpu.ctl.cr0Shadow = v)],
  [VMCS.VMCS_CTRL_CR4_MASK, (f) => f.cpu.ctl.cr4Mask, (f, v) => (f.cpu.ctl.cr4Mask = v)],
  [VMCS.VMCS_CTRL_CR4_SHADOW, (f) => f.cpu.ctl.cr4Shadow, (f, v) => (f.cpu.ctl.cr4Shadow = v)],
];
for (const [field, get, set] of PROPERTY_SLOTS) slot(field, get, set);

// The 32-bit controls the engine consults (X86Controls), held as numbers.
for (const [field, key] of [
  [VMCS.VMCS_CTRL_CPU_BASED, 'cpuBased'],
  [VMCS.VMCS_CTRL_CPU_BASED2, 'cpuBased2'],
  [VMCS.VMCS_CTRL_VMENTRY_CONTROLS, 'entry'],
  [VMCS.VMCS_CTRL_EXC_BITMAP, 'excBitmap'],
  [VMCS.VMCS_CTRL_PF_ERROR_MASK, 'pfMask'],
  [VMCS.VMCS_CTRL_PF_ERROR_MATCH, 'pfMatch'],
  [VMCS.VMCS_CTRL_CR3_COUNT, 'cr3Count'],
] as const) {
  slot(
    field,
    (f) => BigInt(f.cpu.ctl[key] >>> 0),
    (f, v) => (f.cpu.ctl[key] = Number(v & 0xffff_ffffn)),
  );
}
const CR3_TARGETS = [
  VMCS.VMCS_CTRL_CR3_VALUE0,
  VMCS.VMCS_CTRL_CR3_VALUE1,
  VMCS.VMCS_CTRL_CR3_VALUE2,
  VMCS.VMCS_CTRL_CR3_VALUE3,
];
for (const [i, field] of CR3_TARGETS.entries()) {
  slot(
    field,
    (f) => f.cpu.ctl.cr3Targets[i] as bigint,
    (f, v) => (f.cpu.ctl.cr3Targets[i] = v),
  );
}

/** `hv_x86_reg_t` GPRs → index in Intel encoding order (RAX RCX RDX RBX RSP RBP RSI RDI R8..R15). */
const GPR_INDEX = new Map<number, number>(
  [
    R.HV_X86_RAX,
    R.HV_X86_RCX,
    R.HV_X86_RDX,
    R.HV_X86_RBX,
    R.HV_X86_RSP,
    R.HV_X86_RBP,
    R.HV_X86_RSI,
    R.HV_X86_RDI,
    R.HV_X86_R8,
    R.HV_X86_R9,
    R.HV_X86_R10,
    R.HV_X86_R11,
    R.HV_X86_R12,
    R.HV_X86_R13,
    R.HV_X86_R14,
    R.HV_X86_R15,
  ].map((reg, index) => [reg, index]),
);

/** Registers without a VMCS field that live in the engine's CPU object: CR2 and DR0–DR6. */
const CPU_REGS = new Map<number, { get: (c: X86Cpu) => bigint; set: (c: X86Cpu, v: bigint) => void }>([
  [R.HV_X86_CR2, { get: (c) => c.cr2, set: (c, v) => (c.cr2 = v) }],
  ...[R.HV_X86_DR0, R.HV_X86_DR1, R.HV_X86_DR2, R.HV_X86_DR3, R.HV_X86_DR4, R.HV_X86_DR5, R.HV_X86_DR6].map(
    (reg, i) =>
      [reg, { get: (c: X86Cpu) => c.dr[i] as bigint, set: (c: X86Cpu, v: bigint) => (c.dr[i] = v) }] as const,
  ),
]);

/** Registers that are views of a VMCS guest-state field. */
const REG_FIELD = new Map<number, number>([
  [R.HV_X86_RIP, VMCS.VMCS_GUEST_RIP],
  [R.HV_X86_RFLAGS, VMCS.VMCS_GUEST_RFLAGS],
  [R.HV_X86_CS, VMCS.VMCS_GUEST_CS],
  [R.HV_X86_SS, VMCS.VMCS_GUEST_SS],
  [R.HV_X86_DS, VMCS.VMCS_GUEST_DS],
  [R.HV_X86_ES, VMCS.VMCS_GUEST_ES],
  [R.HV_X86_FS, VMCS.VMCS_GUEST_FS],
  [R.HV_X86_GS, VMCS.VMCS_GUEST_GS],
  [R.HV_X86_IDT_BASE, VMCS.VMCS_GUEST_IDTR_BASE],
  [R.HV_X86_IDT_LIMIT, VMCS.VMCS_GUEST_IDTR_LIMIT],
  [R.HV_X86_GDT_BASE, VMCS.VMCS_GUEST_GDTR_BASE],
  [R.HV_X86_GDT_LIMIT, VMCS.VMCS_GUEST_GDTR_LIMIT],
  [R.HV_X86_LDTR, VMCS.VMCS_GUEST_LDTR],
  [R.HV_X86_LDT_BASE, VMCS.VMCS_GUEST_LDTR_BASE],
  [R.HV_X86_LDT_LIMIT, VMCS.VMCS_GUEST_LDTR_LIMIT],
  [R.HV_X86_LDT_AR, VMCS.VMCS_GUEST_LDTR_AR],
  [R.HV_X86_TR, VMCS.VMCS_GUEST_TR],
  [R.HV_X86_TSS_BASE, VMCS.VMCS_GUEST_TR_BASE],
  [R.HV_X86_TSS_LIMIT, VMCS.VMCS_GUEST_TR_LIMIT],
  [R.HV_X86_TSS_AR, VMCS.VMCS_GUEST_TR_AR],
  [R.HV_X86_CR0, VMCS.VMCS_GUEST_CR0],
  [R.HV_X86_CR3, VMCS.VMCS_GUEST_CR3],
  [R.HV_X86_CR4, VMCS.VMCS_GUEST_CR4],
  [R.HV_X86_DR7, VMCS.VMCS_GUEST_DR7],
]);

const MASK16 = 0xffffn;
const MASK32 = 0xffff_ffffn;
function truncate(value: bigint, width: 16 | 32 | 64): bigint {
  return width === 64 ? value : value & (width === 16 ? MASK16 : MASK32);
}

function segment(selector: number, base: bigint, limit: number, ar: number) {
  return { selector, base, limit, ar };
}

/**
 * A CPU in the model's initial state (the module comment): Intel's state after INIT with CR0 = 0x20,
 * DR6 0xffff0ff0, DR7 0x400, descriptor-table limits 0xffff, every control 0.
 */
export function x86ResetCpu(): X86Cpu {
  return {
    gpr: Array.from({ length: 16 }, () => 0n),
    rip: 0xfff0n,
    rflags: 0x2n,
    cr0: 0x20n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
    dr: [0n, 0n, 0n, 0n, 0n, 0n, 0xffff_0ff0n, 0x400n],
    seg: {
      cs: segment(0xf000, 0xffff_0000n, 0xffff, 0x9b),
      ds: segment(0, 0n, 0xffff, 0x93),
      es: segment(0, 0n, 0xffff, 0x93),
      fs: segment(0, 0n, 0xffff, 0x93),
      gs: segment(0, 0n, 0xffff, 0x93),
      ss: segment(0, 0n, 0xffff, 0x93),
    },
    ldtr: segment(0, 0n, 0xffff, 0x82),
    tr: segment(0, 0n, 0xffff, 0x8b),
    gdtr: { base: 0n, limit: 0xffff },
    idtr: { base: 0n, limit: 0xffff },
    ctl: {
      cpuBased: 0,
      cpuBased2: 0,
      entry: 0,
      excBitmap: 0,
      pfMask: 0,
      pfMatch: 0,
      cr3Count: 0,
      cr3Targets: [0n, 0n, 0n, 0n],
      cr0Mask: 0n,
      cr0Shadow: 0n,
      cr4Mask: 0n,
      cr4Shadow: 0n,
    },
  };
}

/** The exit-information fields {@link X86RegisterFile.setExit} writes on every exit. */
interface ExitInformation {
  reason: bigint;
  qualification: bigint;
  instrLen: bigint;
  irqInfo: bigint;
  idtVectorInfo: bigint;
}

/**
 * Entries of the hot-read table (a power of two). The four fields an exit handler reads after every exit
 * (exit reason, qualification, instruction length, RIP) have distinct low bits, so each has an entry.
 */
export const HOT_READS = 64;
/** Fills the hot-read table's results: never returned, as no entry holding it is marked valid. */
const NO_HOT_READ: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: -1n });
const HOT_RIP = VMCS.VMCS_GUEST_RIP & (HOT_READS - 1);
const HOT_REASON = VMCS.VMCS_RO_EXIT_REASON & (HOT_READS - 1);
const HOT_QUALIFICATION = VMCS.VMCS_RO_EXIT_QUALIFIC & (HOT_READS - 1);
const HOT_INSTR_LEN = VMCS.VMCS_RO_VMEXIT_INSTR_LEN & (HOT_READS - 1);

/** One vCPU's registers and VMCS. */
export class X86RegisterFile {
  /**
   * The hot-read table: `hotRead[i]` is the `hv_vmx_vcpu_read_vmcs` result of field `hotField[i]` (-1:
   * the entry is empty), indexed by the field's low bits. An exit round trip reads the same fields after
   * every exit; serving them from here keeps that read small enough for V8 to inline into the VMM's loop.
   * Filled only by {@link offerExitReads} after an exit; every change of a field empties its entry
   * (writeField, setExit, and {@link dropHotRip} when a run starts: the engine changes RIP directly).
   */
  readonly hotField = new Int32Array(HOT_READS).fill(-1);
  readonly hotRead: Result<bigint>[] = new Array<Result<bigint>>(HOT_READS).fill(NO_HOT_READ);
  /**
   * Bumped by every write of a field or register other than RIP: the model lets the engine repeat a run
   * only while it is unchanged (X86Engine.repeat).
   */
  version = 0;
  /**
   * What {@link setTaggedExit} last recorded, while the exit fields and their hot-read entries still hold
   * it (setExit and writeField clear it): the same exit again then needs only RIP's entry.
   */
  private exitTag: object | undefined;
  /** The last RIP result {@link offerExitReads} made (an exit loop exits at the same RIP every time). */
  private ripRead: Result<bigint> = NO_HOT_READ;
  readonly cpu: X86Cpu;
  /**
   * The exit-information fields every exit writes, as properties rather than in `vmcs`: five Map writes
   * per exit were a measurable part of the model's exit round trip. They read 0 until the first exit.
   */
  readonly exit: ExitInformation = {
    reason: 0n,
    qualification: 0n,
    instrLen: 0n,
    irqInfo: 0n,
    idtVectorInfo: 0n,
  };
  /** Fields not held in `cpu` or `exit` (controls, other guest state, other exit information). */
  private readonly vmcs = new Map<number, bigint>();
  /** Registers without a VMCS field and not in the CPU object (CR1, TPR, XCR0). */
  private readonly own = new Map<number, bigint>();
  /** Full values written through the register API into narrower fields. */
  private readonly wide = new Map<number, bigint>();

  constructor() {
    this.cpu = x86ResetCpu();
    this.own.set(R.HV_X86_XCR0, 1n);
  }

  /** Reads a VMCS field (the caller has checked that the field is accessible). */
  readField(field: number): bigint {
    // The fields an exit handler reads after every exit, before the table: a call through the table's
    // closures is polymorphic at this one call site, and was the costliest line of a VMCS read.
    if (field === VMCS.VMCS_RO_EXIT_REASON) return this.exit.reason;
    if (field === VMCS.VMCS_RO_VMEXIT_INSTR_LEN) return this.exit.instrLen;
    if (field === VMCS.VMCS_GUEST_RIP) return this.cpu.rip;
    if (field === VMCS.VMCS_RO_EXIT_QUALIFIC) return this.exit.qualification;
    const s = slotOf(field);
    return s !== undefined ? s.get(this) : (this.vmcs.get(field) ?? 0n);
  }

  /** Writes a VMCS field, truncated to its width (the caller has checked that it is writable). */
  writeField(field: number, value: bigint): void {
    // RIP, the field a VMM writes after nearly every exit, is natural width: no truncation, no table.
    this.hotField[field & (HOT_READS - 1)] = -1;
    if (field === VMCS.VMCS_GUEST_RIP) {
      this.cpu.rip = value;
      return;
    }
    this.version++;
    this.exitTag = undefined;
    const v = truncate(value, vmcsFieldWidth(field));
    const s = slotOf(field);
    if (s !== undefined) s.set(this, v);
    else this.vmcs.set(field, v);
  }

  /**
   * Records the exit-information fields of one exit (the run loop's hot path: no width or slot lookups;
   * every value given already fits its field). Both event-information fields are left invalid (bit 31
   * clear): no exit the model produces delivers or interrupts an event.
   */
  setExit(reason: bigint, qualification: bigint, instrLen: bigint): void {
    const hot = this.hotField;
    hot[HOT_REASON] = -1;
    hot[HOT_QUALIFICATION] = -1;
    hot[HOT_INSTR_LEN] = -1;
    this.exitTag = undefined;
    const e = this.exit;
    e.reason = reason;
    e.qualification = qualification;
    e.instrLen = instrLen;
    e.irqInfo = 0n;
    e.idtVectorInfo = 0n;
  }

  /** `writeField(VMCS_GUEST_RIP, value)`, small enough to inline into the VMM's write of RIP. */
  writeRip(value: bigint): void {
    this.hotField[HOT_RIP] = -1;
    this.cpu.rip = value;
  }

  /**
   * Empties RIP's hot-read entry when a run starts: the engine changes RIP directly. The exit fields
   * change only through setExit and writeField, which empty theirs.
   */
  dropHotRip(): void {
    this.hotField[HOT_RIP] = -1;
  }

  /**
   * {@link setExit} and {@link offerExitReads} for an exit identified by `tag` (an object standing for
   * exactly these values): when the fields still hold the exit last recorded with the same tag, only
   * RIP's read result is renewed.
   */
  setTaggedExit(
    tag: object,
    reason: bigint,
    qualification: bigint,
    instrLen: bigint,
    reasonRead: Result<bigint>,
    qualificationRead: Result<bigint>,
    instrLenRead: Result<bigint>,
  ): void {
    if (this.exitTag !== tag) {
      this.setExit(reason, qualification, instrLen);
      this.offerExitReads(reasonRead, qualificationRead, instrLenRead);
      this.exitTag = tag;
      return;
    }
    this.offerRip();
  }

  private offerRip(): void {
    const rip = this.cpu.rip;
    let ripRead = this.ripRead;
    if (ripRead.value !== rip) {
      ripRead = Object.freeze({ ret: HV.HV_SUCCESS, value: rip });
      this.ripRead = ripRead;
    }
    this.hotField[HOT_RIP] = VMCS.VMCS_GUEST_RIP;
    this.hotRead[HOT_RIP] = ripRead;
  }

  /**
   * After {@link setExit}: the read results of the exit fields just written (the caller's, which must
   * hold the values setExit was given) and of RIP, into the hot-read table.
   */
  offerExitReads(reason: Result<bigint>, qualification: Result<bigint>, instrLen: Result<bigint>): void {
    this.offerRip();
    const hot = this.hotField;
    const read = this.hotRead;
    hot[HOT_REASON] = VMCS.VMCS_RO_EXIT_REASON;
    read[HOT_REASON] = reason;
    hot[HOT_QUALIFICATION] = VMCS.VMCS_RO_EXIT_QUALIFIC;
    read[HOT_QUALIFICATION] = qualification;
    hot[HOT_INSTR_LEN] = VMCS.VMCS_RO_VMEXIT_INSTR_LEN;
    read[HOT_INSTR_LEN] = instrLen;
  }

  /** Reads an `hv_x86_reg_t` (0 ≤ reg < HV_X86_REGISTERS_MAX). */
  readRegister(reg: number): bigint {
    const g = GPR_INDEX.get(reg);
    if (g !== undefined) return this.cpu.gpr[g] as bigint;
    const c = CPU_REGS.get(reg);
    if (c !== undefined) return c.get(this.cpu);
    const field = REG_FIELD.get(reg);
    if (field === undefined) return this.own.get(reg) ?? 0n;
    const current = this.readField(field);
    const full = this.wide.get(reg);
    return full !== undefined && truncate(full, vmcsFieldWidth(field)) === current ? full : current;
  }

  /** Writes an `hv_x86_reg_t`; all 64 bits round-trip. */
  writeRegister(reg: number, value: bigint): void {
    if (reg !== R.HV_X86_RIP) this.version++;
    const g = GPR_INDEX.get(reg);
    if (g !== undefined) {
      this.cpu.gpr[g] = value;
      return;
    }
    const c = CPU_REGS.get(reg);
    if (c !== undefined) {
      c.set(this.cpu, value);
      return;
    }
    const field = REG_FIELD.get(reg);
    if (field === undefined) {
      this.own.set(reg, value);
      return;
    }
    if (vmcsFieldWidth(field) < 64) this.wide.set(reg, value);
    this.writeField(field, value);
  }
}
