#!/usr/bin/env node
// The main job (`npm run check`): the conformance check on every backend available on this machine.
//   - the model, both architectures (always);
//   - the native backend where this machine has one: x86_64 over /dev/kvm on Linux, the host's flavour
//     of Hypervisor.framework on macOS. Where /dev/kvm exists the native check must run: a native backend
//     that cannot load there is a failure, not a skip;
//   - differential mode model vs native on the native architecture;
//   - the el2 backend (arm64 under QEMU, the arm64 oracle) and model vs el2, where QEMU and the EL2
//     runtime are here (the build installs them when it can); where they are not, a line says why.
// Prints one summary line per check and a closing table; exits 1 if any check failed, 2 on an
// environment error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:process';

const cli = new URL('../packages/cli/dist/main.js', import.meta.url).pathname;
const runs = process.env.HVSPEC_RUNS ?? '1000';
const nativeRuns = process.env.HVSPEC_NATIVE_RUNS ?? '500';
const diffRuns = process.env.HVSPEC_DIFF_RUNS ?? '300';

const jobs = [
  { name: 'model x86_64', args: ['--backend', 'model', '--arch', 'x86_64', '--runs', runs] },
  { name: 'model arm64', args: ['--backend', 'model', '--arch', 'arm64', '--runs', runs] },
];
let nativeArch;
if (platform === 'linux' && existsSync('/dev/kvm')) nativeArch = 'x86_64';
if (platform === 'darwin') nativeArch = arch === 'arm64' ? 'arm64' : 'x86_64';
if (nativeArch) {
  jobs.push({
    name: `native ${nativeArch}`,
    args: ['--backend', 'native', '--arch', nativeArch, '--runs', nativeRuns],
  });
  jobs.push({
    name: `diff model,native ${nativeArch}`,
    args: ['--diff', 'model,native', '--arch', nativeArch, '--runs', diffRuns],
  });
} else {
  process.stdout.write(
    'native backend: not available on this machine (no /dev/kvm, not macOS); checking the model only\n',
  );
}

const el2Runs = process.env.HVSPEC_EL2_RUNS ?? '500';
const el2DiffRuns = process.env.HVSPEC_EL2_DIFF_RUNS ?? '300';
let el2 = { available: false, reason: '@hvspec/el2 does not load' };
try {
  const mod = await import('@hvspec/el2');
  el2 = mod.el2Availability();
} catch (e) {
  el2 = { available: false, reason: `@hvspec/el2 does not load (${e instanceof Error ? e.message : e})` };
}
if (el2.available) {
  jobs.push({ name: 'el2 arm64', args: ['--backend', 'el2', '--arch', 'arm64', '--runs', el2Runs] });
  jobs.push({
    name: 'diff model,el2 arm64',
    args: ['--diff', 'model,el2', '--arch', 'arm64', '--runs', el2DiffRuns],
  });
} else {
  process.stdout.write(`el2 backend: not available here: ${el2.reason}${el2.fix ? `; ${el2.fix}` : ''}\n`);
}

const results = [];
for (const job of jobs) {
  process.stdout.write(`\n== hvspec check ${job.args.join(' ')}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, 'check', '--no-progress', ...job.args], { stdio: 'inherit' });
  results.push({ ...job, code: r.status ?? 1, seconds: ((Date.now() - t0) / 1000).toFixed(1) });
}
process.stdout.write('\nsummary\n');
for (const r of results) {
  const verdict = r.code === 0 ? 'PASS' : r.code === 2 ? 'ERROR (environment)' : 'FAIL';
  process.stdout.write(`  ${verdict.padEnd(20)} ${r.name.padEnd(28)} ${r.seconds}s\n`);
}
const worst = Math.max(...results.map((r) => (r.code === 0 ? 0 : r.code === 2 ? 2 : 1)));
process.exit(worst);
