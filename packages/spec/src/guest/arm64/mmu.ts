/**
 * Stage-1 translation for guest programs that run with the MMU on: a description of the guest's own
 * page tables ({@link Arm64MmuConfig}: granule, T0SZ/T1SZ, leaf descriptors, table descriptors that
 * point where stage 2 has nothing), the bytes and register values a VMM writes to set them up
 * ({@link buildArm64Tables}), and the translation the spec predicts from the description
 * ({@link arm64Stage1}) — from the tree the descriptors form, not by reading the bytes back, so that
 * it is an implementation independent of the model's walker.
 *
 * Architecture (Arm ARM D8, VMSAv8-64, EL1&0 regime, no FEAT_LPA/LVA/HPDS/HAFDBS/PAN):
 * - VA bit 63 selects TTBR0 (VA < 2^(64−T0SZ)) or TTBR1 (VA ≥ 2^64 − 2^(64−T1SZ)); anything else, and a
 *   half disabled by EPDn, is a translation fault at level 0.
 * - Granule g bytes (4/16/64 KiB), stride log2(g) − 3 bits per level; the walk starts at level
 *   4 − ⌈(inputsize − log2 g) / stride⌉. Blocks exist at levels 1–2 (4 KiB) and 2 (16/64 KiB); level-3
 *   descriptors are pages. An invalid descriptor is a translation fault at its level.
 * - The leaf's AF = 0 is an access-flag fault (no hardware update); then AP[2:1], UXN, PXN: EL1 may
 *   write when AP[2] = 0; EL0 reads when AP[1] = 1 and writes when AP = 01; EL0 executes unless UXN,
 *   EL1 unless PXN or the page is writable at EL0. Faults are prioritised translation, access flag,
 *   permission.
 * - MAIR_EL1 attribute 0 is Normal write-back memory, 1 is Device-nGnRnE (unaligned data accesses to
 *   it are alignment faults).
 * A stage-2 fault on a descriptor read is an exit to the VMM with S1PTW = 1 (hvf-facts.md §2.8).
 * @module
 */

/** A stage-1 granule in bytes. */
export type Arm64Granule = 4096 | 16384 | 65536;

/** One leaf descriptor: [va, va + leaf size) → [oa, …) with these attributes. */
export interface Arm64S1Entry {
  readonly va: bigint;
  /** 3 for a page; 1 or 2 for a block where the granule allows one. */
  readonly level: number;
  readonly oa: bigint;
  /** AP[2:1]: 0 EL1 RW, 1 EL1+EL0 RW, 2 EL1 RO, 3 EL1+EL0 RO. */
  readonly ap: 0 | 1 | 2 | 3;
  readonly uxn: boolean;
  readonly pxn: boolean;
  /** The access flag; false makes every access an access-flag fault. */
  readonly af: boolean;
  /** MAIR index 1 (Device-nGnRnE) rather than 0 (Normal). */
  readonly device: boolean;
}

/** A table descriptor at `level` (for the block of `va` at that level) whose next-level table is at `ipa`. */
export interface Arm64S1BadTable {
  readonly va: bigint;
  readonly level: number;
  readonly ipa: bigint;
}

/** The guest's stage-1 setup. */
export interface Arm64MmuConfig {
  readonly granule: Arm64Granule;
  readonly t0sz: number;
  readonly t1sz: number;
  /** Whether TTBR1 walks are enabled (EPD1 = 0). */
  readonly ttbr1: boolean;
  /** IPA of the table area (granule aligned); the VMM writes {@link buildArm64Tables}'s bytes there. */
  readonly tableIpa: bigint;
  /** Bytes available at `tableIpa`. */
  readonly tableSize: number;
  readonly entries: readonly Arm64S1Entry[];
  readonly badTables?: readonly Arm64S1BadTable[];
}

/** MAIR_EL1: attribute 0 = 0xff (Normal, write-back), attribute 1 = 0x00 (Device-nGnRnE). */
export const ARM64_MAIR = 0xffn;
/** The model's and the prediction's PA size (ID_AA64MMFR0_EL1.PARange 40 bits; TCR_EL1.IPS = 0b010). */
export const ARM64_PA_BITS = 40;

const log2 = (g: number): number => 31 - Math.clz32(g);

/** Level geometry of one half of the VA space. */
function geometry(
  granule: Arm64Granule,
  tsz: number,
): { g: number; stride: number; inputsize: number; start: number } {
  if (!Number.isInteger(tsz) || tsz < 16 || tsz > 39) throw new RangeError(`TxSZ must be 16..39, got ${tsz}`);
  const g = log2(granule);
  const stride = g - 3;
  const inputsize = 64 - tsz;
  return { g, stride, inputsize, start: 4 - Math.ceil((inputsize - g) / stride) };
}

/** The VA span of one descriptor at `level`. */
export function arm64LevelSpan(granule: Arm64Granule, level: number): bigint {
  const g = log2(granule);
  return 1n << BigInt(g + (g - 3) * (3 - level));
}

/** Whether a leaf at `level` is allowed for the granule (no FEAT_LPA2: 4 KiB blocks at 1–2, others at 2). */
export function arm64BlockAllowed(granule: Arm64Granule, level: number): boolean {
  return level === 3 || (granule === 4096 ? level === 1 || level === 2 : level === 2);
}

/** The start level of the walk for the half holding `va`. */
export function arm64StartLevel(cfg: Arm64MmuConfig, upper: boolean): number {
  return geometry(cfg.granule, upper ? cfg.t1sz : cfg.t0sz).start;
}

const upperHalf = (va: bigint): boolean => va >> 63n === 1n;

/** Index of `va` at `level`, within the table of that level. */
function indexAt(cfg: Arm64MmuConfig, va: bigint, level: number): bigint {
  const { g, stride, inputsize, start } = geometry(cfg.granule, upperHalf(va) ? cfg.t1sz : cfg.t0sz);
  const shift = g + stride * (3 - level);
  const bits = level === start ? inputsize - shift : stride;
  return (va >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
}

/** Register values and table bytes of a configuration (what the VMM writes). */
export interface Arm64MmuSetup {
  readonly sctlr: bigint;
  readonly tcr: bigint;
  readonly mair: bigint;
  readonly ttbr0: bigint;
  readonly ttbr1: bigint;
  /** The table area's contents, written at `tableIpa` (only the bytes up to the last table used). */
  readonly bytes: Uint8Array;
}

/** TCR_EL1.TG0 / TG1 encodings of each granule. */
const TG0 = { 4096: 0n, 65536: 1n, 16384: 2n } as const;
const TG1 = { 16384: 1n, 4096: 2n, 65536: 3n } as const;

/**
 * Builds the tables of a configuration: the start table of each half, then next-level tables as the
 * entries need them, each in its own granule-sized, granule-aligned slot of the table area. Throws
 * RangeError for an invalid configuration (overlapping entries, a block where the granule has none,
 * misaligned addresses, tables that do not fit).
 */
export function buildArm64Tables(cfg: Arm64MmuConfig): Arm64MmuSetup {
  const granule = BigInt(cfg.granule);
  if (cfg.tableIpa % granule !== 0n) throw new RangeError('the table area must be granule aligned');
  const bytes = new Uint8Array(cfg.tableSize);
  let used = 0;
  const alloc = (): bigint => {
    if (used + cfg.granule > cfg.tableSize) throw new RangeError('the page tables do not fit the table area');
    const ipa = cfg.tableIpa + BigInt(used);
    used += cfg.granule;
    return ipa;
  };
  const put = (ipa: bigint, desc: bigint): void => {
    const at = Number(ipa - cfg.tableIpa);
    for (let i = 0; i < 8; i++) bytes[at + i] = Number((desc >> BigInt(8 * i)) & 0xffn);
  };
  const get = (ipa: bigint): bigint => {
    const at = Number(ipa - cfg.tableIpa);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
    return v;
  };
  const root = [alloc(), cfg.ttbr1 ? alloc() : 0n];
  /** Walks to `level` for `va`, making table descriptors on the way; returns the descriptor's IPA. */
  const slotFor = (va: bigint, level: number): bigint => {
    const upper = upperHalf(va);
    let table = root[upper ? 1 : 0]!;
    for (let l = arm64StartLevel(cfg, upper); ; l++) {
      const at = table + indexAt(cfg, va, l) * 8n;
      if (l === level) return at;
      const d = get(at);
      if (d === 0n) {
        const next = alloc();
        put(at, next | 3n);
        table = next;
      } else if (
        (d & 3n) === 3n &&
        l < 3 &&
        !cfg.badTables?.some((b) => b.level === l && sameBlock(cfg, b.va, va, l))
      )
        table = d & 0x0000_ffff_ffff_f000n & ~(granule - 1n);
      else throw new RangeError(`0x${va.toString(16)} lies under another entry at level ${l}`);
    }
  };
  for (const b of cfg.badTables ?? []) {
    if (b.level >= 3) throw new RangeError('a table descriptor needs a level below 3');
    if (b.ipa % granule !== 0n) throw new RangeError('a table address must be granule aligned');
    const at = slotFor(b.va, b.level);
    if (get(at) !== 0n) throw new RangeError('two descriptors in one slot');
    put(at, b.ipa | 3n);
  }
  for (const e of cfg.entries) {
    const span = arm64LevelSpan(cfg.granule, e.level);
    if (!arm64BlockAllowed(cfg.granule, e.level))
      throw new RangeError(`no block at level ${e.level} with this granule`);
    if (e.va % span !== 0n || e.oa % span !== 0n)
      throw new RangeError('an entry must be aligned to its span');
    if (e.oa >= 1n << BigInt(ARM64_PA_BITS)) throw new RangeError('an output address beyond the PA size');
    const at = slotFor(e.va, e.level);
    if (get(at) !== 0n) throw new RangeError('two descriptors in one slot');
    const attrs =
      1n |
      (e.level === 3 ? 2n : 0n) |
      ((e.device ? 1n : 0n) << 2n) |
      (BigInt(e.ap) << 6n) |
      (3n << 8n) |
      ((e.af ? 1n : 0n) << 10n) |
      ((e.pxn ? 1n : 0n) << 53n) |
      ((e.uxn ? 1n : 0n) << 54n);
    put(at, e.oa | attrs);
  }
  const tcr =
    BigInt(cfg.t0sz) |
    (1n << 8n) | // IRGN0: write-back walks
    (1n << 10n) | // ORGN0
    (3n << 12n) | // SH0: inner shareable
    (TG0[cfg.granule] << 14n) |
    (BigInt(cfg.t1sz) << 16n) |
    ((cfg.ttbr1 ? 0n : 1n) << 23n) | // EPD1
    (1n << 24n) |
    (1n << 26n) |
    (3n << 28n) |
    (TG1[cfg.granule] << 30n) |
    (2n << 32n); // IPS: 40 bits
  return {
    sctlr: 1n,
    tcr,
    mair: ARM64_MAIR,
    ttbr0: root[0]!,
    ttbr1: root[1]!,
    bytes: bytes.subarray(0, used),
  };
}

/** Whether `a` and `b` lie in the same descriptor span at `level` (same half). */
function sameBlock(cfg: Arm64MmuConfig, a: bigint, b: bigint, level: number): boolean {
  const span = arm64LevelSpan(cfg.granule, level);
  return upperHalf(a) === upperHalf(b) && a / span === b / span;
}

/** What stage 1 does with one access. */
export type Arm64S1Result =
  /** Translated: the IPA, whether the memory is Device, the leaf's level. */
  | { readonly kind: 'ok'; readonly ipa: bigint; readonly device: boolean }
  /** A fault the guest takes at EL1, with its fault status code (DFSC/IFSC). */
  | { readonly kind: 'fault'; readonly fsc: number }
  /** A descriptor read at `ipa` (the table walk): stage 2 decides whether it faults. */
  | { readonly kind: 'walk'; readonly ipa: bigint };

/** Fault status codes (Arm ARM ESR_ELx.DFSC): each + the level. */
export const S1_FSC = { ADDRESS_SIZE: 0x00, TRANSLATION: 0x04, ACCESS_FLAG: 0x08, PERMISSION: 0x0c } as const;

/**
 * Stage 1 for an access to `va` at EL `el` (MMU off when `cfg` is undefined: VA = IPA, data memory
 * Device; a VA beyond the PA size is an address-size fault at level 0). For a 'walk' result the caller
 * checks the descriptor address against stage 2 (readable memory: the walk goes on as the description
 * says, so {@link arm64Stage1} reports 'walk' only for a bad table descriptor's target).
 */
export function arm64Stage1(
  cfg: Arm64MmuConfig | undefined,
  va: bigint,
  access: 'read' | 'write' | 'fetch',
  el: 0 | 1,
): Arm64S1Result {
  if (cfg === undefined) {
    if (va >> BigInt(ARM64_PA_BITS) !== 0n) return { kind: 'fault', fsc: S1_FSC.ADDRESS_SIZE };
    return { kind: 'ok', ipa: va, device: access !== 'fetch' };
  }
  const upper = upperHalf(va);
  const { inputsize, start } = geometry(cfg.granule, upper ? cfg.t1sz : cfg.t0sz);
  const inRange = upper ? va >= (1n << 64n) - (1n << BigInt(inputsize)) : va < 1n << BigInt(inputsize);
  if (!inRange || (upper && !cfg.ttbr1)) return { kind: 'fault', fsc: S1_FSC.TRANSLATION };
  const all = [...cfg.entries.map((e) => ({ va: e.va, level: e.level })), ...(cfg.badTables ?? [])];
  for (let level = start; level <= 3; level++) {
    const leaf = cfg.entries.find((e) => e.level === level && sameBlock(cfg, e.va, va, level));
    if (leaf) return leafResult(leaf, va, access, el, level);
    const bad = cfg.badTables?.find((b) => b.level === level && sameBlock(cfg, b.va, va, level));
    if (bad) return { kind: 'walk', ipa: bad.ipa + indexAt(cfg, va, level + 1) * 8n };
    if (!all.some((x) => x.level > level && sameBlock(cfg, x.va, va, level)))
      return { kind: 'fault', fsc: S1_FSC.TRANSLATION + level };
  }
  throw new Error('internal: stage-1 walk past level 3');
}

function leafResult(
  e: Arm64S1Entry,
  va: bigint,
  access: 'read' | 'write' | 'fetch',
  el: 0 | 1,
  level: number,
): Arm64S1Result {
  if (!e.af) return { kind: 'fault', fsc: S1_FSC.ACCESS_FLAG + level };
  const w0 = e.ap === 1;
  const allowed =
    access === 'read'
      ? el === 1 || (e.ap & 1) === 1
      : access === 'write'
        ? el === 1
          ? (e.ap & 2) === 0
          : w0
        : el === 1
          ? !e.pxn && !w0
          : !e.uxn;
  if (access === 'fetch' && el === 0 && !e.uxn && (e.ap & 1) === 0)
    throw new RangeError('EL0 execution from memory EL0 cannot read is not predicted');
  if (!allowed) return { kind: 'fault', fsc: S1_FSC.PERMISSION + level };
  if (access === 'fetch' && e.device)
    throw new RangeError('an instruction fetch from Device memory is not predicted');
  return { kind: 'ok', ipa: e.oa + (va - e.va), device: e.device };
}
