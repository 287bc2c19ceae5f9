/**
 * Small helpers that keep the rule tables readable as tables.
 * @module
 */
import type { Arch, ThreadId } from '../backend.js';
import type { SpecState, SpecVcpu } from '../state.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { IN } from './params.js';
import type { AppleHeader, CallSpec, Evidence, Param, RetRule, Row, SpecCall } from './types.js';

/** A row that returns exactly this code. */
export const code = (c: number): RetRule => ({ kind: 'code', code: c });
/** A row that returns HV_SUCCESS. */
export const SUCCESS: RetRule = code(HV.HV_SUCCESS);
/** A row whose code Apple does not document: any code but HV_SUCCESS, and the state is unchanged. */
export const NOT_SUCCESS: RetRule = { kind: 'not-success' };
/** A row that allows any code; its effect says what success and failure each mean. */
export const ANY: RetRule = { kind: 'any' };

/** Evidence [H]: Apple's header or documentation. */
export const H: Evidence = 'header';
/** Evidence [T]: observed by code that ran on the real framework. */
export const T: Evidence = 'tested';
/** Evidence [R]: a single third-party report. */
export const R: Evidence = 'reported';
/** Evidence [U]: inference. */
export const U: Evidence = 'unverified';

/** Reads an argument, typed by the caller (the call was type-checked by the backend's validator). */
export function arg<V>(c: SpecCall, name: string): V {
  return c.args[name] as V;
}

/** The live vCPU named by the `vcpu` argument. */
export function vcpuOf(s: SpecState, c: SpecCall): SpecVcpu | undefined {
  return s.vcpus.get(Number(c.args.vcpu));
}

/** Same as {@link vcpuOf} for rows that run only after the prelude established the vCPU is live. */
export function liveVcpu(s: SpecState, c: SpecCall): SpecVcpu {
  const v = vcpuOf(s, c);
  if (!v) throw new Error(`spec: ${c.name} row reached without a live vCPU`);
  return v;
}

/** A row that always applies: the last row of a table. */
export const always = (): boolean => true;

/**
 * The rows every per-vCPU call starts with: the handle must name a live vCPU and the caller must own
 * it (hvf-facts §1.2 "must be called by the owning thread" [H], §2.4 [H]; codes undocumented, §3 [U]).
 */
export function vcpuPrelude(callName: string, opts: { dangerousCrossThread?: string } = {}): Row[] {
  return [
    {
      id: 'bad-handle',
      when: 'the vcpu argument is not a live vCPU (never created, or destroyed)',
      applies: (s, c) => !vcpuOf(s, c),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §3: stale/destroyed handles are undocumented',
    },
    {
      id: 'wrong-thread',
      when: 'the calling thread does not own the vCPU',
      applies: (s, c) => vcpuOf(s, c)?.owner !== c.t,
      ret: NOT_SUCCESS,
      evidence: H,
      source: `hvf-facts §1.2/§2.4: ${callName} "must be called by the owning thread" [H]; the code is undocumented [U]`,
      ...(opts.dangerousCrossThread ? { dangerous: opts.dangerousCrossThread } : {}),
    },
  ];
}

/** Where each flavour's per-vCPU calls come from unless an entry says otherwise, and its handle's C type. */
const VCPU_CALL_DEFAULTS = {
  x86_64: { availability: 'macOS 10.10', header: 'hv.h', handle: 'hv_vcpuid_t' },
  arm64: { availability: 'macOS 11.0', header: 'hv_vcpu.h', handle: 'hv_vcpu_t' },
} as const satisfies Record<Arch, { availability: string; header: AppleHeader; handle: string }>;

/** What a per-vCPU call's table entry states; {@link ownerCall} adds what every such call shares. */
export interface OwnerCallFields
  extends Omit<CallSpec, 'availability' | 'thread' | 'header' | 'params' | 'rows'> {
  /** Default: the flavour's first release (macOS 10.10 on x86, 11.0 on arm64). */
  readonly availability?: string;
  /** Default: `hv.h` on x86, `hv_vcpu.h` on arm64. */
  readonly header?: AppleHeader;
  /** The parameters after the vCPU handle. */
  readonly params?: readonly Param[];
  /** The rows after the vCPU prelude. */
  readonly rows: readonly Row[];
}

/**
 * A call on a live vCPU that only its owner may make (hvf-facts §1.2, §2.4 [H]): the vCPU handle is its
 * first parameter and {@link vcpuPrelude} its first rows.
 */
export function ownerCall(f: OwnerCallFields): CallSpec {
  const d = VCPU_CALL_DEFAULTS[f.arch];
  const {
    name,
    arch,
    summary,
    availability = d.availability,
    header = d.header,
    params = [],
    rows,
    ...rest
  } = f;
  return {
    name,
    arch,
    summary,
    availability,
    thread: 'owner',
    header,
    ...rest,
    params: [{ name: 'vcpu', dir: 'in', type: IN.vcpu(d.handle), doc: 'the vCPU' }, ...params],
    rows: [...vcpuPrelude(name), ...rows],
  };
}

/**
 * The row a call that acts on the process's VM starts with when there is none. Apple documents the
 * requirement for some calls ([H]), never the code (hvf-facts §3), so it is always NOT_SUCCESS.
 */
export function noVmRow(source: string, evidence: Evidence = U): Row {
  return {
    id: 'no-vm',
    when: 'no VM exists',
    applies: (s) => s.vm === null,
    ret: NOT_SUCCESS,
    evidence,
    source,
  };
}

/**
 * The out-value check of a call that makes a handle or an object: a number the state does not hold yet.
 * `what` names the out parameter and what it is (`config`, `a new object`).
 */
export function expectNew(
  name: string,
  what: string,
  held: (s: SpecState) => { has(n: number): boolean },
): NonNullable<Row['value']> {
  return (s, _c, v) =>
    typeof v === 'number' && !held(s).has(v) ? undefined : `${name}: expected ${what}, got ${String(v)}`;
}

/** A mismatch message for an out-value, or undefined when equal. */
export function expectEqual(what: string, expected: unknown, got: unknown): string | undefined {
  if (expected === got) return undefined;
  return `${what}: expected ${show(expected)}, got ${show(got)}`;
}

/** Spells a value the way the spec's messages do. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0x1000) return `0x${v.toString(16)}`;
  return String(v);
}

/** Spells a return code by name. */
export function showRet(r: RetRule): string {
  switch (r.kind) {
    case 'code':
      return hvReturnName(r.code);
    case 'not-success':
      return 'not HV_SUCCESS (state unchanged)';
    case 'any':
      return 'any code';
  }
}

/** The thread argument as a number (for rows that compare owners). */
export function threadOf(c: SpecCall): ThreadId {
  return c.t;
}
