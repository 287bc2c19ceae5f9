/**
 * The agreement property: for generated programs, the spec's assembler → the model's interpreter (run
 * by a minimal VMM loop) produces exactly the exits, register values, MMIO writes and RAM the spec's
 * prediction says. Two independent implementations: the prediction works from the actions, the
 * interpreter decodes the machine code.
 *
 * The spec's guest modules are imported by relative path until the package index exports them.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Arm64Exit, HV, HV_EXIT_REASON, HV_REG, type Vcpu } from '@hvspec/spec';
import fc from 'fast-check';
import { type Arm64Action, formatArm64Action } from '../../../spec/src/guest/arm64/actions.js';
import {
  type Arm64Layout,
  type Arm64Scenario,
  arm64ScenarioAnswer,
  arm64ScenarioArb,
  arm64ScenarioTraceSteps,
  predictArm64Scenario,
  runArm64Scenario,
} from '../../../spec/src/guest/arm64/scenario.js';
import { ARM64_EXIT_KINDS, arm64VmmStep } from '../../../spec/src/guest/arm64/vmm.js';
import { arm64Engine } from '../../src/arm64/interp.js';
import { createArm64Model } from '../../src/arm64/model.js';
import type { Arm64Stop } from '../../src/engine.js';
import { context, freshCpu, PAGE, R, TestMemory, W, X } from './helpers.js';

const CODE = 0x10000n;
// A layout with every permission shape: RW RAM (2 pages), R, W, X and no-permission pages.
const MAPS: [bigint, bigint, number][] = [
  [CODE, PAGE, R | W | X],
  [0x20000n, 2n * PAGE, R | W],
  [0x28000n, PAGE, R],
  [0x2c000n, PAGE, W],
  [0x30000n, PAGE, X],
  [0x34000n, PAGE, 0],
  [0x40000n, PAGE, R | X],
];
const fakeUva = { mem: { id: 0, size: Number(PAGE) }, offset: 0 };
const LAYOUT: Arm64Layout = {
  mappings: MAPS.map(([ipa, size, flags]) => ({ ipa, size, flags })),
  code: { ipa: CODE, size: Number(PAGE), uva: fakeUva },
};

const patterns = new Map<bigint, Uint8Array>();
function pattern(ipa: bigint, size: bigint): Uint8Array {
  let p = patterns.get(ipa);
  if (!p) {
    const salt = Number(ipa >> 12n);
    p = new Uint8Array(Number(size));
    for (let i = 0; i < p.length; i++) p[i] = (i * 37 + salt) & 0xff;
    patterns.set(ipa, p);
  }
  return p;
}

function memoryFor(): TestMemory {
  const m = new TestMemory();
  for (const [ipa, size, flags] of MAPS) m.map(ipa, size, flags);
  // A recognisable pattern in the RAM and read-only pages, so RAM loads produce known values.
  for (const [ipa, size] of MAPS.slice(1)) {
    m.poke(ipa, pattern(ipa, size));
  }
  return m;
}

interface Observed {
  kind: string;
  reason: number;
  syndrome: bigint;
  virtual_address: bigint;
  physical_address: bigint;
  pc: bigint;
  written?: bigint | undefined;
}

/** A minimal VMM over the interpreter: run, record, respond as the spec's VMM does, until the end marker. */
function runOnInterpreter(s: Arm64Scenario, mem: TestMemory): { exits: Observed[]; x: bigint[]; pc: bigint } {
  const p = predictArm64Scenario(s, (ipa) => mem.byte(ipa));
  mem.poke(CODE, p.program.bytes);
  const cpu = freshCpu(CODE);
  for (const [r, v] of Object.entries(s.regs ?? {})) cpu.setX(Number(r), v);
  const clock = { count: 12345n };
  let masked = false;
  let cancel = s.cancelFirst ?? false;
  const exits: Observed[] = [];
  for (let guard = 0; guard < 64; guard++) {
    let exit: Arm64Exit;
    if (cancel) {
      cancel = false;
      exit = {
        reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED,
        exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
      };
    } else {
      const stop: Arm64Stop = arm64Engine(
        context(cpu, mem, { clock, vtimerOffset: 7n, vtimerMasked: masked }),
        100_000,
      );
      if (stop.kind === 'unsupported' || stop.kind === 'budget') {
        throw new Error(
          `interpreter stopped with ${stop.kind}${stop.kind === 'unsupported' ? `: ${stop.reason}` : ''} at 0x${cpu.pc.toString(16)}`,
        );
      }
      if (stop.kind === 'vtimer') masked = true;
      exit =
        stop.kind === 'vtimer'
          ? {
              reason: HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED,
              exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
            }
          : {
              reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
              exception: {
                syndrome: stop.syndrome,
                virtual_address: stop.virtual_address,
                physical_address: stop.physical_address,
              },
            };
    }
    const index = exits.length;
    const d = arm64VmmStep(exit, {
      pc: cpu.pc,
      reg: (n) => cpu.getX(n),
      answer: () => arm64ScenarioAnswer(s.answerSeed ?? 0, index),
      ...(p.exits[index]?.iabtResume !== undefined ? { iabtResume: p.exits[index]!.iabtResume! } : {}),
    });
    exits.push({
      kind: d.kind,
      reason: exit.reason,
      syndrome: exit.exception.syndrome,
      virtual_address: exit.exception.virtual_address,
      physical_address: exit.exception.physical_address,
      pc: cpu.pc,
      ...(d.written ? { written: d.written.value } : {}),
    });
    if (d.kind === 'unhandled') throw new Error(`VMM could not handle exit ${index}: ${d.reason}`);
    if (d.done) break;
    for (const r of d.setRegs) {
      if (r.reg === HV_REG.HV_REG_PC) cpu.pc = r.value;
      else cpu.setX(r.reg, r.value);
    }
    for (const r of d.setSysRegs) cpu.setSys(r.reg, r.value);
    if (d.vtimerUnmask) masked = false;
  }
  return { exits, x: Array.from({ length: 31 }, (_, n) => cpu.getX(n)), pc: cpu.pc };
}

// The spec's guest modules come from its sources while '@hvspec/spec' resolves to its dist, so the
// branded handle types are nominally distinct; at run time they are the same numbers and objects.
type SpecBackend = Parameters<typeof runArm64Scenario>[0];
type SpecVcpu = Parameters<typeof runArm64Scenario>[2];
const asBackend = (b: unknown): SpecBackend => b as SpecBackend;
const asVcpu = (v: unknown): SpecVcpu => v as SpecVcpu;

const show = (s: Arm64Scenario): string => s.actions.map(formatArm64Action).join('; ');

test('agreement: assembled programs run by the interpreter produce exactly the predicted exits', () => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(arm64ScenarioArb(LAYOUT), (s) => {
      try {
        check(s);
      } catch (e) {
        console.log(String(e).slice(0, 3000));
        throw e;
      }
    }),
    { numRuns: 400 },
  );
  function check(s: Arm64Scenario) {
    const mem = memoryFor();
    const p = predictArm64Scenario(s, (ipa) => mem.byte(ipa));
    const got = runOnInterpreter(s, mem);
    const want = p.exits.map((e) => ({
      kind: e.kind,
      reason: e.reason,
      syndrome: e.syndrome,
      virtual_address: e.virtual_address ?? 0n,
      physical_address: e.physical_address ?? 0n,
      pc: e.pc,
      ...(e.vmm.written ? { written: e.vmm.written.value } : {}),
    }));
    // Unknown written values (a register loaded from nowhere known) are not compared.
    got.exits.forEach((g, i) => {
      if (want[i] && want[i]!.written === undefined && 'written' in want[i]!) g.written = undefined;
    });
    assert.deepEqual(got.exits, want, show(s));
    p.finalRegs.forEach((v, n) => {
      if (v !== undefined) assert.equal(got.x[n], v, `X${n} after: ${show(s)}`);
    });
    assert.equal(got.pc, p.finalPc);
    for (const [ipa, byte] of p.ramWrites)
      if (byte !== undefined) assert.equal(mem.byte(ipa), byte, `memory@0x${ipa.toString(16)}`);
    for (const e of got.exits) seen.add(e.kind);
  }
  // The generator reaches every exit kind within these runs.
  const missing = ARM64_EXIT_KINDS.filter((k) => !seen.has(k));
  assert.deepEqual(missing, []);
});

test('agreement through the backend interface: runArm64Scenario on the model backend', () => {
  const covered = new Set<string>();
  fc.assert(
    fc.property(arm64ScenarioArb(LAYOUT), (s) => {
      const model = createArm64Model({ engines: { arm64: arm64Engine } });
      assert.equal(model.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
      const layoutMappings = MAPS.map(([ipa, size, flags]) => {
        const mem = model.host_alloc(Number(size));
        assert.equal(model.hv_vm_map(0, { mem, offset: 0 }, ipa, size, flags).ret, HV.HV_SUCCESS);
        return { ipa, size, flags, uva: { mem, offset: 0 } };
      });
      const layout: Arm64Layout = {
        mappings: layoutMappings,
        code: { ipa: CODE, size: Number(PAGE), uva: layoutMappings[0]!.uva },
      };
      const cpu = model.hv_vcpu_create(1, null);
      assert.equal(cpu.ret, HV.HV_SUCCESS);
      const report = runArm64Scenario(asBackend(model), 1, asVcpu(cpu.value as Vcpu), { ...s, layout });
      assert.equal(report.unsupported, undefined);
      assert.deepEqual(report.mismatches, [], show(s));
      for (const k of report.exitsCovered) covered.add(k);
      // The same scenario as trace steps is well formed and ends with the end-marker run.
      const steps = arm64ScenarioTraceSteps({ ...s, layout }, { thread: 1, memName: (m) => `mem${m.id}` });
      assert.ok(steps.some((st) => st.call === 'hv_vcpu_run'));
    }),
    { numRuns: 150 },
  );
  for (const k of [
    'arm64.dabt.read.unmapped',
    'arm64.dabt.write.permission',
    'arm64.hvc',
    'arm64.vtimer',
    'arm64.sysreg',
  ])
    assert.ok(covered.has(k), k);
});

/** A model backend with the layout mapped and a vCPU on thread 1. */
function modelWithLayout(): { model: ReturnType<typeof createArm64Model>; layout: Arm64Layout; vcpu: Vcpu } {
  const model = createArm64Model({ engines: { arm64: arm64Engine } });
  assert.equal(model.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
  const mappings = MAPS.map(([ipa, size, flags]) => {
    const mem = model.host_alloc(Number(size));
    assert.equal(model.hv_vm_map(0, { mem, offset: 0 }, ipa, size, flags).ret, HV.HV_SUCCESS);
    return { ipa, size, flags, uva: { mem, offset: 0 } };
  });
  const cpu = model.hv_vcpu_create(1, null);
  return {
    model,
    layout: { mappings, code: { ipa: CODE, size: Number(PAGE), uva: mappings[0]!.uva } },
    vcpu: cpu.value as Vcpu,
  };
}

/** The same backend, with hv_vcpu_run's exit record rewritten by `f`. */
function tampered(
  model: ReturnType<typeof createArm64Model>,
  f: (e: Arm64Exit) => Arm64Exit,
): ReturnType<typeof createArm64Model> {
  return new Proxy(model, {
    get(target, prop, receiver) {
      if (prop === 'hv_vcpu_run') {
        return (t: number, v: Vcpu) => {
          const r = target.hv_vcpu_run(t, v);
          return r.value ? { ...r, value: f(r.value) } : r;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const MMIO_PROGRAM: Arm64Action[] = [
  { op: 'ldr', size: 2, ipa: 0x50002n, base: 0, rt: 1, signed: 'x' },
  { op: 'str', size: 8, ipa: 0x50008n, base: 2, rt: 1 },
  { op: 'ldr', size: 4, ipa: 0x20000n, base: 3, rt: 4 },
];

test('the runner reports a wrong syndrome, and judges [U] fields only in exact mode', () => {
  const flipSse = (e: Arm64Exit): Arm64Exit =>
    e.exception.syndrome >> 26n === 0x24n
      ? { ...e, exception: { ...e.exception, syndrome: e.exception.syndrome ^ (1n << 21n) } }
      : e;
  const a = modelWithLayout();
  const r = runArm64Scenario(asBackend(tampered(a.model, flipSse)), 1, asVcpu(a.vcpu), {
    layout: a.layout,
    actions: MMIO_PROGRAM,
  });
  assert.equal(r.ok, false);
  assert.deepEqual(
    r.mismatches.map((m) => [m.exitIndex, m.field]),
    [[0, 'syndrome']],
  );

  // Level 1 instead of 3 and a page-granular IPA: wrong for the model's documented choices, fine for hardware.
  const hardwareLike = (e: Arm64Exit): Arm64Exit =>
    e.exception.syndrome >> 26n === 0x24n
      ? {
          ...e,
          exception: {
            ...e.exception,
            syndrome: e.exception.syndrome - 2n,
            physical_address: e.exception.physical_address & ~0xfffn,
          },
        }
      : e;
  const b = modelWithLayout();
  const exact = runArm64Scenario(asBackend(tampered(b.model, hardwareLike)), 1, asVcpu(b.vcpu), {
    layout: b.layout,
    actions: MMIO_PROGRAM,
  });
  assert.deepEqual(
    exact.mismatches.map((m) => m.field),
    ['syndrome', 'physical_address'],
  );
  const c = modelWithLayout();
  const loose = runArm64Scenario(
    asBackend(tampered(c.model, hardwareLike)),
    1,
    asVcpu(c.vcpu),
    { layout: c.layout, actions: MMIO_PROGRAM },
    { exact: false },
  );
  assert.deepEqual(loose.mismatches, []);
  assert.deepEqual(loose.exitsCovered, ['arm64.dabt.read.unmapped', 'arm64.dabt.write.unmapped']);
});

test('the runner checks the values the guest wrote and the final registers', () => {
  const a = modelWithLayout();
  const r = runArm64Scenario(asBackend(a.model), 1, asVcpu(a.vcpu), {
    layout: a.layout,
    actions: MMIO_PROGRAM,
    answerSeed: 3,
  });
  assert.deepEqual(r.mismatches, []);
  // The store wrote X1 = the sign-extended answer to the first load; X4 holds RAM's first word.
  const first = r.prediction!.exits[0]!;
  assert.deepEqual(r.prediction!.exits[1]!.vmm.written, { value: first.vmm.answered!.rtValue, size: 8 });
  assert.equal(r.prediction!.finalRegs[4], 0n); // fresh host buffers are zero
  // A backend whose guest loses the MMIO answer: the store's value and X1 at the end differ.
  const b = modelWithLayout();
  const lossy = new Proxy(b.model, {
    get(target, prop, receiver) {
      if (prop === 'hv_vcpu_set_reg')
        return (t: number, v: Vcpu, reg: number, value: bigint) =>
          target.hv_vcpu_set_reg(t, v, reg, reg === 1 ? 0n : value);
      const f = Reflect.get(target, prop, receiver);
      return typeof f === 'function' ? f.bind(target) : f;
    },
  });
  const bad = runArm64Scenario(asBackend(lossy), 1, asVcpu(b.vcpu), {
    layout: b.layout,
    actions: MMIO_PROGRAM,
    answerSeed: 3,
  });
  assert.deepEqual(
    bad.mismatches.map((m) => m.field),
    ['written', 'HV_REG_X1'],
  );
});

test('scenario traces replay on the model: setup + arm64ScenarioTraceSteps pass step by step', async () => {
  const { parseTrace, replayTrace } = await import('../../../spec/src/trace/index.js');
  const scenarios = fc.sample(arm64ScenarioArb(LAYOUT), { numRuns: 40, seed: 7 });
  for (const s of scenarios) {
    const names = new Map<number, string>();
    const mappings = MAPS.map(([ipa, size, flags], i) => {
      const mem = { id: i, size: Number(size) };
      names.set(i, `m${i}`);
      return { ipa, size, flags, uva: { mem, offset: 0 } };
    });
    const layout: Arm64Layout = { mappings, code: { ipa: CODE, size: Number(PAGE), uva: mappings[0]!.uva } };
    const setup = [
      { call: 'hv_vm_create', args: { config: null }, expect: { ret: 'HV_SUCCESS' } },
      ...mappings.flatMap((m, i) => [
        { call: 'host_alloc', args: { name: `m${i}`, size: `0x${m.size.toString(16)}` } },
        {
          call: 'hv_vm_map',
          args: {
            uva: { mem: `m${i}`, offset: 0 },
            ipa: `0x${m.ipa.toString(16)}`,
            size: `0x${m.size.toString(16)}`,
            flags: m.flags,
          },
          expect: { ret: 'HV_SUCCESS' },
        },
      ]),
      {
        thread: 1,
        call: 'hv_vcpu_create',
        args: { config: null },
        bind: 'cpu',
        expect: { ret: 'HV_SUCCESS' },
      },
    ];
    const steps = arm64ScenarioTraceSteps({ ...s, layout }, { thread: 1, memName: (m) => names.get(m.id)! });
    const text = JSON.stringify({
      format: 'hvspec-trace/1',
      arch: 'arm64',
      title: show(s) || '(empty program)',
      steps: [...setup, ...steps],
    });
    const report = await replayTrace(
      parseTrace(text),
      asBackend(createArm64Model({ engines: { arm64: arm64Engine } })),
    );
    assert.equal(report.status, 'pass', `${show(s)}: ${JSON.stringify(report.firstProblem)}`);
  }
});

test('hardware mode (exact: false) accepts the model too: masks and vtimer timing only loosen', () => {
  fc.assert(
    fc.property(arm64ScenarioArb(LAYOUT), (s) => {
      const a = modelWithLayout();
      const r = runArm64Scenario(
        asBackend(a.model),
        1,
        asVcpu(a.vcpu),
        { ...s, layout: a.layout },
        { exact: false },
      );
      assert.deepEqual(r.mismatches, [], show(s));
      assert.deepEqual(r.notes, []);
    }),
    { numRuns: 60 },
  );
});
