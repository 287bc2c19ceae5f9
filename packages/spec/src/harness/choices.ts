/**
 * Argument choices. fast-check generates the command list before any command runs, so commands carry
 * *choices* (which vCPU, which thread, aligned or not) that are resolved against the spec's state when
 * the command runs. Each choice is biased so that both the legal and the illegal rows of each rule
 * table get hit.
 * @module
 */
import fc from 'fast-check';
import type { ThreadId, Vcpu } from '../backend.js';
import { forgeVcpu } from '../backend.js';
import type { SpecState } from '../state.js';

/** Logical threads the harness uses. Thread 0 is the caller's own. */
export const THREADS = 5;

/** Which vCPU a per-vCPU call names. */
export interface VcpuChoice {
  readonly kind: 'live' | 'stale' | 'bogus';
  readonly index: number;
  /** Call from the owner (most of the time) or from another thread. */
  readonly fromOwner: boolean;
  readonly other: ThreadId;
}

export const vcpuChoice: fc.Arbitrary<VcpuChoice> = fc.record({
  kind: fc.oneof(
    { weight: 16, arbitrary: fc.constant('live' as const) },
    { weight: 1, arbitrary: fc.constant('stale' as const) },
    { weight: 1, arbitrary: fc.constant('bogus' as const) },
  ),
  index: fc.nat(7),
  fromOwner: fc.oneof(
    { weight: 10, arbitrary: fc.constant(true) },
    { weight: 2, arbitrary: fc.constant(false) },
  ),
  other: fc.nat(THREADS - 1),
});

/** Resolves a vCPU choice: the handle and the calling thread. */
export function resolveVcpu(s: SpecState, c: VcpuChoice): { vcpu: Vcpu; t: ThreadId } | undefined {
  const live = [...s.vcpus.values()];
  if (c.kind === 'live' || (c.kind === 'stale' && s.stale.size === 0)) {
    const v = live[c.index % Math.max(live.length, 1)];
    if (!v) return c.kind === 'live' ? undefined : { vcpu: forgeVcpu(1000 + c.index), t: c.other };
    const t = c.fromOwner ? v.owner : c.other === v.owner ? (v.owner + 1) % THREADS : c.other;
    return { vcpu: forgeVcpu(v.handle), t };
  }
  if (c.kind === 'stale') {
    const stale = [...s.stale];
    return { vcpu: forgeVcpu(stale[c.index % stale.length] ?? 0), t: c.other };
  }
  return { vcpu: forgeVcpu(1000 + c.index), t: c.other };
}

/** A calling thread for process-wide calls: mostly thread 0. */
export const threadArb: fc.Arbitrary<ThreadId> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: THREADS - 1 }) },
);

/** Guest-physical addresses: mostly granule-aligned inside a small window so mappings meet. */
export function addrArb(unit: number, granule: number, high: readonly bigint[]): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.nat(15).map((i) => BigInt(i * granule)) },
    { weight: 2, arbitrary: fc.nat(63).map((i) => BigInt(i * unit)) },
    { weight: 1, arbitrary: fc.nat(15).map((i) => BigInt(i * granule + 0x10)) },
    { weight: 1, arbitrary: fc.constantFrom(...high) },
  );
}

/** Sizes: mostly 1–4 granules; sometimes 0, misaligned or huge. */
export function sizeArb(unit: number, granule: number): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => BigInt(n * granule)) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => BigInt(n * unit)) },
    { weight: 2, arbitrary: fc.constantFrom(0n, BigInt(unit / 2), 1n << 40n) },
  );
}

/** Memory flags: any of the 8 permission sets, sometimes with a bit outside READ|WRITE|EXEC. */
export const flagsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 1, arbitrary: fc.constantFrom(8, 0x10, 0x100 | 3) },
);

/** 64-bit register values: small, large, and all-ones. */
export const u64Arb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xffffn }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 0xffff_ffffn, (1n << 64n) - 1n),
);
