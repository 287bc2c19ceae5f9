/**
 * The C libraries' benchmark (`npm run bench -w @hvspec/capi`): the exit round trip of a C VMM
 * (bench/exit-loop.c, bench/exit-loop-arm64.c), measured inside the VMM (CLOCK_MONOTONIC), in
 * interleaved rounds so that a noisy stretch of the host hits every task. Task names are the ones
 * packages/bench's targets look for:
 *
 * - `clib.model.x86.exit`, `clib.model.arm64.exit`: the VMM on libhvspec-model (the model server);
 * - `clib.kvm.x86.exit`: the VMM on libhvspec-kvm, the shared library;
 * - `clib.kvm.x86.front`, `clib.kvm.x86.provider-loop`: one process linked with libhvspec-kvm's objects
 *   that runs on one vCPU, alternately in each round, the loop through the exported hv_* functions (the
 *   recording front) and the same loop calling the KVM provider directly — the provider's own C loop,
 *   in the same run; `clib.kvm.x86.front/provider-loop` is their per-round ratio.
 *
 * Each process runs three rounds of ITERATIONS exits and reports the last (the first two warm up).
 * Targets: model ≤ 20 µs per exit (each flavour); the median of front/provider-loop ≤ 1.1.
 *
 *   node --import tsx scripts/bench.ts [--iterations 2000] [--rounds 15] [--out results.json]
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cflags, libs } from '../src/flags.ts';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const iterations = option('--iterations', 2000);
const rounds = option('--rounds', 15);
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? args[outIndex + 1] : undefined;

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'hvspec-capi-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const split = (s: string): string[] => s.split(' ').filter(Boolean);
const cc = (source: string, out: string, extra: string[]): string => {
  const file = join(dir, out);
  execFileSync(
    'cc',
    ['-O2', join(root, 'bench', source), ...split(cflags()), ...extra, '-lpthread', '-o', file],
    {
      stdio: 'inherit',
    },
  );
  return file;
};

/** Round samples: ns per exit of each task (the names packages/bench's targets look for). */
const samples = new Map<string, number[]>();
const add = (name: string, value: number): void => {
  samples.set(name, [...(samples.get(name) ?? []), value]);
};
const runs: { bin: string; take: (line: string) => void }[] = [
  {
    bin: cc('exit-loop.c', 'exit-loop-model', split(libs({ backend: 'model' }))),
    take: (l) => add('clib.model.x86.exit', Number(l)),
  },
  {
    bin: cc('exit-loop-arm64.c', 'exit-loop-model-arm64', split(libs({ backend: 'model', arch: 'arm64' }))),
    take: (l) => add('clib.model.arm64.exit', Number(l)),
  },
];
if (kvmUsable()) {
  runs.push({
    bin: cc('exit-loop.c', 'exit-loop-kvm', split(libs({ backend: 'kvm' }))),
    take: (l) => add('clib.kvm.x86.exit', Number(l)),
  });
  // libhvspec-kvm's own objects, linked in: the front and the provider's own loop in one process.
  const native = join(root, '..', 'native');
  const obj = join(root, 'dist', 'obj');
  const provider = execFileSync('node', [join(native, 'scripts', 'provider-sources.cjs')], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((f) => join(obj, 'provider', basename(f).replace(/\.cc$/, '.o')));
  runs.push({
    bin: cc('exit-loop.c', 'exit-loop-provider', [
      '-DHVSPEC_BENCH_PROVIDER',
      `-I${join(root, 'dist', 'generated')}`,
      `-I${join(root, 'src', 'c')}`,
      join(obj, 'x86_64', 'front.o'),
      join(obj, 'recorder.o'),
      join(obj, 'kvm_lib.o'),
      ...provider,
      '-lstdc++',
    ]),
    take: (l) => {
      const [front, own] = l.split(' ').map(Number) as [number, number];
      add('clib.kvm.x86.front', front);
      add('clib.kvm.x86.provider-loop', own);
      add('clib.kvm.x86.front/provider-loop', front / own);
    },
  });
} else {
  process.stderr.write('/dev/kvm is not usable here: the KVM tasks are not measured\n');
}

for (let r = 0; r < rounds; r++) {
  // Rotate the order each round: no binary always runs first.
  for (let k = 0; k < runs.length; k++) {
    const run = runs[(r + k) % runs.length] as (typeof runs)[number];
    const lines = execFileSync(run.bin, [String(iterations), '3'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    // The first two rounds of each process warm up (the model server's JIT, caches).
    run.take(lines[lines.length - 1] as string);
  }
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], q: number): number => {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] as number;
};
const report = {
  schema: 'hvspec-capi-bench/1',
  date: new Date().toISOString(),
  iterations,
  rounds,
  tasks: [...samples].map(([name, xs]) => ({
    name,
    unit: name.includes('/') ? 'ratio' : 'ns/exit',
    p10: quantile(xs, 0.1),
    p50: quantile(xs, 0.5),
    p90: quantile(xs, 0.9),
    samples: sorted(xs),
  })),
  targets: [] as { name: string; value: number; target: string; pass: boolean }[],
};
const p50 = (name: string): number | undefined => report.tasks.find((t) => t.name === name)?.p50;
for (const arch of ['x86', 'arm64']) {
  const model = p50(`clib.model.${arch}.exit`);
  if (model !== undefined)
    report.targets.push({
      name: `libhvspec-model (${arch}) exit round trip, ns`,
      value: model,
      target: '≤ 20000',
      pass: model <= 20000,
    });
}
const ratio = p50('clib.kvm.x86.front/provider-loop');
if (ratio !== undefined)
  report.targets.push({
    name: "libhvspec-kvm / the provider's own loop (median of per-round ratios)",
    value: ratio,
    target: '≤ 1.1',
    pass: ratio <= 1.1,
  });

const fmt = (v: number): string => (v < 10 ? v.toFixed(3) : v.toFixed(0)).padStart(7);
for (const t of report.tasks)
  console.log(`${t.name.padEnd(34)} p10 ${fmt(t.p10)}  p50 ${fmt(t.p50)}  p90 ${fmt(t.p90)} ${t.unit}`);
for (const r of report.targets)
  console.log(
    `${r.pass ? 'PASS' : 'FAIL'} ${r.name} = ${r.value.toFixed(r.value < 10 ? 3 : 0)} (target ${r.target})`,
  );
if (outFile) writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
