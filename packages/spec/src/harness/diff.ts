/**
 * Differential mode: a backend that makes every call on two backends and compares their answers. The
 * harness checks the first against the spec as usual; whatever the second answers differently is a
 * *difference*. Differences where the spec leaves the outcome open (a loose return code, a value the
 * spec does not predict) are reported; any other difference fails the run.
 * @module
 */
import type { Arm64Exit, Backend, Capabilities, HostMemory, Result, ThreadId } from '../backend.js';
import { callSpec } from '../calls/registry.js';
import { hvReturnName } from '../vocabulary/returns.js';
import { describeValue } from './describe.js';
import { handleArgs, handleMade } from './handles.js';

/** One call on which the two backends answered differently. */
export interface Difference {
  readonly call: string;
  readonly args: readonly unknown[];
  readonly a: Result<unknown>;
  readonly b: Result<unknown>;
  readonly what: string;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    if ('exception' in a && 'exception' in b) {
      const x = a as Arm64Exit;
      const y = b as Arm64Exit;
      return (
        x.reason === y.reason &&
        x.exception.syndrome === y.exception.syndrome &&
        x.exception.virtual_address === y.exception.virtual_address &&
        x.exception.physical_address === y.exception.physical_address
      );
    }
    // Host memory is each backend's own: the same size is the same answer.
    if ('id' in a && 'size' in a && 'id' in b && 'size' in b) return a.size === b.size;
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}

/** A backend that runs every call on `a` and `b`; it answers with `a`'s results. */
export class DiffBackend {
  /** The difference of the most recent call, cleared at each call. */
  last: Difference | undefined;
  readonly differences: Difference[] = [];
  private readonly memB = new Map<number, HostMemory>();
  private readonly handleB = new Map<string, number>();

  constructor(
    readonly a: Backend,
    readonly b: Backend,
  ) {
    if (a.arch !== b.arch)
      throw new Error(`diff: backends of different architectures (${a.arch}, ${b.arch})`);
  }

  get arch(): Backend['arch'] {
    return this.a.arch;
  }

  get capabilities(): Capabilities {
    const ca = this.a.capabilities;
    const cb = this.b.capabilities;
    return {
      ...ca,
      backend: `${ca.backend}+${cb.backend}`,
      enforcedPermissions: ca.enforcedPermissions.filter((p) => cb.enforcedPermissions.includes(p)),
      deviations: [...ca.deviations, ...cb.deviations],
    };
  }

  /**
   * Allocates `size` bytes on both backends; returns `a`'s buffer, and remembers `b`'s twin so that later
   * calls naming the buffer reach `b` with its own.
   */
  host_alloc(size: number): HostMemory {
    const ma = this.a.host_alloc(size);
    this.memB.set(ma.id, this.b.host_alloc(size));
    return ma;
  }
  /** Writes the same bytes into `mem` and its twin on `b`. Throws RangeError for a buffer `a` did not allocate here. */
  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    this.a.host_write(mem, offset, bytes);
    this.b.host_write(this.toB(mem), offset, bytes);
  }
  /** Reads `a`'s bytes; when `b`'s twin holds other bytes, that is recorded as a difference (not thrown). */
  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    const x = this.a.host_read(mem, offset, size);
    const y = this.b.host_read(this.toB(mem), offset, size);
    if (Buffer.compare(Buffer.from(x), Buffer.from(y)) !== 0) {
      this.record(
        'host_read',
        [mem, offset, size],
        { ret: 0, value: x },
        { ret: 0, value: y },
        'memory contents differ',
      );
    }
    return x;
  }
  /** Resets both backends and forgets every buffer and handle pairing; recorded differences are kept. */
  async reset(): Promise<void> {
    await Promise.all([this.a.reset(), this.b.reset()]);
    this.memB.clear();
    this.handleB.clear();
  }
  /** Closes both backends. */
  async close(): Promise<void> {
    await Promise.all([this.a.close(), this.b.close()]);
  }

  private toB(mem: HostMemory): HostMemory {
    const m = this.memB.get(mem.id);
    if (!m) throw new RangeError(`diff: unknown host buffer ${mem.id}`);
    return m;
  }

  private mapArg(v: unknown, kind: string | undefined): unknown {
    if (typeof v === 'object' && v !== null && 'mem' in v && 'offset' in v) {
      const u = v as { mem: HostMemory; offset: number };
      return { mem: this.toB(u.mem), offset: u.offset };
    }
    if (Array.isArray(v)) return v.map((x) => this.mapArg(x, kind));
    if (typeof v === 'number' && kind !== undefined) return this.handleB.get(`${kind}:${v}`) ?? v;
    return v;
  }

  private record(
    call: string,
    args: readonly unknown[],
    a: Result<unknown>,
    b: Result<unknown>,
    what: string,
  ): void {
    this.last = { call, args, a, b, what };
    this.differences.push(this.last);
  }

  /** The second backend's buffer for a buffer of the first. */
  memOfB(mem: HostMemory): HostMemory {
    return this.toB(mem);
  }

  /** The second backend's handle for a vCPU handle of the first. */
  vcpuOfB(vcpu: number): number {
    return this.handleB.get(`vcpu:${vcpu}`) ?? vcpu;
  }

  /**
   * Calls `name` on both backends; `argNames` names the positional arguments for handle mapping.
   * Synchronous like the backends' own calls, except `*_async` runs, which resolve when both have.
   */
  call(
    name: string,
    t: ThreadId,
    argNames: readonly string[],
    args: readonly unknown[],
  ): Result<unknown> | Promise<Result<unknown>> {
    this.last = undefined;
    type Fn = (...x: unknown[]) => Result<unknown> | Promise<Result<unknown>>;
    const fa = (this.a as unknown as Record<string, Fn>)[name];
    const fb = (this.b as unknown as Record<string, Fn>)[name];
    if (!fa || !fb) throw new Error(`diff: ${name} missing on a backend`);
    const kinds = handleArgs(this.arch, name);
    const argsB = args.map((v, i) => this.mapArg(v, kinds[argNames[i] ?? '']));
    if (name.endsWith('_async')) {
      const pa = fa.call(this.a, t, ...args) as Promise<Result<unknown>>;
      const pb = fb.call(this.b, t, ...argsB) as Promise<Result<unknown>>;
      return Promise.all([pa, pb]).then(([ra, rb]) => this.compare(name, args, ra, rb));
    }
    const ra = fa.call(this.a, t, ...args) as Result<unknown>;
    const rb = fb.call(this.b, t, ...argsB) as Result<unknown>;
    return this.compare(name, args, ra, rb);
  }

  private compare(
    name: string,
    args: readonly unknown[],
    ra: Result<unknown>,
    rb: Result<unknown>,
  ): Result<unknown> {
    const mem = ra.value as HostMemory | undefined;
    const memB = rb.value as HostMemory | undefined;
    if (ra.ret === 0 && rb.ret === 0 && isMemory(mem) && isMemory(memB)) this.memB.set(mem.id, memB);
    const kind = handleMade(this.arch, name);
    if (kind && ra.ret === 0 && rb.ret === 0)
      this.handleB.set(`${kind}:${String(ra.value)}`, Number(rb.value));
    // A handle is compared only by its return code: the two backends number their handles each their own way.
    const what =
      ra.ret >>> 0 !== rb.ret >>> 0
        ? `return codes differ: ${hvReturnName(ra.ret)} vs ${hvReturnName(rb.ret)}`
        : !kind && ra.ret === 0 && !sameValue(ra.value, rb.value)
          ? `values differ: ${describeValue(ra.value)} vs ${describeValue(rb.value)}`
          : undefined;
    if (what !== undefined) this.record(name, args, ra, rb, what);
    return ra;
  }
}

function isMemory(v: unknown): v is HostMemory {
  return typeof v === 'object' && v !== null && 'id' in v && 'size' in v && !('exception' in v);
}

/** Describes a difference on one line. */
export function describeDifference(d: Difference): string {
  return `${d.call}(${d.args.map(describeValue).join(', ')}): ${d.what}`;
}

/** A backend (for the harness) whose every `hv_*` call runs on both; `diff` holds the differences. */
export type DiffingBackend = Backend & { readonly diff: DiffBackend };

/** Wraps two backends of one architecture into one the harness can drive. */
export function diffBackends(a: Backend, b: Backend): DiffingBackend {
  const diff = new DiffBackend(a, b);
  return new Proxy(diff, {
    get(target, prop, receiver) {
      if (prop === 'diff') return target;
      if (typeof prop === 'string' && prop.startsWith('hv_')) {
        const spec = callSpec(target.arch, prop.replace(/_async$/, ''));
        const names = spec ? spec.params.filter((p) => p.dir === 'in').map((p) => p.name) : [];
        return (t: ThreadId, ...args: unknown[]) => target.call(prop, t, names, args);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as unknown as DiffingBackend;
}
