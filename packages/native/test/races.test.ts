/**
 * The spec's race scenarios (packages/spec/src/harness/races.ts) on the native backend, where async runs
 * really run beside the calls of other threads. The dangerous race (destroy racing a kick) is never made
 * here: it was reported to panic real hosts. `scripts/long-check.ts` runs them for longer.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Backend, RACES, runRace } from '@hvspec/spec';
import { createNativeBackend } from '../src/index.js';
import { arch, skipWithoutHardware } from './helpers/hardware.js';

describe('races on the native backend', { skip: skipWithoutHardware }, () => {
  let b: Backend | undefined;
  after(async () => {
    await b?.close();
  });
  for (const race of RACES.filter((r) => !r.dangerous)) {
    it(`${race.name}: ${race.description}`, async () => {
      b ??= createNativeBackend(arch);
      const report = await runRace(b, race.name, { iterations: 300, seed: 20261207 });
      assert.ok(report.calls >= 150, `${report.calls} judged calls`);
      console.log(`# ${race.name}: ${JSON.stringify(report.outcomes)}`);
    });
  }
});
