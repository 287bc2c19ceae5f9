import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeEsr,
  describeInterruptionInfo,
  describeQualification,
  describeVmxExit,
  esrFields,
  isNamedExceptionClass,
} from '../../src/judge/describe.js';
import { describeValue, formatMismatch, judgeArm64Exit, judgeField } from '../../src/judge/exit.js';
import { HV } from '../../src/vocabulary/returns.js';
import { VMCS, VMX_REASON } from '../../src/vocabulary/x86.js';

describe('the decoders', () => {
  it('spell a data abort by its ISS fields', () => {
    assert.equal(
      describeEsr(0x93810040n),
      'data abort from a lower EL (EC 0x24), IL=1, ISV=1, SAS=word (4 bytes), SSE=0, SRT=1, SF=0, AR=0, WnR=write, DFSC=0x0 (address size fault, level 0)',
    );
    assert.match(describeEsr(0x939f0046n), /SRT=31 \(XZR\).*DFSC=0x6 \(translation fault, level 2\)/);
    assert.equal(describeEsr(0x5a000042n), 'HVC from AArch64 (EC 0x16), IL=1, imm16=0x42');
    assert.equal(describeEsr(0x07e00000n), 'WFI/WFE trapped (EC 0x1), IL=1, TI=WFI, CV=1, COND=0xe');
  });

  it('spell an x86 qualification by the exit reason it belongs to', () => {
    // OUT of one byte to port 0x10 in imm8 form: size-1 = 0, direction 0, imm bit 6, port in 31:16.
    assert.equal(
      describeQualification(VMX_REASON.VMX_REASON_IO, 0x0010_0040n),
      'OUT of 1 byte, port 0x10, port in imm8',
    );
    assert.equal(
      describeQualification(VMX_REASON.VMX_REASON_EPT_VIOLATION, 0x182n),
      'write, the page allows none, linear address valid, a translated access',
    );
    assert.equal(
      describeInterruptionInfo(0x8000_0b0dn),
      'vector 13 (0xd), hardware exception, error code valid',
    );
    // mov cr3, rbx: CR 3, access type 0 (to CR), GPR 3 in bits 11:8.
    assert.equal(describeQualification(VMX_REASON.VMX_REASON_MOV_CR, 0x303n), 'MOV to CR3, from RBX');
    assert.equal(describeQualification(VMX_REASON.VMX_REASON_MOV_CR, 0x0a14n), 'MOV from CR4, to R10');
    assert.equal(describeQualification(VMX_REASON.VMX_REASON_MOV_DR, 0x117n), 'MOV from DR7, to RCX');
  });

  it('spell an exit reason with its qualification, and an ESR field by field', () => {
    assert.equal(
      describeVmxExit(30, 0x0010_0040n),
      'VMX_REASON_IO (basic reason 30): OUT of 1 byte, port 0x10, port in imm8',
    );
    assert.equal(
      describeVmxExit(0x8000_0021),
      'VMX_REASON_VMENTRY_GUEST (basic reason 33), VM-entry failure (bit 31)',
    );
    const fields = esrFields(0x93810040n);
    assert.equal(fields[0], 'data abort from a lower EL (EC 0x24)');
    assert.ok(fields.includes('SRT=1') && fields.includes('WnR=write'));
    assert.equal(fields.join(', '), describeEsr(0x93810040n));
    assert.equal(isNamedExceptionClass(0x24), true);
    assert.equal(isNamedExceptionClass(0x3f), false);
  });
});

describe('the exit judge', () => {
  it('passes equal values under the mask and names every field that differs, decoded', () => {
    assert.equal(
      judgeField(
        { kind: 'arm64', name: 'syndrome' },
        { value: 0x93810046n, mask: 0xffff_ffc0n },
        0x93810040n,
      ),
      undefined,
    );
    const m = judgeField(
      { kind: 'arm64', name: 'syndrome' },
      { value: 0x93810040n, mask: 0xffff_ffc0n },
      0x93c38006n,
    );
    assert.ok(m);
    assert.match(
      formatMismatch(m),
      /^exit\.syndrome: expected 0x93810040 \(data abort .*WnR=write.*\) under mask 0xffffffc0, got 0x93c38006 \(.*SF=1.*WnR=read/,
    );
  });

  it('stops at a different exit reason: the other fields mean nothing then', () => {
    const got = { reason: 0, exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n } };
    const ms = judgeArm64Exit(
      { reason: { value: 1n, mask: 0xffff_ffffn }, syndrome: { value: 1n, mask: 1n } },
      got,
    );
    assert.deepEqual(ms.map(formatMismatch), [
      'exit.reason: expected HV_EXIT_REASON_EXCEPTION (0x1), got HV_EXIT_REASON_CANCELED (0x0)',
    ]);
  });

  it('spells return codes and VMCS exit reasons by name', () => {
    assert.equal(describeValue({ kind: 'ret' }, BigInt(HV.HV_BAD_ARGUMENT)), 'HV_BAD_ARGUMENT (0xfae94003)');
    assert.equal(
      describeValue({ kind: 'vmcs', field: VMCS.VMCS_RO_EXIT_REASON }, 30n),
      'VMX_REASON_IO (0x1e)',
    );
    assert.equal(
      describeValue({ kind: 'vmcs', field: VMCS.VMCS_RO_EXIT_QUALIFIC }, 0x0010_0040n, { exitReason: 30 }),
      '0x100040 (OUT of 1 byte, port 0x10, port in imm8)',
    );
  });
});
