/**
 * Test helpers for the arm64 interpreter: a tiny GuestMemory over 16 KiB pages with flags, a fresh
 * CPU, and a run context; plus tests of the helper memory itself (the other arm64-interp tests rely
 * on its permission checks).
 */

import { Arm64Cpu } from '../../src/arm64/state.js';
import type { Arm64Region, Arm64RunContext, GuestMemory, MemFault } from '../../src/engine.js';

export const PAGE = 0x4000n;
export const R = 1,
  W = 2,
  X = 4;

/** Guest memory as a Map of 16 KiB pages, each with `hv_memory_flags_t`. */
export class TestMemory implements GuestMemory {
  readonly pages = new Map<bigint, { flags: number; data: Uint8Array; region: Arm64Region }>();

  map(ipa: bigint, size: bigint, flags: number): this {
    for (let a = ipa; a < ipa + size; a += PAGE) {
      const data = new Uint8Array(Number(PAGE));
      this.pages.set(a / PAGE, {
        flags,
        data,
        region: { startN: Number(a), size: Number(PAGE), bytes: data, offset: 0, flags },
      });
    }
    return this;
  }

  /** Changes the flags of the mapped pages of [ipa, ipa + size). */
  protect(ipa: bigint, size: bigint, flags: number): this {
    for (let a = ipa; a < ipa + size; a += PAGE) {
      const p = this.pages.get(a / PAGE);
      if (p) this.pages.set(a / PAGE, { ...p, flags, region: { ...p.region, flags } });
    }
    return this;
  }

  /** The engine's view of stage 2 (engine.ts `Arm64RunContext.region`). */
  region = (ipa: number): Arm64Region | undefined => this.pages.get(BigInt(ipa) / PAGE)?.region;

  lookup(ipa: bigint): { flags: number } | undefined {
    const p = this.pages.get(ipa / PAGE);
    return p ? { flags: p.flags } : undefined;
  }

  private check(gpa: bigint, size: number, need: number, access: MemFault['access']): MemFault | undefined {
    for (let a = gpa; a < gpa + BigInt(size); a++) {
      const p = this.pages.get(a / PAGE);
      if (!p || (p.flags & need) === 0)
        return { gpa: a, access, size, mapped: p !== undefined, perms: p?.flags ?? 0 };
    }
    return undefined;
  }

  read(gpa: bigint, size: number, access: 'read' | 'fetch'): Uint8Array | MemFault {
    const f = this.check(gpa, size, access === 'fetch' ? X : R, access);
    if (f) return f;
    return this.peek(gpa, size);
  }

  write(gpa: bigint, bytes: Uint8Array): MemFault | undefined {
    const f = this.check(gpa, bytes.length, W, 'write');
    if (f) return f;
    this.poke(gpa, bytes);
    return undefined;
  }

  /** Host-side access, no permission checks (the page must be mapped). */
  peek(gpa: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const a = gpa + BigInt(i);
      out[i] = this.pages.get(a / PAGE)!.data[Number(a % PAGE)]!;
    }
    return out;
  }

  poke(gpa: bigint, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const a = gpa + BigInt(done);
      const off = Number(a % PAGE);
      const n = Math.min(bytes.length - done, Number(PAGE) - off);
      this.pages.get(a / PAGE)!.data.set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  byte(ipa: bigint): number | undefined {
    const p = this.pages.get(ipa / PAGE);
    return p ? p.data[Number(ipa % PAGE)] : undefined;
  }
}

/** A vCPU at EL1h with DAIF masked (CPSR 0x3c5), MMU off, PC at `pc`. */
export function freshCpu(pc: bigint, cpsr = 0x3c5n): Arm64Cpu {
  const cpu = new Arm64Cpu();
  cpu.pc = pc;
  cpu.cpsr = cpsr;
  return cpu;
}

export function context(
  cpu: Arm64Cpu,
  mem: TestMemory,
  over: Partial<Arm64RunContext> = {},
): Arm64RunContext {
  return {
    cpu,
    region: mem.region,
    clock: { count: 0n },
    vtimerOffset: 0n,
    vtimerMasked: false,
    trapDebugExceptions: true,
    trapDebugRegAccesses: false,
    pendingIrq: false,
    pendingFiq: false,
    ...over,
  };
}

/** Little-endian bytes of instruction words. */
export function code(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => {
    v.setUint32(i * 4, w >>> 0, true);
  });
  return out;
}
