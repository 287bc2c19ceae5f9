import { HV_MEMORY, HV_REG } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';
const hv = createEl2Backend();
hv.hv_vm_create(0, null);
const ram = hv.host_alloc(0x10000);
// hvc #0 ; b .-4   (loop of HVC exits)
hv.host_write(ram, 0, Uint8Array.of(0x02, 0x00, 0x00, 0xd4, 0xff, 0xff, 0xff, 0x17));
hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x10000n, HV_MEMORY.READ | HV_MEMORY.EXEC);
const cpu = hv.hv_vcpu_create(0, null).value!;
hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3c5n);
for (let round = 0; round < 3; round++) {
  const n = 3000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const r = hv.hv_vcpu_run(0, cpu);
    if (r.ret !== 0 || r.value!.exception.syndrome !== 0x5a000000n) throw new Error(JSON.stringify(r, (_k, v) => typeof v === 'bigint' ? v.toString(16) : v));
  }
  console.log('hvc exit round trip', ((performance.now() - t0) / n * 1000).toFixed(1), 'us');
}
await hv.close(); shutdownEl2Machines();
