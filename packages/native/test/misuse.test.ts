/**
 * Misuse never throws on the native backend (packages/spec/src/harness/misuse.ts): the shared host_alloc
 * limit, async runs on thread 0, a thread busy in an async run, reset() with a run in flight.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Backend, checkMisuse, HOST_ALLOC_MAX } from '@hvspec/spec';
import { loadAddon } from '../src/addon.js';
import { createNativeBackend } from '../src/index.js';
import { arch, skipWithoutHardware } from './helpers/hardware.js';

describe('misuse on the native backend', { skip: skipWithoutHardware }, () => {
  let b: Backend | undefined;
  after(async () => {
    await b?.close();
  });
  it('answers every misuse the rows do not cover as every backend must', async () => {
    b = createNativeBackend(arch);
    const report = await checkMisuse(b);
    assert.ok(report.checks > 40, `${report.checks} checks`);
  });
  it('the addon enforces the spec\u2019s host_alloc limit itself, for callers that skip the wrapper', () => {
    const load = loadAddon();
    assert.ok(load.ok);
    assert.equal(load.addon.host_alloc_max, HOST_ALLOC_MAX);
    assert.throws(() => load.addon.host_alloc(HOST_ALLOC_MAX + 1), RangeError);
    assert.throws(() => load.addon.host_alloc(-1), TypeError);
  });
});
