/**
 * Turns a {@link SpecCall} (C-named arguments) into a call of the backend method of the same name, with
 * the `in` parameters in C order, as the rule table lists them.
 * @module
 */
import type { Backend } from '../backend.js';
import { callSpec } from '../calls/registry.js';
import type { Outcome, SpecCall } from '../calls/types.js';

type AnyMethod = (...args: unknown[]) => Outcome | Promise<Outcome>;

/** The positional arguments of a call, after the thread. */
export function positionalArgs(backend: Backend, call: SpecCall): unknown[] {
  const spec = callSpec(backend.arch, call.name);
  if (!spec) throw new Error(`harness: ${call.name} is not a modelled ${backend.arch} function`);
  return spec.params.filter((p) => p.dir === 'in').map((p) => call.args[p.name]);
}

/** Makes the call on the backend and returns what it answered. */
export async function invoke(backend: Backend, call: SpecCall): Promise<Outcome> {
  const method = (backend as unknown as Record<string, AnyMethod>)[call.name];
  if (typeof method !== 'function') throw new Error(`harness: the backend has no ${call.name}`);
  return await method.call(backend, call.t, ...positionalArgs(backend, call));
}
