/**
 * The in-framework GIC on el2 (README.md, "Choices"): the spec's software GIC, reached through el2's own
 * VM and vCPU records — the VM's lifetime, a vCPU's MPIDR_EL1 as the runtime's slot holds it, the owner
 * of a vCPU, and "a vCPU entered the guest" from a real run.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  type GicConfig,
  HV,
  HV_GIC_DISTRIBUTOR_REG,
  HV_GIC_REDISTRIBUTOR_REG,
  HV_SYS_REG,
  type Vcpu,
} from '@hvspec/spec';
import { el2, exitOf, skip } from './helpers.ts';

const backend = el2();
const DIST = 0x800_0000n;
const REDIST = 0x80a_0000n;

/** A GIC configuration with the distributor and redistributor bases of QEMU's virt machine. */
function config(): GicConfig {
  const b = backend();
  const c = b.hv_gic_config_create(0);
  assert.equal(c.ret, HV.HV_SUCCESS);
  const cfg = c.value as GicConfig;
  assert.equal(b.hv_gic_config_set_distributor_base(0, cfg, DIST).ret, HV.HV_SUCCESS);
  assert.equal(b.hv_gic_config_set_redistributor_base(0, cfg, REDIST).ret, HV.HV_SUCCESS);
  return cfg;
}

describe('the GIC on el2', { skip }, () => {
  beforeEach(async () => {
    await backend().reset();
  });

  it('says what it is in its capabilities', () => {
    const g = backend().capabilities.gic;
    assert.ok(g, 'capabilities.gic');
    assert.equal(g.redistributorSize, 0x2_0000);
    assert.equal(g.redistributorRegionSize, 0x2_0000 * backend().capabilities.maxVcpus);
  });

  it('needs a VM, and comes before the first vCPU', () => {
    const b = backend();
    const cfg = config();
    assert.equal(b.hv_gic_create(0, cfg).ret, HV.HV_NO_DEVICE);
    assert.equal(b.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
    const v = b.hv_vcpu_create(0, null);
    assert.equal(v.ret, HV.HV_SUCCESS);
    assert.equal(b.hv_gic_create(0, cfg).ret, HV.HV_BUSY);
    assert.equal(b.hv_gic_set_spi(0, 33, true).ret, HV.HV_NO_DEVICE);
    assert.equal(b.hv_vcpu_destroy(0, v.value as Vcpu).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
  });

  it("places a vCPU's redistributor by the MPIDR_EL1 the VMM wrote, for any thread to ask", () => {
    const b = backend();
    assert.equal(b.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_gic_create(0, config()).ret, HV.HV_SUCCESS);
    const cpu = b.hv_vcpu_create(1, null).value as Vcpu;
    assert.equal(
      b.hv_vcpu_set_sys_reg(1, cpu, HV_SYS_REG.HV_SYS_REG_MPIDR_EL1, 0x8000_0003n).ret,
      HV.HV_SUCCESS,
    );
    assert.deepEqual(b.hv_gic_get_redistributor_base(0, cpu), {
      ret: HV.HV_SUCCESS,
      value: REDIST + 3n * 0x2_0000n,
    });
    // Its registers are its owner's to read and write.
    const reg = HV_GIC_REDISTRIBUTOR_REG.HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0;
    assert.equal(b.hv_gic_get_redistributor_reg(0, cpu, reg).ret, HV.HV_BAD_ARGUMENT);
    assert.equal(b.hv_gic_set_redistributor_reg(1, cpu, reg, 1n << 27n).ret, HV.HV_SUCCESS);
    assert.deepEqual(b.hv_gic_get_redistributor_reg(1, cpu, reg), { ret: HV.HV_SUCCESS, value: 1n << 27n });
    assert.equal(b.hv_vcpu_destroy(1, cpu).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
  });

  it('restores its state data after hv_gic_reset, and refuses it once a vCPU has run', () => {
    const b = backend();
    assert.equal(b.hv_vm_create(0, null).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_gic_create(0, config()).ret, HV.HV_SUCCESS);
    const ctlr = HV_GIC_DISTRIBUTOR_REG.HV_GIC_DISTRIBUTOR_REG_GICD_CTLR;
    assert.equal(b.hv_gic_set_distributor_reg(0, ctlr, 0x3n).ret, HV.HV_SUCCESS);
    const snap = b.hv_gic_state_create(0);
    assert.equal(snap.ret, HV.HV_SUCCESS);
    const data = b.hv_gic_state_get_data(0, snap.value as never).value as Uint8Array;
    assert.equal(b.hv_gic_reset(0).ret, HV.HV_SUCCESS);
    assert.equal((b.hv_gic_get_distributor_reg(0, ctlr).value as bigint) & 0x3n, 0n);
    // hv_gic_set_state needs a vCPU, and no vCPU may have run.
    assert.equal(b.hv_gic_set_state(0, data, BigInt(data.length)).ret, HV.HV_BUSY);
    const v = b.hv_vcpu_create(0, null).value as Vcpu;
    assert.equal(b.hv_gic_set_state(0, data, BigInt(data.length)).ret, HV.HV_SUCCESS);
    assert.equal((b.hv_gic_get_distributor_reg(0, ctlr).value as bigint) & 0x3n, 0x3n);
    exitOf(b.hv_vcpu_run(0, v)); // a fresh vCPU at EL0 on unmapped memory: an exit all the same
    assert.equal(b.hv_gic_set_state(0, data, BigInt(data.length)).ret, HV.HV_BUSY);
    assert.equal(b.hv_vcpu_destroy(0, v).ret, HV.HV_SUCCESS);
    assert.equal(b.hv_vm_destroy(0).ret, HV.HV_SUCCESS);
  });
});
