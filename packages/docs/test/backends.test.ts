import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callSpec, HV_MEMORY } from '@hvspec/spec';
import {
  describeBackends,
  deviationTouches,
  evalMaskExpression,
  staticProviderDeviations,
} from '../src/backends.js';
import { REPO_ROOT } from '../src/paths.js';

test('the C mask expressions of the provider table evaluate as C does', () => {
  assert.equal(evalMaskExpression('0'), 0);
  assert.equal(evalMaskExpression('1u << HV_MEMORY_EXEC'), 1 << 4);
  assert.equal(evalMaskExpression('1u << (HV_MEMORY_WRITE | HV_MEMORY_EXEC)'), 1 << 6);
  assert.equal(evalMaskExpression('(1u << 1) | (1u << 2) | (1u << 3)'), 0b1110);
  assert.throws(() => evalMaskExpression('1 + 2'));
  assert.throws(() => evalMaskExpression('HV_MEMORY_UNKNOWN'));
});

test("the KVM provider's static deviations are read from its source, with permissions and exit reasons", () => {
  const devs = staticProviderDeviations(REPO_ROOT);
  const byId = new Map(devs.map((d) => [d.id, d]));
  assert.ok(devs.length >= 8, `only ${devs.length} deviations`);
  assert.deepEqual(byId.get('kvm.exec-only')?.permissions, [HV_MEMORY.EXEC]);
  assert.deepEqual(byId.get('kvm.write-exec')?.permissions, [HV_MEMORY.WRITE | HV_MEMORY.EXEC]);
  assert.ok(byId.get('kvm.controls')?.exitReasons?.includes(10), 'CPUID exits are never reported');
  assert.match(byId.get('kvm.run-until')?.description ?? '', /hv_vcpu_run_until with a finite deadline/);
  for (const d of devs) assert.ok(!d.description.includes('" "'), `${d.id}: C string pieces joined`);
});

test('a deviation touches the functions it concerns', () => {
  const devs = new Map(staticProviderDeviations(REPO_ROOT).map((d) => [d.id, d]));
  const spec = (name: string) => {
    const s = callSpec('x86_64', name);
    assert.ok(s, name);
    return s;
  };
  const touches = (id: string, name: string): boolean => {
    const d = devs.get(id);
    assert.ok(d, id);
    return deviationTouches(d, spec(name));
  };
  assert.ok(touches('kvm.exec-only', 'hv_vm_map'));
  assert.ok(touches('kvm.exec-only', 'hv_vm_protect'));
  assert.ok(touches('kvm.exec-only', 'hv_vcpu_run'));
  assert.ok(!touches('kvm.exec-only', 'hv_vcpu_read_register'));
  assert.ok(touches('kvm.run-until', 'hv_vcpu_run_until'));
  assert.ok(!touches('kvm.run-until', 'hv_vm_create'));
  assert.ok(touches('kvm.address-spaces', 'hv_vm_space_create'));
  assert.ok(touches('kvm.controls', 'hv_vmx_vcpu_write_vmcs'));
});

test('without the native addon the reference still shows the provider deviations, and says why', async () => {
  const backends = await describeBackends(REPO_ROOT, () => Promise.reject(new Error('addon not built')));
  const kvm = backends.find((b) => b.backend === 'native-kvm');
  assert.ok(kvm);
  assert.match(kvm.unavailable ?? '', /addon not built/);
  assert.match(kvm.source, /provider\/vm\.cc/);
  assert.ok(kvm.deviations.some((d) => d.id === 'kvm.exec-only'));
  assert.deepEqual(
    backends.filter((b) => b.backend === 'model').map((b) => b.arch),
    ['x86_64', 'arm64'],
  );
  const unavailable = await describeBackends(REPO_ROOT, async () => ({
    nativeAvailability: () => ({ available: false, reason: 'no /dev/kvm', fix: 'enable KVM' }),
    createNativeBackend: () => {
      throw new Error('not called');
    },
  }));
  assert.match(
    unavailable.find((b) => b.backend === 'native-kvm')?.unavailable ?? '',
    /no \/dev\/kvm \(fix: enable KVM\)/,
  );
});
