/**
 * One checked call: predict, skip if dangerous on real hardware, invoke, judge, record.
 * @module
 */

import type { Backend, Result } from '../backend.js';
import { judge, predict } from '../calls/registry.js';
import type { SpecCall } from '../calls/types.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import type { Model, OpenDifference, Real } from './context.js';
import { describeCall, describeValue } from './describe.js';
import { type Difference, type DiffingBackend, describeDifference } from './diff.js';
import { invoke } from './invoke.js';

/** A conformance failure: the message names the rule, the call, and what differed. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

/** A tolerated mismatch (Real.tolerate): the sequence stops there, and the run goes on. */
export class SequenceEnd extends Error {
  override readonly name = 'SequenceEnd';
}

/** What each backend answered, in the spec's names: the code, or the value when both succeeded. */
function classify(d: Difference): Pick<OpenDifference, 'kind' | 'a' | 'b'> | undefined {
  const ra = d.a.ret >>> 0;
  const rb = d.b.ret >>> 0;
  if (ra !== rb) {
    const kind = ra === HV.HV_SUCCESS || rb === HV.HV_SUCCESS ? 'outcome' : 'code';
    return { kind, a: hvReturnName(ra), b: hvReturnName(rb) };
  }
  // The same value of another JS type (a number and a bigint) is no difference in the API.
  const num = (v: unknown): unknown => (typeof v === 'number' ? BigInt(v) : v);
  if (num(d.a.value) === num(d.b.value)) return undefined;
  return { kind: 'value', a: showValue(d.a.value), b: showValue(d.b.value) };
}

/** A value on one line; records (an arm64 exit) field by field. */
function showValue(v: unknown): string {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || 'mem' in v) return describeValue(v);
  return `{${Object.entries(v)
    .map(([k, x]) => `${k}: ${showValue(x)}`)
    .join(', ')}}`;
}

/** Whether the backend declares (Deviation.calls) that this call answers HV_UNSUPPORTED, and it did. */
function declaredUnsupported(r: Real, call: SpecCall, ret: number): boolean {
  return (
    ret >>> 0 === HV.HV_UNSUPPORTED &&
    r.backend.capabilities.deviations.some((d) => d.calls?.includes(call.name))
  );
}

/** Makes one call and checks it against the spec; throws {@link ConformanceError} on a mismatch. */
export async function execute(m: Model, r: Real, call: SpecCall): Promise<unknown> {
  const predicted = predict(m.state, call);
  const { row } = predicted;
  if (row.dangerous && !r.allowDangerous) {
    r.log.push({ kind: 'skipped', call, why: row.dangerous });
    return undefined;
  }
  const expected = row.expect?.(m.state, call);
  const outcome = await invoke(r.backend, call);
  const judgement = judge(m.state, call, outcome, predicted);
  if (!judgement.ok && declaredUnsupported(r, call, outcome.ret)) {
    // The state is unchanged (a mismatch applies no effect) and the row is not counted as covered.
    r.log.push({ kind: 'skipped', call, why: `HV_UNSUPPORTED: a declared deviation of ${call.name}` });
    return undefined;
  }
  m.coverage.add(judgement.ruleId);
  const entry = { kind: 'call', call, outcome, judgement, expected } as const;
  r.log.push(entry);
  r.observe?.({ call, row, ruleId: judgement.ruleId, outcome, judgement, log: r.log });
  if (!judgement.ok) {
    if (r.tolerate?.(judgement)) throw new SequenceEnd(`${describeCall(call)}: ${judgement.mismatch}`);
    throw new ConformanceError(`${describeCall(call)}: ${judgement.mismatch}`);
  }
  const diffing = (r.backend as Partial<DiffingBackend>).diff;
  const diff = diffing?.last;
  // One backend declares (Deviation.calls) that this call answers HV_UNSUPPORTED there, and it did: a
  // declared deviation, not a difference to judge.
  const unsupportedOn = (b: Backend, x: Result<unknown>): boolean =>
    (x.ret as number) >>> 0 === HV.HV_UNSUPPORTED &&
    b.capabilities.deviations.some((d) => d.calls?.includes(call.name));
  if (diff && diffing && (unsupportedOn(diffing.a, diff.a) || unsupportedOn(diffing.b, diff.b))) {
    r.log.push({
      kind: 'skipped',
      call,
      why: `HV_UNSUPPORTED on one backend: a declared deviation of ${call.name}`,
    });
  } else if (diff) {
    // The spec leaves this open (a loose code, or a value it does not predict): report, do not fail.
    // So does a call one backend declares unsupported (Deviation.calls): listed, never a failure.
    const open =
      row.ret.kind !== 'code' ||
      (diff.what.startsWith('values') && expected === undefined) ||
      declaredUnsupported(r, call, diff.a.ret) ||
      declaredUnsupported(r, call, diff.b.ret);
    if (!open)
      throw new ConformanceError(
        `${describeCall(call)}: backends differ where the spec is exact: ${diff.what}`,
      );
    const c = classify(diff);
    if (c) m.differences.push({ ruleId: judgement.ruleId, ...c, what: describeDifference(diff) });
    // One backend took the row's state change and the other did not (one succeeded, one failed): from
    // here on they answer from different states, and a later call judged exact on one of them would
    // report that divergence, not a new one. The difference is reported; the sequence ends here.
    if (c?.kind === 'outcome' && row.effect)
      throw new SequenceEnd(
        `${describeCall(call)}: the backends' states diverged (${describeDifference(diff)})`,
      );
  }
  return outcome.value;
}
