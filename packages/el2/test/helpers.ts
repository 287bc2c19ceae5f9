/**
 * What the el2 tests share: whether the backend can run here (QEMU, the runtime), one backend per
 * file, and small guest-program helpers.
 */
import { after } from 'node:test';
import { type Arm64Exit, type HostMemory, HV, type Result, type Vcpu } from '@hvspec/spec';
import { type CreateEl2Options, createEl2Backend, type El2Backend, el2Availability } from '../src/index.ts';

const availability = el2Availability();
/** `false` when the backend runs here, else why the tests skip (the README's install command fixes it). */
export const skip: string | false = availability.available
  ? false
  : `el2 backend unavailable: ${availability.reason}${availability.fix ? ` (fix: ${availability.fix})` : ''}`;

/** A backend for this test file, closed after it. */
export function el2(options: CreateEl2Options = {}): () => El2Backend {
  let b: El2Backend | undefined;
  after(async () => {
    await b?.close();
  });
  return () => {
    b ??= createEl2Backend(options);
    return b;
  };
}

/** Little-endian machine code of 32-bit instructions. */
export function code(...ins: number[]): Uint8Array {
  return new Uint8Array(new Uint32Array(ins).buffer);
}

/** The exit of a run that must succeed. */
export function exitOf(r: Result<Arm64Exit>): Arm64Exit {
  if (r.ret !== HV.HV_SUCCESS || !r.value) throw new Error(`hv_vcpu_run returned 0x${r.ret.toString(16)}`);
  return r.value;
}

/** A VM with one RWX page of code at 0x10000 (16 KiB) and one vCPU owned by thread `t` at EL1h there. */
export async function oneVcpu(
  b: El2Backend,
  program: Uint8Array,
  t = 0,
): Promise<{ cpu: Vcpu; ram: HostMemory }> {
  await b.reset();
  if (b.hv_vm_create(0, null).ret !== HV.HV_SUCCESS) throw new Error('hv_vm_create failed');
  const ram = b.host_alloc(0x10000);
  b.host_write(ram, 0, program);
  if (b.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x4000n, 7).ret !== HV.HV_SUCCESS)
    throw new Error('hv_vm_map failed');
  const cpu = b.hv_vcpu_create(t, null).value as Vcpu;
  b.hv_vcpu_set_reg(t, cpu, 31, 0x10000n); // HV_REG_PC
  b.hv_vcpu_set_reg(t, cpu, 34, 0x3c5n); // HV_REG_CPSR: EL1h, DAIF masked
  return { cpu, ram };
}

/** A64 encodings the tests use. */
export const A64 = {
  hvc: (imm: number) => 0xd4000002 | (imm << 5),
  smc: (imm: number) => 0xd4000003 | (imm << 5),
  brk: (imm: number) => 0xd4200000 | (imm << 5),
  svc: (imm: number) => 0xd4000001 | (imm << 5),
  wfi: 0xd503207f,
  wfe: 0xd503205f,
  nop: 0xd503201f,
  /** b . (a one-instruction spin loop) */
  spin: 0x14000000,
  /** ldr xT, [xN] */
  ldrX: (t: number, n: number) => 0xf9400000 | (n << 5) | t,
  /** str xT, [xN] */
  strX: (t: number, n: number) => 0xf9000000 | (n << 5) | t,
  /** mrs xT, <sysreg> with the hv_sys_reg_t encoding */
  mrs: (t: number, enc: number) => 0xd5200000 | (enc << 5) | t,
  /** msr <sysreg>, xT */
  msr: (t: number, enc: number) => 0xd5000000 | (enc << 5) | t,
} as const;
