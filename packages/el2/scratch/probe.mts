import { HV_MEMORY, HV_REG, HV_SYS_REG } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';
const hx = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
const hv = createEl2Backend();
const w32 = (...ins: number[]) => new Uint8Array(new Uint32Array(ins).buffer);
async function fresh(granule4k = false) {
  await hv.reset();
  let cfg = null;
  if (granule4k) { cfg = hv.hv_vm_config_create(0).value!; hv.hv_vm_config_set_ipa_granule(0, cfg, 0); }
  hv.hv_vm_create(0, cfg);
  const ram = hv.host_alloc(0x10000);
  const cpu = hv.hv_vcpu_create(0, null).value!;
  return { ram, cpu };
}
const pc = (cpu: any) => hv.hv_vcpu_get_reg(0, cpu, HV_REG.HV_REG_PC).value!;
const sys = (cpu: any, r: number) => hv.hv_vcpu_get_sys_reg(0, cpu, r).value!;
{ // fresh vCPU, CPSR never set: hvc at EL0 is UNDEFINED -> EL1 vector at VBAR 0 + 0x400 -> unmapped fetch
  const { ram, cpu } = await fresh();
  hv.host_write(ram, 0, w32(0xd4000002));
  hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x10000n, 7);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  const r = hv.hv_vcpu_run(0, cpu);
  console.log('fresh', hx(r), 'pc', hx(pc(cpu)), 'cpsr', hx(hv.hv_vcpu_get_reg(0, cpu, HV_REG.HV_REG_CPSR).value), 'ESR_EL1', hx(sys(cpu, HV_SYS_REG.HV_SYS_REG_ESR_EL1)), 'ELR_EL1', hx(sys(cpu, HV_SYS_REG.HV_SYS_REG_ELR_EL1)), 'SPSR_EL1', hx(sys(cpu, HV_SYS_REG.HV_SYS_REG_SPSR_EL1)));
}
{ // exec-only and write-only pages
  const { ram, cpu } = await fresh();
  // ldr x1,[x0]; str x1,[x2]; hvc #1
  hv.host_write(ram, 0, w32(0xf9400001, 0xf9000041, 0xd4000022));
  hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x4000n, HV_MEMORY.EXEC);
  hv.hv_vm_map(0, { mem: ram, offset: 0x4000 }, 0x20000n, 0x4000n, HV_MEMORY.WRITE);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3c5n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_X0, 0x10008n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_X2, 0x20010n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_X1, 0x1234n);
  let r = hv.hv_vcpu_run(0, cpu); console.log('exec-only read', hx(r), hx(pc(cpu)));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10004n);
  r = hv.hv_vcpu_run(0, cpu); console.log('write-only store', hx(r), hx(pc(cpu)), hx(hv.host_read(ram, 0x4010, 8)));
  // now read write-only
  hv.host_write(ram, 0, w32(0xf9400041)); // ldr x1,[x2]
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  r = hv.hv_vcpu_run(0, cpu); console.log('code rewritten; write-only read', hx(r), hx(pc(cpu)));
}
{ // 4K granule: map at 0x1000
  const { ram, cpu } = await fresh(true);
  hv.host_write(ram, 0, w32(0xd4000062)); // hvc #3
  console.log('4k map', hx(hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x1000n, 0x1000n, 5)));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x1000n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3c5n);
  let r = hv.hv_vcpu_run(0, cpu); console.log('4k hvc', hx(r), hx(pc(cpu)));
  // ldr x0,[x1] at 0x2000 unmapped neighbour page
  hv.host_write(ram, 4, w32(0xf9400020));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_X1, 0x2008n);
  r = hv.hv_vcpu_run(0, cpu); console.log('4k dabt', hx(r), hx(pc(cpu)));
}
{ // ID register read, SMC, WFE, MDSCR read with and without trap, illegal CPSR
  const { ram, cpu } = await fresh();
  // mrs x3, ID_AA64MMFR0_EL1 ; smc #7 ; wfe ; mrs x4, mdscr_el1 ; mrs x5, mdscr_el1; hvc #9
  hv.host_write(ram, 0, w32(0xd5380703, 0xd40000e3, 0xd503205f, 0xd5300244, 0xd5300245, 0xd4000122));
  hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x10000n, 5);
  hv.hv_vcpu_set_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR0_EL1, 0x1234n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3c5n);
  let r = hv.hv_vcpu_run(0, cpu); console.log('smc', hx(r), hx(pc(cpu)), 'x3', hx(hv.hv_vcpu_get_reg(0, cpu, 3).value));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, pc(cpu) + 4n);
  r = hv.hv_vcpu_run(0, cpu); console.log('wfe', hx(r), hx(pc(cpu)));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, pc(cpu) + 4n);
  hv.hv_vcpu_set_trap_debug_reg_accesses(0, cpu, true);
  r = hv.hv_vcpu_run(0, cpu); console.log('mdscr trapped', hx(r), hx(pc(cpu)));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, pc(cpu) + 4n);
  hv.hv_vcpu_set_trap_debug_reg_accesses(0, cpu, false);
  r = hv.hv_vcpu_run(0, cpu); console.log('mdscr untrapped -> next hvc', hx(r), hx(pc(cpu)));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3c9n);
  r = hv.hv_vcpu_run(0, cpu); console.log('cpsr EL2h', hx(r));
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x3d3n);
  r = hv.hv_vcpu_run(0, cpu); console.log('cpsr aarch32 svc', hx(r));
}
{ // pending IRQ delivered when PSTATE.I clear: VBAR_EL1 = 0x40000 (unmapped) -> fetch fault at 0x40280
  const { ram, cpu } = await fresh();
  hv.host_write(ram, 0, w32(0xd503201f, 0xd4000022));
  hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x10000n, 5);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_CPSR, 0x345n); // EL1h, I clear (DAIF = 0b1101 -> I bit7 clear)
  hv.hv_vcpu_set_sys_reg(0, cpu, HV_SYS_REG.HV_SYS_REG_VBAR_EL1, 0x40000n);
  hv.hv_vcpu_set_pending_interrupt(0, cpu, 0, true);
  let r = hv.hv_vcpu_run(0, cpu); console.log('virq', hx(r), hx(pc(cpu)), 'ELR_EL1', hx(sys(cpu, HV_SYS_REG.HV_SYS_REG_ELR_EL1)), 'pending after', hv.hv_vcpu_get_pending_interrupt(0, cpu, 0).value);
  hv.hv_vcpu_set_reg(0, cpu, HV_REG.HV_REG_PC, 0x10000n);
  hv.hv_vcpu_set_pending_interrupt(0, cpu, 1, true);
  r = hv.hv_vcpu_run(0, cpu); console.log('vfiq', hx(r), hx(pc(cpu)));
}
await hv.close(); shutdownEl2Machines();
