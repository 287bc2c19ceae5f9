#!/usr/bin/env node
// Resource soak of the native backend: N cycles of hv_vm_create → hv_vm_map → hv_vcpu_create (on
// logical thread 1) → canonical setup → hv_vcpu_run of a guest that exits on hlt → hv_vcpu_destroy →
// hv_vm_unmap → hv_vm_destroy, then reset(). Prints open fds, threads and RSS after a warm-up and at
// the end; exits 1 if any of them grew (RSS by more than 8 MiB, to allow for the allocator).
//   node scripts/soak.mjs [cycles=10000]
import { readdirSync, readFileSync } from 'node:fs';
import { createNativeBackend } from '@hvspec/native';
import { HV, HV_MEMORY, VMCS, VMX_REASON, x86SetupSteps } from '@hvspec/spec';

const cycles = Number(process.argv[2] ?? 10000);
const warmup = Math.min(1000, Math.floor(cycles / 10));
const fds = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
const sample = () => ({ fds: fds(), threads: threads(), rssKiB: rssKiB() });

const hv = createNativeBackend('x86_64');
const ram = hv.host_alloc(0x1000);
hv.host_write(ram, 0, Uint8Array.of(0xf4)); // hlt
const must = (what, r) => {
  if (r.ret !== HV.HV_SUCCESS) throw new Error(`${what}: 0x${(r.ret >>> 0).toString(16)}`);
  return r.value;
};
const caps = (id) => hv.hv_vmx_read_capability(0, id).value ?? 0n;
let before;
const t0 = Date.now();
for (let i = 0; i < cycles; i++) {
  if (i === warmup) before = sample();
  must('hv_vm_create', hv.hv_vm_create(0, 0n));
  must(
    'hv_vm_map',
    hv.hv_vm_map(0, { mem: ram, offset: 0 }, 0x1000n, 0x1000n, HV_MEMORY.READ | HV_MEMORY.EXEC),
  );
  const cpu = must('hv_vcpu_create', hv.hv_vcpu_create(1, 0n));
  for (const { field, value } of x86SetupSteps(caps, 'prot32', 0x1000n))
    must('setup', hv.hv_vmx_vcpu_write_vmcs(1, cpu, field, value));
  for (;;) {
    must('hv_vcpu_run', hv.hv_vcpu_run(1, cpu));
    const reason = must('exit reason', hv.hv_vmx_vcpu_read_vmcs(1, cpu, VMCS.VMCS_RO_EXIT_REASON));
    if (Number(reason) === VMX_REASON.VMX_REASON_HLT) break;
    if (Number(reason) !== VMX_REASON.VMX_REASON_IRQ) throw new Error(`unexpected exit ${reason}`);
  }
  must('hv_vcpu_destroy', hv.hv_vcpu_destroy(1, cpu));
  must('hv_vm_unmap', hv.hv_vm_unmap(0, 0x1000n, 0x1000n));
  must('hv_vm_destroy', hv.hv_vm_destroy(0));
}
const after = sample();
const seconds = (Date.now() - t0) / 1000;
await hv.close();
const grew = after.fds > before.fds || after.threads > before.threads || after.rssKiB - before.rssKiB > 8192;
console.log(
  `${cycles} cycles in ${seconds.toFixed(1)} s (${((seconds * 1e6) / cycles).toFixed(0)} µs/cycle); ` +
    `after ${warmup}: fds ${before.fds}, threads ${before.threads}, RSS ${before.rssKiB} KiB; ` +
    `at the end: fds ${after.fds}, threads ${after.threads}, RSS ${after.rssKiB} KiB — ${grew ? 'GREW' : 'no growth'}`,
);
process.exit(grew ? 1 : 0);
