import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callSpecs, type Trace } from '@hvspec/spec';
import { ExampleError, findExampleTraces, pickExample, replayExamples } from '../src/examples.js';
import { REPO_ROOT } from '../src/paths.js';

const all = findExampleTraces(REPO_ROOT);

test('every modelled function of each flavour has an example trace that calls it', () => {
  const missing: string[] = [];
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch))
      if (!pickExample(all, arch, spec.name)) missing.push(`${arch} ${spec.name}`);
  assert.deepEqual(missing, [], 'add an example under packages/docs/examples/<arch>/');
});

test('the example is a trace about the function (its title names it), then a reference example, then the shortest', () => {
  const eptp = pickExample(all, 'x86_64', 'hv_vmx_vcpu_read_vmcs');
  assert.match(eptp?.trace.title ?? '', /hv_vmx_vcpu_read_vmcs\(VMCS_CTRL_EPTP\)/);
  const vmConfig = pickExample(all, 'arm64', 'hv_vm_config_get_ipa_size');
  assert.equal(vmConfig?.path, 'packages/docs/examples/arm64/vm-config.json');
  const lengths = (name: string): number[] =>
    all.filter((e) => e.arch === 'arm64' && e.calls.has(name)).map((e) => e.trace.steps.length);
  const sysreg = pickExample(all, 'arm64', 'hv_vcpu_set_sys_reg');
  assert.ok(sysreg && !/\bhv_vcpu_set_sys_reg\b/.test(sysreg.trace.title));
  assert.ok(
    sysreg.origin === 'docs' || sysreg.trace.steps.length === Math.min(...lengths('hv_vcpu_set_sys_reg')),
  );
});

test('the reference examples pass on the model', async () => {
  const mine = all.filter((e) => e.origin === 'docs');
  assert.ok(mine.length >= 8);
  const replayed = await replayExamples(mine);
  for (const r of replayed) assert.equal(r.report.status, 'pass', r.path);
});

test('a broken example fails the build, naming the file and the step', async () => {
  const good = all.find((e) => e.path.endsWith('arm64/vm-config.json'));
  assert.ok(good);
  const steps = good.trace.steps.map((s, i) =>
    i === 2 ? { ...s, expect: { ret: 'HV_SUCCESS', value: 40 } } : s,
  );
  const broken = { ...good, trace: { ...good.trace, steps } as Trace };
  await assert.rejects(replayExamples([broken]), (e: unknown) => {
    assert.ok(e instanceof ExampleError);
    assert.match(e.message, /vm-config\.json: step 2 \(hv_vm_config_get_ipa_size\) fail/);
    return true;
  });
});
