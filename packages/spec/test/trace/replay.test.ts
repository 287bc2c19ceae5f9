import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Arm64Backend,
  Arm64Exit,
  Capabilities,
  HostMemory,
  Result,
  Vcpu,
  X86Backend,
} from '../../src/backend.js';
import { x86SetupSteps } from '../../src/guest/x86/setup.js';
import { parseTrace } from '../../src/trace/parse.js';
import { expandTrace, replayTrace, type X86SetupFn } from '../../src/trace/replay.js';
import type { Trace } from '../../src/trace/types.js';
import { HV } from '../../src/vocabulary/returns.js';
import { VMCS, VMX_REASON } from '../../src/vocabulary/x86.js';
import { type Json, onCpu } from './steps.js';

const ok = { ret: HV.HV_SUCCESS };

function trace(arch: 'arm64' | 'x86_64', ...steps: Json[]): Trace {
  return parseTrace(JSON.stringify({ format: 'hvspec-trace/1', arch, title: 'a trace', steps }));
}

/** The few pieces of state and calls the tests need; everything else is absent on purpose. */
class FakeBase {
  calls: string[] = [];
  resets = 0;
  vm = false;
  buffers = new Map<number, Uint8Array>();
  owners = new Map<number, number>();
  nextVcpu = 0;
  caps: Partial<Capabilities> = {};
  mappings: Array<{ addr: bigint; size: bigint; flags: number }> = [];
  constructor(readonly arch: 'arm64' | 'x86_64') {}
  get capabilities(): Capabilities {
    return {
      backend: 'fake',
      arch: this.arch,
      pageSize: 4096,
      maxVcpus: 4,
      guestExecution: true,
      enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
      deviations: [],
      ...this.caps,
    };
  }
  async reset(): Promise<void> {
    this.resets++;
    this.vm = false;
    this.owners.clear();
  }
  async close(): Promise<void> {}
  host_alloc(size: number): HostMemory {
    const id = this.buffers.size + 1;
    this.buffers.set(id, new Uint8Array(size));
    return { id, size };
  }
  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    this.buffers.get(mem.id)?.set(bytes, offset);
  }
  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    return (this.buffers.get(mem.id) as Uint8Array).slice(offset, offset + size);
  }
  /** Both flavours: the options argument (config, flags) is not looked at. */
  hv_vm_create(t: number, _options: unknown): Result {
    this.calls.push(`${t}:hv_vm_create`);
    if (this.vm) return { ret: HV.HV_BUSY };
    this.vm = true;
    return ok;
  }
  hv_vcpu_create(t: number, _options: unknown): Result<Vcpu> {
    if (!this.vm) return { ret: HV.HV_NO_DEVICE };
    const vcpu = this.nextVcpu++ as Vcpu;
    this.owners.set(vcpu, t);
    return { ret: HV.HV_SUCCESS, value: vcpu };
  }
  hv_vm_destroy(t: number): Result {
    this.calls.push(`${t}:hv_vm_destroy`);
    if (!this.vm) return { ret: HV.HV_NO_DEVICE };
    if (this.owners.size) return { ret: HV.HV_BUSY };
    this.vm = false;
    return ok;
  }
  hv_vm_map(t: number, _uva: unknown, addr: bigint, size: bigint, flags: number): Result {
    this.calls.push(`${t}:hv_vm_map`);
    this.mappings.push({ addr, size, flags });
    return ok;
  }
  hv_vcpu_destroy(t: number, vcpu: Vcpu): Result {
    if (this.owners.get(vcpu) !== t) return { ret: HV.HV_BAD_ARGUMENT };
    this.owners.delete(vcpu);
    return ok;
  }
  protected own(t: number, vcpu: number): boolean {
    return this.owners.get(vcpu) === t;
  }
}

class FakeArm64 extends FakeBase {
  regs = new Map<string, bigint>();
  canceled = new Set<number>();
  wakers = new Map<number, () => void>();
  constructor() {
    super('arm64');
  }
  hv_vcpu_set_reg(t: number, vcpu: Vcpu, reg: number, value: bigint): Result {
    this.calls.push(`${t}:hv_vcpu_set_reg`);
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    this.regs.set(`${vcpu}:${reg}`, value);
    return ok;
  }
  hv_vcpu_get_reg(t: number, vcpu: Vcpu, reg: number): Result<bigint> {
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: HV.HV_SUCCESS, value: this.regs.get(`${vcpu}:${reg}`) ?? 0n };
  }
  hv_vcpu_get_vtimer_mask(t: number, vcpu: Vcpu): Result<boolean> {
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: HV.HV_SUCCESS, value: false };
  }
  hv_vcpu_run(t: number, vcpu: Vcpu): Result<Arm64Exit> {
    this.calls.push(`${t}:hv_vcpu_run`);
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    const canceled = this.canceled.delete(vcpu);
    return {
      ret: HV.HV_SUCCESS,
      value: canceled
        ? { reason: 0, exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n } }
        : {
            reason: 1,
            exception: { syndrome: 0x93810046n, virtual_address: 0x40000n, physical_address: 0x40000n },
          },
    };
  }
  /** A guest that spins until hv_vcpus_exit names it. */
  hv_vcpu_run_async(t: number, vcpu: Vcpu): Promise<Result<Arm64Exit>> {
    this.calls.push(`${t}:hv_vcpu_run_async`);
    if (this.canceled.delete(vcpu)) return Promise.resolve(this.hv_vcpu_run_canceled());
    return new Promise((resolve) => this.wakers.set(vcpu, () => resolve(this.hv_vcpu_run_canceled())));
  }
  private hv_vcpu_run_canceled(): Result<Arm64Exit> {
    return {
      ret: HV.HV_SUCCESS,
      value: { reason: 0, exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n } },
    };
  }
  hv_vcpus_exit(t: number, vcpus: readonly Vcpu[], _count: number): Result {
    this.calls.push(`${t}:hv_vcpus_exit`);
    for (const v of vcpus) {
      const wake = this.wakers.get(v);
      if (wake) {
        this.wakers.delete(v);
        wake();
      } else this.canceled.add(v);
    }
    return ok;
  }
}

class FakeX86 extends FakeBase {
  vmcs = new Map<string, bigint>();
  writes: Array<{ t: number; field: number; value: bigint }> = [];
  /** Spurious host-interrupt exits the next runs produce before the real one. */
  spurious = 0;
  kicked = new Set<number>();
  runs = 0;
  constructor() {
    super('x86_64');
  }
  hv_vmx_read_capability(_t: number, _field: number): Result<bigint> {
    return { ret: HV.HV_SUCCESS, value: 0xffff_ffff_0000_0000n };
  }
  hv_vmx_vcpu_write_vmcs(t: number, vcpu: Vcpu, field: number, value: bigint): Result {
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    this.writes.push({ t, field, value });
    this.vmcs.set(`${vcpu}:${field}`, value);
    return ok;
  }
  hv_vmx_vcpu_read_vmcs(t: number, vcpu: Vcpu, field: number): Result<bigint> {
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    if (field === VMCS.VMCS_CTRL_EPTP) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: HV.HV_SUCCESS, value: this.vmcs.get(`${vcpu}:${field}`) ?? 0n };
  }
  hv_vcpu_run(t: number, vcpu: Vcpu): Result {
    if (!this.own(t, vcpu)) return { ret: HV.HV_BAD_ARGUMENT };
    this.runs++;
    let reason: number = VMX_REASON.VMX_REASON_HLT;
    if (this.kicked.delete(vcpu) || this.spurious > 0) {
      if (this.spurious > 0) this.spurious--;
      reason = VMX_REASON.VMX_REASON_IRQ;
    }
    this.vmcs.set(`${vcpu}:${VMCS.VMCS_RO_EXIT_REASON}`, BigInt(reason));
    return ok;
  }
  hv_vcpu_interrupt(_t: number, vcpus: readonly Vcpu[], _count: number): Result {
    for (const v of vcpus) this.kicked.add(v);
    return ok;
  }
}

const arm = () => new FakeArm64();
const asArm = (b: FakeArm64) => b as unknown as Arm64Backend;
const asX86 = (b: FakeX86) => b as unknown as X86Backend;

const replayArm = (b: FakeArm64, ...steps: Json[]) => replayTrace(trace('arm64', ...steps), asArm(b));
const replayX86 = (b: FakeX86, ...steps: Json[]) => replayTrace(trace('x86_64', ...steps), asX86(b));

const succeeds = { expect: { ret: 'HV_SUCCESS' } };
const vmCreate = { call: 'hv_vm_create', args: { config: null }, ...succeeds };
const x86VmCreate = { call: 'hv_vm_create', args: { flags: 0 }, ...succeeds };
const armVcpuCreate = { call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu' };
/** A vCPU of thread 1 whose async run spins until cancelled; it is awaited by the label `spin`. */
const spinning = [
  vmCreate,
  { thread: 1, ...armVcpuCreate },
  onCpu('hv_vcpu_run', {}, { async: true, label: 'spin' }),
];

describe('replayTrace', () => {
  it('passes a trace whose every step matches, resetting the backend first', async () => {
    const b = arm();
    const report = await replayArm(
      b,
      vmCreate,
      { call: 'hv_vm_create', args: { config: null }, expect: { ret: 'HV_BUSY' } },
      { call: 'hv_vm_destroy', args: {}, expect: { ret: { not: 'HV_BUSY' } } },
    );
    assert.equal(report.status, 'pass');
    assert.equal(report.backend, 'fake');
    assert.equal(b.resets, 1);
    assert.deepEqual(
      report.steps.map((s) => s.status),
      ['pass', 'pass', 'pass'],
    );
    assert.equal(report.firstProblem, undefined);
  });

  it('reports a failure in the spec names and skips the rest', async () => {
    const report = await replayArm(arm(), vmCreate, vmCreate, { call: 'hv_vm_destroy', args: {} });
    assert.equal(report.status, 'fail');
    assert.deepEqual(
      report.steps.map((s) => s.status),
      ['pass', 'fail', 'skipped'],
    );
    assert.equal(report.firstProblem?.index, 1);
    assert.equal(report.firstProblem?.message, 'ret: expected HV_SUCCESS, got HV_BUSY');
    assert.equal(report.firstProblem?.ret, HV.HV_BUSY);
    assert.equal(report.steps[2]?.message, 'after failed step 1');
  });

  it('words not and oneOf failures', async () => {
    const r1 = await replayArm(arm(), {
      call: 'hv_vm_create',
      args: { config: null },
      expect: { ret: { not: 'HV_SUCCESS' } },
    });
    assert.equal(r1.firstProblem?.message, 'ret: expected not HV_SUCCESS, got HV_SUCCESS');
    const r2 = await replayArm(arm(), {
      call: 'hv_vm_destroy',
      args: {},
      expect: { ret: { oneOf: ['HV_BUSY', 'HV_ERROR'] } },
    });
    assert.equal(r2.firstProblem?.message, 'ret: expected one of HV_BUSY, HV_ERROR, got HV_NO_DEVICE');
  });

  it('binds out-values and resolves $refs, running each step on its thread', async () => {
    const b = arm();
    const report = await replayArm(
      b,
      vmCreate,
      { thread: 1, ...armVcpuCreate, ...succeeds },
      onCpu('hv_vcpu_set_reg', { reg: 'HV_REG_X1', value: '0xfeedfacecafebeef' }, succeeds),
      onCpu('hv_vcpu_get_reg', { reg: 'HV_REG_X1' }, { bind: 'x1', expect: { value: '0xfeedfacecafebeef' } }),
      onCpu('hv_vcpu_set_reg', { reg: 'HV_REG_X2', value: '$x1' }, succeeds),
      onCpu('hv_vcpu_get_reg', { reg: 'HV_REG_X2' }, { expect: { value: { value: '$x1', mask: '0xffff' } } }),
      onCpu('hv_vcpu_get_reg', { reg: 'HV_REG_X2' }, { thread: 0, expect: { ret: { not: 'HV_SUCCESS' } } }),
      onCpu('hv_vcpu_get_vtimer_mask', {}, { expect: { value: false } }),
    );
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    assert.equal(b.regs.get('0:2'), 0xfeedfacecafebeefn);
    assert.ok(b.calls.includes('1:hv_vcpu_set_reg'));
  });

  it('reports a value mismatch with the mask and a boolean mismatch', async () => {
    const report = await replayArm(arm(), vmCreate, armVcpuCreate, {
      call: 'hv_vcpu_run',
      args: { vcpu: '$cpu' },
      expect: {
        ret: 'HV_SUCCESS',
        exit: {
          reason: 'HV_EXIT_REASON_CANCELED',
          syndrome: { value: '0x93810040', mask: '0xffffffc0' },
          physical_address: '0x50000',
        },
      },
    });
    assert.equal(
      report.firstProblem?.message,
      'exit.reason: expected HV_EXIT_REASON_CANCELED (0x0), got HV_EXIT_REASON_EXCEPTION (0x1); exit.physical_address: expected 0x50000, got 0x40000',
    );
    const r2 = await replayArm(arm(), vmCreate, armVcpuCreate, {
      call: 'hv_vcpu_get_vtimer_mask',
      args: { vcpu: '$cpu' },
      expect: { value: true },
    });
    assert.equal(r2.firstProblem?.message, 'value: expected true, got false');
    const r3 = await replayArm(
      arm(),
      vmCreate,
      armVcpuCreate,
      onCpu('hv_vcpu_get_reg', { reg: 0 }, { thread: 3, expect: { value: { value: '0x10', mask: '0xf0' } } }),
    );
    assert.equal(
      r3.firstProblem?.message,
      'value: expected 0x10 under mask 0xf0, got no value (ret HV_BAD_ARGUMENT)',
    );
  });

  it('fails a step whose $ref has no value because its binding call failed', async () => {
    const report = await replayArm(
      arm(),
      { ...armVcpuCreate, expect: { ret: { not: 'HV_SUCCESS' } } },
      { call: 'hv_vcpu_destroy', args: { vcpu: '$cpu' } },
    );
    assert.equal(report.status, 'fail');
    assert.equal(report.firstProblem?.index, 1);
    assert.equal(
      report.firstProblem?.message,
      'args.vcpu: $cpu has no value: step 0 (hv_vcpu_create) returned HV_NO_DEVICE',
    );
  });

  it('writes and reads host memory, comparing bytes', async () => {
    const steps = [
      { call: 'host_alloc', args: { name: 'ram', size: 4096 } },
      { call: 'host_write', args: { mem: 'ram', offset: 4, bytes: '010000b9' } },
      { call: 'host_read', args: { mem: 'ram', offset: 3, size: 6 }, expect: { bytes: '00010000b900' } },
    ];
    assert.equal((await replayArm(arm(), ...steps)).status, 'pass');
    const bad = await replayArm(arm(), ...steps.slice(0, 2), {
      call: 'host_read',
      args: { mem: 'ram', offset: 4, size: 2 },
      expect: { bytes: 'ffff' },
    });
    assert.equal(bad.firstProblem?.message, 'bytes: expected ffff, got 0100');
  });

  it('passes bytes a step bound to a later step as $name', async () => {
    const steps = [
      { call: 'host_alloc', args: { name: 'ram', size: 4096 } },
      { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: 'c0ffee' } },
      { call: 'host_read', args: { mem: 'ram', offset: 0, size: 3 }, bind: 'saved' },
      { call: 'host_write', args: { mem: 'ram', offset: 8, bytes: '$saved' } },
      { call: 'host_read', args: { mem: 'ram', offset: 8, size: 3 }, expect: { bytes: 'c0ffee' } },
    ];
    assert.equal((await replayArm(arm(), ...steps)).status, 'pass');
  });

  it('a failing step of a call a deviation declares missing is unsupported; otherwise it fails', async () => {
    const b = arm() as FakeArm64 & { hv_gic_reset(t: number): Result };
    b.hv_gic_reset = () => ({ ret: HV.HV_UNSUPPORTED });
    const steps = [vmCreate, { call: 'hv_gic_reset', args: {}, ...succeeds }];
    assert.equal((await replayArm(b, ...steps)).status, 'fail');
    b.caps = { deviations: [{ id: 'fake.no-gic', description: 'no GIC', calls: ['hv_gic_reset'] }] };
    const without = await replayArm(b, ...steps);
    assert.equal(without.status, 'unsupported');
    assert.equal(without.firstProblem?.deviation, 'fake.no-gic');
  });

  it('runs async steps and awaits them by label (cancellation)', async () => {
    const b = arm();
    const report = await replayArm(
      b,
      ...spinning,
      { thread: 0, call: 'hv_vcpus_exit', args: { vcpus: ['$cpu'] }, ...succeeds },
      {
        call: 'await',
        args: { label: 'spin' },
        expect: { ret: 'HV_SUCCESS', exit: { reason: 'HV_EXIT_REASON_CANCELED' } },
      },
    );
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    assert.deepEqual(b.calls.slice(-2), ['1:hv_vcpu_run_async', '0:hv_vcpus_exit']);
  });

  it('cancels an async run left in flight when the trace stops early', async () => {
    const b = arm();
    const report = await replayArm(
      b,
      ...spinning,
      { call: 'hv_vm_destroy', args: {}, ...succeeds },
      { call: 'await', args: { label: 'spin' } },
    );
    assert.equal(report.status, 'fail');
    assert.deepEqual(
      report.steps.map((s) => s.status),
      ['pass', 'pass', 'pass', 'fail', 'skipped'],
    );
    assert.equal(b.wakers.size, 0, 'the spinning run was cancelled');
  });

  it('marks a run unsupported on a backend without guest execution, and the rest too', async () => {
    const b = arm();
    b.caps = { guestExecution: false };
    const report = await replayArm(
      b,
      vmCreate,
      armVcpuCreate,
      { call: 'hv_vcpu_run', args: { vcpu: '$cpu' } },
      { call: 'hv_vm_destroy', args: {} },
    );
    assert.equal(report.status, 'unsupported');
    assert.deepEqual(
      report.steps.map((s) => s.status),
      ['pass', 'pass', 'unsupported', 'unsupported'],
    );
    assert.match(report.firstProblem?.message ?? '', /does not execute guest code/);
    assert.equal(report.firstProblem?.deviation, undefined, 'a missing ability is no declared deviation');
    assert.ok(!b.calls.includes('0:hv_vcpu_run'), 'the run was not attempted');
  });

  it('marks a map with unenforced permissions unsupported when the guest runs later, never pass', async () => {
    const b = arm();
    b.caps = {
      enforcedPermissions: [0, 1, 3, 5, 7],
      deviations: [{ id: 'fake.exec-only', description: 'X is readable', permissions: [4] }],
    };
    const steps = (flags: string[], expectRet: unknown = 'HV_SUCCESS') => [
      vmCreate,
      { call: 'host_alloc', args: { name: 'ram', size: 4096 } },
      {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: 4096, flags },
        expect: { ret: expectRet },
      },
      armVcpuCreate,
      { call: 'hv_vcpu_run', args: { vcpu: '$cpu' } },
    ];
    const execOnly = await replayArm(b, ...steps(['EXEC']));
    assert.equal(execOnly.status, 'unsupported');
    assert.equal(execOnly.firstProblem?.index, 2);
    assert.match(execOnly.firstProblem?.message ?? '', /does not enforce EXEC permissions/);
    assert.equal(execOnly.firstProblem?.deviation, 'fake.exec-only');
    assert.deepEqual(
      execOnly.steps.map((s) => s.status),
      ['pass', 'pass', 'unsupported', 'unsupported', 'unsupported'],
    );
    // Enforced flags, a map expected to fail, or no later guest run: nothing depends on enforcement.
    assert.equal((await replayArm(b, ...steps(['READ', 'EXEC']))).status, 'pass');
    assert.equal((await replayArm(b, ...steps(['EXEC'], 'HV_BAD_ARGUMENT'))).firstProblem?.status, 'fail');
    assert.equal((await replayArm(b, ...steps(['EXEC']).slice(0, 3))).status, 'pass');
  });

  it('an arm64 run whose expect.kind the backend declares it never produces is unsupported before the run', async () => {
    const b = arm();
    b.caps = {
      deviations: [{ id: 'fake.no-wfe', description: 'WFE never traps', arm64ExitKinds: ['arm64.wfe'] }],
    };
    const run = (kind: string) => [
      vmCreate,
      armVcpuCreate,
      {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        expect: { ret: 'HV_SUCCESS', exit: { syndrome: '0x93810046' }, kind },
      },
      { call: 'hv_vm_destroy', args: {} },
    ];
    const wfe = await replayArm(b, ...run('arm64.wfe'));
    assert.equal(wfe.status, 'unsupported');
    assert.equal(wfe.firstProblem?.index, 2);
    assert.equal(wfe.firstProblem?.deviation, 'fake.no-wfe');
    assert.match(wfe.firstProblem?.message ?? '', /never produces arm64\.wfe/);
    assert.deepEqual(
      wfe.steps.map((s) => s.status),
      ['pass', 'pass', 'unsupported', 'unsupported'],
    );
    assert.ok(!b.calls.includes('0:hv_vcpu_run'), 'the run was not attempted');
    // Another kind runs and is judged: this fake's exit matches, so it passes.
    assert.equal((await replayArm(b, ...run('arm64.dabt.write.unmapped'))).status, 'pass');
    // Without the deviation the same WFE step runs (and here fails: the fake's exit is no WFE trap).
    b.caps = {};
    const failed = await replayArm(b, ...run('arm64.wfe').slice(0, 2), {
      call: 'hv_vcpu_run',
      args: { vcpu: '$cpu' },
      expect: { exit: { syndrome: { value: '0x07e00001', mask: '0xfe000003' } }, kind: 'arm64.wfe' },
    });
    assert.equal(failed.firstProblem?.status, 'fail');
  });

  it('turns a backend exception into a failure naming it', async () => {
    const b = arm();
    b.host_write = () => {
      throw new RangeError('offset outside the buffer');
    };
    const report = await replayArm(
      b,
      { call: 'host_alloc', args: { name: 'ram', size: 4096 } },
      { call: 'host_write', args: { mem: 'ram', offset: 8192, bytes: '00' } },
    );
    assert.equal(report.firstProblem?.message, 'threw RangeError: offset outside the buffer');
  });

  it('refuses a backend of the other architecture', async () => {
    await assert.rejects(replayTrace(trace('x86_64', x86VmCreate), asArm(arm())), TypeError);
  });
});

describe('replayTrace on x86', () => {
  const prologue = [
    x86VmCreate,
    { thread: 1, call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu', ...succeeds },
  ];
  const run = onCpu('hv_vcpu_run', {}, succeeds);
  const readReason = (value: string) =>
    onCpu(
      'hv_vmx_vcpu_read_vmcs',
      { field: 'VMCS_RO_EXIT_REASON' },
      { expect: { ret: 'HV_SUCCESS', value: { value, mask: '0xffff' } } },
    );
  const setup = { call: 'x86_setup', args: { vcpu: '$cpu', mode: 'prot32', rip: '0x1000' } };

  it('an exit reason the backend declares it never reports is unsupported, not failed; others still fail', async () => {
    const b = new FakeX86();
    b.caps = { deviations: [{ id: 'fake.exceptions', description: 'no exception exits', exitReasons: [0] }] };
    const report = await replayX86(b, ...prologue, run, readReason('VMX_REASON_EXC_NMI'));
    assert.equal(report.status, 'unsupported', JSON.stringify(report.firstProblem));
    assert.match(report.firstProblem?.message ?? '', /never reports this exit reason/);
    assert.equal(report.firstProblem?.deviation, 'fake.exceptions');
    // The fake exits with HLT: expecting I/O is a plain failure, since nothing excuses it.
    const other = await replayX86(new FakeX86(), ...prologue, run, readReason('VMX_REASON_IO'));
    assert.equal(other.status, 'fail');
  });

  it('re-runs spurious VMX_REASON_IRQ exits and reports how many', async () => {
    const b = new FakeX86();
    b.spurious = 3;
    const report = await replayX86(b, ...prologue, run, readReason('VMX_REASON_HLT'));
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    assert.equal(report.steps[2]?.spuriousExits, 3);
    assert.equal(report.spuriousExits, 3);
    assert.equal(b.runs, 4);
  });

  it('does not re-run the exit of an hv_vcpu_interrupt issued before the run', async () => {
    const b = new FakeX86();
    const report = await replayX86(
      b,
      ...prologue,
      { call: 'hv_vcpu_interrupt', args: { vcpus: ['$cpu'], vcpu_count: 1 }, ...succeeds },
      run,
      readReason('VMX_REASON_IRQ'),
      // The kick is used up: a later host interrupt is spurious again.
      run,
      readReason('VMX_REASON_HLT'),
    );
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    assert.equal(report.spuriousExits, 0);
  });

  it('names VMX reasons in a failed exit-reason check', async () => {
    const b = new FakeX86();
    const report = await replayX86(b, ...prologue, onCpu('hv_vcpu_run'), readReason('VMX_REASON_IO'));
    assert.equal(
      report.firstProblem?.message,
      'value: expected VMX_REASON_IO (0x1e) under mask 0xffff, got VMX_REASON_HLT (0xc)',
    );
  });

  it('expands x86_setup into VMCS writes on the owning thread', async () => {
    const b = new FakeX86();
    const standIn: X86SetupFn = (read, mode, rip) => {
      assert.equal(mode, 'prot32');
      return [
        { field: VMCS.VMCS_CTRL_PIN_BASED, value: read(0) >> 32n },
        { field: VMCS.VMCS_GUEST_RIP, value: rip },
      ];
    };
    const t = trace('x86_64', ...prologue, setup);
    const report = await replayTrace(t, asX86(b), { x86Setup: standIn });
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    assert.equal(report.steps[2]?.thread, 1);
    assert.deepEqual(b.writes, [
      { t: 1, field: VMCS.VMCS_CTRL_PIN_BASED, value: 0xffff_ffffn },
      { t: 1, field: VMCS.VMCS_GUEST_RIP, value: 0x1000n },
    ]);

    const expanded = expandTrace(t, () => 0xffff_ffff_0000_0000n, standIn);
    assert.deepEqual(expanded.steps.slice(2), [
      onCpu('hv_vmx_vcpu_write_vmcs', { field: 'VMCS_CTRL_PIN_BASED', value: '0xffffffff' }, succeeds),
      onCpu('hv_vmx_vcpu_write_vmcs', { field: 'VMCS_GUEST_RIP', value: '0x1000' }, succeeds),
    ]);
    // The expansion is itself a valid trace that replays the same writes.
    const again = new FakeX86();
    const reparsed = parseTrace(JSON.stringify(expanded));
    assert.equal((await replayTrace(reparsed, asX86(again))).status, 'pass');
    assert.deepEqual(again.writes, b.writes);
  });

  it('uses the spec x86SetupSteps by default', async () => {
    const b = new FakeX86();
    const t = trace('x86_64', ...prologue, setup);
    const report = await replayTrace(t, asX86(b));
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
    const expected = x86SetupSteps(() => 0xffff_ffff_0000_0000n, 'prot32', 0x1000n);
    assert.deepEqual(
      b.writes.map((w) => ({ field: w.field, value: w.value })),
      expected,
    );
  });

  it('fails x86_setup naming the VMCS write that failed', async () => {
    const b = new FakeX86();
    const standIn: X86SetupFn = () => [{ field: VMCS.VMCS_GUEST_RIP, value: 1n }];
    // Forged handle 7 has no owner: the write fails.
    const report = await replayTrace(
      trace('x86_64', x86VmCreate, { ...setup, args: { vcpu: 7, mode: 'prot32', rip: 0 } }),
      asX86(b),
      { x86Setup: standIn },
    );
    assert.equal(
      report.firstProblem?.message,
      'x86_setup: hv_vmx_vcpu_write_vmcs(VMCS_GUEST_RIP, 0x1): expected HV_SUCCESS, got HV_BAD_ARGUMENT',
    );
  });
});
