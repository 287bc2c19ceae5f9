/**
 * The interpreter in every mode the spec's setups use, on hand-assembled machine code (encodings from
 * the Intel SDM Vol. 2 opcode tables): real mode with 16-bit addressing, segments, IVT delivery and
 * IRET; 32-bit paging and 4-level paging (large pages, accessed/dirty bits, page faults, EPT violations
 * on paging structures); 64-bit code (REX, RIP-relative addressing, 64-bit arithmetic, the stack);
 * the instructions that switch modes; and the exits the VMCS controls decide (MOV CR, MOV DR, CPUID,
 * RDMSR/WRMSR, VMCALL, string I/O) and what guest exceptions become.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { X86Cpu, X86Stop } from '../../src/engine.js';
import { x86ExitFields } from '../../src/x86/exit.js';
import { x86Engine } from '../../src/x86/interp.js';
import { CODE, EAX, EBX, ECX, EDI, EDX, ESI, ESP, modeCpu, Pages, prot32Cpu, R, W, X } from './helpers.js';

const CTL_MOV_DR = 1 << 23;
const CTL_CR3_LOAD = 1 << 15;
const CTL_CR3_STORE = 1 << 16;
const CTL_HLT = 1 << 7;

function runOn(cpu: X86Cpu, mem: Pages, budget = 1000): X86Stop {
  return x86Engine(cpu, mem, budget);
}

/** 8-byte little-endian entries, as a hex string. */
function q(v: bigint): string {
  return Buffer.from(Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))).toString(
    'hex',
  );
}
function d(v: number): string {
  return Buffer.from([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]).toString('hex');
}

// ---- real mode --------------------------------------------------------------------------------------

test('real mode at reset-like state: mov eax, 0x23456; vmcall exits with RIP at the vmcall and length 3', () => {
  const mem = new Pages().map(0n, 0x10000, R | W | X).poke(CODE, '66 b8 56340200 0f 01 c1');
  const cpu = modeCpu('real', CODE);
  const stop = runOn(cpu, mem);
  assert.deepEqual(stop, { kind: 'vmcall', len: 3 });
  assert.equal(cpu.rip, 0x1006n);
  assert.equal(cpu.gpr[EAX]! & 0xffff_ffffn, 0x23456n);
  assert.deepEqual(x86ExitFields(stop), { reason: 18, qualification: 0n, instrLen: 3 });
});

test('real mode: 16-bit operands and addressing, segment loads move the base, DS limit #GP has no error code', () => {
  const mem = new Pages().map(0n, 0x30000, R | W | X).poke(0x20012n, '3412');
  mem.poke(
    CODE,
    [
      'b8 0020', // mov ax, 0x2000
      '8e d8', // mov ds, ax → DS.base 0x20000
      'bb 1000', // mov bx, 0x10
      'be 0400', // mov si, 4
      'c6 00 aa', // mov byte [bx+si], 0xaa → 0x20014
      '8b 47 02', // mov ax, [bx+2] → 0x20012
      '8c d9', // mov cx, ds
      'f4',
    ].join(''),
  );
  const cpu = modeCpu('real', CODE);
  assert.equal(runOn(cpu, mem).kind, 'hlt');
  assert.equal(mem.peek(0x20014n, 1), 'aa');
  assert.equal(cpu.gpr[EAX]! & 0xffffn, 0x1234n);
  assert.equal(cpu.gpr[ECX]! & 0xffffn, 0x2000n);
  assert.equal(cpu.seg.ds.base, 0x20000n);
  // mov al, [ebx] (67 8A 03) with EBX past DS's limit 0xffff: #GP(0), delivered without an error code.
  const gp = modeCpu('real', CODE);
  gp.gpr[EBX] = 0x1_0000n;
  const m2 = new Pages().map(0n, 0x30000, R | W | X).poke(CODE, '67 8a 03');
  assert.deepEqual(runOn(gp, m2), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception' },
    qualification: 0n,
  });
  assert.equal(gp.rip, CODE);
});

test('real mode: a far jump loads CS with selector × 16', () => {
  const mem = new Pages()
    .map(0n, 0x40000, R | W | X)
    .poke(CODE, 'ea 0500 0030')
    .poke(0x30005n, 'f4');
  const cpu = modeCpu('real', CODE);
  assert.deepEqual(runOn(cpu, mem), { kind: 'hlt', len: 1 });
  assert.equal(cpu.seg.cs.selector, 0x3000);
  assert.equal(cpu.seg.cs.base, 0x30000n);
  assert.equal(cpu.rip, 5n);
});

test('real mode: int 0x21 through an IVT pushes FLAGS, CS, IP and runs the handler; iret comes back', () => {
  const mem = new Pages()
    .map(0n, 0x10000, R | W | X)
    .poke(0x84n, '0020 0000') // IVT[0x21] = 0000:2000
    .poke(CODE, 'cd 21 f4')
    .poke(0x2000n, 'e6 10 cf'); // out 0x10, al; iret
  const cpu = modeCpu('real', CODE);
  cpu.idtr.limit = 0x3ff;
  cpu.gpr[ESP] = 0x8000n;
  cpu.rflags = 0x202n;
  const stop = runOn(cpu, mem);
  assert.equal(stop.kind, 'io');
  assert.equal(cpu.rip, 0x2000n);
  assert.equal(cpu.gpr[ESP], 0x7ffan);
  assert.equal(mem.peek(0x7ffan, 6), '0210 0000 0202'.replace(/ /g, ''));
  assert.equal(cpu.rflags & 0x200n, 0n, 'IF cleared by the delivery');
  cpu.rip += 2n; // the VMM completes the out
  assert.deepEqual(runOn(cpu, mem), { kind: 'hlt', len: 1 });
  assert.equal(cpu.rip, 0x1002n);
  assert.equal(cpu.gpr[ESP], 0x8000n);
  assert.equal(cpu.rflags & 0x200n, 0x200n, 'IF back from the stack');
});

test('int 0x21 under the canonical IDTR limit 0: #GP with the software interrupt as IDT-vectoring information', () => {
  const mem = new Pages().map(0n, 0x10000, R | W | X).poke(CODE, 'cd 21');
  const real = modeCpu('real', CODE);
  const stop = runOn(real, mem);
  assert.deepEqual(stop, {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception' },
    qualification: 0n,
    during: { vector: 0x21, type: 'software-interrupt', len: 2 },
  });
  assert.equal(real.rip, CODE, 'RIP at the int: the VMM emulates the service and skips 2 bytes');
  assert.deepEqual(x86ExitFields(stop), {
    reason: 0,
    qualification: 0n,
    irqInfo: 0x8000_030d,
    idtVectorInfo: 0x8000_0421,
    instrLen: 2,
  });
  // Protected mode: the same, with #GP's error code vector × 8 + 2 (IDT, not external).
  const prot = prot32Cpu(CODE);
  assert.deepEqual(runOn(prot, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, 'cd 21')), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 0x10a },
    qualification: 0n,
    during: { vector: 0x21, type: 'software-interrupt', len: 2 },
  });
});

test('exception chains under other bitmaps: #GP during #UD, #DF during #GP, triple faults (SDM Table 6-5)', () => {
  const go = (code: string, bitmap: number) => {
    const cpu = prot32Cpu(CODE);
    cpu.ctl.excBitmap = bitmap;
    cpu.gpr[EDX] = 0n;
    return runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, code));
  };
  assert.deepEqual(go('0f 0b', 0), { kind: 'triple-fault' });
  assert.deepEqual(go('0f 0b', 1 << 13), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 6 * 8 + 3 },
    qualification: 0n,
    during: { vector: 6, type: 'hardware-exception' },
  });
  assert.deepEqual(go('0f 0b', 1 << 8), {
    kind: 'exception',
    event: { vector: 8, type: 'hardware-exception', errorCode: 0 },
    qualification: 0n,
    during: { vector: 13, type: 'hardware-exception', errorCode: 6 * 8 + 3 },
  });
  // int3 and int1 are software and privileged-software exceptions: EXT clear / set in the #GP error code.
  assert.deepEqual(go('cc', 1 << 13), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 3 * 8 + 2 },
    qualification: 0n,
    during: { vector: 3, type: 'software-exception', len: 1 },
  });
  assert.deepEqual(go('f1', 1 << 13), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 1 * 8 + 3 },
    qualification: 0n,
    during: { vector: 1, type: 'privileged-software-exception', len: 1 },
  });
  // #DE is contributory: its failed delivery is a #DF at once, which fails into a triple fault.
  assert.deepEqual(go('b9 00000000 f7 f1', 1 << 13), { kind: 'triple-fault' });
  assert.deepEqual(go('cc', 1 << 3), {
    kind: 'exception',
    event: { vector: 3, type: 'software-exception', len: 1 },
    qualification: 0n,
  });
});

test('div: quotient and remainder; #DE for a zero divisor and for a quotient that does not fit', () => {
  const go = (edx: bigint, eax: bigint, ecx: bigint) => {
    const cpu = prot32Cpu(CODE);
    cpu.gpr[EDX] = edx;
    cpu.gpr[EAX] = eax;
    cpu.gpr[ECX] = ecx;
    return { cpu, stop: runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, 'f7 f1 f4')) };
  };
  const ok = go(1n, 5n, 3n); // 0x100000005 / 3
  assert.equal(ok.stop.kind, 'hlt');
  assert.equal(ok.cpu.gpr[EAX], 0x5555_5557n);
  assert.equal(ok.cpu.gpr[EDX], 0n);
  const de = { kind: 'exception', event: { vector: 0, type: 'hardware-exception' }, qualification: 0n };
  assert.deepEqual(go(0n, 5n, 0n).stop, de);
  assert.deepEqual(go(7n, 0n, 7n).stop, de);
});

// ---- exits the controls decide ---------------------------------------------------------------------

test('VMCALL, CPUID, RDMSR and WRMSR always exit, with their lengths; registers untouched', () => {
  for (const [code, kind, len] of [
    ['0f 01 c1', 'vmcall', 3],
    ['0f a2', 'cpuid', 2],
    ['0f 32', 'rdmsr', 2],
    ['0f 30', 'wrmsr', 2],
  ] as const) {
    const cpu = prot32Cpu(CODE);
    cpu.gpr[ECX] = 0xc000_0080n;
    assert.deepEqual(runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, `90 ${code}`)), {
      kind,
      len,
    });
    assert.equal(cpu.rip, CODE + 1n);
    assert.equal(cpu.gpr[ECX], 0xc000_0080n);
  }
});

test('MOV to/from CR0, CR3, CR4 under the canonical masks and controls; CR8 only in 64-bit mode', () => {
  const go = (code: string, eax: bigint, tweak: (c: X86Cpu) => void = () => {}) => {
    const cpu = prot32Cpu(CODE);
    cpu.gpr[EAX] = eax;
    tweak(cpu);
    return { cpu, stop: runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, `${code} f4`)) };
  };
  // Writing the read shadow's value does not exit and changes nothing; any other value exits.
  assert.equal(go('0f 22 c0', 0x21n).stop.kind, 'hlt');
  assert.deepEqual(go('0f 22 c0', 0x8000_0021n).stop, { kind: 'mov-cr', cr: 0, write: true, gpr: 0, len: 3 });
  assert.equal(go('0f 22 e0', 0n).stop.kind, 'hlt'); // CR4 = its shadow 0
  assert.deepEqual(go('bb 10000000 0f 22 e3', 0n).stop, {
    kind: 'mov-cr',
    cr: 4,
    write: true,
    gpr: 3,
    len: 3,
  });
  // Reads of CR0/CR4 give the shadow for owned bits.
  const r = go('0f 20 c1 0f 20 e2', 0n, (c) => {
    c.ctl.cr0Shadow = 0x8000_0031n;
    c.ctl.cr4Shadow = 0x20n;
  });
  assert.equal(r.cpu.gpr[ECX], 0x8000_0031n);
  assert.equal(r.cpu.gpr[EDX], 0x20n);
  // CR3: the model's canonical controls have CR3-load and CR3-store exiting (forced by the capability).
  assert.deepEqual(go('0f 20 d8', 0n).stop, { kind: 'mov-cr', cr: 3, write: false, gpr: 0, len: 3 });
  assert.deepEqual(go('0f 22 df', 0n).stop, { kind: 'mov-cr', cr: 3, write: true, gpr: 7, len: 3 });
  const noExit = go('0f 22 d8 0f 20 d9', 0x5000n, (c) => {
    c.ctl.cpuBased &= ~(CTL_CR3_LOAD | CTL_CR3_STORE);
  });
  assert.equal(noExit.stop.kind, 'hlt');
  assert.equal(noExit.cpu.cr3, 0x5000n);
  assert.equal(noExit.cpu.gpr[ECX], 0x5000n);
  // A CR3 target value does not exit.
  const target = go('0f 22 d8', 0x7000n, (c) => {
    c.ctl.cr3Count = 1;
    c.ctl.cr3Targets[0] = 0x7000n;
  });
  assert.equal(target.stop.kind, 'hlt');
  // CR1 does not exist: #UD. CR8 needs REX.R, which exists only in 64-bit mode, where it exits.
  const ud = go('0f 22 c8', 0n).stop;
  assert.equal(ud.kind === 'exception' && ud.event.vector, 6);
  for (const [code, want] of [
    ['44 0f 22 c0', { kind: 'mov-cr', cr: 8, write: true, gpr: 0, len: 4 }],
    ['44 0f 20 c1', { kind: 'mov-cr', cr: 8, write: false, gpr: 1, len: 4 }],
  ] as const) {
    const cpu = modeCpu('long64', CODE, 0x10000n);
    assert.deepEqual(runOn(cpu, longMem().poke(CODE, code)), want);
  }
});

test('MOV DR: exits under MOV-DR exiting; otherwise DR0–DR3 any value, DR6/DR7 their fixed bits, DR4 #UD with CR4.DE', () => {
  const go = (code: string, tweak: (c: X86Cpu) => void = () => {}) => {
    const cpu = prot32Cpu(CODE);
    cpu.gpr[EAX] = 0x1234_5678n;
    tweak(cpu);
    return { cpu, stop: runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, `${code} f4`)) };
  };
  const moves = go('0f 23 c8 0f 21 ca 31 c0 0f 23 f8 0f 21 fb 0f 23 f0 0f 21 f6');
  assert.equal(moves.stop.kind, 'hlt');
  assert.equal(moves.cpu.dr[1], 0x1234_5678n);
  assert.equal(moves.cpu.gpr[EDX], 0x1234_5678n);
  assert.equal(moves.cpu.gpr[EBX], 0x400n, 'DR7 reads back with bit 10 set');
  assert.equal(moves.cpu.gpr[ESI], 0xffff_0ff0n, 'DR6 reads back with its fixed bits');
  const exits = go('0f 21 c9', (c) => {
    c.ctl.cpuBased |= CTL_MOV_DR;
  });
  assert.deepEqual(exits.stop, { kind: 'mov-dr', dr: 1, write: false, gpr: 1, len: 3 });
  assert.deepEqual(x86ExitFields(exits.stop)?.qualification, 0x111n);
  const de = go('0f 21 e0', (c) => {
    c.cr4 |= 0x8n;
  });
  assert.equal(de.stop.kind === 'exception' && de.stop.event.vector, 6);
});

test('string I/O: INS/OUTS exit before touching memory, with the operand linear address; REP with count 0 is unsupported', () => {
  const go = (code: string, regs: Partial<Record<number, bigint>>, cpu = prot32Cpu(CODE)) => {
    for (const [r, v] of Object.entries(regs)) cpu.gpr[Number(r)] = v as bigint;
    return { cpu, stop: runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, code)) };
  };
  assert.deepEqual(go('f3 6e', { [ESI]: 0x2000n, [EDX]: 0x80n, [ECX]: 5n }).stop, {
    kind: 'io',
    port: 0x80,
    size: 1,
    in: false,
    string: true,
    rep: true,
    imm: false,
    len: 2,
    gla: 0x2000n,
  });
  const ins = go('66 6d', { [EDI]: 0x3000n, [EDX]: 0x3f8n });
  assert.equal(ins.stop.kind === 'io' && ins.stop.gla, 0x3000n);
  assert.equal(ins.stop.kind === 'io' && ins.stop.size, 2);
  assert.equal(ins.cpu.gpr[EDI], 0x3000n, 'nothing executed');
  assert.equal(go('f3 6c', { [ECX]: 0n }).stop.kind, 'unsupported');
  // Real mode: DS:SI with a 16-bit SI.
  const real = modeCpu('real', CODE);
  real.seg.ds.base = 0x2_0000n;
  const outs = go('6e', { [ESI]: 0xffff_0010n }, real).stop;
  assert.equal(outs.kind === 'io' && outs.gla, 0x2_0010n);
});

test('hlt without HLT exiting is unsupported (the model never delivers the interrupt that would end it)', () => {
  const cpu = prot32Cpu(CODE);
  cpu.ctl.cpuBased &= ~CTL_HLT;
  assert.equal(runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, 'f4')).kind, 'unsupported');
});

// ---- paging -----------------------------------------------------------------------------------------

test('32-bit paging: 4 MiB and 4 KiB pages, an alias, accessed/dirty bits set, #PF with CR2 untouched, EPT on a page table', () => {
  const PD = 0x10000n;
  const mem = new Pages().map(0n, 0x20000, R | W | X);
  mem.poke(PD, d(0x0000_00e3)); // PD[0]: 4 MiB identity, accessed and dirty
  mem.poke(PD + 4n, d(0x0001_1003)); // PD[1] → PT at 0x11000, accessed clear
  mem.poke(PD + 8n, d(0x0005_0003)); // PD[2] → PT at 0x50000, not mapped in the EPT
  mem.poke(PD + 0x100n * 4n, d(0x0000_0083)); // PD[0x100]: 1 GiB → GPA 0 (4 MiB), accessed clear
  mem.poke(0x11000n, d(0x0000_3003)); // PT[0]: 0x400000 → GPA 0x3000, accessed and dirty clear
  mem.poke(0x2000n, '44332211');
  mem.poke(
    CODE,
    [
      'a1 00200040', // mov eax, [0x40002000] → GPA 0x2000
      'a3 10004000', // mov [0x400010], eax → GPA 0x3010
      'a1 000000c0', // mov eax, [0xc0000000]: not present
    ].join(''),
  );
  const cpu = modeCpu('prot32-paging', CODE, PD);
  const stop = runOn(cpu, mem);
  assert.deepEqual(stop, {
    kind: 'exception',
    event: { vector: 14, type: 'hardware-exception', errorCode: 0 },
    qualification: 0xc000_0000n,
  });
  assert.equal(cpu.rip, CODE + 10n);
  assert.equal(cpu.cr2, 0n, 'an intercepted #PF does not write CR2');
  assert.equal(cpu.gpr[EAX], 0x11223344n);
  assert.equal(mem.peek(0x3010n, 4), '44332211');
  assert.equal(mem.peek(0x11000n, 4), d(0x0000_3063), 'PTE: accessed and dirty set');
  assert.equal(mem.peek(PD + 4n, 4), d(0x0001_1023), 'PDE: accessed set');
  assert.equal(mem.peek(PD + 0x400n, 4), d(0x0000_00a3), '4 MiB PDE: accessed set by a read');
  // A walk through the unmapped page table: an EPT violation on the entry, bit 8 clear.
  const t = modeCpu('prot32-paging', CODE, PD);
  mem.poke(CODE, 'a1 00108000'); // mov eax, [0x801000]
  const s2 = runOn(t, mem);
  assert.deepEqual(s2, {
    kind: 'ept',
    fault: { gpa: 0x50004n, access: 'read', size: 4, mapped: false, perms: 0 },
    gla: 0x80_1000n,
    structure: true,
  });
  assert.equal((x86ExitFields(s2)?.qualification ?? 0n) & 0x180n, 0x80n);
  // #PF under PFEC_MASK/MATCH: with bit 14 clear a #PF exits when (PFEC & MASK) ≠ MATCH.
  const pf = modeCpu('prot32-paging', CODE, PD);
  pf.ctl.excBitmap = 1 << 13;
  pf.ctl.pfMatch = 1;
  mem.poke(CODE, 'a1 000000c0');
  assert.equal(runOn(pf, mem).kind === 'exception', true);
});

/** 4-level tables at 0x10000: PML4 → PDPT → PD with a 2 MiB identity page at 0, for 64-bit code. */
function longMem(): Pages {
  return new Pages()
    .map(0n, 0x20000, R | W | X)
    .poke(0x10000n, q(0x11023n))
    .poke(0x11000n, q(0x12023n))
    .poke(0x12000n, q(0xe3n));
}

test('64-bit code: REX.W arithmetic, mov imm64, RIP-relative stores, push/pop, 32-bit writes zero-extend', () => {
  const mem = longMem().poke(
    CODE,
    [
      '48 b8 8877665544332211', // 0x1000 mov rax, 0x1122334455667788
      '48 89 05 f10f0000', // 0x100a mov [rip+0xff1], rax → 0x1011 + 0xff1 = 0x2002
      '48 83 c0 01', // 0x1011 add rax, 1
      '50', // push rax
      '5b', // pop rbx
      '48 31 c9', // xor rcx, rcx
      '48 ff c9', // dec rcx
      'ba 01000000', // mov edx, 1 (zero-extends)
      '41 b8 07000000', // mov r8d, 7
      'f4',
    ].join(''),
  );
  const cpu = modeCpu('long64', CODE, 0x10000n);
  cpu.gpr[ESP] = 0x8000n;
  cpu.gpr[EDX] = 0xffff_ffff_0000_0000n;
  assert.deepEqual(runOn(cpu, mem), { kind: 'hlt', len: 1 });
  assert.equal(mem.peek(0x2002n, 8), '8877665544332211');
  assert.equal(cpu.gpr[EAX], 0x1122_3344_5566_7789n);
  assert.equal(cpu.gpr[EBX], 0x1122_3344_5566_7789n);
  assert.equal(cpu.gpr[ECX], 0xffff_ffff_ffff_ffffn);
  assert.equal(cpu.gpr[EDX], 1n);
  assert.equal(cpu.gpr[8], 7n);
  assert.equal(cpu.gpr[ESP], 0x8000n);
  assert.equal(cpu.rflags & 0x80n, 0x80n, 'SF from the 64-bit dec');
  // A non-canonical address is #GP(0).
  const nc = modeCpu('long64', CODE, 0x10000n);
  const m2 = longMem().poke(CODE, '48 b8 0000000000800000 8b 00');
  assert.deepEqual(runOn(nc, m2), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 0 },
    qualification: 0n,
  });
  assert.equal(nc.rip, CODE + 10n);
});

test('4-level paging: a #PF on fetch, and an EPT violation on a page-directory entry', () => {
  const mem = longMem()
    .poke(0x11000n + 16n, q(0x9_9000_0003n))
    .poke(CODE, 'bb 00000080 ff e3');
  // jmp rbx to 0x80000000: PDPT[2] → a PD at GPA 0x999000000 the EPT does not map.
  const cpu = modeCpu('long64', CODE, 0x10000n);
  const stop = runOn(cpu, mem);
  assert.deepEqual(stop, {
    kind: 'ept',
    fault: { gpa: 0x9_9000_0000n, access: 'read', size: 8, mapped: false, perms: 0 },
    gla: 0x8000_0000n,
    structure: true,
  });
  assert.equal(cpu.rip, 0x8000_0000n);
  const pf = modeCpu('long64', CODE, 0x10000n);
  const m2 = longMem().poke(CODE, 'bb 000000c0 ff e3');
  assert.deepEqual(runOn(pf, m2), {
    kind: 'exception',
    event: { vector: 14, type: 'hardware-exception', errorCode: 0 },
    qualification: 0xc000_0000n,
  });
  assert.equal(pf.rip, 0xc000_0000n);
});

// ---- switching modes --------------------------------------------------------------------------------

/** Apple's GDT template (XNU radar61961809_monitor): 0x08/0x10 32-bit data/code, 0x18/0x20 64-bit data/code. */
const GDT = [
  '0000000000000000',
  'ffff00000092cf00',
  'ffff0000009acf00',
  'ffff00000092af00',
  'ffff0000009aaf00',
].join('');

test('protected → long mode as in Apple`s test: CR0.PG not owned by the mask, EFER.LME set, a far jump to a 64-bit CS', () => {
  const mem = longMem().poke(0x3000n, GDT);
  mem.poke(
    CODE,
    [
      '0f 20 c0', // 0x1000 mov eax, cr0
      '0d 00000080', // 0x1003 or eax, 0x80000000
      '0f 22 c0', // 0x1008 mov cr0, eax → paging on, IA-32e mode active (compatibility mode)
      'ea 12100000 2000', // 0x100b jmp 0x20:0x1012
      '48 c7 c0 44332211', // 0x1012 mov rax, 0x11223344 (64-bit code)
      '0f 01 c1', // vmcall
    ].join(''),
  );
  const cpu = prot32Cpu(CODE);
  cpu.ctl.cr0Mask = 0x7fff_ffffn; // the guest owns CR0.PG (XNU: VMCS_CTRL_CR0_MASK ~0x80000000)
  cpu.cr4 = 0x2020n;
  cpu.ctl.cr4Shadow = 0x2020n;
  cpu.efer = 0x100n; // LME, as the VMM wrote it after the guest's WRMSR
  cpu.cr3 = 0x10000n;
  cpu.gdtr.base = 0x3000n;
  cpu.gdtr.limit = 0x27;
  const stop = runOn(cpu, mem);
  assert.deepEqual(stop, { kind: 'vmcall', len: 3 });
  assert.equal(cpu.cr0, 0x8000_0021n);
  assert.equal(cpu.efer, 0x500n, 'EFER.LMA set by CR0.PG with LME');
  assert.equal(cpu.ctl.entry & (1 << 9), 1 << 9, 'the exit saves LMA into the IA-32e mode guest control');
  assert.equal(cpu.seg.cs.selector, 0x20);
  assert.equal(cpu.seg.cs.ar, 0xa09b);
  assert.equal(mem.peek(0x3025n, 1), '9b', 'the descriptor`s accessed bit set');
  assert.equal(cpu.rip, 0x1019n);
  assert.equal(cpu.gpr[EAX], 0x1122_3344n);
});

test('real → protected mode: lgdt, CR0.PE not owned by the mask, a 32-bit far jump to a 32-bit CS', () => {
  const mem = new Pages()
    .map(0n, 0x10000, R | W | X)
    .poke(0x3000n, GDT)
    .poke(0x2000n, '2700 00300000');
  mem.poke(
    CODE,
    [
      '0f 01 16 0020', // 0x1000 lgdt [0x2000]
      '0f 20 c0', // 0x1005 mov eax, cr0
      '0c 01', // 0x1008 or al, 1
      '0f 22 c0', // 0x100a mov cr0, eax → protected mode, CS still 16-bit
      '66 ea 15100000 1000', // 0x100d jmp dword 0x10:0x1015
      'b8 0e000000', // 0x1015 mov eax, 14 (32-bit code: B8 id)
      'f4',
    ].join(''),
  );
  const cpu = modeCpu('real', CODE);
  cpu.ctl.cr0Mask = 0xffff_fffen; // the guest owns CR0.PE
  const stop = runOn(cpu, mem);
  assert.deepEqual(stop, { kind: 'hlt', len: 1 });
  assert.equal(cpu.cr0, 0x21n);
  assert.equal(cpu.gdtr.base, 0x3000n);
  assert.equal(cpu.gdtr.limit, 0x27);
  assert.equal(cpu.seg.cs.selector, 0x10);
  assert.equal(cpu.seg.cs.ar, 0xc09b);
  assert.equal(cpu.gpr[EAX]! & 0xffff_ffffn, 14n);
  // Under the canonical mask (all of bits 31:0 owned) the same mov cr0 exits for the VMM to emulate.
  const canonical = modeCpu('real', CODE);
  assert.deepEqual(runOn(canonical, mem), { kind: 'mov-cr', cr: 0, write: true, gpr: 0, len: 3 });
  assert.equal(canonical.rip, 0x100an);
});

test('segment loads in protected mode: beyond the GDT limit #GP(selector); an LDT selector with an unusable LDTR #GP', () => {
  const go = (sel: number) => {
    const cpu = prot32Cpu(CODE);
    cpu.gpr[EAX] = BigInt(sel);
    return runOn(cpu, new Pages().map(0n, 0x10000, R | W | X).poke(CODE, '8e d8'));
  };
  assert.deepEqual(go(0x1b), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 0x18 },
    qualification: 0n,
  });
  assert.deepEqual(go(0x0c), {
    kind: 'exception',
    event: { vector: 13, type: 'hardware-exception', errorCode: 0x0c },
    qualification: 0n,
  });
});
