import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callSpec, callSpecs, HV, hvReturnName, type Trace } from '@hvspec/spec';
import { ExampleError, findExampleTraces, pickExample, replayExamples } from '../src/examples.js';
import { generatedExamplePath, generateExample } from '../src/generated-examples.js';
import { REPO_ROOT } from '../src/paths.js';

const all = findExampleTraces(REPO_ROOT);

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

test('a function no trace calls gets an example generated from the registry: its setup, the call, the row the spec predicts', async () => {
  // The owner-only calls on a live vCPU whose success row is [H]; generated whether or not a trace calls them.
  const flush = await generateExample('x86_64', 'hv_vcpu_flush');
  assert.equal(flush.origin, 'generated');
  assert.equal(flush.path, generatedExamplePath('x86_64', 'hv_vcpu_flush'));
  assert.deepEqual(
    flush.trace.steps.map((s) => s.call),
    ['hv_vm_create', 'hv_vcpu_create', 'hv_vcpu_flush'],
  );
  const [create, vcpu, call] = flush.trace.steps;
  assert.deepEqual(create?.expect, { ret: 'HV_SUCCESS' });
  assert.equal(vcpu?.bind, 'vcpu');
  assert.deepEqual(call?.args, { vcpu: '$vcpu' });
  assert.deepEqual(call?.expect, { ret: 'HV_SUCCESS' });
  assert.match(flush.trace.description ?? '', /hv_vcpu_flush\.ok/);

  // An MSR Apple's test makes native: the search finds the success row among the vocabulary's names.
  const msr = await generateExample('x86_64', 'hv_vcpu_enable_native_msr');
  const last = msr.trace.steps.at(-1);
  assert.equal(last?.call, 'hv_vcpu_enable_native_msr');
  assert.deepEqual(last?.expect, { ret: 'HV_SUCCESS' });
  assert.match(msr.trace.description ?? '', /hv_vcpu_enable_native_msr\.tested/);

  // A row that allows any code: the step expects none, and the description says why.
  const read = await generateExample('x86_64', 'hv_vcpu_read_msr');
  assert.equal(read.trace.steps.at(-1)?.expect, undefined);
  assert.match(read.trace.description ?? '', /allows any code/);

  // A call that needs state another call makes: hv_vm_protect succeeds only on a mapped range.
  const protect = await generateExample('arm64', 'hv_vm_protect');
  assert.deepEqual(
    protect.trace.steps.map((s) => s.call),
    ['hv_vm_create', 'host_alloc', 'hv_vm_map', 'hv_vm_protect'],
  );
  assert.deepEqual(protect.trace.steps.at(-1)?.expect, { ret: 'HV_SUCCESS' });

  // An out-value the spec predicts becomes the expectation.
  const limit = await generateExample('arm64', 'hv_vm_config_get_max_ipa_size');
  const expect = limit.trace.steps.at(-1)?.expect;
  assert.equal(expect?.ret, hvReturnName(HV.HV_SUCCESS));
  assert.equal(typeof expect?.value, 'number');

  // A call that needs a VMM's setup: a GIC and a vCPU, then a snapshot whose data it takes back.
  const restore = await generateExample('arm64', 'hv_gic_set_state');
  const calls = restore.trace.steps.map((s) => s.call);
  for (const c of ['hv_gic_create', 'hv_vcpu_create', 'hv_gic_state_create', 'hv_gic_state_get_data'])
    assert.ok(calls.includes(c), `${c} in ${calls.join(', ')}`);
  assert.ok(calls.indexOf('hv_gic_create') < calls.indexOf('hv_vcpu_create'), 'the GIC before any vCPU');
  assert.deepEqual(restore.trace.steps.at(-1)?.expect, { ret: 'HV_SUCCESS' });
  assert.match(String(restore.trace.steps.at(-1)?.args.gic_state_data), /^\$/);

  const replayed = await replayExamples([flush, msr, read, protect, limit, restore]);
  for (const r of replayed) assert.equal(r.report.status, 'pass', r.path);
});

test('every modelled function has an example that passes on the model: a trace that calls it, or one generated', async () => {
  const generated = [];
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch))
      if (!pickExample(all, arch, spec.name)) generated.push(await generateExample(arch, spec.name));
  const replayed = await replayExamples(generated);
  for (const r of replayed) {
    assert.equal(r.report.status, 'pass', r.path);
    const name = r.path.replace(/^.*\/(.*)\.json$/, '$1');
    assert.equal(r.trace.steps.at(-1)?.call, name, `${r.path} ends with the call it is about`);
  }
});

test('the generator makes a passing example for every function of the registry, so a new function gets one', async () => {
  const failed: string[] = [];
  for (const arch of ['x86_64', 'arm64'] as const) {
    const examples = [];
    for (const spec of callSpecs(arch)) examples.push(await generateExample(arch, spec.name));
    for (const e of examples) {
      const [r] = await replayExamples([e]).catch((err: Error) => {
        failed.push(err.message);
        return [];
      });
      if (r && r.report.status !== 'pass') failed.push(r.path);
      const spec = callSpec(arch, e.path.replace(/^.*\/(.*)\.json$/, '$1'));
      assert.ok(spec && e.calls.has(spec.name), e.path);
    }
  }
  assert.deepEqual(failed, []);
});
