/**
 * The spec's race scenarios (packages/spec/src/harness/races.ts) on the el2 oracle: async runs in QEMU
 * beside the calls of other threads. Not the dangerous one (the model only). Few iterations: each run
 * is a round trip to QEMU's TCG.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RACES, runRace } from '@hvspec/spec';
import { el2, skip } from './helpers.ts';

const backend = el2();

describe('races on el2', { skip }, () => {
  for (const race of RACES.filter((r) => !r.dangerous)) {
    it(`${race.name}: ${race.description}`, async () => {
      const report = await runRace(backend(), race.name, { iterations: 40, seed: 20261207 });
      assert.ok(report.calls >= 20, `${report.calls} judged calls`);
    });
  }
});
