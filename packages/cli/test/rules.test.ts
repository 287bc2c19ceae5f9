import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callSpec, callSpecs, EVIDENCE_TAG } from '@hvspec/spec';
import { hvspec, usageError } from './run-hvspec.ts';

describe('hvspec rules (process)', () => {
  it('lists every row of the registry for both flavours as JSON, with its evidence and source', () => {
    const r = hvspec(['rules', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as {
      id: string;
      arch: string;
      evidence: string;
      tag: string;
      source: string;
    }[];
    const want = (['x86_64', 'arm64'] as const).flatMap((a) =>
      callSpecs(a).flatMap((c) => c.rows.map((row) => `${a}:${c.name}.${row.id}`)),
    );
    assert.deepEqual(
      rows.map((x) => `${x.arch}:${x.id}`),
      want,
    );
    for (const x of rows) {
      assert.equal(x.tag, EVIDENCE_TAG[x.evidence as keyof typeof EVIDENCE_TAG]);
      assert.ok(x.source.length > 0, x.id);
    }
  });

  it('one function, as a table: its rows in order with tag, precondition, result and source', () => {
    const r = hvspec(['rules', 'hv_vm_create', '--arch', 'arm64']);
    assert.equal(r.status, 0, r.stderr);
    const spec = callSpec('arm64', 'hv_vm_create');
    assert.ok(spec);
    const rowLines = r.stdout.split('\n').filter((l) => /^ {2}\[[HTRU]\] /.test(l));
    assert.deepEqual(
      rowLines.map((l) => /\] (\S+):/.exec(l)?.[1]),
      spec.rows.map((x) => `hv_vm_create.${x.id}`),
    );
    assert.match(r.stdout, /^ {2}\[T\] hv_vm_create\.vm-exists: .* → HV_BUSY$/m);
    assert.match(r.stdout, /^ {8}source: hvf-facts §3/m);
    assert.match(r.stdout, /^\d+ rows of 1 functions: /m);
  });

  it('--unverified keeps only [U] rows; a * pattern selects functions; dangerous rows say so', () => {
    const r = JSON.parse(hvspec(['rules', 'hv_vcpu_*', '--unverified', '--json']).stdout) as {
      id: string;
      tag: string;
    }[];
    assert.ok(r.length > 0);
    for (const x of r) {
      assert.equal(x.tag, 'U');
      assert.match(x.id, /^hv_vcpu_/);
    }
    const dangerous = callSpecs('x86_64').flatMap((c) =>
      c.rows.filter((x) => x.dangerous).map((x) => `${c.name}.${x.id}`),
    );
    assert.ok(dangerous.length > 0);
    const text = hvspec(['rules', '--arch', 'x86_64']).stdout;
    for (const id of dangerous)
      assert.match(
        text,
        new RegExp(`${id.replace('.', '\\.')}:[^\\n]*\\n.*\\n {8}dangerous on real hardware`),
      );
  });

  it('an unknown function is a usage error that suggests similar names', () => {
    assert.match(
      usageError(hvspec(['rules', 'hv_vm_craete']), 'rules'),
      /no function hv_vm_craete .*similar: hv_vm_create/,
    );
    assert.match(usageError(hvspec(['rules', '--arch', 'riscv']), 'rules'), /--arch must be/);
  });
});
