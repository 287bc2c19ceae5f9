/**
 * The spec's race scenarios (packages/spec/src/harness/races.ts) on the model, both flavours, the
 * dangerous one included (the model is the only backend that may make those calls). Counts are modest
 * here; `scripts/long-check.ts` runs them for longer. The last tests plant a lost kick and a mapping
 * that does not go, and check that the races catch them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Backend, ConformanceError, HV, RACES, runRace } from '@hvspec/spec';
import { createModel } from '../src/index.js';

const ITERATIONS = 150;

for (const arch of ['x86_64', 'arm64'] as const) {
  describe(`races on the ${arch} model`, () => {
    for (const race of RACES) {
      it(`${race.name}: ${race.description}`, async () => {
        const b = createModel(arch);
        const report = await runRace(b, race.name, { iterations: ITERATIONS, seed: 20261207 });
        assert.equal(report.iterations, ITERATIONS);
        assert.ok(report.calls >= ITERATIONS / 2, `${report.calls} judged calls`);
        assert.ok(Object.keys(report.outcomes).length >= 3, JSON.stringify(report.outcomes));
        await b.close();
      });
    }
  });
}

/** A model whose every `n`th kick answers HV_SUCCESS and does nothing. */
function losingKicks(n: number): Backend {
  const b = createModel('arm64');
  let k = 0;
  return new Proxy(b, {
    get(target, prop, receiver) {
      if (prop === 'hv_vcpus_exit')
        return (...args: Parameters<typeof target.hv_vcpus_exit>) =>
          ++k % n === 0 ? { ret: HV.HV_SUCCESS } : target.hv_vcpus_exit(...args);
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Backend;
}

/** A model whose `hv_vm_unmap` of the races' data page answers HV_SUCCESS and leaves it mapped. */
function stickyData(): Backend {
  const b = createModel('x86_64');
  return new Proxy(b, {
    get(target, prop, receiver) {
      if (prop === 'hv_vm_unmap')
        return (...args: Parameters<typeof target.hv_vm_unmap>) =>
          args[1] === 0x40000n ? { ret: HV.HV_SUCCESS } : target.hv_vm_unmap(...args);
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Backend;
}

describe('the races catch what they are for', () => {
  it('a lost kick: the kicked run does not return', async () => {
    await assert.rejects(
      runRace(losingKicks(7), 'cancel-vs-run', { iterations: 100, seed: 1, kickTimeoutMs: 200 }),
      (e) => {
        assert.ok(e instanceof ConformanceError);
        assert.match(e.message, /a lost kick/);
        return true;
      },
    );
  });
  it('an unmap that does not unmap: the next map of the page is judged against the spec', async () => {
    await assert.rejects(runRace(stickyData(), 'memory-vs-run', { iterations: 100, seed: 1 }), (e) => {
      assert.ok(e instanceof ConformanceError);
      assert.match(e.message, /hv_vm_map|readable throughout|expected/);
      return true;
    });
  });
  it('a dangerous race is refused where dangerous calls are not allowed', async () => {
    await assert.rejects(
      runRace(createModel('arm64'), 'destroy-vs-cancel', { iterations: 1, allowDangerous: false }),
      TypeError,
    );
  });
});
