/**
 * The bench's guest programs do what the bench says they measure: one iteration of each on the model
 * produces the expected exits and register values, the encodings are pinned byte for byte, and (when
 * this host has a native backend) the native exit loop and its C baseline see I/O exits too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '@hvspec/model';
import {
  type Arm64Backend,
  ESR_EC,
  HV,
  HV_EXIT_REASON,
  HV_REG,
  HV_X86_REG,
  IO_QUAL,
  VMCS,
  VMX_REASON,
  type X86Backend,
} from '@hvspec/spec';
import {
  arm64ExitLoopProgram,
  arm64ExitRoundTrips,
  arm64ThroughputProgram,
  arm64ThroughputRun,
  BENCH_PORT,
  CODE_GPA,
  exitEc,
  setupArm64Guest,
  setupX86Guest,
  setupX86LongGuest,
  throughputInstructions,
  x86ExitLoopProgram,
  x86ExitRoundTrips,
  x86LongThroughputProgram,
  x86ThroughputProgram,
  x86ThroughputRun,
} from '../src/guests.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('encodings are pinned byte for byte', () => {
  assert.equal(hex(x86ThroughputProgram(0x12345678).bytes), 'b97856341283c0014975fae610');
  assert.equal(hex(x86ExitLoopProgram().bytes), 'e610ebfc');
  assert.equal(hex(x86LongThroughputProgram(0x12345678).bytes), 'b97856341283c001ffc975f9e610');
  // Little-endian words: movz x1, #0x1234 = d2824681; add; subs; b.ne -8; hvc #0.
  assert.equal(
    hex(arm64ThroughputProgram(0x1234).bytes),
    '814682d2' + '00040091' + '210400f1' + 'c1ffff54' + '020000d4',
  );
  assert.equal(hex(arm64ExitLoopProgram().bytes), '020000d4' + 'ffffff17');
  assert.equal(throughputInstructions(10), 32);
  assert.throws(() => arm64ThroughputProgram(0x10000), TypeError);
  assert.throws(() => x86ThroughputProgram(0), TypeError);
});

function reg(b: X86Backend, vcpu: Parameters<X86Backend['hv_vcpu_read_register']>[1], r: number): bigint {
  const v = b.hv_vcpu_read_register(0, vcpu, r);
  assert.equal(v.ret, HV.HV_SUCCESS);
  return v.value! & 0xffff_ffffn;
}
function vmcs(b: X86Backend, vcpu: Parameters<X86Backend['hv_vmx_vcpu_read_vmcs']>[1], f: number): bigint {
  const v = b.hv_vmx_vcpu_read_vmcs(0, vcpu, f);
  assert.equal(v.ret, HV.HV_SUCCESS);
  return v.value!;
}

test('x86 throughput loop in long mode with paging on the model: 64-bit code through the canonical page tables', () => {
  const b = createModel('x86_64');
  const p = x86LongThroughputProgram(1000);
  const g = setupX86LongGuest(b, 0, p);
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_CR0), 0x8000_0021n, 'paging on');
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_IA32_EFER), 0x500n, 'IA-32e mode');
  assert.equal(x86ThroughputRun(g), VMX_REASON.VMX_REASON_IO);
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_RIP), CODE_GPA + BigInt(p.exitAt));
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), BigInt(p.exitLength));
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RAX), 1000n);
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RCX), 0n);
  assert.equal(x86ThroughputRun(g), VMX_REASON.VMX_REASON_IO);
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RAX), 2000n);
});

test('x86 throughput loop on the model: runs the loop to completion, then the out exits', () => {
  const b = createModel('x86_64');
  const p = x86ThroughputProgram(1000);
  const g = setupX86Guest(b, 0, p);
  assert.equal(x86ThroughputRun(g), VMX_REASON.VMX_REASON_IO);
  const qual = vmcs(b, g.vcpu, VMCS.VMCS_RO_EXIT_QUALIFIC);
  assert.equal(Number(qual >> BigInt(IO_QUAL.PORT_SHIFT)) & 0xffff, BENCH_PORT);
  assert.equal(Number(qual) & IO_QUAL.IN, 0, 'an OUT');
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_RIP), CODE_GPA + BigInt(p.exitAt));
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), BigInt(p.exitLength));
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RAX), 1000n, 'add eax, 1 ran 1000 times');
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RCX), 0n);
  // Each iteration starts from the top: a second run adds another 1000.
  assert.equal(x86ThroughputRun(g), VMX_REASON.VMX_REASON_IO);
  assert.equal(reg(b, g.vcpu, HV_X86_REG.HV_X86_RAX), 2000n);
});

test('x86 exit loop on the model: every run is one I/O exit at the out, and the VMM advances RIP', () => {
  const b = createModel('x86_64');
  const g = setupX86Guest(b, 0, x86ExitLoopProgram());
  assert.equal(x86ExitRoundTrips(g, 5), 5, 'five I/O exits out of five runs');
  // The VMM loop left RIP past the out, on the jmp back.
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_RIP), CODE_GPA + 2n);
  assert.equal(b.hv_vcpu_run(0, g.vcpu).ret, HV.HV_SUCCESS);
  assert.equal(Number(vmcs(b, g.vcpu, VMCS.VMCS_RO_EXIT_REASON) & 0xffffn), VMX_REASON.VMX_REASON_IO);
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_GUEST_RIP), CODE_GPA, 'the jmp went back to the out');
  assert.equal(vmcs(b, g.vcpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), 2n);
});

test('arm64 throughput loop on the model: runs the loop to completion, then the hvc exits', () => {
  const b = createModel('arm64');
  const p = arm64ThroughputProgram(1000);
  const g = setupArm64Guest(b, 0, p);
  const exit = arm64ThroughputRun(g);
  assert.equal(exit.reason, HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION);
  assert.equal(exitEc(exit), ESR_EC.HVC64);
  assert.equal(b.hv_vcpu_get_reg(0, g.vcpu, HV_REG.HV_REG_X0).value, 1000n, 'add x0, x0, #1 ran 1000 times');
  assert.equal(b.hv_vcpu_get_reg(0, g.vcpu, HV_REG.HV_REG_X1).value, 0n);
  assert.equal(
    b.hv_vcpu_get_reg(0, g.vcpu, HV_REG.HV_REG_PC).value,
    CODE_GPA + BigInt(p.exitAt + 4),
    'PC past the hvc',
  );
  arm64ThroughputRun(g);
  assert.equal(b.hv_vcpu_get_reg(0, g.vcpu, HV_REG.HV_REG_X0).value, 2000n);
});

test('arm64 exit loop on the model: every run is one HVC exit, PC already past it', () => {
  const b = createModel('arm64');
  const g = setupArm64Guest(b, 0, arm64ExitLoopProgram());
  assert.equal(arm64ExitRoundTrips(g, 5), 5);
  assert.equal(b.hv_vcpu_get_reg(0, g.vcpu, HV_REG.HV_REG_PC).value, CODE_GPA + 4n);
  const r = b.hv_vcpu_run(0, g.vcpu);
  assert.equal(r.ret, HV.HV_SUCCESS);
  assert.equal(r.value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION);
  assert.equal(exitEc(r.value!), ESR_EC.HVC64);
});

// The native backend is optional: the test says why it skipped. One backend per process, so one test.
type NativeBackend = (X86Backend | Arm64Backend) & {
  baselineExitLoop?: (t: number, v: number, n: number) => { ret: number; exits: number; ns: number };
};
const native = await (async (): Promise<{ backend: () => NativeBackend } | { skip: string }> => {
  const specifier = '@hvspec/native';
  try {
    const mod = await import(specifier);
    const a = mod.nativeAvailability();
    if (!a.available) return { skip: `native backend unavailable: ${a.reason}` };
    return { backend: () => mod.createNativeBackend() as NativeBackend };
  } catch (e) {
    return { skip: `@hvspec/native does not load: ${(e as Error).message}` };
  }
})();

test('the exit loop on the native backend (thread 0) and its C baseline see the benchmarked exits', {
  skip: 'skip' in native ? native.skip : false,
}, async () => {
  const b = (native as { backend: () => NativeBackend }).backend();
  await b.reset();
  try {
    // Host interrupts may add other exits (VMX_REASON_IRQ, hvf-facts.md §1.7 [T]); most runs are ours.
    let vcpu: number;
    let again: () => number;
    if (b.arch === 'x86_64') {
      const g = setupX86Guest(b, 0, x86ExitLoopProgram());
      vcpu = g.vcpu;
      const io = x86ExitRoundTrips(g, 20);
      assert.ok(io > 0 && io <= 20, `${io} I/O exits`);
      const rip = vmcs(b, g.vcpu, VMCS.VMCS_GUEST_RIP);
      assert.ok(rip === CODE_GPA || rip === CODE_GPA + 2n, `RIP 0x${rip.toString(16)}`);
      again = () => x86ExitRoundTrips(g, 3);
    } else {
      const g = setupArm64Guest(b, 0, arm64ExitLoopProgram());
      vcpu = g.vcpu;
      const hvc = arm64ExitRoundTrips(g, 20);
      assert.ok(hvc > 0 && hvc <= 20, `${hvc} HVC exits`);
      again = () => arm64ExitRoundTrips(g, 3);
    }
    if (typeof b.baselineExitLoop === 'function') {
      const run = b.baselineExitLoop(0, vcpu, 20);
      assert.equal(run.ret, HV.HV_SUCCESS);
      assert.ok(run.exits > 0 && run.exits <= 20, `${run.exits} exits of the benchmarked kind in C`);
      // Back in JS after the C loop: the same loop goes on.
      assert.ok(again() > 0);
    }
  } finally {
    await b.reset();
  }
});
