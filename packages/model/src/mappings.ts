/**
 * Guest-physical mappings of one address space (the arm64 VM's stage 2, or one x86 EPT space) and the
 * {@link GuestMemory} view the guest interpreters use.
 *
 * A mapping table is a sorted list of disjoint ranges, each backed by a slice of a host buffer and
 * carrying `hv_memory_flags_t`. `unmap` and `protect` act on exactly the range they are given, splitting
 * mappings at its ends (hvf-facts.md §2.3: "protect may apply to a whole region or a subregion" [H]).
 * Alignment and argument checks belong to the API layer; this file assumes page-aligned, non-empty ranges.
 * @module
 */
import { HV_MEMORY } from '@hvspec/spec';
import type { AccessKind, GuestMemory, GuestSpan, MemFault } from './engine.js';

/** One contiguous mapping: guest range [start, end) → `bytes[offset …]`. */
export interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly bytes: Uint8Array;
  /** Byte offset of `start` inside `bytes`. */
  readonly offset: number;
  readonly flags: number;
  /**
   * `start` and `end` as numbers (rounded above 2^53, which keeps every comparison with an address below
   * 2^53 exact), and `end - start` (exact: a mapping lies in one host buffer). The interpreters' hot
   * paths compare addresses as numbers: BigInt arithmetic costs tens of ns per operation.
   */
  readonly startN: number;
  readonly endN: number;
  readonly size: number;
}

function mapping(start: bigint, end: bigint, bytes: Uint8Array, offset: number, flags: number): Mapping {
  return {
    start,
    end,
    bytes,
    offset,
    flags,
    startN: Number(start),
    endN: Number(end),
    size: Number(end - start),
  };
}

/**
 * Mappings per chunk: a chunk splits in two when it grows past twice this. Inserting or removing one
 * mapping moves at most one chunk's entries and the chunk list, so 100,000 single-page mappings map and
 * unmap in well under a second (one flat sorted array moved every entry behind the change: 100,000 took
 * minutes).
 */
const CHUNK = 512;

/**
 * A sorted, disjoint set of mappings, kept as a two-level B-tree: a list of sorted chunks. Every lookup
 * is two binary searches; `unmap` and `protect` touch only the mappings their range intersects.
 */
export class MappingTable {
  private chunks: Mapping[][] = [];
  /** Bumped by every change of the mappings (GuestMemory.generation). */
  generation = 0;

  /** `chunk`: mappings per chunk (tests make it small so that chunks split and empty often). */
  constructor(private readonly chunk = CHUNK) {}
  /** The mapping the last lookup hit: guest code mostly touches the same region twice in a row. */
  private last: Mapping | undefined;

  /** Every mapping, in address order (a copy). */
  mappings(): readonly Mapping[] {
    return this.chunks.flat();
  }

  /** True when some mapping intersects [start, end). */
  overlaps(start: bigint, end: bigint): boolean {
    const [ci, i] = this.seek(start);
    const m = this.chunks[ci]?.[i];
    return m !== undefined && m.start < end;
  }

  /** True when every byte of [start, end) is mapped (possibly by several mappings). */
  covers(start: bigint, end: bigint): boolean {
    let cursor = start;
    let [ci, i] = this.seek(start);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci]!;
      for (; i < c.length; i++) {
        const m = c[i]!;
        if (m.start > cursor) return false;
        cursor = m.end;
        if (cursor >= end) return true;
      }
    }
    return cursor >= end;
  }

  /** Adds a mapping; the caller has checked that it overlaps nothing. */
  add(start: bigint, end: bigint, bytes: Uint8Array, offset: number, flags: number): void {
    const m = mapping(start, end, bytes, offset, flags);
    this.last = undefined;
    this.generation++;
    if (this.chunks.length === 0) {
      this.chunks.push([m]);
      return;
    }
    // Before the first mapping that ends above `start` (it lies wholly after the new one), or last.
    let [ci, i] = this.seek(start);
    if (ci === this.chunks.length) {
      ci--;
      i = this.chunks[ci]!.length;
    }
    const c = this.chunks[ci]!;
    c.splice(i, 0, m);
    if (c.length > 2 * this.chunk) this.chunks.splice(ci + 1, 0, c.splice(this.chunk));
  }

  /** Removes every mapped byte of [start, end), keeping the parts of mappings outside it. */
  remove(start: bigint, end: bigint): void {
    this.rebuild(start, end, () => undefined);
  }

  /** Replaces the flags of exactly [start, end); the caller has checked that the range is covered. */
  protect(start: bigint, end: bigint, flags: number): void {
    this.rebuild(start, end, (m) => mapping(m.start, m.end, m.bytes, m.offset, flags));
  }

  /** Drops everything. */
  clear(): void {
    this.chunks = [];
    this.last = undefined;
    this.generation++;
  }

  /** The mapping containing `gpa`, if any. */
  find(gpa: bigint): Mapping | undefined {
    const last = this.last;
    if (last !== undefined && gpa >= last.start && gpa < last.end) return last;
    const [ci, i] = this.seek(gpa);
    const m = this.chunks[ci]?.[i];
    if (m === undefined || m.start > gpa) return undefined;
    this.last = m;
    return m;
  }

  /** {@link find} for an address given as a number below 2^53 (the interpreters' fast path). */
  findAt(gpa: number): Mapping | undefined {
    const last = this.last;
    if (last !== undefined && gpa >= last.startN && gpa < last.endN) return last;
    const chunks = this.chunks;
    const c = chunks[firstEndingAbove(chunks.length, (k) => chunks[k]![chunks[k]!.length - 1]!.endN > gpa)];
    if (c === undefined) return undefined;
    const m = c[firstEndingAbove(c.length, (k) => c[k]!.endN > gpa)];
    if (m === undefined || m.startN > gpa) return undefined;
    this.last = m;
    return m;
  }

  /**
   * Where the first mapping that ends above `addr` is: [chunk, index], or [chunks.length, 0] when every
   * mapping ends at or below it. Mappings are disjoint and sorted, so their ends are sorted too.
   */
  private seek(addr: bigint): [number, number] {
    const chunks = this.chunks;
    const ci = firstEndingAbove(chunks.length, (k) => chunks[k]![chunks[k]!.length - 1]!.end > addr);
    const c = chunks[ci];
    if (c === undefined) return [ci, 0];
    return [ci, firstEndingAbove(c.length, (k) => c[k]!.end > addr)];
  }

  /**
   * Splits every mapping that intersects [start, end) into the part before, the part inside and the
   * part after; `inside` decides what becomes of the middle part (kept changed, or dropped). The parts
   * of a chunk's mappings take their place in that chunk, so the order holds.
   */
  private rebuild(start: bigint, end: bigint, inside: (part: Mapping) => Mapping | undefined): void {
    let [ci, i] = this.seek(start);
    while (ci < this.chunks.length) {
      const c = this.chunks[ci]!;
      const parts: Mapping[] = [];
      let j = i;
      for (; j < c.length && c[j]!.start < end; j++) {
        const m = c[j]!;
        if (m.start < start) parts.push(mapping(m.start, start, m.bytes, m.offset, m.flags));
        const lo = m.start > start ? m.start : start;
        const hi = m.end < end ? m.end : end;
        const middle = inside(mapping(lo, hi, m.bytes, m.offset + Number(lo - m.start), m.flags));
        if (middle !== undefined) parts.push(middle);
        if (m.end > end) parts.push(mapping(end, m.end, m.bytes, m.offset + Number(end - m.start), m.flags));
      }
      const toChunkEnd = j === c.length;
      c.splice(i, j - i, ...parts);
      if (c.length === 0) {
        this.chunks.splice(ci, 1);
      } else if (c.length > 2 * this.chunk) {
        this.chunks.splice(ci + 1, 0, c.splice(this.chunk));
        ci += 2;
      } else {
        ci++;
      }
      if (!toChunkEnd) break;
      i = 0;
    }
    this.last = undefined;
    this.generation++;
  }
}

const NEED: Record<AccessKind, number> = {
  read: HV_MEMORY.READ,
  write: HV_MEMORY.WRITE,
  fetch: HV_MEMORY.EXEC,
};
const ADDRESS_MASK = 0xffff_ffff_ffff_ffffn;

/**
 * Guest-physical memory as a vCPU sees it: every access is checked against the mapping's permissions
 * (READ for loads, WRITE for stores, EXEC for instruction fetches), as stage 2 / EPT would. The view is
 * live: `hv_vm_protect` or `hv_vm_unmap` between runs is seen by the next access.
 */
export class GuestMemoryView implements GuestMemory {
  constructor(private readonly table: MappingTable) {}

  get generation(): number {
    return this.table.generation;
  }

  read(gpa: bigint, size: number, access: 'read' | 'fetch'): Uint8Array | MemFault {
    const need = NEED[access];
    const m = this.table.find(gpa);
    // Fast path: the whole access lies in one mapping that allows it.
    if (m !== undefined && (m.flags & need) !== 0 && gpa + BigInt(size) <= m.end) {
      const at = m.offset + Number(gpa - m.start);
      return m.bytes.slice(at, at + size);
    }
    const out = new Uint8Array(size);
    const fault = this.walk(gpa, size, access, (part, at, done, n) =>
      out.set(part.bytes.subarray(at, at + n), done),
    );
    return fault ?? out;
  }

  readInto(
    gpa: bigint | number,
    size: number,
    access: 'read' | 'fetch',
    into: Uint8Array,
    at: number,
  ): MemFault | undefined {
    // Fast path, as in `read`: the whole access lies in one mapping that allows it. Offsets are computed
    // as numbers, and the bytes copied one by one (accesses are at most 16 bytes; a subarray would be an
    // allocation again).
    let bytes: Uint8Array | undefined;
    let from = 0;
    if (typeof gpa === 'number') {
      const s = this.span(gpa, size, access);
      if (s !== undefined) {
        bytes = s.bytes;
        from = s.at;
      }
    } else {
      const m = this.table.find(gpa);
      if (m !== undefined && (m.flags & NEED[access]) !== 0) {
        const offset = Number(gpa - m.start);
        if (offset + size <= m.size) {
          bytes = m.bytes;
          from = m.offset + offset;
        }
      }
    }
    if (bytes !== undefined) {
      for (let i = 0; i < size; i++) into[at + i] = bytes[from + i]!;
      return undefined;
    }
    // Check the whole access first: on a fault nothing is copied (engine.ts contract).
    const big = BigInt(gpa);
    const fault = this.walk(big, size, access, () => undefined);
    if (fault !== undefined) return fault;
    this.walk(big, size, access, (part, p, done, n) => into.set(part.bytes.subarray(p, p + n), at + done));
    return undefined;
  }

  span(gpa: number, size: number, access: 'read' | 'fetch'): GuestSpan | undefined {
    const m = this.table.findAt(gpa);
    if (m === undefined || (m.flags & NEED[access]) === 0) return undefined;
    const offset = gpa - m.startN;
    return offset + size <= m.size ? { bytes: m.bytes, at: m.offset + offset } : undefined;
  }

  write(gpa: bigint, bytes: Uint8Array): MemFault | undefined {
    // Check the whole access first: on a fault nothing is written (engine.ts contract).
    const fault = this.walk(gpa, bytes.length, 'write', () => undefined);
    if (fault !== undefined) return fault;
    this.walk(gpa, bytes.length, 'write', (part, at, done, n) =>
      part.bytes.set(bytes.subarray(done, done + n), at),
    );
    return undefined;
  }

  /** Visits the mapped pieces of [gpa, gpa+size) in order; returns the first fault instead of visiting it. */
  private walk(
    gpa: bigint,
    size: number,
    access: AccessKind,
    visit: (m: Mapping, at: number, done: number, n: number) => void,
  ): MemFault | undefined {
    const need = NEED[access];
    let done = 0;
    while (done < size) {
      const addr = (gpa + BigInt(done)) & ADDRESS_MASK;
      const m = this.table.find(addr);
      if (m === undefined) return { gpa: addr, access, size, mapped: false, perms: 0 };
      if ((m.flags & need) === 0) return { gpa: addr, access, size, mapped: true, perms: m.flags };
      const avail = Number(m.end - addr);
      const n = Math.min(size - done, avail);
      visit(m, m.offset + Number(addr - m.start), done, n);
      done += n;
    }
    return undefined;
  }
}

/**
 * Binary search over sorted ends: the first index in [0, n) for which `endsAbove` holds (it is false
 * up to some index and true from there on), or n.
 */
function firstEndingAbove(n: number, endsAbove: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (endsAbove(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
