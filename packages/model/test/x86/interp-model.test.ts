/**
 * Guest exceptions through the model's real API layer (x86-model.ts) with the interpreter: the
 * exception bitmap decides between an exit with reason 0 (VMCS_RO_VMEXIT_IRQ_INFO readable through
 * hv_vmx_vcpu_read_vmcs) and a triple fault (reason 2), and generated scenarios with both bitmaps
 * conform when run by the spec's own VMM loop.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Uva, Vcpu, X86Backend } from '../../../spec/src/backend.js';
import { runX86Scenario, type X86Layout, x86ScenarioArb } from '../../../spec/src/guest/x86/scenario.js';
import { x86SetupSteps } from '../../../spec/src/guest/x86/setup.js';
import { HV } from '../../../spec/src/vocabulary/returns.js';
import { VMCS } from '../../../spec/src/vocabulary/x86.js';
import { createX86Model } from '../../src/create.js';
import { x86Engine } from '../../src/x86/interp.js';
import type { X86Model } from '../../src/x86/model.js';

const CODE = 0x10000n;

/** A VM with a code page (R|X) at 0x10000 and a RW page at 0x20000, and one vCPU on thread 0. */
function vm(): { m: X86Model; cpu: Vcpu; layout: X86Layout } {
  const m = createX86Model({ engines: { x86: x86Engine } });
  assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  const mem = m.host_alloc(0x2000);
  const code: Uva = { mem, offset: 0 };
  const data: Uva = { mem, offset: 0x1000 };
  assert.equal(m.hv_vm_map(0, code, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vm_map(0, data, 0x20000n, 0x1000n, 3).ret, HV.HV_SUCCESS);
  const cpu = m.hv_vcpu_create(0, 0n).value!;
  return {
    m,
    cpu,
    layout: {
      mappings: [
        { gpa: CODE, size: 0x1000n, flags: 5, uva: code },
        { gpa: 0x20000n, size: 0x1000n, flags: 3, uva: data },
      ],
      code: { gpa: CODE, size: 0x1000, uva: code },
    },
  };
}

function setup(m: X86Model, cpu: Vcpu): void {
  for (const s of x86SetupSteps((id) => m.hv_vmx_read_capability(0, id).value ?? 0n, 'prot32', CODE))
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, s.field, s.value).ret, HV.HV_SUCCESS);
}

const read = (m: X86Model, cpu: Vcpu, field: number): bigint => {
  const r = m.hv_vmx_vcpu_read_vmcs(0, cpu, field);
  assert.equal(r.ret, HV.HV_SUCCESS);
  return r.value!;
};

test('ud2 under the canonical setup: reason 0, VMCS_RO_VMEXIT_IRQ_INFO 0x80000306, RIP at the ud2', () => {
  const { m, cpu, layout } = vm();
  m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0x90, 0x0f, 0x0b, 0xf4]));
  setup(m, cpu);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 0n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_INFO), 0x8000_0306n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), 0n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE + 1n);
  // The VMM skips the ud2; the next exit (HLT) has the event information cleared again.
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, CODE + 3n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 12n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_INFO), 0n);
  // The field is read-only for the VMM.
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_INFO, 0n).ret, HV.HV_BAD_ARGUMENT);
});

test('ud2 with VMCS_CTRL_EXC_BITMAP 0 and IDTR limit 0: triple fault (reason 2)', () => {
  const { m, cpu, layout } = vm();
  m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0x0f, 0x0b]));
  setup(m, cpu);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_EXC_BITMAP, 0n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 2n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_INFO), 0n);
});

test('an exception the model cannot deliver (a guest IDT, or #GP intercepted on the way) is its unsupported result', () => {
  for (const [bitmap, idtrLimit] of [
    [0n, 0xfffn],
    [1n << 13n, 0n],
  ] as const) {
    const { m, cpu, layout } = vm();
    m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0x0f, 0x0b]));
    setup(m, cpu);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_EXC_BITMAP, bitmap).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_IDTR_LIMIT, idtrLimit).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_ERROR);
    assert.match(m.model_last_unsupported(cpu)?.reason ?? '', /outside the model/);
  }
});

test('generated scenarios, with both exception bitmaps, conform on the model through runX86Scenario', () => {
  const covered = new Set<string>();
  fc.assert(
    // Every vm() has the same layout; each run gets a fresh one with its own buffers.
    fc.property(x86ScenarioArb(vm().layout), (s) => {
      const { m, cpu, layout } = vm();
      const report = runX86Scenario(m as unknown as X86Backend, 0, cpu, { ...s, layout });
      assert.deepEqual(report.mismatches, []);
      assert.equal(report.unsupported, undefined);
      for (const k of report.exitsCovered) covered.add(k);
    }),
    { numRuns: 150, seed: 11 },
  );
  assert.ok(covered.has('x86.exception.ud'), [...covered].join(' '));
  assert.ok(covered.has('x86.triple-fault'), [...covered].join(' '));
});
