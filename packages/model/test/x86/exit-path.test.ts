/**
 * The model's fast exit path (x86/model.ts, x86/state.ts, x86/interp.ts) answers exactly as the full
 * path: a run that repeats the last one (Run.replay) sees every change of the code bytes, the mode,
 * the controls and the vCPU; the hot VMCS reads see every write; and the fast paths of run, read and
 * write keep the argument checks (TypeError naming the parameter) and the codes.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Uva, Vcpu } from '../../../spec/src/backend.js';
import { x86SetupSteps } from '../../../spec/src/guest/x86/setup.js';
import { HV } from '../../../spec/src/vocabulary/returns.js';
import {
  CPU_BASED,
  HV_VMX_CAP,
  HV_X86_REG,
  IO_QUAL,
  VMCS,
  VMX_REASON,
} from '../../../spec/src/vocabulary/x86.js';
import { createX86Model } from '../../src/create.js';
import { x86Engine } from '../../src/x86/interp.js';
import type { X86Model } from '../../src/x86/model.js';
import { MODEL_VMX_CAPABILITIES } from '../../src/x86/vmx-capabilities.js';

const CODE = 0x10000n;

/**
 * L: out 0x10, al; jmp L; out 0x50, al — at CODE, read+execute, in prot32 with paging off; one vCPU
 * per entry of `vcpus`, all on thread 0.
 */
function loop(vcpus = 1, mode: 'prot32' | 'real' = 'prot32'): { m: X86Model; cpus: Vcpu[]; code: Uva } {
  // A host that lets the VMM turn on I/O bitmaps (the model's own does not): the engine's other answer to I/O.
  const procbased = MODEL_VMX_CAPABILITIES[HV_VMX_CAP.HV_VMX_CAP_PROCBASED] ?? 0n;
  const vmxCapabilities = {
    ...MODEL_VMX_CAPABILITIES,
    [HV_VMX_CAP.HV_VMX_CAP_PROCBASED]: procbased | (BigInt(CPU_BASED.CPU_BASED_IO_BITMAPS) << 32n),
  };
  const m = createX86Model({ engines: { x86: x86Engine }, vmxCapabilities });
  assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  const code: Uva = { mem: m.host_alloc(0x1000), offset: 0 };
  m.host_write(code.mem, 0, Uint8Array.from([0xe6, 0x10, 0xeb, 0xfc, 0xe6, 0x50]));
  assert.equal(m.hv_vm_map(0, code, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  const cpus: Vcpu[] = [];
  for (let i = 0; i < vcpus; i++) {
    const cpu = m.hv_vcpu_create(0, 0n).value!;
    for (const s of x86SetupSteps((id) => m.hv_vmx_read_capability(0, id).value ?? 0n, mode, CODE))
      assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, s.field, s.value).ret, HV.HV_SUCCESS);
    cpus.push(cpu);
  }
  return { m, cpus, code };
}

const read = (m: X86Model, cpu: Vcpu, field: number): bigint => {
  const r = m.hv_vmx_vcpu_read_vmcs(0, cpu, field);
  assert.equal(r.ret, HV.HV_SUCCESS);
  return r.value!;
};

const ioQualification = (port: number): bigint => BigInt((port << IO_QUAL.PORT_SHIFT) | IO_QUAL.IMMEDIATE);

/** Runs once; asserts the exit's reason, RIP and (for I/O) port; then moves RIP past the instruction. */
function exit(m: X86Model, cpu: Vcpu, reason: number, rip: bigint, port?: number): void {
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), BigInt(reason));
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), rip);
  if (port === undefined) return;
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), ioQualification(port));
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), 2n);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, rip + 2n).ret, HV.HV_SUCCESS);
}

test('a repeated run sees the host rewrite the port and the jump between runs', () => {
  const { m, cpus, code } = loop();
  const cpu = cpus[0]!;
  for (let i = 0; i < 5; i++) exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  m.host_write(code.mem, 1, Uint8Array.from([0x30]));
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x30);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x30);
  // jmp +0: on to the out 0x50 at CODE + 4.
  m.host_write(code.mem, 3, Uint8Array.from([0x00]));
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE + 4n, 0x50);
  // jmp L again, then out 0x10 becomes hlt.
  m.host_write(code.mem, 0, Uint8Array.from([0xe6, 0x10, 0xeb, 0xfc]));
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, CODE + 2n).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  m.host_write(code.mem, 0, Uint8Array.from([0xf4]));
  exit(m, cpu, VMX_REASON.VMX_REASON_HLT, CODE);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), 1n);
  // RIP left at the out after its exit (read once), then a jump from there to a hlt at CODE + 4.
  m.host_write(code.mem, 0, Uint8Array.from([0xe6, 0x10, 0xeb, 0xfc, 0xf4]));
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, CODE + 2n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE);
  m.host_write(code.mem, 0, Uint8Array.from([0xeb, 0x02]));
  exit(m, cpu, VMX_REASON.VMX_REASON_HLT, CODE + 4n);
});

test('a repeated run sees a new CS base, new controls, new permissions and a kick', () => {
  const { m, cpus } = loop();
  const cpu = cpus[0]!;
  for (let i = 0; i < 3; i++) exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  // CS.base 0x1000: the jmp at CS:CODE+2 is fetched from the unmapped page after the code.
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_CS_BASE, 0x1000n).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_EPT_VIOLATION, CODE + 2n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_PHYSICAL_ADDRESS), CODE + 0x1002n);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_CS_BASE, 0n).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  // With I/O bitmaps the I/O instruction is outside the subset: HV_ERROR, RIP at the out.
  const ctl = read(m, cpu, VMCS.VMCS_CTRL_CPU_BASED);
  const bitmaps = ctl | BigInt(CPU_BASED.CPU_BASED_IO_BITMAPS);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_CPU_BASED, bitmaps).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_ERROR);
  assert.match(m.model_last_unsupported(cpu)?.reason ?? '', /I\/O bitmaps/);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_CPU_BASED, ctl).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, CODE + 2n).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  // Not executable: an EPT violation at the jmp; executable again: the loop.
  assert.equal(m.hv_vm_protect(0, CODE, 0x1000n, 1).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_EPT_VIOLATION, CODE + 2n);
  assert.equal(m.hv_vm_protect(0, CODE, 0x1000n, 5).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  // A kick between runs still ends the next run before the guest with VMX_REASON_IRQ.
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  assert.equal(m.hv_vcpu_interrupt(0, [cpu], 1).ret, HV.HV_SUCCESS);
  exit(m, cpu, VMX_REASON.VMX_REASON_IRQ, CODE + 2n);
  assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), 0n);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
});

test('a run is not repeated after a run that changed the CPU itself (a real-mode far jump), or after a register write', () => {
  // Real mode at CS 0x1000 (base CODE): IP 0 out 0x10, al; IP 2 jmp 0; IP 4 jmp far 0x1010:0000 (a hlt
  // at CODE + 0x100), and at CODE + 0x102 out 0x77, al: IP 2 under CS 0x1010.
  const { m, cpus, code } = loop(1, 'real');
  const cpu = cpus[0]!;
  m.host_write(code.mem, 4, Uint8Array.from([0xea, 0x00, 0x00, 0x10, 0x10]));
  m.host_write(code.mem, 0x100, Uint8Array.from([0xf4, 0x90, 0xe6, 0x77]));
  const run = (reason: number, ip: bigint, port?: number): void => {
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_REASON), BigInt(reason));
    assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), ip);
    if (port !== undefined) assert.equal(read(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), ioQualification(port));
  };
  const ip = (value: bigint): void =>
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, value).ret, HV.HV_SUCCESS);
  run(VMX_REASON.VMX_REASON_IO, 0n, 0x10);
  for (let i = 0; i < 3; i++) {
    ip(2n);
    run(VMX_REASON.VMX_REASON_IO, 0n, 0x10);
  }
  ip(4n);
  run(VMX_REASON.VMX_REASON_HLT, 0n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_CS), 0x1010n);
  ip(2n);
  run(VMX_REASON.VMX_REASON_IO, 2n, 0x77);
  // Back to CS 0x1000 through the register interface, then RFLAGS.VM through it: outside the subset.
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_CS_BASE, CODE).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_CS, 0x1000n).ret, HV.HV_SUCCESS);
  for (let i = 0; i < 3; i++) {
    ip(2n);
    run(VMX_REASON.VMX_REASON_IO, 0n, 0x10);
  }
  assert.equal(m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_RFLAGS, 0x2_0002n).ret, HV.HV_SUCCESS);
  ip(2n);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_ERROR);
  assert.match(m.model_last_unsupported(cpu)?.reason ?? '', /virtual-8086/);
});

test('two vCPUs on one thread, each in its own loop, see their own exits', () => {
  const { m, cpus } = loop(2);
  const [a, b] = cpus as [Vcpu, Vcpu];
  // b's loop is the out 0x50 alone, run again from CODE + 4 each time.
  for (let i = 0; i < 4; i++) {
    exit(m, a, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, b, VMCS.VMCS_GUEST_RIP, CODE + 4n).ret, HV.HV_SUCCESS);
    exit(m, b, VMX_REASON.VMX_REASON_IO, CODE + 4n, 0x50);
  }
});

test('after an exit, VMCS reads see writes through either interface', () => {
  const { m, cpus } = loop();
  const cpu = cpus[0]!;
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE + 2n);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), CODE);
  assert.equal(m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_RIP, 0x1234n).ret, HV.HV_SUCCESS);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), 0x1234n);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, 1n << 63n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RIP).value, 1n << 63n);
  assert.equal(read(m, cpu, VMCS.VMCS_GUEST_RIP), 1n << 63n);
  assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP, CODE + 2n).ret, HV.HV_SUCCESS);
  assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RIP).value, CODE + 2n);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
});

test('on the vCPU of the previous call, bad arguments still throw TypeErrors naming them and misuse keeps its codes', async () => {
  const { m, cpus } = loop();
  const cpu = cpus[0]!;
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  const bad = m as unknown as Record<string, (...a: unknown[]) => unknown>;
  const rip = VMCS.VMCS_GUEST_RIP;
  for (const [call, args, name] of [
    ['hv_vmx_vcpu_read_vmcs', [0, cpu, BigInt(VMCS.VMCS_RO_EXIT_REASON)], /^field /],
    ['hv_vmx_vcpu_read_vmcs', [0, cpu, String(VMCS.VMCS_RO_EXIT_REASON)], /^field /],
    ['hv_vmx_vcpu_read_vmcs', [0.5, cpu, VMCS.VMCS_RO_EXIT_REASON], /^t /],
    ['hv_vmx_vcpu_read_vmcs', [0, -1, VMCS.VMCS_RO_EXIT_REASON], /^vcpu /],
    ['hv_vmx_vcpu_write_vmcs', [0, cpu, rip, -1n], /^value /],
    ['hv_vmx_vcpu_write_vmcs', [0, cpu, rip, 1n << 64n], /^value /],
    ['hv_vmx_vcpu_write_vmcs', [0, cpu, rip, Number(CODE)], /^value /],
    ['hv_vmx_vcpu_write_vmcs', [0, cpu, BigInt(rip), CODE], /^field /],
    ['hv_vcpu_run', [0, String(cpu)], /^vcpu /],
    ['hv_vcpu_run', ['0', cpu], /^t /],
  ] as const) {
    exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
    assert.throws(() => bad[call]!.apply(m, args as unknown as unknown[]), {
      name: 'TypeError',
      message: name,
    });
  }
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  assert.equal(m.hv_vcpu_run(1, cpu).ret, HV.HV_BAD_ARGUMENT);
  assert.equal(m.hv_vmx_vcpu_read_vmcs(1, cpu, VMCS.VMCS_RO_EXIT_REASON).ret, HV.HV_BAD_ARGUMENT);
  assert.equal(
    m.hv_vmx_vcpu_read_vmcs(0, (cpu + 1) as Vcpu, VMCS.VMCS_RO_EXIT_REASON).ret,
    HV.HV_BAD_ARGUMENT,
  );
  assert.equal(m.hv_vmx_vcpu_write_vmcs(1, cpu, rip, CODE).ret, HV.HV_BAD_ARGUMENT);
  // An async run on another thread's vCPU makes that thread busy: the fast paths step aside.
  const t1 = m.hv_vcpu_create(1, 0n).value!;
  const running = m.hv_vcpu_run_async(1, t1);
  assert.equal(m.hv_vmx_vcpu_read_vmcs(1, t1, VMCS.VMCS_RO_EXIT_REASON).ret, HV.HV_BUSY);
  exit(m, cpu, VMX_REASON.VMX_REASON_IO, CODE, 0x10);
  assert.equal(m.hv_vcpu_interrupt(0, [t1], 1).ret, HV.HV_SUCCESS);
  await running;
  await m.close();
  assert.throws(() => m.hv_vcpu_run(0, cpu), { name: 'Error', message: /closed/ });
  assert.throws(() => m.hv_vmx_vcpu_read_vmcs(0, cpu, VMCS.VMCS_RO_EXIT_REASON), { message: /closed/ });
  assert.throws(() => m.hv_vmx_vcpu_write_vmcs(0, cpu, rip, CODE), { message: /closed/ });
});
