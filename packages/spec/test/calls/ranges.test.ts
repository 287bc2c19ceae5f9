import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fullyMapped, mappingAt, protectRange, unmapRange } from '../../src/calls/ranges.ts';
import type { Mapping } from '../../src/state.ts';

const P = 0x1000n;
const map = (addr: bigint, pages: bigint, flags = 7, offset = 0): Mapping => ({
  addr: addr * P,
  size: pages * P,
  flags,
  mem: 1,
  offset,
});

describe('range algebra', () => {
  it('unmapping the middle page of a mapping splits it and keeps host offsets', () => {
    const out = unmapRange([map(0n, 4n)], 1n * P, P);
    assert.deepEqual(out, [map(0n, 1n), map(2n, 2n, 7, 0x2000)]);
  });

  it('protecting a sub-range splits the mapping into three with the new flags in the middle', () => {
    const out = protectRange([map(0n, 4n, 7)], 1n * P, 2n * P, 1);
    assert.deepEqual(out, [map(0n, 1n, 7), map(1n, 2n, 1, 0x1000), map(3n, 1n, 7, 0x3000)]);
  });

  it('fullyMapped sees across adjacent mappings and not across holes', () => {
    const maps = [map(0n, 2n), map(2n, 2n, 3), map(5n, 1n)];
    assert.equal(fullyMapped(maps, 0n, 4n * P), true);
    assert.equal(fullyMapped(maps, P, 4n * P), false);
    assert.equal(fullyMapped(maps, 5n * P, P), true);
  });

  it('property: unmap then lookup — no byte of the range stays mapped, every byte outside keeps its mapping', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(15), { maxLength: 6 }),
        fc.nat(15),
        fc.integer({ min: 1, max: 6 }),
        (starts, at, pages) => {
          const maps = starts.sort((a, b) => a - b).map((s) => map(BigInt(s * 2), 1n));
          const out = unmapRange(maps, BigInt(at) * P, BigInt(pages) * P);
          for (let page = 0n; page < 40n; page++) {
            const inRange = page >= BigInt(at) && page < BigInt(at + pages);
            const before = mappingAt(maps, page * P);
            const after = mappingAt(out, page * P);
            if (inRange) assert.equal(after, undefined);
            else assert.equal(after?.flags, before?.flags);
          }
        },
      ),
    );
  });
});
