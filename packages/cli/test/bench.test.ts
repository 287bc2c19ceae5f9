import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hvspec, ROOT } from './run-hvspec.ts';

const BENCH_MAIN = join(ROOT, 'packages/bench/dist/main.js');

/** The bench package's own command line, as `hvspec bench` hands its arguments over. */
function benchMain(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BENCH_MAIN, ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hvspec bench (process)', {
  skip: existsSync(BENCH_MAIN) ? false : 'packages/bench is not built',
}, () => {
  it('answers as the bench command line does: its help, its usage errors, its exit codes', () => {
    for (const args of [['help'], ['compare'], ['compare', 'only-one.json'], ['--no-such-option']]) {
      const ours = hvspec(['bench', ...args], { cwd: ROOT });
      const theirs = benchMain(args);
      assert.equal(ours.status, theirs.status, `${args.join(' ')}: ${ours.stderr}`);
      assert.equal(ours.stdout, theirs.stdout, args.join(' '));
      assert.equal(ours.stderr, theirs.stderr, args.join(' '));
    }
  });

  it('runs a suite, writes the JSON report, and compares a report with itself as no regression', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hvspec-bench-')), 'b.json');
    const run = hvspec(
      [
        'bench',
        '--no-native',
        '--time',
        '20',
        '--warmup',
        '5',
        '--rounds',
        '1',
        '--filter',
        'model.x86.exit',
        '--out',
        out,
      ],
      { cwd: ROOT },
    );
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.ok(Array.isArray(report.tasks) && report.tasks.length > 0, Object.keys(report).join(', '));
    const same = hvspec(['bench', 'compare', out, out], { cwd: ROOT });
    assert.equal(same.status, 0, same.stdout + same.stderr);
  });
});
