import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CallSpec, callSpec } from '@hvspec/spec';
import { callPageContext, renderCallPage } from '../src/call-page.js';
import { callEntry } from '../src/data.js';
import { indexSpecSources } from '../src/locate.js';
import { REPO_ROOT } from '../src/paths.js';

const sources = indexSpecSources(REPO_ROOT);
const ctx = callPageContext(new Map([['process', 'any thread of the process']]));

function page(spec: CallSpec): string {
  return renderCallPage(callEntry(spec, { sources }), ctx).html;
}

test('removing a rule row from the registry changes its page: the row, its code and its source link go', () => {
  const spec = callSpec('arm64', 'hv_vm_map');
  assert.ok(spec);
  const full = page(spec);
  const without: CallSpec = { ...spec, rows: spec.rows.filter((r) => r.id !== 'overlap') };
  const reduced = page(without);
  assert.notEqual(reduced, full);
  assert.match(full, /id="row-overlap"/);
  assert.doesNotMatch(reduced, /id="row-overlap"/);
  // The overlap row is the page's only HV_ERROR row and the only link to its source line.
  assert.match(full, /codes\.html#HV_ERROR/);
  assert.doesNotMatch(reduced, /codes\.html#HV_ERROR/);
  const overlapLine = /href="[^"]*memory\.ts\.html#L(\d+)"[^>]*>calls\/memory\.ts:\1<\/a>/g;
  assert.ok([...full.matchAll(overlapLine)].length > [...reduced.matchAll(overlapLine)].length);
  assert.match(full, /8 rule rows/);
  assert.match(reduced, /7 rule rows/);
});

test('a function page shows every field the reference promises', () => {
  const spec = callSpec('x86_64', 'hv_vcpu_run');
  assert.ok(spec);
  const html = page(spec);
  for (const want of [
    '<h1><code>hv_vcpu_run</code>',
    'macOS availability',
    'Thread rule',
    'C declaration',
    'hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu);',
    'Parameters',
    'hv_vcpuid_t',
    'Results',
    'id="row-canceled"',
    'id="row-guest"',
    'calls/dsl.ts:',
    'shared: <code>vcpuPrelude</code>',
    'deprecated',
  ])
    assert.ok(html.includes(want), `missing ${want}`);
  for (const row of spec.rows)
    assert.ok(html.includes(`${spec.name}.${row.id}`), `missing the row ${row.id}`);
});

test('text from the spec is escaped, never markup', () => {
  const spec = callSpec('arm64', 'hv_vm_create');
  assert.ok(spec);
  const evil: CallSpec = { ...spec, summary: 'Creates <script>alert(1)</script> & more' };
  const html = page(evil);
  assert.ok(!html.includes('<script>alert(1)</script>'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more'));
});
