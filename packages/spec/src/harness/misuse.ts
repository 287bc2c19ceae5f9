/**
 * Misuse never throws: the contract every backend shares beyond the registry's rows (README, "Use the
 * model as a test double"; STYLE.md rule 3). Wrong JS types throw a `TypeError` naming the parameter;
 * everything else a VMM can get wrong answers a code. `checkMisuse` drives a backend through the
 * misuses the rows do not cover and throws {@link ConformanceError} at the first answer that differs:
 *
 * - host memory: every backend applies the one limit of {@link checkHostAllocSize} (TypeError for a size
 *   that is not a non-negative integer, RangeError for 0 and above {@link HOST_ALLOC_MAX}), with the
 *   same error and message; the largest buffer is allocated; `host_read`/`host_write` outside the
 *   buffer are RangeErrors, and a buffer of another backend or from before `reset()` a TypeError;
 * - `hv_vcpu_run_async` on thread 0 (the caller itself, which cannot wait in the guest): a TypeError
 *   naming `t`, thrown as the argument checks throw;
 * - a logical thread inside an async run is busy, as a real vCPU thread inside `hv_vcpu_run` is: every
 *   call on it answers HV_BUSY (a second async run resolves with it), wrong types still throw first,
 *   and once the run returns the thread answers again;
 * - `reset()` while a run is in flight: the run settles, and a run started after the reset on the same
 *   thread keeps it busy until that run ends (the old run's end does not free it).
 * @module
 */
import type { Arm64Backend, Backend, HostMemory, ThreadId, Vcpu, X86Backend } from '../backend.js';
import { writeX86Prot32Setup } from '../guest/x86/setup.js';
import { checkHostAllocSize, HOST_ALLOC_MAX } from '../validate.js';
import { HV_REG } from '../vocabulary/arm64.js';
import { HV_MEMORY } from '../vocabulary/memory.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { HV_X86_REG, VMCS } from '../vocabulary/x86.js';
import { ConformanceError } from './execute.js';

/** Options of {@link checkMisuse}. */
export interface MisuseOptions {
  /** Allocate the largest buffer for real (default true; it is lazily backed on every backend here). */
  readonly allocateMax?: boolean;
}

/** What {@link checkMisuse} checked, when every answer was the contract's (otherwise it throws). */
export interface MisuseReport {
  readonly backend: string;
  /** Answers checked. */
  readonly checks: number;
}

const CODE = 0x10000n;
const SPIN = { x86_64: Uint8Array.of(0xeb, 0xfe), arm64: Uint8Array.of(0x00, 0x00, 0x00, 0x14) } as const;

class Check {
  checks = 0;
  constructor(readonly backend: Backend) {}

  fail(what: string): never {
    throw new ConformanceError(
      `misuse on ${this.backend.capabilities.backend} (${this.backend.arch}): ${what}`,
    );
  }

  /** `fn` must throw an error of `kind` whose message matches `message` (a string: equal). */
  throws(
    what: string,
    fn: () => unknown,
    kind: typeof TypeError | typeof RangeError,
    message: RegExp | string,
  ): void {
    this.checks++;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof kind) || e.constructor !== kind)
        this.fail(`${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}, expected a ${kind.name}`);
      const ok = typeof message === 'string' ? e.message === message : message.test(e.message);
      if (!ok) this.fail(`${what}: ${kind.name} "${e.message}", expected ${message}`);
      return;
    }
    this.fail(`${what}: returned, expected a ${kind.name}`);
  }

  code(what: string, ret: number, expected: number): void {
    this.checks++;
    if (ret !== expected) this.fail(`${what}: ${hvReturnName(ret)}, expected ${hvReturnName(expected)}`);
  }
}

/** What checkHostAllocSize throws for `size`: the error every backend's host_alloc must throw. */
function expectedAllocError(size: unknown, pageSize: number): TypeError | RangeError | undefined {
  try {
    checkHostAllocSize(size, pageSize);
    return undefined;
  } catch (e) {
    return e as TypeError | RangeError;
  }
}

function hostMemory(c: Check, allocateMax: boolean): void {
  const b = c.backend;
  const page = b.capabilities.pageSize;
  for (const size of [
    -1,
    1.5,
    Number.NaN,
    2 ** 53,
    '4096',
    4096n,
    null,
    undefined,
    0,
    HOST_ALLOC_MAX + 1,
    HOST_ALLOC_MAX + page,
  ]) {
    const e = expectedAllocError(size, page);
    if (e === undefined) c.fail(`the spec's own check accepts size ${String(size)}`);
    c.throws(
      `host_alloc(${typeof size === 'bigint' ? `${size}n` : String(size)})`,
      () => b.host_alloc(size as number),
      e.constructor as typeof TypeError,
      e.message,
    );
  }
  if (allocateMax) {
    // The largest size: rounded up to exactly HOST_ALLOC_MAX, which every backend gives out.
    const big = b.host_alloc(HOST_ALLOC_MAX - page + 1);
    c.checks++;
    if (big.size !== HOST_ALLOC_MAX) c.fail(`host_alloc(HOST_ALLOC_MAX - page + 1) gave ${big.size} bytes`);
    b.host_write(big, HOST_ALLOC_MAX - 4, Uint8Array.of(1, 2, 3, 4));
    const tail = b.host_read(big, HOST_ALLOC_MAX - 4, 4);
    c.checks++;
    if (tail.join() !== '1,2,3,4') c.fail('the last bytes of the largest buffer do not read back');
    c.throws(
      'host_read past the largest buffer',
      () => b.host_read(big, HOST_ALLOC_MAX - 2, 4),
      RangeError,
      /outside/,
    );
  }
  const mem = b.host_alloc(page);
  c.throws(
    'host_write past the end',
    () => b.host_write(mem, page - 1, Uint8Array.of(1, 2)),
    RangeError,
    /outside/,
  );
  c.throws('host_read past the end', () => b.host_read(mem, page, 1), RangeError, /outside/);
  c.throws(
    'host_read of a buffer that is not one',
    () => b.host_read({ id: 1e9, size: page } as HostMemory, 0, 1),
    TypeError,
    /mem/,
  );
  c.throws(
    'host_write of bytes that are not a Uint8Array',
    () => b.host_write(mem, 0, [1] as unknown as Uint8Array),
    TypeError,
    /bytes/,
  );
}

/** A VM with a spinning guest at CODE and a vCPU on thread `t` set up to run it. */
function spinner(c: Check, t: ThreadId): Vcpu {
  const b = c.backend;
  const page = b.capabilities.pageSize;
  const ok = (what: string, ret: number): void => c.code(what, ret, HV.HV_SUCCESS);
  ok('hv_vm_create', b.arch === 'x86_64' ? b.hv_vm_create(0, 0n).ret : b.hv_vm_create(0, null).ret);
  const mem = b.host_alloc(page);
  b.host_write(mem, 0, SPIN[b.arch]);
  ok(
    'hv_vm_map',
    b.hv_vm_map(0, { mem, offset: 0 }, CODE, BigInt(page), HV_MEMORY.READ | HV_MEMORY.EXEC).ret,
  );
  if (b.arch === 'x86_64') {
    const r = b.hv_vcpu_create(t, 0n);
    ok('hv_vcpu_create', r.ret);
    writeX86Prot32Setup(b, t, r.value!, CODE, ok);
    return r.value!;
  }
  const r = b.hv_vcpu_create(t, null);
  ok('hv_vcpu_create', r.ret);
  ok('hv_vcpu_set_reg(PC)', b.hv_vcpu_set_reg(t, r.value!, HV_REG.HV_REG_PC, CODE).ret);
  ok('hv_vcpu_set_reg(CPSR)', b.hv_vcpu_set_reg(t, r.value!, HV_REG.HV_REG_CPSR, 0x3c5n).ret);
  return r.value!;
}

function kick(b: Backend, from: ThreadId, v: Vcpu): number {
  return b.arch === 'x86_64' ? b.hv_vcpu_interrupt(from, [v], 1).ret : b.hv_vcpus_exit(from, [v], 1).ret;
}

/** A register read on thread t (RAX, X0): the plainest per-vCPU call. */
function readFirstRegister(b: Backend, t: ThreadId, v: Vcpu): number {
  return b.arch === 'x86_64'
    ? b.hv_vcpu_read_register(t, v, HV_X86_REG.HV_X86_RAX).ret
    : b.hv_vcpu_get_reg(t, v, HV_REG.HV_REG_X0).ret;
}

/** Every kind of call a VMM might make on a busy thread: each must answer HV_BUSY. */
function busyCalls(b: Backend, t: ThreadId, v: Vcpu): [string, () => number][] {
  const page = b.capabilities.pageSize;
  const mem = b.host_alloc(page);
  if (b.arch === 'x86_64') {
    const x: X86Backend = b;
    return [
      ['hv_vcpu_read_register', () => x.hv_vcpu_read_register(t, v, HV_X86_REG.HV_X86_RAX).ret],
      ['hv_vcpu_write_register', () => x.hv_vcpu_write_register(t, v, HV_X86_REG.HV_X86_RAX, 1n).ret],
      [
        'hv_vmx_vcpu_read_vmcs(VMCS_RO_EXIT_REASON)',
        () => x.hv_vmx_vcpu_read_vmcs(t, v, VMCS.VMCS_RO_EXIT_REASON).ret,
      ],
      ['hv_vmx_vcpu_read_vmcs(VMCS_GUEST_RIP)', () => x.hv_vmx_vcpu_read_vmcs(t, v, VMCS.VMCS_GUEST_RIP).ret],
      ['hv_vmx_vcpu_write_vmcs', () => x.hv_vmx_vcpu_write_vmcs(t, v, VMCS.VMCS_GUEST_RIP, CODE).ret],
      ['hv_vcpu_run', () => x.hv_vcpu_run(t, v).ret],
      ['hv_vcpu_interrupt', () => x.hv_vcpu_interrupt(t, [v], 1).ret],
      ['hv_vcpu_create', () => x.hv_vcpu_create(t, 0n).ret],
      ['hv_vcpu_destroy', () => x.hv_vcpu_destroy(t, v).ret],
      ['hv_vm_map', () => x.hv_vm_map(t, { mem, offset: 0 }, 0x80000n, BigInt(page), HV_MEMORY.READ).ret],
      ['hv_vm_unmap', () => x.hv_vm_unmap(t, CODE, BigInt(page)).ret],
      ['hv_capability', () => x.hv_capability(t, 0).ret],
      ['hv_vm_destroy', () => x.hv_vm_destroy(t).ret],
    ];
  }
  const a: Arm64Backend = b;
  return [
    ['hv_vcpu_get_reg', () => a.hv_vcpu_get_reg(t, v, HV_REG.HV_REG_X0).ret],
    ['hv_vcpu_set_reg', () => a.hv_vcpu_set_reg(t, v, HV_REG.HV_REG_X0, 1n).ret],
    ['hv_vcpu_run', () => a.hv_vcpu_run(t, v).ret],
    ['hv_vcpus_exit', () => a.hv_vcpus_exit(t, [v], 1).ret],
    ['hv_vcpu_create', () => a.hv_vcpu_create(t, null).ret],
    ['hv_vcpu_destroy', () => a.hv_vcpu_destroy(t, v).ret],
    ['hv_vm_map', () => a.hv_vm_map(t, { mem, offset: 0 }, 0x80000n, BigInt(page), HV_MEMORY.READ).ret],
    ['hv_vm_unmap', () => a.hv_vm_unmap(t, CODE, BigInt(page)).ret],
    ['hv_vm_get_max_vcpu_count', () => a.hv_vm_get_max_vcpu_count(t).ret],
    ['hv_vm_destroy', () => a.hv_vm_destroy(t).ret],
  ];
}

/** One wrong JS type on the busy thread: the TypeError comes before the busy thread's code. */
function wrongType(b: Backend, t: ThreadId, v: Vcpu): () => unknown {
  return b.arch === 'x86_64'
    ? () => b.hv_vcpu_read_register(t, v, 'RAX' as unknown as number)
    : () => b.hv_vcpu_get_reg(t, v, 'X0' as unknown as number);
}

async function busyThread(c: Check): Promise<void> {
  const b = c.backend;
  await b.reset();
  const t = 1;
  const v = spinner(c, t);
  c.throws(
    'hv_vcpu_run_async on thread 0',
    () => b.hv_vcpu_run_async(0, v),
    TypeError,
    /^t must be a logical thread > 0/,
  );
  // A first run, kicked before it starts (it returns at once): the vCPU has an exit to read, which a
  // backend may keep outside the busy thread (the native wrapper's exit record); a busy thread must
  // not be answered from it.
  c.code('a kick before the first run', kick(b, 0, v), HV.HV_SUCCESS);
  c.code('the first run', (await b.hv_vcpu_run_async(t, v)).ret, HV.HV_SUCCESS);
  const run = b.hv_vcpu_run_async(t, v) as Promise<{ ret: number }>;
  let settled = false;
  void run.then(() => {
    settled = true;
  });
  c.code('a second hv_vcpu_run_async on the busy thread', (await b.hv_vcpu_run_async(t, v)).ret, HV.HV_BUSY);
  for (const [name, call] of busyCalls(b, t, v)) c.code(`${name} on the busy thread`, call(), HV.HV_BUSY);
  c.throws('a wrong type on the busy thread', wrongType(b, t, v), TypeError, /^reg /);
  c.checks++;
  if (settled) c.fail('the spinning run returned before it was kicked');
  c.code('the kick from thread 0', kick(b, 0, v), HV.HV_SUCCESS);
  c.code('the kicked run', (await run).ret, HV.HV_SUCCESS);
  c.code('a call on the thread once its run returned', readFirstRegister(b, t, v), HV.HV_SUCCESS);

  // reset() with a run in flight, then a new run on the same thread: the old run's end must not free it.
  const old = b.hv_vcpu_run_async(t, v) as Promise<{ ret: number }>;
  await b.reset();
  const w = spinner(c, t);
  const next = b.hv_vcpu_run_async(t, w) as Promise<{ ret: number }>;
  await old;
  c.code('a call on the thread of a run started after reset()', readFirstRegister(b, t, w), HV.HV_BUSY);
  c.code('the kick', kick(b, 0, w), HV.HV_SUCCESS);
  c.code('the run after reset()', (await next).ret, HV.HV_SUCCESS);
  await b.reset();
}

/** Checks the misuses the registry's rows do not cover (see the module comment); resets the backend. */
export async function checkMisuse(backend: Backend, opts: MisuseOptions = {}): Promise<MisuseReport> {
  const c = new Check(backend);
  await backend.reset();
  try {
    hostMemory(c, opts.allocateMax ?? true);
    await busyThread(c);
  } finally {
    await backend.reset();
  }
  return { backend: backend.capabilities.backend, checks: c.checks };
}
