/**
 * Stage-2 translation tables of the VM, built by the host in the machine's table pool and written to
 * RAM before the next run (only the table pages that changed).
 *
 * Format: VMSAv8-64 stage 2, 4 KiB or 16 KiB granule (Arm ARM D8, "The AArch64 Virtual Memory System
 * Architecture"): only page descriptors at level 3, so a mapping's permissions can change page by
 * page and the fault level of an access says how deep the walk got. Permissions: S2AP[0] (bit 6)
 * read, S2AP[1] (bit 7) write, XN (bit 54) execute-never; a mapping without any permission keeps a
 * valid descriptor, so every access to it is a permission fault.
 * @module
 */
import { RAM_BASE, TABLE_POOL_OFFSET, TABLE_POOL_SIZE } from './abi.js';

const VALID_TABLE = 0b11n;
const VALID_PAGE = 0b11n;
const AF = 1n << 10n;
const SH_INNER = 3n << 8n;
/** MemAttr = 0b1111: Normal, inner and outer write-back cacheable. */
const MEMATTR_NORMAL_WB = 0b1111n << 2n;
const S2AP_R = 1n << 6n;
const S2AP_W = 1n << 7n;
const XN = 1n << 54n;
const OA_MASK = 0x0000_ffff_ffff_f000n;

/** What a geometry needs: granule and IPA size. */
export interface Stage2Geometry {
  /** 4096 or 16384. */
  readonly granule: number;
  /** IPA size in bits. */
  readonly ipaBits: number;
}

/** Thrown when the table pool is full: the mapping cannot be made (HV_NO_RESOURCES). */
export class TablePoolExhausted extends Error {}

/** One table page as the host keeps it. */
interface Table {
  readonly pa: bigint;
  readonly bytes: Uint8Array;
  readonly words: BigUint64Array;
}

export class Stage2 {
  private readonly shift: number;
  private readonly bpl: number;
  /** Level of the root table (0..3) and how many entries it has (concatenated tables included). */
  readonly startLevel: number;
  private readonly rootEntries: number;
  private readonly tables = new Map<bigint, Table>();
  private readonly dirty = new Set<bigint>();
  private readonly root: Table;
  private nextFree = 0;
  /** Bumped when a valid descriptor changes (the runtime flushes TLBs when it sees a new value). */
  generation = 0n;

  constructor(readonly geometry: Stage2Geometry) {
    this.shift = geometry.granule === 4096 ? 12 : 14;
    this.bpl = this.shift - 3;
    const { level, entries } = startLevel(geometry.ipaBits, this.shift, this.bpl);
    this.startLevel = level;
    this.rootEntries = entries;
    this.root = this.allocate(Math.max(geometry.granule, entries * 8));
  }

  /** VTCR_EL2 for this geometry (Arm ARM D19.2, VTCR_EL2). */
  get vtcr(): bigint {
    const t0sz = BigInt(64 - this.geometry.ipaBits);
    // SL0: 4 KiB: 0 = level 2, 1 = level 1, 2 = level 0; 16 KiB: 0 = level 3 ... 3 = level 0.
    const sl0 = BigInt(this.shift === 12 ? 2 - this.startLevel : 3 - this.startLevel);
    const tg0 = this.shift === 12 ? 0n : 2n;
    const ps = 2n; // 40-bit physical addresses: RAM lies below 4 GiB
    return (
      (1n << 31n) | // RES1
      (ps << 16n) |
      (tg0 << 14n) |
      (3n << 12n) | // SH0 inner shareable
      (1n << 10n) | // ORGN0 write-back
      (1n << 8n) | // IRGN0 write-back
      (sl0 << 6n) |
      t0sz
    );
  }

  /** VTTBR_EL2: VMID 1, the root table. */
  get vttbr(): bigint {
    return (1n << 48n) | this.root.pa;
  }

  /** Sets the descriptors of [ipa, ipa + size) to map `pa` onwards with `flags` (HV_MEMORY_*). */
  map(ipa: bigint, pa: bigint, size: bigint, flags: number): void {
    const g = BigInt(this.geometry.granule);
    for (let off = 0n; off < size; off += g) this.setLeaf(ipa + off, pageDescriptor(pa + off, flags), true);
  }

  unmap(ipa: bigint, size: bigint): void {
    const g = BigInt(this.geometry.granule);
    for (let off = 0n; off < size; off += g) this.setLeaf(ipa + off, 0n, false);
  }

  /** New permissions for mapped pages (the caller knows the range is mapped). */
  protect(ipa: bigint, size: bigint, flags: number): void {
    const g = BigInt(this.geometry.granule);
    for (let off = 0n; off < size; off += g) {
      const leaf = this.leaf(ipa + off, false);
      if (!leaf) continue;
      const old = leaf.table.words[leaf.index] ?? 0n;
      if (old === 0n) continue;
      this.store(leaf.table, leaf.index, pageDescriptor(old & OA_MASK, flags));
    }
  }

  /** Table pages changed since the last call, as (RAM offset, bytes) pairs. */
  takeDirty(): { offset: number; bytes: Uint8Array }[] {
    const out = [...this.dirty].map((pa) => {
      const t = this.tables.get(pa) as Table;
      return { offset: Number(pa - BigInt(RAM_BASE)), bytes: t.bytes };
    });
    this.dirty.clear();
    return out;
  }

  /** Every table page (for a full rewrite). */
  allPages(): { offset: number; bytes: Uint8Array }[] {
    return [...this.tables.values()].map((t) => ({
      offset: Number(t.pa - BigInt(RAM_BASE)),
      bytes: t.bytes,
    }));
  }

  private allocate(size: number): Table {
    const align = size;
    const start = Math.ceil(this.nextFree / align) * align;
    if (start + size > TABLE_POOL_SIZE) throw new TablePoolExhausted('the stage-2 table pool is full');
    this.nextFree = start + size;
    const bytes = new Uint8Array(size);
    const t: Table = {
      pa: BigInt(RAM_BASE + TABLE_POOL_OFFSET + start),
      bytes,
      words: new BigUint64Array(bytes.buffer),
    };
    this.tables.set(t.pa, t);
    this.dirty.add(t.pa);
    return t;
  }

  private index(ipa: bigint, level: number): number {
    const lsb = BigInt(this.shift + (3 - level) * this.bpl);
    const bits = level === this.startLevel ? BigInt(Math.log2(this.rootEntries)) : BigInt(this.bpl);
    return Number((ipa >> lsb) & ((1n << bits) - 1n));
  }

  /** The level-3 table and index of `ipa`, creating intermediate tables when `create`. */
  private leaf(ipa: bigint, create: boolean): { table: Table; index: number } | undefined {
    let table = this.root;
    for (let level = this.startLevel; level < 3; level++) {
      const i = this.index(ipa, level);
      const d = table.words[i] ?? 0n;
      if ((d & 3n) === VALID_TABLE) {
        table = this.tables.get(d & OA_MASK) as Table;
        continue;
      }
      if (!create) return undefined;
      const next = this.allocate(this.geometry.granule);
      this.store(table, i, next.pa | VALID_TABLE);
      table = next;
    }
    return { table, index: this.index(ipa, 3) };
  }

  private setLeaf(ipa: bigint, desc: bigint, create: boolean): void {
    const leaf = this.leaf(ipa, create);
    if (!leaf) return;
    const old = leaf.table.words[leaf.index] ?? 0n;
    if (old === desc) return;
    this.store(leaf.table, leaf.index, desc);
  }

  private store(table: Table, index: number, desc: bigint): void {
    const old = table.words[index] ?? 0n;
    table.words[index] = desc;
    this.dirty.add(table.pa);
    // Only a descriptor that was valid can be cached in a TLB.
    if ((old & 1n) !== 0n) this.generation++;
  }
}

/**
 * The initial lookup level: the deepest one whose table (up to 16 concatenated tables at stage 2)
 * resolves the remaining IPA bits (Arm ARM D8.2, "Concatenating translation tables at the initial
 * level of stage 2").
 */
export function startLevel(ipaBits: number, shift: number, bpl: number): { level: number; entries: number } {
  for (let level = 3; level >= 0; level--) {
    const top = ipaBits - (shift + (3 - level) * bpl);
    if (top < 1) continue;
    if (top <= bpl + 4) return { level, entries: 2 ** top };
  }
  throw new RangeError(`no stage-2 layout for a ${ipaBits}-bit IPA space`);
}

/** A level-3 page descriptor for `pa` with HV_MEMORY_* `flags`. */
export function pageDescriptor(pa: bigint, flags: number): bigint {
  let d = (pa & OA_MASK) | AF | SH_INNER | MEMATTR_NORMAL_WB | VALID_PAGE;
  if (flags & 1) d |= S2AP_R;
  if (flags & 2) d |= S2AP_W;
  if (!(flags & 4)) d |= XN;
  return d;
}
