import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { callSpecs, parseTrace } from '@hvspec/spec';
import { hvspec, usageError } from './run-hvspec.ts';

const hasKvm = process.platform === 'linux' && existsSync('/dev/kvm');

function unverified(arch: 'x86_64' | 'arm64'): { id: string; dangerous: boolean }[] {
  return callSpecs(arch).flatMap((c) =>
    c.rows
      .filter((r) => r.evidence === 'unverified')
      .map((r) => ({ id: `${c.name}.${r.id}`, dangerous: !!r.dangerous })),
  );
}

describe('hvspec probe --dry-run (any machine)', () => {
  it('lists every unverified row by function, and the dangerous ones as never called', () => {
    for (const arch of ['x86_64', 'arm64'] as const) {
      const r = hvspec(['probe', '--dry-run', '--arch', arch]);
      assert.equal(r.status, 0, r.stderr);
      const rows = unverified(arch);
      const safe = rows.filter((x) => !x.dangerous);
      assert.match(r.stdout, new RegExp(`^probe plan, ${arch}: ${safe.length} unverified rows`));
      const listed = r.stdout
        .split('\n')
        .filter((l) => /^ {2}hv_\S+: /.test(l))
        .map((l) => l.trim().split(':')[0]);
      assert.deepEqual(
        listed,
        [...safe, ...rows.filter((x) => x.dangerous)].map((x) => x.id),
      );
      if (rows.some((x) => x.dangerous))
        assert.match(r.stdout, /^never called \(dangerous on real hardware\):$/m);
    }
  });

  it('--json gives the plan per architecture', () => {
    const plans = JSON.parse(hvspec(['probe', '--dry-run', '--arch', 'all', '--json']).stdout);
    assert.deepEqual(
      plans.map((p: { arch: string }) => p.arch),
      ['x86_64', 'arm64'],
    );
    assert.equal(plans[1].rows.length, unverified('arm64').length);
  });

  it('usage errors: --runs, --arch', () => {
    assert.match(usageError(hvspec(['probe', '--runs', '0']), 'probe'), /--runs must be a positive integer/);
    assert.match(usageError(hvspec(['probe', '--dry-run', '--arch', 'm68k']), 'probe'), /--arch must be/);
  });
});

describe('hvspec probe on the native backend', {
  skip: hasKvm ? false : 'no /dev/kvm on this machine',
}, () => {
  const out = join(mkdtempSync(join(tmpdir(), 'hvspec-probe-')), 'traces');
  let result: {
    backend: string;
    rows: {
      id: string;
      reached: boolean;
      dangerous?: string;
      observed: { ret: string; count: number }[];
      trace?: string;
    }[];
  };

  it('prints the spec beside what this machine returned for each unverified row, and never a dangerous call', () => {
    const r = hvspec(['probe', '--runs', '120', '--seed', '11', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    [result] = JSON.parse(r.stdout);
    assert.equal(result.backend, 'native-kvm');
    assert.deepEqual(
      result.rows.map((x) => x.id),
      unverified('x86_64').map((x) => x.id),
    );
    const reached = result.rows.filter((x) => x.reached);
    assert.ok(reached.length > result.rows.length / 2, `${reached.length} rows reached`);
    for (const x of result.rows) {
      if (x.dangerous) assert.equal(x.reached, false, `${x.id} is dangerous and was called`);
      if (x.reached)
        assert.ok(x.observed.length > 0 && x.observed.every((o) => /^HV_|^0x/.test(o.ret) && o.count > 0));
      else assert.deepEqual(x.observed, []);
    }
    const text = hvspec(['probe', '--runs', '120', '--seed', '11', '--no-progress']);
    assert.match(
      text.stdout,
      /^ {2}hv_vm_map\.no-vm +spec: not HV_SUCCESS \(state unchanged\) +here: HV_\w+ ×\d+/m,
    );
    assert.match(text.stdout, /native-kvm is hvspec's KVM provider, not Apple's framework/);
  });

  it('--out writes one trace per reached row, which replays on the native backend as PASS (or unsupported by a declared deviation)', () => {
    const files = readdirSync(out);
    const reached = result.rows.filter((x) => x.reached);
    assert.equal(files.length, reached.length);
    for (const x of reached) {
      assert.ok(x.trace);
      const trace = parseTrace(readFileSync(x.trace, 'utf8'), x.trace);
      const probed = [...trace.steps].reverse().find((s) => s.call !== 'await');
      assert.equal(probed?.call, x.id.split('.')[0], x.id);
      assert.ok(
        x.observed.some((o) => o.ret === probed?.expect?.ret),
        `${x.id}: ${JSON.stringify(probed?.expect)}`,
      );
    }
    const r = hvspec(['replay', '--backend', 'native', out]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^${files.length} traces: \\d+ passed, 0 failed(, \\d+ unsupported by a declared deviation \\([\\w., -]+\\))?$`,
        'm',
      ),
    );
  });

  it('--out is checked before the probe runs', () => {
    assert.match(usageError(hvspec(['probe', '--out', '/proc/probe']), 'probe'), /\/proc is on proc/);
  });
});
