import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CallSpec, callSpecs } from '@hvspec/spec';
import { type Lifecycle, vcpuLifecycle, vmLifecycle } from '../src/lifecycle.js';
import { lifecycleSvg } from '../src/svg.js';

const edge = (lc: Lifecycle, from: string, call: string, row: string): string | undefined =>
  lc.edges.find((e) => e.from === from && e.call === call && e.row.id === row)?.to;

test('the VM lifecycle follows the rows: create, vCPUs come and go, destroy needs every vCPU gone', () => {
  for (const arch of ['x86_64', 'arm64'] as const) {
    const lc = vmLifecycle(arch);
    assert.equal(edge(lc, 'none', 'hv_vm_create', 'ok'), 'empty');
    assert.equal(edge(lc, 'empty', 'hv_vm_create', 'vm-exists'), 'empty');
    assert.equal(edge(lc, 'empty', 'hv_vcpu_create', 'ok'), 'vcpus');
    assert.equal(edge(lc, 'vcpus', 'hv_vm_destroy', 'live-vcpus'), 'vcpus');
    assert.equal(edge(lc, 'vcpus', 'hv_vcpu_destroy', 'ok'), 'empty');
    assert.equal(edge(lc, 'empty', 'hv_vm_destroy', 'ok'), 'none');
    assert.equal(
      edge(lc, 'vcpus', 'hv_vm_destroy', 'ok'),
      undefined,
      'a VM with live vCPUs is never destroyed',
    );
  }
});

test('the vCPU lifecycle follows the rows: a kick is pending until the next run consumes it', () => {
  for (const arch of ['x86_64', 'arm64'] as const) {
    const lc = vcpuLifecycle(arch);
    const kick = arch === 'x86_64' ? 'hv_vcpu_interrupt' : 'hv_vcpus_exit';
    assert.equal(edge(lc, 'none', 'hv_vcpu_create', 'ok'), 'idle');
    assert.equal(edge(lc, 'idle', kick, 'ok'), 'pending');
    assert.equal(edge(lc, 'pending', 'hv_vcpu_run', 'canceled'), 'idle');
    assert.equal(edge(lc, 'idle', 'hv_vcpu_run', 'wrong-thread'), 'idle');
    assert.equal(edge(lc, 'idle', 'hv_vcpu_destroy', 'ok'), 'destroyed');
    const stale = lc.edges.find((e) => e.from === 'destroyed' && e.call === kick);
    assert.equal(stale?.row.id, 'stale-handle');
    assert.ok(stale?.row.dangerous, 'kicking a destroyed vCPU is marked dangerous');
  }
});

test('the diagrams are derived: changing a row changes the lifecycle', () => {
  const specs = callSpecs('arm64');
  // Without the row that refuses a second VM, the exploration finds hv_vm_create succeeding again.
  const edited: CallSpec[] = specs.map((c) =>
    c.name === 'hv_vm_create' ? { ...c, rows: c.rows.filter((r) => r.id !== 'vm-exists') } : c,
  );
  const before = vmLifecycle('arm64', specs);
  const after = vmLifecycle('arm64', edited);
  assert.equal(edge(before, 'empty', 'hv_vm_create', 'vm-exists'), 'empty');
  assert.equal(edge(after, 'empty', 'hv_vm_create', 'vm-exists'), undefined);
  assert.equal(edge(after, 'empty', 'hv_vm_create', 'ok'), 'empty');
  assert.notEqual(lifecycleSvg(after, 'lifecycle.html'), lifecycleSvg(before, 'lifecycle.html'));
});

test('the SVG names every state and links every row to its function page', () => {
  const lc = vcpuLifecycle('x86_64');
  const svg = lifecycleSvg(lc, 'lifecycle.html');
  assert.match(svg, /^<svg class="lifecycle"/);
  for (const s of lc.states) assert.ok(svg.includes(s.label.replace(/&/g, '&amp;')), s.label);
  for (const e of lc.edges) assert.ok(svg.includes(`calls/x86_64/${e.call}.html#row-${e.row.id}`), e.row.id);
});
