import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Capabilities } from '../../../src/backend.js';
import type { Arm64Action } from '../../../src/guest/arm64/actions.js';
import { type Arm64PredictInput, predictArm64 } from '../../../src/guest/arm64/predict.js';
import {
  type Arm64Layout,
  arm64ProgramArb,
  arm64ScenarioAnswer,
  arm64ScenarioArb,
  arm64ScenarioFor,
  arm64ScenarioTraceSteps,
  predictArm64Scenario,
} from '../../../src/guest/arm64/scenario.js';
import {
  ARM64_EXIT_KINDS,
  type Arm64ExitKind,
  arm64KindDeviation,
  arm64VmmStep,
  completeMmioLoad,
} from '../../../src/guest/arm64/vmm.js';
import { HV_EXIT_REASON, HV_REG, HV_SYS_REG } from '../../../src/vocabulary/arm64.js';
import { onCpu } from '../../trace/steps.js';

const CODE = 0x10000n;
const PAGE = 0x4000n;
const maps: [bigint, bigint, number][] = [
  [CODE, PAGE, 7],
  [0x20000n, PAGE, 3],
  [0x24000n, PAGE, 1],
  [0x28000n, PAGE, 0],
];
const lookup = (ipa: bigint) => {
  const m = maps.find(([a, s]) => ipa >= a && ipa < a + s);
  return m ? { flags: m[2] } : undefined;
};
const answer = () => 0x8899aabbccddeeffn;

test('an MMIO load and store: syndrome, FAR, IPA, PC and the VMM response', () => {
  const actions: Arm64Action[] = [
    { op: 'ldr', size: 2, ipa: 0x40002n, base: 0, rt: 1, signed: 'x' },
    { op: 'str', size: 4, ipa: 0x24004n, base: 2, rt: 1 },
  ];
  const p = predictArm64({ actions, codeIpa: CODE, lookup, answer });
  const [ld, st, end] = p.exits;
  assert.equal(p.exits.length, 3);
  // movz x0,#2; movk x0,#4,lsl16; ldrsh x1,[x0]: PC at the load (third word).
  assert.deepEqual(
    {
      kind: ld!.kind,
      syndrome: ld!.syndrome,
      mask: ld!.syndromeMask,
      va: ld!.virtual_address,
      pa: ld!.physical_address,
      pc: ld!.pc,
    },
    // EC 0x24 IL ISV, SAS 1 (0x400000), SSE (0x200000), SRT 1, SF (0x8000), translation L3.
    {
      kind: 'arm64.dabt.read.unmapped',
      syndrome: 0x93618007n,
      mask: 0xfffffffcn,
      va: 0x40002n,
      pa: 0x40002n,
      pc: CODE + 8n,
    },
  );
  // The VMM sign-extends the 16-bit answer 0xeeff to 64 bits, writes X1, PC += 4.
  assert.deepEqual(ld!.vmm.setRegs, [
    { reg: 1, value: 0xffff_ffff_ffff_eeffn },
    { reg: HV_REG.HV_REG_PC, value: CODE + 12n },
  ]);
  // str w1 to a read-only page: permission fault, WnR, SAS 2, SRT 1; the value written is the low 4 bytes of X1.
  assert.equal(st!.kind, 'arm64.dabt.write.permission');
  assert.equal(st!.syndrome, 0x9381004fn);
  assert.deepEqual(st!.vmm.written, { value: 0xffff_eeffn, size: 4 });
  assert.equal(st!.pc, CODE + 20n);
  assert.equal(end!.kind, 'arm64.end');
  assert.equal(end!.pc, CODE + 28n);
  assert.equal(p.finalRegs[1], 0xffff_ffff_ffff_eeffn);
  assert.equal(p.finalRegs[2], 0x24004n);
});

test('RAM accesses do not exit; loads read the known memory, stores are remembered', () => {
  const mem = (ipa: bigint) => (ipa >= 0x20000n && ipa < 0x24000n ? Number(ipa & 0xffn) : undefined);
  const p = predictArm64({
    actions: [
      { op: 'str', size: 2, ipa: 0x20010n, base: 3, rt: 4, value: 0xabcdn },
      { op: 'ldr', size: 4, ipa: 0x20010n, base: 3, rt: 5 },
      { op: 'ldr', size: 1, ipa: 0x20080n, base: 3, rt: 6, signed: 'w' },
      { op: 'ldr', size: 8, ipa: 0x20100n, base: 3, rt: 31 },
    ],
    codeIpa: CODE,
    lookup,
    memory: mem,
    answer,
  });
  assert.deepEqual(
    p.exits.map((e) => e.kind),
    ['arm64.end'],
  );
  assert.equal(p.finalRegs[5], 0x1312abcdn);
  assert.equal(p.finalRegs[6], 0xffff_ff80n);
  assert.equal(p.ramWrites.get(0x20010n), 0xcd);
});

test('HVC, WFI, BRK, sysreg, branch, vtimer and a cancel', () => {
  const p = predictArm64({
    actions: [
      { op: 'hvc', imm: 5 },
      { op: 'wfi' },
      { op: 'brk', imm: 1 },
      { op: 'sysreg', read: true, rt: 31 },
      { op: 'sysreg', read: false, rt: 7, value: 9n },
      { op: 'branch', ipa: 0x28000n, reg: 9 },
      { op: 'vtimer', delta: 6 },
    ],
    codeIpa: CODE,
    lookup,
    answer,
    cancelFirst: true,
  });
  const k = p.exits.map((e) => [e.kind, e.pc, e.syndrome] as const);
  const branchEnd = CODE + 4n * BigInt(1 + 1 + 1 + 1 + 2 + 3);
  assert.deepEqual(k, [
    ['arm64.canceled', CODE, 0n],
    ['arm64.hvc', CODE + 4n, 0x5a000005n],
    ['arm64.wfi', CODE + 4n, 0x07e00000n],
    ['arm64.brk', CODE + 8n, 0xf2000001n],
    ['arm64.sysreg', CODE + 12n, 0x6230e7f9n],
    ['arm64.sysreg', CODE + 20n, 0x6230e4f8n],
    ['arm64.iabt.permission', 0x28000n, 0x8200000fn],
    // delta 6: the timer fires at the loop's tbz (one instruction into the wait loop).
    ['arm64.vtimer', branchEnd + 24n, 0n],
    ['arm64.end', branchEnd + 32n, 0x5a00ffffn],
  ]);
  assert.equal(p.exits[6]!.resume, branchEnd);
  assert.equal(p.exits[6]!.syndromeMask, 0xfffffff0n); // a no-permission mapping: translation or permission [U]
  assert.deepEqual(p.exits[5]!.vmm.written, { value: 9n, size: 8 });
  // The VMM's answer to VTIMER_ACTIVATED: CNTV_CTL_EL0 = ENABLE | IMASK, then unmask.
  assert.deepEqual(p.exits[7]!.vmm, {
    kind: 'arm64.vtimer',
    setRegs: [],
    setSysRegs: [{ reg: HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0, value: 3n }],
    vtimerUnmask: true,
    done: false,
  });
  assert.equal(p.finalRegs[16], 7n);
});

test('out-of-domain programs are refused', () => {
  const refused: ReadonlyArray<[string, Omit<Arm64PredictInput, 'lookup' | 'answer'>]> = [
    [
      'a load crossing a 4 KiB page',
      { actions: [{ op: 'ldr', size: 4, ipa: 0x20ffen, base: 0, rt: 1 }], codeIpa: CODE },
    ],
    ['the virtual timer at EL0', { actions: [{ op: 'vtimer', delta: 3 }], codeIpa: CODE, start: 'el0' }],
    ['WFI with both IRQ and FIQ pending', { actions: [{ op: 'wfi' }], codeIpa: CODE, irq: true, fiq: true }],
    [
      'a branch out of the program',
      { actions: [{ op: 'branch', ipa: CODE + 0x100n, reg: 0 }], codeIpa: CODE },
    ],
    [
      'a store into the code',
      { actions: [{ op: 'str', size: 4, ipa: CODE, base: 0, rt: 1 }], codeIpa: CODE },
    ],
    ['code in memory that is not executable', { actions: [], codeIpa: 0x20000n }],
  ];
  for (const [what, input] of refused)
    assert.throws(() => predictArm64({ ...input, lookup, answer }), RangeError, what);
});

test('the VMM completes MMIO loads per SSE/SF and never writes Rt = 31', () => {
  assert.equal(completeMmioLoad(0x80n, 1, true, false), 0xffff_ff80n);
  assert.equal(completeMmioLoad(0x80n, 1, true, true), 0xffff_ffff_ffff_ff80n);
  assert.equal(completeMmioLoad(0x1_8000_0000n, 4, false, false), 0x8000_0000n);
  const d = arm64VmmStep(
    {
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      exception: { syndrome: 0x939f0007n, virtual_address: 0n, physical_address: 0n },
    },
    { pc: 0x100n, reg: () => 1n, answer: () => 5n },
  );
  assert.deepEqual(d.setRegs, [{ reg: HV_REG.HV_REG_PC, value: 0x104n }]);
  const isv0 = arm64VmmStep(
    {
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      exception: { syndrome: 0x92000007n, virtual_address: 0n, physical_address: 0n },
    },
    { pc: 0n, reg: () => 0n, answer: () => 0n },
  );
  assert.equal(isv0.kind, 'unhandled');
  const vt = arm64VmmStep(
    {
      reason: HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED,
      exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
    },
    { pc: 0n, reg: () => 0n, answer: () => 0n },
  );
  assert.deepEqual(vt.setSysRegs, [{ reg: HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0, value: 3n }]);
});

const uva = { mem: { id: 1, size: 0x4000 }, offset: 0 };
const LAYOUT: Arm64Layout = {
  mappings: maps.map(([ipa, size, flags]) => ({
    ipa,
    size,
    flags,
    uva: { mem: { id: Number(ipa >> 14n), size: 0x4000 }, offset: 0 },
  })),
  code: { ipa: CODE, size: 0x4000, uva },
};

test('generated scenarios are predictable and hit every exit kind', () => {
  const withTables: Arm64Layout = {
    ...LAYOUT,
    mappings: [...LAYOUT.mappings, { ipa: 0x100000n, size: 0x100000n, flags: 3, uva }],
    tables: { ipa: 0x100000n, size: 0x100000, uva },
  };
  const kinds = new Set<string>();
  let rt31 = 0;
  let signed = 0;
  let refused = 0;
  fc.assert(
    fc.property(arm64ScenarioArb(withTables), (s) => {
      let p: ReturnType<typeof predictArm64Scenario>;
      try {
        p = predictArm64Scenario(s, () => 0);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        refused++;
        return;
      }
      for (const e of p.exits) kinds.add(e.kind);
      for (const a of s.actions) {
        if ((a.op === 'ldr' || a.op === 'str') && a.rt === 31) rt31++;
        if (a.op === 'ldr' && a.signed) signed++;
      }
      assert.equal(p.exits.at(-1)!.kind, 'arm64.end');
    }),
    { numRuns: 800 },
  );
  assert.deepEqual(
    ARM64_EXIT_KINDS.filter((k) => !kinds.has(k)),
    [],
  );
  assert.ok(refused < 40, `${refused} of 800 scenarios refused`);
  assert.ok(rt31 > 0 && signed > 0);
  fc.assert(fc.property(arm64ProgramArb(LAYOUT, 3), (a) => a.length <= 3));
});

test('answers are deterministic per (seed, exit)', () => {
  assert.equal(arm64ScenarioAnswer(1, 2), arm64ScenarioAnswer(1, 2));
  assert.notEqual(arm64ScenarioAnswer(1, 2), arm64ScenarioAnswer(1, 3));
});

test('trace steps: code, setup, run with the predicted exit record, VMM response', () => {
  const steps = arm64ScenarioTraceSteps(
    {
      layout: LAYOUT,
      actions: [{ op: 'str', size: 4, ipa: 0x40000n, base: 0, rt: 1, value: 0x1234n }],
      answerSeed: 0,
    },
    { thread: 1, memName: (m) => `m${m.id}` },
  );
  assert.deepEqual(steps[0], {
    call: 'host_write',
    args: { mem: 'm1', offset: 0, bytes: '000080d28000a0f2814682d2010000b9e2ff1fd4' },
  });
  // Every step after the code is thread 1's, on the vCPU the trace bound as `$cpu`, and succeeds.
  const succeeds = (expect: Record<string, unknown>) => ({ expect: { ret: 'HV_SUCCESS', ...expect } });
  const runs = steps.filter((s) => s.call === 'hv_vcpu_run');
  assert.equal(runs.length, 2);
  const exit = {
    reason: 'HV_EXIT_REASON_EXCEPTION',
    syndrome: { value: '0x93810047', mask: '0xffffffff' },
    virtual_address: '0x40000',
    physical_address: '0x40000',
  };
  assert.deepEqual(runs[0], onCpu('hv_vcpu_run', {}, succeeds({ exit, kind: 'arm64.dabt.write.unmapped' })));
  const i = steps.indexOf(runs[0]!);
  assert.deepEqual(steps.slice(i + 1, i + 4), [
    onCpu('hv_vcpu_get_reg', { reg: 'HV_REG_PC' }, succeeds({ value: '0x1000c' })),
    onCpu(
      'hv_vcpu_get_reg',
      { reg: 'HV_REG_X1' },
      succeeds({ value: { value: '0x1234', mask: '0xffffffff' } }),
    ),
    onCpu('hv_vcpu_set_reg', { reg: 'HV_REG_PC', value: '0x10010' }, succeeds({})),
  ]);
  const masked = arm64ScenarioTraceSteps(
    { layout: LAYOUT, actions: [{ op: 'ldr', size: 4, ipa: 0x40000n, base: 0, rt: 1 }] },
    { memName: (m) => `m${m.id}`, masked: true },
  );
  const run = masked.find((s) => s.call === 'hv_vcpu_run')!;
  assert.deepEqual((run.expect as { exit: unknown }).exit, {
    reason: 'HV_EXIT_REASON_EXCEPTION',
    syndrome: { value: '0x93810007', mask: '0xfffffffc' },
    virtual_address: '0x40000',
    physical_address: { value: '0x40000', mask: '0xfffffffffffff000' },
  });
});

test('generated programs stay predictable on 4 KiB-granule layouts crowded around the code', () => {
  const K4 = 0x1000n;
  const uvaOf = (i: number) => ({ mem: { id: i, size: 0x1000 }, offset: 0 });
  const layout: Arm64Layout = {
    mappings: [
      { ipa: 0x10000n - K4, size: K4, flags: 7, uva: uvaOf(1) },
      { ipa: 0x10000n, size: K4, flags: 7, uva: uvaOf(2) },
      { ipa: 0x10000n + K4, size: K4, flags: 5, uva: uvaOf(3) },
      { ipa: 0x10000n + 2n * K4, size: K4, flags: 3, uva: uvaOf(4) },
      { ipa: 0x10000n + 4n * K4, size: 64n * K4, flags: 7, uva: uvaOf(5) },
    ],
    code: { ipa: 0x10000n, size: 0x1000, uva: uvaOf(2) },
    ipaBits: 32,
  };
  fc.assert(
    fc.property(arm64ScenarioArb(layout), (s) => {
      const p = predictArm64Scenario(s, () => 0);
      assert.equal(p.exits.at(-1)?.kind, 'arm64.end');
    }),
    { numRuns: 300 },
  );
});

test('EL0 (a fresh CPSR): UDF, SVC and HVC are reported from the lower-EL vector; the end marker is svc #0xffff', () => {
  const p = predictArm64({
    actions: [
      { op: 'udf', imm: 1 },
      { op: 'svc', imm: 0x42 },
      { op: 'hvc', imm: 7 },
    ],
    codeIpa: CODE,
    lookup,
    answer,
    start: 'el0',
  });
  assert.equal(p.startCpsr, 0);
  const report = CODE + 0x800n + 8n * 0x80n + 4n; // VBAR_EL1 + 0x400 (lower EL, AArch64, synchronous), after the hvc
  assert.deepEqual(
    p.exits.map((e) => [
      e.kind,
      e.syndrome,
      e.pc,
      e.guest?.esr?.value,
      e.guest?.elr,
      e.guest?.spsr,
      e.guest?.cpsr,
      e.resume,
    ]),
    [
      ['arm64.el1.undefined', 0x5a00fe08n, report, 0x0200_0000n, CODE, 0n, 0x3c5n, CODE + 4n],
      ['arm64.el1.svc', 0x5a00fe08n, report, 0x5600_0042n, CODE + 8n, 0n, 0x3c5n, CODE + 8n],
      ['arm64.el1.undefined', 0x5a00fe08n, report, 0x0200_0000n, CODE + 8n, 0n, 0x3c5n, CODE + 12n],
      ['arm64.end', 0x5a00fe08n, report, 0x5600_ffffn, CODE + 16n, 0n, 0x3c5n, undefined],
    ],
  );
  // The VMM resumes each synchronous exception with ELR_EL1 = the next action, and stops at the end.
  assert.deepEqual(p.exits[0]!.vmm.setSysRegs, [{ reg: HV_SYS_REG.HV_SYS_REG_ELR_EL1, value: CODE + 4n }]);
  assert.equal(p.exits[3]!.vmm.done, true);
  assert.equal(p.finalPc, report);
});

test('a pending IRQ: WFI does not trap while it is pending, DAIF clear takes it at VBAR_EL1 + 0x280', () => {
  const p = predictArm64({
    actions: [{ op: 'wfi' }, { op: 'daif', set: false, imm: 2 }, { op: 'hvc', imm: 1 }],
    codeIpa: CODE,
    lookup,
    answer,
    irq: true,
  });
  const [irq, hvc, end] = p.exits;
  assert.equal(p.exits.length, 3);
  assert.equal(irq!.kind, 'arm64.el1.irq');
  assert.equal(irq!.pc, CODE + 0x800n + 0x280n + 4n);
  assert.deepEqual(irq!.guest, { slot: 5, elr: CODE + 8n, spsr: 0x345n, cpsr: 0x3c5n }); // no ESR or FAR for IRQ
  assert.deepEqual(irq!.vmm.setSysRegs, []); // ELR already points at the interrupted instruction
  assert.deepEqual([hvc!.kind, end!.kind], ['arm64.hvc', 'arm64.end']);
  // After the first exit the line is gone: the same WFI then traps.
  const again = predictArm64({
    actions: [{ op: 'hvc', imm: 1 }, { op: 'wfi' }],
    codeIpa: CODE,
    lookup,
    answer,
    irq: true,
  });
  assert.deepEqual(
    again.exits.map((e) => e.kind),
    ['arm64.hvc', 'arm64.wfi', 'arm64.end'],
  );
  // At EL0 (DAIF clear) a pending FIQ is taken before the first instruction.
  const fiq = predictArm64({ actions: [], codeIpa: CODE, lookup, answer, start: 'el0', fiq: true });
  assert.deepEqual(fiq.exits[0]!.guest, { slot: 10, elr: CODE, spsr: 0n, cpsr: 0x3c5n });
});

test('an illegal ERET: IL set, the next instruction takes EC 0x0E; the VMM clears SPSR_EL1.IL', () => {
  const p = predictArm64({
    actions: [{ op: 'eret', to: 'illegal', daif: 15, reg: 9 }],
    codeIpa: CODE,
    lookup,
    answer,
  });
  const next = CODE + 20n; // five instructions
  const [ill, end] = p.exits;
  assert.equal(ill!.kind, 'arm64.el1.illegal');
  assert.deepEqual(ill!.guest, {
    slot: 4,
    esr: { value: 0x3a00_0000n, mask: 0xffff_ffffn },
    elr: next,
    spsr: 0x10_03c5n,
    cpsr: 0x3c5n,
  });
  assert.deepEqual(ill!.vmm.setSysRegs, [
    { reg: HV_SYS_REG.HV_SYS_REG_ELR_EL1, value: next },
    { reg: HV_SYS_REG.HV_SYS_REG_SPSR_EL1, value: 0x3c5n },
  ]);
  assert.equal(end!.pc, next + 4n);
  assert.equal(p.finalRegs[9], next);
  // A legal ERET to EL0: the program ends at EL0 with the SVC end marker.
  const el0 = predictArm64({
    actions: [{ op: 'eret', to: 'el0', daif: 0, reg: 9 }],
    codeIpa: CODE,
    lookup,
    answer,
  });
  assert.equal(el0.program.endsAtEl0, true);
  assert.equal(el0.exits[0]!.guest?.spsr, 0n);
});

test('MMU on: FAR is the VA and the IPA the translated address; a walk into nothing exits with S1PTW', () => {
  const mmu = {
    granule: 16384 as const,
    t0sz: 28,
    t1sz: 39,
    ttbr1: false,
    tableIpa: 0x100000n,
    tableSize: 0x20000,
    entries: [
      { va: CODE, level: 3, oa: CODE, ap: 3 as const, uxn: false, pxn: false, af: true, device: false },
      {
        va: 0x8000_0000n,
        level: 3,
        oa: 0x0900_0000n,
        ap: 1 as const,
        uxn: true,
        pxn: true,
        af: true,
        device: true,
      },
    ],
    badTables: [{ va: 0x4000_0000n, level: 2, ipa: 0x9000_0000n }],
  };
  const p = predictArm64({
    actions: [
      { op: 'ldr', size: 4, ipa: 0x8000_0010n, base: 0, rt: 1 },
      { op: 'ldr', size: 8, ipa: 0x4000_0010n, base: 2, rt: 3 },
      { op: 'ldr', size: 4, ipa: 0x8000_0012n, base: 4, rt: 5 },
    ],
    codeIpa: CODE,
    lookup,
    answer,
    mmu,
  });
  const [mmio, walk, align] = p.exits;
  assert.deepEqual(
    [mmio!.kind, mmio!.syndrome, mmio!.syndromeMask, mmio!.virtual_address, mmio!.physical_address],
    ['arm64.dabt.read.unmapped', 0x9381_0007n, 0xffff_fffcn, 0x8000_0010n, 0x0900_0010n],
  );
  // EC 0x24, IL, S1PTW (bit 7), no ISV; WnR and the level left out of the mask.
  assert.deepEqual(
    [walk!.kind, walk!.syndrome, walk!.syndromeMask, walk!.virtual_address, walk!.physical_address],
    ['arm64.s1ptw', 0x9200_0087n, 0xffff_ffbcn, 0x4000_0010n, 0x9000_0000n],
  );
  assert.deepEqual(walk!.vmm.setRegs, [{ reg: HV_REG.HV_REG_PC, value: walk!.pc + 4n }]);
  // Device memory: the unaligned load is the guest's alignment fault (EC 0x25, DFSC 0x21, FAR = the VA).
  assert.deepEqual(
    [align!.kind, align!.guest?.esr?.value, align!.guest?.far],
    ['arm64.el1.alignment.device', 0x9600_0021n, 0x8000_0012n],
  );
});

test('kinds the Arm ARM rules tell apart: WFI/WFE at EL0, the DAIF trap, ICC_SRE_EL1, alignment and PC alignment', () => {
  const kinds = (actions: Arm64Action[], start?: 'el0' | 'el1h') =>
    predictArm64({ actions, codeIpa: CODE, lookup, answer, ...(start ? { start } : {}) }).exits.map(
      (e) => e.kind,
    );
  assert.deepEqual(kinds([{ op: 'wfi' }, { op: 'wfe' }], 'el0'), [
    'arm64.el1.wfi',
    'arm64.el1.wfe',
    'arm64.end',
  ]);
  assert.deepEqual(
    kinds(
      [
        { op: 'sysreg', reg: 'CNTPCT_EL0', read: true, rt: 0 },
        { op: 'daif', set: true, imm: 2 },
      ],
      'el0',
    ),
    ['arm64.el1.sysreg', 'arm64.el1.sysreg.daif', 'arm64.end'],
  );
  assert.deepEqual(
    kinds([
      { op: 'sysreg', reg: 'ICC_SRE_EL1', read: true, rt: 0 },
      { op: 'sysreg', reg: 'ICC_PMR_EL1', read: true, rt: 0 },
    ]),
    ['arm64.sysreg.gic.sre', 'arm64.sysreg.gic', 'arm64.end'],
  );
  // MMU off: an unaligned plain load is Device memory's alignment fault; an unaligned LDAR the instruction's.
  assert.deepEqual(
    kinds([
      { op: 'ldr', size: 4, ipa: 0x20002n, base: 0, rt: 1 },
      { op: 'ldr', size: 4, ipa: 0x20006n, base: 0, rt: 1, acquire: true },
    ]),
    ['arm64.el1.alignment.device', 'arm64.el1.alignment', 'arm64.end'],
  );
  // A misaligned branch target: the same EC 0x22 whether or not the fetch there would fault.
  const p = predictArm64({
    actions: [
      { op: 'branch', ipa: CODE + 0x402n, reg: 9 },
      { op: 'branch', ipa: 0x40002n, reg: 9 },
      { op: 'branch', ipa: 0x20002n, reg: 9 },
    ],
    codeIpa: CODE,
    lookup,
    answer,
  });
  assert.deepEqual(
    p.exits.map((e) => [e.kind, e.guest?.esr?.value, e.guest?.far]),
    [
      ['arm64.el1.pc-alignment', 0x8a00_0000n, CODE + 0x402n],
      ['arm64.el1.pc-alignment.unfetchable', 0x8a00_0000n, 0x40002n],
      ['arm64.el1.pc-alignment.unfetchable', 0x8a00_0000n, 0x20002n],
      ['arm64.end', undefined, undefined],
    ],
  );
});

test('an EL0 read of the ID space: UNDEFINED, or a trapped MRS with FEAT_IDST, unpredicted when unknown', () => {
  const actions: Arm64Action[] = [{ op: 'sysreg', reg: 'ID_AA64MMFR3_EL1', read: true, rt: 3 }];
  const first = (idst?: boolean | 'unknown') =>
    predictArm64({
      actions,
      codeIpa: CODE,
      lookup,
      answer,
      start: 'el0',
      ...(idst === undefined ? {} : { idst }),
    }).exits[0]!;
  assert.deepEqual([first().kind, first().guest?.esr?.value], ['arm64.el1.undefined', 0x0200_0000n]);
  // EC 0x18: Op0 3, Op2 3, Op1 0, CRn 0, Rt 3, CRm 7, read.
  assert.deepEqual([first(true).kind, first(true).guest?.esr?.value], ['arm64.el1.sysreg', 0x6236_006fn]);
  assert.throws(() => first('unknown'), RangeError);
  // A write is UNDEFINED either way (FEAT_IDST is about reads).
  const w = predictArm64({
    actions: [{ op: 'sysreg', reg: 'ID_AA64MMFR3_EL1', read: false, rt: 3 }],
    codeIpa: CODE,
    lookup,
    answer,
    start: 'el0',
    idst: true,
  });
  assert.equal(w.exits[0]!.kind, 'arm64.el1.undefined');
});

test('an unaligned LDAR/STLR: a fault without FEAT_LSE2; with it only across 16 bytes; unpredicted when unknown', () => {
  // MMU off: Device memory, so an LDAR that FEAT_LSE2 lets through still meets Device memory's own rule.
  const kinds = (ipa: bigint, lse2?: boolean | 'unknown') =>
    predictArm64({
      actions: [{ op: 'ldr', size: 4, ipa, base: 0, rt: 1, acquire: true }],
      codeIpa: CODE,
      lookup,
      answer,
      ...(lse2 === undefined ? {} : { lse2 }),
    }).exits.map((e) => e.kind);
  assert.deepEqual(kinds(0x20006n), ['arm64.el1.alignment', 'arm64.end']);
  assert.deepEqual(kinds(0x20006n, false), ['arm64.el1.alignment', 'arm64.end']);
  assert.deepEqual(kinds(0x20006n, true), ['arm64.el1.alignment.device', 'arm64.end']);
  assert.deepEqual(
    kinds(0x2000en, true),
    ['arm64.el1.alignment', 'arm64.end'],
    'bytes 0x2000e–0x20011 cross 0x20010',
  );
  assert.deepEqual(kinds(0x2000en, 'unknown'), ['arm64.el1.alignment', 'arm64.end']);
  assert.throws(() => kinds(0x20006n, 'unknown'), RangeError);
  // Aligned: no fault either way (the load reads RAM).
  assert.deepEqual(kinds(0x20004n, true), ['arm64.end']);
});

test('a guest write of MDSCR_EL1 that may arm software step or breakpoints is not predicted', () => {
  const mdscr = (value: bigint | undefined, rt = 1): Arm64Action[] => [
    { op: 'sysreg', reg: 'MDSCR_EL1', read: false, rt, ...(value === undefined ? {} : { value }) },
  ];
  const predict = (actions: Arm64Action[]) => predictArm64({ actions, codeIpa: CODE, lookup, answer });
  assert.equal(predict(mdscr(0x1000n)).exits.length, 1, 'TDCC alone: no debug event');
  assert.equal(predict(mdscr(undefined, 31)).exits.length, 1, 'XZR');
  assert.throws(() => predict(mdscr(1n)), /MDSCR_EL1/);
  assert.throws(() => predict(mdscr(0x8000n)), /MDSCR_EL1/);
  assert.throws(() => predict(mdscr(undefined)), /MDSCR_EL1/, 'an unknown value');
  // Trapped to the VMM, the write does not happen: predicted whatever the value.
  assert.equal(
    predictArm64({ actions: mdscr(0x8001n), codeIpa: CODE, lookup, answer, trapDebugRegs: true }).exits[0]!
      .kind,
    'arm64.sysreg.debug',
  );
  // The generator never writes SS or MDE.
  fc.assert(
    fc.property(arm64ProgramArb(LAYOUT, 8), (actions) =>
      actions.every(
        (a) =>
          a.op !== 'sysreg' ||
          a.reg !== 'MDSCR_EL1' ||
          a.read ||
          a.rt === 31 ||
          ((a.value ?? 1n) & 0x8001n) === 0n,
      ),
    ),
  );
});

test('a backend’s declared exit kinds are taken out of a scenario, action by action', () => {
  const caps = (kinds: string[]): Capabilities => ({
    backend: 'x',
    arch: 'arm64',
    pageSize: 16384,
    maxVcpus: 1,
    guestExecution: true,
    enforcedPermissions: [],
    deviations: [{ id: 'x.no', description: '', arm64ExitKinds: kinds as Arm64ExitKind[] }],
  });
  const scenario = {
    layout: LAYOUT,
    actions: [{ op: 'hvc', imm: 1 }, { op: 'wfe' }, { op: 'udf', imm: 0 }, { op: 'wfe' }] as Arm64Action[],
    cancelFirst: true,
  };
  const s = arm64ScenarioFor(caps(['arm64.wfe']), scenario);
  assert.deepEqual(s?.actions, [
    { op: 'hvc', imm: 1 },
    { op: 'udf', imm: 0 },
  ]);
  assert.equal(s?.cancelFirst, true);
  assert.equal(arm64ScenarioFor(caps(['arm64.canceled']), scenario)?.cancelFirst, false);
  assert.equal(arm64ScenarioFor(caps(['arm64.end']), scenario), undefined);
  assert.equal(arm64ScenarioFor(caps([]), scenario), scenario);
  assert.equal(arm64KindDeviation(caps(['arm64.wfe']), 'arm64.wfe')?.id, 'x.no');
});
