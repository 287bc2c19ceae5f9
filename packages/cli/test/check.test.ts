import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTrace } from '@hvspec/spec';

const CLI = join(import.meta.dirname, '..');
const MAIN = join(CLI, 'src/main.ts');

/** Runs the real `hvspec` entry point (TypeScript source through tsx) as a child process. */
function hvspec(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hvspec check', () => {
  it('passes on the model and prints a summary per architecture: runs, seed, rules covered of the total', () => {
    const r = hvspec(
      CLI,
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
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS x86_64 model: 40 runs, seed 3, rules covered \d+\/\d+/m);
    assert.match(r.stdout, /^PASS arm64 model: 40 runs, seed 3, rules covered \d+\/\d+/m);
  });

  it('the same seed gives the same run', () => {
    const a = hvspec(CLI, 'check', '--arch', 'arm64', '--runs', '25', '--seed', '9', '--json');
    const b = hvspec(CLI, 'check', '--arch', 'arm64', '--runs', '25', '--seed', '9', '--json');
    const [ra] = JSON.parse(a.stdout);
    const [rb] = JSON.parse(b.stdout);
    assert.deepEqual(ra.rulesCovered, rb.rulesCovered);
    assert.deepEqual(ra.exitKinds, rb.exitKinds);
  });

  it('a differential run of the model against itself finds no difference', () => {
    const r = hvspec(
      CLI,
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
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS x86_64 model\+model/m);
    assert.doesNotMatch(r.stdout, /differences/);
  });

  it('usage errors exit 2 and say what is wrong', () => {
    const r = hvspec(CLI, 'check', '--arch', 'mips');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--arch must be x86_64, arm64 or all/);
    const d = hvspec(CLI, 'check', '--diff', 'model');
    assert.equal(d.status, 2);
    assert.match(d.stderr, /--diff takes two backends/);
  });

  it('writes no counterexample directory when everything passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-check-'));
    const out = join(dir, 'cex');
    const r = hvspec(CLI, 'check', '--arch', 'x86_64', '--runs', '10', '--seed', '1', '--out', out);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.throws(() => readdirSync(out));
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
    const report = await runConformance(broken, { runs: 300, seed: 2 });
    assert.equal(report.ok, false);
    const trace = parseTrace(JSON.stringify(report.failure?.trace), 'counterexample.json');
    assert.equal(trace.steps.at(-1)?.call, 'hv_vmx_vcpu_read_vmcs');
    void readFileSync;
  });
});
