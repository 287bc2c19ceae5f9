/**
 * Conversion of trace JSON into backend arguments and expectations, driven by the call table. The
 * parser runs it with an environment that knows only what earlier steps bind (kinds, names) and
 * returns placeholders; the replayer runs it with the real bound values. One code path, so what
 * parses is exactly what replays.
 * @module
 */

import type { HostMemory } from '../backend.js';
import type { HandleKind } from '../calls/params.js';
import { HV, hvReturnFromName } from '../vocabulary/returns.js';
import { type BindKind, KIND_BITS, type TraceArgSpec, type TraceArgType, type Vocab } from './calls.js';
import type { JsonValue } from './types.js';

/** A problem with one field of a step; the parser adds the file and step. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'FieldError';
  }
}

/** What a `"$name"` reference or a buffer name resolves to. */
export interface ConvertEnv {
  /** The value bound to `name`, checked to be one of `accept`; throws FieldError otherwise. */
  ref(name: string, accept: readonly BindKind[], field: string): number | bigint | boolean;
  /** The buffer `host_alloc` made under `name`; throws FieldError when there is none. */
  mem(name: string, field: string): HostMemory;
  /** The bytes an earlier step bound to `name`; throws FieldError when there are none. */
  bytes(name: string, field: string): Uint8Array;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const BYTES_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** True for a valid bind / label / buffer name. */
export function isName(value: unknown): value is string {
  return typeof value === 'string' && NAME_RE.test(value);
}

/** Describes a JSON value the way error messages quote it. */
export function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** `0x…` spelling of a number. */
export function hex(value: number | bigint): string {
  return `0x${BigInt(value).toString(16)}`;
}

const NUMERIC_KINDS: readonly BindKind[] = [
  'u32',
  'u64',
  'u128',
  'vcpu',
  'config',
  'vcpu_config',
  'gic_config',
  'gic_state',
  'asid',
];

function refName(value: string, field: string): string {
  const name = value.slice(1);
  if (!NAME_RE.test(name)) throw new FieldError(field, `${JSON.stringify(value)} is not a valid $reference`);
  return name;
}

/** An integer field: JSON number, hex string, vocabulary name or `$reference`, range-checked. */
export function toInteger(
  raw: unknown,
  field: string,
  bits: number,
  vocab: Vocab | undefined,
  env: ConvertEnv,
): bigint {
  const what = vocab ? `a name (${vocab.label}), a number or a hex string` : 'a number or hex string';
  let value: bigint;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0)
      throw new FieldError(field, `expected a non-negative integer, got ${raw}`);
    if (!Number.isSafeInteger(raw)) {
      throw new FieldError(field, `${raw} is above 2^53 and has lost precision: write it as a hex string`);
    }
    value = BigInt(raw);
  } else if (typeof raw === 'string') {
    if (raw.startsWith('$')) {
      const bound = env.ref(refName(raw, field), NUMERIC_KINDS, field);
      value = BigInt(bound as number | bigint);
    } else if (HEX_RE.test(raw)) {
      value = BigInt(raw);
    } else if (vocab?.names.has(raw)) {
      value = vocab.names.get(raw) as bigint;
    } else if (vocab && /^[A-Z]/.test(raw)) {
      throw new FieldError(field, `unknown name ${JSON.stringify(raw)} (expected ${what})`);
    } else {
      throw new FieldError(field, `expected ${what}, got ${describeJson(raw)}`);
    }
  } else {
    throw new FieldError(field, `expected ${what}, got ${describeJson(raw)}`);
  }
  if (value >= 1n << BigInt(bits)) throw new FieldError(field, `${hex(value)} does not fit in ${bits} bits`);
  return value;
}

/** A list of flag names, a single name, or a number (memory flags and x86 option words). */
export function toFlagWord(raw: unknown, field: string, bits: number, vocab: Vocab, env: ConvertEnv): bigint {
  if (Array.isArray(raw)) {
    let word = 0n;
    raw.forEach((item, i) => {
      if (typeof item !== 'string' || !vocab.names.has(item)) {
        throw new FieldError(`${field}[${i}]`, `expected a name (${vocab.label}), got ${describeJson(item)}`);
      }
      word |= vocab.names.get(item) as bigint;
    });
    return word;
  }
  return toInteger(raw, field, bits, vocab, env);
}

/** Hex bytes, two digits per byte (no `0x`). */
export function toBytes(raw: unknown, field: string): Uint8Array {
  if (typeof raw !== 'string' || !BYTES_RE.test(raw)) {
    throw new FieldError(
      field,
      `expected hex bytes (an even number of hex digits, no 0x), got ${describeJson(raw)}`,
    );
  }
  const out = new Uint8Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(raw.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HANDLE_WORD: Readonly<Record<HandleKind, string>> = {
  vcpu: 'vCPU',
  asid: 'address space',
  config: 'VM configuration',
  vcpu_config: 'vCPU configuration',
  gic_config: 'GIC configuration',
  gic_state: 'GIC state object',
};

function toHandle(raw: unknown, field: string, kind: HandleKind, env: ConvertEnv): number {
  if (typeof raw === 'string' && raw.startsWith('$')) {
    return Number(env.ref(refName(raw, field), [kind], field));
  }
  if (typeof raw === 'number') {
    return Number(toInteger(raw, field, Math.min(KIND_BITS[kind], 53), undefined, env));
  }
  throw new FieldError(
    field,
    `expected a $reference to a ${HANDLE_WORD[kind]} or a number, got ${describeJson(raw)}`,
  );
}

function toBool(raw: unknown, field: string, env: ConvertEnv): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && raw.startsWith('$'))
    return env.ref(refName(raw, field), ['bool'], field) as boolean;
  throw new FieldError(field, `expected true or false, got ${describeJson(raw)}`);
}

function toSafeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FieldError(field, `${hex(value)} is too large here`);
  return Number(value);
}

/** Converts one argument. `label`, `name` and `word` come back as their strings. */
export function convertArg(
  type: TraceArgType,
  raw: JsonValue | undefined,
  field: string,
  env: ConvertEnv,
): unknown {
  switch (type.t) {
    case 'int': {
      const value = toInteger(raw, field, type.bits, type.vocab, env);
      return type.as === 'bigint' ? value : toSafeNumber(value, field);
    }
    case 'bool':
      return toBool(raw, field, env);
    case 'flags':
      return toSafeNumber(toFlagWord(raw, field, 64, type.vocab, env), field);
    case 'options':
      return toFlagWord(raw, field, 64, type.vocab, env);
    case 'handle':
      if (raw === null) {
        if (type.nullable) return null;
        throw new FieldError(field, `expected a $reference or a number, got null`);
      }
      if (type.nullable === 'null-only')
        throw new FieldError(field, `expected null, got ${describeJson(raw)}`);
      return toHandle(raw, field, type.kind, env);
    case 'vcpus':
      if (!Array.isArray(raw))
        throw new FieldError(field, `expected a list of vCPUs, got ${describeJson(raw)}`);
      return raw.map((item, i) => toHandle(item, `${field}[${i}]`, 'vcpu', env));
    case 'count':
      return toSafeNumber(toInteger(raw, field, 32, undefined, env), field);
    case 'length':
      return toInteger(raw, field, 64, undefined, env);
    case 'uva': {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new FieldError(field, `expected {mem, offset}, got ${describeJson(raw)}`);
      }
      const obj = raw as { readonly [key: string]: JsonValue };
      for (const key of Object.keys(obj)) {
        if (key !== 'mem' && key !== 'offset')
          throw new FieldError(`${field}.${key}`, 'unknown field (uva is {mem, offset})');
      }
      const mem = convertArg({ t: 'mem' }, obj.mem, `${field}.mem`, env) as HostMemory;
      const offset = toSafeNumber(
        toInteger(obj.offset, `${field}.offset`, 64, undefined, env),
        `${field}.offset`,
      );
      return { mem, offset };
    }
    case 'mem':
      if (!isName(raw))
        throw new FieldError(field, `expected the name of a host_alloc buffer, got ${describeJson(raw)}`);
      return env.mem(raw, field);
    case 'hex':
      // Data a call gave, by the name its step bound (a VMM passes back what it was handed).
      if (typeof raw === 'string' && raw.startsWith('$')) return env.bytes(refName(raw, field), field);
      return toBytes(raw, field);
    case 'name':
    case 'label':
      if (!isName(raw))
        throw new FieldError(field, `expected a name (letters, digits, _), got ${describeJson(raw)}`);
      return raw;
    case 'word':
      if (typeof raw !== 'string' || !type.values.includes(raw)) {
        throw new FieldError(
          field,
          `expected one of ${type.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeJson(raw)}`,
        );
      }
      return raw;
  }
}

/**
 * Converts a step's `args` object into positional arguments in C order: unknown and missing
 * arguments are errors; `vcpu_count` defaults to the length of `vcpus`.
 */
export function convertArgs(
  call: string,
  specs: readonly TraceArgSpec[],
  args: unknown,
  env: ConvertEnv,
): unknown[] {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new FieldError('args', `expected an object, got ${describeJson(args)}`);
  }
  const obj = args as { readonly [key: string]: JsonValue };
  const takes = specs.length
    ? `${call} takes ${specs.map((s) => s.name).join(', ')}`
    : `${call} takes no arguments`;
  for (const key of Object.keys(obj)) {
    if (!specs.some((s) => s.name === key))
      throw new FieldError(`args.${key}`, `unknown argument (${takes})`);
  }
  const out: unknown[] = [];
  for (const spec of specs) {
    const field = `args.${spec.name}`;
    if (!Object.hasOwn(obj, spec.name)) {
      if (spec.type.t === 'count') {
        const list = out[out.length - 1];
        out.push(Array.isArray(list) ? list.length : 0);
        continue;
      }
      if (spec.type.t === 'length') {
        const bytes = out[out.length - 1];
        out.push(BigInt(bytes instanceof Uint8Array ? bytes.length : 0));
        continue;
      }
      if (spec.optional) {
        out.push(undefined);
        continue;
      }
      throw new FieldError(field, `missing (${takes})`);
    }
    out.push(convertArg(spec.type, obj[spec.name], field, env));
  }
  return out;
}

/** A converted return-code expectation. */
export type RetCheck =
  | { readonly kind: 'is'; readonly codes: readonly number[] }
  | { readonly kind: 'not'; readonly codes: readonly number[] }
  | { readonly kind: 'oneOf'; readonly codes: readonly number[] };

function toCode(raw: unknown, field: string): number {
  if (typeof raw === 'string') {
    const code = hvReturnFromName(raw);
    if (code === undefined) {
      throw new FieldError(
        field,
        `unknown return code ${JSON.stringify(raw)} (expected one of ${Object.keys(HV).join(', ')})`,
      );
    }
    return code;
  }
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= -0x8000_0000 && raw <= 0xffff_ffff)
    return raw >>> 0;
  throw new FieldError(
    field,
    `expected a return code name (HV_*) or a 32-bit number, got ${describeJson(raw)}`,
  );
}

/** `"HV_BUSY"`, `{not: ...}` or `{oneOf: [...]}`. */
export function convertRet(raw: unknown, field: string): RetCheck {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    const obj = raw as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === 'not')
      return { kind: 'not', codes: [toCode(obj.not, `${field}.not`)] };
    if (keys.length === 1 && keys[0] === 'oneOf') {
      const list = obj.oneOf;
      if (!Array.isArray(list) || list.length === 0) {
        throw new FieldError(
          `${field}.oneOf`,
          `expected a non-empty list of return codes, got ${describeJson(list)}`,
        );
      }
      return { kind: 'oneOf', codes: list.map((c, i) => toCode(c, `${field}.oneOf[${i}]`)) };
    }
    throw new FieldError(
      field,
      `expected a return code, {"not": code} or {"oneOf": [codes]}, got an object with ${keys.join(', ') || 'no keys'}`,
    );
  }
  return { kind: 'is', codes: [toCode(raw, field)] };
}

/** A converted numeric expectation: `(got & mask) == value` (value pre-masked). */
export interface NumericCheck {
  readonly value: bigint;
  readonly mask: bigint;
  readonly vocab?: Vocab;
}

/** A number, or `{value, mask}`. */
export function convertNumeric(
  raw: unknown,
  field: string,
  bits: number,
  vocab: Vocab | undefined,
  env: ConvertEnv,
): NumericCheck {
  const all = (1n << BigInt(bits)) - 1n;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const obj = raw as Record<string, JsonValue>;
    for (const key of Object.keys(obj)) {
      if (key !== 'value' && key !== 'mask')
        throw new FieldError(`${field}.${key}`, 'unknown field (expected {value, mask})');
    }
    if (!Object.hasOwn(obj, 'value')) throw new FieldError(`${field}.value`, 'missing');
    if (!Object.hasOwn(obj, 'mask')) throw new FieldError(`${field}.mask`, 'missing');
    const mask = toInteger(obj.mask, `${field}.mask`, bits, undefined, env);
    const value = toInteger(obj.value, `${field}.value`, bits, vocab, env);
    return vocab ? { value: value & mask, mask, vocab } : { value: value & mask, mask };
  }
  const value = toInteger(raw, field, bits, vocab, env);
  return vocab ? { value, mask: all, vocab } : { value, mask: all };
}
