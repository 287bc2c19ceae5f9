/**
 * The mapping workload (src/mapping.ts) does what its tasks say: every page is mapped at its GPA with
 * the host page behind it, and afterwards nothing is mapped; a failing call stops it with the call's name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '@hvspec/model';
import { HV, HV_MEMORY, type X86Backend } from '@hvspec/spec';
import { MAP_BASE, mapUnmapPages, setupMapping } from '../src/mapping.js';

test('maps consecutive pages from 4 GiB over consecutive host pages, then unmaps every one', () => {
  const b = createModel('x86_64') as X86Backend;
  const w = setupMapping(b, 300, true);
  assert.equal(w.mem.size, 300 * 4096);
  mapUnmapPages(w);
  // Nothing is left mapped: mapping the whole range at once succeeds, and protect sees all of it.
  const all = BigInt(300 * 4096);
  assert.equal(b.hv_vm_map(0, { mem: w.mem, offset: 0 }, MAP_BASE, all, HV_MEMORY.READ).ret, HV.HV_SUCCESS);
  assert.equal(b.hv_vm_protect(0, MAP_BASE, all, HV_MEMORY.READ | HV_MEMORY.WRITE).ret, HV.HV_SUCCESS);
  // Now page 0 is taken: the workload's first map fails, and the error names it.
  assert.throws(() => mapUnmapPages(w), /hv_vm_map of page 0 returned HV_ERROR/);
});

test('refuses a page count that is not a positive integer', () => {
  assert.throws(() => setupMapping(createModel('x86_64'), 0, true), TypeError);
  assert.throws(() => setupMapping(createModel('x86_64'), 1.5, true), TypeError);
});
