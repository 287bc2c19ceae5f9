/**
 * Faults injected under the JS API: the addon's own OS calls and allocations (`testing.inject_fault`:
 * thread creation, its records, host_alloc's mmap, the async run's ThreadSafeFunction) and the KVM
 * provider's (`testing.inject_provider_fault`: open, mmap, every ioctl, allocations). Each failure must
 * surface as the hv_return_t the READMEs give (host_alloc: an Error), leave no fd, OS thread, mapping,
 * vCPU, exit-record slot or VM behind, and the backend must work afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  HV,
  HV_MEMORY,
  HV_X86_REG,
  hvReturnName,
  type Vcpu,
  VMX_REASON,
  type X86Backend,
} from '@hvspec/spec';
import { type AddonTesting, loadAddon } from '../src/addon.js';
import { createNativeBackend } from '../src/index.js';
import { kvmDescriptors } from './helpers/descriptors.js';
import { exitReason, RWX, SetupFailed, setupProt32 } from './helpers/prot32.js';

const hasKvm = process.platform === 'linux' && existsSync('/dev/kvm');
const skip = hasKvm ? false : 'no /dev/kvm: fault injection needs the native backend on the KVM provider';

const osThreads = (): number => readdirSync('/proc/self/task').length;
/** Mappings of KVM objects (a vCPU's kvm_run): V8's own mappings come and go, these must not stay. */
const kvmMaps = (): number =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('kvm')).length;

/** Where a lifecycle stopped: the first call that failed, with its code or the exception it threw. */
interface Outcome {
  call?: string;
  ret?: number;
  error?: Error;
}

class Stop extends Error {}

/**
 * A VM's life through the JS API, touching every fault site of the addon and of the provider: a host
 * buffer, the VM, mappings, vCPUs on two logical threads (thread creation, exit-record slots), a
 * synchronous run to an I/O exit, an async run kicked out of a spinning guest (the ThreadSafeFunction),
 * a call on a thread used once, protect and unmap, and teardown in order. Stops at the first failure
 * and destroys what exists, on the owners' threads.
 */
async function lifecycle(b: X86Backend): Promise<Outcome> {
  const o: Outcome = {};
  const live: [number, Vcpu][] = [];
  let vm = false;
  const ok = (call: string, r: { ret: number }): void => {
    if (r.ret !== HV.HV_SUCCESS) {
      o.call = call;
      o.ret = r.ret;
      throw new Stop();
    }
  };
  const guarded = <T>(call: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SetupFailed) {
        o.call = call;
        o.ret = e.ret;
      } else {
        o.call = call;
        o.error = e as Error;
      }
      throw new Stop();
    }
  };
  const basicExitReason = (t: number, v: Vcpu): number =>
    Number(guarded('hv_vmx_vcpu_read_vmcs', () => exitReason(b, t, v)) & 0xffffn);
  try {
    const ram = guarded('host_alloc', () => b.host_alloc(0x10000));
    guarded('host_write', () => b.host_write(ram, 0x1000, Uint8Array.of(0xe6, 0x10, 0xf4))); // out 0x10,al; hlt
    guarded('host_write', () => b.host_write(ram, 0x2000, Uint8Array.of(0xeb, 0xfe))); // jmp $
    guarded('host_read', () => b.host_read(ram, 0x1000, 3));
    ok('hv_vm_create', b.hv_vm_create(0, 0n));
    vm = true;
    ok('hv_vm_map', b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX));
    const c1 = b.hv_vcpu_create(1, 0n);
    ok('hv_vcpu_create', c1);
    live.push([1, c1.value!]);
    guarded('setup', () => setupProt32(b, 1, c1.value!, 0x1000n));
    let reason = VMX_REASON.VMX_REASON_IRQ as number;
    while (reason === VMX_REASON.VMX_REASON_IRQ) {
      ok('hv_vcpu_run', b.hv_vcpu_run(1, c1.value!));
      reason = basicExitReason(1, c1.value!);
    }
    assert.equal(reason, VMX_REASON.VMX_REASON_IO, 'a failure surfaced as a different exit');
    const c2 = b.hv_vcpu_create(2, 0n);
    ok('hv_vcpu_create', c2);
    live.push([2, c2.value!]);
    guarded('setup', () => setupProt32(b, 2, c2.value!, 0x2000n));
    const run = b.hv_vcpu_run_async(2, c2.value!);
    const kick = b.hv_vcpu_interrupt(0, [c2.value!], 1);
    const ran = await run;
    ok('hv_vcpu_interrupt', kick);
    ok('hv_vcpu_run_async', ran);
    assert.equal(basicExitReason(2, c2.value!), VMX_REASON.VMX_REASON_IRQ, 'the kicked run exits with IRQ');
    ok('hv_capability', b.hv_capability(9, 0));
    ok('hv_vm_protect', b.hv_vm_protect(0, 0x8000n, 0x1000n, HV_MEMORY.READ | HV_MEMORY.EXEC));
    ok('hv_vm_unmap', b.hv_vm_unmap(0, 0x8000n, 0x1000n));
    while (live.length > 0) {
      const [t, v] = live[live.length - 1]!;
      ok('hv_vcpu_destroy', b.hv_vcpu_destroy(t, v));
      live.pop();
    }
    ok('hv_vm_destroy', b.hv_vm_destroy(0));
    vm = false;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  } finally {
    for (const [t, v] of live) b.hv_vcpu_destroy(t, v);
    if (vm) b.hv_vm_destroy(0);
  }
  return o;
}

/**
 * What a failure of the addon's own calls may surface as (native README, "Faults"): any call made on a
 * logical thread that cannot be started, or an async run whose record or ThreadSafeFunction cannot be
 * made, is HV_NO_RESOURCES; host_alloc's refused mmap is an Error, host_read's refused copy a RangeError.
 */
function addonAllowed(o: Outcome): boolean {
  if (o.call === 'host_alloc')
    return o.error !== undefined && /mmap of \d+ bytes failed/.test(o.error.message);
  if (o.call === 'host_read') return o.error instanceof RangeError;
  return o.error === undefined && o.ret === HV.HV_NO_RESOURCES;
}

/** The codes the provider answers a failed OS call with (provider/README.md, "Return codes"). */
function providerAllowed(o: Outcome): boolean {
  const { call, ret } = o;
  if (o.error !== undefined || ret === undefined) return false;
  if (call === 'hv_vm_create')
    return ret === HV.HV_NO_DEVICE || ret === HV.HV_NO_RESOURCES || ret === HV.HV_ERROR;
  // HV_CAP_VCPUMAX asks /dev/kvm: unusable is HV_NO_DEVICE, as for hv_vm_create.
  if (call === 'hv_capability') return ret === HV.HV_NO_DEVICE || ret === HV.HV_ERROR;
  if (call === 'hv_vm_map' || call === 'hv_vm_protect' || call === 'hv_vm_unmap')
    return ret === HV.HV_NO_RESOURCES;
  if (call === 'hv_vcpu_create') return ret === HV.HV_NO_RESOURCES || ret === HV.HV_ERROR;
  return ret === HV.HV_ERROR;
}

function describeOutcome(o: Outcome): string {
  if (o.call === undefined) return 'no failure';
  return `${o.call} -> ${o.error ? `${o.error.name}: ${o.error.message}` : hvReturnName(o.ret ?? 0)}`;
}

describe('fault injection under the JS API', { skip }, () => {
  let b: X86Backend;
  let testing: AddonTesting;
  let base: { fds: number; threads: number; maps: number };

  before(async () => {
    b = createNativeBackend('x86_64') as X86Backend;
    const load = loadAddon();
    assert.ok(load.ok);
    testing = load.addon.testing;
    await b.reset();
    // Warm up what is created lazily (the provider's deviation list, CPUID table), then measure.
    assert.deepEqual(await lifecycle(b), {});
    await b.reset();
    base = { fds: kvmDescriptors(), threads: osThreads(), maps: kvmMaps() };
  });
  after(async () => {
    testing.inject_fault(testing.sites.none, 0, 0);
    testing.inject_provider_fault?.(0, 0, 0, 0);
    await b?.close();
  });

  /** Nothing left behind: the addon holds nothing, and no fd, OS thread or mapping outlives reset(). */
  async function assertClean(what: string): Promise<void> {
    const c = testing.counts();
    assert.deepEqual(
      { threads: c.threads, vcpus: c.vcpus, slots: c.slots, vm: c.vm },
      { threads: 0, vcpus: 0, slots: 0, vm: false },
      `${what}: what the addon holds after the lifecycle's own cleanup`,
    );
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_NO_DEVICE, `${what}: no VM left behind`);
    await b.reset();
    assert.equal(kvmDescriptors(), base.fds, `${what}: descriptors`);
    assert.equal(osThreads(), base.threads, `${what}: OS threads`);
    assert.equal(kvmMaps(), base.maps, `${what}: KVM mappings`);
    assert.equal(testing.counts().buffers, 0, `${what}: host buffers after reset()`);
  }

  it('every addon fault, one at a time: a code or the documented error, nothing left behind', async () => {
    testing.inject_fault(testing.sites.any, 0, 0);
    assert.deepEqual(await lifecycle(b), {});
    const total = testing.inject_fault(testing.sites.none, 0, 0);
    // host_alloc's mmap, host_read's copy, the record and the OS thread of threads 1, 2 and 9, the
    // async run's record, its ThreadSafeFunction and its call.
    assert.ok(total >= 11, `addon fault sites counted in one lifecycle: ${total}`);
    await assertClean('counting run');
    const seen = new Set<string>();
    for (let k = 1; k <= total; k++) {
      testing.inject_fault(testing.sites.any, k, 0);
      const o = await lifecycle(b);
      testing.inject_fault(testing.sites.none, 0, 0);
      // Only the result's call back to JS can fail without a code: the Promise still settles with the
      // run's own code (the finalizer delivers it), so the lifecycle goes on.
      if (o.call !== undefined) {
        assert.ok(addonAllowed(o), `fault ${k}: ${describeOutcome(o)}`);
        seen.add(describeOutcome(o));
      }
      await assertClean(`fault ${k} (${describeOutcome(o)})`);
    }
    assert.ok(seen.size >= 4, `distinct failures: ${[...seen].join('; ')}`);
    assert.deepEqual(await lifecycle(b), {}, 'the backend works afterwards');
    await assertClean('after the sweep');
  });

  it('each addon site on its own answers as documented', async () => {
    const { sites } = testing;
    const cases: [number, number, string, RegExp][] = [
      [sites.thread, 1, 'hv_vcpu_create', /HV_NO_RESOURCES/],
      [sites.thread, 3, 'hv_capability', /HV_NO_RESOURCES/],
      [sites.alloc, 1, 'host_read', /RangeError: Array buffer allocation failed/],
      [sites.alloc, 2, 'hv_vcpu_create', /HV_NO_RESOURCES/],
      [sites.alloc, 4, 'hv_vcpu_run_async', /HV_NO_RESOURCES/],
      [sites.mmap, 1, 'host_alloc', /mmap of 65536 bytes failed: Cannot allocate memory/],
      [sites.tsfn, 1, 'hv_vcpu_run_async', /HV_NO_RESOURCES/],
    ];
    for (const [site, nth, call, answer] of cases) {
      testing.inject_fault(site, nth, 0);
      const o = await lifecycle(b);
      testing.inject_fault(sites.none, 0, 0);
      assert.equal(o.call, call, `site ${site} #${nth}: ${describeOutcome(o)}`);
      assert.match(describeOutcome(o), answer);
      await assertClean(`site ${site} #${nth}`);
    }
    testing.inject_fault(sites.tsfn_call, 1, 0);
    assert.deepEqual(await lifecycle(b), {}, 'a failed call back to JS still delivers the run');
    assert.equal(testing.inject_fault(sites.none, 0, 0), 1);
    await assertClean('tsfn_call');
  });

  it('a thread that cannot start frees the exit-record slot its hv_vcpu_create had taken', async () => {
    assert.equal(b.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
    // More failures than the record has slots (256): a slot kept by a failed create would run out.
    for (let i = 0; i < 300; i++) {
      testing.inject_fault(testing.sites.thread, 1, 0);
      assert.equal(b.hv_vcpu_create(1, 0n).ret, HV.HV_NO_RESOURCES);
    }
    testing.inject_fault(testing.sites.none, 0, 0);
    assert.equal(testing.counts().slots, 0);
    const v = b.hv_vcpu_create(1, 0n);
    assert.equal(v.ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vcpu_destroy(1, v.value!).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
    await assertClean('slots');
  });

  it('every provider fault, one at a time, through the addon: the provider\u2019s code, nothing left behind', async () => {
    const inject = testing.inject_provider_fault!;
    const ps = testing.provider_sites!;
    inject(ps.any, 0, 0, 0);
    assert.deepEqual(await lifecycle(b), {});
    const total = inject(ps.none, 0, 0, 0);
    assert.ok(total > 30, `provider OS calls in one lifecycle: ${total}`);
    await assertClean('counting run');
    let failed = 0;
    for (let k = 1; k <= total; k++) {
      inject(ps.any, 0, k, 0);
      const o = await lifecycle(b);
      inject(ps.none, 0, 0, 0);
      if (o.call !== undefined) {
        failed++;
        assert.ok(providerAllowed(o), `provider fault ${k}: ${describeOutcome(o)}`);
      }
      await assertClean(`provider fault ${k} (${describeOutcome(o)})`);
    }
    assert.ok(failed > total / 2, `${failed} of ${total} provider faults surfaced as a code`);
    // KVM_RUN failing in an async run (not kicked, so it does enter KVM_RUN): its Promise resolves
    // with HV_ERROR, the thread is free again, and the next run works.
    assert.equal(b.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
    const ram = b.host_alloc(0x10000);
    b.host_write(ram, 0x1000, Uint8Array.of(0xeb, 0xfe)); // jmp $
    assert.equal(b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX).ret, HV.HV_SUCCESS);
    const v = b.hv_vcpu_create(2, 0n).value!;
    setupProt32(b, 2, v, 0x1000n);
    inject(ps.ioctl, testing.kvm!.KVM_RUN!, 1, 14 /* EFAULT */);
    assert.equal(hvReturnName((await b.hv_vcpu_run_async(2, v)).ret), 'HV_ERROR');
    assert.equal(inject(ps.none, 0, 0, 0), 1, 'the one KVM_RUN failed');
    assert.equal(b.hv_vcpu_read_register(2, v, HV_X86_REG.HV_X86_RAX).ret, HV.HV_SUCCESS, 'thread 2 is free');
    const again = b.hv_vcpu_run_async(2, v);
    assert.equal(b.hv_vcpu_interrupt(0, [v], 1).ret, HV.HV_SUCCESS);
    assert.equal((await again).ret, HV.HV_SUCCESS, 'the next run works');
    assert.equal(b.hv_vcpu_destroy(2, v).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
    await assertClean('KVM_RUN in the async run');
    assert.deepEqual(await lifecycle(b), {}, 'the backend works afterwards');
    await assertClean('after the provider sweep');
  });
});
