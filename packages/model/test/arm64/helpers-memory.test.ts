import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAGE, R, TestMemory, W } from './helpers.js';

test('TestMemory enforces page permissions and reports the first faulting byte', () => {
  const m = new TestMemory().map(0x4000n, PAGE, R).map(0x8000n, PAGE, R | W);
  assert.ok(m.read(0x4000n, 4, 'read') instanceof Uint8Array);
  assert.deepEqual(m.read(0x4000n, 4, 'fetch'), {
    gpa: 0x4000n,
    access: 'fetch',
    size: 4,
    mapped: true,
    perms: R,
  });
  assert.deepEqual(m.write(0x7ffcn, new Uint8Array(8)), {
    gpa: 0x7ffcn,
    access: 'write',
    size: 8,
    mapped: true,
    perms: R,
  });
  assert.equal(m.write(0x8000n, new Uint8Array([1, 2])), undefined);
  assert.deepEqual([...m.peek(0x8000n, 2)], [1, 2]);
  assert.deepEqual(m.read(0xbffcn, 8, 'read'), {
    gpa: 0xc000n,
    access: 'read',
    size: 8,
    mapped: false,
    perms: 0,
  });
});
