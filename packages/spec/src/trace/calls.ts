/**
 * What a trace may call, derived from the registry: every `hv_*` function of the trace's flavour (its
 * arguments are the registry's `in` parameters, named and ordered as in C, each spelt as its parameter
 * type says; its out-value is the registry's value parameter), plus the trace-only steps that stand in
 * for what a VMM does around the API: host buffers, the canonical x86 VMCS setup, and `await`.
 * The parser validates a trace with it and the replayer converts arguments with it and passes them to
 * the backend method of the same name in this order (after the logical thread).
 * @module
 */

import type { Arch } from '../backend.js';
import type { OutKind, TraceArgType, Vocab } from '../calls/params.js';
import { callSpec, valueParams } from '../calls/registry.js';
import type { CallSpec } from '../calls/types.js';
import { X86_SETUP_MODES } from '../guest/x86/setup.js';

export type { BindKind, OutKind, TraceArgType, Vocab } from '../calls/params.js';
export { KIND_BITS, VOCABS, vocabName } from '../calls/params.js';

/** One argument of a trace step: its name (the C parameter's) and how the trace writes it. */
export interface TraceArgSpec {
  readonly name: string;
  readonly type: TraceArgType;
  /** Only the counts beside a list or bytes (`vcpu_count`, `gic_state_size`) are optional. */
  readonly optional?: boolean;
}

/** How the replayer runs a call. */
export type TraceCallKind = 'hv' | 'host' | 'setup' | 'await';

/** What a trace step may call: its arguments in order, its out-value, and how the replayer runs it. */
export interface TraceCallSpec {
  readonly kind: TraceCallKind;
  /** In C parameter order, after the logical thread. */
  readonly args: readonly TraceArgSpec[];
  readonly out?: OutKind;
  /** Has an `*_async` form on the backend, so `"async": true` is allowed. */
  readonly hasAsync?: boolean;
  /** Executes guest code: unsupported on a backend without `guestExecution`. */
  readonly runsGuest?: boolean;
  /** Installs permissions (map/protect): the index of its flags argument, checked against `enforcedPermissions`. */
  readonly flagsArg?: number;
  /** Names usable in a `value` expectation, given the converted arguments. */
  readonly valueVocab?: (args: readonly unknown[]) => Vocab | undefined;
  /** `record` values: the fields an expectation may name. */
  readonly fields?: readonly string[];
}

const a = (name: string, type: TraceArgType): TraceArgSpec => ({ name, type });
const size: TraceArgType = { t: 'int', bits: 64, as: 'number' };

/** Steps that are not `hv_*` calls: what a VMM does around the API. */
const STEPS: Readonly<Record<string, Partial<Record<Arch, TraceCallSpec>>>> = (() => {
  const both = (spec: TraceCallSpec) => ({ x86_64: spec, arm64: spec });
  return {
    // Buffers stand in for the host memory a VMM would mmap.
    host_alloc: both({ kind: 'host', args: [a('name', { t: 'name' }), a('size', size)] }),
    host_write: both({
      kind: 'host',
      args: [a('mem', { t: 'mem' }), a('offset', size), a('bytes', { t: 'hex' })],
    }),
    host_read: both({
      kind: 'host',
      args: [a('mem', { t: 'mem' }), a('offset', size), a('size', size)],
      out: 'bytes',
    }),
    await: both({ kind: 'await', args: [a('label', { t: 'label' })] }),
    x86_setup: {
      x86_64: {
        kind: 'setup',
        args: [
          a('vcpu', { t: 'handle', kind: 'vcpu' }),
          a('mode', { t: 'word', values: X86_SETUP_MODES }),
          a('rip', { t: 'int', bits: 64, as: 'bigint' }),
        ],
      },
    },
  };
})();

function fromRegistry(spec: CallSpec): TraceCallSpec {
  const inputs = spec.params.filter((p) => p.dir === 'in');
  // A call with several out-values (a record) has no `expect.value` in traces yet: only its code is checked.
  const values = valueParams(spec);
  const value = values.length === 1 ? values[0] : undefined;
  const flagsArg = inputs.findIndex((p) => p.type.kind === 'flags');
  // An OS object binds as its kind (a vCPU configuration is not a VM configuration).
  const out = value?.type.kind === 'config' ? (value.type.object ?? 'config') : value?.type.kind;
  const vocab = value?.type.vocab;
  return {
    kind: 'hv',
    args: inputs.map((p) => ({
      name: p.name,
      type: p.type.trace,
      ...(p.type.kind === 'count' || p.type.kind === 'length' ? { optional: true } : {}),
    })),
    ...(out !== undefined && out !== 'exit-pointer' ? { out } : {}),
    ...(value?.type.fields ? { fields: value.type.fields.map((f) => f.name) } : {}),
    ...(spec.async ? { hasAsync: true } : {}),
    ...(spec.runsGuest ? { runsGuest: true } : {}),
    ...(flagsArg >= 0 ? { flagsArg } : {}),
    ...(spec.valueVocab ? { valueVocab: spec.valueVocab } : vocab ? { valueVocab: () => vocab } : {}),
  };
}

const DERIVED: Record<Arch, Map<string, TraceCallSpec>> = { x86_64: new Map(), arm64: new Map() };

/** The call's spec for `arch`, or undefined when the call does not exist there. */
export function traceCallSpec(call: string, arch: Arch): TraceCallSpec | undefined {
  if (Object.hasOwn(STEPS, call)) return STEPS[call]?.[arch];
  let spec = DERIVED[arch].get(call);
  if (!spec) {
    const entry = callSpec(arch, call);
    if (!entry) return undefined;
    spec = fromRegistry(entry);
    DERIVED[arch].set(call, spec);
  }
  return spec;
}

/** The flavours in which a call exists (for "an x86_64 call, not arm64" messages). */
export function traceCallArchs(call: string): Arch[] {
  return (['x86_64', 'arm64'] as const).filter((arch) => traceCallSpec(call, arch) !== undefined);
}
