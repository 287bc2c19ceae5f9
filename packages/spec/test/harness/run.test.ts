import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { shardRun } from '../../src/harness/run.js';

describe('shardRun', () => {
  it('splits the runs so that the shards add up to the whole, none more than one apart', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer(),
        (runs, count, seed) => {
          const shares = Array.from(
            { length: count },
            (_, i) => shardRun(runs, seed, { index: i + 1, count }).runs,
          );
          assert.equal(
            shares.reduce((a, b) => a + b, 0),
            runs,
          );
          assert.ok(Math.max(...shares) - Math.min(...shares) <= 1);
        },
      ),
    );
  });

  it('gives each shard its own seed, a function of the base seed and the index alone', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 2, max: 64 }), (seed, count) => {
        const seeds = Array.from(
          { length: count },
          (_, i) => shardRun(1000, seed, { index: i + 1, count }).seed,
        );
        assert.equal(new Set(seeds).size, count, 'distinct seeds');
        for (const s of seeds) assert.ok(Number.isSafeInteger(s) && s >= -(2 ** 31) && s < 2 ** 31);
        // The same shard of the same base seed, asked again (on another machine), is the same shard.
        assert.deepEqual(
          seeds,
          Array.from({ length: count }, (_, i) => shardRun(1000, seed, { index: i + 1, count }).seed),
        );
      }),
    );
  });

  it('shard 1/1 is the whole run, and an index outside 1..count is refused', () => {
    assert.deepEqual(shardRun(300, 42, { index: 1, count: 1 }), { runs: 300, seed: 42 });
    assert.throws(() => shardRun(300, 42, { index: 0, count: 2 }), RangeError);
    assert.throws(() => shardRun(300, 42, { index: 3, count: 2 }), RangeError);
  });
});
