/**
 * The long opt-in reliability job (README, "Reliability checks"): the spec's race scenarios and the
 * raw-addon fuzzer with many more iterations than `npm test` gives them, on every backend that runs here
 * (the model always; the native backend with /dev/kvm or on a Mac; el2 with QEMU and its runtime). The
 * conformance properties at length are `npm run check`. Needs a built checkout (npm ci).
 *
 *   node --import tsx scripts/long-check.ts [--iterations N] [--seed S] [--only races,fuzz]
 *
 * N (default 1000) is the iterations of each race on the model and the native backend (el2 gets N/10,
 * each of its runs being a round trip to QEMU) and the fuzzer's calls per seed / 20 (four seeds).
 * Exits 1 when anything failed, 2 on a usage error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEl2Backend, el2Availability, shutdownEl2Machines } from '@hvspec/el2';
import { createModel } from '@hvspec/model';
import { createNativeBackend, nativeAvailability } from '@hvspec/native';
import { type Backend, RACES, runRace } from '@hvspec/spec';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const STEPS = ['races', 'fuzz'] as const;
type Step = (typeof STEPS)[number];

function usage(message: string): never {
  process.stderr.write(
    `long-check: ${message}\nusage: long-check.ts [--iterations N] [--seed S] [--only ${STEPS.join(',')}]\n`,
  );
  process.exit(2);
}

function options(argv: string[]): { iterations: number; seed: number; only: Set<Step> } {
  let iterations = 1000;
  let seed = Date.now() & 0x7fffffff;
  let only = new Set<Step>(STEPS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--iterations') {
      iterations = Number(value());
      if (!Number.isSafeInteger(iterations) || iterations < 1)
        usage('--iterations must be a positive integer');
    } else if (a === '--seed') {
      seed = Number(value());
      if (!Number.isSafeInteger(seed)) usage('--seed must be an integer');
    } else if (a === '--only') {
      const names = value().split(',');
      for (const n of names) if (!(STEPS as readonly string[]).includes(n)) usage(`unknown step ${n}`);
      only = new Set(names as Step[]);
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return { iterations, seed, only };
}

interface Backends {
  readonly list: { name: string; backend: Backend; scale: number }[];
  close(): Promise<void>;
}

/** Every backend that runs here, with how much of N it gets (el2 is slow). */
function backends(): Backends {
  const list: { name: string; backend: Backend; scale: number }[] = [
    { name: 'model x86_64', backend: createModel('x86_64'), scale: 1 },
    { name: 'model arm64', backend: createModel('arm64'), scale: 1 },
  ];
  const native = nativeAvailability();
  if (native.available)
    list.push({ name: `native ${native.arch}`, backend: createNativeBackend(), scale: 1 });
  else console.log(`# native: skipped (${native.reason})`);
  const el2 = el2Availability();
  if (el2.available) list.push({ name: 'el2 arm64', backend: createEl2Backend(), scale: 0.1 });
  else console.log(`# el2: skipped (${el2.reason})`);
  return {
    list,
    async close() {
      for (const b of list) await b.backend.close();
      shutdownEl2Machines();
    },
  };
}

const failures: string[] = [];

async function timed(what: string, fn: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  try {
    const summary = await fn();
    console.log(`ok   ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s) ${summary}`);
  } catch (e) {
    failures.push(what);
    console.log(`FAIL ${what}: ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { iterations, seed, only } = options(process.argv.slice(2));
  console.log(`# long-check: ${iterations} iterations, seed ${seed}, steps ${[...only].join(', ')}`);
  const all = backends();
  try {
    if (only.has('races')) {
      for (const { name, backend, scale } of all.list) {
        const n = Math.max(20, Math.round(iterations * scale));
        for (const race of RACES) {
          if (race.dangerous && backend.capabilities.backend !== 'model') continue;
          await timed(`race ${race.name} on ${name}, ${n} iterations`, async () => {
            const r = await runRace(backend, race.name, { iterations: n, seed });
            return `${r.calls} judged calls; ${Object.entries(r.outcomes)
              .map(([k, v]) => `${k}: ${v}`)
              .join('; ')}`;
          });
        }
      }
    }
    if (only.has('fuzz')) {
      const fixture = join(root, 'packages/native/test/fixtures/fuzz-addon.mjs');
      if (!existsSync('/dev/kvm'))
        console.log('# fuzz: skipped (no /dev/kvm: the raw addon has no provider to call)');
      else
        for (const s of [1, 2, 3, 4].map((k) => seed + k)) {
          const calls = iterations * 20;
          await timed(`raw-addon fuzzer, seed ${s}, ${calls} calls`, async () => {
            const r = spawnSync(process.execPath, [fixture, String(s), String(calls)], {
              encoding: 'utf8',
              timeout: 30 * 60_000,
            });
            if (r.signal !== null || r.status !== 0)
              throw new Error(`ended with ${r.signal ?? `status ${r.status}`}\n${r.stdout}\n${r.stderr}`);
            return r.stdout.trim();
          });
        }
    }
  } finally {
    await all.close();
  }
  if (failures.length) {
    console.log(`\nlong-check: ${failures.length} failed: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('\nlong-check: everything passed');
}

await main();
