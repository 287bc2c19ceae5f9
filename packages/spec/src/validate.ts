/**
 * Argument checks shared by every backend: a wrong JS type is a programmer error and throws a
 * `TypeError` that names the parameter; a well-typed but illegal value is left to the spec's rules.
 * @module
 */

// The checks below run on every call of every backend, several per call, so they are kept small
// enough for V8 to inline them into the backends' hot methods (and those into their callers): the
// messages are built out of line, and `value >>> 0 === value` is "an integer in [0, 2^32)" in one
// step (false for fractions, NaN, infinities, negatives and 2^32 and up; -0 passes, as it did).

/** Throws unless `value` is an integer in [0, 2^32). */
export function checkU32(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || value >>> 0 !== value) throw notU32(name, value);
}

function notU32(name: string, value: unknown): TypeError {
  return new TypeError(`${name} must be an integer in [0, 2^32), got ${describe(value)}`);
}

/**
 * Throws unless `value` is a bigint in [0, 2^64). The upper bound is only compared once `value` is
 * past 2^63 - 1: V8 compiles comparisons with constants that fit a signed 64-bit word to machine
 * compares, and one with 2^64 - 1 to a call, on every call of every 64-bit argument.
 */
export function checkU64(name: string, value: unknown): asserts value is bigint {
  if (
    typeof value !== 'bigint' ||
    value < 0n ||
    (value > 0x7fff_ffff_ffff_ffffn && value > 0xffff_ffff_ffff_ffffn)
  )
    throw notU64(name, value);
}

function notU64(name: string, value: unknown): TypeError {
  return new TypeError(`${name} must be a bigint in [0, 2^64), got ${describe(value)}`);
}

/** Throws unless `value` is a bigint in [0, 2^128) (a SIMD&FP register). */
export function checkU128(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << 128n) {
    throw new TypeError(`${name} must be a bigint in [0, 2^128), got ${describe(value)}`);
  }
}

/** Throws unless `value` is null (a parameter that only accepts C NULL today). */
export function checkNull(name: string, value: unknown): asserts value is null {
  if (value !== null) throw new TypeError(`${name} must be null, got ${describe(value)}`);
}

/**
 * Throws unless `value` has the shape of a `Uva`: `{mem, offset}` with `mem` a host buffer
 * (`{id, size}`) and `offset` a non-negative safe integer. Whether `mem` belongs to the backend is the
 * backend's check.
 */
export function checkUva(
  name: string,
  value: unknown,
): asserts value is { mem: { id: number; size: number }; offset: number } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${name} must be {mem, offset}, got ${describe(value)}`);
  const { mem, offset } = value as { mem?: unknown; offset?: unknown };
  if (typeof mem !== 'object' || mem === null || typeof (mem as { id?: unknown }).id !== 'number')
    throw new TypeError(`${name}.mem must be a buffer from host_alloc, got ${describe(mem)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
    throw new TypeError(`${name}.offset must be a non-negative integer, got ${describe(offset)}`);
}

/** Throws unless `value` is a boolean. */
export function checkBool(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
}

/**
 * Throws unless `value` is a logical thread that can run a vCPU asynchronously: a logical thread id
 * other than 0. Thread 0 is the caller's own (the JS thread), which cannot wait in the guest and go on
 * calling at once; every backend's `hv_vcpu_run_async` refuses it with this TypeError.
 */
export function checkAsyncThread(value: unknown): asserts value is number {
  checkThread(value);
  if (value === 0)
    throw new TypeError(
      't must be a logical thread > 0 for hv_vcpu_run_async: thread 0 is the caller itself, which cannot wait in the guest',
    );
}

/** Throws unless `value` is a logical thread id (a non-negative safe integer). */
export function checkThread(value: unknown): asserts value is number {
  if (typeof value !== 'number' || (value >>> 0 !== value && !(Number.isSafeInteger(value) && value >= 0)))
    throw notThread(value);
}

function notThread(value: unknown): TypeError {
  return new TypeError(`t (logical thread) must be a non-negative integer, got ${describe(value)}`);
}

/** Throws unless `value` is an array of u32 handles and `count` a u32. */
export function checkVcpuList(name: string, value: unknown, countName: string, count: unknown): void {
  if (!Array.isArray(value))
    throw new TypeError(`${name} must be an array of vCPU handles, got ${describe(value)}`);
  for (const [i, v] of value.entries()) checkU32(`${name}[${i}]`, v);
  checkU32(countName, count);
  if (count > value.length)
    throw new TypeError(`${countName} ${count} exceeds ${name}.length ${value.length}`);
}

/**
 * The largest host buffer `host_alloc` gives out, in bytes after rounding up to the page size, on every
 * backend: 4 GiB, Node's largest ArrayBuffer in Node 20 (`buffer.constants.MAX_LENGTH`), which bounds
 * the model. Native backends allocate with mmap and could go further, but a trace or a test that
 * allocates more would then run on one backend and not on the other; guest memory of several GiB is
 * several buffers.
 */
export const HOST_ALLOC_MAX = 2 ** 32;

/**
 * The one host_alloc size check of every backend: `size` must be a non-negative safe integer
 * (TypeError otherwise), at least 1 and at most {@link HOST_ALLOC_MAX} once rounded up to `pageSize`
 * (RangeError otherwise). Returns the rounded size.
 */
export function checkHostAllocSize(size: unknown, pageSize: number): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new TypeError(`size must be a non-negative integer, got ${describe(size)}`);
  if (size === 0) throw new RangeError('size must be at least 1 byte (a host region has at least one page)');
  const rounded = Math.ceil(size / pageSize) * pageSize;
  if (rounded > HOST_ALLOC_MAX)
    throw new RangeError(`size ${size} exceeds the host buffer limit of ${HOST_ALLOC_MAX} bytes (4 GiB)`);
  return rounded;
}

/**
 * Throws unless `value` is a `Uint8Array` and `length` a bigint no larger than its length (the C
 * function reads `length` bytes of it).
 */
export function checkBytes(name: string, value: unknown, lengthName: string, length: unknown): void {
  if (!(value instanceof Uint8Array))
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  checkU64(lengthName, length);
  if (length > BigInt(value.length))
    throw new TypeError(`${lengthName} ${length} exceeds ${name}.length ${value.length}`);
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
