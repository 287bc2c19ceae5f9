/**
 * The x86 assembler of the guest-action language: real machine code for each mode — 16-bit code in
 * real mode (the 0x66 prefix selects 32-bit operands, 0x67 32-bit addresses), 32-bit code in the
 * protected modes (0x66 selects 16-bit operands), 64-bit code in long mode (32-bit operands by default,
 * 64-bit addresses; a 32-bit register write zero-extends). Encodings are from the Intel SDM Vol. 2
 * opcode tables; the tests pin them byte for byte. In the table, `o16` / `o32` is the 0x66 prefix where
 * the mode needs it for that size, `id` a 32-bit immediate, `ad` an address of the mode's address size
 * (2 bytes in real mode, 4 in protected mode, 8 in long mode).
 *
 * | action | bytes |
 * |---|---|
 * | `mov r32, imm32` | [66 in real mode] B8+r id |
 * | load moffs 1/2/4 | A0 ad / o16 A1 ad / o32 A1 ad |
 * | store moffs 1/2/4 | A2 ad / o16 A3 ad / o32 A3 ad |
 * | load via EBX 1/2/4 | `mov ebx, addr`, then [67 in real mode] 8A 03 / 8B 03 with the size prefix |
 * | store via EBX 1/2/4 | `mov ebx, addr`, then [67 in real mode] 88 03 / 89 03 with the size prefix |
 * | in/out imm8 | E4/E5, E6/E7 ib with the size prefix |
 * | in/out DX | `mov edx, port`, then EC/ED, EE/EF with the size prefix |
 * | outs/ins | `mov esi/edi, addr`, `mov edx, port`, [`mov ecx, count`], [F3] 6E/6F, 6C/6D with the size prefix |
 * | hlt | F4 |
 * | jump to an action | E9 cw (real mode) / E9 cd |
 * | jump to an address | E9 cw / E9 cd; long mode: `mov ebx, addr` then FF E3 (`jmp rbx`) |
 * | ud2 | 0F 0B |
 * | vmcall | 0F 01 C1 |
 * | cpuid | `mov eax, leaf`, 0F A2 |
 * | rdmsr / wrmsr | `mov ecx, msr`, 0F 32 / 0F 30 |
 * | mov to / from CRn | 0F 22 / 0F 20, ModRM 11 n r; CR8: 44 (REX.R) 0F 22 / 0F 20, ModRM 11 000 r |
 * | mov to / from DRn | 0F 23 / 0F 21, ModRM 11 n r |
 * | int3 / int1 / int n | CC / F1 / CD ib |
 * | div0 | `mov ecx, 0`, [66 in real mode] F7 F1 (`div ecx`) |
 * | load-ds | `mov eax, selector`, 8E D8 (`mov ds, ax`) |
 * | end marker | E6 E0 (`out 0xe0, al`) |
 * @module
 */
import {
  X86_END_PORT,
  X86_GPRS,
  type X86Action,
  type X86Mode,
  type X86Program,
  type X86Size,
} from './actions.js';
import { x86RealModeCs } from './setup.js';

/** One instruction of an action: its offset from the program's start and its length. */
export interface X86Instruction {
  readonly offset: number;
  readonly length: number;
}

/** Where one action landed in the code. */
export interface X86AssembledAction {
  /** Offset of the action's first byte from the program's start. */
  readonly start: number;
  /** Offset just past the action's last byte (the next action's start). */
  readonly end: number;
  /** The instructions before the main one (register loads), in order. */
  readonly setup: readonly X86Instruction[];
  /** The instruction that does the action's work and may exit: its offset and length. */
  readonly main: X86Instruction;
}

/** An assembled program. */
export interface X86Assembly {
  /** The mode the code is for. */
  readonly mode: X86Mode;
  /** The linear address the code is loaded at (its GPA: the code is identity-mapped). */
  readonly gpa: bigint;
  /** CS.base: the code's RIP values are linear addresses minus this (0 except in real mode). */
  readonly csBase: bigint;
  readonly bytes: Uint8Array;
  readonly actions: readonly X86AssembledAction[];
  /** The end marker `out 0xe0, al`. */
  readonly end: X86Instruction;
}

const U32 = 0x1_0000_0000n;

function checkSize(size: number): asserts size is X86Size {
  if (size !== 1 && size !== 2 && size !== 4) throw new TypeError(`size must be 1, 2 or 4, got ${size}`);
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff)
    throw new TypeError(`${name} must be a u32, got ${v}`);
}

function le(v: number | bigint, bytes: number): number[] {
  const out: number[] = [];
  let n = BigInt(v);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(n & 0xffn));
    n >>= 8n;
  }
  return out;
}

/** Per-mode encoding rules. */
interface ModeRules {
  /** The operand-size prefix an operand of `size` needs (none, or 0x66). */
  readonly osize: (size: X86Size) => number[];
  /** `mov r32, imm32`. */
  readonly movImm: (reg: number, value: number) => number[];
  /** Bytes of an address operand (moffs). */
  readonly addressBytes: number;
  /** The highest address a data operand may name (the addressing of the mode). */
  readonly maxAddress: bigint;
}

/** Protected mode with 32-bit default operands; 64-bit code differs only in its moffs width. */
const PROT32_RULES: ModeRules = {
  osize: (s) => (s === 2 ? [0x66] : []),
  movImm: (r, v) => [0xb8 + r, ...le(v, 4)],
  addressBytes: 4,
  maxAddress: 0xffff_ffffn,
};

const RULES: Record<X86Mode, ModeRules> = {
  // 16-bit default operands: a 32-bit operand takes the 0x66 prefix.
  real: {
    osize: (s) => (s === 4 ? [0x66] : []),
    movImm: (r, v) => [0x66, 0xb8 + r, ...le(v, 4)],
    addressBytes: 2,
    maxAddress: 0xffff_ffffn,
  },
  prot32: PROT32_RULES,
  'prot32-paging': PROT32_RULES,
  long64: { ...PROT32_RULES, addressBytes: 8 },
};

/** The byte opcode for size 1, else the word/dword opcode with the mode's size prefix. */
function sized(rules: ModeRules, size: X86Size, byteOp: number, wideOp: number): number[] {
  return size === 1 ? [byteOp] : [...rules.osize(size), wideOp];
}

const reg = (name: string): number => {
  const r = X86_GPRS.indexOf(name as (typeof X86_GPRS)[number]);
  if (r < 0) throw new TypeError(`reg must be a 32-bit register name, got ${String(name)}`);
  return r;
};

/** An action's instructions: setup instructions, then the main one (last). */
type Encoded = number[][];

/**
 * Assembles `program` to run at linear address `gpa` in `mode` (default `prot32`). Throws TypeError
 * for a malformed program (a programmer error): an address outside what the mode's encoding can name,
 * an imm8 port above 0xff, a jump to an action that is not later in the program, CR8 outside 64-bit
 * mode, real-mode code or jump targets outside CS's 64 KiB.
 */
export function assembleX86(program: X86Program, gpa: bigint, mode: X86Mode = 'prot32'): X86Assembly {
  if (typeof gpa !== 'bigint' || gpa < 0n || gpa >= U32)
    throw new TypeError(`gpa must be a bigint in [0, 2^32), got ${String(gpa)}`);
  const rules = RULES[mode];
  if (!rules) throw new TypeError(`mode must be an x86 mode, got ${String(mode)}`);
  const csBase = mode === 'real' ? x86RealModeCs(gpa).base : 0n;
  const actions = program.actions;
  // First pass: lengths (every encoding has a fixed length, so one pass gives every start).
  const ctx0 = { gpa, csBase, mode, rules, starts: [] as number[] };
  const lengths = actions.map((a, i) => flat(encodeAction(a, 0, ctx0, i)).length);
  const starts: number[] = [];
  let off = 0;
  for (const len of lengths) {
    starts.push(off);
    off += len;
  }
  starts.push(off); // the end marker is "action" actions.length
  const ctx = { ...ctx0, starts };
  const out: number[] = [];
  const placed: X86AssembledAction[] = [];
  actions.forEach((a, i) => {
    const start = out.length;
    const instrs = encodeAction(a, start, ctx, i);
    const setup: X86Instruction[] = [];
    for (const [k, bytes] of instrs.entries()) {
      const ins = { offset: out.length, length: bytes.length };
      out.push(...bytes);
      if (k < instrs.length - 1) setup.push(ins);
      else placed.push({ start, end: out.length, setup, main: ins });
    }
  });
  const endOffset = out.length;
  out.push(0xe6, X86_END_PORT);
  if (gpa + BigInt(out.length) > U32) throw new TypeError('the program does not fit below 4 GiB at this gpa');
  if (mode === 'real' && gpa - csBase + BigInt(out.length) > 0x1_0000n)
    throw new TypeError('real-mode code must fit in its 64 KiB code segment');
  return {
    mode,
    gpa,
    csBase,
    bytes: Uint8Array.from(out),
    actions: placed,
    end: { offset: endOffset, length: 2 },
  };
}

function flat(e: Encoded): number[] {
  return e.flat();
}

interface Ctx {
  readonly gpa: bigint;
  readonly csBase: bigint;
  readonly mode: X86Mode;
  readonly rules: ModeRules;
  /** Action start offsets (empty during the length pass). */
  readonly starts: readonly number[];
}

function checkAddress(ctx: Ctx, name: string, addr: bigint, size: number): void {
  if (typeof addr !== 'bigint' || addr < 0n || addr + BigInt(size) - 1n > ctx.rules.maxAddress)
    throw new TypeError(`${name} must be a bigint in [0, 2^32), got ${String(addr)}`);
}

function checkPort(port: number, max: number): void {
  if (!Number.isInteger(port) || port < 0 || port > max)
    throw new TypeError(`port must be in [0, 0x${max.toString(16)}], got ${port}`);
}

function encodeAction(a: X86Action, start: number, ctx: Ctx, index: number): Encoded {
  const { rules, mode } = ctx;
  const movImm = (r: string, v: number | bigint): number[] => {
    const n = Number(v);
    checkU32('value', n);
    return rules.movImm(reg(r), n);
  };
  switch (a.op) {
    case 'mov':
      return [movImm(a.reg, a.value)];
    case 'load':
    case 'store': {
      checkSize(a.size);
      checkAddress(ctx, 'addr', a.addr, a.size);
      const load = a.op === 'load';
      if (a.via === 'moffs') {
        if (a.addr + BigInt(a.size) - 1n >= 1n << BigInt(8 * rules.addressBytes))
          throw new TypeError(`a moffs address must fit in ${rules.addressBytes} bytes in ${mode}`);
        return [
          [
            ...sized(rules, a.size, load ? 0xa0 : 0xa2, load ? 0xa1 : 0xa3),
            ...le(a.addr, rules.addressBytes),
          ],
        ];
      }
      if (a.via !== 'ebx') throw new TypeError(`via must be 'moffs' or 'ebx', got ${String(a.via)}`);
      // ModRM 0x03: mod 00, reg 000 (AL/AX/EAX), rm 011 ([EBX]; in real mode with the 0x67 prefix).
      const a32 = mode === 'real' ? [0x67] : [];
      return [
        movImm('ebx', a.addr),
        [...a32, ...sized(rules, a.size, load ? 0x8a : 0x88, load ? 0x8b : 0x89), 0x03],
      ];
    }
    case 'in':
    case 'out': {
      checkSize(a.size);
      const isIn = a.op === 'in';
      if (a.form === 'imm8') {
        checkPort(a.port, 0xff);
        return [[...sized(rules, a.size, isIn ? 0xe4 : 0xe6, isIn ? 0xe5 : 0xe7), a.port]];
      }
      if (a.form !== 'dx') throw new TypeError(`form must be 'imm8' or 'dx', got ${String(a.form)}`);
      checkPort(a.port, 0xffff);
      return [movImm('edx', a.port), sized(rules, a.size, isIn ? 0xec : 0xee, isIn ? 0xed : 0xef)];
    }
    case 'outs':
    case 'ins': {
      checkSize(a.size);
      checkPort(a.port, 0xffff);
      checkAddress(ctx, 'addr', a.addr, a.size);
      if (mode === 'real' && a.addr > 0xffffn)
        throw new TypeError('real-mode string I/O addresses through SI/DI: addr must be below 64 KiB');
      const outs = a.op === 'outs';
      const instrs: Encoded = [movImm(outs ? 'esi' : 'edi', a.addr), movImm('edx', a.port)];
      if (a.rep !== undefined) {
        if (!Number.isInteger(a.rep) || a.rep < 1 || a.rep > (mode === 'real' ? 0xffff : 0xffff_ffff))
          throw new TypeError(`rep must be a count of at least 1 that fits the count register, got ${a.rep}`);
        instrs.push(movImm('ecx', a.rep));
      }
      const rep = a.rep !== undefined ? [0xf3] : [];
      const op = sized(rules, a.size, outs ? 0x6e : 0x6c, outs ? 0x6f : 0x6d);
      // Prefixes: the operand size first, then REP (any order is valid; this one is what assemblers emit).
      instrs.push(op.length === 2 ? [op[0]!, ...rep, op[1]!] : [...rep, ...op]);
      return instrs;
    }
    case 'hlt':
      return [[0xf4]];
    case 'jump': {
      const rel = mode === 'real' ? 2 : 4;
      let target: bigint;
      if ('action' in a.target) {
        const k = a.target.action;
        if (!Number.isInteger(k) || k <= index)
          throw new TypeError(`a jump must target a later action (index > ${index}), got ${k}`);
        if (ctx.starts.length === 0) return [[0xe9, ...le(0, rel)]];
        if (k >= ctx.starts.length)
          throw new TypeError(`a jump must target an action of the program or its end, got ${k}`);
        target = ctx.gpa + BigInt(ctx.starts[k]!);
      } else {
        target = a.target.addr;
        if (typeof target !== 'bigint' || target < 0n || target >= U32)
          throw new TypeError(`target.addr must be a bigint in [0, 2^32), got ${String(target)}`);
        if (mode === 'long64') return [movImm('ebx', target), [0xff, 0xe3]];
        if (mode === 'real' && (target < ctx.csBase || target > ctx.csBase + 0xffffn))
          throw new TypeError(
            'a real-mode jump target must lie in the code segment (CS.base … CS.base + 0xffff)',
          );
      }
      const next = ctx.gpa + BigInt(start + 1 + rel);
      const modulus = 1n << BigInt(8 * rel);
      return [[0xe9, ...le((((target - next) % modulus) + modulus) % modulus, rel)]];
    }
    case 'ud2':
      return [[0x0f, 0x0b]];
    case 'vmcall':
      return [[0x0f, 0x01, 0xc1]];
    case 'cpuid':
      return [movImm('eax', a.leaf), [0x0f, 0xa2]];
    case 'rdmsr':
    case 'wrmsr':
      return [movImm('ecx', a.msr), [0x0f, a.op === 'rdmsr' ? 0x32 : 0x30]];
    case 'mov-to-cr':
    case 'mov-from-cr': {
      const opcode = a.op === 'mov-to-cr' ? 0x22 : 0x20;
      const r = reg(a.reg);
      if (a.cr === 8) {
        if (mode !== 'long64') throw new TypeError('CR8 exists only in 64-bit mode');
        return [[0x44, 0x0f, opcode, 0xc0 | r]];
      }
      if (a.cr !== 0 && a.cr !== 3 && a.cr !== 4) throw new TypeError(`cr must be 0, 3, 4 or 8, got ${a.cr}`);
      return [[0x0f, opcode, 0xc0 | (a.cr << 3) | r]];
    }
    case 'mov-to-dr':
    case 'mov-from-dr': {
      if (!Number.isInteger(a.dr) || a.dr < 0 || a.dr > 3)
        throw new TypeError(`dr must be 0 … 3, got ${a.dr}`);
      return [[0x0f, a.op === 'mov-to-dr' ? 0x23 : 0x21, 0xc0 | (a.dr << 3) | reg(a.reg)]];
    }
    case 'int3':
      return [[0xcc]];
    case 'int1':
      return [[0xf1]];
    case 'int':
      if (!Number.isInteger(a.vector) || a.vector < 0 || a.vector > 0xff)
        throw new TypeError(`vector must be in [0, 0xff], got ${a.vector}`);
      return [[0xcd, a.vector]];
    case 'div0':
      return [movImm('ecx', 0), [...(mode === 'real' ? [0x66] : []), 0xf7, 0xf1]];
    case 'load-ds':
      if (!Number.isInteger(a.selector) || a.selector < 0 || a.selector > 0xffff)
        throw new TypeError(`selector must be in [0, 0xffff], got ${a.selector}`);
      return [movImm('eax', a.selector), [0x8e, 0xd8]];
  }
}
