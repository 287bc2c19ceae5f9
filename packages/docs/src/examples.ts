/**
 * Runnable examples: each function page shows a trace that calls the function, replayed on the model
 * while the site is built: one of `packages/docs/examples/<arch>/` (small traces written for the
 * reference) or of the repository's `traces/<arch>/`. An example that does not pass on the model fails
 * the build, so no page shows a broken example.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createModel } from '@hvspec/model';
import { type Arch, type Backend, parseTrace, replayTrace, type Trace, type TraceReport } from '@hvspec/spec';

/** A trace file found for the reference. */
export interface ExampleTrace {
  readonly arch: Arch;
  /** Repository-relative path; for a generated example, its path on the site (`generated/<arch>/<name>.json`). */
  readonly path: string;
  /**
   * `docs` (written for the reference), `traces` (the repository's example traces) or `generated` (made
   * from the registry for a function no trace calls; see `generated-examples.ts`).
   */
  readonly origin: 'docs' | 'traces' | 'generated';
  readonly text: string;
  readonly trace: Trace;
  /** The `hv_*` functions the trace calls. */
  readonly calls: ReadonlySet<string>;
}

/** An example with the outcome of its replay on the model. */
export interface ReplayedExample extends ExampleTrace {
  readonly report: TraceReport;
}

/** A replay that did not pass: the build stops with this. */
export class ExampleError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`example ${path}: ${message}`);
    this.name = 'ExampleError';
  }
}

function readDir(repoRoot: string, dir: string, arch: Arch, origin: ExampleTrace['origin']): ExampleTrace[] {
  const abs = join(repoRoot, dir, arch);
  let files: string[];
  try {
    files = readdirSync(abs).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((f) => {
    const path = relative(repoRoot, join(abs, f)).split('\\').join('/');
    const text = readFileSync(join(abs, f), 'utf8');
    let trace: Trace;
    try {
      trace = parseTrace(text, path);
    } catch (e) {
      throw new ExampleError(path, (e as Error).message);
    }
    if (trace.arch !== arch)
      throw new ExampleError(path, `is an ${trace.arch} trace in the ${arch} directory`);
    const calls = new Set(trace.steps.map((s) => s.call).filter((c) => c.startsWith('hv_')));
    return { arch, path, origin, text, trace, calls };
  });
}

/** Every example trace of the repository, reference examples first. */
export function findExampleTraces(repoRoot: string): ExampleTrace[] {
  const out: ExampleTrace[] = [];
  for (const arch of ['x86_64', 'arm64'] as const) {
    out.push(...readDir(repoRoot, 'packages/docs/examples', arch, 'docs'));
    out.push(...readDir(repoRoot, 'traces', arch, 'traces'));
  }
  return out;
}

/**
 * The example for a function: a trace whose title names the function first (it is about that call),
 * then one written for the reference, then the one with the fewest steps.
 */
export function pickExample(
  all: readonly ExampleTrace[],
  arch: Arch,
  name: string,
): ExampleTrace | undefined {
  const named = new RegExp(`\\b${name}\\b`);
  const score = (e: ExampleTrace): number =>
    (named.test(e.trace.title) ? 0 : 1_000_000) + (e.origin === 'docs' ? 0 : 1000) + e.trace.steps.length;
  return all
    .filter((e) => e.arch === arch && e.calls.has(name))
    .sort((a, b) => score(a) - score(b) || a.path.localeCompare(b.path))[0];
}

/** Replays examples on a fresh model of their flavour; throws {@link ExampleError} for one that does not pass. */
export async function replayExamples(examples: readonly ExampleTrace[]): Promise<ReplayedExample[]> {
  const models = new Map<Arch, Backend>();
  const out: ReplayedExample[] = [];
  try {
    for (const e of examples) {
      let m = models.get(e.arch);
      if (!m) {
        m = createModel(e.arch);
        models.set(e.arch, m);
      }
      const report = await replayTrace(e.trace, m);
      if (report.status !== 'pass') {
        const p = report.firstProblem;
        throw new ExampleError(
          e.path,
          p
            ? `step ${p.index} (${p.call}) ${p.status}: ${p.message ?? ''}`
            : `replay status ${report.status}`,
        );
      }
      out.push({ ...e, report });
    }
  } finally {
    for (const m of models.values()) await m.close();
  }
  return out;
}
