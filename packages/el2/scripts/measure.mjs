// Measures what el2 costs on this machine (not a test: numbers only, nothing asserted):
//   boot        start of QEMU until the runtime answers (a fresh machine)
//   ping        one control doorbell and its answer (the channel's floor)
//   exit.hvc    hv_vcpu_run of `L: hvc #0; b L`, reading the exit record (one exit per run)
//   exit.mmio   hv_vcpu_run of `L: str x1, [x0]; b L` to an unmapped IPA, the VMM advancing PC
//   exit.fresh  exit.hvc with the program rewritten by the host before each run
//   throughput  guest instructions per second in one run (a counted loop, then hvc)
//   conformance time per run of the spec's harness (guest programs included), and per hv_vcpu_run in it
// Usage: node scripts/measure.mjs [--runs 300]   (after npm run build)
import { createModel } from '@hvspec/model';
import { runConformance } from '@hvspec/spec';
import { createEl2Backend, el2Abi, shutdownEl2Machines } from '../dist/index.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 300;
const words = (...w) => new Uint8Array(new Uint32Array(w).buffer);
const us = (ms, n) => `${((ms * 1000) / n).toFixed(1)} µs`;

let mem;
function guest(b, program) {
  b.hv_vm_create(0, null);
  mem = b.host_alloc(0x4000);
  b.host_write(mem, 0, program);
  b.hv_vm_map(0, { mem, offset: 0 }, 0x10000n, 0x4000n, 5);
  const cpu = b.hv_vcpu_create(0, null).value;
  b.hv_vcpu_set_reg(0, cpu, 31, 0x10000n);
  b.hv_vcpu_set_reg(0, cpu, 34, 0x3c5n);
  return cpu;
}

function best(n, f) {
  const times = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    f(n);
    times.push(performance.now() - t0);
  }
  return Math.min(...times);
}

let t0 = performance.now();
const b = createEl2Backend();
b.host_alloc(0x4000);
console.log(`boot        ${(performance.now() - t0).toFixed(0)} ms`);
await b.reset();

let cpu = guest(b, words(0xd4000002, 0x17ffffff));
b.hv_vcpu_run(0, cpu);
console.log(
  `exit.hvc    ${us(
    best(2000, (n) => {
      for (let i = 0; i < n; i++) b.hv_vcpu_run(0, cpu);
    }),
    2000,
  )} per exit (best of 5 × 2000)`,
);
await b.reset();
cpu = guest(b, words(0xf9000001, 0x17ffffff));
b.hv_vcpu_set_reg(0, cpu, 0, 0x40000n);
b.hv_vcpu_run(0, cpu);
console.log(
  `exit.mmio   ${us(
    best(2000, (n) => {
      for (let i = 0; i < n; i++) {
        b.hv_vcpu_set_reg(0, cpu, 31, 0x10000n);
        b.hv_vcpu_run(0, cpu);
      }
    }),
    2000,
  )} per exit (best of 5 × 2000)`,
);
await b.reset();
// The same exit, with the program written again by the host before each run: the runtime stores the
// bytes back so that QEMU drops its translation (README, "Code the host overwrites"), and QEMU
// translates the code again — what the first run of every generated program pays.
const prog = words(0xd4000002, 0x17ffffff);
cpu = guest(b, prog);
b.hv_vcpu_run(0, cpu);
console.log(
  `exit.fresh  ${us(
    best(500, (n) => {
      for (let i = 0; i < n; i++) {
        b.host_write(mem, 0, prog);
        b.hv_vcpu_set_reg(0, cpu, 31, 0x10000n);
        b.hv_vcpu_run(0, cpu);
      }
    }),
    500,
  )} per exit of code the host rewrote before the run (best of 5 × 500)`,
);
await b.reset();
// movz x1, #50000; L: add x0, x0, #1; subs x1, x1, #1; b.ne L; hvc #0   (3 instructions per iteration)
cpu = guest(b, words(0xd2986a01, 0x91000400, 0xf1000421, 0x54ffffc1, 0xd4000002));
const n = 50_000 * 3 + 2;
const tt = best(1, () => {
  b.hv_vcpu_set_reg(0, cpu, 31, 0x10000n);
  b.hv_vcpu_run(0, cpu);
});
console.log(
  `throughput  ${(((n / tt) * 1000) / 1e6).toFixed(1)} M guest instructions/s (${tt.toFixed(2)} ms for ${n})`,
);
await b.close();

// The harness's guest runs, counted and timed through a proxy: one hv_vcpu_run is one exit.
const el2 = createEl2Backend({ maxVcpus: 3 });
const exits = { n: 0, ms: 0 };
const counted = new Proxy(el2, {
  get(target, prop) {
    const v = Reflect.get(target, prop, target);
    if (prop === 'hv_vcpu_run')
      return (...args) => {
        const s = performance.now();
        const r = v.apply(target, args);
        exits.ms += performance.now() - s;
        exits.n++;
        return r;
      };
    return typeof v === 'function' ? v.bind(target) : v;
  },
});
t0 = performance.now();
const report = await runConformance(counted, { runs: RUNS, seed: 1 });
const ms = performance.now() - t0;
console.log(
  `conformance ${us(ms, RUNS)} per run of the harness (${RUNS} runs, ${(ms / 1000).toFixed(1)} s, ok ${report.ok})`,
);
console.log(
  `            ${(exits.n / RUNS).toFixed(1)} hv_vcpu_run per run, ${us(exits.ms, exits.n)} per exit (${exits.n} exits, ${((100 * exits.ms) / ms).toFixed(0)}% of the time)`,
);
await el2.close();
const model = createModel('arm64', { maxVcpus: 3 });
t0 = performance.now();
await runConformance(model, { runs: RUNS, seed: 1 });
console.log(`            (the model: ${us(performance.now() - t0, RUNS)} per run of the same harness)`);
void el2Abi;
shutdownEl2Machines();
