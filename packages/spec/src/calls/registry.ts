/**
 * The registry: one entry per `hv_*` function and flavour, looked up by name. It is also the spec as
 * an oracle: find the row that applies to a call in the current state, and judge a backend's answer
 * against it.
 * @module
 */
import type { Arch } from '../backend.js';
import type { SpecEnv, SpecState } from '../state.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { ARM64_CALLS } from './arm64.js';
import { show, showRet } from './dsl.js';
import type { CallSpec, InParam, Judgement, Outcome, OutParam, Row, SpecCall } from './types.js';
import { X86_CALLS } from './x86.js';

const TABLES: Record<Arch, ReadonlyMap<string, CallSpec>> = {
  x86_64: new Map(X86_CALLS.map((c) => [c.name, c])),
  arm64: new Map(ARM64_CALLS.map((c) => [c.name, c])),
};

/** Every registry entry of a flavour, in the order of the tables. */
export function callSpecs(arch: Arch): readonly CallSpec[] {
  return [...TABLES[arch].values()];
}

/** The registry entry of one function, if the spec models it on that flavour. */
export function callSpec(arch: Arch, name: string): CallSpec | undefined {
  return TABLES[arch].get(name);
}

/** The `in` parameters of a call, in C order: what a backend method takes after the logical thread. */
export function inParams(spec: CallSpec): readonly InParam[] {
  return spec.params.filter((p): p is InParam => p.dir === 'in');
}

const RECORDS = new WeakMap<CallSpec, OutParam>();

/**
 * The out-parameter that is the call's JS value (`Result.value`), if any: the one out-parameter that is
 * not the arm64 exit-record pointer. Several of them (`hv_gic_get_spi_interrupt_range`) make one
 * `record` value, an object with a field per out-parameter, named as in C.
 */
export function valueParam(spec: CallSpec): OutParam | undefined {
  const outs = spec.params.filter((p): p is OutParam => p.dir === 'out' && p.type.kind !== 'exit-pointer');
  if (outs.length <= 1) return outs[0];
  let record = RECORDS.get(spec);
  if (!record) {
    const fields = outs.map((p) => ({ name: p.name, type: p.type }));
    record = {
      name: outs.map((p) => p.name).join(', '),
      dir: 'out',
      doc: outs.map((p) => `${p.name}: ${p.doc}`).join('; '),
      type: {
        kind: 'record',
        c: '',
        ts: `{ ${fields.map((f) => `readonly ${f.name}: ${f.type.ts}`).join('; ')} }`,
        fields,
      },
    };
    RECORDS.set(spec, record);
  }
  return record;
}

/**
 * Every out-parameter that carries a JS value, in C order. A call with several (the two masks of
 * `hv_vmx_vcpu_get_cap_write_vmcs`) returns them as one record keyed by the C names.
 */
export function valueParams(spec: CallSpec): readonly OutParam[] {
  return spec.params.filter((p): p is OutParam => p.dir === 'out' && p.type.kind !== 'exit-pointer');
}

/** The TypeScript type of a call's `Result.value`, or undefined when it has none. */
export function valueType(spec: CallSpec): string | undefined {
  const values = valueParams(spec);
  if (values.length <= 1) return values[0]?.type.ts;
  return `{ ${values.map((p) => `readonly ${p.name}: ${p.type.ts}`).join('; ')} }`;
}

/**
 * Every rule id of an architecture (`hv_vm_create.vm-exists`, …), in table order; with `env`, only the
 * rows that can apply in that host environment.
 */
export function allRuleIds(arch: Arch, env?: SpecEnv, opts: { dangerous?: boolean } = {}): string[] {
  return callSpecs(arch).flatMap((c) =>
    c.rows
      .filter((r) => (!env || !r.requires || r.requires(env)) && (opts.dangerous !== false || !r.dangerous))
      .map((r) => `${c.name}.${r.id}`),
  );
}

/** The row that decides a call in a state. Throws for a function the spec does not model. */
export function predict(s: SpecState, c: SpecCall): { spec: CallSpec; row: Row; ruleId: string } {
  const spec = callSpec(s.env.arch, c.name);
  if (!spec) throw new Error(`spec: ${c.name} is not a modelled ${s.env.arch} function`);
  const row = spec.rows.find((r) => r.applies(s, c));
  if (!row) throw new Error(`spec: no row of ${c.name} applies (the table's last row must always apply)`);
  return { spec, row, ruleId: `${c.name}.${row.id}` };
}

/**
 * Judges a backend's outcome against the spec and, when it conforms, applies the row's state change to
 * `s`. On a mismatch `s` is left as it was. `predicted` is the row {@link predict} found for this call in
 * this state, for a caller that already asked.
 */
export function judge(
  s: SpecState,
  c: SpecCall,
  o: Outcome,
  predicted: { row: Row; ruleId: string } = predict(s, c),
): Judgement {
  const { row, ruleId } = predicted;
  const ret = o.ret >>> 0;
  let mismatch: string | undefined;
  switch (row.ret.kind) {
    case 'code':
      if (ret !== row.ret.code) mismatch = `expected ${showRet(row.ret)}, got ${hvReturnName(ret)}`;
      break;
    case 'not-success':
      if (ret === HV.HV_SUCCESS) mismatch = `expected ${showRet(row.ret)}, got HV_SUCCESS`;
      break;
    case 'any':
      break;
  }
  if (!mismatch && ret === HV.HV_SUCCESS && row.expect) {
    const want = row.expect(s, c);
    if (want !== undefined && want !== o.value)
      mismatch = `value: expected ${show(want)}, got ${show(o.value)}`;
  }
  if (!mismatch && ret === HV.HV_SUCCESS && row.value) {
    const m = row.value(s, c, o.value);
    if (m) mismatch = m;
  }
  if (mismatch) return { call: c, row, ruleId, ok: false, mismatch: `${ruleId}: ${mismatch}` };
  if (row.effect && (row.ret.kind === 'any' || ret === HV.HV_SUCCESS)) row.effect(s, c, o);
  return { call: c, row, ruleId, ok: true };
}
