/**
 * runX86Scenario and x86ScenarioTraceSteps end to end, on a minimal x86 backend built in this test
 * from the interpreter (the model's real API layer lives elsewhere; this one implements only what a
 * scenario uses). It also injects host-interrupt exits (VMX_REASON_IRQ) that a VMM must skip, and
 * replays the trace steps with the spec's own replayer.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
// The spec's modules, by path until packages/spec/src/index.ts exports guest/x86 (the lead wires it).
import type { HostMemory, Result, Uva, Vcpu, X86Backend } from '../../../spec/src/backend.js';
import {
  runX86Scenario,
  type X86Layout,
  x86ScenarioArb,
  x86ScenarioTraceSteps,
} from '../../../spec/src/guest/x86/scenario.js';
import { replayTrace } from '../../../spec/src/trace/replay.js';
import type { Step, Trace } from '../../../spec/src/trace/types.js';
import { HV_X86_REG, VMCS } from '../../../spec/src/vocabulary/x86.js';
import type { AccessKind, GuestMemory, MemFault, X86Cpu } from '../../src/engine.js';
import { x86ExitFields } from '../../src/x86/exit.js';
import { x86Engine } from '../../src/x86/interp.js';

const OK = { ret: 0 } as const;
const BAD = { ret: 0xfae94003 } as const;

/** The smallest x86 backend that can run a scenario: one VM, one vCPU, mappings onto host buffers. */
class MiniX86 {
  readonly arch = 'x86_64' as const;
  readonly capabilities = {
    backend: 'mini-x86',
    arch: 'x86_64' as const,
    pageSize: 4096,
    maxVcpus: 1,
    guestExecution: true,
    enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
    deviations: [],
  };
  buffers = new Map<number, Uint8Array>();
  mappings: Array<{ gpa: bigint; size: bigint; flags: number; uva: Uva }> = [];
  vmcs = new Map<number, bigint>();
  exit = new Map<number, bigint>();
  cpu = MiniX86.freshCpu();
  runs = 0;
  irqs = 0;
  constructor(readonly irqEvery = 0) {}
  static freshCpu(): X86Cpu {
    const seg = () => ({ selector: 0, base: 0n, limit: 0, ar: 0 });
    return {
      gpr: Array.from({ length: 16 }, () => 0n),
      rip: 0n,
      rflags: 2n,
      cr0: 0n,
      cr3: 0n,
      cr4: 0n,
      efer: 0n,
      seg: { cs: seg(), ds: seg(), es: seg(), fs: seg(), gs: seg(), ss: seg() },
    };
  }
  host_alloc(size: number): HostMemory {
    const mem = { id: this.buffers.size + 1, size: Math.ceil(size / 4096) * 4096 };
    this.buffers.set(mem.id, new Uint8Array(mem.size));
    return mem;
  }
  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    this.buffers.get(mem.id)!.set(bytes, offset);
  }
  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    return this.buffers.get(mem.id)!.slice(offset, offset + size);
  }
  async reset(): Promise<void> {
    this.mappings = [];
    this.vmcs.clear();
    this.cpu = MiniX86.freshCpu();
  }
  hv_vm_create(): Result {
    return OK;
  }
  hv_vm_map(_t: number, uva: Uva, gpa: bigint, size: bigint, flags: number): Result {
    this.mappings.push({ gpa, size, flags, uva });
    return OK;
  }
  hv_vcpu_create(): Result<Vcpu> {
    return { ret: 0, value: 0 as Vcpu };
  }
  hv_vmx_read_capability(_t: number, id: number): Result<bigint> {
    // must-be-1 in the low half, may-be-1 in the high half: everything allowed, nothing forced.
    return id <= 4 ? { ret: 0, value: 0xffff_ffffn << 32n } : BAD;
  }
  hv_vmx_vcpu_write_vmcs(_t: number, _v: Vcpu, field: number, value: bigint): Result {
    this.vmcs.set(field, value);
    const c = this.cpu;
    if (field === VMCS.VMCS_GUEST_RIP) c.rip = value;
    else if (field === VMCS.VMCS_GUEST_RFLAGS) c.rflags = value;
    else if (field === VMCS.VMCS_GUEST_CR0) c.cr0 = value;
    for (const s of ['cs', 'ds', 'es', 'fs', 'gs', 'ss'] as const) {
      const S = s.toUpperCase() as 'CS';
      if (field === VMCS[`VMCS_GUEST_${S}`]) c.seg[s].selector = Number(value);
      if (field === VMCS[`VMCS_GUEST_${S}_BASE`]) c.seg[s].base = value;
      if (field === VMCS[`VMCS_GUEST_${S}_LIMIT`]) c.seg[s].limit = Number(value);
      if (field === VMCS[`VMCS_GUEST_${S}_AR`]) c.seg[s].ar = Number(value);
    }
    return OK;
  }
  hv_vmx_vcpu_read_vmcs(_t: number, _v: Vcpu, field: number): Result<bigint> {
    if (field === VMCS.VMCS_GUEST_RIP) return { ret: 0, value: this.cpu.rip };
    const v = this.exit.get(field) ?? this.vmcs.get(field);
    return v === undefined ? BAD : { ret: 0, value: v };
  }
  hv_vcpu_write_register(_t: number, _v: Vcpu, reg: number, value: bigint): Result {
    if (reg === HV_X86_REG.HV_X86_RIP) this.cpu.rip = value;
    else if (reg >= HV_X86_REG.HV_X86_RAX && reg <= HV_X86_REG.HV_X86_R15)
      this.cpu.gpr[gprIndex(reg)] = value;
    else return BAD;
    return OK;
  }
  hv_vcpu_read_register(_t: number, _v: Vcpu, reg: number): Result<bigint> {
    if (reg === HV_X86_REG.HV_X86_RIP) return { ret: 0, value: this.cpu.rip };
    if (reg >= HV_X86_REG.HV_X86_RAX && reg <= HV_X86_REG.HV_X86_R15)
      return { ret: 0, value: this.cpu.gpr[gprIndex(reg)]! };
    return BAD;
  }
  hv_vcpu_run(): Result {
    this.exit.clear();
    if (this.irqEvery && ++this.runs % this.irqEvery === 0) {
      this.irqs++;
      this.exit.set(VMCS.VMCS_RO_EXIT_REASON, 1n);
      this.exit.set(VMCS.VMCS_RO_EXIT_QUALIFIC, 0n);
      return OK;
    }
    const stop = x86Engine(this.cpu, this.memory(), 100_000);
    const f = x86ExitFields(stop, {
      excBitmap: Number(this.vmcs.get(VMCS.VMCS_CTRL_EXC_BITMAP) ?? 0n),
      idtrLimit: Number(this.vmcs.get(VMCS.VMCS_GUEST_IDTR_LIMIT) ?? 0xffffn),
    });
    if (!f) throw new Error(`mini backend: the engine stopped with ${stop.kind}`);
    if (f.irqInfo !== undefined) this.exit.set(VMCS.VMCS_RO_VMEXIT_IRQ_INFO, BigInt(f.irqInfo));
    this.exit.set(VMCS.VMCS_RO_EXIT_REASON, BigInt(f.reason));
    this.exit.set(VMCS.VMCS_RO_EXIT_QUALIFIC, f.qualification);
    this.exit.set(VMCS.VMCS_RO_VMEXIT_INSTR_LEN, BigInt(f.instrLen ?? 0));
    if (f.gpa !== undefined) this.exit.set(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS, f.gpa);
    return OK;
  }
  memory(): GuestMemory {
    const find = (g: bigint) => this.mappings.find((m) => g >= m.gpa && g < m.gpa + m.size);
    const check = (gpa: bigint, size: number, access: AccessKind): MemFault | undefined => {
      const need = access === 'read' ? 1 : access === 'write' ? 2 : 4;
      for (let g = gpa; g < gpa + BigInt(size); g = (g & ~0xfffn) + 4096n) {
        const m = find(g);
        if (!m || !(m.flags & need))
          return { gpa: g, access, size, mapped: m !== undefined, perms: m?.flags ?? 0 };
      }
      return undefined;
    };
    const at = (g: bigint): [Uint8Array, number] => {
      const m = find(g)!;
      return [this.buffers.get(m.uva.mem.id)!, m.uva.offset + Number(g - m.gpa)];
    };
    return {
      read: (gpa, size, access) =>
        check(gpa, size, access) ??
        Uint8Array.from({ length: size }, (_, i) => {
          const [b, o] = at(gpa + BigInt(i));
          return b[o]!;
        }),
      write: (gpa, bytes) => {
        const f = check(gpa, bytes.length, 'write');
        if (!f)
          bytes.forEach((v, i) => {
            const [b, o] = at(gpa + BigInt(i));
            b[o] = v;
          });
        return f;
      },
    };
  }
}

function gprIndex(reg: number): number {
  // hv_x86_reg_t order RAX RCX RDX RBX RSI RDI RSP RBP → Intel order RAX RCX RDX RBX RSP RBP RSI RDI.
  const order = [0, 1, 2, 3, 6, 7, 4, 5];
  const i = reg - HV_X86_REG.HV_X86_RAX;
  return i < 8 ? order[i]! : i;
}

/** Builds a VM: a 16 KiB buffer; code page at 0x10000 (flags from the draw), data pages after it. */
function buildLayout(b: MiniX86, codeFlags: number, dataFlags: number[]): X86Layout {
  const ram = b.host_alloc(0x1000 * (1 + dataFlags.length));
  for (let i = 0; i < 0x1000 * (1 + dataFlags.length); i++) b.buffers.get(ram.id)![i] = (i * 7 + 3) & 0xff;
  const mappings = [{ gpa: 0x10000n, size: 0x1000n, flags: codeFlags, uva: { mem: ram, offset: 0 } }];
  for (const [k, flags] of dataFlags.entries()) {
    mappings.push({
      gpa: 0x20000n + BigInt(k) * 0x2000n,
      size: 0x1000n,
      flags,
      uva: { mem: ram, offset: 0x1000 * (k + 1) },
    });
  }
  for (const m of mappings) b.hv_vm_map(0, m.uva, m.gpa, m.size, m.flags);
  return { mappings, code: { gpa: 0x10000n, size: 0x1000, uva: { mem: ram, offset: 0 } } };
}

const flagsArb = fc.record({
  code: fc.constantFrom(4, 5, 7),
  data: fc.array(fc.constantFrom(0, 1, 3, 4, 5, 7), { maxLength: 3 }),
});

test('runX86Scenario on an interpreter-backed backend: every generated scenario conforms, IRQ exits are skipped', () => {
  const covered = new Set<string>();
  fc.assert(
    fc.property(
      flagsArb.chain((f) => {
        const probe = new MiniX86();
        return x86ScenarioArb(buildLayout(probe, f.code, f.data)).map((s) => ({ f, s }));
      }),
      fc.constantFrom(0, 2, 3),
      ({ f, s }, irqEvery) => {
        const b = new MiniX86(irqEvery);
        const layout = buildLayout(b, f.code, f.data);
        const report = runX86Scenario(b as unknown as X86Backend, 0, 0 as Vcpu, { ...s, layout });
        assert.deepEqual(report.mismatches, []);
        assert.equal(report.ok, true);
        assert.equal(report.unsupported, undefined);
        assert.equal(report.spuriousExits, b.irqs);
        for (const k of report.exitsCovered) covered.add(k);
        // A program under excBitmap 0 ends in its trailing ud2's triple fault unless a jump skips it.
        assert.ok(
          report.exitsCovered.includes('x86.end') || report.exitsCovered.includes('x86.triple-fault'),
        );
      },
    ),
    { numRuns: 150 },
  );
  assert.ok(covered.size >= 8, [...covered].join(' '));
  assert.ok(covered.has('x86.exception.ud') && covered.has('x86.triple-fault'), [...covered].join(' '));
});

test('runX86Scenario: an exception exit is unsupported on a backend with deviation kvm.controls; a triple fault is not', () => {
  const kvmLike = (b: MiniX86): X86Backend =>
    Object.assign(Object.create(b) as MiniX86, {
      capabilities: { ...b.capabilities, deviations: [{ id: 'kvm.controls', description: 'test' }] },
    }) as unknown as X86Backend;
  let b = new MiniX86();
  let layout = buildLayout(b, 5, []);
  const ud = { actions: [{ op: 'ud2' as const }] };
  let report = runX86Scenario(kvmLike(b), 0, 0 as Vcpu, { layout, program: ud });
  assert.match(report.unsupported ?? '', /kvm\.controls/);
  assert.deepEqual(report.exitsCovered, []);
  b = new MiniX86();
  layout = buildLayout(b, 5, []);
  report = runX86Scenario(kvmLike(b), 0, 0 as Vcpu, { layout, program: ud, excBitmap: 0 });
  assert.equal(report.unsupported, undefined);
  assert.deepEqual(report.mismatches, []);
  assert.deepEqual(report.exitsCovered, ['x86.triple-fault']);
  assert.equal(b.vmcs.get(VMCS.VMCS_CTRL_EXC_BITMAP), 0n);
});

test('runX86Scenario compares VMCS_RO_VMEXIT_IRQ_INFO of an exception exit', () => {
  const b = new MiniX86();
  const layout = buildLayout(b, 5, []);
  const run = b.hv_vcpu_run.bind(b);
  let n = 0;
  b.hv_vcpu_run = () => {
    const r = run();
    // Bit 12 (undefined under NMI exiting without virtual NMIs) is not compared; bit 11 is.
    if (b.exit.get(VMCS.VMCS_RO_EXIT_REASON) === 0n)
      b.exit.set(VMCS.VMCS_RO_VMEXIT_IRQ_INFO, ++n === 1 ? 0x8000_1306n : 0x8000_0b06n);
    return r;
  };
  const report = runX86Scenario(b as unknown as X86Backend, 0, 0 as Vcpu, {
    layout,
    program: { actions: [{ op: 'ud2' }, { op: 'ud2' }] },
  });
  assert.deepEqual(report.mismatches, [
    {
      exitIndex: 1,
      field: 'VMCS_RO_VMEXIT_IRQ_INFO',
      expected: '0x80000306 under mask 0xffffefff',
      got: '0x80000b06',
    },
  ]);
  assert.deepEqual(report.exitsCovered, ['x86.end', 'x86.exception.ud']);
});

test('runX86Scenario reports a wrong backend: mismatches name the exit and the field', () => {
  const b = new MiniX86();
  const layout = buildLayout(b, 5, [1]);
  // Break the backend: it reports every instruction length one too long.
  const run = b.hv_vcpu_run.bind(b);
  b.hv_vcpu_run = () => {
    const r = run();
    const len = b.exit.get(VMCS.VMCS_RO_VMEXIT_INSTR_LEN);
    if (len !== undefined) b.exit.set(VMCS.VMCS_RO_VMEXIT_INSTR_LEN, len + 1n);
    return r;
  };
  const report = runX86Scenario(b as unknown as X86Backend, 0, 0 as Vcpu, {
    layout,
    program: { actions: [{ op: 'out', size: 4, port: 0x70, form: 'imm8' }] },
  });
  assert.equal(report.ok, false);
  assert.deepEqual(report.mismatches, [
    { exitIndex: 0, field: 'VMCS_RO_VMEXIT_INSTR_LEN', expected: '0x2', got: '0x3' },
    { exitIndex: 1, field: 'VMCS_RO_VMEXIT_INSTR_LEN', expected: '0x2', got: '0x3' },
  ]);
  assert.deepEqual(report.exitsCovered, []);
});

test('x86ScenarioTraceSteps replays with the spec replayer on the same backend', async () => {
  const samples = fc.sample(
    flagsArb.chain((f) => x86ScenarioArb(buildLayout(new MiniX86(), f.code, f.data)).map((s) => ({ f, s }))),
    { numRuns: 40, seed: 7 },
  );
  for (const { f, s } of samples) {
    const b = new MiniX86(3);
    const layout = buildLayout(b, f.code, f.data);
    const ram = layout.code.uva.mem;
    const init: Step[] = [
      { call: 'hv_vm_create', args: { flags: 0 }, expect: { ret: 'HV_SUCCESS' } },
      { call: 'host_alloc', args: { name: 'ram', size: ram.size } },
      {
        call: 'host_write',
        args: { mem: 'ram', offset: 0, bytes: Buffer.from(b.host_read(ram, 0, ram.size)).toString('hex') },
      },
      ...layout.mappings.map(
        (m): Step => ({
          call: 'hv_vm_map',
          args: {
            uva: { mem: 'ram', offset: m.uva!.offset },
            gpa: `0x${m.gpa.toString(16)}`,
            size: `0x${m.size.toString(16)}`,
            flags: m.flags,
          },
          expect: { ret: 'HV_SUCCESS' },
        }),
      ),
      { call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu', expect: { ret: 'HV_SUCCESS' } },
    ];
    const initialByte = (g: bigint) => {
      const m = layout.mappings.find((x) => g >= x.gpa && g < x.gpa + x.size);
      return m ? b.buffers.get(ram.id)![m.uva!.offset + Number(g - m.gpa)]! : 0;
    };
    const trace: Trace = {
      format: 'hvspec-trace/1',
      arch: 'x86_64',
      title: 'generated x86 scenario',
      steps: [...init, ...x86ScenarioTraceSteps({ ...s, layout }, { memName: () => 'ram', initialByte })],
    };
    const fresh = new MiniX86(3);
    const report = await replayTrace(
      JSON.parse(JSON.stringify(trace)) as Trace,
      fresh as unknown as X86Backend,
    );
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
  }
});
