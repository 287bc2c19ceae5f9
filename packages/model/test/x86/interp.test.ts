import assert from 'node:assert/strict';
import { test } from 'node:test';
// The spec's encoders, by path until packages/spec/src/index.ts exports guest/x86 (the lead wires it).
import {
  crAccessQualification,
  drAccessQualification,
  eptQualification,
  interruptionInfo,
  ioQualification,
} from '../../../spec/src/guest/x86/exits.js';
import type { X86Cpu, X86Stop } from '../../src/engine.js';
import { x86ExitFields } from '../../src/x86/exit.js';
import { x86Engine } from '../../src/x86/interp.js';
import { CODE, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP, Pages, prot32Cpu, R, W, X } from './helpers.js';

/** Runs `code` at 0x1000 (page RWX-mapped 0x0000–0x8000 unless `mem` is given) until a stop. */
function run(
  code: string,
  setup: { regs?: Record<number, bigint>; mem?: Pages; flags?: bigint; budget?: number } = {},
) {
  const mem = setup.mem ?? new Pages().map(0n, 0x8000, R | W | X);
  mem.poke(CODE, code);
  const cpu = prot32Cpu(CODE);
  for (const [r, v] of Object.entries(setup.regs ?? {})) cpu.gpr[Number(r)] = v;
  if (setup.flags !== undefined) cpu.rflags = setup.flags;
  const stop = x86Engine(cpu, mem, setup.budget ?? 1000);
  return { cpu, mem, stop };
}
const END = 'f4'; // hlt ends the unit-test snippets

function assertHltAt(stop: X86Stop, cpu: X86Cpu, rip: bigint) {
  assert.deepEqual(stop, { kind: 'hlt', len: 1 });
  assert.equal(cpu.rip, rip, 'RIP stays at the hlt');
}

test('mov r32, imm32 / mov r8, imm8 (incl. AH..BH) / 0x66 mov r16, imm16', () => {
  const { cpu, stop } = run(`b8 78563412  b4 aa  b3 55  66 b9 3412  bf ffffffff${END}`, {
    regs: { [ECX]: 0xaaaa0000n },
  });
  assertHltAt(stop, cpu, CODE + 18n);
  assert.equal(cpu.gpr[EAX], 0x1234aa78n);
  assert.equal(cpu.gpr[EBX], 0x55n);
  assert.equal(cpu.gpr[ECX], 0xaaaa1234n);
  assert.equal(cpu.gpr[EDI], 0xffffffffn);
});

test('mov r/m forms with 8/16/32-bit operands, ModRM + SIB + disp8/disp32, moffs, C6/C7', () => {
  const code = [
    'bb 00200000', // mov ebx, 0x2000
    'be 04000000', // mov esi, 4
    'b8 efbeadde', // mov eax, 0xdeadbeef
    '89 03', // mov [ebx], eax
    '66 89 43 08', // mov [ebx+8], ax
    '88 64 73 0c', // mov [ebx+esi*2+0xc], ah  (SIB: scale 1, index esi, base ebx) → 0x2014
    'c6 05 20200000 7f', // mov byte [0x2020], 0x7f
    'c7 83 00010000 44332211', // mov dword [ebx+0x100], 0x11223344
    '66 c7 43 30 cdab', // mov word [ebx+0x30], 0xabcd
    '8b 0b', // mov ecx, [ebx]
    '66 8b 53 08', // mov dx, [ebx+8]
    '8a 3c 33', // mov bh, [ebx+esi]  → 0x2004 (0)
    'a1 00210000', // mov eax, [0x2100]
    'a2 40200000', // mov [0x2040], al
    END,
  ].join('');
  const { cpu, mem, stop } = run(code, { regs: { [EDX]: 0xffff0000n } });
  assert.equal(stop.kind, 'hlt');
  assert.equal(mem.peek(0x2000n, 4), 'efbeadde');
  assert.equal(mem.peek(0x2008n, 2), 'efbe');
  assert.equal(mem.peek(0x2014n, 1), 'be');
  assert.equal(mem.peek(0x2020n, 1), '7f');
  assert.equal(mem.peek(0x2100n, 4), '44332211');
  assert.equal(mem.peek(0x2030n, 2), 'cdab');
  assert.equal(mem.peek(0x2040n, 1), '44');
  assert.equal(cpu.gpr[ECX], 0xdeadbeefn);
  assert.equal(cpu.gpr[EDX], 0xffffbeefn);
  assert.equal(cpu.gpr[EBX], 0n); // bh = byte at 0x2004 = 0, replacing the 0x20 of 0x2000
  assert.equal(cpu.gpr[EAX], 0x11223344n);
});

test('segment override uses the segment base; ESP/EBP bases default to SS', () => {
  const mem = new Pages().map(0n, 0x8000, R | W | X);
  mem.poke(CODE, `64 a3 10000000bd 0030000089 45 04${END}`); // mov fs:[0x10], eax; mov ebp, 0x3000; mov [ebp+4], eax
  const cpu = prot32Cpu(CODE);
  cpu.gpr[EAX] = 0x01020304n;
  cpu.seg.fs.base = 0x4000n;
  cpu.seg.ss.base = 0x100n;
  const stop = x86Engine(cpu, mem, 100);
  assert.equal(stop.kind, 'hlt');
  assert.equal(mem.peek(0x4010n, 4), '04030201');
  assert.equal(mem.peek(0x3104n, 4), '04030201');
});

const CF = 1n,
  PF = 4n,
  AF = 0x10n,
  ZF = 0x40n,
  SF = 0x80n,
  OF = 0x800n;
const ARITH = CF | PF | AF | ZF | SF | OF;

test('add/sub/cmp/and/or/xor/adc/sbb: results and flags', () => {
  const cases: Array<[string, bigint, bigint, bigint]> = [
    // [code, eax before, eax after, arithmetic flags after]
    ['05 01000000', 0xffffffffn, 0n, CF | PF | AF | ZF], // add eax, 1
    ['05 01000000', 0x7fffffffn, 0x80000000n, SF | OF | AF | PF], // signed overflow
    ['2d 01000000', 0n, 0xffffffffn, CF | SF | AF | PF], // sub eax, 1
    ['3d 05000000', 5n, 5n, ZF | PF], // cmp eax, 5: eax unchanged
    ['25 f0000000', 0x1ffn, 0xf0n, PF], // and eax, 0xf0
    ['0d 00000080', 1n, 0x80000001n, SF], // or eax, 0x80000000
    ['35 ffffffff', 0xffffffffn, 0n, ZF | PF], // xor eax, -1
    ['04 01', 0x17fn, 0x180n, SF | OF | AF], // add al, 1: byte overflow 0x7f → 0x80
    ['83 c0 ff', 1n, 0n, CF | ZF | PF | AF], // add eax, -1 (sign-extended imm8)
    ['66 83 e8 01', 0x10000n, 0x1ffffn, CF | SF | PF | AF], // sub ax, 1 → 0xffff
    ['80 f4 0f', 0xff00n, 0xf000n, SF | PF], // xor ah, 0x0f
  ];
  for (const [code, before, after, flags] of cases) {
    const { cpu, stop } = run(code + END, { regs: { [EAX]: before } });
    assert.equal(stop.kind, 'hlt', code);
    assert.equal(cpu.gpr[EAX], after, `${code}: result`);
    assert.equal(cpu.rflags & ARITH, flags, `${code}: flags 0x${(cpu.rflags & ARITH).toString(16)}`);
  }
  // adc / sbb consume CF: stc is outside the subset, so set CF through a carrying add first.
  const adc = run(`05 0100000015 10000000${END}`, { regs: { [EAX]: 0xffffffffn } }); // add → 0, CF; adc eax, 0x10 → 0x11
  assert.equal(adc.cpu.gpr[EAX], 0x11n);
  const sbb = run(`05 010000001d 01000000${END}`, { regs: { [EAX]: 0xffffffffn } }); // 0 - 1 - 1
  assert.equal(sbb.cpu.gpr[EAX], 0xfffffffen);
});

test('ALU with memory operands: r/m,reg; reg,r/m; 81/83 on memory; cmp writes nothing', () => {
  const mem = new Pages().map(0n, 0x8000, R | W | X).poke(0x2000n, '01000000 10000000');
  const { cpu } = run(`bb 0020000001 032b 4b 0481 43 04 0001000083 3b 0530 03${END}`, {
    mem,
    regs: { [EAX]: 4n, [ECX]: 0x20n },
  });
  // [0x2000] = 1 + 4 = 5; ecx = 0x20 - 0x10 = 0x10; [0x2004] = 0x110; cmp [ebx], 5 → ZF; xor [ebx], al → 5 ^ 4 = 1
  assert.equal(mem.peek(0x2000n, 4), '01000000');
  assert.equal(mem.peek(0x2004n, 4), '10010000');
  assert.equal(cpu.gpr[ECX], 0x10n);
});

test('inc/dec keep CF; FE/FF on memory', () => {
  const mem = new Pages().map(0n, 0x8000, R | W | X).poke(0x2000n, 'ff 00000000');
  const r = run(`05 01000000404bfe 05 00200000ff 0d 01200000${END}`, {
    mem,
    regs: { [EAX]: 0xffffffffn, [EBX]: 0n },
  });
  // add → eax 0, CF=1; inc eax → 1, CF still 1; dec ebx → 0xffffffff; inc byte [0x2000] → 0 (ZF); dec dword [0x2001] → 0xffffffff
  assert.equal(r.cpu.gpr[EAX], 1n);
  assert.equal(r.cpu.gpr[EBX], 0xffffffffn);
  assert.equal(mem.peek(0x2000n, 5), '00ffffffff');
  assert.equal(r.cpu.rflags & CF, CF, 'CF survives inc/dec');
  assert.equal(r.cpu.rflags & (SF | ZF), SF);
});

test('jmp rel8/rel32, jcc rel8/rel32 taken and not taken, jmp r/m32, nop, lea', () => {
  const code = [
    'eb 01', // 0x1000 jmp +1 → 0x1003
    'f4', // 0x1002 (skipped)
    '31 c0', // 0x1003 xor eax, eax (ZF=1)
    '74 01', // 0x1005 jz +1 → 0x1008
    'f4', // 0x1007 (skipped)
    '75 01', // 0x1008 jnz: not taken
    '90', // 0x100a nop
    '0f 84 01000000', // 0x100b jz rel32 → 0x1012
    'f4', // 0x1011 (skipped)
    '8d 8c 58 00100000', // 0x1012 lea ecx, [eax+ebx*2+0x1000]
    'b8 22100000', // 0x1019 mov eax, 0x1022
    'ff e0', // 0x101e jmp eax
    'f4 f4', // 0x1020
    'e9 00000000', // 0x1022 jmp +0
    END, // 0x1027
  ].join('');
  const { cpu, stop } = run(code, { regs: { [EBX]: 0x10n } });
  assertHltAt(stop, cpu, 0x1027n);
  assert.equal(cpu.gpr[ECX], 0x1020n);
});

test('cli/sti change IF only', () => {
  const a = run(`fb${END}`);
  assert.equal(a.cpu.rflags, 0x202n);
  const b = run(`fa${END}`, { flags: 0x202n });
  assert.equal(b.cpu.rflags, 0x2n);
});

test('in/out: imm8 and DX forms, all sizes; RIP stays; len in the stop; registers untouched', () => {
  const cases: Array<[string, Partial<X86Stop>]> = [
    ['e6 80', { port: 0x80, size: 1, in: false, imm: true, len: 2 }],
    ['66 e7 81', { port: 0x81, size: 2, in: false, imm: true, len: 3 }],
    ['e7 82', { port: 0x82, size: 4, in: false, imm: true, len: 2 }],
    ['e4 60', { port: 0x60, size: 1, in: true, imm: true, len: 2 }],
    ['66 e5 61', { port: 0x61, size: 2, in: true, imm: true, len: 3 }],
    ['e5 62', { port: 0x62, size: 4, in: true, imm: true, len: 2 }],
    ['ee', { port: 0x3f8, size: 1, in: false, imm: false, len: 1 }],
    ['66 ef', { port: 0x3f8, size: 2, in: false, imm: false, len: 2 }],
    ['ef', { port: 0x3f8, size: 4, in: false, imm: false, len: 1 }],
    ['ec', { port: 0x3f8, size: 1, in: true, imm: false, len: 1 }],
    ['66 ed', { port: 0x3f8, size: 2, in: true, imm: false, len: 2 }],
    ['ed', { port: 0x3f8, size: 4, in: true, imm: false, len: 1 }],
  ];
  for (const [code, want] of cases) {
    const { cpu, stop } = run(`90${code}`, { regs: { [EAX]: 0x12345678n, [EDX]: 0xabcd03f8n } });
    assert.deepEqual(stop, { kind: 'io', string: false, rep: false, ...want }, code);
    assert.equal(cpu.rip, CODE + 1n, `${code}: RIP at the I/O instruction`);
    assert.equal(cpu.gpr[EAX], 0x12345678n);
  }
});

test('EPT violations: read unmapped, write read-only (nothing written), fetch from a non-executable page', () => {
  const mem = () =>
    new Pages()
      .map(0n, 0x2000, R | X)
      .map(0x2000n, 0x1000, R)
      .map(0x3000n, 0x1000, R | W);
  // mov eax, [0x9000] (unmapped)
  let r = run(`90 a1 00900000${END}`, { mem: mem() });
  assert.deepEqual(r.stop, {
    kind: 'ept',
    fault: { gpa: 0x9000n, access: 'read', size: 4, mapped: false, perms: 0 },
    gla: 0x9000n,
  });
  assert.equal(r.cpu.rip, CODE + 1n);
  // mov ebx, 0x2010; mov [ebx], ax → read-only page
  r = run(`bb 10200000 66 89 03${END}`, { mem: mem(), regs: { [EAX]: 0xbeefn } });
  assert.equal(r.stop.kind, 'ept');
  assert.deepEqual(r.stop.kind === 'ept' && r.stop.fault, {
    gpa: 0x2010n,
    access: 'write',
    size: 2,
    mapped: true,
    perms: R,
  });
  assert.equal(r.cpu.rip, CODE + 5n);
  assert.equal(r.cpu.gpr[EBX], 0x2010n, 'the mov ebx before it retired');
  assert.equal(r.mem.peek(0x2010n, 2), '0000');
  // jmp 0x3000 (RW, not executable): RIP = the target
  r = run(`e9 fb1f0000${END}`, { mem: mem() });
  assert.deepEqual(r.stop, {
    kind: 'ept',
    fault: { gpa: 0x3000n, access: 'fetch', size: 15, mapped: true, perms: R | W },
    gla: 0x3000n,
  });
  assert.equal(r.cpu.rip, 0x3000n);
  // a 4-byte load straddling into an unmapped page faults at that page
  r = run(`a1 fe3f0000${END}`, { mem: mem() });
  assert.equal(r.stop.kind === 'ept' && r.stop.fault.gpa, 0x4000n);
  // an instruction straddling into a non-executable page: fetch fault in the second page, RIP at the instruction
  const m = mem();
  m.poke(0x1ffcn, 'b8 01020304'); // mov eax, imm32 across 0x2000 (R only)
  const cpu = prot32Cpu(0x1ffcn);
  const stop = x86Engine(cpu, m, 10);
  assert.equal(stop.kind === 'ept' && stop.fault.gpa, 0x2000n);
  assert.equal(stop.kind === 'ept' && stop.fault.access, 'fetch');
  assert.equal(cpu.rip, 0x1ffcn);
});

test('outside the subset: unsupported with the bytes, never a guess; modes the model does not run refused', () => {
  // rdtsc: a two-byte opcode outside the subset.
  let r = run('90 0f 31');
  assert.equal(r.stop.kind, 'unsupported');
  assert.equal(r.stop.kind === 'unsupported' && Buffer.from(r.stop.bytes).toString('hex'), '0f31');
  assert.equal(r.cpu.rip, CODE + 1n);
  r = run('f0 01 03');
  assert.equal(r.stop.kind === 'unsupported' && Buffer.from(r.stop.bytes).toString('hex'), 'f0');
  r = run('f3 90');
  assert.match(r.stop.kind === 'unsupported' ? r.stop.reason : '', /REP/);
  const cpu = prot32Cpu(CODE);
  cpu.cr0 = 0x80000021n;
  cpu.cr4 = 0x2020n; // PAE paging outside IA-32e mode
  assert.match(String((x86Engine(cpu, new Pages(), 1) as { reason?: string }).reason), /PAE/);
  const v86 = prot32Cpu(CODE);
  v86.rflags = 0x2_0002n;
  assert.match(String((x86Engine(v86, new Pages(), 1) as { reason?: string }).reason), /virtual-8086/);
});

test('ud2 and lea with a register operand raise #UD: an exception stop, RIP at the instruction, nothing changed', () => {
  const UD = { kind: 'exception', event: { vector: 6, type: 'hardware-exception' }, qualification: 0n };
  let r = run(`b8 44332211 0f 0b${END}`);
  assert.deepEqual(r.stop, UD);
  assert.equal(r.cpu.rip, CODE + 5n);
  assert.equal(r.cpu.gpr[EAX], 0x11223344n);
  // A prefix does not make ud2 anything else.
  r = run('66 0f 0b');
  assert.deepEqual(r.stop, UD);
  assert.equal(r.cpu.rip, CODE);
  // lea eax, ebx (8D C3) is #UD; EAX keeps its value.
  r = run('8d c3', { regs: { [EAX]: 7n } });
  assert.deepEqual(r.stop, UD);
  assert.equal(r.cpu.rip, CODE);
  assert.equal(r.cpu.gpr[EAX], 7n);
});

test('budget: stops after exactly `budget` instructions with RIP at the next one', () => {
  const r = run(`90 90 90 90${END}`, { budget: 3 });
  assert.deepEqual(r.stop, { kind: 'budget' });
  assert.equal(r.cpu.rip, CODE + 3n);
});

test('upper halves of the GPRs are left alone by 32-bit writes', () => {
  const r = run(`b8 01000000${END}`, {
    regs: { [EAX]: 0xffff_ffff_0000_0000n, [ESP]: 0x1_0000_0000n, [EBP]: 5n, [ESI]: 6n },
  });
  assert.equal(r.cpu.gpr[EAX], 0xffff_ffff_0000_0001n);
  assert.equal(r.cpu.gpr[ESP], 0x1_0000_0000n);
});

test('x86ExitFields agrees with the spec encoders', () => {
  assert.deepEqual(
    x86ExitFields({
      kind: 'io',
      port: 0x3f8,
      size: 2,
      in: true,
      string: false,
      rep: false,
      imm: false,
      len: 2,
    }),
    {
      reason: 30,
      qualification: ioQualification({
        size: 2,
        in: true,
        string: false,
        rep: false,
        imm: false,
        port: 0x3f8,
      }),
      instrLen: 2,
    },
  );
  assert.deepEqual(
    x86ExitFields({
      kind: 'io',
      port: 0x80,
      size: 4,
      in: false,
      string: true,
      rep: true,
      imm: false,
      len: 2,
      gla: 0x1234n,
    }),
    {
      reason: 30,
      qualification: ioQualification({ size: 4, in: false, string: true, rep: true, imm: false, port: 0x80 }),
      instrLen: 2,
      gla: 0x1234n,
    },
  );
  assert.deepEqual(x86ExitFields({ kind: 'hlt', len: 1 }), { reason: 12, qualification: 0n, instrLen: 1 });
  assert.deepEqual(x86ExitFields({ kind: 'vmcall', len: 3 }), { reason: 18, qualification: 0n, instrLen: 3 });
  assert.deepEqual(x86ExitFields({ kind: 'cpuid', len: 2 }), { reason: 10, qualification: 0n, instrLen: 2 });
  assert.deepEqual(x86ExitFields({ kind: 'rdmsr', len: 2 }), { reason: 31, qualification: 0n, instrLen: 2 });
  assert.deepEqual(x86ExitFields({ kind: 'wrmsr', len: 2 }), { reason: 32, qualification: 0n, instrLen: 2 });
  for (const write of [true, false]) {
    assert.deepEqual(x86ExitFields({ kind: 'mov-cr', cr: 8, write, gpr: 13, len: 4 }), {
      reason: 28,
      qualification: crAccessQualification({ cr: 8, type: write ? 'to' : 'from', gpr: 13 }),
      instrLen: 4,
    });
    assert.deepEqual(x86ExitFields({ kind: 'mov-dr', dr: 7, write, gpr: 2, len: 3 }), {
      reason: 29,
      qualification: drAccessQualification({ dr: 7, direction: write ? 'to' : 'from', gpr: 2 }),
      instrLen: 3,
    });
  }
  for (const access of ['read', 'write', 'fetch'] as const)
    for (let perms = 0; perms < 8; perms++)
      for (const structure of [false, true]) {
        const f = x86ExitFields({
          kind: 'ept',
          fault: { gpa: 0x5000n, access, size: 4, mapped: perms !== 0, perms },
          gla: 0x7000n,
          structure,
        });
        assert.deepEqual(f, {
          reason: 48,
          qualification: eptQualification({ access, perms, glaValid: true, glaTranslated: !structure }),
          gpa: 0x5000n,
          gla: 0x7000n,
          idtVectorInfo: 0,
        });
      }
  assert.equal(x86ExitFields({ kind: 'budget' }), undefined);
});

test('x86ExitFields of a guest exception: IRQ_INFO, error code, IDT-vectoring information, instruction length', () => {
  const info = (
    vector: number,
    type: Parameters<typeof interruptionInfo>[0]['type'],
    errorCodeValid: boolean,
  ) => interruptionInfo({ vector, type, errorCodeValid });
  assert.deepEqual(
    x86ExitFields({ kind: 'exception', event: { vector: 6, type: 'hardware-exception' }, qualification: 0n }),
    { reason: 0, qualification: 0n, irqInfo: 0x8000_0306, idtVectorInfo: 0 },
  );
  // #PF: the linear address in the qualification, the error code beside IRQ_INFO (0x80000b0e).
  assert.deepEqual(
    x86ExitFields({
      kind: 'exception',
      event: { vector: 14, type: 'hardware-exception', errorCode: 2 },
      qualification: 0xc000_1000n,
    }),
    {
      reason: 0,
      qualification: 0xc000_1000n,
      irqInfo: info(14, 'hardware-exception', true),
      irqError: 2,
      idtVectorInfo: 0,
    },
  );
  // #BP from int3: a software exception, instruction length saved.
  assert.deepEqual(
    x86ExitFields({
      kind: 'exception',
      event: { vector: 3, type: 'software-exception', len: 1 },
      qualification: 0n,
    }),
    { reason: 0, qualification: 0n, irqInfo: 0x8000_0603, idtVectorInfo: 0, instrLen: 1 },
  );
  // #GP while delivering int 0x21 (real mode: no error codes): IDT-vectoring names the software interrupt
  // and the instruction length is the int's (how DOS-style VMMs find the service number).
  assert.deepEqual(
    x86ExitFields({
      kind: 'exception',
      event: { vector: 13, type: 'hardware-exception' },
      qualification: 0n,
      during: { vector: 0x21, type: 'software-interrupt', len: 2 },
    }),
    { reason: 0, qualification: 0n, irqInfo: 0x8000_030d, idtVectorInfo: 0x8000_0421, instrLen: 2 },
  );
  assert.deepEqual(
    x86ExitFields({
      kind: 'exception',
      event: { vector: 8, type: 'hardware-exception', errorCode: 0 },
      qualification: 0n,
      during: { vector: 13, type: 'hardware-exception', errorCode: 0x6b },
    }),
    {
      reason: 0,
      qualification: 0n,
      irqInfo: info(8, 'hardware-exception', true),
      irqError: 0,
      idtVectorInfo: info(13, 'hardware-exception', true),
      idtVectorError: 0x6b,
    },
  );
  assert.deepEqual(x86ExitFields({ kind: 'triple-fault' }), { reason: 2, qualification: 0n });
});
