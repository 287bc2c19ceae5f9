// The conformance harness run against the model, and against deliberately broken variants of it:
// the harness must pass the first and catch, shrink and trace each of the others.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Backend, HV, runConformance, VMCS } from '@hvspec/spec';
import { createModel } from '../src/create.ts';

const small = { maxVcpus: 3, maxAddressSpaces: 3 };

/** A backend that answers like `inner` except where `patch` says otherwise. */
function broken<B extends Backend>(
  inner: B,
  patch: Partial<Record<string, (...args: never[]) => unknown>>,
): B {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const p = typeof prop === 'string' ? patch[prop] : undefined;
      if (p) return p;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('conformance of the model', () => {
  for (const arch of ['x86_64', 'arm64'] as const) {
    it(`${arch}: passes, and covers every rule row that does not need guest execution`, async () => {
      // arm64 has twice the calls of x86 (the GIC's): three times the runs reach every row as often.
      const runs = arch === 'arm64' ? 3000 : 1000;
      const report = await runConformance(createModel(arch, small), { runs, seed: 6 });
      assert.equal(report.ok, true, report.failure?.message);
      const uncovered = report.rulesTotal.filter(
        (id) => !report.rulesCovered.includes(id) && !id.endsWith('.guest'),
      );
      assert.deepEqual(uncovered, []);
    });
  }
});

describe('the harness catches broken backends', () => {
  it('x86: a backend that lets the VMM read VMCS_CTRL_EPTP is caught and shrunk to a short trace', async () => {
    const model = createModel('x86_64', small);
    const bad = broken(model, {
      // The bug: once the call is otherwise valid (a live vCPU, its owner), EPTP reads succeed.
      hv_vmx_vcpu_read_vmcs: ((t: number, vcpu: never, field: number) => {
        const valid = model.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP).ret === HV.HV_SUCCESS;
        return field === VMCS.VMCS_CTRL_EPTP && valid
          ? { ret: HV.HV_SUCCESS, value: 0n }
          : model.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
      }) as never,
    });
    const report = await runConformance(bad, { runs: 300, seed: 6 });
    assert.equal(report.ok, false);
    assert.match(
      report.failure?.message ?? '',
      /hv_vmx_vcpu_read_vmcs\.eptp: expected HV_BAD_ARGUMENT, got HV_SUCCESS/,
    );
    const calls =
      report.failure?.trace.steps.filter((s) => (s as { call: string }).call.startsWith('hv_')) ?? [];
    // hv_vm_create, hv_vcpu_create, hv_vmx_vcpu_read_vmcs: nothing else is needed to show the bug.
    assert.ok(calls.length <= 3, `shrunk to ${calls.length} calls:\n${report.failure?.commands}`);
    const last = calls.at(-1) as { call: string; args: { field: number }; expect: { ret: string } };
    assert.equal(last.call, 'hv_vmx_vcpu_read_vmcs');
    assert.equal(last.expect.ret, 'HV_BAD_ARGUMENT');
  });

  it('arm64: a backend that accepts overlapping mappings is caught; the trace ends with the overlapping hv_vm_map', async () => {
    const model = createModel('arm64', small);
    const bad = broken(model, {
      hv_vm_map: ((...args: Parameters<typeof model.hv_vm_map>) => {
        const r = model.hv_vm_map(...args);
        return r.ret === HV.HV_ERROR ? { ret: HV.HV_SUCCESS } : r;
      }) as never,
    });
    const report = await runConformance(bad, { runs: 300, seed: 6 });
    assert.equal(report.ok, false);
    assert.match(report.failure?.message ?? '', /hv_vm_map\.overlap: expected HV_ERROR, got HV_SUCCESS/);
    const steps = report.failure?.trace.steps as { call: string }[];
    assert.equal(steps.at(-1)?.call, 'hv_vm_map');
    assert.ok(steps.length <= 5, `trace of ${steps.length} steps`);
  });

  it('arm64: a backend that forgets to clear pending interrupts on a canceled run is caught', async () => {
    const model = createModel('arm64', small);
    const pending = new Map<number, boolean>();
    const bad = broken(model, {
      hv_vcpu_set_pending_interrupt: ((t: number, vcpu: number, type: number, value: boolean) => {
        const r = model.hv_vcpu_set_pending_interrupt(t, vcpu as never, type, value);
        if (r.ret === 0 && type === 0) pending.set(vcpu, value);
        return r;
      }) as never,
      hv_vcpu_get_pending_interrupt: ((t: number, vcpu: number, type: number) => {
        const r = model.hv_vcpu_get_pending_interrupt(t, vcpu as never, type);
        return r.ret === 0 && type === 0 && pending.get(vcpu) ? { ret: 0, value: true } : r;
      }) as never,
    });
    const report = await runConformance(bad, { runs: 500, seed: 5 });
    assert.equal(report.ok, false);
    assert.match(
      report.failure?.message ?? '',
      /hv_vcpu_get_pending_interrupt\.ok: value: expected false, got true/,
    );
  });
});
