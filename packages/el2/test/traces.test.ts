/**
 * Every arm64 example trace of traces/arm64 replays as PASS on el2: the traces are generated from the
 * spec's predictions (never by running a backend), so each PASS is QEMU agreeing with the spec.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTrace, replayTrace } from '@hvspec/spec';
import { createEl2Backend, type El2Backend } from '../src/index.ts';
import { skip } from './helpers.ts';

const DIR = join(import.meta.dirname, '../../../traces/arm64');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('arm64 example traces on el2', { skip }, () => {
  let b: El2Backend | undefined;
  after(async () => {
    await b?.close();
  });
  it('there are some', () => {
    assert.ok(files.length >= 20, `${files.length} traces in ${DIR}`);
  });
  for (const f of files) {
    it(`${f} passes`, async () => {
      b ??= createEl2Backend();
      const trace = parseTrace(readFileSync(join(DIR, f), 'utf8'), f);
      const report = await replayTrace(trace, b);
      const p = report.firstProblem;
      assert.equal(
        report.status,
        'pass',
        p
          ? `step ${p.index} (${p.call}, thread ${p.thread}): ${p.status}: ${p.message ?? ''}`
          : report.status,
      );
    });
  }
});
