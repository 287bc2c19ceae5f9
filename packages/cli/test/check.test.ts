import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTrace } from '@hvspec/spec';
import { CLI, canDropToNobody, hvspec, usageError } from './run-hvspec.ts';

const hasKvm = process.platform === 'linux' && existsSync('/dev/kvm');

describe('hvspec check', () => {
  it('passes on the model and prints a summary per architecture: runs, seed, rules covered of the total', () => {
    const r = hvspec([
      'check',
      '--backend',
      'model',
      '--arch',
      'all',
      '--runs',
      '40',
      '--seed',
      '3',
      '--no-progress',
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS x86_64 model: 40 runs, seed 3, rules covered \d+\/\d+/m);
    assert.match(r.stdout, /^PASS arm64 model: 40 runs, seed 3, rules covered \d+\/\d+/m);
  });

  it('the same seed gives the same run', () => {
    const a = hvspec(['check', '--arch', 'arm64', '--runs', '25', '--seed', '9', '--json']);
    const b = hvspec(['check', '--arch', 'arm64', '--runs', '25', '--seed', '9', '--json']);
    const [ra] = JSON.parse(a.stdout);
    const [rb] = JSON.parse(b.stdout);
    assert.deepEqual(ra.rulesCovered, rb.rulesCovered);
    assert.deepEqual(ra.exitKinds, rb.exitKinds);
  });

  it('a differential run of the model against itself finds no difference', () => {
    const r = hvspec([
      'check',
      '--diff',
      'model,model',
      '--arch',
      'x86_64',
      '--runs',
      '30',
      '--seed',
      '4',
      '--no-progress',
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS x86_64 model\+model/m);
    assert.doesNotMatch(r.stdout, /answered differently/);
  });

  it('usage errors exit 2 and say what is wrong on one line', () => {
    assert.match(
      usageError(hvspec(['check', '--arch', 'mips']), 'check'),
      /--arch must be x86_64, arm64 or all/,
    );
    assert.match(usageError(hvspec(['check', '--diff', 'model']), 'check'), /--diff takes two backends/);
  });

  it('writes no counterexample directory when everything passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-check-'));
    const out = join(dir, 'cex');
    const r = hvspec(['check', '--arch', 'x86_64', '--runs', '10', '--seed', '1', '--out', out]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.throws(() => readdirSync(out));
  });
});

describe('hvspec check: defaults that work on this host', () => {
  it('--backend native without --arch checks what the native backend runs here, and only that', {
    skip: hasKvm ? false : 'no /dev/kvm on this machine',
  }, () => {
    const r = hvspec(['check', '--backend', 'native', '--runs', '5', '--seed', '1', '--no-progress']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS x86_64 native-kvm: 5 runs/m);
    assert.doesNotMatch(r.stdout, /arm64/);
  });

  it('--backend native where it cannot run is one line saying why, exit 2', {
    skip: hasKvm ? 'this machine has /dev/kvm' : false,
  }, () => {
    assert.match(
      usageError(hvspec(['check', '--backend', 'native', '--runs', '5']), 'check'),
      /native backend is not available/,
    );
  });
});

describe('hvspec check: options are checked before any work', () => {
  for (const runs of ['0', '-5', '1.5', 'lots', '']) {
    it(`--runs ${JSON.stringify(runs)} is a usage error, not a passing run of nothing`, () => {
      const line = usageError(hvspec(['check', '--arch', 'x86_64', '--runs', runs]), 'check');
      assert.match(line, /--runs must be a positive integer/);
    });
  }

  it('--path garbage is one line, not a stack trace', () => {
    const line = usageError(
      hvspec(['check', '--arch', 'x86_64', '--seed', '1', '--path', 'garbage']),
      'check',
    );
    assert.match(line, /--path must be the path a failing run printed/);
  });

  it('--path needs its --seed and one architecture; --replay-path needs --path', () => {
    assert.match(usageError(hvspec(['check', '--arch', 'x86_64', '--path', '3:1']), 'check'), /--seed/);
    assert.match(
      usageError(hvspec(['check', '--arch', 'all', '--seed', '1', '--path', '3:1']), 'check'),
      /one architecture/,
    );
    assert.match(
      usageError(hvspec(['check', '--arch', 'x86_64', '--seed', '1', '--replay-path', 'CD:A']), 'check'),
      /--replay-path .*--path/,
    );
  });

  it('a --path that does not fit the run is a usage error naming it, not a stack trace', () => {
    // Run 0 of seed 1 passes: it has no shrink tree for a path of 40 shrinks to follow.
    const r = hvspec([
      'check',
      '--arch',
      'arm64',
      '--runs',
      '1',
      '--seed',
      '1',
      '--path',
      `0${':0'.repeat(40)}`,
    ]);
    assert.match(usageError(r, 'check'), /--path 0:0:.* does not fit this run/);
  });

  it('an --out under /proc is refused at once, before the run (it used to spin in mkdir)', {
    skip: process.platform === 'linux' ? false : 'Linux only',
  }, () => {
    const r = hvspec(['check', '--arch', 'x86_64', '--runs', '100000', '--out', '/proc/hvspec/cex'], {
      timeout: 30_000,
    });
    assert.match(usageError(r, 'check'), /--out \/proc\/hvspec\/cex: \/proc is on proc/);
  });

  it('an --out that is not a directory is refused', () => {
    const line = usageError(
      hvspec(['check', '--arch', 'x86_64', '--out', join(CLI, 'package.json', 'cex')]),
      'check',
    );
    assert.match(line, /package\.json is not a directory/);
  });

  it('an --out this user cannot write is refused', {
    skip:
      process.getuid?.() !== 0 || canDropToNobody()
        ? false
        : 'root may write anywhere, and cannot run hvspec as nobody here (no setpriv, or a checkout nobody can read)',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-ro-'));
    mkdirSync(join(dir, 'ro'));
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'ro'), 0o555);
    const root = process.getuid?.() === 0;
    const r = hvspec(['check', '--arch', 'x86_64', '--out', join(dir, 'ro', 'cex')], { asNobody: root });
    assert.match(usageError(r, 'check'), /cannot write in .*ro \(EACCES\)/);
  });
});

describe('hvspec check --shard', () => {
  const shard = (s: string) => {
    const r = hvspec(['check', '--arch', 'arm64', '--runs', '21', '--seed', '77', '--shard', s, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout)[0];
  };

  it('the shards split the runs, each with a seed of its own, and name the whole run', () => {
    const [a, b, c] = ['1/3', '2/3', '3/3'].map(shard);
    assert.equal(a.runs + b.runs + c.runs, 21);
    assert.equal(new Set([a.seed, b.seed, c.seed]).size, 3);
    for (const [i, s] of [a, b, c].entries())
      assert.deepEqual(s.shard, { index: i + 1, count: 3, runs: 21, seed: 77 });
  });

  it('a shard is reproducible: the same shard of the same seed is the same run', () => {
    const x = shard('2/3');
    const y = shard('2/3');
    assert.equal(x.seed, y.seed);
    assert.deepEqual(x.rulesCovered, y.rulesCovered);
  });

  it('prints the shard in the summary line', () => {
    const r = hvspec([
      'check',
      '--arch',
      'arm64',
      '--runs',
      '10',
      '--seed',
      '5',
      '--shard',
      '2/2',
      '--no-progress',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^PASS arm64 model: 5 runs \(shard 2\/2 of 10, base seed 5\), seed -?\d+,/m);
  });

  it('refuses a shard outside 1..n, and more shards than runs', () => {
    assert.match(usageError(hvspec(['check', '--shard', '0/2']), 'check'), /--shard must be i\/n/);
    assert.match(usageError(hvspec(['check', '--shard', '3/2']), 'check'), /--shard must be i\/n/);
    assert.match(
      usageError(hvspec(['check', '--runs', '2', '--shard', '1/3']), 'check'),
      /cannot be split into 3 shards/,
    );
  });
});

describe('hvspec check: progress', () => {
  it('under CI=true prints plain lines with the rate and the time left, no carriage returns', () => {
    const r = hvspec(['check', '--arch', 'x86_64', '--runs', '60', '--seed', '2'], { env: { CI: 'true' } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.length >= 5, r.stderr);
    for (const l of lines)
      assert.match(l, /^x86_64 model: \d+\/60 runs \(\d+%\), [\d.?]+ runs\/s, ETA [\d:?]+$/);
    assert.match(lines.at(-1) ?? '', /60\/60 runs \(100%\)/);
    assert.doesNotMatch(r.stderr, /\r/);
  });

  it('--no-progress and --json print no progress', () => {
    assert.equal(
      hvspec(['check', '--arch', 'x86_64', '--runs', '20', '--no-progress'], { env: { CI: 'true' } }).stderr,
      '',
    );
    assert.equal(
      hvspec(['check', '--arch', 'x86_64', '--runs', '20', '--json'], { env: { CI: 'true' } }).stderr,
      '',
    );
  });
});

describe('hvspec check --diff model,native: the summary', {
  skip: hasKvm ? false : 'no /dev/kvm on this machine',
}, () => {
  it('groups the differences by rule, one succeeding where the other failed first, and no equal answers', () => {
    const r = hvspec(['check', '--diff', 'model,native', '--runs', '60', '--seed', '1', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const [report] = JSON.parse(r.stdout);
    const ds: { ruleId: string; kind: string; a: string; b: string; count: number }[] = report.differences;
    assert.ok(ds.length > 0, 'the model and the KVM provider choose different codes somewhere');
    const order = { outcome: 0, code: 1, value: 2 } as Record<string, number>;
    for (let i = 1; i < ds.length; i++)
      assert.ok(
        (order[ds[i - 1]?.kind ?? ''] ?? 0) <= (order[ds[i]?.kind ?? ''] ?? 0),
        'outcome, then code, then value',
      );
    const keys = ds.map((d) => (d.kind === 'value' ? `${d.ruleId}|value` : `${d.ruleId}|${d.a}|${d.b}`));
    assert.equal(new Set(keys).size, keys.length, 'one group per rule and pair of answers');
    for (const d of ds) {
      assert.notEqual(d.a, d.b, `${d.ruleId}: equal answers are no difference`);
      if (d.kind === 'code') assert.ok(d.a !== 'HV_SUCCESS' && d.b !== 'HV_SUCCESS');
      if (d.kind === 'outcome') assert.ok(d.a === 'HV_SUCCESS' || d.b === 'HV_SUCCESS');
    }
    // The text: one line per group under its heading.
    const t = hvspec(['check', '--diff', 'model,native', '--runs', '60', '--seed', '1', '--no-progress']);
    assert.match(t.stdout, /where the spec is loose, model and native-kvm answered differently/);
    const groupLines = t.stdout.split('\n').filter((l) => /^ {6}\d+× /.test(l));
    assert.equal(groupLines.length, ds.filter((d) => d.kind !== 'value').length);
  });
});

describe('counterexample traces', () => {
  it('a failing check writes a trace that parses', async () => {
    // The broken backend lives in the model's tests; here the trace writer's output must be a valid
    // trace for the parser (the two are written from one table of calls).
    const { runConformance } = await import('@hvspec/spec');
    const { createModel } = await import('@hvspec/model');
    const { HV, VMCS } = await import('@hvspec/spec');
    const model = createModel('x86_64', { maxVcpus: 3 });
    const broken = new Proxy(model, {
      get(target, prop, receiver) {
        if (prop === 'hv_vmx_vcpu_read_vmcs') {
          return (t: number, vcpu: never, field: number) => {
            const r = target.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
            return field === VMCS.VMCS_CTRL_EPTP &&
              r.ret === HV.HV_BAD_ARGUMENT &&
              target.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP).ret === 0
              ? { ret: HV.HV_SUCCESS, value: 0n }
              : r;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    // Enough runs that a generated sequence reads EPTP after a VM and a vCPU exist; the run stops at the first failure.
    const report = await runConformance(broken, { runs: 3000, seed: 2 });
    assert.equal(report.ok, false);
    const trace = parseTrace(JSON.stringify(report.failure?.trace), 'counterexample.json');
    assert.equal(trace.steps.at(-1)?.call, 'hv_vmx_vcpu_read_vmcs');
  });
});
