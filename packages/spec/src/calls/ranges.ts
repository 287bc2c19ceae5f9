/**
 * Range algebra over one address space's mappings: disjoint, sorted ranges that map, unmap and protect
 * split as the framework does ("protect may apply to a whole region or a subregion", hvf-facts §2.3 [H]).
 * Pure functions: they return new arrays.
 * @module
 */
import type { Mapping } from '../state.js';

/** True when [a, a+n) and [b, b+m) share a byte. */
export function overlaps(a: bigint, n: bigint, b: bigint, m: bigint): boolean {
  return a < b + m && b < a + n;
}

/** The mappings that share a byte with [addr, addr+size). */
export function mappingsIn(maps: readonly Mapping[], addr: bigint, size: bigint): Mapping[] {
  return maps.filter((m) => overlaps(m.addr, m.size, addr, size));
}

/** True when every byte of [addr, addr+size) is mapped. */
export function fullyMapped(maps: readonly Mapping[], addr: bigint, size: bigint): boolean {
  let cursor = addr;
  const end = addr + size;
  for (const m of [...maps].sort((x, y) => (x.addr < y.addr ? -1 : 1))) {
    if (m.addr + m.size <= cursor) continue;
    if (m.addr > cursor) return false;
    cursor = m.addr + m.size;
    if (cursor >= end) return true;
  }
  return cursor >= end;
}

/** The part of `m` inside [lo, hi), or undefined. */
function clip(m: Mapping, lo: bigint, hi: bigint): Mapping | undefined {
  const a = m.addr > lo ? m.addr : lo;
  const b = m.addr + m.size < hi ? m.addr + m.size : hi;
  if (a >= b) return undefined;
  return { ...m, addr: a, size: b - a, offset: m.offset + Number(a - m.addr) };
}

/**
 * Rewrites [addr, addr+size): every mapping it cuts keeps its parts before and after the range, and its
 * part inside becomes what `inside` makes of it (nothing, to unmap).
 */
function rewriteRange(
  maps: readonly Mapping[],
  addr: bigint,
  size: bigint,
  inside: (part: Mapping) => Mapping | undefined,
): Mapping[] {
  const end = addr + size;
  const out: Mapping[] = [];
  for (const m of maps) {
    if (!overlaps(m.addr, m.size, addr, size)) {
      out.push(m);
      continue;
    }
    const within = clip(m, addr, end);
    for (const part of [clip(m, m.addr, addr), within && inside(within), clip(m, end, m.addr + m.size)])
      if (part) out.push(part);
  }
  return sortMaps(out);
}

/** Removes [addr, addr+size) from the mappings, splitting any mapping it cuts. */
export function unmapRange(maps: readonly Mapping[], addr: bigint, size: bigint): Mapping[] {
  return rewriteRange(maps, addr, size, () => undefined);
}

/** Sets the flags of [addr, addr+size) (which must be fully mapped), splitting at its ends. */
export function protectRange(maps: readonly Mapping[], addr: bigint, size: bigint, flags: number): Mapping[] {
  return rewriteRange(maps, addr, size, (part) => ({ ...part, flags }));
}

/** The mapping that contains `addr`, if any. */
export function mappingAt(maps: readonly Mapping[], addr: bigint): Mapping | undefined {
  return maps.find((m) => addr >= m.addr && addr < m.addr + m.size);
}

function sortMaps(maps: Mapping[]): Mapping[] {
  return maps.sort((x, y) => (x.addr < y.addr ? -1 : x.addr > y.addr ? 1 : 0));
}
