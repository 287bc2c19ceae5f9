import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  basicExitReason,
  crAccessQualification,
  DEBUG_QUALIFICATION_MASK,
  decodeEptQualification,
  decodeInterruptionInfo,
  decodeIoQualification,
  drAccessQualification,
  EPT_QUALIFICATION_MASK,
  EPT_STRUCTURE_QUALIFICATION_MASK,
  eptQualification,
  exitReasonName,
  type InterruptionInfo,
  interruptionInfo,
  ioQualification,
  isEntryFailure,
  isSpuriousExitReason,
  VMEXIT_IRQ_INFO_MASK,
} from '../../../src/guest/x86/exits.js';
import { x86SetupSteps } from '../../../src/guest/x86/setup.js';
import { VMCS } from '../../../src/vocabulary/x86.js';

const io = (size: 1 | 2 | 4, isIn: boolean, imm: boolean, port: number, string = false, rep = false) =>
  ioQualification({ size, in: isIn, string, rep, imm, port });

test('I/O qualification: size field, direction bit 3 (1 = IN), imm8 bit 6, port in 31:16', () => {
  // out 0x80, al: size 0, OUT, imm → 0x0080_0040
  assert.equal(io(1, false, true, 0x80), 0x0080_0040n);
  // in al, 0x60: 0x0060_0048
  assert.equal(io(1, true, true, 0x60), 0x0060_0048n);
  // out dx, ax with DX = 0x3f8: size field 1, OUT, DX form → 0x03f8_0001
  assert.equal(io(2, false, false, 0x3f8), 0x03f8_0001n);
  // in eax, dx with DX = 0xcfc: size field 3, IN → 0x0cfc_000b
  assert.equal(io(4, true, false, 0xcfc), 0x0cfc_000bn);
  // rep outsb, port 0xffff: 0xffff_0030
  assert.equal(io(1, false, false, 0xffff, true, true), 0xffff_0030n);
});

test('I/O qualification decodes back, and an undefined size field decodes to undefined', () => {
  for (const size of [1, 2, 4] as const)
    for (const isIn of [false, true])
      for (const imm of [false, true])
        for (const port of [0, 0x80, 0xe0, 0xffff]) {
          const q = io(size, isIn, imm, port);
          assert.deepEqual(decodeIoQualification(q), {
            size,
            in: isIn,
            string: false,
            rep: false,
            imm,
            port,
          });
        }
  assert.equal(decodeIoQualification(2n), undefined);
  assert.throws(() => io(3 as 1, false, true, 1), TypeError);
  assert.throws(() => io(1, false, true, 0x10000), TypeError);
});

test('EPT qualification: hand-computed values, including the XNU test masks', () => {
  // write to a READ-only page, GLA valid + translated: 0x2 | 0x8 | 0x80 | 0x100 = 0x18a
  const w = eptQualification({ access: 'write', perms: 1, glaValid: true, glaTranslated: true });
  assert.equal(w, 0x18an);
  assert.equal(w & 0x86n, 0x82n); // XNU: (qual & 0x86) == 0x82 is a write fault with GLA valid
  // fetch from a READ|WRITE page: 0x4 | 0x8 | 0x10 | 0x180 = 0x19c
  const x = eptQualification({ access: 'fetch', perms: 3, glaValid: true, glaTranslated: true });
  assert.equal(x, 0x19cn);
  assert.equal(x & 0x86n, 0x84n);
  // read of an unmapped GPA: 0x181
  assert.equal(eptQualification({ access: 'read', perms: 0, glaValid: true, glaTranslated: true }), 0x181n);
  // read of an EXEC-only page: 0x1 | 0x20 | 0x180 = 0x1a1
  assert.equal(eptQualification({ access: 'read', perms: 4, glaValid: true, glaTranslated: true }), 0x1a1n);
  // bit 8 is only set together with bit 7
  assert.equal(eptQualification({ access: 'read', perms: 0, glaValid: false, glaTranslated: true }), 0x1n);
  assert.deepEqual(decodeEptQualification(0x19cn), {
    access: 'fetch',
    perms: 3,
    glaValid: true,
    glaTranslated: true,
    nmiUnblocking: false,
  });
});

test('EPT qualification mask leaves out bits 6 and 9-11 only', () => {
  for (let b = 0n; b < 64n; b++) {
    const pinned = (EPT_QUALIFICATION_MASK >> b) & 1n;
    assert.equal(pinned, b === 6n || (b >= 9n && b <= 11n) ? 0n : 1n, `bit ${b}`);
  }
});

test('interruption information: hand-computed values, including the XNU test mask for #PF', () => {
  const cases: ReadonlyArray<[InterruptionInfo, number, string]> = [
    // Valid (bit 31) | hardware exception (3 << 8) | vector 6, no error code.
    [{ vector: 6, type: 'hardware-exception', errorCodeValid: false }, 0x8000_0306, '#UD'],
    // An error code is pushed (bit 11).
    [{ vector: 14, type: 'hardware-exception', errorCodeValid: true }, 0x8000_0b0e, '#PF'],
    [{ vector: 13, type: 'hardware-exception', errorCodeValid: true }, 0x8000_0b0d, '#GP(err)'],
    // #BP from int3 is a software exception (type 6).
    [{ vector: 3, type: 'software-exception', errorCodeValid: false }, 0x8000_0603, 'int3'],
    [{ vector: 2, type: 'nmi', errorCodeValid: false }, 0x8000_0202, 'NMI (type 2)'],
    [{ vector: 0x20, type: 'external-interrupt', errorCodeValid: false }, 0x8000_0020, 'external (type 0)'],
    [{ vector: 0x80, type: 'software-interrupt', errorCodeValid: false }, 0x8000_0480, 'int 0x80'],
    [{ vector: 1, type: 'privileged-software-exception', errorCodeValid: false }, 0x8000_0501, 'int1'],
  ];
  for (const [q, want, what] of cases) assert.equal(interruptionInfo(q), want, what);
  // XNU checks (info & 0x800003ff) == 0x8000030e for #PF (hvf-facts §1.8 [T]).
  const pf = interruptionInfo({ vector: 14, type: 'hardware-exception', errorCodeValid: true });
  assert.equal((pf & 0x8000_03ff) >>> 0, 0x8000_030e);
});

test('interruption information decodes back; invalid (bit 31 clear) or reserved types decode to undefined', () => {
  for (const type of [
    'external-interrupt',
    'nmi',
    'hardware-exception',
    'software-interrupt',
    'privileged-software-exception',
    'software-exception',
  ] as const)
    for (const vector of [0, 6, 14, 0xff])
      for (const errorCodeValid of [false, true]) {
        const q = { vector, type, errorCodeValid };
        assert.deepEqual(decodeInterruptionInfo(interruptionInfo(q)), q);
        assert.deepEqual(decodeInterruptionInfo(BigInt(interruptionInfo(q))), q);
      }
  // Bit 12 (NMI unblocking due to IRET) is left out of the compared bits, and only it.
  assert.equal(VMEXIT_IRQ_INFO_MASK, 0xffff_ffff - (1 << 12));
  assert.equal(decodeInterruptionInfo(0x306), undefined);
  assert.equal(decodeInterruptionInfo(0n), undefined);
  assert.equal(decodeInterruptionInfo(0x8000_0106), undefined); // type 1 is reserved
  assert.equal(decodeInterruptionInfo(0x8000_0706), undefined); // type 7 (other event) is not an interruption
  assert.throws(() => interruptionInfo({ vector: 256, type: 'nmi', errorCodeValid: false }), TypeError);
  assert.throws(
    () => interruptionInfo({ vector: 6, type: 'fault' as 'nmi', errorCodeValid: false }),
    TypeError,
  );
});

test('exit reason helpers', () => {
  assert.equal(basicExitReason(0x8000_0021n), 33);
  assert.equal(isEntryFailure(0x8000_0021n), true);
  assert.equal(exitReasonName(0x8000_0021n), 'VMX_REASON_VMENTRY_GUEST|ENTRY_FAILURE');
  assert.equal(exitReasonName(30), 'VMX_REASON_IO');
  assert.equal(exitReasonName(48n), 'VMX_REASON_EPT_VIOLATION');
  assert.equal(exitReasonName(35), '35');
  assert.equal(isSpuriousExitReason(1n), true);
  assert.equal(isSpuriousExitReason(12n), false);
});

test('x86SetupSteps: Apple setup_protected_mode order and values, controls canonicalised', () => {
  // A capability where bit 1 is must-be-1 and only bits 0..7 and 19,20 may be 1 (HLT allowed).
  const caps: Record<number, bigint> = {
    0: (0x0000_0016n << 32n) | 0x16n, // pin: must 0x16
    1: (0x0018_00ffn << 32n) | 0x2n, // proc: may HLT|CR8 | low bits, must bit 1
    2: 0n,
    3: (0xffffn << 32n) | 0x11ffn, // entry: must ∩ may
    4: (0xffff_ffffn << 32n) | 0x36dffn,
  };
  const steps = x86SetupSteps((id) => caps[id] ?? 0n, 'prot32', 0x1000n);
  const get = (f: number) => steps.filter((s) => s.field === f).map((s) => s.value);
  const written: Partial<Record<keyof typeof VMCS, bigint>> = {
    VMCS_CTRL_PIN_BASED: 0x16n,
    // want HLT|CR8_LOAD|CR8_STORE = 0x180080, | must 0x2, & may 0x1800ff
    VMCS_CTRL_CPU_BASED: 0x180082n,
    VMCS_CTRL_CPU_BASED2: 0n,
    VMCS_CTRL_VMENTRY_CONTROLS: 0x11ffn & 0xffffn,
    VMCS_CTRL_VMEXIT_CONTROLS: 0x36dffn,
    VMCS_GUEST_CR0: 0x21n,
    VMCS_CTRL_CR0_MASK: 0xffff_ffffn,
    VMCS_CTRL_CR0_SHADOW: 0x21n,
    VMCS_GUEST_CR4: 0x2000n,
    VMCS_CTRL_CR4_SHADOW: 0n,
    VMCS_GUEST_CS: 0x10n,
    VMCS_GUEST_CS_AR: 0xc09bn,
    VMCS_GUEST_SS_AR: 0xc093n,
    VMCS_GUEST_DS_LIMIT: 0xffff_ffffn,
    VMCS_GUEST_TR_AR: 0x8bn,
    VMCS_GUEST_LDTR_AR: 0x10000n,
    VMCS_GUEST_RFLAGS: 0x2n,
    VMCS_CTRL_EXC_BITMAP: 0xffff_ffffn,
  };
  for (const [name, value] of Object.entries(written))
    assert.deepEqual(get(VMCS[name as keyof typeof VMCS]), [value], name);
  assert.equal(steps[0]!.field, VMCS.VMCS_CTRL_PIN_BASED);
  assert.deepEqual(steps[steps.length - 1], { field: VMCS.VMCS_GUEST_RIP, value: 0x1000n });
  assert.equal(steps.length, 5 + 7 + 4 + 24 + 4 + 3);
  assert.equal(new Set(steps.map((s) => s.field)).size, steps.length, 'each field written once');
  assert.throws(() => x86SetupSteps(() => 0n, 'prot16' as 'prot32', 0n), TypeError);
});

test('x86SetupSteps: Apple setup_real_mode and setup_long_mode values and order; prot32-paging is prot32 with PG and PSE', () => {
  const all = (): bigint => 0xffff_ffffn << 32n;
  const fields = (mode: 'real' | 'prot32-paging' | 'long64', rip: bigint, cr3?: bigint) => {
    const steps = x86SetupSteps(all, mode, rip, cr3);
    assert.equal(new Set(steps.map((s) => s.field)).size, steps.length, `${mode}: each field written once`);
    return { mode, values: new Map(steps.map((s) => [s.field, s.value])) };
  };
  const expectFields = (
    got: ReturnType<typeof fields>,
    want: Partial<Record<keyof typeof VMCS, bigint>>,
  ): void => {
    for (const [name, value] of Object.entries(want))
      assert.equal(got.values.get(VMCS[name as keyof typeof VMCS]), value, `${got.mode}: ${name}`);
  };
  // Real mode (XNU setup_real_mode): CR0 0x20, TR AR 0x83, segments base 0 limit 0xffff AR 0x93/0x9b,
  // no CR3, no TR/LDTR selectors.
  const real = fields('real', 0x1000n);
  expectFields(real, {
    VMCS_GUEST_CR0: 0x20n,
    VMCS_CTRL_CR0_SHADOW: 0x20n,
    VMCS_GUEST_CR4: 0x2000n,
    VMCS_GUEST_TR_AR: 0x83n,
    VMCS_GUEST_CS: 0n,
    VMCS_GUEST_CS_AR: 0x9bn,
    VMCS_GUEST_DS_AR: 0x93n,
    VMCS_GUEST_SS_LIMIT: 0xffffn,
    VMCS_GUEST_RIP: 0x1000n,
    VMCS_CTRL_VMENTRY_CONTROLS: 0n,
  });
  assert.equal(real.values.has(VMCS.VMCS_GUEST_CR3), false);
  assert.equal(real.values.has(VMCS.VMCS_GUEST_TR), false);
  // Code above 64 KiB: CS selector × 16 is the base, RIP the offset.
  const high = fields('real', 0x8_0123n);
  expectFields(high, {
    VMCS_GUEST_CS: 0x8000n,
    VMCS_GUEST_CS_BASE: 0x8_0000n,
    VMCS_GUEST_RIP: 0x123n,
  });
  assert.throws(() => x86SetupSteps(all, 'real', 0x10_0000n), TypeError);
  // Long mode (XNU setup_long_mode): IA-32e entry control, CR0 0x80000021, CR4 0x2020 (shadow too),
  // EFER 0x500, 64-bit segments, CR3 = the tables' root.
  const long = fields('long64', 0x20_0000n, 0x20_1000n);
  expectFields(long, {
    VMCS_CTRL_VMENTRY_CONTROLS: 1n << 9n,
    VMCS_GUEST_CR0: 0x8000_0021n,
    VMCS_CTRL_CR0_SHADOW: 0x8000_0021n,
    VMCS_GUEST_CR4: 0x2020n,
    VMCS_CTRL_CR4_SHADOW: 0x2020n,
    VMCS_GUEST_IA32_EFER: 0x500n,
    VMCS_GUEST_CS_AR: 0xa09bn,
    VMCS_GUEST_GS_AR: 0xa093n,
    VMCS_GUEST_CR3: 0x20_1000n,
  });
  const order = x86SetupSteps(all, 'long64', 0n).map((s) => s.field);
  assert.ok(order.indexOf(VMCS.VMCS_CTRL_EXC_BITMAP) < order.indexOf(VMCS.VMCS_GUEST_CR3));
  assert.ok(order.indexOf(VMCS.VMCS_GUEST_CR3) < order.indexOf(VMCS.VMCS_GUEST_GDTR_BASE));
  const paging = fields('prot32-paging', 0x1000n, 0x5000n);
  expectFields(paging, {
    VMCS_GUEST_CR0: 0x8000_0021n,
    VMCS_GUEST_CR4: 0x2010n,
    VMCS_CTRL_CR4_SHADOW: 0x10n,
    VMCS_GUEST_CR3: 0x5000n,
    VMCS_GUEST_CS_AR: 0xc09bn,
  });
});

test('CR and DR access qualifications (Intel SDM Tables 28-3, 28-4; hvf-facts.md §1.6)', () => {
  assert.equal(crAccessQualification({ cr: 0, type: 'to', gpr: 0 }), 0n);
  assert.equal(crAccessQualification({ cr: 4, type: 'to', gpr: 3 }), 0x304n);
  assert.equal(crAccessQualification({ cr: 3, type: 'from', gpr: 7 }), 0x713n);
  assert.equal(crAccessQualification({ cr: 8, type: 'from', gpr: 15 }), 0xf18n);
  assert.equal(drAccessQualification({ dr: 7, direction: 'to', gpr: 2 }), 0x207n);
  assert.equal(drAccessQualification({ dr: 1, direction: 'from', gpr: 1 }), 0x111n);
  assert.throws(() => crAccessQualification({ cr: 16, type: 'to', gpr: 0 }), TypeError);
  assert.throws(() => drAccessQualification({ dr: 8, direction: 'to', gpr: 0 }), TypeError);
  // Paging-structure EPT violations leave out the access bits 0–2 as well; #DB exits B3–B0.
  assert.equal(EPT_STRUCTURE_QUALIFICATION_MASK, 0xffff_ffff_ffff_f1b8n);
  assert.equal(DEBUG_QUALIFICATION_MASK & 0xfn, 0n);
});
