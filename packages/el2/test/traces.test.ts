/**
 * Every arm64 example trace of traces/arm64 replays as PASS on el2 — the traces are generated from the
 * spec's predictions (never by running a backend), so each PASS is QEMU agreeing with the spec — or as
 * UNSUPPORTED at a run whose exit kind el2 declares it never produces, or at a call it declares it
 * does not provide (README.md, "Capabilities"), never as FAIL.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTrace, replayTrace } from '@hvspec/spec';
import { createEl2Backend, EL2_DEVIATIONS, type El2Backend } from '../src/index.ts';
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
  const unsupported: string[] = [];
  for (const f of files) {
    it(`${f} passes, or is unsupported by a declared deviation`, async () => {
      b ??= createEl2Backend();
      const trace = parseTrace(readFileSync(join(DIR, f), 'utf8'), f);
      const report = await replayTrace(trace, b);
      const p = report.firstProblem;
      const why = p ? `step ${p.index} (${p.call}, thread ${p.thread}): ${p.status}: ${p.message ?? ''}` : '';
      if (report.status === 'unsupported') {
        const d = EL2_DEVIATIONS.find((x) => x.id === p?.deviation);
        assert.ok(
          d?.arm64ExitKinds?.length || (p?.call !== undefined && d?.calls?.includes(p.call)),
          `unsupported without a declared exit kind or missing call: ${why}`,
        );
        unsupported.push(f);
        return;
      }
      assert.equal(report.status, 'pass', why);
    });
  }
  it('only the traces of the declared kinds and calls are unsupported', () => {
    assert.deepEqual(unsupported.sort(), [
      'alignment-fault-mmu-off.json',
      'el0-daif-trap-el1.json',
      'el0-wfe-trap-el1.json',
      'pc-alignment-before-abort.json',
      'wfe.json',
    ]);
  });
});
