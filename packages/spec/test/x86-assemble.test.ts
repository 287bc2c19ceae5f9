import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { X86Action } from '../src/guest/x86/actions.js';
import { describeX86Program } from '../src/guest/x86/actions.js';
import { assembleX86 } from '../src/guest/x86/assemble.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const one = (a: X86Action, gpa = 0x1000n) => {
  const asm = assembleX86({ actions: [a] }, gpa);
  return hex(asm.bytes.slice(0, asm.actions[0]!.end));
};

// Expected bytes from the Intel SDM Vol. 2 opcode tables, computed by hand.
test('mov r32, imm32 is B8+r id', () => {
  assert.equal(one({ op: 'mov', reg: 'eax', value: 0x12345678 }), 'b878563412');
  assert.equal(one({ op: 'mov', reg: 'edx', value: 0x3f8 }), 'baf8030000');
  assert.equal(one({ op: 'mov', reg: 'edi', value: 0xffffffff }), 'bfffffffff');
});

test('loads and stores: moffs (A0-A3) and [ebx] (8A/8B/88/89 ModRM 03), 0x66 for 16-bit', () => {
  assert.equal(one({ op: 'load', size: 1, gpa: 0x2000n, via: 'moffs' }), 'a000200000');
  assert.equal(one({ op: 'load', size: 2, gpa: 0x2000n, via: 'moffs' }), '66a100200000');
  assert.equal(one({ op: 'load', size: 4, gpa: 0xdeadbeefn, via: 'moffs' }), 'a1efbeadde');
  assert.equal(one({ op: 'store', size: 1, gpa: 0x2000n, via: 'moffs' }), 'a200200000');
  assert.equal(one({ op: 'store', size: 2, gpa: 0x2000n, via: 'moffs' }), '66a300200000');
  assert.equal(one({ op: 'store', size: 4, gpa: 0x2000n, via: 'moffs' }), 'a300200000');
  assert.equal(one({ op: 'load', size: 1, gpa: 0x3000n, via: 'ebx' }), 'bb003000008a03');
  assert.equal(one({ op: 'load', size: 2, gpa: 0x3000n, via: 'ebx' }), 'bb00300000668b03');
  assert.equal(one({ op: 'load', size: 4, gpa: 0x3000n, via: 'ebx' }), 'bb003000008b03');
  assert.equal(one({ op: 'store', size: 1, gpa: 0x3000n, via: 'ebx' }), 'bb003000008803');
  assert.equal(one({ op: 'store', size: 2, gpa: 0x3000n, via: 'ebx' }), 'bb00300000668903');
  assert.equal(one({ op: 'store', size: 4, gpa: 0x3000n, via: 'ebx' }), 'bb003000008903');
});

test('in/out: E4-E7 imm8, EC-EF DX (after mov edx, port), 0x66 for 16-bit', () => {
  assert.equal(one({ op: 'out', size: 1, port: 0x80, form: 'imm8' }), 'e680');
  assert.equal(one({ op: 'out', size: 2, port: 0x80, form: 'imm8' }), '66e780');
  assert.equal(one({ op: 'out', size: 4, port: 0x80, form: 'imm8' }), 'e780');
  assert.equal(one({ op: 'in', size: 1, port: 0x60, form: 'imm8' }), 'e460');
  assert.equal(one({ op: 'in', size: 2, port: 0x60, form: 'imm8' }), '66e560');
  assert.equal(one({ op: 'in', size: 4, port: 0x60, form: 'imm8' }), 'e560');
  assert.equal(one({ op: 'out', size: 1, port: 0x3f8, form: 'dx' }), 'baf8030000ee');
  assert.equal(one({ op: 'out', size: 2, port: 0x3f8, form: 'dx' }), 'baf803000066ef');
  assert.equal(one({ op: 'out', size: 4, port: 0x3f8, form: 'dx' }), 'baf8030000ef');
  assert.equal(one({ op: 'in', size: 1, port: 0xcfc, form: 'dx' }), 'bafc0c0000ec');
  assert.equal(one({ op: 'in', size: 2, port: 0xcfc, form: 'dx' }), 'bafc0c000066ed');
  assert.equal(one({ op: 'in', size: 4, port: 0xcfc, form: 'dx' }), 'bafc0c0000ed');
});

test('hlt, jmp rel32 and the end marker', () => {
  assert.equal(one({ op: 'hlt' }), 'f4');
  // jmp from 0x1000 (end of instruction 0x1005) to 0x2000: rel = 0xffb
  assert.equal(one({ op: 'jump', target: { gpa: 0x2000n } }), 'e9fb0f0000');
  // backwards / wrapping: jmp to 0 from 0x1000: rel = -0x1005
  assert.equal(one({ op: 'jump', target: { gpa: 0n } }), 'e9fbefffff');
  // jump to action 2 (the end marker): skips the hlt at offset 5
  const asm = assembleX86({ actions: [{ op: 'jump', target: { action: 2 } }, { op: 'hlt' }] }, 0x1000n);
  assert.equal(hex(asm.bytes), 'e901000000' + 'f4' + 'e6e0');
  assert.deepEqual(asm.end, { offset: 6, length: 2 });
  assert.deepEqual(asm.actions[0], { start: 0, end: 5, main: { offset: 0, length: 5 } });
});

test('ud2 is 0F 0B, one two-byte main instruction', () => {
  assert.equal(one({ op: 'ud2' }), '0f0b');
  const asm = assembleX86({ actions: [{ op: 'hlt' }, { op: 'ud2' }] }, 0x1000n);
  assert.equal(hex(asm.bytes), 'f4' + '0f0b' + 'e6e0');
  assert.deepEqual(asm.actions[1], { start: 1, end: 3, main: { offset: 1, length: 2 } });
});

test('layout: each action records its main (possibly exiting) instruction', () => {
  const asm = assembleX86(
    {
      actions: [
        { op: 'store', size: 2, gpa: 0x3000n, via: 'ebx' },
        { op: 'in', size: 4, port: 0x10, form: 'dx' },
        { op: 'load', size: 2, gpa: 0x3000n, via: 'moffs' },
      ],
    },
    0x10000n,
  );
  assert.deepEqual(
    asm.actions.map((a) => [a.start, a.end, a.main.offset, a.main.length]),
    [
      [0, 8, 5, 3],
      [8, 14, 13, 1],
      [14, 20, 14, 6],
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
    () => assembleX86({ actions: [{ op: 'load', size: 4, gpa: 1n << 32n, via: 'moffs' }] }, 0n),
    TypeError,
  );
  assert.throws(() => assembleX86({ actions: [{ op: 'jump', target: { action: 0 } }] }, 0n), TypeError);
  assert.throws(() => assembleX86({ actions: [{ op: 'hlt' }] }, 0xffff_ffffn), TypeError);
  assert.throws(
    () => assembleX86({ actions: [{ op: 'load', size: 3 as 1, gpa: 0n, via: 'moffs' }] }, 0n),
    TypeError,
  );
});

function haveObjdump(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('cross-check: GNU objdump disassembles the assembler output as intended', {
  skip: haveObjdump() ? false : 'objdump (binutils) not installed',
}, () => {
  const program = {
    actions: [
      { op: 'mov', reg: 'eax', value: 0x11223344 },
      { op: 'store', size: 4, gpa: 0x2000n, via: 'moffs' },
      { op: 'store', size: 2, gpa: 0x2004n, via: 'ebx' },
      { op: 'load', size: 1, gpa: 0x2008n, via: 'ebx' },
      { op: 'load', size: 2, gpa: 0x200an, via: 'moffs' },
      { op: 'out', size: 2, port: 0x80, form: 'imm8' },
      { op: 'in', size: 4, port: 0x3f8, form: 'dx' },
      { op: 'hlt' },
      { op: 'ud2' },
      { op: 'jump', target: { gpa: 0x5000n } },
    ] satisfies X86Action[],
  };
  const asm = assembleX86(program, 0x1000n);
  const dir = mkdtempSync(join(tmpdir(), 'hvspec-x86-'));
  try {
    const file = join(dir, 'code.bin');
    writeFileSync(file, asm.bytes);
    const out = execFileSync(
      'objdump',
      ['-D', '-b', 'binary', '-m', 'i386', '-M', 'intel', `--adjust-vma=0x1000`, file],
      { encoding: 'utf8' },
    );
    const lines = out
      .split('\n')
      .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
      .map((l) => l.split('\t')[2]!.replace(/\s+/g, ' ').trim());
    assert.deepEqual(
      lines,
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
        'out 0xe0,al',
      ],
      describeX86Program(program),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
