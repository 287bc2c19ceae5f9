/**
 * Misuse never throws on the model, both flavours (packages/spec/src/harness/misuse.ts): the shared
 * host_alloc limit (the largest buffer allocated for real), async runs on thread 0, a thread busy in an
 * async run answering HV_BUSY, reset() with a run in flight.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMisuse } from '@hvspec/spec';
import { createModel } from '../src/index.js';

describe('misuse on the model', () => {
  for (const arch of ['x86_64', 'arm64'] as const) {
    it(`${arch}: answers every misuse the rows do not cover as every backend must`, async () => {
      const b = createModel(arch);
      const report = await checkMisuse(b);
      assert.ok(report.checks > 40, `${report.checks} checks`);
      await b.close();
    });
  }
});
