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
import { X86_MODES } from '../../../spec/src/guest/x86/actions.js';
import {
  runX86Scenario,
  type X86Layout,
  x86ScenarioArb,
  x86ScenarioTraceSteps,
} from '../../../spec/src/guest/x86/scenario.js';
import { replayTrace } from '../../../spec/src/trace/replay.js';
import type { Step, Trace } from '../../../spec/src/trace/types.js';
import { VMCS } from '../../../spec/src/vocabulary/x86.js';
import type { AccessKind, GuestMemory, MemFault } from '../../src/engine.js';
import { x86ExitFields } from '../../src/x86/exit.js';
import { x86Engine } from '../../src/x86/interp.js';
import { X86RegisterFile } from '../../src/x86/state.js';

const OK = { ret: 0 } as const;
const BAD = { ret: 0xfae94003 } as const;

/**
 * The smallest x86 backend that can run a scenario: one VM, one vCPU (its registers and VMCS in the
 * model's register file), mappings onto host buffers, no argument checks.
 */
class MiniX86 {
  readonly arch = 'x86_64' as const;
  readonly capabilities = {
    backend: 'mini-x86',
    arch: 'x86_64' as const,
    pageSize: 4096,
    maxVcpus: 1,
    guestExecution: true,
    enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
    deviations: [] as { id: string; description: string; exitReasons?: number[] }[],
  };
  buffers = new Map<number, Uint8Array>();
  mappings: Array<{ gpa: bigint; size: bigint; flags: number; uva: Uva }> = [];
  regs = new X86RegisterFile();
  runs = 0;
  irqs = 0;
  constructor(readonly irqEvery = 0) {}
  get vmcs(): { get(field: number): bigint | undefined } {
    return { get: (field) => this.regs.readField(field) };
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
    this.regs = new X86RegisterFile();
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
    // must-be-1 in the low half, may-be-1 in the high half: everything allowed; unconditional I/O exiting
    // forced, as the framework forces it (hvf-facts.md §1.8).
    if (id === 1) return { ret: 0, value: (0xffff_ffffn << 32n) | BigInt(1 << 24) };
    return id <= 4 ? { ret: 0, value: 0xffff_ffffn << 32n } : BAD;
  }
  hv_vmx_vcpu_write_vmcs(_t: number, _v: Vcpu, field: number, value: bigint): Result {
    this.regs.writeField(field, value);
    return OK;
  }
  hv_vmx_vcpu_read_vmcs(_t: number, _v: Vcpu, field: number): Result<bigint> {
    return { ret: 0, value: this.regs.readField(field) };
  }
  hv_vcpu_write_register(_t: number, _v: Vcpu, reg: number, value: bigint): Result {
    this.regs.writeRegister(reg, value);
    return OK;
  }
  hv_vcpu_read_register(_t: number, _v: Vcpu, reg: number): Result<bigint> {
    return { ret: 0, value: this.regs.readRegister(reg) };
  }
  hv_vcpu_run(): Result {
    if (this.irqEvery && ++this.runs % this.irqEvery === 0) {
      this.irqs++;
      this.regs.setExit(1n, 0n, 0n);
      return OK;
    }
    const stop = x86Engine(this.regs.cpu, this.memory(), 100_000);
    const f = x86ExitFields(stop);
    if (!f)
      throw new Error(
        `mini backend: the engine stopped with ${JSON.stringify(stop, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    this.regs.setExit(BigInt(f.reason), f.qualification, BigInt(f.instrLen ?? 0));
    if (f.irqInfo !== undefined) this.regs.writeField(VMCS.VMCS_RO_VMEXIT_IRQ_INFO, BigInt(f.irqInfo));
    if (f.irqError !== undefined) this.regs.writeField(VMCS.VMCS_RO_VMEXIT_IRQ_ERROR, BigInt(f.irqError));
    if (f.idtVectorInfo !== undefined)
      this.regs.writeField(VMCS.VMCS_RO_IDT_VECTOR_INFO, BigInt(f.idtVectorInfo));
    if (f.idtVectorError !== undefined)
      this.regs.writeField(VMCS.VMCS_RO_IDT_VECTOR_ERROR, BigInt(f.idtVectorError));
    if (f.gpa !== undefined) this.regs.writeField(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS, f.gpa);
    if (f.gla !== undefined) this.regs.writeField(VMCS.VMCS_RO_GUEST_LIN_ADDR, f.gla);
    return OK;
  }
  /** The exit fields as a map the tests can break (VMCS_RO_* writes through the register file). */
  get exit(): { get(field: number): bigint | undefined; set(field: number, v: bigint): void } {
    return { get: (field) => this.regs.readField(field), set: (field, v) => this.regs.writeField(field, v) };
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

/**
 * Builds a VM: one buffer; code page at 0x10000 (flags from the draw), data pages after it, and the page
 * tables' three pages (READ|WRITE) at 0x40000.
 */
function buildLayout(b: MiniX86, codeFlags: number, dataFlags: number[]): X86Layout {
  const pages = 1 + dataFlags.length + 3;
  const ram = b.host_alloc(0x1000 * pages);
  for (let i = 0; i < 0x1000 * pages; i++) b.buffers.get(ram.id)![i] = (i * 7 + 3) & 0xff;
  const mappings = [{ gpa: 0x10000n, size: 0x1000n, flags: codeFlags, uva: { mem: ram, offset: 0 } }];
  for (const [k, flags] of dataFlags.entries()) {
    mappings.push({
      gpa: 0x2000n + BigInt(k) * 0x2000n,
      size: 0x1000n,
      flags,
      uva: { mem: ram, offset: 0x1000 * (k + 1) },
    });
  }
  const tables = { mem: ram, offset: 0x1000 * (1 + dataFlags.length) };
  mappings.push({ gpa: 0x40000n, size: 0x3000n, flags: 3, uva: tables });
  for (const m of mappings) b.hv_vm_map(0, m.uva, m.gpa, m.size, m.flags);
  return {
    mappings,
    code: { gpa: 0x10000n, size: 0x1000, uva: { mem: ram, offset: 0 } },
    tables: { gpa: 0x40000n, uva: tables },
  };
}

const flagsArb = fc.record({
  code: fc.constantFrom(4, 5, 7),
  data: fc.array(fc.constantFrom(0, 1, 3, 4, 5, 7), { maxLength: 3 }),
  mode: fc.constantFrom(...X86_MODES),
});

test('runX86Scenario on an interpreter-backed backend: every generated scenario conforms, IRQ exits are skipped', () => {
  const covered = new Set<string>();
  fc.assert(
    fc.property(
      flagsArb.chain((f) => {
        const probe = new MiniX86();
        return x86ScenarioArb(buildLayout(probe, f.code, f.data), f.mode).map((s) => ({ f, s }));
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
        // A program ends at the end marker, or in a triple fault its last action causes.
        const mode = s.mode ?? 'prot32';
        assert.ok(
          report.exitsCovered.includes(`x86.${mode}.end`) ||
            report.exitsCovered.includes(`x86.${mode}.triple-fault`),
        );
      },
    ),
    // A fixed seed: the coverage asserted below is a property of the draw, not of the backend.
    { numRuns: 200, seed: 0x86 },
  );
  assert.ok(covered.size >= 60, [...covered].join(' '));
  for (const mode of X86_MODES)
    for (const k of ['exception.ud', 'triple-fault', 'vmcall', 'exception.gp.vectoring'])
      assert.ok(covered.has(`x86.${mode}.${k}`), `x86.${mode}.${k}: ${[...covered].join(' ')}`);
});

test('runX86Scenario: an exit the backend declares it never reports makes the scenario unsupported; a triple fault is not', () => {
  const kvmLike = (b: MiniX86): X86Backend =>
    Object.assign(Object.create(b) as MiniX86, {
      capabilities: {
        ...b.capabilities,
        deviations: [{ id: 'kvm.controls', description: 'test', exitReasons: [0, 10, 28, 31, 32] }],
      },
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
  assert.deepEqual(report.exitsCovered, ['x86.prot32.triple-fault']);
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
      expected: '0x80000306 (vector 6 (0x6), hardware exception) under mask 0xffffefff',
      got: '0x80000b06 (vector 6 (0x6), hardware exception, error code valid)',
    },
  ]);
  assert.deepEqual(report.exitsCovered, ['x86.prot32.end', 'x86.prot32.exception.ud']);
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
    flagsArb.chain((f) =>
      x86ScenarioArb(buildLayout(new MiniX86(), f.code, f.data), f.mode).map((s) => ({ f, s })),
    ),
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
      steps: [
        ...init,
        ...x86ScenarioTraceSteps(
          { ...s, layout },
          {
            memName: () => 'ram',
            initialByte,
            readCapability: (id) => b.hv_vmx_read_capability(0, id).value ?? 0n,
          },
        ),
      ],
    };
    const fresh = new MiniX86(3);
    const report = await replayTrace(
      JSON.parse(JSON.stringify(trace)) as Trace,
      fresh as unknown as X86Backend,
    );
    assert.equal(report.status, 'pass', JSON.stringify(report.firstProblem));
  }
});

test('deviations beyond exit reasons: x86.string-io keeps INS/OUTS out of the programs, x86.mode.<mode> makes a scenario unsupported', () => {
  const b = new MiniX86();
  const layout = buildLayout(b, 5, [3]);
  const caps = { deviations: [{ id: 'x86.string-io', description: 'test' }] };
  fc.assert(
    fc.property(x86ScenarioArb(layout, 'prot32', caps), (s) => {
      assert.ok(!s.program.actions.some((a) => a.op === 'ins' || a.op === 'outs'));
    }),
    { numRuns: 200, seed: 5 },
  );
  const noLong = Object.assign(Object.create(b) as MiniX86, {
    capabilities: { ...b.capabilities, deviations: [{ id: 'x86.mode.long64', description: 'test' }] },
  }) as unknown as X86Backend;
  const report = runX86Scenario(noLong, 0, 0 as Vcpu, {
    layout,
    mode: 'long64',
    program: { actions: [{ op: 'hlt' }] },
  });
  assert.match(report.unsupported ?? '', /cannot run long64 guests/);
  assert.deepEqual(report.mismatches, []);
});
