import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { X86Action, X86Mode } from '../../../src/guest/x86/actions.js';
import { EPT_QUALIFICATION_MASK, EPT_STRUCTURE_QUALIFICATION_MASK } from '../../../src/guest/x86/exits.js';
import { x86CanonicalPageTables } from '../../../src/guest/x86/paging.js';
import { predictX86 } from '../../../src/guest/x86/predict.js';
import {
  type X86Layout,
  x86LayoutLookup,
  x86ProgramArb,
  x86ScenarioTraceSteps,
} from '../../../src/guest/x86/scenario.js';
import { X86_SETUP_CPU_BASED } from '../../../src/guest/x86/setup.js';
import { CPU_BASED } from '../../../src/vocabulary/x86.js';

const R = 1,
  W = 2,
  X = 4;
const FULL = 0xffff_ffff_ffff_ffffn;
const layout: X86Layout = {
  mappings: [
    { gpa: 0x1000n, size: 0x1000n, flags: R | X },
    { gpa: 0x2000n, size: 0x1000n, flags: R },
    { gpa: 0x3000n, size: 0x1000n, flags: R | W },
  ],
  code: { gpa: 0x1000n, size: 0x1000, uva: { mem: { id: 7, size: 0x3000 }, offset: 0 } },
};
const lookup = x86LayoutLookup(layout);

test('a hand-computed prediction: every exit kind field by field, the VMM answers, final registers and memory', () => {
  const actions: X86Action[] = [
    { op: 'mov', reg: 'eax', value: 0x11223344 }, // 0x1000, 5 bytes
    { op: 'out', size: 2, port: 0x80, form: 'imm8' }, // 0x1005: 66 e7 80
    { op: 'in', size: 1, port: 0x3f8, form: 'dx' }, // 0x1008: ba f8030000, 0x100d: ec
    { op: 'hlt' }, // 0x100e
    { op: 'store', size: 4, addr: 0x9000n, via: 'moffs' }, // 0x100f: a3 00900000 (unmapped)
    { op: 'load', size: 2, addr: 0x2004n, via: 'ebx' }, // 0x1014: bb.., 0x1019: 66 8b 03 (R: no exit)
    { op: 'store', size: 1, addr: 0x2008n, via: 'ebx' }, // 0x101c: bb.., 0x1021: 88 03 (R: write fault)
    { op: 'store', size: 4, addr: 0x3000n, via: 'moffs' }, // 0x1023: a3 00300000 (RW: no exit)
    { op: 'jump', target: { addr: 0x9000n } }, // 0x1028: e9 .. (fetch from unmapped)
  ]; // end marker at 0x102d
  const p = predictX86({
    program: { actions },
    gpa: 0x1000n,
    lookup,
    initialByte: (g) => Number(g & 0xffn),
    answer: () => 0xabcdef99,
  });
  assert.equal(p.unspecified, undefined);
  assert.equal(p.exits.length, 7);
  const EPT = EPT_QUALIFICATION_MASK;
  // Per exit: what the exit record says.
  const records = [
    { kind: 'x86.io.out.imm8', reason: 30, q: 0x0080_0041n, mask: FULL, gpa: undefined, len: 3 },
    { kind: 'x86.io.in.dx', reason: 30, q: 0x03f8_0008n, mask: FULL, gpa: undefined, len: 1 },
    { kind: 'x86.hlt', reason: 12, q: 0n, mask: FULL, gpa: undefined, len: 1 },
    { kind: 'x86.ept.write.unmapped', reason: 48, q: 0x182n, mask: EPT, gpa: 0x9000n, len: undefined },
    // the load of 0x0504 from the READ page does not exit: EAX = 0x11220504
    { kind: 'x86.ept.write.readonly', reason: 48, q: 0x18an, mask: EPT, gpa: 0x2008n, len: undefined },
    { kind: 'x86.ept.fetch.unmapped', reason: 48, q: 0x184n, mask: EPT, gpa: 0x9000n, len: undefined },
    { kind: 'x86.end', reason: 30, q: 0x00e0_0040n, mask: FULL, gpa: undefined, len: 2 },
  ];
  // Per exit: the guest's RIP and registers at the exit, then the VMM's answer.
  const states = [
    { rip: 0x1005n, regs: { RAX: 0x11223344 }, adv: undefined, vmmRegs: {}, vmmRip: 0x1008n },
    {
      rip: 0x100dn,
      regs: { RAX: 0x11223344, RDX: 0x3f8 },
      adv: undefined,
      vmmRegs: { RAX: 0x11223399 },
      vmmRip: 0x100en,
    },
    { rip: 0x100en, regs: { RAX: 0x11223399 }, adv: undefined, vmmRegs: {}, vmmRip: 0x100fn },
    { rip: 0x100fn, regs: { RAX: 0x11223399 }, adv: 5, vmmRegs: {}, vmmRip: 0x1014n },
    { rip: 0x1021n, regs: { RAX: 0x11220504, RBX: 0x2008 }, adv: 2, vmmRegs: {}, vmmRip: 0x1023n },
    { rip: 0x9000n, regs: { RAX: 0x11220504 }, adv: undefined, vmmRegs: {}, vmmRip: 0x102dn },
    {
      rip: 0x102dn,
      regs: { RAX: 0x11220504, RCX: 0, RDX: 0x3f8, RBX: 0x2008, RSP: 0, RBP: 0, RSI: 0, RDI: 0 },
      adv: undefined,
      vmmRegs: {},
      vmmRip: undefined,
    },
  ];
  assert.deepEqual(
    p.exits.map((e) => ({
      kind: e.kind,
      reason: e.reason,
      q: e.qualification,
      mask: e.qualificationMask,
      gpa: e.gpa,
      len: e.instrLen,
      rip: e.rip,
      regs: e.regs,
      adv: e.vmmAdvance,
      vmmRegs: e.vmmRegs,
      vmmRip: e.vmmRip,
    })),
    records.map((r, i) => ({ ...r, ...states[i] })),
  );
  assert.deepEqual(
    p.memory.map((m) => [m.gpa, Buffer.from(m.bytes).toString('hex')]),
    [
      [0x2004n, '0405'],
      [0x3000n, '04052211'],
    ],
  );
  assert.deepEqual(p.touchedFlags, [R, R | W, R | X]);
});

test('MMIO loads: the VMM answer lands in AL/AX/EAX, keeping the upper bytes; reads of EXEC-only memory fault', () => {
  const lay = x86LayoutLookup({ mappings: [...layout.mappings, { gpa: 0x5000n, size: 0x1000n, flags: X }] });
  const p = predictX86({
    program: {
      actions: [
        { op: 'load', size: 1, addr: 0x8000n, via: 'moffs' },
        { op: 'load', size: 2, addr: 0x5002n, via: 'ebx' },
      ],
    },
    gpa: 0x1000n,
    regs: { eax: 0xaabbccdd },
    lookup: lay,
    answer: (q) => (q.kind === 'mmio-read' && q.gpa === 0x8000n ? 0x12 : 0x3456),
  });
  assert.deepEqual(
    p.exits.map((e) => [e.kind, e.qualification, e.vmmRegs.RAX, e.vmmAdvance]),
    [
      ['x86.ept.read.unmapped', 0x181n, 0xaabbcc12, 5],
      ['x86.ept.read.denied', 0x1a1n, 0xaabb3456, 3],
      ['x86.end', 0x00e0_0040n, undefined, undefined],
    ],
  );
});

test('jumps to a later action skip actions; the program only continues forward', () => {
  const p = predictX86({
    program: {
      actions: [
        { op: 'jump', target: { action: 2 } },
        { op: 'hlt' },
        { op: 'out', size: 1, port: 1, form: 'imm8' },
      ],
    },
    gpa: 0x1000n,
    lookup,
  });
  assert.deepEqual(
    p.exits.map((e) => e.kind),
    ['x86.io.out.imm8', 'x86.end'],
  );
});

test('unspecified: stores into the code, WRITE-without-READ mappings, jumps into other executable memory', () => {
  const program = {
    actions: [{ op: 'hlt' }, { op: 'store', size: 1, addr: 0x1000n, via: 'moffs' }],
  } satisfies { actions: X86Action[] };
  // Code mapped READ|EXEC: the store is an ordinary write fault...
  assert.deepEqual(
    predictX86({ program, gpa: 0x1000n, lookup }).exits.map((e) => e.kind),
    ['x86.hlt', 'x86.ept.write.readonly', 'x86.end'],
  );
  // ...but with the code writable it would modify the program: not predicted.
  const rwx = x86LayoutLookup({ mappings: [{ gpa: 0x1000n, size: 0x1000n, flags: R | W | X }] });
  const store = predictX86({ program, gpa: 0x1000n, lookup: rwx });
  assert.equal(store.exits.length, 1);
  assert.equal(store.unspecified?.actionIndex, 1);
  const wOnly = x86LayoutLookup({
    mappings: [...layout.mappings, { gpa: 0x6000n, size: 0x1000n, flags: W }],
  });
  assert.match(
    predictX86({
      program: { actions: [{ op: 'load', size: 1, addr: 0x6000n, via: 'moffs' }] },
      gpa: 0x1000n,
      lookup: wOnly,
    }).unspecified?.reason ?? '',
    /WRITE without READ/,
  );
  const exec = x86LayoutLookup({
    mappings: [...layout.mappings, { gpa: 0x7000n, size: 0x1000n, flags: R | X }],
  });
  assert.ok(
    predictX86({
      program: { actions: [{ op: 'jump', target: { addr: 0x7000n } }] },
      gpa: 0x1000n,
      lookup: exec,
    }).unspecified,
  );
});

test('code that is not executable: a fetch fault at the first instruction, then the VMM stops', () => {
  const p = predictX86({ program: { actions: [{ op: 'hlt' }] }, gpa: 0x2000n, lookup });
  assert.equal(p.exits.length, 1);
  assert.equal(p.exits[0]!.kind, 'x86.ept.fetch.noexec');
  assert.equal(p.exits[0]!.qualification, 0x18cn); // fetch | readable | GLA valid + translated
  assert.equal(p.exits[0]!.vmmRip, undefined);
  assert.ok(p.stopped);
});

test('ud2 under the canonical exception bitmap: reason 0, IRQ_INFO 0x80000306, RIP at the ud2, the VMM skips it', () => {
  const actions: X86Action[] = [
    { op: 'mov', reg: 'eax', value: 5 }, // 0x1000
    { op: 'ud2' }, // 0x1005: 0f 0b
    { op: 'hlt' }, // 0x1007
  ]; // end marker at 0x1008
  const p = predictX86({ program: { actions }, gpa: 0x1000n, lookup });
  assert.equal(p.unspecified, undefined);
  assert.equal(p.stopped, undefined);
  assert.deepEqual(p.exits[0], {
    kind: 'x86.exception.ud',
    actionIndex: 1,
    reason: 0,
    qualification: 0n,
    qualificationMask: FULL,
    irqInfo: 0x8000_0306,
    idtVectorInfo: 0,
    rip: 0x1005n,
    regs: { RAX: 5 },
    vmmAdvance: 2,
    vmmRegs: {},
    vmmRip: 0x1007n,
  });
  assert.equal(p.exits[0]!.instrLen, undefined, 'not defined for a hardware exception [U]');
  assert.deepEqual(
    p.exits.map((e) => [e.kind, e.rip]),
    [
      ['x86.exception.ud', 0x1005n],
      ['x86.hlt', 0x1007n],
      ['x86.end', 0x1008n],
    ],
  );
  // Only bit 6 matters for #UD.
  assert.equal(
    predictX86({ program: { actions }, gpa: 0x1000n, lookup, excBitmap: 1 << 6 }).exits[0]!.reason,
    0,
  );
});

test('ud2 with the exception bitmap clear: a triple fault through the empty IDT ends the program', () => {
  const actions: X86Action[] = [
    { op: 'store', size: 4, addr: 0x3000n, via: 'moffs' }, // 0x1000 (RW: no exit)
    { op: 'hlt' }, // 0x1005
    { op: 'ud2' }, // 0x1006
    { op: 'out', size: 1, port: 0x80, form: 'imm8' }, // never reached
  ];
  const p = predictX86({
    program: { actions },
    gpa: 0x1000n,
    lookup,
    regs: { eax: 0xa1b2c3d4 },
    excBitmap: 0,
  });
  assert.equal(p.unspecified, undefined);
  assert.match(p.stopped ?? '', /triple fault/);
  assert.deepEqual(
    p.exits.map((e) => e.kind),
    ['x86.hlt', 'x86.triple-fault'],
  );
  const t = p.exits[1]!;
  assert.equal(t.reason, 2);
  assert.equal(t.qualification, 0n);
  assert.equal(t.rip, undefined, 'RIP after a triple fault is not predicted [U]');
  assert.equal(t.vmmRip, undefined);
  assert.equal(t.irqInfo, undefined);
  assert.equal(t.instrLen, undefined);
  assert.deepEqual(t.regs, { RAX: 0xa1b2c3d4, RCX: 0, RDX: 0, RBX: 0, RSP: 0, RBP: 0, RSI: 0, RDI: 0 });
  // The store before it happened.
  assert.deepEqual(p.memory, [{ gpa: 0x3000n, bytes: Uint8Array.from([0xd4, 0xc3, 0xb2, 0xa1]) }]);
  // A bitmap that intercepts #GP or #DF but not #UD: the failed delivery of #UD exits with IDT-vectoring
  // information (#GP(6 × 8 + 2 + 1) during #UD; #DF during that #GP).
  const gp = predictX86({ program: { actions }, gpa: 0x1000n, lookup, excBitmap: 1 << 13 }).exits[1]!;
  assert.deepEqual(
    [gp.kind, gp.irqInfo, gp.irqError, gp.idtVectorInfo, gp.idtVectorError, gp.rip, gp.instrLen],
    ['x86.exception.gp.vectoring', 0x8000_0b0d, 0x33, 0x8000_0306, undefined, 0x1006n, undefined],
  );
  const df = predictX86({ program: { actions }, gpa: 0x1000n, lookup, excBitmap: 1 << 8 }).exits[1]!;
  assert.deepEqual(
    [df.kind, df.irqInfo, df.irqError, df.idtVectorInfo, df.idtVectorError],
    ['x86.exception.df.vectoring', 0x8000_0b08, 0, 0x8000_0b0d, 0x33],
  );
});

test('int n never consults the exception bitmap: with the IDT limit 0 it ends in #GP with the interrupt as IDT-vectoring information', () => {
  for (const [mode, irqInfo, irqError] of [
    ['real', 0x8000_030d, undefined],
    ['prot32', 0x8000_0b0d, 0x21 * 8 + 2],
  ] as const) {
    const p = predictX86({
      program: { actions: [{ op: 'int', vector: 0x21 }] },
      gpa: 0x1000n,
      mode,
      lookup: () => ({ flags: R | X }),
    });
    const e = p.exits[0]!;
    assert.deepEqual(
      [e.kind, e.reason, e.irqInfo, e.irqError, e.idtVectorInfo, e.instrLen, e.rip, e.vmmRip],
      ['x86.exception.gp.vectoring', 0, irqInfo, irqError, 0x8000_0421, 2, 0x1000n, 0x1002n],
    );
  }
});

test('the acceptance program in real mode: mov eax, 0x23456; vmcall exits with reason 18, RAX 0x23456, RIP at the vmcall, length 3', () => {
  const p = predictX86({
    program: { actions: [{ op: 'mov', reg: 'eax', value: 0x23456 }, { op: 'vmcall' }] },
    gpa: 0x1000n,
    mode: 'real',
    lookup: () => ({ flags: R | X }),
  });
  const e = p.exits[0]!;
  assert.deepEqual(
    [e.kind, e.reason, e.qualification, e.instrLen, e.rip, e.regs.RAX, e.vmmRip],
    ['x86.vmcall', 18, 0n, 3, 0x1006n, 0x23456, 0x1009n],
  );
});

test('paging: #PF with the linear address and error code, an alias reaching the same GPA, an EPT violation on a paging structure', () => {
  const tables = x86CanonicalPageTables('long64', 0x30000n, 0xfff0_0000n);
  const lay = x86LayoutLookup({
    mappings: [...layout.mappings, { gpa: 0x30000n, size: 0x3000n, flags: R | W }],
  });
  const p = predictX86({
    program: {
      actions: [
        { op: 'store', size: 4, addr: 0x4000_3000n, via: 'ebx' }, // alias of GPA 0x3000 (RW): no exit
        { op: 'load', size: 2, addr: 0xc000_0010n, via: 'moffs' }, // not present: #PF, read
        { op: 'store', size: 1, addr: 0x8000_1000n, via: 'moffs' }, // through the missing table
        { op: 'load', size: 1, addr: 0x4000_9000n, via: 'moffs' }, // alias of an unmapped GPA
      ],
    },
    gpa: 0x1000n,
    mode: 'long64',
    paging: tables,
    lookup: lay,
    regs: { eax: 0x01020304 },
  });
  assert.equal(p.unspecified, undefined);
  assert.deepEqual(
    p.exits.map((e) => [e.kind, e.qualification, e.qualificationMask, e.gpa, e.gla, e.irqError]),
    [
      ['x86.exception.pf', 0xc000_0010n, FULL, undefined, undefined, 0],
      [
        'x86.ept.paging-structure',
        0x81n,
        EPT_STRUCTURE_QUALIFICATION_MASK,
        0xfff0_0000n,
        0x8000_1000n,
        undefined,
      ],
      ['x86.ept.read.unmapped', 0x181n, EPT_QUALIFICATION_MASK, 0x9000n, 0x4000_9000n, undefined],
      ['x86.end', 0x00e0_0040n, FULL, undefined, undefined, undefined],
    ],
  );
  assert.deepEqual(p.memory, [{ gpa: 0x3000n, bytes: Uint8Array.from([4, 3, 2, 1]) }]);
  // A write through the not-present range sets W/R in the error code.
  const w = predictX86({
    program: { actions: [{ op: 'store', size: 1, addr: 0xc000_0000n, via: 'moffs' }] },
    gpa: 0x1000n,
    mode: 'prot32-paging',
    paging: x86CanonicalPageTables('prot32-paging', 0x30000n, 0xfff0_0000n),
    lookup: lay,
  });
  assert.equal(w.exits[0]!.irqError, 2);
});

test('MOV CR and MOV DR: exits by the masks and controls, qualifications, the VMM answers reads', () => {
  const all = X86_SETUP_CPU_BASED | CPU_BASED.CPU_BASED_CR3_LOAD | CPU_BASED.CPU_BASED_CR3_STORE;
  const p = predictX86({
    program: {
      actions: [
        { op: 'mov', reg: 'ebx', value: 0x21 },
        { op: 'mov-to-cr', cr: 0, reg: 'ebx' }, // the shadow's value: no exit
        { op: 'mov', reg: 'ecx', value: 0x8000_0021 },
        { op: 'mov-to-cr', cr: 0, reg: 'ecx' }, // exits
        { op: 'mov-from-cr', cr: 0, reg: 'edx' }, // the shadow, no exit
        { op: 'mov-from-cr', cr: 3, reg: 'esi' }, // exits (CR3-store exiting)
        { op: 'mov-to-dr', dr: 2, reg: 'ecx' }, // no MOV-DR exiting: executes
        { op: 'mov-from-dr', dr: 2, reg: 'edi' },
      ],
    },
    gpa: 0x1000n,
    lookup,
    cpuBased: all,
    answer: () => 0xabcd,
  });
  assert.deepEqual(
    p.exits.map((e) => [e.kind, e.qualification, e.instrLen, e.vmmRegs]),
    [
      ['x86.cr.write.cr0', 0x100n, 3, {}],
      ['x86.cr.read.cr3', 0x613n, 3, { RSI: 0xabcd }],
      ['x86.end', 0x00e0_0040n, 2, {}],
    ],
  );
  assert.equal(p.finalRegs.RDX, 0x21);
  assert.equal(p.finalRegs.RDI, 0x8000_0021);
  const dr = predictX86({
    program: { actions: [{ op: 'mov-from-dr', dr: 1, reg: 'eax' }] },
    gpa: 0x1000n,
    lookup,
    cpuBased: X86_SETUP_CPU_BASED | CPU_BASED.CPU_BASED_MOV_DR,
    answer: () => 7,
  });
  assert.deepEqual(
    [dr.exits[0]!.kind, dr.exits[0]!.reason, dr.exits[0]!.qualification, dr.exits[0]!.vmmRegs],
    ['x86.dr.read', 29, 0x11n, { RAX: 7 }],
  );
});

test('x86ProgramArb only generates programs the spec predicts, with at most 8 actions', () => {
  const lay: X86Layout = {
    ...layout,
    mappings: [
      ...layout.mappings,
      { gpa: 0x6000n, size: 0x2000n, flags: W },
      { gpa: 0x9000n, size: 0x1000n, flags: 0 },
    ],
  };
  fc.assert(
    fc.property(x86ProgramArb(lay), (program) => {
      assert.ok(program.actions.length <= 8);
      const p = predictX86({ program, gpa: lay.code.gpa, lookup: x86LayoutLookup(lay) });
      assert.equal(p.unspecified, undefined, p.unspecified?.reason);
      assert.equal(p.exits[p.exits.length - 1]!.kind, 'x86.end');
    }),
    { numRuns: 300 },
  );
  // The canonical bitmap: ud2 anywhere, each an exception exit the VMM skips.
  const kinds = new Set<string>();
  fc.assert(
    fc.property(x86ProgramArb(lay), (program) => {
      const p = predictX86({ program, gpa: lay.code.gpa, lookup: x86LayoutLookup(lay) });
      for (const e of p.exits) kinds.add(e.kind);
    }),
    { numRuns: 200, seed: 42 },
  );
  assert.ok(kinds.has('x86.exception.ud'));
  assert.ok(!kinds.has('x86.triple-fault'));
});

test('x86ProgramArb under other bitmaps: an exception that would end in a triple fault comes last, everything predicted', () => {
  const raises = (a: X86Action) => ['ud2', 'int3', 'int1', 'int', 'div0', 'load-ds'].includes(a.op);
  let tripleFaults = 0;
  fc.assert(
    fc.property(x86ProgramArb(layout, 8, 0), (program) => {
      assert.ok(program.actions.length >= 1 && program.actions.length <= 8);
      const p = predictX86({ program, gpa: layout.code.gpa, lookup, excBitmap: 0 });
      assert.equal(p.unspecified, undefined, p.unspecified?.reason);
      // Under bitmap 0 every exception ends the run: only the last action raises one.
      assert.ok(!program.actions.slice(0, -1).some(raises));
      const last = p.exits[p.exits.length - 1]!.kind;
      assert.ok(last === 'x86.triple-fault' || last === 'x86.end', last);
      if (last === 'x86.triple-fault') tripleFaults++;
    }),
    { numRuns: 200 },
  );
  assert.ok(tripleFaults > 100);
  for (const excBitmap of [1 << 13, 1 << 8])
    fc.assert(
      fc.property(x86ProgramArb(layout, 8, excBitmap), (program) => {
        const p = predictX86({ program, gpa: layout.code.gpa, lookup, excBitmap });
        assert.equal(p.unspecified, undefined, p.unspecified?.reason);
      }),
      { numRuns: 100 },
    );
});

test('x86ProgramArb leaves out the exits a backend declares it never reports', () => {
  const reasons = (mode: X86Mode) => {
    const seen = new Set<number>();
    fc.assert(
      fc.property(x86ProgramArb(layout, 8, 0xffff_ffff, mode, [0, 10, 28, 31, 32, 18]), (program) => {
        const p = predictX86({ program, gpa: layout.code.gpa, lookup, mode });
        for (const e of p.exits) seen.add(e.reason);
      }),
      { numRuns: 150, seed: 3 },
    );
    return seen;
  };
  const seen = reasons('prot32');
  for (const r of [0, 10, 28, 31, 32, 18]) assert.ok(!seen.has(r), `reason ${r} generated`);
  assert.ok(seen.has(30) && seen.has(48) && seen.has(12));
});

test('x86ScenarioTraceSteps: the scenario as replayable trace steps', () => {
  const steps = x86ScenarioTraceSteps(
    {
      layout,
      program: {
        actions: [
          { op: 'mov', reg: 'eax', value: 7 },
          { op: 'in', size: 2, port: 0x71, form: 'imm8' },
        ],
      },
      regs: { ebx: 1 },
    },
    { memName: () => 'ram', thread: 1, answer: () => 0x1234 },
  );
  assert.deepEqual(steps[0], {
    call: 'host_write',
    args: { mem: 'ram', offset: 0, bytes: 'b807000000' + '66e571' + 'e6e0' },
  });
  assert.deepEqual(steps[1], {
    thread: 1,
    call: 'x86_setup',
    args: { vcpu: '$cpu', mode: 'prot32', rip: '0x1000' },
  });
  assert.deepEqual(steps[5], {
    thread: 1,
    call: 'hv_vcpu_write_register',
    args: { vcpu: '$cpu', reg: 'HV_X86_RBX', value: '0x1' },
    expect: { ret: 'HV_SUCCESS' },
  });
  const rest = steps
    .slice(10)
    .map((s) => `${s.call} ${JSON.stringify(s.args)} ${JSON.stringify(s.expect ?? {})}`);
  assert.deepEqual(rest.slice(0, 8), [
    'hv_vcpu_run {"vcpu":"$cpu"} {"ret":"HV_SUCCESS"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_REASON"} {"ret":"HV_SUCCESS","value":"0x1e"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_QUALIFIC"} {"ret":"HV_SUCCESS","value":"0x710049"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_VMEXIT_INSTR_LEN"} {"ret":"HV_SUCCESS","value":"0x3"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_GUEST_RIP"} {"ret":"HV_SUCCESS","value":"0x1005"}',
    'hv_vcpu_read_register {"vcpu":"$cpu","reg":"HV_X86_RAX"} {"ret":"HV_SUCCESS","value":{"value":"0x7","mask":"0xffffffff"}}',
    'hv_vcpu_write_register {"vcpu":"$cpu","reg":"HV_X86_RAX","value":"0x1234"} {"ret":"HV_SUCCESS"}',
    'hv_vcpu_write_register {"vcpu":"$cpu","reg":"HV_X86_RIP","value":"0x1008"} {"ret":"HV_SUCCESS"}',
  ]);
  assert.equal(
    steps[steps.length - 1]!.call,
    'hv_vcpu_read_register',
    'no memory touched: the trace ends with the final register reads',
  );
});

test('x86ScenarioTraceSteps: the exception bitmap write after x86_setup, IRQ_INFO of a ud2 exit, no RIP after a triple fault', () => {
  const line = (s: { call: string; args: unknown; expect?: unknown }) =>
    `${s.call} ${JSON.stringify(s.args)} ${JSON.stringify(s.expect ?? {})}`;
  const ud = x86ScenarioTraceSteps(
    { layout, program: { actions: [{ op: 'ud2' }] } },
    { memName: () => 'ram' },
  );
  assert.ok(!ud.some((s) => s.call === 'hv_vmx_vcpu_write_vmcs'), 'no bitmap write without the option');
  assert.deepEqual(ud.slice(10, 17).map(line), [
    'hv_vcpu_run {"vcpu":"$cpu"} {"ret":"HV_SUCCESS"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_REASON"} {"ret":"HV_SUCCESS","value":"0x0"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_QUALIFIC"} {"ret":"HV_SUCCESS","value":"0x0"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_VMEXIT_IRQ_INFO"} {"ret":"HV_SUCCESS","value":{"value":"0x80000306","mask":"0xffffefff"}}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_IDT_VECTOR_INFO"} {"ret":"HV_SUCCESS","value":{"value":"0x0","mask":"0x80000000"}}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_GUEST_RIP"} {"ret":"HV_SUCCESS","value":"0x1000"}',
    'hv_vcpu_read_register {"vcpu":"$cpu","reg":"HV_X86_RAX"} {"ret":"HV_SUCCESS","value":{"value":"0x0","mask":"0xffffffff"}}',
  ]);
  assert.equal(
    line(ud[17]!),
    'hv_vcpu_write_register {"vcpu":"$cpu","reg":"HV_X86_RIP","value":"0x1002"} {"ret":"HV_SUCCESS"}',
  );

  const tf = x86ScenarioTraceSteps(
    { layout, program: { actions: [{ op: 'ud2' }] }, excBitmap: 0 },
    { memName: () => 'ram' },
  );
  assert.equal(
    line(tf[2]!),
    'hv_vmx_vcpu_write_vmcs {"vcpu":"$cpu","field":"VMCS_CTRL_EXC_BITMAP","value":"0x0"} {"ret":"HV_SUCCESS"}',
  );
  const after = tf.slice(11).map(line);
  assert.deepEqual(after.slice(0, 3), [
    'hv_vcpu_run {"vcpu":"$cpu"} {"ret":"HV_SUCCESS"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_REASON"} {"ret":"HV_SUCCESS","value":"0x2"}',
    'hv_vmx_vcpu_read_vmcs {"vcpu":"$cpu","field":"VMCS_RO_EXIT_QUALIFIC"} {"ret":"HV_SUCCESS","value":"0x0"}',
  ]);
  assert.ok(!after.some((l) => l.includes('VMCS_GUEST_RIP') || l.includes('HV_X86_RIP')));
  assert.equal(after.filter((l) => l.startsWith('hv_vcpu_read_register')).length, 8);
  assert.equal(after.length, 3 + 8, 'nothing after the triple fault');
});

test('x86ProgramArb for a backend that delivers real-mode events whatever the IDT limit: no real-mode event', () => {
  const raises = (a: X86Action) => ['ud2', 'int3', 'int1', 'int', 'div0', 'load-ds'].includes(a.op);
  const lastKinds = (realEvents: boolean) => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(x86ProgramArb(layout, 8, 0, 'real', [], true, true, realEvents), (program) => {
        const p = predictX86({ program, gpa: layout.code.gpa, lookup, mode: 'real', excBitmap: 0 });
        assert.equal(p.unspecified, undefined, p.unspecified?.reason);
        if (!realEvents) assert.ok(!program.actions.some(raises));
        kinds.add(p.exits[p.exits.length - 1]!.kind);
      }),
      { numRuns: 150, seed: 5 },
    );
    return kinds;
  };
  assert.ok(lastKinds(true).has('x86.triple-fault'));
  assert.ok(!lastKinds(false).has('x86.triple-fault'));
});

test("x86ProgramArb without fetches from page tables: no jump into other vCPUs' tables either", () => {
  const lay: X86Layout = { ...layout, otherTables: { gpa: 0x2000n, size: 0x1000n } };
  const targets = (fetchFromTables: boolean) => {
    const seen = new Set<bigint>();
    fc.assert(
      fc.property(x86ProgramArb(lay, 8, 0xffff_ffff, 'prot32', [], true, fetchFromTables), (program) => {
        for (const a of program.actions)
          if (a.op === 'jump' && 'addr' in a.target) seen.add(a.target.addr & ~0xfffn);
      }),
      { numRuns: 300, seed: 9 },
    );
    return seen;
  };
  assert.ok(targets(true).has(0x2000n));
  const without = targets(false);
  assert.ok(!without.has(0x2000n));
  assert.ok(without.has(0x3000n));
});
