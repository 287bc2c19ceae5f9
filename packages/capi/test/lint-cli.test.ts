import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LINT_ERRORS, LINT_OK, LINT_UNREADABLE, runLintCli } from '../src/lint-cli.ts';
import { scratch } from './helpers.ts';

const TRACES = join(import.meta.dirname, '..', '..', '..', 'traces');

async function lint(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runLintCli(argv, {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
  });
  return { code, out, err };
}

describe('hvspec lint', () => {
  it('exits 0 for a clean trace and 1 for misuse, naming the rule, its evidence and the step', async () => {
    const clean = await lint(join(TRACES, 'x86_64', 'unmap-subrange-then-protect.json'));
    assert.equal(clean.code, LINT_OK, clean.out + clean.err);
    assert.match(clean.out, /^OK .*: clean$/m);
    const misuse = await lint(join(TRACES, 'arm64', 'map-overlap-error.json'));
    assert.equal(misuse.code, LINT_ERRORS);
    assert.match(misuse.out, /error +hv_vm_map\.overlap \[R\] misuse at step 3/);
    assert.match(misuse.out, /evidence: hvf-facts §2\.5/);
  });

  it('prints JSON with --json', async () => {
    const r = await lint('--json', join(TRACES, 'x86_64', 'vm-create-twice-rejected.json'));
    assert.equal(r.code, LINT_ERRORS);
    const json = JSON.parse(r.out) as {
      reports: { errors: number; findings: { rule: string; step: number }[] }[];
    };
    assert.equal(json.reports[0]?.errors, 1);
    assert.deepEqual(
      json.reports[0]?.findings.map((f) => [f.rule, f.step]),
      [['hv_vm_create.vm-exists', 1]],
    );
  });

  it('exits 2 for unreadable or malformed input and for no input, and still lints the rest', async () => {
    const bad = scratch('malformed.json');
    writeFileSync(
      bad,
      '{"format": "hvspec-trace/1", "arch": "x86_64", "title": "t", "steps": [{"call": "hv_nope", "args": {}}]}',
    );
    const r = await lint(bad, join(TRACES, 'x86_64', 'vm-destroy-live-vcpu.json'), scratch('missing.json'));
    assert.equal(r.code, LINT_UNREADABLE);
    assert.match(r.err, /malformed\.json: step 0 \(hv_nope\): call: unknown call/);
    assert.match(r.err, /missing\.json: ENOENT/);
    assert.match(r.out, /hv_vm_destroy\.live-vcpus/);
    assert.equal((await lint()).code, LINT_UNREADABLE);
    assert.equal((await lint('--frobnicate', bad)).code, LINT_UNREADABLE);
  });
});
