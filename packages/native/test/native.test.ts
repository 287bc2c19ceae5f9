/**
 * The native backend on this machine. With /dev/kvm present the addon must load and work: a load
 * failure is a test failure, not a skip. Without /dev/kvm the hardware tests skip and say why.
 * The syntax-only build of the macOS code paths runs on every Linux machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HV, HV_X86_REG, hvReturnName, type Vcpu, VMCS, VMX_REASON, type X86Backend } from '@hvspec/spec';
import { loadAddon } from '../src/addon.js';
import { createNativeBackend, nativeAvailability } from '../src/index.js';
import { kvmDescriptors } from './helpers/descriptors.js';
import { exitReason, RWX, setupProt32 } from './helpers/prot32.js';

const here = dirname(fileURLToPath(import.meta.url));

const onLinux = process.platform === 'linux';
const hasKvm = onLinux && existsSync('/dev/kvm');
const skipHardware = hasKvm
  ? false
  : `no /dev/kvm on this machine (${process.platform}): the native backend has no hardware here`;
if (skipHardware) console.log(`# native.test: skipping hardware tests: ${skipHardware}`);

function backend(): X86Backend {
  const b = createNativeBackend('x86_64');
  assert.equal(b.arch, 'x86_64');
  return b as X86Backend;
}

/** A hardware test on a fresh backend, reset again after the body whatever it did. */
function hardwareTest(name: string, body: (b: X86Backend) => Promise<void>): void {
  test(name, { skip: skipHardware }, async () => {
    const b = backend();
    await b.reset();
    try {
      await body(b);
    } finally {
      await b.reset();
    }
  });
}

function ok(r: { ret: number }, what: string): void {
  assert.equal(r.ret, HV.HV_SUCCESS, `${what}: ${hvReturnName(r.ret)}`);
}

/** Runs until an exit that is not VMX_REASON_IRQ (host interrupts exit at any time: §1.7 [T]). */
function runToExit(b: X86Backend, t: number, vcpu: Vcpu): number {
  for (let i = 0; i < 1000; i++) {
    ok(b.hv_vcpu_run(t, vcpu), 'hv_vcpu_run');
    const reason = exitReason(b, t, vcpu);
    if (Number(reason & 0xffffn) !== VMX_REASON.VMX_REASON_IRQ) return Number(reason);
  }
  assert.fail('1000 consecutive VMX_REASON_IRQ exits');
}

test('the addon loads and the backend is available when /dev/kvm exists', { skip: skipHardware }, () => {
  const a = nativeAvailability();
  assert.equal(a.available, true, `native backend unavailable: ${a.reason} — fix: ${a.fix}`);
  assert.equal(a.backend, 'native-kvm');
  const b = backend();
  assert.equal(b.capabilities.backend, 'native-kvm');
  assert.equal(b.capabilities.arch, 'x86_64');
  assert.equal(b.capabilities.pageSize, 4096);
  assert.equal(b.capabilities.guestExecution, true);
  assert.ok(b.capabilities.maxVcpus >= 1, `maxVcpus ${b.capabilities.maxVcpus}`);
  assert.ok(b.capabilities.enforcedPermissions.includes(RWX), 'RWX is enforced');
  const caps = b.capabilities.vmxCapabilities;
  assert.ok(caps !== undefined, 'vmxCapabilities read through hv_vmx_read_capability');
  for (const id of [0, 1, 2, 3, 4]) {
    const cap = caps[id];
    assert.ok(cap !== undefined, `capability ${id}`);
    assert.equal(cap & 0xffff_ffffn & ~(cap >> 32n), 0n, `capability ${id}: must-be-1 within may-be-1`);
  }
  console.log(
    '# capabilities',
    JSON.stringify(b.capabilities, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
  );
  assert.equal(createNativeBackend(), b, 'one native backend per process');
});

hardwareTest(
  'VM, mappings, a vCPU on thread 1, registers, wrong thread, type and range errors',
  async (b) => {
    ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
    assert.equal(hvReturnName(b.hv_vm_create(0, 0n).ret), 'HV_BUSY', 'second hv_vm_create');

    const mem = b.host_alloc(0x4000);
    assert.equal(mem.size, 0x4000);
    ok(b.hv_vm_map(0, { mem, offset: 0 }, 0x10000n, 0x4000n, RWX), 'hv_vm_map');
    ok(b.hv_vm_unmap(0, 0x10000n, 0x4000n), 'hv_vm_unmap');
    // A uva range beyond the buffer never reaches the provider (README.md, "Guards").
    assert.equal(b.hv_vm_map(0, { mem, offset: 0x1000 }, 0x10000n, 0x4000n, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(b.hv_vm_map(0, { mem, offset: 0x8000 }, 0x10000n, 0x1000n, RWX).ret, HV.HV_BAD_ARGUMENT);

    const created = b.hv_vcpu_create(1, 0n);
    ok(created, 'hv_vcpu_create on thread 1');
    const vcpu = created.value!;
    ok(b.hv_vcpu_write_register(1, vcpu, HV_X86_REG.HV_X86_RAX, 0x1122_3344_5566_7788n), 'write RAX');
    const rax = b.hv_vcpu_read_register(1, vcpu, HV_X86_REG.HV_X86_RAX);
    ok(rax, 'read RAX');
    assert.equal(rax.value, 0x1122_3344_5566_7788n);

    // A register beyond what hv_x86_reg_t can hold in C++ (0..63) never becomes one: converting it would be
    // undefined behaviour (UBSan found it); the addon refuses it (README.md, "Guards").
    for (const reg of [0x40, 8192, 0xffff_ffff]) {
      assert.equal(b.hv_vcpu_read_register(1, vcpu, reg).ret, HV.HV_BAD_ARGUMENT, `read register ${reg}`);
      assert.equal(
        b.hv_vcpu_write_register(1, vcpu, reg, 0n).ret,
        HV.HV_BAD_ARGUMENT,
        `write register ${reg}`,
      );
    }
    assert.equal(b.hv_vmx_read_capability(1, 0x40).ret, HV.HV_BAD_ARGUMENT, 'capability id 0x40');

    // Thread 0 does not own the vCPU: whatever the provider answers, it is not success.
    const wrong = b.hv_vcpu_read_register(0, vcpu, HV_X86_REG.HV_X86_RAX);
    assert.notEqual(wrong.ret, HV.HV_SUCCESS, 'read from a non-owning thread');
    console.log(`# wrong-thread hv_vcpu_read_register: ${hvReturnName(wrong.ret)}`);
    const wrongVmcs = b.hv_vmx_vcpu_read_vmcs(0, vcpu, VMCS.VMCS_GUEST_RIP);
    assert.notEqual(wrongVmcs.ret, HV.HV_SUCCESS, 'VMCS read from a non-owning thread');

    // Programmer errors: TypeError naming the parameter; out-of-bounds host access: RangeError.
    assert.throws(() => b.hv_vm_map(0, { mem, offset: 0 }, 0x10000 as unknown as bigint, 0x1000n, RWX), {
      name: 'TypeError',
      message: /^gpa /,
    });
    assert.throws(() => b.hv_vcpu_read_register(1, vcpu, '2' as unknown as number), {
      name: 'TypeError',
      message: /^reg /,
    });
    assert.throws(() => b.hv_vm_destroy(-1), { name: 'TypeError', message: /logical thread/ });
    assert.throws(() => b.hv_vm_map(0, { mem: { id: 999999, size: 4096 }, offset: 0 }, 0n, 0x1000n, RWX), {
      name: 'TypeError',
      message: /uva\.mem/,
    });
    assert.throws(() => b.host_write(mem, mem.size - 2, new Uint8Array(4)), RangeError);
    assert.throws(() => b.host_read(mem, mem.size, 1), RangeError);
    b.host_write(mem, 8, Uint8Array.of(1, 2, 3));
    assert.deepEqual([...b.host_read(mem, 7, 5)], [0, 1, 2, 3, 0]);

    ok(b.hv_vcpu_destroy(1, vcpu), 'hv_vcpu_destroy on the owner thread');
    // A destroyed handle is the provider's code, never a crash.
    assert.notEqual(b.hv_vcpu_read_register(1, vcpu, HV_X86_REG.HV_X86_RAX).ret, HV.HV_SUCCESS);
    assert.notEqual(b.hv_vcpu_run(1, vcpu).ret, HV.HV_SUCCESS);
    assert.notEqual(b.hv_vmx_vcpu_read_vmcs(1, vcpu, VMCS.VMCS_RO_EXIT_REASON).ret, HV.HV_SUCCESS);
    assert.notEqual(b.hv_vcpu_destroy(1, vcpu).ret, HV.HV_SUCCESS);
    ok(b.hv_vm_destroy(0), 'hv_vm_destroy');
  },
);

hardwareTest('a 32-bit protected-mode guest: out 0x10, al exits with reason 30', async (b) => {
  ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
  const ram = b.host_alloc(0x10000);
  // 0x1000: mov al, 0x42 ; out 0x10, al ; hlt
  b.host_write(ram, 0x1000, Uint8Array.of(0xb0, 0x42, 0xe6, 0x10, 0xf4));
  ok(b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX), 'hv_vm_map');
  const t = 1;
  const vcpu = b.hv_vcpu_create(t, 0n).value!;
  setupProt32(b, t, vcpu, 0x1000n);

  const reason = runToExit(b, t, vcpu);
  assert.equal(reason, VMX_REASON.VMX_REASON_IO, `exit reason ${reason}`);
  const qual = b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_EXIT_QUALIFIC);
  ok(qual, 'read qualification');
  // port 0x10 in bits 31:16, immediate operand (bit 6), OUT (bit 3 clear), 1 byte (bits 2:0 = 0).
  assert.equal(qual.value! & 0xffff_007fn, 0x0010_0040n, `qualification 0x${qual.value!.toString(16)}`);
  const len = b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN);
  assert.equal(len.value, 2n);
  const rip = b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP);
  assert.equal(rip.value, 0x1002n, 'RIP stays at the OUT (hvf-facts.md §1.7)');
  const rax = b.hv_vcpu_read_register(t, vcpu, HV_X86_REG.HV_X86_RAX);
  assert.equal(rax.value! & 0xffn, 0x42n);
  // The record answers RIP only until the next write: after advancing it, the API answers.
  ok(b.hv_vmx_vcpu_write_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP, 0x1004n), 'advance RIP');
  assert.equal(b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP).value, 0x1004n);
  assert.equal(runToExit(b, t, vcpu), VMX_REASON.VMX_REASON_HLT, 'then hlt');
  // A run of this vCPU from another thread fails in the provider and leaves the owner's slot of the
  // exit record alone: its writes would race the owner's own run filling the slot.
  const load = loadAddon();
  assert.ok(load.ok);
  const words = new BigUint64Array(load.addon.records);
  const before = [...words];
  assert.notEqual(
    b.hv_vcpu_run(3, vcpu).ret,
    HV.HV_SUCCESS,
    'a run from a thread that does not own the vCPU',
  );
  await assert.doesNotReject(async () => {
    assert.notEqual((await b.hv_vcpu_run_async(4, vcpu)).ret, HV.HV_SUCCESS);
  });
  assert.deepEqual([...words], before, 'the exit record is unchanged');
});

hardwareTest('the C baseline exit loop handles I/O exits entirely in C', async (x86) => {
  const b = x86 as X86Backend & {
    baselineExitLoop(t: number, vcpu: number, n: number): { ret: number; exits: number; ns: number };
  };
  ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
  const ram = b.host_alloc(0x10000);
  b.host_write(ram, 0x1000, Uint8Array.of(0xe6, 0x10, 0xeb, 0xfc)); // out 0x10, al ; jmp -4
  ok(b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX), 'hv_vm_map');
  const vcpu = b.hv_vcpu_create(0, 0n).value!;
  setupProt32(b, 0, vcpu, 0x1000n);
  const run = b.baselineExitLoop(0, vcpu, 50);
  assert.equal(run.ret, HV.HV_SUCCESS, hvReturnName(run.ret));
  // Host interrupts may add VMX_REASON_IRQ exits (§1.7 [T]); everything else is the OUT.
  assert.ok(run.exits > 0 && run.exits <= 50, `${run.exits} I/O exits`);
  assert.ok(run.ns > 0);
  // The loop left RIP at the OUT or just past the jmp back to it; the API agrees with C.
  const rip = b.hv_vmx_vcpu_read_vmcs(0, vcpu, VMCS.VMCS_GUEST_RIP).value!;
  assert.ok(rip === 0x1000n || rip === 0x1002n, `RIP 0x${rip.toString(16)}`);
});

hardwareTest(
  'an async run of a spinning guest is cancelled by hv_vcpu_interrupt from thread 0',
  async (b) => {
    ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
    const ram = b.host_alloc(0x10000);
    b.host_write(ram, 0x1000, Uint8Array.of(0xeb, 0xfe)); // jmp $
    ok(b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX), 'hv_vm_map');
    const t = 2;
    const vcpu = b.hv_vcpu_create(t, 0n).value!;
    setupProt32(b, t, vcpu, 0x1000n);

    const run = b.hv_vcpu_run_async(t, vcpu);
    // Thread 2 is in the guest: a call there gets HV_BUSY (the thread is busy), never a deadlock or a
    // throw; an async run on thread 0 (the JS thread) is a TypeError naming t.
    assert.equal(b.hv_vcpu_read_register(t, vcpu, HV_X86_REG.HV_X86_RIP).ret, HV.HV_BUSY);
    assert.equal(b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_EXIT_REASON).ret, HV.HV_BUSY);
    assert.throws(() => b.hv_vcpu_run_async(0, vcpu), {
      name: 'TypeError',
      message: /^t must be a logical thread > 0/,
    });
    ok(b.hv_vcpu_interrupt(0, [vcpu], 1), 'hv_vcpu_interrupt from thread 0');
    const result = await run;
    ok(result, 'the async hv_vcpu_run');
    const reason = exitReason(b, t, vcpu);
    console.log(`# exit reason after hv_vcpu_interrupt: ${reason}`);
    assert.notEqual(Number(reason & 0xffffn), VMX_REASON.VMX_REASON_IO);
    const rip = b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP);
    assert.equal(rip.value, 0x1000n, 'the guest was still spinning on jmp $');
    assert.throws(() => b.hv_vcpu_interrupt(0, [vcpu], 2), { name: 'TypeError', message: /vcpu_count/ });
  },
);

test('reset() releases vCPUs, threads, the VM and buffers (fd count back to baseline)', {
  skip: skipHardware,
}, async () => {
  const b = backend();
  await b.reset();
  const baseline = kvmDescriptors();
  for (let round = 0; round < 2; round++) {
    ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
    const ram = b.host_alloc(0x10000);
    ok(b.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0x10000n, RWX), 'hv_vm_map');
    b.host_write(ram, 0x1000, Uint8Array.of(0xeb, 0xfe)); // jmp $
    const v0 = b.hv_vcpu_create(0, 0n).value!;
    const v1 = b.hv_vcpu_create(3, 0n).value!;
    const v2 = b.hv_vcpu_create(4, 0n).value!;
    assert.ok(v0 !== undefined && v1 !== undefined && v2 !== undefined, 'three vCPUs');
    setupProt32(b, 4, v2, 0x1000n);
    const spinning = b.hv_vcpu_run_async(4, v2); // still in the guest when reset() starts
    assert.ok(kvmDescriptors() > baseline, 'the VM and vCPUs hold descriptors');
    await b.reset();
    assert.equal(kvmDescriptors(), baseline, `round ${round}: descriptors after reset()`);
    ok(await spinning, 'the kicked async run returns');
    assert.throws(() => b.host_read(ram, 0, 1), { name: 'TypeError', message: /not a live buffer/ });
  }
  ok(b.hv_vm_create(0, 0n), 'hv_vm_create after reset()');
  await b.close();
  assert.equal(kvmDescriptors(), baseline, 'descriptors after close()');
  const again = backend();
  assert.notEqual(again, b, 'close() ends the process-wide instance; the next one is fresh');
  ok(again.hv_vm_create(0, 0n), 'hv_vm_create on a fresh instance after close()');
  await again.reset();
});

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

hardwareTest(
  'a logical thread without a vCPU is released after its call; one with a vCPU lives until destroy',
  async (b) => {
    ok(b.hv_vm_create(0, 0n), 'hv_vm_create');
    const before = threadCount();
    // 3,000 logical thread ids, each used once: no OS thread may outlive its call.
    for (let t = 1; t <= 3000; t++) ok(b.hv_capability(t, 0), `hv_capability on thread ${t}`);
    assert.ok(
      threadCount() <= before + 1,
      `threads after 3,000 one-off ids: ${threadCount()} (before ${before})`,
    );
    const created = b.hv_vcpu_create(7, 0n);
    ok(created, 'hv_vcpu_create on thread 7');
    assert.equal(threadCount(), before + 1, 'thread 7 owns a vCPU and stays');
    // Async runs from 600 one-off threads (more than the 512 live threads allowed) of a vCPU they do
    // not own: each fails in the provider, and its thread is released when its Promise settles, so
    // none is refused for want of threads.
    for (let t = 1000; t < 1600; t++) {
      const r = await b.hv_vcpu_run_async(t, created.value!);
      assert.equal(hvReturnName(r.ret), 'HV_BAD_ARGUMENT', `async run from thread ${t}`);
    }
    assert.equal(threadCount(), before + 1, 'no thread of an async run outlives it');
    ok(b.hv_vcpu_destroy(7, created.value!), 'hv_vcpu_destroy on thread 7');
    assert.equal(threadCount(), before, 'thread 7 is released with its vCPU');
  },
);

test('process exit with live vCPUs and an async run in the guest ends cleanly', {
  skip: skipHardware,
}, () => {
  // The env cleanup hook kicks the run, destroys the vCPUs on their threads, then the VM, and joins
  // the threads. A crash (signal) or an abort would show here; the timeout only guards against a hang.
  const fixture = join(here, 'fixtures', 'exit-with-live-run.ts');
  for (const [mode, status] of [
    ['exit', 0],
    ['throw', 1],
    ['return', 0],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, mode], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.signal, null, `${mode}: killed by ${r.signal}\n${r.stderr}`);
    assert.equal(r.status, status, `${mode}: exit status ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /spinning/, `${mode}: the guest was started`);
  }
});

test('random calls into the raw addon never crash the process', { skip: skipHardware }, () => {
  const fixture = join(here, 'fixtures', 'fuzz-addon.mjs');
  for (const seed of [1, 2, 3]) {
    const r = spawnSync(process.execPath, [fixture, String(seed)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.signal, null, `seed ${seed}: killed by ${r.signal}\n${r.stderr}`);
    assert.equal(r.status, 0, `seed ${seed}: exit status ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /fuzz done/);
  }
});

test('the macOS code paths compile (syntax only, x86_64 and arm64 flavours)', {
  skip: onLinux ? false : 'Linux only',
}, () => {
  const script = join(here, '..', 'scripts', 'syntax-check-macos.sh');
  const r = spawnSync('sh', [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `syntax-check-macos.sh failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /ok \(x86_64 and arm64\)/);
});
