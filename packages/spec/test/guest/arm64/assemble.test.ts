import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Arm64Action } from '../../../src/guest/arm64/actions.js';
import { ARM64_SYSREGS, formatArm64Action } from '../../../src/guest/arm64/actions.js';
import { A64, assembleAction, assembleArm64, movSequence } from '../../../src/guest/arm64/assemble.js';

const hex = (w: number): string => w.toString(16).padStart(8, '0');
const words = (a: Arm64Action): string[] => assembleAction(a).words.map(hex);

// Pinned encodings: each checked against llvm-mc 14 (`llvm-mc -triple=aarch64 -show-encoding`).
// Most loads and stores move register 1 through [x2]; `ldst` is LDR/STR (unsigned offset) of those.
const ldst = (sizeLog2: number, opc: number, imm12 = 0) => A64.ldstUimm(sizeLog2, opc, 1, 2, imm12);
const PINNED: [text: string, word: number, hex: string][] = [
  ['ldrb w1, [x2]', ldst(0, 1), '39400041'],
  ['ldrh w1, [x2]', ldst(1, 1), '79400041'],
  ['ldr w1, [x2]', ldst(2, 1), 'b9400041'],
  ['ldr x1, [x2]', ldst(3, 1), 'f9400041'],
  ['ldrsb x3, [x1]', A64.ldstUimm(0, 2, 3, 1, 0), '39800023'],
  ['ldrsb w1, [x2]', ldst(0, 3), '39c00041'],
  ['ldrsh x1, [x2]', ldst(1, 2), '79800041'],
  ['ldrsh w1, [x2]', ldst(1, 3), '79c00041'],
  ['ldrsw x1, [x2, #8]', ldst(2, 2, 2), 'b9800841'],
  ['strb wzr, [x2]', A64.ldstUimm(0, 0, 31, 2, 0), '3900005f'],
  ['strh w1, [x2]', ldst(1, 0), '79000041'],
  ['str w1, [x0]', A64.ldstUimm(2, 0, 1, 0, 0), 'b9000001'],
  ['str x1, [x2, #16]', ldst(3, 0, 2), 'f9000841'],
  ['ldarb w1, [x2]', A64.ldar(0, 1, 2), '08dffc41'],
  ['ldar x1, [x2]', A64.ldar(3, 1, 2), 'c8dffc41'],
  ['stlrh w1, [x2]', A64.stlr(1, 1, 2), '489ffc41'],
  ['stlr w1, [x2]', A64.stlr(2, 1, 2), '889ffc41'],
  ['mrs x1, PMCR_EL0', A64.mrs(1, 0xdce0), 'd53b9c01'],
  ['msr PMCR_EL0, x1', A64.msr(0xdce0, 1), 'd51b9c01'],
  ['mrs x16, CNTVCT_EL0', A64.mrs(16, 0xdf02), 'd53be050'],
  ['msr CNTV_CVAL_EL0, x16', A64.msr(0xdf1a, 16), 'd51be350'],
  ['msr CNTV_CTL_EL0, x17', A64.msr(0xdf19, 17), 'd51be331'],
  ['mrs x16, CNTV_CTL_EL0', A64.mrs(16, 0xdf19), 'd53be330'],
  ['add x16, x16, #5', A64.addImm(16, 16, 5), '91001610'],
  ['br x3', A64.br(3), 'd61f0060'],
  ['hvc #0xffff', A64.hvc(0xffff), 'd41fffe2'],
  ['brk #0x1234', A64.brk(0x1234), 'd4224680'],
  ['wfi', A64.wfi(), 'd503207f'],
  ['movz x1, #0x1234, lsl #16', A64.movz(1, 0x1234, 1), 'd2a24681'],
  ['movk x1, #0x1234, lsl #48', A64.movk(1, 0x1234, 3), 'f2e24681'],
  ['svc #0x42', A64.svc(0x42), 'd4000841'],
  ['smc #0x1234', A64.smc(0x1234), 'd4024683'],
  ['udf #1', A64.udf(1), '00000001'],
  ['wfe', A64.wfe(), 'd503205f'],
  ['sevl', A64.sevl(), 'd50320bf'],
  ['eret', A64.eret(), 'd69f03e0'],
  ['msr daifset, #2', A64.msrDaif(true, 2), 'd50342df'],
  ['msr daifclr, #2', A64.msrDaif(false, 2), 'd50342ff'],
  ['adr x9, #12', A64.adr(9, 12), '10000069'],
  ['mov x1, x0', A64.movReg(1, 0), 'aa0003e1'],
  ['msr SPSR_EL1, x9', A64.msr(0xc200, 9), 'd5184009'],
  ['msr ELR_EL1, x9', A64.msr(0xc201, 9), 'd5184029'],
  ['msr OSLAR_EL1, x1', A64.msr(ARM64_SYSREGS.OSLAR_EL1.enc, 1), 'd5101081'],
  ['mrs x2, OSLSR_EL1', A64.mrs(2, ARM64_SYSREGS.OSLSR_EL1.enc), 'd5301182'],
  ['msr OSDLR_EL1, x3', A64.msr(ARM64_SYSREGS.OSDLR_EL1.enc, 3), 'd5101383'],
  ['mrs x0, ICC_IAR1_EL1', A64.mrs(0, ARM64_SYSREGS.ICC_IAR1_EL1.enc), 'd538cc00'],
  ['msr ICC_EOIR1_EL1, x0', A64.msr(ARM64_SYSREGS.ICC_EOIR1_EL1.enc, 0), 'd518cc20'],
  ['msr ICC_PMR_EL1, x1', A64.msr(ARM64_SYSREGS.ICC_PMR_EL1.enc, 1), 'd5184601'],
  ['msr ICC_SGI1R_EL1, x1', A64.msr(ARM64_SYSREGS.ICC_SGI1R_EL1.enc, 1), 'd518cba1'],
  ['mrs x1, ICC_SRE_EL1', A64.mrs(1, ARM64_SYSREGS.ICC_SRE_EL1.enc), 'd538cca1'],
  ['mrs x0, CNTPCT_EL0', A64.mrs(0, ARM64_SYSREGS.CNTPCT_EL0.enc), 'd53be020'],
  ['msr CNTP_CTL_EL0, x2', A64.msr(ARM64_SYSREGS.CNTP_CTL_EL0.enc, 2), 'd51be222'],
  ['msr CNTP_CVAL_EL0, x1', A64.msr(ARM64_SYSREGS.CNTP_CVAL_EL0.enc, 1), 'd51be241'],
  ['mrs x0, S3_0_C0_C6_2', A64.mrs(0, ARM64_SYSREGS.ID_AA64ISAR2_EL1.enc), 'd5380640'],
  ['mrs x1, S3_0_C0_C7_3', A64.mrs(1, ARM64_SYSREGS.ID_AA64MMFR3_EL1.enc), 'd5380761'],
  ['msr MDSCR_EL1, x1', A64.msr(ARM64_SYSREGS.MDSCR_EL1.enc, 1), 'd5100241'],
  ['mrs x2, DBGBVR0_EL1', A64.mrs(2, ARM64_SYSREGS.DBGBVR0_EL1.enc), 'd5300082'],
  ['msr DBGWCR1_EL1, x3', A64.msr(ARM64_SYSREGS.DBGWCR1_EL1.enc, 3), 'd51001e3'],
];

test('instruction encoders match the pinned words', () => {
  for (const [text, word, pinned] of PINNED) assert.equal(hex(word), pinned, text);
  // tbz x16, #2, -4 (the vtimer wait loop's back edge).
  assert.equal(hex(A64.tbz(16, 2, -4)), '3617fff0');
});

test('llvm-mc agrees with the pinned words', {
  skip: spawnSync('which', ['llvm-mc']).status !== 0 ? 'llvm-mc is not installed' : false,
}, () => {
  const src = `${PINNED.map(([t]) => t).join('\n')}\n1: tbz x16, #2, 1b\n`;
  const r = spawnSync('llvm-mc', ['-triple=aarch64', '-show-encoding'], { input: src, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const encodings = [...r.stdout.matchAll(/encoding: \[([^\]]+)\]/g)].map((m) => m[1]!);
  PINNED.forEach(([text, word], i) => {
    const bytes = encodings[i]!.split(',').map((b) => parseInt(b, 16));
    const got = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
    assert.equal(hex(got), hex(word), text);
  });
});

test('movSequence: MOVZ for chunk 0, MOVK for each other nonzero chunk', () => {
  assert.deepEqual(movSequence(0, 0n).map(hex), ['d2800000']);
  assert.deepEqual(movSequence(1, 0x12340000n).map(hex), ['d2800001', 'f2a24681']);
  assert.deepEqual(movSequence(1, 0x1234_0000_0000_0000n).map(hex), ['d2800001', 'f2e24681']);
  assert.equal(movSequence(2, -1n).length, 4);
  assert.throws(() => movSequence(31, 1n), TypeError);
});

test('actions assemble to the expected words', () => {
  assert.deepEqual(words({ op: 'str', size: 4, ipa: 0x40000n, base: 0, rt: 1 }), [
    'd2800000',
    'f2a00080',
    'b9000001',
  ]);
  assert.deepEqual(words({ op: 'ldr', size: 1, ipa: 0x40001n, base: 2, rt: 3, signed: 'x' }), [
    'd2800022',
    'f2a00082',
    '39800043',
  ]);
  assert.deepEqual(words({ op: 'ldr', size: 8, ipa: 0x40010n, base: 2, rt: 31, offset: 16 }), [
    'd2800002',
    'f2a00082',
    'f940085f',
  ]);
  assert.deepEqual(words({ op: 'str', size: 2, ipa: 0x8000n, base: 4, rt: 5, value: 0xbeefn }), [
    'd2900004',
    'd297dde5',
    '79000085',
  ]);
  assert.deepEqual(words({ op: 'str', size: 8, ipa: 0x8000n, base: 4, rt: 6, acquire: true }), [
    'd2900004',
    'c89ffc86',
  ]);
  assert.deepEqual(words({ op: 'hvc', imm: 7 }), ['d40000e2']);
  assert.deepEqual(words({ op: 'sysreg', read: false, rt: 31 }), ['d51b9c1f']);
  assert.deepEqual(words({ op: 'branch', ipa: 0x4000n, reg: 9 }), ['d2880009', 'd61f0120']);
  assert.deepEqual(words({ op: 'vtimer', delta: 3 }), [
    'd53be050',
    '91000e10',
    'd51be350',
    'd2800031',
    'd51be331',
    'd53be330',
    '3617fff0',
  ]);
});

test('assembleArm64 lays out actions and ends with hvc #0xffff', () => {
  const p = assembleArm64(
    [{ op: 'wfi' }, { op: 'str', size: 4, ipa: 0x40000n, base: 0, rt: 1 }, { op: 'vtimer', delta: 0 }],
    0x10000n,
  );
  assert.equal(p.words.length, 1 + 3 + 7 + 1);
  assert.deepEqual(
    p.layout.map((l) => [l.start, l.at, l.end]),
    [
      [0x10000n, 0x10000n, 0x10004n],
      [0x10004n, 0x1000cn, 0x10010n],
      [0x10010n, 0x10024n, 0x1002cn],
      [0x1002cn, 0x1002cn, 0x10030n],
    ],
  );
  assert.equal(p.endMarker, 0x1002cn);
  assert.deepEqual([...p.bytes.slice(-4)], [0xe2, 0xff, 0x1f, 0xd4]);
});

test('the assembler rejects what it cannot encode', () => {
  assert.throws(
    () => assembleAction({ op: 'ldr', size: 8, ipa: 0n, base: 0, rt: 1, signed: 'x' }),
    TypeError,
  );
  assert.throws(
    () => assembleAction({ op: 'ldr', size: 4, ipa: 0n, base: 0, rt: 1, signed: 'w' }),
    TypeError,
  );
  assert.throws(() => assembleAction({ op: 'ldr', size: 4, ipa: 0n, base: 31, rt: 1 }), TypeError);
  assert.throws(() => assembleAction({ op: 'str', size: 4, ipa: 0n, base: 1, rt: 1, value: 3n }), TypeError);
  assert.throws(() => assembleAction({ op: 'hvc', imm: 0xffff }), TypeError);
  assert.throws(() => assembleAction({ op: 'ldr', size: 4, ipa: 8n, base: 0, rt: 1, offset: 6 }), TypeError);
});

test('formatArm64Action reads like assembly', () => {
  assert.equal(
    formatArm64Action({ op: 'ldr', size: 2, ipa: 0x40000n, base: 0, rt: 31, signed: 'w' }),
    'ldrsh wzr, [x0] @ 0x40000',
  );
  assert.equal(formatArm64Action({ op: 'sysreg', read: true, rt: 3 }), 'mrs x3, PMCR_EL0');
});

test('new actions assemble to the expected words; EL0 programs end with svc #0xffff; the vector table', () => {
  assert.deepEqual(words({ op: 'wfe' }), ['d50320bf', 'd503205f', 'd503205f']);
  assert.equal(assembleAction({ op: 'wfe' }).at, 2);
  assert.deepEqual(words({ op: 'svc', imm: 0x42 }), ['d4000841']);
  assert.deepEqual(words({ op: 'udf', imm: 1 }), ['00000001']);
  assert.deepEqual(words({ op: 'smc', imm: 0x1234 }), ['d4024683']);
  assert.deepEqual(words({ op: 'daif', set: false, imm: 2 }), ['d50342ff']);
  assert.deepEqual(words({ op: 'sysreg', reg: 'OSLSR_EL1', read: true, rt: 2 }), ['d5301182']);
  // eret to EL0 with DAIF clear via x9: movz x9, #0; msr SPSR_EL1, x9; adr x9, #12; msr ELR_EL1, x9; eret.
  assert.deepEqual(words({ op: 'eret', to: 'el0', daif: 0, reg: 9 }), [
    'd2800009',
    'd5184009',
    '10000069',
    'd5184029',
    'd69f03e0',
  ]);
  // The illegal return asks for EL2h (M = 0b1001) with DAIF masked: SPSR 0x3c9.
  assert.equal(words({ op: 'eret', to: 'illegal', daif: 15, reg: 1 })[0], hex(A64.movz(1, 0x3c9, 0)));
  const p = assembleArm64(
    [
      { op: 'eret', to: 'el0', daif: 0, reg: 9 },
      { op: 'svc', imm: 1 },
    ],
    0x10000n,
  );
  assert.equal(p.endsAtEl0, true);
  assert.equal(hex(p.words.at(-1)!), hex(A64.svc(0xffff)));
  assert.equal(p.vbar, 0x10800n);
  assert.equal(p.vectors.length, 0x800);
  const view = new DataView(p.vectors.buffer);
  for (let slot = 0; slot < 16; slot++) {
    assert.equal(hex(view.getUint32(slot * 0x80, true)), hex(A64.hvc(0xfe00 | slot)));
    assert.equal(hex(view.getUint32(slot * 0x80 + 4, true)), hex(A64.eret()));
  }
  assert.equal(assembleArm64([], 0x10000n, 'el0').endsAtEl0, true);
  assert.equal(assembleArm64([{ op: 'eret', to: 'illegal', daif: 15, reg: 1 }], 0x10000n).endsAtEl0, false);
  assert.throws(() => assembleArm64([], 0x10400n), TypeError); // not 2 KiB aligned
  assert.throws(() => assembleAction({ op: 'hvc', imm: 0xfe03 }), TypeError); // a report immediate
  assert.throws(() => assembleAction({ op: 'svc', imm: 0xffff }), TypeError);
  assert.throws(() => assembleAction({ op: 'daif', set: true, imm: 16 }), TypeError);
});
