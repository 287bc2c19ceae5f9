/**
 * Misuse never throws on el2 (packages/spec/src/harness/misuse.ts). Its host memory lives in the QEMU
 * machine's RAM (option ramMiB), so the largest buffer is not allocated for real here: the limit's
 * errors are checked, and a size the machine cannot hold is an Error, not a RangeError.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMisuse, HOST_ALLOC_MAX } from '@hvspec/spec';
import { el2, skip } from './helpers.ts';

const backend = el2();

describe('misuse on el2', { skip }, () => {
  it('answers every misuse the rows do not cover as every backend must', async () => {
    const report = await checkMisuse(backend(), { allocateMax: false });
    assert.ok(report.checks > 30, `${report.checks} checks`);
  });
  it('a buffer within the limit that the machine cannot hold is an Error', () => {
    assert.throws(
      () => backend().host_alloc(HOST_ALLOC_MAX),
      (e: Error) => e.constructor === Error,
    );
  });
});
