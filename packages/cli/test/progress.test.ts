import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { formatDuration, isCi, startProgress } from '../src/progress.ts';
import { CLI, ENTRY } from './run-hvspec.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (s: string) => writes.push(s) } };
}

describe('startProgress', () => {
  it('plain lines: one per tenth, each with the rate and the time left', () => {
    let t = 0;
    const { writes, stream } = fakeStream(false);
    const p = startProgress({ label: 'x86_64 model', total: 200, unit: 'runs', stream, now: () => t });
    for (let done = 1; done <= 200; done++) {
      t += 50; // 20 runs a second
      p.update(done);
    }
    p.finish();
    assert.equal(writes.length, 10);
    assert.equal(writes[0], 'x86_64 model: 20/200 runs (10%), 20.0 runs/s, ETA 0:09\n');
    assert.equal(writes.at(-1), 'x86_64 model: 200/200 runs (100%), 20.0 runs/s, ETA 0:00\n');
  });

  it('a bar on a terminal: redrawn in place with percent, counts, rate and ETA, cleared at the end', () => {
    let t = 0;
    const { writes, stream } = fakeStream(true);
    const p = startProgress({
      label: 'arm64 model',
      total: 100,
      unit: 'runs',
      stream,
      now: () => t,
      mode: 'bar',
    });
    for (let done = 1; done <= 100; done++) {
      t += 100;
      p.update(done);
    }
    p.finish();
    // ESC [ K, "erase to the end of the line", spelt out so the patterns stay readable.
    const draws = writes.slice(0, -1).map((w) => w.replaceAll('\x1b[K', '<EL>'));
    assert.ok(draws.length >= 50);
    for (const d of draws)
      assert.match(d, /^\rarm64 model [█░]+ +\d+% {2}\d+\/100 runs {2}[\d.]+ runs\/s {2}ETA \d+:\d\d<EL>$/);
    assert.match(draws[49] ?? '', /█{20}░{20} {2}50% {2}50\/100 runs {2}10\.0 runs\/s {2}ETA 0:05/);
    assert.equal(writes.at(-1), '\r\x1b[K');
    assert.equal(process.listenerCount('SIGINT'), 0, 'the Ctrl-C handler is gone after finish');
  });

  it('CI=true (or any CI but false and 0) means plain lines even on a terminal', () => {
    assert.equal(isCi({ CI: 'true' }), true);
    assert.equal(isCi({ CI: '1' }), true);
    assert.equal(isCi({ CI: 'false' }), false);
    assert.equal(isCi({}), false);
    assert.equal(formatDuration(3725), '1:02:05');
    assert.equal(formatDuration(Number.NaN), '?');
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('hvspec check on a terminal (process, in a pseudo-terminal)', {
  skip: hasScript && process.platform === 'linux' ? false : "needs util-linux's script for a pseudo-terminal",
}, () => {
  /** Runs `hvspec ARGS` in a pty; `keys.text` is typed into it once the output matches `keys.after`. */
  function inPty(args: string[], env: NodeJS.ProcessEnv, keys?: { after: RegExp; text: string }) {
    const command = [process.execPath, ...ENTRY, ...args].map((a) => `'${a}'`).join(' ');
    const base = { ...process.env, ...env };
    if (!('CI' in env)) delete base.CI;
    return new Promise<{ status: number | null; output: string }>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: CLI, env: base });
      let output = '';
      let typed = false;
      child.stdout.on('data', (d) => {
        output += d;
        if (keys && !typed && keys.after.test(output)) {
          typed = true;
          child.stdin.write(keys.text);
        }
      });
      // A run that ignored the Ctrl-C would go on for hours: stop it (the pty's hangup ends hvspec).
      const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('close', (status) => {
        clearTimeout(guard);
        resolve({ status, output });
      });
    });
  }

  it('shows a bar with rate and ETA, redrawn in place', async () => {
    const r = await inPty(['check', '--arch', 'x86_64', '--runs', '400', '--seed', '3'], {});
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /\rx86_64 model [█░]+ +\d+% {2}\d+\/400 runs {2}[\d.]+ runs\/s {2}ETA \d+:\d\d/);
    assert.match(r.output, /PASS x86_64 model: 400 runs/);
  });

  it('under CI=true prints plain lines instead', async () => {
    const r = await inPty(['check', '--arch', 'x86_64', '--runs', '100', '--seed', '3'], { CI: 'true' });
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /█/);
    assert.match(r.output, /x86_64 model: 100\/100 runs \(100%\), [\d.]+ runs\/s, ETA 0:00\r\n/);
  });

  it('Ctrl-C ends the bar line before the process stops (exit 130)', async () => {
    const r = await inPty(
      ['check', '--arch', 'x86_64', '--runs', '1000000', '--seed', '3'],
      {},
      {
        after: /ETA \d+:\d\d[\s\S]*ETA \d+:\d\d/,
        text: '\x03',
      },
    );
    assert.equal(r.status, 130, r.output);
    assert.match(r.output.replaceAll('\x1b[K', '<EL>'), /ETA [\d:?]+<EL>(\^C)?\r\n$/);
  });
});
