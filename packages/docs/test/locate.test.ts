import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { callSpec, callSpecs } from '@hvspec/spec';
import { indexSpecSources, locateCall, locateRow } from '../src/locate.js';
import { REPO_ROOT } from '../src/paths.js';

const index = indexSpecSources(REPO_ROOT);
const lineOf = (file: string, line: number): string =>
  readFileSync(join(REPO_ROOT, file), 'utf8').split('\n')[line - 1] ?? '';

test('every row of the registry is found at a line of packages/spec/src/calls that states its id', () => {
  let rows = 0;
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch))
      for (const row of spec.rows) {
        const loc = locateRow(index, spec, row);
        assert.ok(loc, `${arch} ${spec.name}.${row.id} not found`);
        assert.match(loc.file, /^packages\/spec\/src\/calls\/[a-z0-9-]+\.ts$/);
        assert.ok(
          lineOf(loc.file, loc.line).includes(`id: '${row.id}'`),
          `${arch} ${spec.name}.${row.id} → ${loc.file}:${loc.line} does not state the row`,
        );
        rows++;
      }
  assert.ok(rows > 100, `only ${rows} rows`);
});

test('a row written in its table entry links there; a row made by a shared builder links to the builder', () => {
  const create = callSpec('arm64', 'hv_vm_create');
  const vmExists = create?.rows.find((r) => r.id === 'vm-exists');
  assert.ok(create && vmExists);
  const own = locateRow(index, create, vmExists);
  assert.equal(own?.file, 'packages/spec/src/calls/arm64.ts');
  assert.equal(own?.builder, undefined);

  const run = callSpec('x86_64', 'hv_vcpu_run');
  const badHandle = run?.rows.find((r) => r.id === 'bad-handle');
  assert.ok(run && badHandle);
  const shared = locateRow(index, run, badHandle);
  assert.equal(shared?.file, 'packages/spec/src/calls/dsl.ts');
  assert.equal(shared?.builder, 'vcpuPrelude');

  // Same id, different `when` per flavour: each finds its own literal.
  const x86Map = callSpec('x86_64', 'hv_vm_map');
  const armMap = callSpec('arm64', 'hv_vm_map');
  const x = x86Map?.rows.find((r) => r.id === 'misaligned');
  const a = armMap?.rows.find((r) => r.id === 'misaligned');
  assert.ok(x86Map && armMap && x && a);
  assert.notEqual(locateRow(index, x86Map, x)?.line, locateRow(index, armMap, a)?.line);
});

test('a row whose id is not in the source is not found (no guessing)', () => {
  const spec = callSpec('arm64', 'hv_vm_create');
  assert.ok(spec);
  const invented = { ...spec.rows[0]!, id: 'no-such-row', when: 'never written anywhere' };
  assert.equal(locateRow(index, spec, invented), undefined);
});

test('every registry entry is located at its definition or the builder that makes it', () => {
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch)) {
      const loc = locateCall(index, spec);
      const text = lineOf(loc.file, loc.line);
      assert.ok(
        text.includes(spec.name) || text.includes('{') || loc.builder !== undefined,
        `${arch} ${spec.name} → ${loc.file}:${loc.line}: ${text}`,
      );
    }
  const destroy = callSpec('x86_64', 'hv_vm_destroy');
  assert.ok(destroy);
  assert.equal(locateCall(index, destroy).builder, 'vmDestroySpec');
});

test('rows that share an id and a precondition are told apart by their code, evidence, source and result', () => {
  const at = (arch: 'x86_64' | 'arm64', name: string, id: string) => {
    const spec = callSpec(arch, name);
    const row = spec?.rows.find((r) => r.id === id);
    assert.ok(spec && row, `${arch} ${name}.${id}`);
    const loc = locateRow(index, spec, row);
    assert.ok(loc);
    const lines = readFileSync(join(REPO_ROOT, loc.file), 'utf8').split('\n');
    return { ...loc, text: lines.slice(loc.line - 1, loc.line + 8).join('\n') };
  };
  const x86 = at('x86_64', 'hv_vm_map', 'overlap');
  const arm = at('arm64', 'hv_vm_map', 'overlap');
  assert.notEqual(x86.line, arm.line);
  assert.match(x86.text, /ret: NOT_SUCCESS/);
  assert.match(arm.text, /ret: code\(HV\.HV_ERROR\)/);
  assert.equal(at('x86_64', 'hv_vm_unmap', 'not-fully-mapped').builder, 'unmapRows');
  assert.equal(at('x86_64', 'hv_vm_protect', 'not-fully-mapped').builder, 'protectRows');
  assert.equal(at('arm64', 'hv_vm_destroy', 'ok').builder, 'vmDestroySpec');
});
