/**
 * The interpreter through the model's real API layer (x86/model.ts): the exception bitmap decides
 * between an exit with reason 0 (VMCS_RO_VMEXIT_IRQ_INFO, _IRQ_ERROR, VMCS_RO_IDT_VECTOR_INFO readable
 * through hv_vmx_vcpu_read_vmcs) and a triple fault (reason 2); the acceptance case of a real-mode
 * VMCALL; and generated scenarios of every mode conform when run by the spec's own VMM loop.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AddressSpace, Uva, Vcpu, X86Backend } from '../../../spec/src/backend.js';
import { X86_MODES } from '../../../spec/src/guest/x86/actions.js';
import { runX86Scenario, type X86Layout, x86ScenarioArb } from '../../../spec/src/guest/x86/scenario.js';
import { x86SetupSteps } from '../../../spec/src/guest/x86/setup.js';
import { HV } from '../../../spec/src/vocabulary/returns.js';
import { HV_X86_REG, IO_QUAL, VMCS, VMX_REASON } from '../../../spec/src/vocabulary/x86.js';
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

test('an exit loop sees each exit as it is: alternating ports, then new code, a new mapping and a new permission between runs', () => {
  // The exit path reuses what repeats (I/O stops, the code page's host bytes from run to run while the
  // mappings stay the same, read results): none of it may outlive a change. L: out 0x10, al; out 0x20, al; jmp L
  const { m, cpu, layout } = vm();
  m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0xe6, 0x10, 0xe6, 0x20, 0xeb, 0xfa]));
  setup(m, cpu);
  const io = (port: number): bigint => BigInt((port << IO_QUAL.PORT_SHIFT) | IO_QUAL.IMMEDIATE);
  const exit = (reason: number, rip: bigint, qualification?: bigint): void => {
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), BigInt(reason));
    assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), rip);
    if (qualification !== undefined) assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), qualification);
  };
  const skip = (): void => {
    const next = read(m, cpu, VMCS.VMCS_GUEST_RIP) + read(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, next).ret, HV.HV_SUCCESS);
  };
  for (let i = 0; i < 3; i++) {
    exit(VMX_REASON.VMX_REASON_IO, CODE, io(0x10));
    skip();
    exit(VMX_REASON.VMX_REASON_IO, CODE + 2n, io(0x20));
    skip();
  }
  // The host rewrites the code between two runs: the next run fetches the new bytes (out 0x30, al).
  m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0xe6, 0x30]));
  exit(VMX_REASON.VMX_REASON_IO, CODE, io(0x30));
  // Another buffer mapped at the same address: hlt.
  assert.equal(m.hv_vm_unmap(0, CODE, 0x1000n).ret, HV.HV_SUCCESS);
  const other = m.host_alloc(0x1000);
  m.host_write(other, 0, Uint8Array.from([0xf4]));
  assert.equal(m.hv_vm_map(0, { mem: other, offset: 0 }, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  exit(VMX_REASON.VMX_REASON_HLT, CODE);
  // Read-only now: the fetch is an EPT violation.
  assert.equal(m.hv_vm_protect(0, CODE, 0x1000n, 1).ret, HV.HV_SUCCESS);
  exit(VMX_REASON.VMX_REASON_EPT_VIOLATION, CODE);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_PHYSICAL_ADDRESS), CODE);
  // Executable again: the same buffer's hlt.
  assert.equal(m.hv_vm_protect(0, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  exit(VMX_REASON.VMX_REASON_HLT, CODE);
  // Another address space with other code at the same address (out 0x40, al), then back.
  const asid = m.hv_vm_space_create(0).value!;
  const third = m.host_alloc(0x1000);
  m.host_write(third, 0, Uint8Array.from([0xe6, 0x40]));
  assert.equal(m.hv_vm_map_space(0, asid, { mem: third, offset: 0 }, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_set_space(0, cpu, asid).ret, HV.HV_SUCCESS);
  exit(VMX_REASON.VMX_REASON_IO, CODE, io(0x40));
  assert.equal(m.hv_vcpu_set_space(0, cpu, 0 as AddressSpace).ret, HV.HV_SUCCESS);
  exit(VMX_REASON.VMX_REASON_HLT, CODE);
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

test('#GP intercepted on the way: reason 0 with IDT-vectoring information readable through the API; a guest IDT gate is unsupported', () => {
  const { m, cpu, layout } = vm();
  m.host_write(layout.code.uva.mem, 0, Uint8Array.from([0x0f, 0x0b]));
  setup(m, cpu);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_EXC_BITMAP, 1n << 13n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 0n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_INFO), 0x8000_0b0dn);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_IRQ_ERROR), 0x33n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_IDT_VECTOR_INFO), 0x8000_0306n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE);
  // A gate inside the IDT limit: protected-mode delivery through it is outside the model.
  const g = vm();
  g.m.host_write(g.layout.code.uva.mem, 0, Uint8Array.from([0x0f, 0x0b]));
  setup(g.m, g.cpu);
  assert.equal(g.m.hv_vmx_vcpu_write_vmcs(0, g.cpu, VMCS.VMCS_CTRL_EXC_BITMAP, 0n).ret, HV.HV_SUCCESS);
  assert.equal(g.m.hv_vmx_vcpu_write_vmcs(0, g.cpu, VMCS.VMCS_GUEST_IDTR_LIMIT, 0xfffn).ret, HV.HV_SUCCESS);
  assert.equal(g.m.hv_vcpu_run(0, g.cpu).ret, HV.HV_ERROR);
  assert.match(g.m.model_last_unsupported(g.cpu)?.reason ?? '', /IDT gate is outside the subset/);
});

test('acceptance: a real-mode guest at reset state running mov eax, 0x23456; vmcall exits with VMX_REASON_VMCALL, RAX 0x23456, RIP at the vmcall, length 3', () => {
  const m = createX86Model({ engines: { x86: x86Engine } });
  assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  const mem = m.host_alloc(0x1000);
  assert.equal(m.hv_vm_map(0, { mem, offset: 0 }, 0x1000n, 0x1000n, 5).ret, HV.HV_SUCCESS);
  m.host_write(mem, 0, Uint8Array.from([0x66, 0xb8, 0x56, 0x34, 0x02, 0x00, 0x0f, 0x01, 0xc1]));
  const cpu = m.hv_vcpu_create(0, 0n).value!;
  for (const s of x86SetupSteps((id) => m.hv_vmx_read_capability(0, id).value ?? 0n, 'real', 0x1000n))
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, s.field, s.value).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 18n);
  assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RAX).value, 0x23456n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), 0x1006n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), 3n);
});

/** A VM for `mode`: code (R|X) at 0x10000, RW/R/X data pages, page tables (RW) at 0x30000. */
function modeVm(): { m: X86Model; cpu: Vcpu; layout: X86Layout } {
  const m = createX86Model({ engines: { x86: x86Engine } });
  assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  const mem = m.host_alloc(0x8000);
  const u = (offset: number): Uva => ({ mem, offset });
  const mappings = [
    { gpa: CODE, size: 0x1000n, flags: 5, uva: u(0) },
    { gpa: 0x8000n, size: 0x1000n, flags: 3, uva: u(0x1000) },
    { gpa: 0x9000n, size: 0x1000n, flags: 1, uva: u(0x2000) },
    { gpa: 0xb000n, size: 0x1000n, flags: 4, uva: u(0x3000) },
    { gpa: 0x30000n, size: 0x3000n, flags: 3, uva: u(0x4000) },
  ];
  for (const x of mappings) assert.equal(m.hv_vm_map(0, x.uva, x.gpa, x.size, x.flags).ret, HV.HV_SUCCESS);
  const cpu = m.hv_vcpu_create(0, 0n).value!;
  return {
    m,
    cpu,
    layout: {
      mappings,
      code: { gpa: CODE, size: 0x1000, uva: u(0) },
      tables: { gpa: 0x30000n, uva: u(0x4000) },
    },
  };
}

for (const mode of X86_MODES) {
  test(`generated ${mode} scenarios conform on the model through runX86Scenario, and reach the mode's exit kinds`, () => {
    const covered = new Set<string>();
    fc.assert(
      // Every modeVm() has the same layout; each run gets a fresh one with its own buffers.
      fc.property(x86ScenarioArb(modeVm().layout, mode), (s) => {
        const { m, cpu, layout } = modeVm();
        const report = runX86Scenario(m as unknown as X86Backend, 0, cpu, { ...s, layout });
        assert.deepEqual(report.mismatches, []);
        assert.equal(report.unsupported, undefined);
        for (const k of report.exitsCovered) covered.add(k);
      }),
      { numRuns: 250, seed: 11 },
    );
    const want = [
      'vmcall',
      'cpuid',
      'rdmsr',
      'wrmsr',
      'hlt',
      'cr.write.cr0',
      'cr.read.cr3',
      'dr.write',
      'dr.read',
      'io.outs.rep',
      'io.ins',
      'exception.ud',
      'exception.gp.vectoring',
      'exception.df.vectoring',
      'triple-fault',
      'ept.read.unmapped',
      'ept.fetch.unmapped',
      'end',
      ...(mode === 'prot32-paging' || mode === 'long64' ? ['exception.pf', 'ept.paging-structure'] : []),
      ...(mode === 'long64' ? ['cr.write.cr8', 'cr.read.cr8'] : []),
    ].map((k) => `x86.${mode}.${k}`);
    assert.deepEqual(
      want.filter((k) => !covered.has(k)),
      [],
      [...covered].join(' '),
    );
  });
}
