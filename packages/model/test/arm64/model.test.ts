import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Vcpu, VmConfig } from '@hvspec/spec';
import { forgeVcpu, HV, HV_EXIT_REASON, HV_MEMORY, HV_REG, HV_SYS_REG } from '@hvspec/spec';
import { arm64Engine } from '../../src/arm64/interp.js';
import type { Arm64Model } from '../../src/arm64/model.js';
import { createArm64Model, createModel } from '../../src/create.js';
import type { Arm64Engine, Arm64Stop } from '../../src/engine.js';

const RWX = HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC;
const G = 16384n;
const K4 = 4096n;

function withVm(
  options: Parameters<typeof createArm64Model>[0] = {},
  config: VmConfig | null = null,
): Arm64Model {
  const m = createArm64Model(options);
  assert.equal(m.hv_vm_create(0, config).ret, HV.HV_SUCCESS);
  return m;
}

function vcpu(m: Arm64Model, t = 0): Vcpu {
  const r = m.hv_vcpu_create(t, null);
  assert.equal(r.ret, HV.HV_SUCCESS);
  return r.value!;
}

function stopWith(stop: Arm64Stop): Arm64Engine {
  return () => stop;
}

/** A guest that spins: each instruction advances PC by 4 and never exits. */
function spinner(): Arm64Engine {
  return (ctx, budget) => {
    ctx.cpu.pc += 4n * BigInt(budget);
    return { kind: 'budget' };
  };
}

describe('arm64 model: host queries and VM configs', () => {
  it('declares itself', () => {
    const m = createModel('arm64');
    assert.equal(m.capabilities.pageSize, 16384);
    assert.equal(m.capabilities.maxIpaSize, 40);
    assert.equal(m.capabilities.defaultIpaSize, 36);
    assert.equal(m.capabilities.ipaGranule4k, true);
    assert.equal(m.capabilities.guestExecution, false);
    assert.deepEqual(m.hv_vm_get_max_vcpu_count(0), { ret: HV.HV_SUCCESS, value: 64 });
    assert.deepEqual(m.hv_vm_config_get_max_ipa_size(0), { ret: HV.HV_SUCCESS, value: 40 });
    assert.deepEqual(m.hv_vm_config_get_default_ipa_size(0), { ret: HV.HV_SUCCESS, value: 36 });
  });

  it('IPA size: 0..max accepted, above max UNSUPPORTED, fresh config reads 0', () => {
    const m = createArm64Model();
    const c = m.hv_vm_config_create(0).value!;
    assert.deepEqual(m.hv_vm_config_get_ipa_size(0, c), { ret: HV.HV_SUCCESS, value: 0 });
    assert.equal(m.hv_vm_config_set_ipa_size(0, c, 41).ret, HV.HV_UNSUPPORTED);
    assert.equal(m.hv_vm_config_set_ipa_size(0, c, 0xffff_ffff).ret, HV.HV_UNSUPPORTED);
    assert.equal(m.hv_vm_config_get_ipa_size(0, c).value, 0);
    for (const bits of [0, 1, 36, 40]) {
      assert.equal(m.hv_vm_config_set_ipa_size(0, c, bits).ret, HV.HV_SUCCESS);
      assert.equal(m.hv_vm_config_get_ipa_size(0, c).value, bits);
    }
  });

  it('IPA granule: {0,1} accepted, others BAD_ARGUMENT, 4 KiB UNSUPPORTED without the capability', () => {
    const m = createArm64Model();
    const c = m.hv_vm_config_create(0).value!;
    assert.equal(m.hv_vm_config_get_ipa_granule(0, c).value, 1);
    assert.equal(m.hv_vm_config_set_ipa_granule(0, c, 2).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_config_set_ipa_granule(0, c, 0).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_config_get_ipa_granule(0, c).value, 0);
    const old = createArm64Model({ ipaGranule4k: false });
    const c2 = old.hv_vm_config_create(0).value!;
    assert.equal(old.hv_vm_config_set_ipa_granule(0, c2, 0).ret, HV.HV_UNSUPPORTED);
    assert.equal(old.hv_vm_config_get_ipa_granule(0, c2).value, 1);
  });

  it('config calls with a handle never returned by hv_vm_config_create are BAD_ARGUMENT', () => {
    const m = createArm64Model();
    const bogus = 77 as VmConfig;
    assert.equal(m.hv_vm_config_get_ipa_size(0, bogus).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_config_set_ipa_size(0, bogus, 36).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_config_set_ipa_granule(0, bogus, 1).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_config_get_ipa_granule(0, bogus).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_create(0, bogus).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_NO_DEVICE);
  });
});

describe('arm64 model: VM lifecycle and mappings', () => {
  it('hv_vm_create: BUSY while a VM exists, SUCCESS after destroy', () => {
    const m = withVm();
    assert.equal(m.hv_vm_create(0, null).ret, HV.HV_BUSY);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
  });

  it('hv_vm_destroy with live vCPUs is BUSY', () => {
    const m = withVm();
    const cpu = vcpu(m, 4);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_BUSY);
    m.hv_vcpu_destroy(4, cpu);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
  });

  it('mapping calls without a VM are NO_DEVICE', () => {
    const m = createArm64Model();
    const ram = m.host_alloc(16384);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, G, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_unmap(0, 0n, G).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_protect(0, 0n, G, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vcpu_create(0, null).ret, HV.HV_NO_DEVICE);
  });

  it('16 KiB granule by default: 4 KiB-aligned addresses, sizes and offsets are BAD_ARGUMENT', () => {
    const m = withVm();
    const ram = m.host_alloc(4 * 16384);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, K4, G, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, K4, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 4096 }, 0n, G, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 0n, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, G, 8).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 16384 }, 0n, 4n * G, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, G, 2n * G, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 2n * G, 2n * G, RWX).ret, HV.HV_ERROR); // overlap
    assert.equal(m.hv_vm_unmap(0, G, K4).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_unmap(0, G, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, G, K4, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, G, G, 0x10).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, 0n, 2n * G, HV_MEMORY.READ).ret, HV.HV_BAD_ARGUMENT); // page 0 unmapped
    assert.equal(m.hv_vm_protect(0, G, 2n * G, 0).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_unmap(0, 0n, 4n * G).ret, HV.HV_SUCCESS); // partly mapped range
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, 4n * G, RWX).ret, HV.HV_SUCCESS);
  });

  it('the 4 KiB granule accepts 4 KiB-aligned layouts', () => {
    const m = createArm64Model();
    const c = m.hv_vm_config_create(0).value!;
    m.hv_vm_config_set_ipa_granule(0, c, 0);
    assert.equal(m.hv_vm_create(0, c).ret, HV.HV_SUCCESS);
    const ram = m.host_alloc(16384);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 4096 }, K4, K4, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 8192 }, 2n * K4, K4, HV_MEMORY.READ).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_protect(0, K4, 2n * K4, HV_MEMORY.READ).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_unmap(0, K4, K4).ret, HV.HV_SUCCESS);
  });

  it('the IPA limit is 2^ipa_size (0 = the 36-bit default)', () => {
    const ram = (m: Arm64Model) => ({ mem: m.host_alloc(16384), offset: 0 });
    const d = withVm();
    assert.equal(d.hv_vm_map(0, ram(d), (1n << 36n) - G, G, RWX).ret, HV.HV_SUCCESS);
    assert.equal(d.hv_vm_map(0, ram(d), 1n << 36n, G, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(d.hv_vm_unmap(0, 1n << 36n, G).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(d.hv_vm_protect(0, (1n << 36n) - G, 2n * G, RWX).ret, HV.HV_BAD_ARGUMENT);
    const m = createArm64Model();
    const c = m.hv_vm_config_create(0).value!;
    m.hv_vm_config_set_ipa_size(0, c, 40);
    m.hv_vm_create(0, c);
    assert.equal(m.hv_vm_map(0, ram(m), 1n << 36n, G, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, ram(m), 1n << 40n, G, RWX).ret, HV.HV_BAD_ARGUMENT);
    const z = createArm64Model();
    const c0 = z.hv_vm_config_create(0).value!;
    z.hv_vm_create(0, c0);
    assert.equal(z.hv_vm_map(0, ram(z), 1n << 36n, G, RWX).ret, HV.HV_BAD_ARGUMENT);
  });
});

describe('arm64 model: vCPUs and registers', () => {
  it('one live vCPU per thread; NO_RESOURCES beyond maxVcpus', () => {
    const m = withVm({ maxVcpus: 2 });
    const a = vcpu(m, 1);
    assert.equal(m.hv_vcpu_create(1, null).ret, HV.HV_BUSY);
    vcpu(m, 2);
    assert.equal(m.hv_vcpu_create(3, null).ret, HV.HV_NO_RESOURCES);
    assert.equal(m.hv_vcpu_destroy(1, a).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_create(1, null).ret, HV.HV_SUCCESS);
  });

  it('stale handles and foreign threads are BAD_ARGUMENT', () => {
    const m = withVm();
    const cpu = vcpu(m, 1);
    assert.equal(m.hv_vcpu_get_reg(0, cpu, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_set_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_SP_EL1, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_get_vtimer_mask(0, cpu).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_destroy(0, cpu).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_get_reg(1, forgeVcpu(9), 0).ret, HV.HV_BAD_ARGUMENT);
    m.hv_vcpu_destroy(1, cpu);
    assert.equal(m.hv_vcpu_get_reg(1, cpu, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_run(1, cpu).ret, HV.HV_BAD_ARGUMENT);
  });

  it('hv_reg_t, SIMD and system registers round-trip; out-of-table ids are BAD_ARGUMENT', () => {
    const m = withVm();
    const cpu = vcpu(m);
    for (let reg = 0; reg <= HV_REG.HV_REG_CPSR; reg++) {
      const value = 0xfedc_ba98_7654_3210n ^ BigInt(reg);
      assert.equal(m.hv_vcpu_set_reg(0, cpu, reg, value).ret, HV.HV_SUCCESS);
      assert.equal(m.hv_vcpu_get_reg(0, cpu, reg).value, value, `reg ${reg}`);
    }
    assert.equal(m.hv_vcpu_get_reg(0, cpu, 35).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_set_reg(0, cpu, 35, 0n).ret, HV.HV_BAD_ARGUMENT);
    const q = (1n << 127n) | 0x1234n;
    assert.equal(m.hv_vcpu_set_simd_fp_reg(0, cpu, 31, q).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_get_simd_fp_reg(0, cpu, 31).value, q);
    assert.equal(m.hv_vcpu_get_simd_fp_reg(0, cpu, 32).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_set_simd_fp_reg(0, cpu, 32, 0n).ret, HV.HV_BAD_ARGUMENT);
    for (const reg of Object.values(HV_SYS_REG)) {
      assert.equal(m.hv_vcpu_set_sys_reg(0, cpu, reg, BigInt(reg) << 20n).ret, HV.HV_SUCCESS);
      assert.equal(m.hv_vcpu_get_sys_reg(0, cpu, reg).value, BigInt(reg) << 20n);
    }
    assert.equal(m.hv_vcpu_get_sys_reg(0, cpu, 0xe089).ret, HV.HV_BAD_ARGUMENT); // MDCR_EL2: not in the table
    assert.equal(m.hv_vcpu_set_sys_reg(0, cpu, 0x1234, 0n).ret, HV.HV_BAD_ARGUMENT);
  });

  it('a fresh vCPU: CPSR 0, SCTLR_EL1 0, MPIDR Aff0 = id', () => {
    const m = withVm();
    const a = vcpu(m, 0);
    const b = vcpu(m, 1);
    assert.equal(m.hv_vcpu_get_reg(0, a, HV_REG.HV_REG_CPSR).value, 0n);
    assert.equal(m.hv_vcpu_get_sys_reg(0, a, HV_SYS_REG.HV_SYS_REG_SCTLR_EL1).value, 0n);
    assert.equal(m.hv_vcpu_get_sys_reg(0, a, HV_SYS_REG.HV_SYS_REG_MPIDR_EL1).value! & 0xffn, BigInt(a));
    assert.equal(m.hv_vcpu_get_sys_reg(1, b, HV_SYS_REG.HV_SYS_REG_MPIDR_EL1).value! & 0xffn, BigInt(b));
  });

  it('pending interrupts, vtimer mask/offset and debug traps round-trip', () => {
    const m = withVm();
    const cpu = vcpu(m);
    for (const type of [0, 1]) {
      assert.equal(m.hv_vcpu_get_pending_interrupt(0, cpu, type).value, false);
      assert.equal(m.hv_vcpu_set_pending_interrupt(0, cpu, type, true).ret, HV.HV_SUCCESS);
      assert.equal(m.hv_vcpu_get_pending_interrupt(0, cpu, type).value, true);
    }
    assert.equal(m.hv_vcpu_set_pending_interrupt(0, cpu, 2, true).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_get_pending_interrupt(0, cpu, 2).ret, HV.HV_BAD_ARGUMENT);
    m.hv_vcpu_set_vtimer_mask(0, cpu, true);
    assert.equal(m.hv_vcpu_get_vtimer_mask(0, cpu).value, true);
    m.hv_vcpu_set_vtimer_offset(0, cpu, 0xffff_ffff_ffff_fff0n);
    assert.equal(m.hv_vcpu_get_vtimer_offset(0, cpu).value, 0xffff_ffff_ffff_fff0n);
    m.hv_vcpu_set_trap_debug_exceptions(0, cpu, true);
    assert.equal(m.hv_vcpu_get_trap_debug_exceptions(0, cpu).value, true);
    m.hv_vcpu_set_trap_debug_reg_accesses(0, cpu, true);
    assert.equal(m.hv_vcpu_get_trap_debug_reg_accesses(0, cpu).value, true);
    m.hv_vcpu_set_trap_debug_reg_accesses(0, cpu, false);
    assert.equal(m.hv_vcpu_get_trap_debug_reg_accesses(0, cpu).value, false);
  });
});

describe('arm64 model: running', () => {
  it('no engine: HV_UNSUPPORTED, state unchanged', () => {
    const m = withVm();
    const cpu = vcpu(m);
    m.hv_vcpu_set_pending_interrupt(0, cpu, 0, true);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_UNSUPPORTED);
    assert.equal(m.hv_vcpu_get_pending_interrupt(0, cpu, 0).value, true);
  });

  it('a sticky hv_vcpus_exit: CANCELED, PC unchanged, guest not entered, flag cleared, IRQ/FIQ cleared', () => {
    let entered = 0;
    const m = withVm({
      engines: {
        arm64: () => {
          entered++;
          return { kind: 'exception', syndrome: 0x5a000000n, virtual_address: 0n, physical_address: 0n };
        },
      },
    });
    const cpu = vcpu(m, 1);
    m.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_PC, 0x4000n);
    m.hv_vcpu_set_pending_interrupt(1, cpu, 0, true);
    m.hv_vcpu_set_pending_interrupt(1, cpu, 1, true);
    assert.equal(m.hv_vcpus_exit(2, [cpu], 1).ret, HV.HV_SUCCESS);
    assert.deepEqual(m.hv_vcpu_run(1, cpu), {
      ret: HV.HV_SUCCESS,
      value: {
        reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED,
        exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
      },
    });
    assert.equal(entered, 0);
    assert.equal(m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_PC).value, 0x4000n);
    assert.equal(m.hv_vcpu_get_pending_interrupt(1, cpu, 0).value, false);
    assert.equal(m.hv_vcpu_get_pending_interrupt(1, cpu, 1).value, false);
    const next = m.hv_vcpu_run(1, cpu);
    assert.equal(next.value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION);
    assert.equal(next.value?.exception.syndrome, 0x5a000000n);
    assert.equal(entered, 1);
  });

  it('hv_vcpus_exit with a stale handle is BAD_ARGUMENT and sets no flag', () => {
    const m = withVm({
      engines: {
        arm64: stopWith({ kind: 'exception', syndrome: 1n, virtual_address: 2n, physical_address: 3n }),
      },
    });
    const cpu = vcpu(m);
    assert.equal(m.hv_vcpus_exit(0, [cpu, forgeVcpu(50)], 2).ret, HV.HV_BAD_ARGUMENT);
    assert.deepEqual(m.hv_vcpu_run(0, cpu).value, {
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      exception: { syndrome: 1n, virtual_address: 2n, physical_address: 3n },
    });
    assert.throws(() => m.hv_vcpus_exit(0, [cpu], 2), TypeError);
    assert.equal(createArm64Model().hv_vcpus_exit(0, [], 0).ret, HV.HV_NO_DEVICE);
  });

  it('a VTIMER_ACTIVATED exit masks the vtimer; the engine sees the vtimer state', () => {
    let seen: { masked: boolean; offset: bigint } | undefined;
    const m = withVm({
      engines: {
        arm64: (ctx) => {
          seen = { masked: ctx.vtimerMasked, offset: ctx.vtimerOffset };
          return { kind: 'vtimer' };
        },
      },
    });
    const cpu = vcpu(m);
    m.hv_vcpu_set_vtimer_offset(0, cpu, 100n);
    const r = m.hv_vcpu_run(0, cpu);
    assert.equal(r.value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED);
    assert.deepEqual(seen, { masked: false, offset: 100n });
    assert.equal(m.hv_vcpu_get_vtimer_mask(0, cpu).value, true);
  });

  it('an unsupported instruction is HV_ERROR with the bytes in model_last_unsupported', () => {
    const m = withVm({
      engines: {
        arm64: stopWith({
          kind: 'unsupported',
          bytes: new Uint8Array([0x1f, 0x20, 0x03, 0xd5]),
          reason: 'nop',
        }),
      },
    });
    const cpu = vcpu(m);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_ERROR);
    assert.equal(m.model_last_unsupported(cpu)?.reason, 'nop');
  });

  it('hv_vcpus_exit from another thread cancels a spinning async run; PC is at the next instruction', async () => {
    const m = withVm({ engines: { arm64: spinner() }, budget: 64 });
    const cpu = vcpu(m, 1);
    m.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_PC, 0x10000n);
    m.hv_vcpu_set_pending_interrupt(1, cpu, 0, true);
    const run = m.hv_vcpu_run_async(1, cpu);
    // Thread 1 is inside hv_vcpu_run: its calls answer HV_BUSY, as on the native backend; thread 0
    // cannot run asynchronously (it is the caller itself).
    assert.equal(m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_PC).ret, HV.HV_BUSY);
    assert.equal(m.hv_vcpu_create(1, null).ret, HV.HV_BUSY);
    assert.equal((await m.hv_vcpu_run_async(1, cpu)).ret, HV.HV_BUSY);
    assert.throws(() => m.hv_vcpu_run_async(0, cpu), {
      name: 'TypeError',
      message: /^t must be a logical thread > 0/,
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(m.hv_vcpus_exit(0, [cpu], 1).ret, HV.HV_SUCCESS);
    const r = await run;
    assert.equal(r.ret, HV.HV_SUCCESS);
    assert.equal(r.value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_CANCELED);
    const pc = m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_PC).value!;
    assert.ok(
      pc > 0x10000n && (pc - 0x10000n) % (4n * 64n) === 0n,
      `PC ${pc.toString(16)} after whole slices`,
    );
    assert.equal(m.hv_vcpu_get_pending_interrupt(1, cpu, 0).value, false);
    // The cancel was consumed: the next run enters the guest again (and is cancelled again).
    const again = m.hv_vcpu_run_async(1, cpu);
    await new Promise((r) => setImmediate(r));
    m.hv_vcpus_exit(0, [cpu], 1);
    assert.equal((await again).value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_CANCELED);
    assert.ok(m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_PC).value! > pc);
  });

  it('a cancel pending before an async run returns at once', async () => {
    const m = withVm({ engines: { arm64: spinner() } });
    const cpu = vcpu(m, 1);
    m.hv_vcpus_exit(0, [cpu], 1);
    const r = await m.hv_vcpu_run_async(1, cpu);
    assert.equal(r.value?.reason, HV_EXIT_REASON.HV_EXIT_REASON_CANCELED);
    assert.equal(m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_PC).value, 0n);
  });
});

describe('arm64 model: JS type checks', () => {
  it('throws TypeError naming the parameter', () => {
    const m = withVm();
    const cpu = vcpu(m);
    const any = (v: unknown) => v as never;
    assert.throws(() => m.hv_vm_create(0, any('cfg')), /config/);
    assert.throws(() => m.hv_vcpu_create(1, any({})), /config/);
    assert.throws(() => m.hv_vcpu_set_reg(0, cpu, 0, any(1)), /value/);
    assert.throws(() => m.hv_vcpu_set_simd_fp_reg(0, cpu, 0, 1n << 128n), /value/);
    assert.throws(() => m.hv_vcpu_set_simd_fp_reg(0, cpu, 0, any(-1n)), /value/);
    assert.throws(() => m.hv_vcpu_set_pending_interrupt(0, cpu, 0, any(1)), /pending/);
    assert.throws(() => m.hv_vcpu_set_vtimer_mask(0, cpu, any(0)), /vtimer_is_masked/);
    assert.throws(() => m.hv_vcpu_set_vtimer_offset(0, cpu, any(0)), /vtimer_offset/);
    assert.throws(() => m.hv_vcpu_set_trap_debug_exceptions(0, cpu, any('yes')), /value/);
    assert.throws(() => m.hv_vm_config_set_ipa_size(0, any(1), any(36n)), /ipa_bit_length/);
    assert.throws(() => m.hv_vm_map(0, { mem: m.host_alloc(16384), offset: 0 }, any(0), G, RWX), /ipa/);
    assert.throws(() => m.hv_vcpus_exit(0, any('x'), 1), /vcpus/);
    assert.throws(() => m.hv_vcpu_get_reg(any(1.5), cpu, 0), /thread/);
  });
});

describe('a fresh vCPU run as a binding crate runs it (CPSR never set)', () => {
  it('runs at EL0; the UDF is taken to EL1 through VBAR_EL1 = 0 and the vector fetch exits as an instruction abort', () => {
    // mov x1, x0; udf #0 (a word of zeros); brk #0 — the shape of applevisor's test (hvf-facts.md §2.6 [T]).
    const m = createArm64Model({ engines: { arm64: arm64Engine } });
    assert.equal(m.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
    const ram = m.host_alloc(Number(G));
    m.host_write(ram, 0, Uint8Array.of(0xe1, 0x03, 0x00, 0xaa, 0, 0, 0, 0, 0x00, 0x00, 0x20, 0xd4));
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, G, RWX).ret, HV.HV_SUCCESS);
    const cpu = m.hv_vcpu_create(1, null).value!;
    assert.equal(m.hv_vcpu_get_reg(1, cpu, HV_REG.HV_REG_CPSR).value, 0n);
    assert.equal(m.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_X0, 7n).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_PC, 0x10000n).ret, HV.HV_SUCCESS);
    const r = m.hv_vcpu_run(1, cpu);
    assert.equal(r.ret, HV.HV_SUCCESS);
    // EC 0x20 (instruction abort from a lower EL), IL, translation fault level 3; FAR = IPA = 0x400.
    assert.deepEqual(r.value, {
      reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
      exception: { syndrome: 0x8200_0007n, virtual_address: 0x400n, physical_address: 0x400n },
    });
    const reg = (n: number) => m.hv_vcpu_get_reg(1, cpu, n).value;
    const sys = (n: number) => m.hv_vcpu_get_sys_reg(1, cpu, n).value;
    assert.equal(reg(HV_REG.HV_REG_X1), 7n);
    assert.equal(reg(HV_REG.HV_REG_PC), 0x400n);
    assert.equal(reg(HV_REG.HV_REG_CPSR), 0x3c5n);
    assert.equal(sys(HV_SYS_REG.HV_SYS_REG_ESR_EL1), 0x0200_0000n);
    assert.equal(sys(HV_SYS_REG.HV_SYS_REG_ELR_EL1), 0x10004n);
    assert.equal(sys(HV_SYS_REG.HV_SYS_REG_SPSR_EL1), 0n);
  });

  it('keeps SP_EL0 and SP_EL1 apart through the API and the guest; CPSR reads back as the guest left PSTATE', () => {
    const m = createArm64Model({ engines: { arm64: arm64Engine } });
    m.hv_vm_create(0, null);
    const ram = m.host_alloc(Number(G));
    // add sp, sp, #16; hvc #0
    m.host_write(ram, 0, Uint8Array.of(0xff, 0x43, 0x00, 0x91, 0x02, 0x00, 0x00, 0xd4));
    m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, G, RWX);
    const cpu = m.hv_vcpu_create(0, null).value!;
    m.hv_vcpu_set_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_SP_EL0, 0x100n);
    m.hv_vcpu_set_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_SP_EL1, 0x200n);
    m.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
    // Bits no PSTATE field has (here bit 5, and bit 40): kept as written until the guest runs.
    m.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3e5n | (1n << 40n));
    assert.equal(m.hv_vcpu_get_reg(0, cpu, HV_REG.HV_REG_CPSR).value, 0x3e5n | (1n << 40n));
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_get_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_SP_EL0).value, 0x100n);
    assert.equal(m.hv_vcpu_get_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_SP_EL1).value, 0x210n);
    assert.equal(m.hv_vcpu_get_reg(0, cpu, HV_REG.HV_REG_CPSR).value, 0x3c5n);
  });
});
