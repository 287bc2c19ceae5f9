// The README's "use the model as a test double" example, verbatim in substance: if this breaks, so
// does the documentation.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { HV, HV_EXIT_REASON, HV_MEMORY, HV_REG } from '@hvspec/spec';
import { createModel } from '../src/index.ts';

it('README example: str w1, [x0] to an unmapped IPA is a data abort with a valid syndrome', () => {
  const hv = createModel('arm64');
  hv.hv_vm_create(0, null);
  const ram = hv.host_alloc(0x10000);
  hv.host_write(ram, 0, Uint8Array.of(0x01, 0x00, 0x00, 0xb9)); // str w1, [x0]
  hv.hv_vm_map(
    0,
    { mem: ram, offset: 0 },
    0x10000n,
    0x10000n,
    HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC,
  );
  const { value: cpu } = hv.hv_vcpu_create(1, null);
  assert.ok(cpu !== undefined);
  hv.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_PC, 0x10000n);
  hv.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_CPSR, 0x3c5n);
  hv.hv_vcpu_set_reg(1, cpu, HV_REG.HV_REG_X0, 0x40000n);
  const { ret, value: exit } = hv.hv_vcpu_run(1, cpu);
  assert.equal(ret, HV.HV_SUCCESS);
  assert.equal(exit?.reason, HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION);
  // EC 0x24, IL, ISV, SAS=2 (word), SRT=1, WnR; the DFSC level bits are the model's choice ([U]).
  assert.equal((exit?.exception.syndrome ?? 0n) & 0xffffffc0n, 0x93810040n);
  assert.equal(exit?.exception.physical_address, 0x40000n);
});
