import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { X86Action, X86Mode } from '../../../src/guest/x86/actions.js';
import { describeX86Program } from '../../../src/guest/x86/actions.js';
import { assembleX86 } from '../../../src/guest/x86/assemble.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const one = (a: X86Action, gpa = 0x1000n, mode: X86Mode = 'prot32') => {
  const asm = assembleX86({ actions: [a] }, gpa, mode);
  return hex(asm.bytes.slice(0, asm.actions[0]!.end));
};

// Expected bytes from the Intel SDM Vol. 2 opcode tables, computed by hand.
test('mov r32, imm32 is B8+r id', () => {
  assert.equal(one({ op: 'mov', reg: 'eax', value: 0x12345678 }), 'b878563412');
  assert.equal(one({ op: 'mov', reg: 'edx', value: 0x3f8 }), 'baf8030000');
  assert.equal(one({ op: 'mov', reg: 'edi', value: 0xffffffff }), 'bfffffffff');
});

test('loads, stores and port I/O of each size: moffs (A0-A3), [ebx] (8A/8B/88/89 ModRM 03), E4-E7 imm8, EC-EF DX (after mov edx, port); 0x66 for 16-bit', () => {
  // One row per instruction form: its operands, then its bytes at sizes 1, 2 and 4.
  const forms: Array<[X86Action['op'], Record<string, unknown>, [string, string, string]]> = [
    ['load', { addr: 0x2000n, via: 'moffs' }, ['a000200000', '66a100200000', 'a100200000']],
    ['store', { addr: 0x2000n, via: 'moffs' }, ['a200200000', '66a300200000', 'a300200000']],
    ['load', { addr: 0x3000n, via: 'ebx' }, ['bb003000008a03', 'bb00300000668b03', 'bb003000008b03']],
    ['store', { addr: 0x3000n, via: 'ebx' }, ['bb003000008803', 'bb00300000668903', 'bb003000008903']],
    ['out', { port: 0x80, form: 'imm8' }, ['e680', '66e780', 'e780']],
    ['in', { port: 0x60, form: 'imm8' }, ['e460', '66e560', 'e560']],
    ['out', { port: 0x3f8, form: 'dx' }, ['baf8030000ee', 'baf803000066ef', 'baf8030000ef']],
    ['in', { port: 0xcfc, form: 'dx' }, ['bafc0c0000ec', 'bafc0c000066ed', 'bafc0c0000ed']],
  ];
  for (const [op, operands, bytes] of forms) {
    const sized = ([1, 2, 4] as const).map((size) => one({ op, size, ...operands } as X86Action));
    assert.deepEqual(sized, bytes, `${op} ${Object.values(operands).join(' ')}`);
  }
  assert.equal(one({ op: 'load', size: 4, addr: 0xdeadbeefn, via: 'moffs' }), 'a1efbeadde');
});

test('hlt, jmp rel32 and the end marker', () => {
  assert.equal(one({ op: 'hlt' }), 'f4');
  // jmp from 0x1000 (end of instruction 0x1005) to 0x2000: rel = 0xffb
  assert.equal(one({ op: 'jump', target: { addr: 0x2000n } }), 'e9fb0f0000');
  // backwards / wrapping: jmp to 0 from 0x1000: rel = -0x1005
  assert.equal(one({ op: 'jump', target: { addr: 0n } }), 'e9fbefffff');
  // jump to action 2 (the end marker): skips the hlt at offset 5
  const asm = assembleX86({ actions: [{ op: 'jump', target: { action: 2 } }, { op: 'hlt' }] }, 0x1000n);
  assert.equal(hex(asm.bytes), 'e901000000' + 'f4' + 'e6e0');
  assert.deepEqual(asm.end, { offset: 6, length: 2 });
  assert.deepEqual(asm.actions[0], { start: 0, end: 5, setup: [], main: { offset: 0, length: 5 } });
});

test('ud2 is 0F 0B, one two-byte main instruction', () => {
  assert.equal(one({ op: 'ud2' }), '0f0b');
  const asm = assembleX86({ actions: [{ op: 'hlt' }, { op: 'ud2' }] }, 0x1000n);
  assert.equal(hex(asm.bytes), 'f4' + '0f0b' + 'e6e0');
  assert.deepEqual(asm.actions[1], { start: 1, end: 3, setup: [], main: { offset: 1, length: 2 } });
});

test('layout: each action records its main (possibly exiting) instruction', () => {
  const asm = assembleX86(
    {
      actions: [
        { op: 'store', size: 2, addr: 0x3000n, via: 'ebx' },
        { op: 'in', size: 4, port: 0x10, form: 'dx' },
        { op: 'load', size: 2, addr: 0x3000n, via: 'moffs' },
      ],
    },
    0x10000n,
  );
  assert.deepEqual(
    asm.actions.map((a) => [a.start, a.end, a.main.offset, a.main.length, a.setup.length]),
    [
      [0, 8, 5, 3, 1],
      [8, 14, 13, 1, 1],
      [14, 20, 14, 6, 0],
    ],
  );
  assert.equal(asm.end.offset, 20);
});

test('malformed programs are programmer errors (TypeError)', () => {
  assert.throws(
    () => assembleX86({ actions: [{ op: 'out', size: 1, port: 0x100, form: 'imm8' }] }, 0n),
    TypeError,
  );
  assert.throws(
    () => assembleX86({ actions: [{ op: 'load', size: 4, addr: 1n << 32n, via: 'moffs' }] }, 0n),
    TypeError,
  );
  assert.throws(() => assembleX86({ actions: [{ op: 'jump', target: { action: 0 } }] }, 0n), TypeError);
  assert.throws(() => assembleX86({ actions: [{ op: 'hlt' }] }, 0xffff_ffffn), TypeError);
  assert.throws(
    () => assembleX86({ actions: [{ op: 'load', size: 3 as 1, addr: 0n, via: 'moffs' }] }, 0n),
    TypeError,
  );
});

test('the new instructions in 32-bit code: vmcall, cpuid, rdmsr/wrmsr, mov CR/DR, int3/int1/int n, div, mov ds, string I/O', () => {
  assert.equal(one({ op: 'vmcall' }), '0f01c1');
  assert.equal(one({ op: 'cpuid', leaf: 1 }), 'b8010000000fa2');
  assert.equal(one({ op: 'rdmsr', msr: 0xc0000080 }), 'b9800000c00f32');
  assert.equal(one({ op: 'wrmsr', msr: 0x174 }), 'b9740100000f30');
  assert.equal(one({ op: 'mov-to-cr', cr: 0, reg: 'eax' }), '0f22c0');
  assert.equal(one({ op: 'mov-to-cr', cr: 4, reg: 'ebx' }), '0f22e3');
  assert.equal(one({ op: 'mov-from-cr', cr: 3, reg: 'edi' }), '0f20df');
  assert.equal(one({ op: 'mov-to-dr', dr: 1, reg: 'ecx' }), '0f23c9');
  assert.equal(one({ op: 'mov-from-dr', dr: 3, reg: 'edx' }), '0f21da');
  assert.equal(one({ op: 'int3' }), 'cc');
  assert.equal(one({ op: 'int1' }), 'f1');
  assert.equal(one({ op: 'int', vector: 0x21 }), 'cd21');
  assert.equal(one({ op: 'div0' }), 'b900000000f7f1');
  assert.equal(one({ op: 'load-ds', selector: 0x18 }), 'b8180000008ed8');
  assert.equal(one({ op: 'outs', size: 1, port: 0x3f8, addr: 0x2000n }), 'be00200000baf80300006e');
  assert.equal(
    one({ op: 'ins', size: 2, port: 0x80, addr: 0x3000n, rep: 3 }),
    'bf00300000ba80000000b90300000066f36d',
  );
  assert.throws(() => one({ op: 'mov-to-cr', cr: 8, reg: 'eax' }), TypeError);
});

test('real mode: 16-bit code (0x66 for 32-bit operands, 16-bit moffs, 0x67 for [ebx]), a real-mode CS for code above 64 KiB', () => {
  assert.equal(one({ op: 'mov', reg: 'eax', value: 0x23456 }, 0x1000n, 'real'), '66b856340200');
  assert.equal(one({ op: 'load', size: 2, addr: 0x2000n, via: 'moffs' }, 0x1000n, 'real'), 'a10020');
  assert.equal(one({ op: 'load', size: 4, addr: 0x2000n, via: 'moffs' }, 0x1000n, 'real'), '66a10020');
  assert.equal(
    one({ op: 'store', size: 1, addr: 0x2000n, via: 'ebx' }, 0x1000n, 'real'),
    '66bb00200000678803',
  );
  assert.equal(one({ op: 'out', size: 4, port: 0x80, form: 'imm8' }, 0x1000n, 'real'), '66e780');
  assert.equal(one({ op: 'out', size: 2, port: 0x80, form: 'imm8' }, 0x1000n, 'real'), 'e780');
  assert.equal(one({ op: 'div0' }, 0x1000n, 'real'), '66b90000000066f7f1');
  // jmp rel16 from 0x1000: the end of the jmp is 0x1003.
  assert.equal(one({ op: 'jump', target: { addr: 0x2000n } }, 0x1000n, 'real'), 'e9fd0f');
  const high = assembleX86({ actions: [{ op: 'hlt' }] }, 0x8_1000n, 'real');
  assert.equal(high.csBase, 0x8_0000n);
  assert.throws(
    () => one({ op: 'load', size: 1, addr: 0x1_0000n, via: 'moffs' }, 0x1000n, 'real'),
    TypeError,
  );
  assert.throws(() => one({ op: 'jump', target: { addr: 0x2_0000n } }, 0x1000n, 'real'), TypeError);
});

test('64-bit code: 8-byte moffs, CR8 through REX.R, jumps to an address through RBX', () => {
  assert.equal(
    one({ op: 'load', size: 4, addr: 0x2000n, via: 'moffs' }, 0x1000n, 'long64'),
    'a10020000000000000',
  );
  assert.equal(
    one({ op: 'load', size: 2, addr: 0x2000n, via: 'ebx' }, 0x1000n, 'long64'),
    'bb00200000668b03',
  );
  assert.equal(one({ op: 'mov-to-cr', cr: 8, reg: 'ecx' }, 0x1000n, 'long64'), '440f22c1');
  assert.equal(one({ op: 'mov-from-cr', cr: 8, reg: 'eax' }, 0x1000n, 'long64'), '440f20c0');
  assert.equal(one({ op: 'jump', target: { addr: 0xc000_0000n } }, 0x1000n, 'long64'), 'bb000000c0ffe3');
});

function haveObjdump(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** objdump's Intel-syntax disassembly of `bytes` at `vma` for a machine (`i386`, `i8086`, `i386:x86-64`). */
function objdump(bytes: Uint8Array, vma: bigint, machine: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'hvspec-x86-'));
  try {
    const file = join(dir, 'code.bin');
    writeFileSync(file, bytes);
    const out = execFileSync(
      'objdump',
      ['-D', '-b', 'binary', '-m', machine, '-M', 'intel', `--adjust-vma=0x${vma.toString(16)}`, file],
      { encoding: 'utf8' },
    );
    // Long instructions continue their bytes on a line without a disassembly column: skipped.
    return out
      .split('\n')
      .filter((l) => /^\s+[0-9a-f]+:\t/.test(l) && l.split('\t').length > 2)
      .map((l) =>
        l
          .split('\t')[2]!
          .replace(/\s+/g, ' ')
          .replace(/ +#.*$/, '')
          .trim(),
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const skipObjdump = { skip: haveObjdump() ? false : 'objdump (binutils) not installed' };

test('cross-check: GNU objdump disassembles the 32-bit assembler output as intended', skipObjdump, () => {
  const program = {
    actions: [
      { op: 'mov', reg: 'eax', value: 0x11223344 },
      { op: 'store', size: 4, addr: 0x2000n, via: 'moffs' },
      { op: 'store', size: 2, addr: 0x2004n, via: 'ebx' },
      { op: 'load', size: 1, addr: 0x2008n, via: 'ebx' },
      { op: 'load', size: 2, addr: 0x200an, via: 'moffs' },
      { op: 'out', size: 2, port: 0x80, form: 'imm8' },
      { op: 'in', size: 4, port: 0x3f8, form: 'dx' },
      { op: 'hlt' },
      { op: 'ud2' },
      { op: 'jump', target: { addr: 0x5000n } },
      { op: 'vmcall' },
      { op: 'cpuid', leaf: 7 },
      { op: 'rdmsr', msr: 0xc0000080 },
      { op: 'mov-to-cr', cr: 4, reg: 'esi' },
      { op: 'mov-from-dr', dr: 2, reg: 'ebp' },
      { op: 'int', vector: 0x21 },
      { op: 'div0' },
      { op: 'load-ds', selector: 0x18 },
      { op: 'outs', size: 4, port: 0x80, addr: 0x2000n, rep: 2 },
    ] satisfies X86Action[],
  };
  const asm = assembleX86(program, 0x1000n);
  assert.deepEqual(
    objdump(asm.bytes, 0x1000n, 'i386'),
    [
      'mov eax,0x11223344',
      'mov ds:0x2000,eax',
      'mov ebx,0x2004',
      'mov WORD PTR [ebx],ax',
      'mov ebx,0x2008',
      'mov al,BYTE PTR [ebx]',
      'mov ax,ds:0x200a',
      'out 0x80,ax',
      'mov edx,0x3f8',
      'in eax,dx',
      'hlt',
      'ud2',
      'jmp 0x5000',
      'vmcall',
      'mov eax,0x7',
      'cpuid',
      'mov ecx,0xc0000080',
      'rdmsr',
      'mov cr4,esi',
      'mov ebp,dr2',
      'int 0x21',
      'mov ecx,0x0',
      'div ecx',
      'mov eax,0x18',
      'mov ds,eax',
      'mov esi,0x2000',
      'mov edx,0x80',
      'mov ecx,0x2',
      'rep outs dx,DWORD PTR ds:[esi]',
      'out 0xe0,al',
    ],
    describeX86Program(program),
  );
});

test(
  'cross-check: objdump disassembles real-mode (i8086) and 64-bit (x86-64) output as intended',
  skipObjdump,
  () => {
    const real = assembleX86(
      {
        actions: [
          { op: 'mov', reg: 'eax', value: 0x23456 },
          { op: 'vmcall' },
          { op: 'load', size: 4, addr: 0x2000n, via: 'moffs' },
          { op: 'store', size: 2, addr: 0x2004n, via: 'ebx' },
          { op: 'ins', size: 1, port: 0x60, addr: 0x3000n, rep: 4 },
          { op: 'int', vector: 0x10 },
          { op: 'jump', target: { addr: 0x1100n } },
        ],
      },
      0x1000n,
      'real',
    );
    assert.deepEqual(objdump(real.bytes, 0x1000n, 'i8086'), [
      'mov eax,0x23456',
      'vmcall',
      'mov eax,ds:0x2000',
      'mov ebx,0x2004',
      'mov WORD PTR [ebx],ax',
      'mov edi,0x3000',
      'mov edx,0x60',
      'mov ecx,0x4',
      'rep ins BYTE PTR es:[di],dx',
      'int 0x10',
      'jmp 0x1100',
      'out 0xe0,al',
    ]);
    const long = assembleX86(
      {
        actions: [
          { op: 'load', size: 4, addr: 0x2000n, via: 'moffs' },
          { op: 'mov-to-cr', cr: 8, reg: 'ecx' },
          { op: 'jump', target: { addr: 0xc000_0000n } },
          { op: 'store', size: 1, addr: 0x3000n, via: 'ebx' },
        ],
      },
      0x1000n,
      'long64',
    );
    assert.deepEqual(objdump(long.bytes, 0x1000n, 'i386:x86-64'), [
      'movabs eax,ds:0x2000',
      'mov cr8,rcx',
      'mov ebx,0xc0000000',
      'jmp rbx',
      'mov ebx,0x3000',
      'mov BYTE PTR [rbx],al',
      'out 0xe0,al',
    ]);
  },
);
