import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARM64_EXIT_KINDS, decodeEsr, decodeIoQualification, ESR_EC, X86_EXIT_KINDS } from '@hvspec/spec';
import { arm64ExitKinds, arm64Layouts, probeLayout, x86ExitKinds, x86Layouts } from '../src/exits.js';

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
    assert.ok(k.reason, `${k.kind} has no example`);
    assert.ok(k.fields.length > 0, k.kind);
  }
  const hlt = x86.find((k) => k.kind === 'x86.hlt');
  assert.equal(hlt?.reason, 'VMX_REASON_HLT');
  assert.equal(hlt?.cause, 'hlt');
  const hvc = arm.find((k) => k.kind === 'arm64.hvc');
  assert.equal(hvc?.ec, ESR_EC.HVC64);
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
