import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeEsr, esrDataAbort } from '@hvspec/spec';
import { explain } from '../src/explain.ts';
import { hvspec, usageError } from './run-hvspec.ts';

describe('hvspec explain (process)', () => {
  it('0x93810040 is a data abort from a lower EL: ISV=1, SAS=word, SRT=1, SF=0, WnR=write', () => {
    const r = hvspec(['explain', '0x93810040']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    assert.match(lines[0] ?? '', /^0x93810040 as an arm64 syndrome \(ESR_EL2\).*guessed/);
    for (const want of [
      'data abort from a lower EL (EC 0x24)',
      'ISV=1',
      'SAS=word (4 bytes)',
      'SRT=1',
      'SF=0',
      'WnR=write',
    ])
      assert.ok(lines.includes(want), `${want} in\n${r.stdout}`);
  });

  it('decodes return codes by name, number and as C prints them, and says when a value is none', () => {
    for (const v of ['HV_NO_DEVICE', '0xfae94006', '-85377018']) {
      const r = hvspec(['explain', ...(v.startsWith('-') ? ['--', v] : [v])]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /HV_NO_DEVICE \(0xfae94006\)/);
      assert.match(r.stdout, /-85377018 as C prints a signed mach_error_t/);
    }
    const r = hvspec(['explain', '--as', 'ret', '0xfae94099']);
    assert.match(r.stdout, /0xfae94099: not one of Apple's return codes/);
  });

  it('decodes an x86 qualification by the exit reason given, by number or name', () => {
    for (const reason of ['30', 'VMX_REASON_IO', 'io']) {
      const r = hvspec(['explain', '--reason', reason, '0x100040']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        /of VMX_REASON_IO \(basic reason 30\):\n {2}OUT of 1 byte\n {2}port 0x10\n {2}port in imm8\n/,
      );
    }
    const ept = hvspec(['explain', '--reason', '48', '0x181']);
    assert.match(ept.stdout, /read\n {2}the page allows none/);
  });

  it('decodes an exit reason and interruption information', () => {
    const exit = hvspec(['explain', '--as', 'exit', '0x80000021']);
    assert.match(exit.stdout, /VMX_REASON_VMENTRY_GUEST \(basic reason 33\), VM-entry failure \(bit 31\)/);
    const irq = hvspec(['explain', '--as', 'irq', '0x80000b0e']);
    assert.match(irq.stdout, /vector 14 \(0xe\), hardware exception, error code valid/);
  });

  it('lists the other sensible readings of a guessed value', () => {
    const r = hvspec(['explain', '0x80000021']);
    assert.match(
      r.stdout,
      /other readings:\n {2}--as exit: VMX_REASON_VMENTRY_GUEST.*\n {2}--as irq: vector 33/,
    );
  });

  it('--json carries the reading, the fields and the spec decoder record', () => {
    const r = JSON.parse(hvspec(['explain', '0x93810040', '--json']).stdout);
    assert.equal(r.as, 'esr');
    assert.equal(r.guessed, true);
    assert.equal(r.decoded.kind, 'data-abort');
    assert.equal(r.decoded.srt, 1);
    assert.equal(r.decoded.wnr, true);
    assert.ok(r.fields.includes('ISV=1'));
  });

  it('usage errors: an unreadable value, an unknown --as, --as qual without --reason, an unguessable value', () => {
    assert.match(usageError(hvspec(['explain', 'banana']), 'explain'), /VALUE must be a number/);
    assert.match(usageError(hvspec(['explain', '--as', 'pte', '1']), 'explain'), /--as must be one of/);
    assert.match(usageError(hvspec(['explain', '--as', 'qual', '1']), 'explain'), /needs --reason/);
    assert.match(
      usageError(hvspec(['explain', '0x123456789abc']), 'explain'),
      /cannot tell what 0x123456789abc is/,
    );
    assert.match(
      usageError(hvspec(['explain', '--reason', 'VMX_REASON_NOPE', '1']), 'explain'),
      /--reason must be/,
    );
  });
});

describe('explain (in process)', () => {
  it('reads every data-abort syndrome the spec encodes back to its fields', () => {
    for (const sas of [0, 1, 2, 3] as const)
      for (const srt of [0, 7, 31])
        for (const write of [false, true]) {
          const esr = esrDataAbort({
            isv: true,
            sas,
            sse: false,
            srt,
            sf: sas === 3,
            ar: false,
            wnr: write,
            dfsc: 0x06,
          });
          const r = explain(`0x${esr.toString(16)}`);
          assert.equal(r.as, 'esr');
          assert.equal(r.fields.join(', '), describeEsr(esr), 'the judge and explain say the same');
          const size = ['byte', 'halfword', 'word', 'doubleword'][sas];
          assert.ok(
            r.fields.includes(`SAS=${size} (${1 << sas} byte${sas ? 's' : ''})`),
            r.fields.join(', '),
          );
          assert.ok(r.fields.some((f) => f.startsWith(`SRT=${srt}`)));
          assert.ok(r.fields.includes(`SF=${sas === 3 ? 1 : 0}`));
          assert.ok(r.fields.includes(`WnR=${write ? 'write' : 'read'}`));
        }
  });

  it('guesses the return-code family first, even where the bits would make an ESR', () => {
    // 0xfae94001: EC 0x3e is no class the spec names, but the family decides before that.
    assert.equal(explain('0xfae94001').as, 'ret');
    assert.equal(explain('0').as, 'ret');
    assert.equal(explain('30').as, 'exit');
  });
});
