/**
 * One checked call: predict, skip if dangerous on real hardware, invoke, judge, record.
 * @module
 */
import { judge, predict } from '../calls/registry.js';
import type { SpecCall } from '../calls/types.js';
import type { Model, Real } from './context.js';
import { describeCall } from './describe.js';
import { type DiffingBackend, describeDifference } from './diff.js';
import { invoke } from './invoke.js';

/** A conformance failure: the message names the rule, the call, and what differed. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
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
  m.coverage.add(judgement.ruleId);
  r.log.push({ kind: 'call', call, outcome, judgement, expected });
  if (!judgement.ok) throw new ConformanceError(`${describeCall(call)}: ${judgement.mismatch}`);
  const diff = (r.backend as Partial<DiffingBackend>).diff?.last;
  if (diff) {
    // The spec leaves this open (a loose code, or a value it does not predict): report, do not fail.
    const open = row.ret.kind !== 'code' || (diff.what.startsWith('values') && expected === undefined);
    if (!open)
      throw new ConformanceError(
        `${describeCall(call)}: backends differ where the spec is exact: ${diff.what}`,
      );
    m.differences.push({ ruleId: judgement.ruleId, what: describeDifference(diff) });
  }
  return outcome.value;
}
