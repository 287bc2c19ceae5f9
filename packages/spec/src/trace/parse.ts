/**
 * `parseTrace`: reads and validates an `hvspec-trace/1` file. Everything the replayer would trip on
 * is an error here, naming the file, the step and the field: unknown calls and arguments, missing
 * arguments, bad numbers and hex, unknown enum names, `"$name"` references to names no earlier step
 * binds (or binds to the wrong kind of value), async steps never awaited.
 * @module
 */

import type { Arch, HostMemory } from '../backend.js';
import { ARM64_EXIT_KINDS, type Arm64ExitKind } from '../guest/arm64/vmm.js';
import {
  type BindKind,
  KIND_BITS,
  type TraceCallSpec,
  traceCallArchs,
  traceCallSpec,
  VOCABS,
} from './calls.js';
import {
  type ConvertEnv,
  convertArgs,
  convertNumeric,
  convertRet,
  describeJson,
  FieldError,
  isName,
  type NumericCheck,
  type RetCheck,
  toBytes,
} from './convert.js';
import { type Expect, type Step, TRACE_FORMAT, type Trace } from './types.js';

/** A malformed trace: the message names the file, the step (index into `steps`, call) and the field. */
export class TraceError extends Error {
  constructor(
    readonly detail: string,
    readonly file?: string,
    readonly step?: number,
    readonly call?: string,
    readonly field?: string,
  ) {
    const where = [
      file,
      step === undefined ? undefined : `step ${step}${call ? ` (${call})` : ''}`,
      field,
    ].filter((part) => part !== undefined && part !== '');
    super([...where, detail].join(': '));
    this.name = 'TraceError';
  }
}

/** A compiled expectation, ready to compare against a result. */
export interface ExpectCheck {
  readonly ret?: RetCheck;
  readonly value?:
    | NumericCheck
    | { readonly bool: boolean }
    /** `u64x8` values (CCSIDR_EL1): one check per element. */
    | { readonly list: readonly NumericCheck[] }
    /** A `record` value: one check per field named. */
    | { readonly fields: Readonly<Record<string, NumericCheck>> };
  readonly exit?: Readonly<
    Partial<Record<'reason' | 'syndrome' | 'virtual_address' | 'physical_address', NumericCheck>>
  >;
  readonly bytes?: Uint8Array;
  /** The arm64 exit kind the step is about (see `Expect.kind`). */
  readonly kind?: Arm64ExitKind;
}

const STEP_KEYS = ['thread', 'call', 'args', 'expect', 'bind', 'async', 'label'];
const TRACE_KEYS = ['format', 'arch', 'title', 'description', 'steps'];
const EXIT_KEYS = ['reason', 'syndrome', 'virtual_address', 'physical_address'] as const;

/** The kinds of out-value a `bind` can hold (host memory binds a buffer name). */
export function bindKindOf(spec: TraceCallSpec): BindKind | undefined {
  switch (spec.out) {
    case undefined:
    case 'exit':
    case 'u64x8':
    case 'record':
      return undefined;
    default:
      return spec.out;
  }
}

/**
 * Compiles `expect` for a call with the given spec and converted arguments. Which fields are allowed
 * depends on the call: `ret` for hv_* calls, `value` for calls with an out-value, `exit` for the arm64
 * run, `bytes` for `host_read`.
 */
export function compileExpect(
  raw: unknown,
  call: string,
  spec: TraceCallSpec,
  args: readonly unknown[],
  env: ConvertEnv,
): ExpectCheck {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FieldError('expect', `expected an object, got ${describeJson(raw)}`);
  }
  const obj = raw as Expect & Record<string, unknown>;
  const allowed: string[] = [];
  if (spec.kind === 'hv') allowed.push('ret');
  if (spec.out === 'exit') allowed.push('exit', 'kind');
  else if (spec.out === 'bytes') allowed.push('bytes');
  else if (spec.out !== undefined && spec.out !== 'mem') allowed.push('value');
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new FieldError(
        `expect.${key}`,
        allowed.length
          ? `not checkable on ${call} (it takes ${allowed.join(', ')})`
          : `${call} has nothing to expect`,
      );
    }
  }
  const out: { -readonly [K in keyof ExpectCheck]: ExpectCheck[K] } = {};
  if (obj.ret !== undefined) out.ret = convertRet(obj.ret, 'expect.ret');
  if (obj.value !== undefined) {
    if (spec.out === 'bool') {
      if (typeof obj.value !== 'boolean')
        throw new FieldError('expect.value', `expected true or false, got ${describeJson(obj.value)}`);
      out.value = { bool: obj.value };
    } else if (spec.out === 'u64x8') {
      const list = obj.value as unknown;
      if (!Array.isArray(list) || list.length !== 8)
        throw new FieldError('expect.value', `expected a list of 8 values, got ${describeJson(list)}`);
      out.value = {
        list: list.map((x, i) => convertNumeric(x, `expect.value[${i}]`, 64, undefined, env)),
      };
    } else if (spec.out === 'record') {
      const rec = obj.value as unknown;
      const names = spec.fields ?? [];
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec))
        throw new FieldError(
          'expect.value',
          `expected an object of ${names.join(', ')}, got ${describeJson(rec)}`,
        );
      const fields: Record<string, NumericCheck> = {};
      for (const [k, x] of Object.entries(rec as Record<string, unknown>)) {
        if (!names.includes(k))
          throw new FieldError(`expect.value.${k}`, `unknown field (the value has ${names.join(', ')})`);
        fields[k] = convertNumeric(x, `expect.value.${k}`, 64, undefined, env);
      }
      out.value = { fields };
    } else {
      const bits = KIND_BITS[spec.out as Exclude<BindKind, 'bool' | 'mem' | 'bytes'>];
      out.value = convertNumeric(obj.value, 'expect.value', bits, spec.valueVocab?.(args), env);
    }
  }
  if (obj.exit !== undefined) {
    const exit = obj.exit as unknown;
    if (exit === null || typeof exit !== 'object' || Array.isArray(exit)) {
      throw new FieldError('expect.exit', `expected an object, got ${describeJson(exit)}`);
    }
    const checks: Partial<Record<(typeof EXIT_KEYS)[number], NumericCheck>> = {};
    for (const [key, value] of Object.entries(exit)) {
      if (!(EXIT_KEYS as readonly string[]).includes(key)) {
        throw new FieldError(`expect.exit.${key}`, `unknown field (an exit has ${EXIT_KEYS.join(', ')})`);
      }
      const k = key as (typeof EXIT_KEYS)[number];
      checks[k] =
        k === 'reason'
          ? convertNumeric(value, 'expect.exit.reason', 32, VOCABS.exitReason, env)
          : convertNumeric(value, `expect.exit.${k}`, 64, undefined, env);
    }
    out.exit = checks;
  }
  if (obj.bytes !== undefined) out.bytes = toBytes(obj.bytes, 'expect.bytes');
  if (obj.kind !== undefined) {
    if (typeof obj.kind !== 'string' || !(ARM64_EXIT_KINDS as readonly string[]).includes(obj.kind))
      throw new FieldError(
        'expect.kind',
        `expected an arm64 exit kind (arm64.…), got ${describeJson(obj.kind)}`,
      );
    out.kind = obj.kind as Arm64ExitKind;
  }
  return out;
}

interface Binding {
  readonly kind: BindKind;
  readonly step: number;
  readonly call: string;
  readonly thread: number;
}

/**
 * The thread an `x86_setup` step runs on: the thread of the `hv_vcpu_create` that bound its `$vcpu`,
 * or, for a literal (forged) handle, the step's own thread.
 */
export function setupThread(step: Step, vcpuThreads: ReadonlyMap<string, number>): number {
  const vcpu = step.args.vcpu;
  if (typeof vcpu === 'string' && vcpu.startsWith('$')) {
    const owner = vcpuThreads.get(vcpu.slice(1));
    if (owner !== undefined) return owner;
  }
  return step.thread ?? 0;
}

/** Static environment: knows what kind each name holds, returns placeholders. */
class StaticEnv implements ConvertEnv {
  readonly binds = new Map<string, Binding>();
  readonly mems = new Set<string>();
  ref(name: string, accept: readonly BindKind[], field: string): number | bigint | boolean {
    const b = this.binds.get(name);
    if (!b) throw new FieldError(field, `$${name} is not bound by an earlier step`);
    if (!accept.includes(b.kind)) {
      throw new FieldError(
        field,
        `$${name} holds a ${b.kind} (bound by step ${b.step}, ${b.call}), expected ${accept.join(' or ')}`,
      );
    }
    return b.kind === 'bool' ? false : 0;
  }
  bytes(name: string, field: string): Uint8Array {
    const b = this.binds.get(name);
    if (!b) throw new FieldError(field, `$${name} is not bound by an earlier step`);
    if (b.kind !== 'bytes')
      throw new FieldError(
        field,
        `$${name} holds a ${b.kind} (bound by step ${b.step}, ${b.call}), expected bytes`,
      );
    return new Uint8Array(0);
  }
  mem(name: string, field: string): HostMemory {
    if (!this.mems.has(name))
      throw new FieldError(field, `no host buffer named ${JSON.stringify(name)} (host_alloc it first)`);
    return { id: -1, size: 0 };
  }
}

function parseStep(
  raw: unknown,
  index: number,
  arch: Arch,
  env: StaticEnv,
  labels: Map<string, { spec: TraceCallSpec; call: string; args: unknown[]; awaited: boolean }>,
  vcpuThreads: Map<string, number>,
  fail: (detail: string, field?: string, call?: string) => never,
): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail(`expected a step object, got ${describeJson(raw)}`);
  const step = raw as Record<string, unknown>;
  const call = step.call;
  if (typeof call !== 'string') fail(`expected the name of a call, got ${describeJson(call)}`, 'call');
  for (const key of Object.keys(step)) {
    if (!STEP_KEYS.includes(key)) fail(`unknown field (a step has ${STEP_KEYS.join(', ')})`, key, call);
  }
  const spec = traceCallSpec(call, arch);
  if (!spec) {
    const other = traceCallArchs(call);
    fail(
      other.length
        ? `${call} is an ${other.join('/')} call, not ${arch}`
        : `unknown call ${JSON.stringify(call)}`,
      'call',
      call,
    );
  }
  const thread = step.thread;
  if (thread !== undefined && (typeof thread !== 'number' || !Number.isSafeInteger(thread) || thread < 0)) {
    fail(`expected a logical thread number (0, 1, ...), got ${describeJson(thread)}`, 'thread', call);
  }
  if (!Object.hasOwn(step, 'args')) fail('missing (use {} for a call without arguments)', 'args', call);
  try {
    const args = convertArgs(call, spec.args, step.args, env);
    const isAsync = step.async;
    if (isAsync !== undefined && typeof isAsync !== 'boolean')
      fail(`expected true or false, got ${describeJson(isAsync)}`, 'async', call);
    if (isAsync && !spec.hasAsync) fail(`${call} has no async form (only hv_vcpu_run does)`, 'async', call);
    const label = step.label;
    if (label !== undefined) {
      if (!isAsync) fail('only async steps carry a label', 'label', call);
      if (!isName(label))
        fail(`expected a name (letters, digits, _), got ${describeJson(label)}`, 'label', call);
      if (labels.has(label))
        fail(`label ${JSON.stringify(label)} is already used by an earlier step`, 'label', call);
    }
    if (isAsync && label === undefined) fail('an async step needs a label for its await step', 'label', call);
    if (isAsync && step.expect !== undefined)
      fail('an async step checks nothing: put expect on its await step', 'expect', call);
    if (isAsync && step.bind !== undefined)
      fail('an async step binds nothing: put bind on its await step', 'bind', call);

    // The spec whose result this step produces: an await step yields its async step's result.
    let resultSpec = spec;
    let resultCall = call;
    let resultArgs = args;
    if (spec.kind === 'await') {
      if (thread !== undefined)
        fail("await waits on the async step's own thread; remove thread", 'thread', call);
      const entry = labels.get(args[0] as string);
      if (!entry) fail(`no earlier async step is labelled ${JSON.stringify(args[0])}`, 'args.label', call);
      if (entry.awaited)
        fail(`the async step labelled ${JSON.stringify(args[0])} is already awaited`, 'args.label', call);
      entry.awaited = true;
      resultSpec = entry.spec;
      resultCall = entry.call;
      resultArgs = entry.args;
    }
    if (spec.kind === 'setup') {
      const owner = setupThread(step as unknown as Step, vcpuThreads);
      if (thread !== undefined && thread !== owner) {
        fail(
          `x86_setup runs on the vCPU's owning thread ${owner}; remove thread or make it ${owner}`,
          'thread',
          call,
        );
      }
    }
    if (step.expect !== undefined) compileExpect(step.expect, resultCall, resultSpec, resultArgs, env);
    if (step.bind !== undefined) {
      if (!isName(step.bind))
        fail(`expected a name (letters, digits, _), got ${describeJson(step.bind)}`, 'bind', call);
      const kind = bindKindOf(resultSpec);
      if (!kind) fail(`${resultCall} has no out-value to bind`, 'bind', call);
      env.binds.set(step.bind, { kind, step: index, call, thread: (thread as number | undefined) ?? 0 });
      if (resultCall === 'hv_vcpu_create') vcpuThreads.set(step.bind, (thread as number | undefined) ?? 0);
      if (kind === 'mem') {
        if (env.mems.has(step.bind))
          fail(`a host buffer named ${JSON.stringify(step.bind)} already exists`, 'bind', call);
        env.mems.add(step.bind);
      }
    }
    if (call === 'host_alloc') {
      const name = args[0] as string;
      if (env.mems.has(name))
        fail(`a host buffer named ${JSON.stringify(name)} already exists`, 'args.name', call);
      env.mems.add(name);
    }
    if (isAsync) labels.set(label as string, { spec, call, args, awaited: false });
  } catch (e) {
    if (e instanceof FieldError) fail(e.detail, e.field, call);
    throw e;
  }
}

/**
 * Parses and validates a trace. `file` only labels error messages.
 * @throws TraceError naming the file, step and field of the first problem.
 */
export function parseTrace(text: string, file?: string): Trace {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TraceError(`not valid JSON: ${(e as Error).message}`, file);
  }
  const top = (detail: string, field?: string): never => {
    throw new TraceError(detail, file, undefined, undefined, field);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    top(`expected a trace object, got ${describeJson(json)}`);
  const trace = json as Record<string, unknown>;
  for (const key of Object.keys(trace)) {
    if (!TRACE_KEYS.includes(key)) top(`unknown field (a trace has ${TRACE_KEYS.join(', ')})`, key);
  }
  if (trace.format !== TRACE_FORMAT)
    top(`expected ${JSON.stringify(TRACE_FORMAT)}, got ${describeJson(trace.format)}`, 'format');
  if (trace.arch !== 'x86_64' && trace.arch !== 'arm64')
    top(`expected "x86_64" or "arm64", got ${describeJson(trace.arch)}`, 'arch');
  if (typeof trace.title !== 'string' || trace.title.trim() === '')
    top(`expected a non-empty string, got ${describeJson(trace.title)}`, 'title');
  if (trace.description !== undefined && typeof trace.description !== 'string') {
    top(`expected a string, got ${describeJson(trace.description)}`, 'description');
  }
  if (!Array.isArray(trace.steps) || trace.steps.length === 0)
    top(`expected a non-empty list of steps, got ${describeJson(trace.steps)}`, 'steps');
  const arch = trace.arch as Arch;
  const env = new StaticEnv();
  const labels = new Map<
    string,
    { spec: TraceCallSpec; call: string; args: unknown[]; awaited: boolean; step?: number }
  >();
  const labelSteps = new Map<string, number>();
  const vcpuThreads = new Map<string, number>();
  (trace.steps as unknown[]).forEach((raw, index) => {
    const fail = (detail: string, field?: string, call?: string): never => {
      throw new TraceError(detail, file, index, call, field);
    };
    parseStep(raw, index, arch, env, labels, vcpuThreads, fail);
    const label = (raw as Step).label;
    if (label !== undefined && !labelSteps.has(label)) labelSteps.set(label, index);
  });
  for (const [label, entry] of labels) {
    if (!entry.awaited) {
      const index = labelSteps.get(label) ?? 0;
      throw new TraceError(
        `never awaited: add {"call": "await", "args": {"label": ${JSON.stringify(label)}}}`,
        file,
        index,
        entry.call,
        'label',
      );
    }
  }
  return json as Trace;
}
