/**
 * Turns a call log into a trace (the DESIGN.md format, `hvspec-trace/1`), so that a counterexample
 * can be replayed on any backend and read by a VMM author.
 * @module
 */
import type { Arch, HostMemory, Uva } from '../backend.js';
import type { HandleKind } from '../calls/params.js';
import { callSpec, valueParam } from '../calls/registry.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import type { LogEntry } from './context.js';
import { HANDLE_CALLS, handleArgs } from './handles.js';

/** A trace step as plain JSON. */
export interface TraceStepJson {
  thread?: number;
  call: string;
  args: Record<string, unknown>;
  expect?: Record<string, unknown>;
  bind?: string;
}

/** A trace as plain JSON. */
export interface TraceJson {
  format: 'hvspec-trace/1';
  arch: Arch;
  title: string;
  description?: string;
  steps: unknown[];
}

/** The name prefix of a bound handle in a trace, by its kind. */
const HANDLE_PREFIX: Record<HandleKind, string> = {
  vcpu: 'cpu',
  config: 'cfg',
  vcpu_config: 'vcfg',
  gic_config: 'gcfg',
  gic_state: 'gstate',
  asid: 'asid',
};

/** JSON spelling of a value: bigints as hex strings, buffers by name, handles of `kind` by reference. */
function jsonValue(v: unknown, refs: Map<string, string>, kind: HandleKind | undefined): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'object' && v !== null && 'mem' in v && 'offset' in v) {
    const uva = v as Uva;
    return { mem: `mem${(uva.mem as HostMemory).id}`, offset: uva.offset };
  }
  if (Array.isArray(v)) return v.map((x) => jsonValue(x, refs, kind));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x, refs, undefined)]));
  const prefix = kind && HANDLE_PREFIX[kind];
  if (prefix && typeof v === 'number') return refs.get(`${prefix}:${v}`) ?? v;
  return v;
}

/** The trace of a call log; the last call is the one that failed (its `expect` is the spec's). */
export function logToTrace(
  arch: Arch,
  title: string,
  log: readonly LogEntry[],
  description?: string,
): TraceJson {
  const refs = new Map<string, string>();
  const steps: unknown[] = [];
  for (const e of log) {
    if (e.kind === 'host_alloc') {
      steps.push({
        call: 'host_alloc',
        args: { name: `mem${e.mem.id}`, size: `0x${e.mem.size.toString(16)}` },
      });
      continue;
    }
    if (e.kind === 'host_write') {
      steps.push({
        call: 'host_write',
        args: { mem: `mem${e.mem.id}`, offset: e.offset, bytes: Buffer.from(e.bytes).toString('hex') },
      });
      continue;
    }
    if (e.kind === 'guest') {
      steps.push(...e.render((h) => refs.get(`cpu:${h}`)?.slice(1) ?? String(h)));
      continue;
    }
    if (e.kind === 'skipped') continue;
    const { call, outcome, judgement } = e;
    const args: Record<string, unknown> = {};
    const kinds = handleArgs(arch, call.name);
    for (const [k, v] of Object.entries(call.args)) args[k] = jsonValue(v, refs, kinds[k]);
    const step: TraceStepJson = { call: call.name, args };
    if (call.t !== 0) step.thread = call.t;
    const r = judgement.row.ret;
    const expect: Record<string, unknown> = {};
    if (r.kind === 'code') expect.ret = hvReturnName(r.code);
    else if (r.kind === 'not-success') expect.ret = { not: 'HV_SUCCESS' };
    // A row that allows any code gets no `ret` expectation: another backend may answer differently
    // and still conform. The steps after it carry their own expectations.
    const kind = HANDLE_CALLS[call.name];
    const prefix = kind && HANDLE_PREFIX[kind];
    if (prefix && outcome.ret === HV.HV_SUCCESS && judgement.ok) {
      const name = `${prefix}${refs.size}`;
      refs.set(`${prefix}:${String(outcome.value)}`, `$${name}`);
      step.bind = name;
    }
    // Host memory a call makes (hv_vm_allocate) is named like a host_alloc buffer.
    const mem = outcome.value as HostMemory | undefined;
    const spec = callSpec(arch, call.name);
    if (spec && valueParam(spec)?.type.kind === 'mem' && outcome.ret === HV.HV_SUCCESS && judgement.ok && mem)
      step.bind = `mem${mem.id}`;
    if (e.expected !== undefined && r.kind === 'code' && r.code === HV.HV_SUCCESS) {
      expect.value = jsonValue(e.expected, refs, undefined);
    }
    if (Object.keys(expect).length) step.expect = expect;
    steps.push(step);
  }
  return { format: 'hvspec-trace/1', arch, title, ...(description ? { description } : {}), steps };
}

/** True when the spec models `name` on `arch` (traces may also carry host steps). */
export function isModelledCall(arch: Arch, name: string): boolean {
  return callSpec(arch, name) !== undefined;
}
