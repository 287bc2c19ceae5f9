import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callSpecs } from '@hvspec/spec';
import { collectSiteData } from '../src/data.js';
import { REPO_ROOT } from '../src/paths.js';
import { searchEntries } from '../src/search.js';
import { renderPages } from '../src/site.js';

const data = await collectSiteData(REPO_ROOT);

test('one function page per modelled function and flavour, from the registry', () => {
  const pages = new Set(renderPages(data).map((p) => p.path));
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch))
      assert.ok(pages.has(`calls/${arch}/${spec.name}.html`), `${arch} ${spec.name}`);
  assert.equal(data.calls.length, callSpecs('x86_64').length + callSpecs('arm64').length);
});

test('the search index holds function names, codes, rule ids and exit reasons', () => {
  const entries = searchEntries(data);
  const find = (t: string) => entries.filter((e) => e.t === t);
  assert.deepEqual(
    find('hv_vm_map')
      .map((e) => e.u)
      .sort(),
    ['calls/arm64/hv_vm_map.html', 'calls/x86_64/hv_vm_map.html'],
  );
  assert.deepEqual(
    find('HV_BAD_ARGUMENT').map((e) => e.u),
    ['codes.html#HV_BAD_ARGUMENT'],
  );
  assert.equal(find('hv_vm_map.overlap').length, 2);
  assert.equal(find('VMX_REASON_EPT_VIOLATION')[0]?.u, 'exits.html#VMX_REASON_EPT_VIOLATION');
  assert.equal(find('HV_EXIT_REASON_CANCELED')[0]?.u, 'exits.html#reason-HV_EXIT_REASON_CANCELED');
  const rules = entries.filter((e) => e.k === 'rule').length;
  const rows = data.calls.reduce((n, c) => n + c.rows.length, 0);
  assert.equal(rules, rows);
});

test('every example shown was replayed on the model and passed', () => {
  for (const c of data.calls) {
    assert.ok(c.example, `${c.spec.arch} ${c.spec.name} has no example`);
    assert.equal(c.example.report.status, 'pass');
    assert.equal(c.example.report.backend, 'model');
  }
});
