import { HV_MEMORY, HV_REG } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';

const hv = createEl2Backend();
console.log(hv.hv_vm_create(0, null));
const ram = hv.host_alloc(0x10000);
hv.host_write(ram, 0, Uint8Array.of(0x01, 0x00, 0x00, 0xb9, 0x42, 0x00, 0x00, 0xd4 /* hvc? */));
console.log(
  hv.hv_vm_map(
    0,
    { mem: ram, offset: 0 },
    0x10000n,
    0x10000n,
    HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC,
  ),
);
const { value: cpu } = hv.hv_vcpu_create(1, null);
hv.hv_vcpu_set_reg(1, cpu!, HV_REG.HV_REG_PC, 0x10000n);
hv.hv_vcpu_set_reg(1, cpu!, HV_REG.HV_REG_CPSR, 0x3c5n);
hv.hv_vcpu_set_reg(1, cpu!, HV_REG.HV_REG_X0, 0x40000n);
const t0 = performance.now();
const r = hv.hv_vcpu_run(1, cpu!);
console.log(r, (performance.now() - t0).toFixed(1), 'ms');
console.log(hv.hv_vcpu_get_reg(1, cpu!, HV_REG.HV_REG_PC));
await hv.close();
shutdownEl2Machines();
