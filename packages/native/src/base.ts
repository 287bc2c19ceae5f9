/**
 * What both native flavours share: host buffers (allocated and owned by the addon), argument checks
 * that are not in `@hvspec/spec`'s validate.ts, the vCPU → exit-record slot table, and reset/close.
 * @module
 */
import {
  type Capabilities,
  checkAsyncThread,
  checkHostAllocSize,
  checkHostOffset,
  checkThread,
  checkU32,
  type Deviation,
  type HostMemory,
  HV,
  type Result,
  type Vcpu,
} from '@hvspec/spec';
import type { AddonProbe, NativeAddon } from './addon.js';

/** The result of every call that succeeds without an out-value: one frozen object, no allocation. */
export const OK: Result = Object.freeze({ ret: HV.HV_SUCCESS });

/** Marks an exit-record word whose result has not been built yet (see {@link NativeBase.recorded}). */
const NO_RESULT: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: 0n });

/** A vCPU as the wrapper knows it: the logical thread that created it and its exit-record slot. */
export interface VcpuSlot {
  readonly owner: number;
  readonly slot: number;
}

/** Memory flag sets (0..7) from a bit mask (bit i = set i). */
export function flagSets(mask: number): number[] {
  const sets: number[] = [];
  for (let i = 0; i < 8; i++) if (mask & (1 << i)) sets.push(i);
  return sets;
}

/**
 * The `hv_*` functions each provider deviation makes answer HV_UNSUPPORTED (Deviation.calls), by id:
 * kvm.tsc-write — no guest TSC can be set, so hv_vm_sync_tsc has nothing it could do; kvm.shadow-vmcs —
 * no VMCS shadowing.
 */
const DEVIATION_CALLS: Readonly<Record<string, readonly string[]>> = {
  'kvm.tsc-write': ['hv_vm_sync_tsc'],
  'kvm.shadow-vmcs': [
    'hv_vmx_vcpu_set_shadow_access',
    'hv_vmx_vcpu_read_shadow_vmcs',
    'hv_vmx_vcpu_write_shadow_vmcs',
  ],
};

/** The provider's declared deviations, as the spec's {@link Deviation}s. */
export function deviationsFrom(probe: AddonProbe): Deviation[] {
  return probe.deviations.map((d) => ({
    id: d.id,
    description: d.description,
    ...(d.permissionsMask !== 0 ? { permissions: flagSets(d.permissionsMask) } : {}),
    ...(d.exitReasons.length ? { exitReasons: d.exitReasons } : {}),
    ...(DEVIATION_CALLS[d.id] ? { calls: DEVIATION_CALLS[d.id] } : {}),
  }));
}

/** What the C baseline exit loop did (see {@link NativeBase.baselineExitLoop}). */
export interface BaselineRun {
  /** `hv_return_t` of the first failing call, or HV_SUCCESS. */
  readonly ret: number;
  /** Exits of the benchmarked kind: x86 VMX_REASON_IO, arm64 HVC64. */
  readonly exits: number;
  /** Nanoseconds the loop took, measured in C (CLOCK_MONOTONIC). */
  readonly ns: number;
}

export abstract class NativeBase<A extends NativeAddon> {
  abstract readonly capabilities: Capabilities;
  /** Live buffers by id; the addon owns the memory, this map only recognises our own handles. */
  private readonly buffers = new Map<number, HostMemory>();
  /** vCPU handle → owner thread and exit-record slot (change it through created/forget/reset). */
  protected readonly vcpus = new Map<number, VcpuSlot>();
  /**
   * The last (thread, vCPU) pair {@link ownedSlot} admitted, and the vCPU's slot: a VMM's exit loop
   * is one thread on one vCPU, which then costs two comparisons per call instead of a map lookup.
   * Both are -1 (equal to no valid argument) while there is none. A call whose thread and vCPU are
   * === this pair has passed the argument checks of both before, so the hot methods skip those.
   */
  protected fastThread = -1;
  protected fastVcpu = -1;
  protected fastBase = 0;
  /**
   * Logical threads with an `hv_vcpu_run_async` in flight (their exit records are being written), each
   * with a token of the run that made it busy: only that run's end frees the thread, not the end of a
   * second run the addon refused with HV_BUSY, nor of a run from before reset().
   */
  protected readonly busy = new Map<number, object>();
  /** The shared exit record, as u64 words and as u32 halves (the mask word is read as u32). */
  protected readonly rec: BigUint64Array;
  protected readonly rec32: Uint32Array;
  /** Out-values of the last synchronous call. */
  protected readonly out: BigUint64Array;
  protected readonly slotWords: number;
  /**
   * Per exit-record word, the last `Result` built from it; the word's two 32-bit halves then are
   * kept in the slot's wrapper words, `memo` words after it (see {@link recorded}).
   */
  private readonly results: Result<bigint>[];
  private readonly memo: number;

  constructor(protected readonly addon: A) {
    this.rec = new BigUint64Array(addon.records);
    this.rec32 = new Uint32Array(addon.records);
    this.out = new BigUint64Array(addon.out);
    this.slotWords = addon.slotWords;
    this.results = new Array<Result<bigint>>(this.rec.length).fill(NO_RESULT);
    this.memo = addon.slotAddonWords;
  }

  /**
   * The first word of `vcpu`'s exit-record slot when thread `t` may use the record — it owns the
   * vCPU and is not inside an async run, which writes the slot meanwhile — or -1 (the API answers).
   */
  protected ownedSlot(t: number, vcpu: number): number {
    if (vcpu === this.fastVcpu && t === this.fastThread) return this.fastBase;
    const v = this.vcpus.get(vcpu);
    if (v === undefined || v.owner !== t || this.busy.has(t)) return -1;
    this.fastThread = t;
    this.fastVcpu = vcpu;
    this.fastBase = v.slot * this.slotWords;
    return this.fastBase;
  }

  /** Drops the fast pair: the vCPU table or the threads' async runs changed. */
  protected forgetFast(): void {
    this.fastThread = -1;
    this.fastVcpu = -1;
  }

  /** Forgets a destroyed vCPU. */
  protected forget(vcpu: number): void {
    this.vcpus.delete(vcpu);
    this.forgetFast();
  }

  /** `Result` of a call that has no out-value: the shared {@link OK} when it succeeded. */
  protected result(ret: number): Result {
    return ret === HV.HV_SUCCESS ? OK : { ret };
  }

  /**
   * `{ ret: HV_SUCCESS, value }` for exit-record word `i`, frozen, and the same object as last time
   * while the word holds the same value: a VMM reads the same few fields after every exit, and
   * their values repeat (the exit reason and instruction length nearly always, RIP in a polling
   * loop), so the exit loop allocates neither a BigInt nor a result for them. The word is compared
   * by its two 32-bit halves, which reads no BigInt.
   */
  protected recorded(i: number): Result<bigint> {
    const last = this.results[i] as Result<bigint>;
    const rec32 = this.rec32;
    const m = 2 * (i + this.memo);
    if (rec32[2 * i] === rec32[m] && rec32[2 * i + 1] === rec32[m + 1] && last !== NO_RESULT) return last;
    return this.record(i);
  }

  /** Builds and remembers word `i`'s result (see {@link recorded}). */
  private record(i: number): Result<bigint> {
    const made: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: this.rec[i] as bigint });
    this.results[i] = made;
    this.rec32[2 * (i + this.memo)] = this.rec32[2 * i] as number;
    this.rec32[2 * (i + this.memo) + 1] = this.rec32[2 * i + 1] as number;
    return made;
  }

  /**
   * The limit every backend shares (`checkHostAllocSize`); memory the system refuses is an `Error`
   * from the addon and nothing allocated.
   */
  host_alloc(size: number): HostMemory {
    checkHostAllocSize(size, this.capabilities.pageSize);
    const [id, rounded] = this.addon.host_alloc(size);
    const mem: HostMemory = Object.freeze({ id, size: rounded });
    this.buffers.set(id, mem);
    return mem;
  }

  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    const m = this.mem(mem, 'mem');
    checkHostOffset('offset', offset);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (offset + bytes.length > m.size) {
      throw new RangeError(
        `host_write of ${bytes.length} bytes at offset ${offset} is outside the ${m.size}-byte buffer`,
      );
    }
    this.addon.host_write(m.id, offset, bytes);
  }

  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    const m = this.mem(mem, 'mem');
    checkHostOffset('offset', offset);
    checkHostOffset('size', size);
    if (offset + size > m.size) {
      throw new RangeError(
        `host_read of ${size} bytes at offset ${offset} is outside the ${m.size}-byte buffer`,
      );
    }
    return this.addon.host_read(m.id, offset, size);
  }

  /**
   * Releases every vCPU (on its own thread), the VM, every logical thread and buffer, as process
   * exit would; async runs still in the guest are kicked first and settle afterwards.
   */
  async reset(): Promise<void> {
    this.addon.reset();
    this.buffers.clear();
    this.vcpus.clear();
    this.forgetFast();
    this.busy.clear();
  }

  async close(): Promise<void> {
    await this.reset();
    this.onClose();
  }

  protected abstract onClose(): void;

  /** A HostMemory of this backend (TypeError otherwise: another backend's, or from before reset()). */
  protected mem(mem: unknown, name: string): HostMemory {
    if (typeof mem !== 'object' || mem === null || typeof (mem as { id?: unknown }).id !== 'number') {
      throw new TypeError(`${name} must be a HostMemory returned by host_alloc`);
    }
    const live = this.buffers.get((mem as HostMemory).id);
    if (live === undefined || live !== mem) {
      throw new TypeError(
        `${name} is not a live buffer of this backend (allocated by another backend, or before reset())`,
      );
    }
    return live;
  }

  /** `Result` of a call whose out-value is a 64-bit integer (out[0]). */
  protected outU64(ret: number): Result<bigint> {
    return ret === HV.HV_SUCCESS ? { ret, value: this.out[0] ?? 0n } : { ret };
  }

  /** `Result` of a call whose out-value is a 128-bit SIMD&FP value (out[0] low, out[1] high). */
  protected outU128(ret: number): Result<bigint> {
    return ret === HV.HV_SUCCESS
      ? { ret, value: ((this.out[1] ?? 0n) << 64n) | (this.out[0] ?? 0n) }
      : { ret };
  }

  /** `Result` of a call whose out-value is a boolean. */
  protected outBool(ret: number): Result<boolean> {
    return ret === HV.HV_SUCCESS ? { ret, value: this.out[0] !== 0n } : { ret };
  }

  /** `Result` of a call whose out-value is `n` 64-bit integers (out[0..n-1]). */
  protected outU64List(ret: number, n: number): Result<readonly bigint[]> {
    return ret === HV.HV_SUCCESS
      ? { ret, value: Array.from({ length: n }, (_, i) => this.out[i] ?? 0n) }
      : { ret };
  }

  /** `Result` of a call with several integer out-values, one word each in C order. */
  protected outRecord<T>(
    ret: number,
    fields: readonly (readonly [string, 'number' | 'bigint'])[],
  ): Result<T> {
    if (ret !== HV.HV_SUCCESS) return { ret };
    const value: Record<string, number | bigint> = {};
    fields.forEach(([name, kind], i) => {
      const w = this.out[i] ?? 0n;
      value[name] = kind === 'bigint' ? w : Number(w);
    });
    return { ret, value: value as T };
  }

  /** `Result` of a call that allocated host memory (out[0] the addon's buffer id, out[1] its size). */
  protected outMemory(ret: number): Result<HostMemory> {
    if (ret !== HV.HV_SUCCESS) return { ret };
    const mem: HostMemory = Object.freeze({ id: Number(this.out[0]), size: Number(this.out[1]) });
    this.buffers.set(mem.id, mem);
    return { ret, value: mem };
  }

  /** Forgets a buffer the framework freed (hv_vm_deallocate). */
  protected forgetBuffer(mem: HostMemory): void {
    this.buffers.delete(mem.id);
  }

  /** `Result` of a call whose out-value is bytes (taken from the addon once). */
  protected outBytes(ret: number): Result<Uint8Array> {
    const bytes = (this.addon as unknown as { take_bytes?: () => Uint8Array }).take_bytes?.();
    return ret === HV.HV_SUCCESS && bytes ? { ret, value: bytes } : { ret };
  }

  /** `Result` of a call whose out-value is a small integer or a handle. */
  protected outNumber<T extends number>(ret: number): Result<T> {
    return ret === HV.HV_SUCCESS ? { ret, value: Number(this.out[0]) as T } : { ret };
  }

  /**
   * Starts an async run and keeps `busy` while it is in flight. Thread 0 is a TypeError, thrown as the
   * spec's argument checks throw (`checkAsyncThread`); a busy thread's run resolves with HV_BUSY.
   */
  protected startAsync(t: number, vcpu: number): Promise<number> {
    checkAsyncThread(t);
    checkU32('vcpu', vcpu);
    const promise = this.addon.hv_vcpu_run_async(t, vcpu);
    if (this.busy.has(t)) return promise;
    const token = {};
    this.busy.set(t, token);
    this.forgetFast();
    return promise.finally(() => {
      if (this.busy.get(t) === token) this.busy.delete(t);
    });
  }

  /**
   * The bench's C baseline: `iterations` runs of the exit loop a VMM would write, entirely in C on
   * logical thread `t` (no JS between exits). x86: hv_vcpu_run, read the exit reason, on an I/O exit
   * advance RIP by the instruction length. arm64: hv_vcpu_run over an `hvc #0` loop (PC is already
   * past an HVC). The vCPU must be set up by the caller.
   */
  baselineExitLoop(t: number, vcpu: number, iterations: number): BaselineRun {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('iterations', iterations);
    const ret = this.addon.baseline_exit_loop(t, vcpu, iterations);
    return { ret, exits: Number(this.out[0]), ns: Number(this.out[1]) };
  }

  /** hv_vcpu_create's result: a vCPU it created is recorded (out[0] handle, out[1] slot). */
  protected created(t: number, ret: number): Result<Vcpu> {
    if (ret !== HV.HV_SUCCESS) return { ret };
    const vcpu = Number(this.out[0]);
    this.vcpus.set(vcpu, { owner: t, slot: Number(this.out[1]) });
    this.forgetFast();
    return { ret, value: vcpu as Vcpu };
  }

  /** hv_vcpu_destroy's result: a vCPU it destroyed is forgotten. */
  protected destroyed(vcpu: number, ret: number): Result {
    if (ret === HV.HV_SUCCESS) this.forget(vcpu);
    return { ret };
  }
}
