/**
 * The spec's conformance harness against el2 — alone, and against the model call by call — with guest
 * programs. Every seed must pass: each place where QEMU and the spec parted was decided by the Arm ARM
 * and fixed on the wrong side, or declared as an el2 deviation (README.md, "Disagreements"). The
 * programs hit every arm64 exit kind the spec predicts except the ones el2 declares it never produces,
 * which the harness does not generate.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createModel } from '@hvspec/model';
import { ARM64_EXIT_KINDS, diffBackends, runConformance } from '@hvspec/spec';
import { createEl2Backend, EL2_DEVIATIONS, type El2Backend } from '../src/index.ts';
import { skip } from './helpers.ts';

const DECLARED = new Set<string>(EL2_DEVIATIONS.flatMap((d) => d.arm64ExitKinds ?? []));

async function sweep(
  backend: Parameters<typeof runConformance>[0],
  seeds: readonly number[],
  runs: number,
): Promise<Set<string>> {
  const kinds = new Set<string>();
  for (const seed of seeds) {
    const report = await runConformance(backend, { runs, seed });
    for (const k of report.exitKinds) kinds.add(k);
    assert.ok(
      report.ok,
      `seed ${seed}: ${report.failure?.message}\n${report.failure?.commands}\nreplay with --seed ${seed} --path ${report.failure?.path}`,
    );
  }
  return kinds;
}

describe('conformance of el2', { skip }, () => {
  let el2: El2Backend | undefined;
  after(async () => {
    await el2?.close();
  });

  it('passes the spec’s suite with guest programs on every seed, hitting every exit kind it does not declare away', async () => {
    el2 = createEl2Backend({ maxVcpus: 3 });
    const kinds = await sweep(el2, [1, 2, 3, 4, 5, 6], 250);
    assert.deepEqual(
      ARM64_EXIT_KINDS.filter((k) => !DECLARED.has(k) && !kinds.has(k)),
      [],
      'exit kinds the guest programs never hit',
    );
    assert.deepEqual(
      [...kinds].filter((k) => DECLARED.has(k)),
      [],
      'the harness generated a kind el2 declares it never produces',
    );
  });

  it('agrees with the model call by call (differential mode) on every seed', async () => {
    el2 ??= createEl2Backend({ maxVcpus: 3 });
    const c = el2.capabilities;
    const model = createModel('arm64', {
      maxVcpus: c.maxVcpus,
      ...(c.maxIpaSize !== undefined ? { maxIpaSize: c.maxIpaSize } : {}),
      ...(c.ipaGranule4k !== undefined ? { ipaGranule4k: c.ipaGranule4k } : {}),
      gic: c.gic ?? false,
      el2Supported: c.el2Supported ?? false,
    });
    try {
      await sweep(diffBackends(model, el2), [11, 12, 13, 14], 150);
    } finally {
      await model.close();
    }
  });
});
