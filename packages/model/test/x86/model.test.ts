import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Vcpu } from '@hvspec/spec';
import {
  CPU_BASED,
  CPU_BASED2,
  canonicalizeControl,
  forgeSpace,
  forgeVcpu,
  HV,
  HV_CAP,
  HV_MEMORY,
  HV_VMX_CAP,
  HV_X86_REG,
  PIN_BASED,
  VMCS,
  VMX_REASON,
} from '@hvspec/spec';
import { createModel, createX86Model } from '../../src/create.js';
import type { X86Engine, X86Stop } from '../../src/engine.js';
import type { X86Model } from '../../src/x86/model.js';

const RWX = HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC;
const P = 4096n;

function withVm(options: Parameters<typeof createX86Model>[0] = {}): X86Model {
  const m = createX86Model(options);
  assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  return m;
}

function vcpu(m: X86Model, t = 0): Vcpu {
  const r = m.hv_vcpu_create(t, 0n);
  assert.equal(r.ret, HV.HV_SUCCESS);
  return r.value!;
}

function vmcs(m: X86Model, cpu: Vcpu, field: number, t = 0): bigint {
  const r = m.hv_vmx_vcpu_read_vmcs(t, cpu, field);
  assert.equal(r.ret, HV.HV_SUCCESS);
  return r.value!;
}

/** An engine that always stops the same way. */
function stopWith(stop: X86Stop): X86Engine {
  return () => stop;
}

describe('x86 model: capabilities', () => {
  it('declares itself', () => {
    const m = createModel('x86_64');
    assert.equal(m.capabilities.backend, 'model');
    assert.equal(m.capabilities.pageSize, 4096);
    assert.equal(m.capabilities.guestExecution, false);
    assert.deepEqual(m.capabilities.enforcedPermissions, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(m.capabilities.deviations, []);
    assert.equal(
      createX86Model({ engines: { x86: stopWith({ kind: 'hlt', len: 1 }) } }).capabilities.guestExecution,
      true,
    );
  });

  it('hv_capability answers VCPUMAX and ADDRSPACEMAX without a VM, BAD_ARGUMENT otherwise', () => {
    const m = createX86Model({ maxVcpus: 7, maxAddressSpaces: 3 });
    assert.deepEqual(m.hv_capability(0, HV_CAP.HV_CAP_VCPUMAX), { ret: HV.HV_SUCCESS, value: 7n });
    assert.deepEqual(m.hv_capability(0, HV_CAP.HV_CAP_ADDRSPACEMAX), { ret: HV.HV_SUCCESS, value: 3n });
    assert.equal(m.hv_capability(0, 2).ret, HV.HV_BAD_ARGUMENT);
  });

  it('hv_vmx_read_capability: every id succeeds with must-be-1 ⊆ may-be-1; unknown ids fail', () => {
    const m = createX86Model();
    for (const id of Object.values(HV_VMX_CAP)) {
      const r = m.hv_vmx_read_capability(0, id);
      assert.equal(r.ret, HV.HV_SUCCESS, `cap ${id}`);
      const must = r.value! & 0xffff_ffffn;
      const may = r.value! >> 32n;
      assert.equal(must & ~may, 0n, `cap ${id}: must ⊆ may`);
      assert.equal(r.value, m.capabilities.vmxCapabilities![id]);
    }
    assert.equal(m.hv_vmx_read_capability(0, 17).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_read_capability(0, 33).ret, HV.HV_BAD_ARGUMENT);
  });

  it('has the shape of a real Intel host under Hypervisor.framework', () => {
    const caps = createX86Model().capabilities.vmxCapabilities!;
    const must = (id: number) => Number(caps[id]! & 0xffff_ffffn);
    const may = (id: number) => Number(caps[id]! >> 32n);
    const has = (mask: number, bits: number) => (mask & bits) >>> 0 === bits >>> 0;
    assert.ok(has(must(HV_VMX_CAP.HV_VMX_CAP_PINBASED), PIN_BASED.PIN_BASED_INTR | PIN_BASED.PIN_BASED_NMI));
    assert.ok(
      has(
        must(HV_VMX_CAP.HV_VMX_CAP_PROCBASED),
        CPU_BASED.CPU_BASED_UNCOND_IO | CPU_BASED.CPU_BASED_SECONDARY_CTLS,
      ),
    );
    assert.ok(
      has(
        may(HV_VMX_CAP.HV_VMX_CAP_PROCBASED),
        CPU_BASED.CPU_BASED_HLT | CPU_BASED.CPU_BASED_CR8_LOAD | CPU_BASED.CPU_BASED_CR8_STORE,
      ),
    );
    assert.ok(has(must(HV_VMX_CAP.HV_VMX_CAP_PROCBASED2), CPU_BASED2.CPU_BASED2_EPT));
  });
});

describe('x86 model: VM lifecycle', () => {
  it('hv_vm_create: BUSY while a VM exists, SUCCESS after destroy, BAD_ARGUMENT for unknown option bits', () => {
    const m = createX86Model();
    assert.equal(m.hv_vm_create(0, 1n << 5n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_create(0, 0x5fn).ret, HV.HV_SUCCESS); // SPECIFY_MITIGATIONS | A..E
    assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_BUSY);
    assert.equal(m.hv_vm_create(1, 1n << 40n).ret, HV.HV_BAD_ARGUMENT); // argument values before state conflicts
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
  });

  it('hv_vm_destroy: NO_DEVICE without a VM, BUSY with live vCPUs', () => {
    const m = createX86Model();
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_NO_DEVICE);
    m.hv_vm_create(0, 0n);
    const cpu = vcpu(m, 3);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_BUSY);
    assert.equal(m.hv_vcpu_destroy(3, cpu).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
  });

  it('reset() drops a VM with live vCPUs', async () => {
    const m = withVm();
    vcpu(m);
    await m.reset();
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
    await m.close();
    assert.throws(() => m.hv_vm_destroy(0), Error);
  });
});

describe('x86 model: mappings', () => {
  it('every map/unmap/protect/space call returns NO_DEVICE without a VM', () => {
    const m = createX86Model();
    const ram = m.host_alloc(4096);
    const s0 = forgeSpace(0);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, P, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_unmap(0, 0n, P).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_protect(0, 0n, P, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_map_space(0, s0, { mem: ram, offset: 0 }, 0n, P, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_unmap_space(0, s0, 0n, P).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_protect_space(0, s0, 0n, P, RWX).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_space_create(0).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_space_destroy(0, forgeSpace(1)).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vcpu_create(0, 0n).ret, HV.HV_NO_DEVICE);
  });

  it('rejects bad arguments with BAD_ARGUMENT and overlaps with HV_ERROR', () => {
    const m = withVm();
    const ram = m.host_alloc(4 * 4096);
    const uva = { mem: ram, offset: 0 };
    assert.equal(m.hv_vm_map(0, uva, 0x800n, P, RWX).ret, HV.HV_BAD_ARGUMENT); // gpa not 4 KiB aligned
    assert.equal(m.hv_vm_map(0, uva, 0n, 0x800n, RWX).ret, HV.HV_BAD_ARGUMENT); // size not aligned
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0x800 }, 0n, P, RWX).ret, HV.HV_BAD_ARGUMENT); // uva offset
    assert.equal(m.hv_vm_map(0, uva, 0n, 0n, RWX).ret, HV.HV_BAD_ARGUMENT); // size 0
    assert.equal(m.hv_vm_map(0, uva, 0n, P, 8).ret, HV.HV_BAD_ARGUMENT); // HV_MEMORY_UEXEC is outside RWX
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 4096 }, 0n, 4n * P, RWX).ret, HV.HV_BAD_ARGUMENT); // past the buffer
    assert.equal(m.hv_vm_map(0, uva, 0xffff_ffff_ffff_f000n, 2n * P, RWX).ret, HV.HV_BAD_ARGUMENT); // wraps 2^64
    assert.equal(m.hv_vm_map(0, uva, 0xffff_ffff_ffff_f000n, P, RWX).ret, HV.HV_SUCCESS); // ends exactly at 2^64
    assert.equal(m.hv_vm_map(0, uva, 0x10000n, 2n * P, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 8192 }, 0x11000n, 2n * P, RWX).ret, HV.HV_ERROR);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 8192 }, 0x12000n, 2n * P, 0).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_unmap(0, 0x10000n, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_unmap(0, 0x10010n, P).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, 0x10000n, 0n, RWX).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, 0x10000n, P, 0x10).ret, HV.HV_BAD_ARGUMENT);
  });

  it('unmap removes only the mapped parts of a range; protect needs the whole range mapped', () => {
    const m = withVm();
    const ram = m.host_alloc(4 * 4096);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 4n * P, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_unmap(0, 0x11000n, P).ret, HV.HV_SUCCESS);
    // Page 2 is a hole now: protect over it fails and changes nothing; protect around it succeeds.
    assert.equal(m.hv_vm_protect(0, 0x10000n, 3n * P, HV_MEMORY.READ).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect(0, 0x12000n, 2n * P, HV_MEMORY.READ).ret, HV.HV_SUCCESS);
    // Unmapping a range that is partly unmapped succeeds.
    assert.equal(m.hv_vm_unmap(0, 0x10000n, 3n * P).ret, HV.HV_SUCCESS);
    // Only page 4 is left: mapping pages 1..3 again works, page 4 overlaps.
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 3n * P, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x13000n, P, RWX).ret, HV.HV_ERROR);
    // Unmapping a never-mapped range succeeds.
    assert.equal(m.hv_vm_unmap(0, 0x900000n, P).ret, HV.HV_SUCCESS);
  });

  it('address spaces: limits, unknown ids, busy spaces', () => {
    const m = withVm({ maxAddressSpaces: 3 });
    const ram = m.host_alloc(4096);
    const a = m.hv_vm_space_create(0);
    const b = m.hv_vm_space_create(0);
    assert.equal(a.ret, HV.HV_SUCCESS);
    assert.equal(b.ret, HV.HV_SUCCESS);
    assert.notEqual(a.value, 0);
    assert.equal(m.hv_vm_space_create(0).ret, HV.HV_NO_RESOURCES); // the default space counts
    assert.equal(m.hv_vm_space_destroy(0, forgeSpace(0)).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_space_destroy(0, forgeSpace(99)).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(
      m.hv_vm_map_space(0, forgeSpace(99), { mem: ram, offset: 0 }, 0n, P, RWX).ret,
      HV.HV_BAD_ARGUMENT,
    );
    assert.equal(m.hv_vm_unmap_space(0, forgeSpace(99), 0n, P).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_protect_space(0, forgeSpace(99), 0n, P, RWX).ret, HV.HV_BAD_ARGUMENT);
    // Spaces are independent: the same GPA maps in two of them.
    assert.equal(m.hv_vm_map_space(0, a.value!, { mem: ram, offset: 0 }, 0n, P, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, P, RWX).ret, HV.HV_SUCCESS);
    const cpu = vcpu(m, 2);
    assert.equal(m.hv_vcpu_set_space(2, cpu, forgeSpace(99)).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_set_space(2, cpu, a.value!).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_space_destroy(0, a.value!).ret, HV.HV_BUSY);
    assert.equal(m.hv_vm_space_destroy(0, b.value!).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_space_create(0).ret, HV.HV_SUCCESS);
  });
});

describe('x86 model: vCPUs and registers', () => {
  it('hv_vcpu_create: several per thread, NO_RESOURCES beyond maxVcpus, BAD_ARGUMENT for unknown options', () => {
    const m = withVm({ maxVcpus: 2 });
    assert.equal(m.hv_vcpu_create(0, 4n).ret, HV.HV_BAD_ARGUMENT);
    const a = vcpu(m);
    const b = vcpu(m);
    assert.notEqual(a, b);
    assert.equal(m.hv_vcpu_create(0, 0n).ret, HV.HV_NO_RESOURCES);
    m.hv_vcpu_destroy(0, a);
    assert.equal(m.hv_vcpu_create(1, 3n).ret, HV.HV_SUCCESS); // ACCEL_RDPMC | TSC_RELATIVE
  });

  it('per-vCPU calls with a stale handle or from another thread return BAD_ARGUMENT', () => {
    const m = withVm();
    const cpu = vcpu(m, 1);
    const ghost = forgeVcpu(42);
    assert.equal(m.hv_vcpu_read_register(0, cpu, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_write_register(0, cpu, 0, 1n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, VMCS.VMCS_GUEST_RIP).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_destroy(0, cpu).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_read_register(1, ghost, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_destroy(1, cpu).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_read_register(1, cpu, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_destroy(1, cpu).ret, HV.HV_BAD_ARGUMENT);
  });

  it('every register round-trips 64 bits; reg ≥ 51 is BAD_ARGUMENT', () => {
    const m = withVm();
    const cpu = vcpu(m);
    for (let reg = 0; reg < HV_X86_REG.HV_X86_REGISTERS_MAX; reg++) {
      const value = 0x8765_4321_0fed_cba9n ^ BigInt(reg);
      assert.equal(m.hv_vcpu_write_register(0, cpu, reg, value).ret, HV.HV_SUCCESS);
      assert.deepEqual(m.hv_vcpu_read_register(0, cpu, reg), { ret: HV.HV_SUCCESS, value }, `reg ${reg}`);
    }
    assert.equal(m.hv_vcpu_read_register(0, cpu, 51).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_write_register(0, cpu, 51, 0n).ret, HV.HV_BAD_ARGUMENT);
  });

  it('registers and VMCS guest fields are one store', () => {
    const m = withVm();
    const cpu = vcpu(m);
    m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_RIP, 0x1234n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_RIP), 0x1234n);
    m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_RSP, 0x8000n);
    assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RSP).value, 0x8000n);
    // A selector written through the register API reads back whole; the 16-bit field holds its truncation.
    m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_CS, 0x1_0010n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_CS), 0x10n);
    assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_CS).value, 0x1_0010n);
    // Once the field changes, the register follows it.
    m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_CS, 0x18n);
    assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_CS).value, 0x18n);
  });

  it('initial state: RFLAGS 0x2, CR0 0x20, untouched fields read 0', () => {
    const m = withVm();
    const cpu = vcpu(m);
    assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RFLAGS).value, 0x2n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_CR0), 0x20n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_CTRL_EXC_BITMAP), 0n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_CTRL_CPU_BASED), 0n);
  });
});

describe('x86 model: VMCS access', () => {
  it('EPTP, unknown and host-state fields are BAD_ARGUMENT; read-only fields cannot be written', () => {
    const m = withVm();
    const cpu = vcpu(m);
    assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, VMCS.VMCS_CTRL_EPTP).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_EPTP, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, 0x1234).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, 0x2001, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, VMCS.VMCS_HOST_RIP).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_HOST_CR3, 0n).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, VMCS.VMCS_MAX).ret, HV.HV_BAD_ARGUMENT);
    for (const f of [
      VMCS.VMCS_RO_EXIT_REASON,
      VMCS.VMCS_RO_EXIT_QUALIFIC,
      VMCS.VMCS_GUEST_PHYSICAL_ADDRESS,
      VMCS.VMCS_RO_IO_RIP,
    ]) {
      assert.equal(
        m.hv_vmx_vcpu_write_vmcs(0, cpu, f, 1n).ret,
        HV.HV_BAD_ARGUMENT,
        `write ${f.toString(16)}`,
      );
      assert.equal(m.hv_vmx_vcpu_read_vmcs(0, cpu, f).ret, HV.HV_SUCCESS, `read ${f.toString(16)}`);
    }
  });

  it('control writes must honour the capability masks', () => {
    const m = withVm();
    const cpu = vcpu(m);
    const cap = (id: number) => m.hv_vmx_read_capability(0, id).value!;
    const pairs: [number, number, number][] = [
      [VMCS.VMCS_CTRL_PIN_BASED, HV_VMX_CAP.HV_VMX_CAP_PINBASED, 0],
      [
        VMCS.VMCS_CTRL_CPU_BASED,
        HV_VMX_CAP.HV_VMX_CAP_PROCBASED,
        CPU_BASED.CPU_BASED_HLT | CPU_BASED.CPU_BASED_CR8_LOAD | CPU_BASED.CPU_BASED_CR8_STORE,
      ],
      [VMCS.VMCS_CTRL_CPU_BASED2, HV_VMX_CAP.HV_VMX_CAP_PROCBASED2, 0],
      [VMCS.VMCS_CTRL_VMENTRY_CONTROLS, HV_VMX_CAP.HV_VMX_CAP_ENTRY, 0],
      [VMCS.VMCS_CTRL_VMEXIT_CONTROLS, HV_VMX_CAP.HV_VMX_CAP_EXIT, 0],
    ];
    for (const [field, id, want] of pairs) {
      const good = canonicalizeControl(cap(id), want);
      assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, field, BigInt(good)).ret, HV.HV_SUCCESS);
      assert.equal(vmcs(m, cpu, field), BigInt(good));
      // Missing a must-be-1 bit fails and leaves the field unchanged.
      assert.equal(m.hv_vmx_vcpu_write_vmcs(0, cpu, field, 0n).ret, HV.HV_BAD_ARGUMENT);
      assert.equal(vmcs(m, cpu, field), BigInt(good));
    }
    // A may-not-be-1 bit (I/O bitmaps) fails.
    const proc =
      canonicalizeControl(cap(HV_VMX_CAP.HV_VMX_CAP_PROCBASED), 0) | CPU_BASED.CPU_BASED_IO_BITMAPS;
    assert.equal(
      m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_CPU_BASED, BigInt(proc >>> 0)).ret,
      HV.HV_BAD_ARGUMENT,
    );
  });

  it('values round-trip truncated to the field width', () => {
    const m = withVm();
    const cpu = vcpu(m);
    m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_GUEST_ES, 0x12345n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_ES), 0x2345n);
    m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_EXC_BITMAP, 0x1_ffff_ffffn);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_CTRL_EXC_BITMAP), 0xffff_ffffn);
    m.hv_vmx_vcpu_write_vmcs(0, cpu, VMCS.VMCS_CTRL_CR0_MASK, 0xffff_ffff_ffff_ffffn);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_CTRL_CR0_MASK), 0xffff_ffff_ffff_ffffn);
  });
});

describe('x86 model: hv_vcpu_interrupt and running', () => {
  it('kicks from any thread; a stale handle fails the whole call and sets no flag', () => {
    const m = withVm();
    const a = vcpu(m, 1);
    const b = vcpu(m, 2);
    assert.equal(m.hv_vcpu_interrupt(5, [a, forgeVcpu(77)], 2).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vcpu_run(1, a).ret, HV.HV_UNSUPPORTED); // no flag was set, and no engine
    assert.equal(m.hv_vcpu_interrupt(5, [a, b], 2).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_interrupt(5, [a, forgeVcpu(77)], 1).ret, HV.HV_SUCCESS); // only vcpu_count entries count
    assert.throws(() => m.hv_vcpu_interrupt(0, [a], 2), TypeError);
    assert.equal(createX86Model().hv_vcpu_interrupt(0, [a], 1).ret, HV.HV_NO_DEVICE);
  });

  it('a pending kick makes the next run exit at once with VMX_REASON_IRQ, without an engine', () => {
    const m = withVm();
    const cpu = vcpu(m);
    m.hv_vcpu_write_register(0, cpu, HV_X86_REG.HV_X86_RIP, 0x1000n);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_UNSUPPORTED);
    m.hv_vcpu_interrupt(0, [cpu], 1);
    m.hv_vcpu_interrupt(0, [cpu], 1); // kicks do not queue
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON), BigInt(VMX_REASON.VMX_REASON_IRQ));
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), 0n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_RIP), 0x1000n);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_UNSUPPORTED); // the flag was consumed
  });

  it('translates engine stops into VMCS exit information', () => {
    const cases: [X86Stop, number, bigint, bigint][] = [
      [
        { kind: 'io', port: 0x3f8, size: 1, in: false, string: false, rep: false, imm: false, len: 1 },
        30,
        0x3f8_0000n,
        1n,
      ],
      [
        { kind: 'io', port: 0xe4, size: 4, in: true, string: false, rep: false, imm: true, len: 2 },
        30,
        0xe4_0000n | 3n | 8n | 64n,
        2n,
      ],
      [
        { kind: 'io', port: 0x80, size: 2, in: false, string: true, rep: true, imm: false, len: 3 },
        30,
        0x80_0000n | 1n | 16n | 32n,
        3n,
      ],
      [{ kind: 'hlt', len: 1 }, 12, 0n, 1n],
      [{ kind: 'triple-fault' }, 2, 0n, 0n],
    ];
    for (const [stop, reason, qual, len] of cases) {
      const m = withVm({ engines: { x86: stopWith(stop) } });
      const cpu = vcpu(m);
      assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
      assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON), BigInt(reason), stop.kind);
      assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC), qual, stop.kind);
      assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN), len, stop.kind);
    }
  });

  it('EPT violations carry access, permissions, GLA bits, GPA and GLA', () => {
    const run = (stop: X86Stop) => {
      const m = withVm({ engines: { x86: stopWith(stop) } });
      const cpu = vcpu(m);
      assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
      return {
        reason: vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON),
        qual: vmcs(m, cpu, VMCS.VMCS_RO_EXIT_QUALIFIC),
        gpa: vmcs(m, cpu, VMCS.VMCS_GUEST_PHYSICAL_ADDRESS),
        gla: vmcs(m, cpu, VMCS.VMCS_RO_GUEST_LIN_ADDR),
        len: vmcs(m, cpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN),
      };
    };
    const write = run({
      kind: 'ept',
      gla: 0x5008n,
      fault: { gpa: 0x5008n, access: 'write', size: 4, mapped: true, perms: HV_MEMORY.READ },
    });
    assert.deepEqual(write, { reason: 48n, qual: 0x2n | 0x8n | 0x180n, gpa: 0x5008n, gla: 0x5008n, len: 0n });
    assert.equal(write.qual & 0x86n, 0x82n); // Apple's test: write fault with GLA valid
    const fetch = run({
      kind: 'ept',
      gla: 0x9000n,
      fault: {
        gpa: 0x9000n,
        access: 'fetch',
        size: 1,
        mapped: true,
        perms: HV_MEMORY.READ | HV_MEMORY.WRITE,
      },
    });
    assert.equal(fetch.qual, 0x4n | 0x8n | 0x10n | 0x180n);
    assert.equal(fetch.qual & 0x86n, 0x84n);
    const unmapped = run({
      kind: 'ept',
      gla: 0xd000_0000n,
      fault: { gpa: 0xd000_0000n, access: 'read', size: 4, mapped: false, perms: 0 },
    });
    assert.equal(unmapped.qual, 0x1n | 0x180n);
  });

  it('an unsupported instruction is HV_ERROR with the bytes in model_last_unsupported', () => {
    const m = withVm({
      engines: {
        x86: stopWith({ kind: 'unsupported', bytes: new Uint8Array([0x0f, 0xa2]), reason: 'cpuid' }),
      },
    });
    const cpu = vcpu(m);
    assert.equal(m.model_last_unsupported(cpu), undefined);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_ERROR);
    assert.deepEqual(m.model_last_unsupported(cpu), { bytes: new Uint8Array([0x0f, 0xa2]), reason: 'cpuid' });
  });

  it('hv_vcpu_run_until with a finite deadline runs as forever', () => {
    const m = withVm({ engines: { x86: stopWith({ kind: 'hlt', len: 1 }) } });
    const cpu = vcpu(m);
    assert.equal(m.hv_vcpu_run_until(0, cpu, 1000n).ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 12n);
  });

  it('maxSyncInstructions ends a spinning sync run with a spurious VMX_REASON_IRQ', () => {
    const m = withVm({ engines: { x86: spinner() }, maxSyncInstructions: 50 });
    const cpu = vcpu(m);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON), 1n);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_RIP), 0xfff0n + 50n);
  });
});

/** A guest that spins: every "instruction" is one byte long and never exits. */
function spinner(): X86Engine {
  return (cpu, _mem, budget) => {
    cpu.rip += BigInt(budget);
    return { kind: 'budget' };
  };
}

describe('x86 model: async runs', () => {
  it('hv_vcpu_interrupt from another thread cancels a spinning run; RIP is at the next instruction', async () => {
    const m = withVm({ engines: { x86: spinner() }, budget: 100 });
    const cpu = vcpu(m, 1);
    m.hv_vcpu_write_register(1, cpu, HV_X86_REG.HV_X86_RIP, 0n);
    const run = m.hv_vcpu_run_async(1, cpu);
    // Thread 1 is inside hv_vcpu_run: its calls answer HV_BUSY, as on the native backend; thread 0
    // cannot run asynchronously (it is the caller itself).
    assert.equal(m.hv_vcpu_read_register(1, cpu, 0).ret, HV.HV_BUSY);
    assert.equal((await m.hv_vcpu_run_async(1, cpu)).ret, HV.HV_BUSY);
    assert.throws(() => m.hv_vcpu_run_async(0, cpu), {
      name: 'TypeError',
      message: /^t must be a logical thread > 0/,
    });
    // Another thread cannot touch the vCPU either; the VM cannot go away.
    assert.equal(m.hv_vcpu_read_register(0, cpu, 0).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(m.hv_vm_destroy(0).ret, HV.HV_BUSY);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(m.hv_vcpu_interrupt(0, [cpu], 1).ret, HV.HV_SUCCESS);
    const r = await run;
    assert.equal(r.ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON, 1), BigInt(VMX_REASON.VMX_REASON_IRQ));
    const rip = vmcs(m, cpu, VMCS.VMCS_GUEST_RIP, 1);
    assert.ok(rip > 0n && rip % 100n === 0n, `RIP ${rip} is at a slice boundary`);
    // The flag was consumed by the run it cancelled.
    assert.equal(m.hv_vcpu_interrupt(0, [cpu], 1).ret, HV.HV_SUCCESS);
    assert.equal((await m.hv_vcpu_run_async(1, cpu)).ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_GUEST_RIP, 1), rip, 'a pending kick does not enter the guest');
  });

  it('an async run ends by itself on a real exit', async () => {
    let n = 0;
    const m = withVm({
      engines: {
        x86: (cpu, _mem, budget) => {
          n++;
          if (n >= 5) return { kind: 'hlt', len: 1 };
          cpu.rip += BigInt(budget);
          return { kind: 'budget' };
        },
      },
      budget: 10,
    });
    const cpu = vcpu(m, 1);
    assert.equal((await m.hv_vcpu_run_async(1, cpu)).ret, HV.HV_SUCCESS);
    assert.equal(vmcs(m, cpu, VMCS.VMCS_RO_EXIT_REASON, 1), 12n);
    assert.equal(n, 5);
  });

  it('reset() during an async run ends it with NO_DEVICE', async () => {
    const m = withVm({ engines: { x86: spinner() }, budget: 10 });
    const cpu = vcpu(m, 1);
    const run = m.hv_vcpu_run_async(1, cpu);
    await m.reset();
    assert.equal((await run).ret, HV.HV_NO_DEVICE);
    assert.equal(m.hv_vm_create(1, 0n).ret, HV.HV_SUCCESS); // thread 1 is free again
  });
});

describe('x86 model: JS type checks', () => {
  it('throws TypeError naming the parameter', () => {
    const m = withVm();
    const cpu = vcpu(m);
    const ram = m.host_alloc(4096);
    const any = (v: unknown) => v as never;
    assert.throws(() => m.hv_vm_create(0, any(0)), /flags/);
    assert.throws(() => m.hv_vm_create(any(-1), 0n), /thread/);
    assert.throws(() => m.hv_vm_map(0, { mem: ram, offset: 0 }, any(0), P, RWX), /gpa/);
    assert.throws(() => m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, any(4096), RWX), /size/);
    assert.throws(() => m.hv_vm_map(0, { mem: ram, offset: 0 }, 0n, P, any(1n)), /flags/);
    assert.throws(() => m.hv_vm_map(0, { mem: ram, offset: any(-1) }, 0n, P, RWX), /uva.offset/);
    assert.throws(() => m.hv_vm_map(0, any(null), 0n, P, RWX), /uva/);
    assert.throws(
      () => m.hv_vm_map(0, { mem: any({ id: 999, size: 4096 }), offset: 0 }, 0n, P, RWX),
      /uva.mem/,
    );
    assert.throws(() => m.hv_vcpu_read_register(0, any('0'), 0), /vcpu/);
    assert.throws(() => m.hv_vcpu_write_register(0, cpu, 0, any(1)), /value/);
    assert.throws(() => m.hv_vcpu_write_register(0, cpu, 0, 1n << 64n), /value/);
    assert.throws(() => m.hv_vmx_vcpu_read_vmcs(0, cpu, any(0x681en)), /field/);
    assert.throws(() => m.hv_vcpu_run_until(0, cpu, any(1)), /deadline/);
    assert.throws(() => m.hv_vcpu_interrupt(0, any([0n]), 1), /vcpus\[0\]/);
    assert.throws(() => m.hv_vcpu_interrupt(0, [cpu], any(1n)), /vcpu_count/);
    assert.throws(() => m.hv_capability(0, any(0n)), /capability/);
  });
});
