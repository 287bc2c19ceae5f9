/**
 * The model's x86 interpreter: runs real IA-32 machine code in 32-bit protected mode with paging off
 * (the spec's `prot32` setup) on a {@link GuestMemory} that enforces the mappings' permissions.
 *
 * Semantics it follows (hvf-facts.md):
 * - On an exit RIP stays at the exiting instruction and nothing the instruction would have changed is
 *   changed (§1.7 [T]); the stop carries the instruction length for I/O and HLT.
 * - I/O instructions always exit (the framework forces I/O exiting, §1.8 [T]); HLT exits
 *   (CPU_BASED_HLT in the canonical setup).
 * - Instruction fetch goes through `mem.read(…, 'fetch')`, data through `read`/`write`, so a missing
 *   permission is an EPT violation for that access kind. With paging off, linear = physical, so the
 *   stop's guest-linear address is the fault's GPA.
 *
 * The subset: prefixes 66 (operand size) and the segment overrides; `mov` r/m forms (88 89 8A 8B C6 C7),
 * `mov` with moffs (A0–A3), `mov r8, imm8` (B0–B7), `mov r32, imm32` (B8–BF); `add or adc sbb and sub
 * xor cmp` in all their r/m,reg / reg,r/m / AL,imm / r/m,imm forms (00–3D, 80, 81, 83); `inc`/`dec`
 * (40–4F, FE /0 /1, FF /0 /1); `jmp` rel8/rel32 (EB, E9) and r/m32 (FF /4); `jcc` rel8/rel32 (70–7F,
 * 0F 80–8F); `nop` (90); `lea` (8D); `in`/`out` imm8 and DX, all sizes (E4–E7, EC–EF); `hlt` (F4);
 * `cli`/`sti` (FA, FB); `ud2` (0F 0B).
 *
 * Guest exceptions: `ud2` and `lea` with a register operand raise #UD, which stops the run with
 * `{kind: 'exception', vector: 6}` and RIP at the instruction (a fault); the API layer turns it into an
 * exit with reason 0 or a delivery through the guest's IDT by VMCS_CTRL_EXC_BITMAP (exit.ts).
 *
 * Everything else stops with `{kind: 'unsupported', bytes, reason}`, never a guess. That includes
 * the other instructions that would raise a guest exception (#GP, #SS: not modelled yet), a 0x67
 * address-size prefix, LOCK/REP prefixes, 16-bit jumps, real mode (CR0.PE = 0), paging (CR0.PG = 1)
 * and 16-bit code segments.
 *
 * Undefined flags: AND/OR/XOR leave AF undefined in the SDM; this engine clears it.
 * Registers: 32-bit writes change bits 31:0 only; bits 63:32 are left alone (undefined in 32-bit
 * modes, SDM Vol. 1 §3.4.1.1; the spec compares only the low 32 bits there).
 * @module
 */

import { BigIntMemo, Low32Memo } from '../bigint-memo.js';
import type { GuestMemory, MemFault, X86Cpu, X86Engine, X86Stop } from '../engine.js';
import { readInto } from '../engine.js';

type Size = 1 | 2 | 4;
type SegName = 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss';

const CF = 1 << 0;
const PF = 1 << 2;
const AF = 1 << 4;
const ZF = 1 << 6;
const SF = 1 << 7;
const IF = 1 << 9;
const OF = 1 << 11;
const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

/**
 * Segment-override prefixes by byte, as a dense 256-entry table: every instruction looks its first byte
 * up, and a missing key of a sparse object is a slow lookup (~15 ns).
 */
const SEG_PREFIX = new Array<SegName | undefined>(256).fill(undefined);
Object.assign(SEG_PREFIX, { 38: 'es', 46: 'cs', 54: 'ss', 62: 'ds', 100: 'fs', 101: 'gs' });
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'] as const;
/** #UD, invalid opcode: a fault without error code (Intel SDM Vol. 3 Table 6-1). */
const UD: X86Stop = { kind: 'exception', vector: 6 };

/** Thrown inside a step to stop the run; caught by the engine loop. */
class Stop {
  constructor(readonly stop: X86Stop) {}
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  let p = 1;
  while (b) {
    p ^= b & 1;
    b >>= 1;
  }
  PARITY[i] = p ? PF : 0;
}

function maskOf(size: Size): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}
function signOf(size: Size): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x8000_0000;
}
function trunc(v: number, size: Size): number {
  return size === 4 ? v >>> 0 : v & maskOf(size);
}
function leBytes(v: number, size: Size): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (v >>> (8 * i)) & 0xff;
  return b;
}
/** The little-endian value of the first `size` bytes of `b`. */
function fromLe(b: Uint8Array, size: Size): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v * 256 + b[i]!) >>> 0;
  return v;
}

/** A memory operand: segment and 32-bit effective offset. */
interface MemOperand {
  readonly seg: SegName;
  readonly offset: number;
}
interface ModRm {
  readonly mod: number;
  readonly reg: number;
  readonly rm: number;
  readonly mem?: MemOperand;
}

/**
 * The state of one run: registers as numbers, loaded on first use and written back (if changed) on every
 * stop. One Run is reused by every engine call ({@link begin}): a run is synchronous and never re-entered,
 * and allocating the object and its buffers per run was a large part of the garbage an exit made.
 */
class Run {
  private readonly lo = new Uint32Array(8);
  private loaded = 0;
  private dirty = 0;
  cpu!: X86Cpu;
  mem!: GuestMemory;
  rip = 0;
  flags = 0;
  private flags0 = 0;
  /** CS.base (low 32 bits) as a number: the engine never changes segments during a run. */
  private csBase = 0;
  // Per instruction: its bytes are code[codeAt …], `fetched` of them so far (at most 15) — a view of
  // guest memory (GuestMemory.span) when one mapping holds them all, else copied into `own`.
  start = 0;
  pos = 0;
  private readonly own = new Uint8Array(15);
  private code: Uint8Array = this.own;
  private codeAt = 0;
  private fetched = 0;
  /** Scratch buffer of data loads. */
  private readonly data = new Uint8Array(4);

  /** Starts a run of `cpu` on `mem`. */
  begin(cpu: X86Cpu, mem: GuestMemory): void {
    this.cpu = cpu;
    this.mem = mem;
    this.loaded = 0;
    this.dirty = 0;
    this.rip = RIP_IN.of(cpu.rip);
    this.flags = RFLAGS.of(cpu.rflags);
    this.flags0 = this.flags;
    this.csBase = CS_BASE.of(cpu.seg.cs.base);
  }

  commit(): void {
    for (let i = 0; this.dirty !== 0; i++) {
      if (this.dirty & (1 << i)) {
        this.cpu.gpr[i] = ((this.cpu.gpr[i] ?? 0n) & ~0xffff_ffffn) | BigInt(this.lo[i]!);
        this.dirty &= ~(1 << i);
      }
    }
    this.cpu.rip = RIP_OUT.of(this.rip);
    if (this.flags !== this.flags0)
      this.cpu.rflags = (this.cpu.rflags & ~0xffff_ffffn) | BigInt(this.flags >>> 0);
  }

  /** The low 32 bits of GPR `r` (Intel order). */
  r32(r: number): number {
    if (!(this.loaded & (1 << r))) {
      this.lo[r] = Number(BigInt.asUintN(32, this.cpu.gpr[r] ?? 0n));
      this.loaded |= 1 << r;
    }
    return this.lo[r]!;
  }
  private w32(r: number, v: number): void {
    this.lo[r] = v;
    this.loaded |= 1 << r;
    this.dirty |= 1 << r;
  }

  /** Ends an instruction that falls through: RIP moves past it. */
  finish(): undefined {
    this.rip = (this.start + this.pos) >>> 0;
    return undefined;
  }
  /** Ends an instruction that branches to `target`. */
  branch(target: number): undefined {
    this.rip = target >>> 0;
    return undefined;
  }

  // ---- instruction fetch ----

  beginInstruction(): void {
    this.start = this.rip;
    this.pos = 0;
    this.fetched = 0;
  }

  /** The instruction byte at `pos`, fetching from guest memory page by page as decoding needs it. */
  next(): number {
    if (this.pos >= this.fetched) this.fetchMore();
    return this.code[this.codeAt + this.pos++]!;
  }

  private fetchMore(): void {
    if (this.fetched >= 15) this.unsupported('instruction longer than 15 bytes (#GP)');
    const cs = this.cpu.seg.cs;
    const offset = (this.start + this.fetched) >>> 0;
    if (cs.limit !== 0xffff_ffff && offset > cs.limit)
      this.unsupported('instruction fetch beyond the CS limit (#GP)');
    const linear = (this.csBase + offset) >>> 0;
    const toPageEnd = 4096 - (linear & 0xfff);
    const n = Math.min(15 - this.fetched, toPageEnd);
    // With paging off the 32-bit linear address is the guest-physical one: passed as a number.
    if (this.fetched === 0) {
      const view = this.mem.span?.(linear, n, 'fetch');
      if (view !== undefined) {
        this.code = view.bytes;
        this.codeAt = view.at;
        this.fetched = n;
        return;
      }
      this.code = this.own;
      this.codeAt = 0;
    } else if (this.code !== this.own) {
      // The instruction continues past its view's page: its first bytes move to `own`.
      this.own.set(this.code.subarray(this.codeAt, this.codeAt + this.fetched));
      this.code = this.own;
      this.codeAt = 0;
    }
    const fault = readInto(this.mem, linear, n, 'fetch', this.own, this.fetched);
    if (fault !== undefined) throw new Stop({ kind: 'ept', fault, gla: fault.gpa });
    this.fetched += n;
  }

  imm(size: Size): number {
    let v = 0;
    for (let i = 0; i < size; i++) v += this.next() * 2 ** (8 * i);
    return v >>> 0;
  }
  simm8(): number {
    const b = this.next();
    return b >= 0x80 ? b - 0x100 : b;
  }
  simm32(): number {
    return this.imm(4) | 0;
  }

  unsupported(reason: string): never {
    const bytes = this.code.slice(this.codeAt, this.codeAt + Math.min(Math.max(this.pos, 1), this.fetched));
    throw new Stop({ kind: 'unsupported', bytes, reason });
  }

  // ---- registers ----

  get(r: number, size: Size): number {
    if (size === 4) return this.r32(r);
    if (size === 2) return this.r32(r) & 0xffff;
    return r < 4 ? this.r32(r) & 0xff : (this.r32(r - 4) >>> 8) & 0xff;
  }
  set(r: number, size: Size, v: number): void {
    if (size === 4) this.w32(r, v >>> 0);
    else if (size === 2) this.w32(r, ((this.r32(r) & 0xffff_0000) | (v & 0xffff)) >>> 0);
    else if (r < 4) this.w32(r, ((this.r32(r) & 0xffff_ff00) | (v & 0xff)) >>> 0);
    else this.w32(r - 4, ((this.r32(r - 4) & 0xffff_00ff) | ((v & 0xff) << 8)) >>> 0);
  }

  // ---- addressing ----

  modrm(segOverride: SegName | undefined): ModRm {
    const b = this.next();
    const mod = b >> 6;
    const reg = (b >> 3) & 7;
    const rm = b & 7;
    if (mod === 3) return { mod, reg, rm };
    let base: number | undefined;
    let index = 0;
    let seg: SegName = 'ds';
    let rmBase = rm;
    if (rm === 4) {
      const sib = this.next();
      const scale = sib >> 6;
      const idx = (sib >> 3) & 7;
      rmBase = sib & 7;
      if (idx !== 4) index = this.r32(idx) * (1 << scale);
    }
    if (rmBase === 5 && mod === 0) {
      base = undefined;
    } else {
      base = this.r32(rmBase);
      if (rmBase === 4 || rmBase === 5) seg = 'ss';
    }
    let disp = 0;
    if (mod === 0 && rmBase === 5) disp = this.simm32();
    else if (mod === 1) disp = this.simm8();
    else if (mod === 2) disp = this.simm32();
    const offset = ((base ?? 0) + index + disp) >>> 0;
    return { mod, reg, rm, mem: { seg: segOverride ?? seg, offset } };
  }

  private linear(m: MemOperand, size: number): number {
    const s = this.cpu.seg[m.seg];
    if (s.limit !== 0xffff_ffff && m.offset + size - 1 > s.limit)
      this.unsupported(`access beyond the ${m.seg.toUpperCase()} limit (#GP/#SS)`);
    return (Number(s.base & 0xffff_ffffn) + m.offset) >>> 0;
  }

  load(m: MemOperand, size: Size): number {
    const gla = this.linear(m, size);
    const fault = readInto(this.mem, gla, size, 'read', this.data, 0);
    if (fault !== undefined) throw new Stop({ kind: 'ept', fault, gla: faultGla(fault) });
    return fromLe(this.data, size);
  }

  store(m: MemOperand, size: Size, v: number): void {
    const gla = this.linear(m, size);
    const f = this.mem.write(BigInt(gla), leBytes(v, size));
    if (f) throw new Stop({ kind: 'ept', fault: f, gla: faultGla(f) });
  }

  readRm(x: ModRm, size: Size): number {
    return x.mem ? this.load(x.mem, size) : this.get(x.rm, size);
  }
  writeRm(x: ModRm, size: Size, v: number): void {
    if (x.mem) this.store(x.mem, size, v);
    else this.set(x.rm, size, v);
  }

  // ---- flags ----

  /** Computes an ALU operation; returns the result and the new arithmetic flags. */
  alu(op: number, a: number, b: number, size: Size): [number, number] {
    const mask = maskOf(size);
    const sign = signOf(size);
    const cin = this.flags & CF ? 1 : 0;
    let r: number;
    let f = 0;
    switch (op) {
      case 0: // add
      case 2: {
        // adc
        const c = op === 2 ? cin : 0;
        const sum = a + b + c;
        r = trunc(sum, size);
        if (sum > mask) f |= CF;
        if ((a ^ r) & (b ^ r) & sign) f |= OF;
        if ((a ^ b ^ r) & 0x10) f |= AF;
        break;
      }
      case 3: // sbb
      case 5: // sub
      case 7: {
        // cmp
        const c = op === 3 ? cin : 0;
        r = trunc(a - b - c, size);
        if (a < b + c) f |= CF;
        if ((a ^ b) & (a ^ r) & sign) f |= OF;
        if ((a ^ b ^ r) & 0x10) f |= AF;
        break;
      }
      case 1:
        r = trunc(a | b, size);
        break;
      case 4:
        r = trunc(a & b, size);
        break;
      default:
        r = trunc(a ^ b, size);
        break;
    }
    if (r === 0) f |= ZF;
    if (r & sign) f |= SF;
    f |= PARITY[r & 0xff]!;
    return [r, f];
  }

  setArith(f: number, keep = 0): void {
    this.flags = ((this.flags & ~(ARITH_FLAGS & ~keep)) | (f & ~keep)) >>> 0;
  }

  cond(cc: number): boolean {
    const f = this.flags;
    let v: boolean;
    switch (cc >> 1) {
      case 0:
        v = (f & OF) !== 0;
        break;
      case 1:
        v = (f & CF) !== 0;
        break;
      case 2:
        v = (f & ZF) !== 0;
        break;
      case 3:
        v = (f & (CF | ZF)) !== 0;
        break;
      case 4:
        v = (f & SF) !== 0;
        break;
      case 5:
        v = (f & PF) !== 0;
        break;
      case 6:
        v = ((f & SF) !== 0) !== ((f & OF) !== 0);
        break;
      default:
        v = (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0);
        break;
    }
    return cc & 1 ? !v : v;
  }

  cpl(): number {
    return (this.cpu.seg.cs.ar >> 5) & 3;
  }
  iopl(): number {
    return (this.flags >> 12) & 3;
  }
}

/** With paging off the linear address of a fault is its physical address. */
function faultGla(f: MemFault): bigint {
  return f.gpa;
}

/** Executes one instruction. Returns a stop for an exit; throws {@link Stop} from deeper helpers. */
function step(s: Run): X86Stop | undefined {
  s.beginInstruction();
  let opsize: Size = 4;
  let seg: SegName | undefined;
  let op: number;
  for (;;) {
    op = s.next();
    if (op === 0x66) opsize = 2;
    else if (SEG_PREFIX[op] !== undefined) seg = SEG_PREFIX[op];
    else if (op === 0x67) s.unsupported('address-size prefix 0x67 (16-bit addressing) is outside the subset');
    else if (op === 0xf0 || op === 0xf2 || op === 0xf3)
      s.unsupported(`prefix 0x${op.toString(16)} (LOCK/REP) is outside the subset`);
    else break;
  }

  // ALU r/m,reg / reg,r/m / acc,imm: 00–3F except the 0x?6/0x?7/0x?E/0x?F one-byte ops.
  if (op < 0x40 && (op & 7) < 6) {
    const alu = op >> 3;
    const form = op & 7;
    const size: Size = form & 1 ? opsize : 1;
    if (form < 4) {
      const x = s.modrm(seg);
      const rmv = s.readRm(x, size);
      const regv = s.get(x.reg, size);
      const toRm = form < 2;
      const [r, f] = toRm ? s.alu(alu, rmv, regv, size) : s.alu(alu, regv, rmv, size);
      if (alu !== 7) {
        if (toRm) s.writeRm(x, size, r);
        else s.set(x.reg, size, r);
      }
      s.setArith(f);
      return s.finish();
    }
    const imm = s.imm(size);
    const [r, f] = s.alu(alu, s.get(0, size), imm, size);
    if (alu !== 7) s.set(0, size, r);
    s.setArith(f);
    return s.finish();
  }

  // Two-byte opcodes. Kept out of the switch below so that its cases (0x40–0xFF) are dense enough for V8
  // to compile it as a jump table (it needs a spread under 3× the number of cases); with 0x0F among them
  // it was a chain of up to ~100 comparisons per instruction.
  if (op === 0x0f) {
    const op2 = s.next();
    if (op2 >= 0x80 && op2 <= 0x8f) {
      if (opsize === 2)
        s.unsupported('jcc with a 16-bit operand size (EIP truncation) is outside the subset');
      const d = s.simm32();
      const next = (s.start + s.pos) >>> 0;
      return s.cond(op2 & 0xf) ? s.branch(next + d) : s.finish();
    }
    if (op2 === 0x0b) return UD; // ud2
    return s.unsupported(`two-byte opcode 0F ${op2.toString(16).padStart(2, '0')} is outside the subset`);
  }

  switch (op) {
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f: {
      const r = op & 7;
      const [v, f] = s.alu(op < 0x48 ? 0 : 5, s.get(r, opsize), 1, opsize);
      s.set(r, opsize, v);
      s.setArith(f, CF);
      return s.finish();
    }
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f: {
      if (opsize === 2)
        s.unsupported('jcc with a 16-bit operand size (EIP truncation) is outside the subset');
      const d = s.simm8();
      const next = (s.start + s.pos) >>> 0;
      return s.cond(op & 0xf) ? s.branch(next + d) : s.finish();
    }
    case 0x80:
    case 0x81:
    case 0x83: {
      const size: Size = op === 0x80 ? 1 : opsize;
      const x = s.modrm(seg);
      const imm = op === 0x81 ? s.imm(size) : op === 0x83 ? trunc(s.simm8(), size) : s.imm(1);
      const a = s.readRm(x, size);
      const [r, f] = s.alu(x.reg, a, imm, size);
      if (x.reg !== 7) s.writeRm(x, size, r);
      s.setArith(f);
      return s.finish();
    }
    case 0x88:
    case 0x89: {
      const size: Size = op === 0x88 ? 1 : opsize;
      const x = s.modrm(seg);
      s.writeRm(x, size, s.get(x.reg, size));
      return s.finish();
    }
    case 0x8a:
    case 0x8b: {
      const size: Size = op === 0x8a ? 1 : opsize;
      const x = s.modrm(seg);
      s.set(x.reg, size, s.readRm(x, size));
      return s.finish();
    }
    case 0x8d: {
      const x = s.modrm(seg);
      if (!x.mem) return UD; // lea with a register operand
      s.set(x.reg, opsize, x.mem.offset);
      return s.finish();
    }
    case 0x90:
      return s.finish();
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const size: Size = op & 1 ? opsize : 1;
      const m: MemOperand = { seg: seg ?? 'ds', offset: s.imm(4) };
      if (op < 0xa2) s.set(0, size, s.load(m, size));
      else s.store(m, size, s.get(0, size));
      return s.finish();
    }
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      s.set(op & 7, 1, s.imm(1));
      return s.finish();
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf:
      s.set(op & 7, opsize, s.imm(opsize));
      return s.finish();
    case 0xc6:
    case 0xc7: {
      const size: Size = op === 0xc6 ? 1 : opsize;
      const x = s.modrm(seg);
      if (x.reg !== 0)
        return s.unsupported(`${op.toString(16).toUpperCase()} /${x.reg} is outside the subset`);
      s.writeRm(x, size, s.imm(size));
      return s.finish();
    }
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef: {
      if (s.cpl() > s.iopl())
        s.unsupported('I/O with CPL > IOPL consults the TSS I/O bitmap (#GP), outside the subset');
      const imm = op < 0xe8;
      const port = imm ? s.next() : s.get(2, 2);
      const size: Size = op & 1 ? opsize : 1;
      return { kind: 'io', port, size, in: (op & 2) === 0, string: false, rep: false, imm, len: s.pos };
    }
    case 0xe9: {
      if (opsize === 2) s.unsupported('jmp rel16 (EIP truncation) is outside the subset');
      const d = s.simm32();
      return s.branch(s.start + s.pos + d);
    }
    case 0xeb: {
      if (opsize === 2) s.unsupported('jmp rel8 with a 16-bit operand size is outside the subset');
      const d = s.simm8();
      return s.branch(s.start + s.pos + d);
    }
    case 0xf4:
      if (s.cpl() !== 0) s.unsupported('hlt at CPL > 0 raises #GP');
      return { kind: 'hlt', len: s.pos };
    case 0xfa:
    case 0xfb:
      if (s.cpl() > s.iopl()) s.unsupported('cli/sti with CPL > IOPL raises #GP');
      s.flags = op === 0xfa ? (s.flags & ~IF) >>> 0 : (s.flags | IF) >>> 0;
      return s.finish();
    case 0xfe:
    case 0xff: {
      const size: Size = op === 0xfe ? 1 : opsize;
      const x = s.modrm(seg);
      if (x.reg === 0 || x.reg === 1) {
        const a = s.readRm(x, size);
        const [r, f] = s.alu(x.reg === 0 ? 0 : 5, a, 1, size);
        s.writeRm(x, size, r);
        s.setArith(f, CF);
        return s.finish();
      }
      if (op === 0xff && x.reg === 4) {
        if (opsize === 2) s.unsupported('jmp r/m16 is outside the subset');
        return s.branch(s.readRm(x, 4));
      }
      return s.unsupported(`${op.toString(16).toUpperCase()} /${x.reg} is outside the subset`);
    }
    default:
      return s.unsupported(`opcode ${op.toString(16).padStart(2, '0').toUpperCase()} is outside the subset`);
  }
}

/** The one Run every engine call reuses (see {@link Run}). */
const RUN = new Run();
/** The conversions every run makes, memoised: an exit loop makes the same ones each time (bigint-memo.ts). */
const CR0 = new Low32Memo();
const RFLAGS = new Low32Memo();
const RIP_IN = new Low32Memo();
const CS_BASE = new Low32Memo();
const RIP_OUT = new BigIntMemo();

/** Why the mode `cpu` is in lies outside the subset, or undefined. */
function modeOutsideSubset(cpu: X86Cpu): string | undefined {
  const cr0 = CR0.of(cpu.cr0);
  if ((cr0 & 1) === 0) return 'real mode (CR0.PE = 0) is outside the subset';
  if ((cr0 & 0x8000_0000) !== 0) return 'paging (CR0.PG = 1) is outside the subset';
  if (((cpu.seg.cs.ar >> 14) & 1) === 0) return '16-bit code segment (CS.D = 0) is outside the subset';
  if ((RFLAGS.of(cpu.rflags) & 0x2_0000) !== 0)
    return 'virtual-8086 mode (RFLAGS.VM = 1) is outside the subset';
  return undefined;
}

/**
 * The x86 engine: runs at most `budget` instructions of `cpu` on `mem`. See the module comment for
 * the subset and the mode it requires.
 */
export const x86Engine: X86Engine = (cpu: X86Cpu, mem: GuestMemory, budget: number): X86Stop => {
  const mode = modeOutsideSubset(cpu);
  if (mode !== undefined) return { kind: 'unsupported', bytes: new Uint8Array(0), reason: mode };
  const s = RUN;
  s.begin(cpu, mem);
  try {
    for (let n = 0; n < budget; n++) {
      const stop = step(s);
      if (stop) {
        // Exits leave RIP at the instruction (s.rip was not moved by the exiting step).
        s.commit();
        return stop;
      }
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    s.commit();
    return e.stop;
  }
  s.commit();
  return { kind: 'budget' };
};

/** The `add`…`cmp` mnemonics in opcode order, for disassembly in diagnostics. */
export const X86_ALU_MNEMONICS: readonly string[] = ALU_NAMES;
