/**
 * Helpers shared by the bench's tests (not a test file): a well-formedness check for the charts and a
 * synthetic report.
 */
import assert from 'node:assert/strict';
import { BENCH_SCHEMA, type BenchReport, type TaskReport } from '../src/report.js';

/** Checks that `svg` is one element whose tags balance, with no script or external reference. */
export function assertWellFormedSvg(svg: string): void {
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
  assert.ok(svg.endsWith('</svg>'));
  assert.doesNotMatch(svg, /<script|javascript:|href=|url\(|NaN|undefined|Infinity/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the open element`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'every element is closed');
}

/** A report with these tasks on a made-up two-core machine. */
export function syntheticReport(tasks: TaskReport[], over: Partial<BenchReport> = {}): BenchReport {
  return {
    schema: BENCH_SCHEMA,
    date: '2026-01-01T00:00:00.000Z',
    machine: {
      cpuModel: 'test',
      cpuCount: 2,
      node: 'v20',
      platform: 'linux',
      arch: 'x64',
      osRelease: '6',
      totalMemoryBytes: 1,
      loadAverage: [0, 0, 0],
      devKvm: false,
      kvmPvm: null,
    },
    options: { timeMs: 1, warmupMs: 1, rounds: 1 },
    tasks,
    skipped: [],
    ratios: [],
    ...over,
  };
}
