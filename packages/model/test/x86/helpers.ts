/**
 * What the x86 interpreter tests share: a page-granular GuestMemory with permissions, and CPUs in the
 * spec's canonical modes (the register values of `x86SetupSteps`, with the controls the canonical
 * setup gets on the model's capabilities).
 */
import type { X86Mode } from '../../../spec/src/guest/x86/actions.js';
import { x86CrControl, x86SetupCpuBased } from '../../../spec/src/guest/x86/setup.js';
import type { AccessKind, GuestMemory, MemFault, X86Cpu } from '../../src/engine.js';
import { x86ResetCpu } from '../../src/x86/state.js';
import { MODEL_VMX_CAPABILITIES } from '../../src/x86/vmx-capabilities.js';

/** Where the tests' snippets are placed. */
export const CODE = 0x1000n;
/** General-purpose register indices, in Intel encoding order (the model's `gpr` array order). */
export const EAX = 0,
  ECX = 1,
  EDX = 2,
  EBX = 3,
  ESP = 4,
  EBP = 5,
  ESI = 6,
  EDI = 7;

export const R = 1;
export const W = 2;
export const X = 4;

/** A tiny GuestMemory: 4 KiB pages with flags, as the API layer's would be after hv_vm_map. */
export class Pages implements GuestMemory {
  readonly pages = new Map<bigint, { flags: number; data: Uint8Array }>();
  map(gpa: bigint, size: number, flags: number): this {
    for (let p = gpa; p < gpa + BigInt(size); p += 4096n)
      this.pages.set(p, { flags, data: new Uint8Array(4096) });
    return this;
  }
  poke(gpa: bigint, bytes: Uint8Array | string): this {
    const b =
      typeof bytes === 'string' ? Uint8Array.from(Buffer.from(bytes.replace(/\s+/g, ''), 'hex')) : bytes;
    b.forEach((v, i) => {
      const g = gpa + BigInt(i);
      this.pages.get(g & ~0xfffn)!.data[Number(g & 0xfffn)] = v;
    });
    return this;
  }
  peek(gpa: bigint, n: number): string {
    return Buffer.from(
      Array.from({ length: n }, (_, i) => {
        const g = gpa + BigInt(i);
        return this.pages.get(g & ~0xfffn)!.data[Number(g & 0xfffn)]!;
      }),
    ).toString('hex');
  }
  private check(gpa: bigint, size: number, access: AccessKind): MemFault | undefined {
    const need = access === 'read' ? R : access === 'write' ? W : X;
    for (let g = gpa; g < gpa + BigInt(size); g = (g & ~0xfffn) + 4096n) {
      const p = this.pages.get(g & ~0xfffn);
      if (!p || !(p.flags & need))
        return { gpa: g, access, size, mapped: p !== undefined, perms: p?.flags ?? 0 };
    }
    return undefined;
  }
  read(gpa: bigint, size: number, access: 'read' | 'fetch'): Uint8Array | MemFault {
    const f = this.check(gpa, size, access);
    if (f) return f;
    return Uint8Array.from({ length: size }, (_, i) => {
      const g = gpa + BigInt(i);
      return this.pages.get(g & ~0xfffn)!.data[Number(g & 0xfffn)]!;
    });
  }
  write(gpa: bigint, bytes: Uint8Array): MemFault | undefined {
    const f = this.check(gpa, bytes.length, 'write');
    if (f) return f;
    this.poke(gpa, bytes);
    return undefined;
  }
}

/**
 * The CPU-based controls the canonical setup gets from the model's capabilities: HLT, CR8 load/store,
 * and the must-be-1 bits (unconditional I/O, CR3 load/store and the other default-1 bits).
 */
export const CANONICAL_CPU_BASED = x86SetupCpuBased((id) => MODEL_VMX_CAPABILITIES[id] ?? 0n);

/** A CPU in `mode` at `rip` as the canonical setup leaves it (`cr3` for the paging modes). */
export function modeCpu(mode: X86Mode, rip: bigint, cr3 = 0n): X86Cpu {
  const c = x86ResetCpu();
  const cr = x86CrControl(mode);
  c.cr0 = cr.cr0;
  c.cr4 = cr.cr4;
  c.cr3 = cr3;
  c.rip = rip;
  c.rflags = 2n;
  Object.assign(c.ctl, {
    cpuBased: CANONICAL_CPU_BASED,
    excBitmap: 0xffff_ffff,
    cr0Mask: cr.cr0Mask,
    cr0Shadow: cr.cr0Shadow,
    cr4Mask: cr.cr4Mask,
    cr4Shadow: cr.cr4Shadow,
    entry: mode === 'long64' ? 1 << 9 : 0,
  });
  const seg = (selector: number, base: bigint, limit: number, ar: number) => ({ selector, base, limit, ar });
  if (mode === 'real') {
    const base = rip & ~0xffffn;
    c.rip = rip - base;
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) c.seg[s] = seg(0, 0n, 0xffff, 0x93);
    c.seg.cs = seg(Number(base >> 4n), base, 0xffff, 0x9b);
  } else {
    const data = mode === 'long64' ? 0xa093 : 0xc093;
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) c.seg[s] = seg(8, 0n, 0xffff_ffff, data);
    c.seg.cs = seg(0x10, 0n, 0xffff_ffff, mode === 'long64' ? 0xa09b : 0xc09b);
  }
  if (mode === 'long64') c.efer = 0x500n;
  c.ldtr.ar = 0x1_0000;
  c.gdtr.limit = 0;
  c.idtr.limit = 0;
  return c;
}

/** The flat 32-bit protected-mode CPU most tests use. */
export function prot32Cpu(rip: bigint): X86Cpu {
  return modeCpu('prot32', rip);
}
