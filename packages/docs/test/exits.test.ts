import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARM64_EXIT_KINDS, decodeEsr, decodeIoQualification, ESR_EC, X86_EXIT_KINDS } from '@hvspec/spec';
import {
  arm64ExitKinds,
  arm64Layouts,
  probeLayout,
  x86ExitFieldNames,
  x86ExitKinds,
  x86Layouts,
} from '../src/exits.js';

test('probing a decoder recovers its bit layout', () => {
  const io = probeLayout((v) => decodeIoQualification(v) as Record<string, unknown> | undefined, 32, [
    0n,
    1n,
    3n,
  ]);
  const field = (name: string) => io.find((b) => b.fields.includes(name));
  assert.deepEqual(field('port'), { hi: 31, lo: 16, fields: ['port'] });
  assert.deepEqual(field('imm'), { hi: 6, lo: 6, fields: ['imm'] });
  assert.deepEqual(field('in'), { hi: 3, lo: 3, fields: ['in'] });
  assert.deepEqual(field('size'), { hi: 1, lo: 0, fields: ['size'] });
  const dabt = probeLayout(
    (v) => decodeEsr((BigInt(ESR_EC.DABT_LOWER) << 26n) | v) as Record<string, unknown>,
    25,
    [0n],
    ['size'],
  );
  assert.deepEqual(
    dabt.find((b) => b.fields.includes('srt')),
    { hi: 20, lo: 16, fields: ['srt'] },
  );
  assert.deepEqual(
    dabt.find((b) => b.fields.includes('sas')),
    { hi: 23, lo: 22, fields: ['sas'] },
  );
});

test('every exit kind of the spec has an example predicted for a generated program', () => {
  const x86 = x86ExitKinds();
  const arm = arm64ExitKinds();
  assert.deepEqual(
    x86.map((k) => k.kind),
    [...X86_EXIT_KINDS],
  );
  assert.deepEqual(
    arm.map((k) => k.kind),
    [...ARM64_EXIT_KINDS],
  );
  for (const k of [...x86, ...arm]) {
    assert.equal(k.missing, undefined, `${k.kind}: ${k.missing}`);
    assert.ok(k.reason, `${k.kind} has no example`);
    assert.ok(k.fields.length > 0, k.kind);
  }
  const hlt = x86.find((k) => k.kind === 'x86.hlt');
  assert.equal(hlt?.reason, 'VMX_REASON_HLT');
  assert.equal(hlt?.cause, 'hlt');
  const hvc = arm.find((k) => k.kind === 'arm64.hvc');
  assert.equal(hvc?.ec, ESR_EC.HVC64);
  // A stage-2 fault on the guest's own table walk needs stage 1 on: the layout has a table area.
  const s1ptw = arm.find((k) => k.kind === 'arm64.s1ptw');
  assert.match(s1ptw?.setting ?? '', /stage 1 on/);
  assert.ok(s1ptw?.fields.some((f) => /S1PTW=1/.test(f)));
  // An exception the guest takes at EL1 exits as its vector's report, with ESR_EL1 decoded.
  const translation = arm.find((k) => k.kind === 'arm64.el1.dabt.translation');
  assert.ok(translation?.guestTaken);
  assert.equal(translation?.ec, ESR_EC.HVC64);
  assert.equal(translation?.guestEc, ESR_EC.DABT_CURRENT);
  assert.ok(translation?.fields.some((f) => /^ESR_EL1 0x[0-9a-f]+: data abort/.test(f)));
});

test('sampling is deterministic and gives up only after the budget, naming the kinds it missed', () => {
  assert.deepEqual(arm64ExitKinds({ seed: 7 }), arm64ExitKinds({ seed: 7 }));
  const starved = arm64ExitKinds({ budget: 3 });
  const missing = starved.filter((k) => k.missing);
  assert.ok(missing.length > 0);
  for (const k of missing) {
    assert.deepEqual(k.fields, []);
    assert.match(k.missing ?? '', /none of the 3 programs/);
  }
});

test("the x86 fields shown are the VMCS fields the spec's prediction documents", () => {
  const names = x86ExitFieldNames();
  assert.equal(names.get('reason'), 'VMCS_RO_EXIT_REASON');
  assert.equal(names.get('qualification'), 'VMCS_RO_EXIT_QUALIFIC');
  assert.equal(names.get('gpa'), 'VMCS_GUEST_PHYSICAL_ADDRESS');
  assert.equal(names.get('rip'), 'RIP');
  assert.ok(!names.has('vmmRip') && !names.has('qualificationMask'), 'not the VMM side of the prediction');
  const ept = x86ExitKinds().find((k) => k.kind === 'x86.ept.read.unmapped');
  assert.ok(ept?.fields.some((f) => f.startsWith('VMCS_GUEST_PHYSICAL_ADDRESS 0x')));
});

test('layouts exist for the x86 qualifications and every arm64 class the spec decodes', () => {
  const x86 = x86Layouts(x86ExitKinds());
  assert.deepEqual(
    x86.map((l) => l.id),
    ['x86-io-qualification', 'x86-ept-qualification', 'x86-interruption-info'],
  );
  const classes = Object.entries(ESR_EC).map(([id, ec]) => ({ ec, id, name: id }));
  const arm = arm64Layouts(classes, arm64ExitKinds());
  for (const ec of [
    ESR_EC.DABT_LOWER,
    ESR_EC.IABT_LOWER,
    ESR_EC.HVC64,
    ESR_EC.BRK64,
    ESR_EC.WFX,
    ESR_EC.SYSREG,
  ])
    assert.ok(
      arm.some((l) => l.id === `arm64-iss-0x${ec.toString(16)}`),
      `no layout for EC 0x${ec.toString(16)}`,
    );
  assert.ok(!arm.some((l) => l.id === 'arm64-iss-0x0'), 'classes the spec does not decode have no layout');
});
