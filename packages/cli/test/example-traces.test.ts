/**
 * The example traces of traces/ (the ones the docs show): every one parses, replays as PASS on the
 * model, and — where this machine has /dev/kvm — every x86_64 one replays as PASS on the native
 * backend, or as UNSUPPORTED because of a deviation the backend declares (never FAIL). The exit-kind
 * examples are generated: the last test checks that scripts/make-example-traces.ts would write exactly
 * what is on disk.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { createModel } from '@hvspec/model';
import { type Arch, type Backend, parseTrace, replayTrace, type Trace, type TraceReport } from '@hvspec/spec';

const ROOT = join(import.meta.dirname, '../../..');
const TRACES = join(ROOT, 'traces');

/** Every `.json` file under traces/, depth first, sorted, so the order is stable. */
function traceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...traceFiles(path));
    else if (entry.name.endsWith('.json')) out.push(path);
  }
  return out;
}

const files = traceFiles(TRACES).map((path) => {
  const name = relative(ROOT, path);
  return { name, trace: parseTrace(readFileSync(path, 'utf8'), name) };
});

/** The first step that did not pass, for the assertion message. */
function problem(report: TraceReport): string {
  const p = report.firstProblem;
  return p
    ? `step ${p.index} (${p.call}, thread ${p.thread}): ${p.status}: ${p.message ?? ''}`
    : report.status;
}

describe('example traces', () => {
  it('there are example traces for both architectures', () => {
    const arches = new Set(files.map((f) => f.trace.arch));
    assert.deepEqual([...arches].sort(), ['arm64', 'x86_64']);
  });
});

describe('example traces on the model', () => {
  const models: Partial<Record<Arch, Backend>> = {};
  const model = (arch: Arch): Backend => (models[arch] ??= createModel(arch));
  after(async () => {
    for (const m of Object.values(models)) await m?.close();
  });
  for (const { name, trace } of files) {
    it(`${name} passes`, async () => {
      const report = await replayTrace(trace, model(trace.arch));
      assert.equal(report.status, 'pass', `${name}: ${problem(report)}`);
    });
  }
});

// Held in a variable so that TypeScript does not resolve it: @hvspec/native is not a dependency of
// the CLI package at build time (the addon may not be built), as in src/backends.ts.
const NATIVE_PACKAGE: string = '@hvspec/native';
interface NativeModule {
  createNativeBackend(arch: Arch): Backend;
}

const hasKvm = process.platform === 'linux' && existsSync('/dev/kvm');

describe('example x86_64 traces on the native backend', {
  skip: hasKvm ? false : 'no /dev/kvm on this machine',
}, () => {
  // One native backend per process (one VM per process, hvf-facts.md §0.3 [H]): created once,
  // reused by every trace (replayTrace resets it first), closed at the end.
  let native: Backend | undefined;
  const unsupported: string[] = [];
  const open = async (): Promise<Backend> => {
    if (native) return native;
    const mod = (await import(NATIVE_PACKAGE)) as NativeModule;
    // Where /dev/kvm exists the native backend must load: an error here is a failure, not a skip.
    native = mod.createNativeBackend('x86_64');
    return native;
  };
  after(async () => {
    await native?.close();
    process.stdout.write(
      unsupported.length
        ? `unsupported on native (declared deviations):\n${unsupported.map((u) => `  ${u}\n`).join('')}`
        : 'every x86_64 example trace passed on native; none was unsupported\n',
    );
  });
  for (const { name, trace } of files.filter((f) => f.trace.arch === 'x86_64')) {
    it(`${name} passes or is unsupported`, async () => {
      const backend = await open();
      const report = await replayTrace(trace as Trace, backend);
      if (report.status === 'unsupported') {
        // Only a declared deviation may make a step unsupported: a permission set the backend says it
        // does not enforce, no guest execution, a call it does not have, an exit reason it never reports,
        // an x86 mode it cannot run, or a call it declares HV_UNSUPPORTED (Deviation.calls).
        const why = report.firstProblem?.message ?? '';
        assert.match(
          why,
          /enforcedPermissions|guestExecution|has no |never reports this exit reason|cannot run guests in|declares \S+ unsupported here/,
          `${name}: ${why}`,
        );
        unsupported.push(`${name}: ${problem(report)}`);
        return;
      }
      assert.equal(report.status, 'pass', `${name} on ${backend.capabilities.backend}: ${problem(report)}`);
    });
  }
});

describe('generated example traces', () => {
  it('are what scripts/make-example-traces.ts writes (run it after changing the spec or the script)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/make-example-traces.ts', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
