/**
 * The bench's files: output paths are refused up front with the reason (never a hang, never a stack
 * trace), writes are atomic, and the history directory keeps every run and reads them back in order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  checkWritableDirectory,
  checkWritableFile,
  historyFileName,
  htmlPathFor,
  loadHistory,
  makeDirectories,
  OutputError,
  saveToHistory,
  writeFileAtomic,
} from '../src/output.js';
import { syntheticReport } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hvspec-bench-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('checkWritableFile: a writable directory passes and is left as it was', () => {
  checkWritableFile(join(dir, 'a.json'), '--out');
  assert.deepEqual(readdirSync(dir), [], 'the probe file is gone');
});

test('checkWritableFile refuses a missing directory, a directory, and /proc', () => {
  assert.throws(
    () => checkWritableFile(join(dir, 'no/such/a.json'), '--out'),
    (e: Error) => {
      assert.ok(e instanceof OutputError);
      assert.match(e.message, /^--out: directory .*no\/such does not exist/);
      return true;
    },
  );
  assert.throws(() => checkWritableFile(dir, '--out'), /exists and is not a regular file/);
  if (process.platform === 'linux') {
    assert.throws(
      () => checkWritableFile('/proc/bench.json', '--out'),
      /--out: cannot create files in \/proc/,
    );
    assert.throws(() => checkWritableFile('/proc/self/bench.json', '--out'), OutputError);
  }
});

test('makeDirectories creates nested directories, and fails fast where mkdir cannot (no spin)', () => {
  makeDirectories(join(dir, 'x/y/z'));
  makeDirectories(join(dir, 'x/y/z'));
  assert.deepEqual(readdirSync(join(dir, 'x/y')), ['z']);
  if (process.platform === 'linux')
    assert.throws(
      () => makeDirectories('/proc/hvspec/bench/history'),
      /cannot create directory \/proc\/hvspec/,
    );
  writeFileSync(join(dir, 'file'), '');
  assert.throws(
    () => checkWritableDirectory(join(dir, 'file'), '--history'),
    /exists and is not a directory/,
  );
  rmSync(join(dir, 'file'));
  rmSync(join(dir, 'x'), { recursive: true });
});

test('writeFileAtomic replaces the file whole and leaves no temporary file', () => {
  const f = join(dir, 'r.json');
  writeFileAtomic(f, 'one');
  writeFileAtomic(f, 'two');
  assert.equal(readFileSync(f, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['r.json']);
  assert.throws(() => writeFileAtomic(join(dir, 'missing/r.json'), 'x'), OutputError);
  rmSync(f);
});

test('htmlPathFor puts the HTML beside the JSON', () => {
  assert.equal(htmlPathFor('/tmp/b.json'), '/tmp/b.html');
  assert.equal(htmlPathFor('b.JSON'), 'b.html');
  assert.equal(htmlPathFor('results'), 'results.html');
});

test('history: every run saved under its own name, read back oldest first, one per run', () => {
  const h = join(dir, 'history');
  checkWritableDirectory(h, '--history');
  const later = syntheticReport([], { date: '2026-02-01T00:00:00.000Z' });
  const earlier = syntheticReport([], {
    date: '2026-01-01T10:20:30.400Z',
    options: { timeMs: 1, warmupMs: 1, rounds: 1, quick: true },
  });
  assert.equal(historyFileName(earlier), 'bench-2026-01-01T10-20-30-400Z-quick.json');
  const p1 = saveToHistory(h, later);
  saveToHistory(h, earlier);
  const p3 = saveToHistory(h, later);
  assert.notEqual(p1, p3, 'never over another file');
  writeFileSync(join(h, 'notes.json'), '{"schema":"something else"}');
  writeFileSync(join(h, 'broken.json'), '{');
  writeFileSync(join(h, 'README.txt'), 'not json');
  const { entries, problems } = loadHistory(h);
  assert.deepEqual(
    entries.map((e) => e.report.date),
    [earlier.date, later.date],
    'sorted by date; the same run saved twice counts once',
  );
  assert.equal(problems.length, 2);
  assert.ok(problems.some((p) => /notes\.json: not a bench report \(schema/.test(p)));
  assert.ok(problems.some((p) => /broken\.json: not JSON/.test(p)));
  assert.deepEqual(loadHistory(join(dir, 'none')).entries, []);
});
