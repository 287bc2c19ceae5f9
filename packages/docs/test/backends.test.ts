import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNativeBackend, nativeAvailability } from '@hvspec/native';
import { type Capabilities, callSpec, type Deviation, HV_MEMORY } from '@hvspec/spec';
import { type BackendLoaders, describeBackends, deviationTouches, type El2Module } from '../src/backends.js';

const spec = (name: string) => {
  const s = callSpec('x86_64', name);
  assert.ok(s, name);
  return s;
};

test('a deviation touches the functions it concerns, by what it declares', () => {
  const execOnly: Deviation = {
    id: 't.exec-only',
    description: 'execute-only memory is readable',
    permissions: [HV_MEMORY.EXEC],
  };
  const runUntil: Deviation = {
    id: 't.run-until',
    description: 'hv_vcpu_run_until with a finite deadline returns HV_UNSUPPORTED',
  };
  const controls: Deviation = {
    id: 't.controls',
    description: 'control fields are stored but have no effect',
    exitReasons: [10],
  };
  assert.ok(deviationTouches(execOnly, spec('hv_vm_map')));
  assert.ok(deviationTouches(execOnly, spec('hv_vm_protect')));
  assert.ok(deviationTouches(execOnly, spec('hv_vcpu_run')));
  assert.ok(!deviationTouches(execOnly, spec('hv_vcpu_read_register')));
  assert.ok(deviationTouches(runUntil, spec('hv_vcpu_run_until')));
  assert.ok(!deviationTouches(runUntil, spec('hv_vm_create')));
  assert.ok(deviationTouches(controls, spec('hv_vmx_vcpu_write_vmcs')));
  assert.ok(deviationTouches(controls, spec('hv_vcpu_run')), 'it rules out exit reasons');
  assert.ok(!deviationTouches(controls, spec('hv_vm_map')));
  const counter: Deviation = { id: 't.time', description: 'the virtual counter is the emulator’s' };
  const arm = callSpec('arm64', 'hv_vcpu_set_vtimer_offset');
  assert.ok(arm && deviationTouches(counter, arm));
  assert.ok(!deviationTouches(counter, spec('hv_vm_map')));
  const noGic: Deviation = { id: 't.no-gic', description: 'no GIC', calls: ['hv_gic_reset'] };
  const reset = callSpec('arm64', 'hv_gic_reset');
  assert.ok(reset && deviationTouches(noGic, reset), 'a call it declares missing');
  assert.ok(!deviationTouches(noGic, spec('hv_vm_map')));
});

const gone: BackendLoaders = {
  native: () => Promise.reject(new Error('addon not built')),
  el2: () => Promise.reject(new Error('el2 not built')),
};

test('a backend that does not load is listed with why and how to get it, and no deviations', async () => {
  const backends = await describeBackends(gone);
  assert.deepEqual(
    backends.filter((b) => b.backend === 'model').map((b) => b.arch),
    ['x86_64', 'arm64'],
  );
  const native = backends.find((b) => b.backend === 'native');
  assert.ok(native);
  assert.match(native.unavailable ?? '', /addon not built/);
  assert.equal(native.arch, undefined, 'the host decides the flavour');
  assert.deepEqual(native.deviations, []);
  assert.equal(native.capabilities, undefined);
  const el2 = backends.find((b) => b.backend === 'el2');
  assert.ok(el2);
  assert.equal(el2.arch, 'arm64');
  assert.match(el2.unavailable ?? '', /el2 not built/);

  const unavailable = await describeBackends({
    native: async () => ({
      nativeAvailability: () => ({ available: false, reason: 'no /dev/kvm', fix: 'enable KVM' }),
      createNativeBackend: () => {
        throw new Error('not called');
      },
    }),
    el2: async () => ({
      el2Availability: () => ({ available: false, reason: 'qemu-system-aarch64 is not installed' }),
      createEl2Backend: () => {
        throw new Error('not called');
      },
      EL2_INSTALL_COMMAND: 'apt-get install -y qemu-system-arm',
    }),
  });
  const n = unavailable.find((b) => b.backend === 'native');
  assert.equal(n?.unavailable, 'no /dev/kvm');
  assert.equal(n?.fix, 'enable KVM');
  const e = unavailable.find((b) => b.backend === 'el2');
  assert.equal(e?.unavailable, 'qemu-system-aarch64 is not installed');
  assert.equal(e?.fix, 'apt-get install -y qemu-system-arm', 'the install command when el2 gives no fix');
});

test('a backend that loads is described by the capabilities it declares', async () => {
  const caps: Capabilities = {
    backend: 'el2',
    arch: 'arm64',
    pageSize: 16384,
    maxVcpus: 8,
    guestExecution: true,
    enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
    deviations: [{ id: 'el2.test', description: 'declared by the backend itself' }],
  };
  let closed = false;
  const el2: El2Module = {
    el2Availability: () => ({ available: true, qemuVersion: 'QEMU emulator version 0.0' }),
    createEl2Backend: () => ({
      capabilities: caps,
      close: async () => {
        closed = true;
      },
    }),
  };
  const backends = await describeBackends({ ...gone, el2: async () => el2 });
  const b = backends.find((x) => x.backend === 'el2');
  assert.equal(b?.capabilities, caps);
  assert.deepEqual(
    b?.deviations.map((d) => d.id),
    ['el2.test'],
  );
  assert.match(b?.what ?? '', /QEMU emulator version 0\.0/);
  assert.ok(closed, 'the backend is closed again');
});

const native = nativeAvailability();
test("the native backend's deviations are the ones it declares when it loads", {
  skip: native.available ? false : `the native backend does not load here: ${native.reason}`,
}, async () => {
  const backends = await describeBackends({ el2: gone.el2 });
  const b = backends.find((x) => x.backend === native.backend);
  assert.ok(b?.capabilities);
  const own = createNativeBackend();
  try {
    assert.deepEqual(b.deviations, own.capabilities.deviations);
  } finally {
    await own.close();
  }
  for (const d of b.deviations) assert.ok(d.id && d.description, 'every deviation has an id and words');
});
