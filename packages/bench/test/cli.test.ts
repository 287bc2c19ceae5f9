/**
 * The command line (`runBenchCli`, behind `hvspec bench` and main.js): exit codes, messages without
 * stack traces, output paths refused before any measuring, the JSON + HTML + history files of a
 * short real run, and `compare` on files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CliIo, runBenchCli } from '../src/cli.js';
import { type BenchReport, checkReport, taskReport } from '../src/report.js';
import { syntheticReport } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hvspec-bench-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await runBenchCli(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A short real run: one model task, in this process, two rounds. */
const SHORT = [
  '--in-process',
  '--no-native',
  '--filter',
  'model.x86.exit',
  '--time',
  '20',
  '--warmup',
  '5',
  '--rounds',
  '2',
];

test('--help lists the options and exit codes', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0);
  for (const o of [
    '--quick',
    '--out FILE',
    '--history DIR',
    '--filter S',
    '--enforce',
    'compare BASELINE.json CURRENT.json',
  ])
    assert.ok(r.out.includes(o), o);
  assert.match(
    r.out,
    /exit codes: 0 done \/ no regression, 1 regression found or \(--enforce\) a target missed/,
  );
  assert.equal((await cli(['compare', '--help'])).code, 0);
});

test('usage errors exit 2 with a one-line reason and no stack trace', async () => {
  for (const [args, msg] of [
    [['--bogus'], /unknown option --bogus/],
    [['--rounds', '0'], /--rounds needs an integer ≥ 1, got "0"/],
    [['--rounds', '2.5'], /--rounds needs an integer/],
    [['--time', 'x'], /--time needs a number ≥ 1/],
    [['--out'], /--out needs a value/],
    [['--filter', '--quick'], /--filter needs a value/],
    [['extra'], /unexpected argument "extra"/],
    [['compare', 'a.json'], /compare needs two files/],
    [['compare', 'a', 'b', '--alpha', '2'], /--alpha must be below 1/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, msg);
    assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
  }
});

test('an unwritable --out or --history is refused before anything runs', async () => {
  if (process.platform === 'linux') {
    const r = await cli(['--out', '/proc/b.json']);
    assert.equal(r.code, 2);
    assert.match(r.err, /error: --out: cannot create files in \/proc/);
    assert.doesNotMatch(r.err, /# running/, 'nothing was measured');
    const h = await cli(['--history', '/proc/hvspec-history']);
    assert.equal(h.code, 2);
    assert.match(h.err, /cannot create directory \/proc\/hvspec-history/);
  }
  const r = await cli(['--out', join(dir, 'missing', 'b.json')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--out: directory .* does not exist/);
});

test('a filter or an injected slowdown naming no task is a usage error', async () => {
  const f = await cli([...SHORT.slice(0, 2), '--filter', 'no-such-task']);
  assert.equal(f.code, 2);
  assert.match(f.err, /no task matches the filter "no-such-task"/);
  const s = await cli(SHORT, { HVSPEC_BENCH_SLOWDOWN: 'model.x86.exit' });
  assert.equal(s.code, 2);
  assert.match(s.err, /HVSPEC_BENCH_SLOWDOWN must be TASK:FACTOR/);
  const u = await cli(SHORT, { HVSPEC_BENCH_SLOWDOWN: 'no.such.task:2' });
  assert.equal(u.code, 2);
  assert.match(u.err, /slowdown\.task "no\.such\.task" is not a task of this run/);
});

test('--out writes the JSON and the HTML beside it; --history keeps every run and plots them', async () => {
  const out = join(dir, 'b.json');
  const history = join(dir, 'hist', 'runs');
  const first = await cli([...SHORT, '--out', out, '--history', history]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /wrote .*b\.json\nwrote .*hist\/runs\/bench-.*\.json\nwrote .*b\.html/);
  const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
  assert.equal(checkReport(report), undefined);
  assert.deepEqual(
    report.tasks.map((t) => t.name),
    ['model.x86.exit'],
  );
  assert.equal(report.tasks[0]!.roundP50s?.length, 2);
  const html = readFileSync(join(dir, 'b.html'), 'utf8');
  assert.match(html, /<svg /);
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /1 run in <code>/);

  const second = await cli([...SHORT, '--out', out, '--history', history]);
  assert.equal(second.code, 0, second.err);
  assert.equal(readdirSync(history).length, 2);
  assert.match(readFileSync(join(dir, 'b.html'), 'utf8'), /2 runs in <code>/);
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => f.startsWith('.'))
      .sort(),
    [],
    'no temporary or probe files left',
  );
});

test('--json prints the report on stdout; --enforce exits 1 exactly when a target fails', async () => {
  const out = join(dir, 'e.json');
  const r = await cli([...SHORT, '--json', '--enforce', '--out', out]);
  const report = JSON.parse(r.out) as BenchReport;
  assert.equal(checkReport(report), undefined);
  assert.match(r.err, /wrote .*e\.json/);
  const failing = report.ratios.filter((q) => q.pass === false).map((q) => q.name);
  assert.equal(r.code, failing.length > 0 ? 1 : 0);
  if (failing.length) assert.match(r.err, new RegExp(`targets missed: ${failing.join(', ')}`));
  assert.ok(existsSync(join(dir, 'e.html')));
});

function roundsReport(roundNs: number[]): BenchReport {
  const t = taskReport(
    { name: 'model.x86.exit', description: 'd', unit: 'exit', unitsPerIteration: 1 },
    roundNs.map((ns) => [ns / 1e6, (ns * 1.01) / 1e6, (ns * 0.99) / 1e6]),
  );
  return syntheticReport([t]);
}

test('compare: a doubled distribution exits 1, the same build exits 0, a bad file exits 2', async () => {
  const a = join(dir, 'a.json');
  const a2 = join(dir, 'a2.json');
  const b = join(dir, 'slow.json');
  writeFileSync(a, JSON.stringify(roundsReport([400, 410, 395, 420, 405])));
  writeFileSync(a2, JSON.stringify(roundsReport([402, 398, 415, 401, 411])));
  writeFileSync(b, JSON.stringify(roundsReport([800, 820, 790, 840, 810])));
  const slow = await cli(['compare', a, b]);
  assert.equal(slow.code, 1);
  assert.match(slow.out, /REGRESSION\s+model\.x86\.exit .*\(mann-whitney-rounds\): slower by 100\.0%/);
  assert.match(slow.out, /result: REGRESSION/);
  const same = await cli(['compare', a, a2]);
  assert.equal(same.code, 0);
  assert.match(same.out, /result: no regression/);
  const json = await cli(['compare', a, b, '--json']);
  assert.equal(JSON.parse(json.out).regression, true);

  writeFileSync(join(dir, 'junk.json'), '{"schema":"x"}');
  const junk = await cli(['compare', a, join(dir, 'junk.json')]);
  assert.equal(junk.code, 2);
  assert.match(junk.err, /junk\.json is not a bench report: schema/);
  const missing = await cli(['compare', a, join(dir, 'none.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*none\.json/);
});
