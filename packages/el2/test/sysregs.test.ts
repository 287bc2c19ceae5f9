/** The system-register table the runtime is built with, and the C it generates. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HV_SYS_REG, HV_SYS_REG_ID_REGISTERS } from '@hvspec/spec';
import { SYSREG_CLASS } from '../src/abi.ts';
import { classify, genericName, isTid3Register, sysRegHeader, sysRegTable } from '../src/sysregs.ts';

describe('system registers of a vCPU', () => {
  it('every hv_sys_reg_t of the spec has a place, in the spec’s order', () => {
    const table = sysRegTable();
    assert.deepEqual(
      table.map((e) => e.reg),
      Object.values(HV_SYS_REG),
    );
  });

  it('identification registers are emulated, MIDR/MPIDR go through VPIDR_EL2/VMPIDR_EL2', () => {
    for (const r of HV_SYS_REG_ID_REGISTERS)
      assert.equal(classify(r), SYSREG_CLASS.ID, `0x${r.toString(16)}`);
    assert.equal(classify(HV_SYS_REG.HV_SYS_REG_MIDR_EL1), SYSREG_CLASS.VPIDR);
    assert.equal(classify(HV_SYS_REG.HV_SYS_REG_MPIDR_EL1), SYSREG_CLASS.VMPIDR);
    assert.ok(isTid3Register(0xc032), 'ID_AA64ISAR2_EL1 is in the TID3 space');
    assert.ok(!isTid3Register(HV_SYS_REG.HV_SYS_REG_MIDR_EL1), 'MIDR_EL1 is not (CRm 0)');
  });

  it('no register the spec might add for EL2 is ever restored from guest state', () => {
    // HCR_EL2, VTTBR_EL2, ELR_EL2, CNTHCTL_EL2: op1 = 4 (EL2) — only SP_EL1 (op1 4, CRn 4) is let through.
    for (const r of [0xe088, 0xe108, 0xe201, 0xe708]) assert.equal(classify(r), SYSREG_CLASS.SOFT);
    assert.equal(classify(HV_SYS_REG.HV_SYS_REG_SP_EL1), SYSREG_CLASS.EL1);
    // TPIDR2_EL0 needs SME, which this CPU model does not have.
    assert.equal(classify(HV_SYS_REG.HV_SYS_REG_TPIDR2_EL0), SYSREG_CLASS.SOFT);
  });

  it('the generated C accesses EL1 registers by their generic names', () => {
    assert.equal(genericName(HV_SYS_REG.HV_SYS_REG_SCTLR_EL1), 'S3_0_C1_C0_0');
    assert.equal(genericName(HV_SYS_REG.HV_SYS_REG_MDSCR_EL1), 'S2_0_C0_C2_2');
    const h = sysRegHeader(sysRegTable());
    assert.match(h, /msr S3_0_C1_C0_0, %0/);
    assert.match(h, /msr vpidr_el2/);
    assert.doesNotMatch(h, /S3_3_C13_C0_5/, 'TPIDR2_EL0 is not touched');
  });
});
