/**
 * The x86 assembler of the guest-action language: real IA-32 machine code for 32-bit protected mode
 * (default operand and address size 32; the 0x66 prefix selects 16-bit operands). Encodings are from
 * the Intel SDM Vol. 2 opcode tables; the tests pin them byte for byte.
 *
 * | action | bytes |
 * |---|---|
 * | `mov r32, imm32` | B8+r id |
 * | load moffs 1/2/4 | A0 od / 66 A1 od / A1 od |
 * | store moffs 1/2/4 | A2 od / 66 A3 od / A3 od |
 * | load via EBX 1/2/4 | BB id, then 8A 03 / 66 8B 03 / 8B 03 |
 * | store via EBX 1/2/4 | BB id, then 88 03 / 66 89 03 / 89 03 |
 * | in imm8 1/2/4 | E4 ib / 66 E5 ib / E5 ib |
 * | out imm8 1/2/4 | E6 ib / 66 E7 ib / E7 ib |
 * | in DX 1/2/4 | BA id, then EC / 66 ED / ED |
 * | out DX 1/2/4 | BA id, then EE / 66 EF / EF |
 * | hlt | F4 |
 * | jump | E9 cd (rel32 from the end of the jmp) |
 * | ud2 | 0F 0B |
 * | end marker | E6 E0 (`out 0xe0, al`) |
 * @module
 */
import { X86_END_PORT, X86_GPRS, type X86Action, type X86Program, type X86Size } from './actions.js';

/** Where one action landed in the code. */
export interface X86AssembledAction {
  /** Offset of the action's first byte from the program's start. */
  readonly start: number;
  /** Offset just past the action's last byte (the next action's start). */
  readonly end: number;
  /** The instruction that does the action's work and may exit: its offset and length. */
  readonly main: { readonly offset: number; readonly length: number };
}

/** An assembled program. */
export interface X86Assembly {
  /** The GPA the code is loaded at (and RIP starts at). */
  readonly gpa: bigint;
  readonly bytes: Uint8Array;
  readonly actions: readonly X86AssembledAction[];
  /** The end marker `out 0xe0, al`. */
  readonly end: { readonly offset: number; readonly length: number };
}

const U32 = 0x1_0000_0000n;

function checkSize(size: number): asserts size is X86Size {
  if (size !== 1 && size !== 2 && size !== 4) throw new TypeError(`size must be 1, 2 or 4, got ${size}`);
}

function checkGpa32(name: string, gpa: bigint): void {
  if (typeof gpa !== 'bigint' || gpa < 0n || gpa >= U32)
    throw new TypeError(`${name} must be a bigint in [0, 2^32), got ${String(gpa)}`);
}

function le32(v: number | bigint): number[] {
  const n = Number(BigInt(v) & 0xffff_ffffn);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** The size prefix and the byte/word opcode pair choice: 1 → byte opcode; 2 → 0x66 + dword opcode; 4 → dword opcode. */
function sized(size: X86Size, byteOp: number, dwordOp: number): number[] {
  return size === 1 ? [byteOp] : size === 2 ? [0x66, dwordOp] : [dwordOp];
}

/**
 * Assembles `program` to run at `gpa`. Throws TypeError for a malformed program (a programmer
 * error): a GPA or code range outside 32 bits, an imm8 port above 0xff, a jump to an action that is
 * not later in the program.
 */
export function assembleX86(program: X86Program, gpa: bigint): X86Assembly {
  checkGpa32('gpa', gpa);
  const actions = program.actions;
  // First pass: lengths (every encoding has a fixed length, so one pass gives every start).
  const lengths = actions.map((a) => encodeAction(a, 0, 0n, [], 0).length);
  const starts: number[] = [];
  let off = 0;
  for (const len of lengths) {
    starts.push(off);
    off += len;
  }
  starts.push(off); // the end marker is "action" actions.length
  const out: number[] = [];
  const placed: X86AssembledAction[] = [];
  actions.forEach((a, i) => {
    const start = out.length;
    const bytes = encodeAction(a, start, gpa, starts, i);
    out.push(...bytes);
    const mainLength = mainLengthOf(a);
    placed.push({ start, end: out.length, main: { offset: out.length - mainLength, length: mainLength } });
  });
  const endOffset = out.length;
  out.push(0xe6, X86_END_PORT);
  if (gpa + BigInt(out.length) > U32) throw new TypeError('the program does not fit below 4 GiB at this gpa');
  return { gpa, bytes: Uint8Array.from(out), actions: placed, end: { offset: endOffset, length: 2 } };
}

/** The length of the last instruction of an action (the one that does its work). */
function mainLengthOf(a: X86Action): number {
  switch (a.op) {
    case 'mov':
      return 5;
    case 'load':
    case 'store':
      return (a.size === 2 ? 1 : 0) + (a.via === 'moffs' ? 5 : 2);
    case 'in':
    case 'out':
      return (a.size === 2 ? 1 : 0) + (a.form === 'imm8' ? 2 : 1);
    case 'hlt':
      return 1;
    case 'jump':
      return 5;
    case 'ud2':
      return 2;
  }
}

function encodeAction(
  a: X86Action,
  start: number,
  gpa: bigint,
  starts: readonly number[],
  index: number,
): number[] {
  switch (a.op) {
    case 'mov': {
      const r = X86_GPRS.indexOf(a.reg);
      if (r < 0) throw new TypeError(`reg must be a 32-bit register name, got ${String(a.reg)}`);
      if (!Number.isInteger(a.value) || a.value < 0 || a.value > 0xffff_ffff)
        throw new TypeError(`value must be a u32, got ${a.value}`);
      return [0xb8 + r, ...le32(a.value)];
    }
    case 'load':
    case 'store': {
      checkSize(a.size);
      checkGpa32('gpa', a.gpa);
      const load = a.op === 'load';
      if (a.via === 'moffs')
        return [...sized(a.size, load ? 0xa0 : 0xa2, load ? 0xa1 : 0xa3), ...le32(a.gpa)];
      if (a.via !== 'ebx') throw new TypeError(`via must be 'moffs' or 'ebx', got ${String(a.via)}`);
      // ModRM 0x03: mod 00, reg 000 (AL/AX/EAX), rm 011 ([EBX]).
      return [0xbb, ...le32(a.gpa), ...sized(a.size, load ? 0x8a : 0x88, load ? 0x8b : 0x89), 0x03];
    }
    case 'in':
    case 'out': {
      checkSize(a.size);
      const isIn = a.op === 'in';
      if (a.form === 'imm8') {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xff)
          throw new TypeError(`an imm8 port must be in [0, 0xff], got ${a.port}`);
        return [...sized(a.size, isIn ? 0xe4 : 0xe6, isIn ? 0xe5 : 0xe7), a.port];
      }
      if (a.form !== 'dx') throw new TypeError(`form must be 'imm8' or 'dx', got ${String(a.form)}`);
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff)
        throw new TypeError(`port must be in [0, 0xffff], got ${a.port}`);
      return [0xba, ...le32(a.port), ...sized(a.size, isIn ? 0xec : 0xee, isIn ? 0xed : 0xef)];
    }
    case 'hlt':
      return [0xf4];
    case 'jump': {
      let target: bigint;
      if ('action' in a.target) {
        const k = a.target.action;
        if (!Number.isInteger(k) || k <= index || k >= starts.length) {
          // During the length pass `starts` is empty; any later index is fine then.
          if (starts.length !== 0 || !Number.isInteger(k) || k <= index)
            throw new TypeError(`a jump must target a later action (index > ${index}), got ${k}`);
          return [0xe9, 0, 0, 0, 0];
        }
        target = gpa + BigInt(starts[k]!);
      } else {
        checkGpa32('target.gpa', a.target.gpa);
        target = a.target.gpa;
      }
      const next = gpa + BigInt(start + 5);
      return [0xe9, ...le32((target - next + U32) % U32)];
    }
    case 'ud2':
      return [0x0f, 0x0b];
  }
}
