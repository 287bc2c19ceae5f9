import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ARM64_EC,
  decodeEsr,
  describeFsc,
  esrBrk64,
  esrDataAbort,
  esrHvc64,
  esrInstructionAbort,
  esrNoIss,
  esrSmc64,
  esrSvc64,
  esrSysreg,
  esrWfx,
  SYSREG_ISS_KEY_MASK,
  sysRegFields,
} from '../../../src/guest/arm64/esr.js';

// Every expected value below is computed by hand from the layout in hvf-facts.md §2.8:
// EC[31:26] IL[25] ISV[24] SAS[23:22] SSE[21] SRT[20:16] SF[15] AR[14] ... WnR[6] DFSC[5:0].

test('DESIGN.md example: str w1, [x0] to an unmapped IPA', () => {
  // 0x24<<26 = 0x90000000, IL 0x02000000, ISV 0x01000000, SAS=2 0x00800000, SRT=1 0x00010000, WnR 0x40.
  const esr = esrDataAbort({
    isv: true,
    sas: 2,
    sse: false,
    srt: 1,
    sf: false,
    ar: false,
    wnr: true,
    dfsc: 0x07,
  });
  assert.equal(esr, 0x93810047n);
  assert.equal(esr & 0xffffffc0n, 0x93810040n);
});

test('data abort: each field in its place', () => {
  const base = { isv: true, sas: 0, sse: false, srt: 0, sf: false, ar: false, wnr: false, dfsc: 0 };
  assert.equal(esrDataAbort(base), 0x93000000n);
  assert.equal(esrDataAbort({ ...base, sas: 3 }), 0x93c00000n);
  assert.equal(esrDataAbort({ ...base, sse: true }), 0x93200000n);
  // SRT = 31 is XZR: bits 20:16 all set.
  assert.equal(esrDataAbort({ ...base, srt: 31 }), 0x931f0000n);
  assert.equal(esrDataAbort({ ...base, sf: true }), 0x93008000n);
  assert.equal(esrDataAbort({ ...base, ar: true }), 0x93004000n);
  assert.equal(esrDataAbort({ ...base, wnr: true }), 0x93000040n);
  assert.equal(esrDataAbort({ ...base, dfsc: 0x0f }), 0x9300000fn);
  // IL = 0 drops bit 25.
  assert.equal(esrDataAbort({ ...base, il: false }), 0x91000000n);
  // ISV = 0: SAS..AR are not encoded even when given.
  assert.equal(esrDataAbort({ ...base, isv: false, sas: 3, srt: 5, sf: true }), 0x92000000n);
  // ldrsb x3 from an unmapped page, level 3: SAS 0, SSE, SRT 3, SF.
  assert.equal(
    esrDataAbort({ isv: true, sas: 0, sse: true, srt: 3, sf: true, ar: false, wnr: false, dfsc: 0x07 }),
    0x93238007n,
  );
  // stlr x2 to a read-only page: SAS 3, SRT 2, SF, AR, WnR, permission L3.
  assert.equal(
    esrDataAbort({ isv: true, sas: 3, sse: false, srt: 2, sf: true, ar: true, wnr: true, dfsc: 0x0f }),
    0x93c2c04fn,
  );
});

test('data abort: out-of-range fields are TypeErrors', () => {
  const base = { isv: true, sas: 0, sse: false, srt: 0, sf: false, ar: false, wnr: false, dfsc: 0 };
  assert.throws(() => esrDataAbort({ ...base, srt: 32 }), TypeError);
  assert.throws(() => esrDataAbort({ ...base, sas: 4 }), TypeError);
  assert.throws(() => esrDataAbort({ ...base, dfsc: 64 }), TypeError);
});

test('instruction abort, HVC, BRK, WFI', () => {
  assert.equal(esrInstructionAbort({ ifsc: 0x07 }), 0x82000007n);
  assert.equal(esrInstructionAbort({ ifsc: 0x0f }), 0x8200000fn);
  assert.equal(esrHvc64(0), 0x5a000000n);
  assert.equal(esrHvc64(0xffff), 0x5a00ffffn);
  assert.equal(esrBrk64(0x1234), 0xf2001234n);
  // WFI from AArch64: EC 1, IL, CV = 1, COND = 0b1110, TI = 0.
  assert.equal(esrWfx({ ti: 0 }), 0x07e00000n);
  assert.equal(esrWfx({ ti: 1, cv: false, cond: 0 }), 0x06000001n);
});

test('sysreg trap: PMCR_EL0 read into x1 and write from xzr', () => {
  // PMCR_EL0: op0 3, op1 3, CRn 9, CRm 12, op2 0.
  const f = sysRegFields(0xdce0);
  assert.deepEqual(f, { op0: 3, op1: 3, crn: 9, crm: 12, op2: 0 });
  // Op0 3<<20 = 0x300000, Op1 3<<14 = 0xc000, CRn 9<<10 = 0x2400, Rt 1<<5 = 0x20, CRm 12<<1 = 0x18, Dir 1.
  assert.equal(esrSysreg({ ...f, rt: 1, read: true }), 0x6230e439n);
  assert.equal(esrSysreg({ ...f, rt: 31, read: false }), 0x6230e7f8n);
  // The register key ignores Rt and direction.
  assert.equal(
    esrSysreg({ ...f, rt: 1, read: true }) & SYSREG_ISS_KEY_MASK,
    esrSysreg({ ...f, rt: 31, read: false }) & SYSREG_ISS_KEY_MASK,
  );
  // MDSCR_EL1: op0 2, op1 0, CRn 0, CRm 2, op2 2.
  assert.deepEqual(sysRegFields(0x8012), { op0: 2, op1: 0, crn: 0, crm: 2, op2: 2 });
});

test('decodeEsr names every field', () => {
  const d = decodeEsr(0x93c2c04fn);
  assert.equal(d.kind, 'data-abort');
  if (d.kind !== 'data-abort') return;
  assert.deepEqual(
    {
      lower: d.lower,
      isv: d.isv,
      size: d.size,
      sse: d.sse,
      srt: d.srt,
      sf: d.sf,
      ar: d.ar,
      wnr: d.wnr,
      dfsc: d.dfsc,
      il: d.il,
    },
    {
      lower: true,
      isv: true,
      size: 8,
      sse: false,
      srt: 2,
      sf: true,
      ar: true,
      wnr: true,
      dfsc: 0x0f,
      il: true,
    },
  );
  assert.deepEqual(decodeEsr(0x5a00ffffn), { kind: 'hvc64', ec: 0x16, il: true, imm16: 0xffff });
  assert.deepEqual(decodeEsr(0xf2001234n), { kind: 'brk64', ec: 0x3c, il: true, comment: 0x1234 });
  assert.deepEqual(decodeEsr(0x07e00000n), { kind: 'wfx', ec: 1, il: true, cv: true, cond: 0xe, ti: 0 });
  assert.deepEqual(decodeEsr(0x6230e439n), {
    kind: 'sysreg',
    ec: 0x18,
    il: true,
    op0: 3,
    op2: 0,
    op1: 3,
    crn: 9,
    rt: 1,
    crm: 12,
    read: true,
  });
  assert.deepEqual(decodeEsr(0x8200000fn), {
    kind: 'instruction-abort',
    ec: 0x20,
    il: true,
    lower: true,
    fnv: false,
    ea: false,
    s1ptw: false,
    ifsc: 0x0f,
  });
  assert.deepEqual(decodeEsr(0x1c000005n), { kind: 'unknown', ec: 0x07, il: false, iss: 5 });
  // ISS2 (bits 55:32) is ignored.
  assert.equal(decodeEsr((1n << 40n) | 0x5a000001n).kind, 'hvc64');
});

test('describeFsc', () => {
  assert.deepEqual(describeFsc(0x07), { type: 'translation', level: 3 });
  assert.deepEqual(describeFsc(0x0d), { type: 'permission', level: 1 });
  assert.deepEqual(describeFsc(0x21), { type: 'alignment' });
});

test('decodeEsr inverts esrDataAbort and esrSysreg', () => {
  fc.assert(
    fc.property(
      fc.record({
        sas: fc.integer({ min: 0, max: 3 }),
        sse: fc.boolean(),
        srt: fc.integer({ min: 0, max: 31 }),
        sf: fc.boolean(),
        ar: fc.boolean(),
        wnr: fc.boolean(),
        dfsc: fc.integer({ min: 0, max: 63 }),
      }),
      (f) => {
        const d = decodeEsr(esrDataAbort({ ...f, isv: true }));
        assert.equal(d.kind, 'data-abort');
        if (d.kind !== 'data-abort') return;
        assert.deepEqual(
          { sas: d.sas, sse: d.sse, srt: d.srt, sf: d.sf, ar: d.ar, wnr: d.wnr, dfsc: d.dfsc },
          { ...f },
        );
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.record({
        op0: fc.integer({ min: 0, max: 3 }),
        op1: fc.integer({ min: 0, max: 7 }),
        crn: fc.integer({ min: 0, max: 15 }),
        crm: fc.integer({ min: 0, max: 15 }),
        op2: fc.integer({ min: 0, max: 7 }),
        rt: fc.integer({ min: 0, max: 31 }),
        read: fc.boolean(),
      }),
      (f) => {
        const d = decodeEsr(esrSysreg(f));
        assert.equal(d.kind, 'sysreg');
        if (d.kind !== 'sysreg') return;
        assert.deepEqual(
          { op0: d.op0, op1: d.op1, crn: d.crn, crm: d.crm, op2: d.op2, rt: d.rt, read: d.read },
          { ...f },
        );
      },
    ),
  );
});

test('SVC, SMC and the exceptions without an ISS, encoded and decoded', () => {
  assert.equal(esrSvc64(0x42), 0x5600_0042n); // EC 0x15
  assert.equal(esrSmc64(0x1234), 0x5e00_1234n); // EC 0x17
  assert.equal(esrNoIss(ARM64_EC.UNKNOWN), 0x0200_0000n);
  assert.equal(esrNoIss(ARM64_EC.ILLEGAL_STATE), 0x3a00_0000n);
  assert.equal(esrNoIss(ARM64_EC.PC_ALIGNMENT), 0x8a00_0000n);
  assert.deepEqual(decodeEsr(0x5600_0042n), { kind: 'svc64', ec: 0x15, il: true, imm16: 0x42 });
  assert.deepEqual(decodeEsr(0x5e00_1234n), { kind: 'smc64', ec: 0x17, il: true, imm16: 0x1234 });
  assert.throws(() => esrSvc64(0x10000), TypeError);
});
