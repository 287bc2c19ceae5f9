/**
 * What both model flavours share: options, host buffers, logical threads, the async-run machinery and
 * the order in which every call checks its arguments.
 *
 * Order of checks (the spec uses the same order, so the model's choice among several applicable codes
 * is predictable):
 *  0. JS types — a wrong type is a programmer error: `TypeError` naming the parameter (so is an async
 *     run on thread 0, the caller itself, which cannot wait in the guest).
 *  ½. the calling thread inside an async run → HV_BUSY: a real thread cannot make a call while it is
 *     inside `hv_vcpu_run`; the native backend answers the same (its README, "Threads").
 *  1. no VM                 → HV_NO_DEVICE
 *  2. handle validity       → HV_BAD_ARGUMENT (vCPU not live, unknown address space / config)
 *  3. owner thread          → HV_BAD_ARGUMENT
 *  4. argument values       → HV_BAD_ARGUMENT / HV_UNSUPPORTED (flags, alignment, ranges, enums)
 *  5. state conflicts       → HV_BUSY / HV_ERROR / HV_NO_RESOURCES (VM exists, overlap, limits)
 * Codes per situation: packages/model/README.md, "What the model answers where Apple's code is unknown".
 * @module
 */

import type { GicParameters, HostMemory, Result } from '@hvspec/spec';
import { HV } from '@hvspec/spec';
import type { Arm64Engine, X86Engine } from './engine.js';
import { HostMemoryPool } from './host-memory.js';

/** How a model is built. Every field is optional. */
export interface ModelOptions {
  /** The guest interpreters. Without one, `hv_vcpu_run` returns HV_UNSUPPORTED (no guest execution). */
  engines?: { x86?: X86Engine; arm64?: Arm64Engine };
  /** `HV_CAP_VCPUMAX` / `hv_vm_get_max_vcpu_count`: live vCPUs per VM. Default 64. */
  maxVcpus?: number;
  /** arm64: `hv_vm_config_get_max_ipa_size`. Default 40 (macOS 15+ hosts, hvf-facts.md §2.3 [R]). */
  maxIpaSize?: number;
  /** arm64: whether `HV_IPA_GRANULE_4KB` is available (macOS 26+). Default true. */
  ipaGranule4k?: boolean;
  /**
   * arm64: the in-framework GIC (`hv_gic_*`, macOS 15+) and what its parameter queries answer; `false`
   * for a host without it (every `hv_gic_*` then returns HV_UNSUPPORTED). Default: the model's own GIC.
   */
  gic?: GicParameters | false;
  /**
   * arm64: `hv_vm_config_get_el2_supported`. Default false. When true, configurations may enable EL2 and
   * the GIC's ICH/ICV registers exist in such VMs; the interpreter still runs guests without an EL2.
   */
  el2Supported?: boolean;
  /** x86: `HV_CAP_ADDRSPACEMAX`, the default space included. Default 8. */
  maxAddressSpaces?: number;
  /**
   * x86: the host's `hv_vmx_read_capability` values, by capability id (default: the model's own table,
   * shaped like an Intel host). Differential runs give the model the other backend's values, so that
   * both judge control writes against the same host.
   */
  vmxCapabilities?: Readonly<Record<number, bigint>>;
  /** Instructions per slice of an async run; between slices the run yields and checks its cancel flag. Default 10000. */
  budget?: number;
  /**
   * Instructions after which a synchronous `hv_vcpu_run` gives up and returns a spurious exit (x86:
   * VMX_REASON_IRQ, as a host interrupt would; arm64: HV_EXIT_REASON_CANCELED), so that a spinning guest
   * cannot hang a single-threaded test. Default: unlimited (a sync run of a spinning guest never returns,
   * as on hardware).
   */
  maxSyncInstructions?: number;
}

export const SUCCESS: Result = Object.freeze({ ret: HV.HV_SUCCESS });
/** A call on a logical thread that is inside an async run. */
export const BUSY: Result<never> = Object.freeze({ ret: HV.HV_BUSY });
export function fail(ret: number): Result<never> {
  return { ret };
}
export function ok<T>(value: T): Result<T> {
  return { ret: HV.HV_SUCCESS, value };
}

/** Every enforced permission set: the model checks all 8 combinations of READ/WRITE/EXEC exactly. */
export const ALL_PERMISSION_SETS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7]);

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new TypeError(`options.${name} must be a positive integer`);
  return value;
}

/** An instruction that the engine does not implement, as the last `hv_vcpu_run` met it. */
export interface UnsupportedInstruction {
  readonly bytes: Uint8Array;
  readonly reason: string;
}

/** State shared by both flavours: buffers, busy threads, async runs in flight. */
export abstract class ModelCore {
  protected readonly host: HostMemoryPool;
  protected readonly maxVcpus: number;
  protected readonly budget: number;
  protected readonly maxSyncInstructions: number;
  /** Logical threads blocked in an async run. */
  protected readonly busy = new Set<number>();
  /** Bumped by reset(): an async run that sees a different generation ends without touching new state. */
  protected generation = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  protected constructor(pageSize: number, options: ModelOptions) {
    this.host = new HostMemoryPool(pageSize);
    this.maxVcpus = positiveInt('maxVcpus', options.maxVcpus, 64);
    this.budget = positiveInt('budget', options.budget, 10_000);
    this.maxSyncInstructions =
      options.maxSyncInstructions === undefined
        ? Number.POSITIVE_INFINITY
        : positiveInt('maxSyncInstructions', options.maxSyncInstructions, 1);
  }

  host_alloc(size: number): HostMemory {
    this.ensureOpen();
    return this.host.alloc(size);
  }

  /**
   * Uses `bytes` as a host buffer in place (not a copy): memory shared with another process, such as
   * the guest memory of a C VMM that drives the model through libhvspec-model. A whole number of pages.
   */
  host_adopt(bytes: Uint8Array): HostMemory {
    this.ensureOpen();
    return this.host.adopt(bytes);
  }

  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    this.ensureOpen();
    this.host.write(mem, offset, bytes);
  }

  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    this.ensureOpen();
    return this.host.read(mem, offset, size);
  }

  /**
   * Back to "no VM", as process exit would leave things. Async runs in flight end with HV_NO_DEVICE (their
   * VM is gone) and reset() waits for them.
   */
  async reset(): Promise<void> {
    this.generation++;
    this.busy.clear();
    this.dropState();
    this.host.clear();
    await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    await this.reset();
    this.closed = true;
  }

  /** Drops VM, vCPUs and flavour-specific objects. */
  protected abstract dropState(): void;

  private ensureOpen(): void {
    if (this.closed) throw new Error('this model backend was closed');
  }

  /**
   * Step 0 for every call: the backend is open. The thread id's type is checked next, by the call's
   * generated argument checks (each starts with `checkThread`); checking it here too cost every call
   * of the exit round trip a second check.
   */
  protected enter(): void {
    this.ensureOpen();
  }

  /**
   * Step ½, after the argument checks: whether logical thread `t` is inside an async run (the call then
   * answers HV_BUSY). Every call passes here: the Set lookup is skipped while no run is in flight.
   */
  protected busyOn(t: number): boolean {
    return this.busy.size > 0 && this.busy.has(t);
  }

  /**
   * Open, and no async run in flight: then step 0 passes and no thread is busy. The flavours' fast
   * paths (a call on the vCPU of the previous call) ask this once instead of steps 0 and ½.
   */
  protected quiet(): boolean {
    return !this.closed && this.busy.size === 0;
  }

  /**
   * Runs `body` as an async run on thread `t`: the thread is busy until it settles, and reset() waits
   * for it. `body` receives a function telling whether the model was reset meanwhile.
   */
  protected track<T>(t: number, body: (stale: () => boolean) => Promise<T>): Promise<T> {
    const gen = this.generation;
    const stale = (): boolean => this.generation !== gen;
    this.busy.add(t);
    const run = body(stale).finally(() => {
      if (!stale()) this.busy.delete(t);
      this.inFlight.delete(run);
    });
    this.inFlight.add(run);
    return run;
  }
}

/** How an async run ended, for the flavour to turn into its exit. */
export type AsyncRunEnd<S> = { kind: 'stop'; stop: S } | { kind: 'reset' } | { kind: 'cancel' };

/**
 * The async run loop both flavours share: slices of `budget` instructions with a yield to the event loop
 * between them, so that another logical thread's `hv_vcpus_exit` / `hv_vcpu_interrupt` (or a reset) is
 * noticed; the kick is consumed by the run it ends (hvf-facts.md §2.4 [H]).
 */
export async function slicedRun<S extends { kind: string }, R>(
  v: { cancel: boolean },
  stale: () => boolean,
  slice: () => S,
  end: (e: AsyncRunEnd<S>) => R,
): Promise<R> {
  for (;;) {
    const stop = slice();
    if (stop.kind !== 'budget') return end({ kind: 'stop', stop });
    await yieldToEventLoop();
    if (stale()) return end({ kind: 'reset' });
    if (v.cancel) {
      v.cancel = false;
      return end({ kind: 'cancel' });
    }
  }
}

/**
 * `hv_vcpus_exit` / `hv_vcpu_interrupt` after the argument checks: any thread may kick (hvf-facts.md
 * §1.2, §2.4 [H]); one handle that is not a live vCPU fails the whole call and sets no flag.
 */
export function kick(
  live: ReadonlyMap<number, { cancel: boolean }> | undefined,
  vcpus: readonly number[],
  count: number,
): Result {
  if (live === undefined) return fail(HV.HV_NO_DEVICE);
  const targets: { cancel: boolean }[] = [];
  for (const id of vcpus.slice(0, count)) {
    const v = live.get(id);
    if (v === undefined) return fail(HV.HV_BAD_ARGUMENT);
    targets.push(v);
  }
  for (const v of targets) v.cancel = true;
  return SUCCESS;
}

/** Lets the event loop run (other logical threads' calls, timers) between two slices of an async run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
