import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allRuleIds,
  callSpecs,
  forgeVcpu,
  HV,
  initialState,
  judge,
  predict,
  type SpecEnv,
  VMCS,
} from '../../src/index.ts';

const env = (arch: 'x86_64' | 'arm64'): SpecEnv => ({
  arch,
  pageSize: arch === 'x86_64' ? 4096 : 16384,
  maxVcpus: 2,
  maxIpaSize: 40,
  defaultIpaSize: 36,
  ipaGranule4k: true,
  maxAddressSpaces: 2,
  vmxCapabilities: {},
});

describe('rule tables', () => {
  for (const arch of ['x86_64', 'arm64'] as const) {
    it(`${arch}: every row carries an evidence tag and a source, and ids are unique`, () => {
      const ids = allRuleIds(arch);
      assert.equal(new Set(ids).size, ids.length);
      for (const spec of callSpecs(arch)) {
        assert.ok(spec.rows.length > 0, spec.name);
        for (const row of spec.rows) {
          assert.ok(
            ['header', 'tested', 'reported', 'unverified'].includes(row.evidence),
            `${spec.name}.${row.id}`,
          );
          assert.ok(row.source.length > 0, `${spec.name}.${row.id} has no source`);
          // An unverified row may not pin a non-success code: that would be a guess.
          if (row.evidence === 'unverified' && row.ret.kind === 'code')
            assert.equal(row.ret.code, HV.HV_SUCCESS, `${spec.name}.${row.id} guesses a code`);
        }
      }
    });
  }

  it('arm64: a second hv_vm_create is HV_BUSY (applevisor, tested) and leaves the VM in place', () => {
    const s = initialState(env('arm64'));
    assert.equal(
      judge(s, { name: 'hv_vm_create', t: 0, args: { config: null } }, { ret: HV.HV_SUCCESS }).ok,
      true,
    );
    const second = { name: 'hv_vm_create', t: 0, args: { config: null } };
    assert.equal(predict(s, second).ruleId, 'hv_vm_create.vm-exists');
    const j = judge(s, second, { ret: HV.HV_ERROR });
    assert.equal(j.ok, false);
    assert.match(j.mismatch ?? '', /expected HV_BUSY, got HV_ERROR/);
    assert.notEqual(s.vm, null);
  });

  it('x86: reading VMCS_CTRL_EPTP is HV_BAD_ARGUMENT; any other code is a mismatch', () => {
    const s = initialState(env('x86_64'));
    judge(s, { name: 'hv_vm_create', t: 0, args: { flags: 0n } }, { ret: 0 });
    judge(s, { name: 'hv_vcpu_create', t: 1, args: { flags: 0n } }, { ret: 0, value: 0 });
    const read = {
      name: 'hv_vmx_vcpu_read_vmcs',
      t: 1,
      args: { vcpu: forgeVcpu(0), field: VMCS.VMCS_CTRL_EPTP },
    };
    assert.equal(judge(s, read, { ret: HV.HV_BAD_ARGUMENT }).ok, true);
    assert.equal(judge(s, read, { ret: HV.HV_ERROR }).ok, false);
  });

  it('a loose row accepts any non-success code and rejects HV_SUCCESS', () => {
    const s = initialState(env('x86_64'));
    const destroy = { name: 'hv_vm_destroy', t: 0, args: {} };
    assert.equal(predict(s, destroy).row.ret.kind, 'not-success');
    assert.equal(judge(s, destroy, { ret: HV.HV_NO_DEVICE }).ok, true);
    assert.equal(judge(s, destroy, { ret: HV.HV_ERROR }).ok, true);
    assert.equal(judge(s, destroy, { ret: HV.HV_SUCCESS }).ok, false);
  });

  it('x86: a GPR written by the VMM must read back exactly, from its owner only', () => {
    const s = initialState(env('x86_64'));
    judge(s, { name: 'hv_vm_create', t: 0, args: { flags: 0n } }, { ret: 0 });
    judge(s, { name: 'hv_vcpu_create', t: 2, args: { flags: 0n } }, { ret: 0, value: 5 });
    judge(s, { name: 'hv_vcpu_write_register', t: 2, args: { vcpu: 5, reg: 2, value: 0x1234n } }, { ret: 0 });
    const read = { name: 'hv_vcpu_read_register', t: 2, args: { vcpu: 5, reg: 2 } };
    assert.equal(judge(s, read, { ret: 0, value: 0x1234n }).ok, true);
    assert.equal(judge(s, read, { ret: 0, value: 0x1235n }).ok, false);
    const fromOther = { name: 'hv_vcpu_read_register', t: 0, args: { vcpu: 5, reg: 2 } };
    assert.equal(predict(s, fromOther).ruleId, 'hv_vcpu_read_register.wrong-thread');
  });

  it('cross-thread hv_vcpu_destroy is marked dangerous (reported host panic)', () => {
    const s = initialState(env('arm64'));
    judge(s, { name: 'hv_vm_create', t: 0, args: { config: null } }, { ret: 0 });
    judge(s, { name: 'hv_vcpu_create', t: 1, args: { config: null } }, { ret: 0, value: 0 });
    const p = predict(s, { name: 'hv_vcpu_destroy', t: 0, args: { vcpu: 0 } });
    assert.equal(p.ruleId, 'hv_vcpu_destroy.wrong-thread');
    assert.match(p.row.dangerous ?? '', /panic/);
  });

  it('arm64: a sticky hv_vcpus_exit makes the next run CANCELED and is consumed', () => {
    const s = initialState(env('arm64'));
    judge(s, { name: 'hv_vm_create', t: 0, args: { config: null } }, { ret: 0 });
    judge(s, { name: 'hv_vcpu_create', t: 1, args: { config: null } }, { ret: 0, value: 0 });
    judge(s, { name: 'hv_vcpus_exit', t: 0, args: { vcpus: [0], vcpu_count: 1 } }, { ret: 0 });
    const run = { name: 'hv_vcpu_run', t: 1, args: { vcpu: 0 } };
    const exit = (reason: number) => ({
      reason,
      exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
    });
    assert.equal(judge(s, run, { ret: 0, value: exit(1) }).ok, false);
    assert.equal(judge(s, run, { ret: 0, value: exit(0) }).ok, true);
    assert.equal(predict(s, run).ruleId, 'hv_vcpu_run.guest');
  });
});
