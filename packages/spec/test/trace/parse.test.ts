import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { callSpecs } from '../../src/calls/registry.js';
import { traceCallArchs, traceCallSpec } from '../../src/trace/calls.js';
import { parseTrace, TraceError } from '../../src/trace/parse.js';

const TRACES = join(import.meta.dirname, '../../../../traces');

type Json = Record<string, unknown>;

function arm64(...steps: Json[]): Json {
  return { format: 'hvspec-trace/1', arch: 'arm64', title: 't', steps };
}
function x86(...steps: Json[]): Json {
  return { format: 'hvspec-trace/1', arch: 'x86_64', title: 't', steps };
}
const vmCreate = { call: 'hv_vm_create', args: { config: null } };
const vcpuCreate = { call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu' };
const alloc = { call: 'host_alloc', args: { name: 'ram', size: '0x4000' } };
/** A VM and a VM configuration bound as `$cfg` (step 1): a handle of the config kind. */
const withVmConfig = [vmCreate, { call: 'hv_vm_config_create', args: {}, bind: 'cfg' }];

/** Parses and returns the TraceError, failing the test if there is none. */
function error(trace: unknown, file = 'traces/x.json'): TraceError {
  try {
    parseTrace(typeof trace === 'string' ? trace : JSON.stringify(trace), file);
  } catch (e) {
    assert.ok(e instanceof TraceError, `expected a TraceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the trace to be rejected');
}

describe('parseTrace accepts', () => {
  it('every example trace in traces/', () => {
    for (const arch of ['arm64', 'x86_64']) {
      for (const name of readdirSync(join(TRACES, arch))) {
        const file = `traces/${arch}/${name}`;
        const trace = parseTrace(readFileSync(join(TRACES, arch, name), 'utf8'), file);
        assert.equal(trace.arch, arch, file);
      }
    }
  });

  it('names, numbers, hex strings, masks, refs and async/await', () => {
    const trace = parseTrace(
      JSON.stringify(
        arm64(
          vmCreate,
          alloc,
          {
            call: 'hv_vm_map',
            args: { uva: { mem: 'ram', offset: 0 }, ipa: 0x10000, size: '0x4000', flags: 7 },
          },
          { thread: 1, ...vcpuCreate },
          { thread: 1, call: 'hv_vcpu_get_reg', args: { vcpu: '$cpu', reg: 'HV_REG_LR' }, bind: 'lr' },
          {
            thread: 1,
            call: 'hv_vcpu_set_reg',
            args: { vcpu: '$cpu', reg: 3, value: '$lr' },
            expect: { ret: { oneOf: ['HV_SUCCESS', 0xfae94003] } },
          },
          {
            thread: 1,
            call: 'hv_vcpu_get_reg',
            args: { vcpu: '$cpu', reg: 'HV_REG_X3' },
            expect: { value: { value: '$lr', mask: '0xffffffffffffffff' } },
          },
          { thread: 1, call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'spin' },
          { call: 'hv_vcpus_exit', args: { vcpus: ['$cpu'] } },
          {
            call: 'await',
            args: { label: 'spin' },
            expect: { ret: 'HV_SUCCESS', exit: { reason: 'HV_EXIT_REASON_CANCELED' } },
          },
        ),
      ),
    );
    assert.equal(trace.steps.length, 10);
  });
});

describe('parseTrace rejects, naming file, step and field', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['invalid JSON', '{"format": ', /^traces\/x\.json: not valid JSON/],
    [
      'wrong format',
      { ...arm64(vmCreate), format: 'hvspec-trace/2' },
      /^traces\/x\.json: format: expected "hvspec-trace\/1"/,
    ],
    [
      'unknown arch',
      { ...arm64(vmCreate), arch: 'riscv' },
      /arch: expected "x86_64" or "arm64", got "riscv"/,
    ],
    [
      'missing title',
      { format: 'hvspec-trace/1', arch: 'arm64', steps: [vmCreate] },
      /title: expected a non-empty string/,
    ],
    ['unknown top-level field', { ...arm64(vmCreate), author: 'me' }, /author: unknown field/],
    ['empty steps', arm64(), /steps: expected a non-empty list of steps/],
    [
      'a step that is not an object',
      arm64(vmCreate, 3 as unknown as Json),
      /step 1: expected a step object, got 3/,
    ],
    [
      'unknown call',
      arm64({ call: 'hv_vm_frobnicate', args: {} }),
      /step 0 \(hv_vm_frobnicate\): call: unknown call "hv_vm_frobnicate"/,
    ],
    [
      'call of the other arch',
      arm64(vmCreate, { call: 'hv_vcpu_interrupt', args: { vcpus: [] } }),
      /step 1 \(hv_vcpu_interrupt\): call: hv_vcpu_interrupt is an x86_64 call, not arm64/,
    ],
    [
      'unknown step field',
      arm64({ ...vmCreate, threads: 1 }),
      /step 0 \(hv_vm_create\): threads: unknown field/,
    ],
    [
      'bad thread',
      arm64({ ...vmCreate, thread: -1 }),
      /step 0 \(hv_vm_create\): thread: expected a logical thread number/,
    ],
    ['missing args', arm64({ call: 'hv_vm_destroy' }), /step 0 \(hv_vm_destroy\): args: missing/],
    [
      'unknown argument',
      arm64({ call: 'hv_vm_create', args: { config: null, flags: 0 } }),
      /step 0 \(hv_vm_create\): args\.flags: unknown argument \(hv_vm_create takes config\)/,
    ],
    [
      'missing argument',
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, flags: [] },
      }),
      /step 2 \(hv_vm_map\): args\.size: missing \(hv_vm_map takes uva, ipa, size, flags\)/,
    ],
    [
      'boolean size',
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: true, flags: [] },
      }),
      /^traces\/x\.json: step 2 \(hv_vm_map\): args\.size: expected a number or hex string, got true$/,
    ],
    [
      'negative number',
      arm64(vmCreate, { call: 'hv_vm_unmap', args: { ipa: -4096, size: 4096 } }),
      /step 1 \(hv_vm_unmap\): args\.ipa: expected a non-negative integer, got -4096/,
    ],
    [
      'number above 2^53',
      arm64(vmCreate, { call: 'hv_vm_unmap', args: { ipa: 2 ** 60, size: 4096 } }),
      /args\.ipa: .* above 2\^53 .* hex string/,
    ],
    [
      'bad hex number',
      arm64(vmCreate, { call: 'hv_vm_unmap', args: { ipa: '0x10g00', size: 4096 } }),
      /args\.ipa: expected a number or hex string, got "0x10g00"/,
    ],
    [
      'number too wide',
      arm64(vmCreate, { call: 'hv_vm_unmap', args: { ipa: '0x10000000000000000', size: 4096 } }),
      /args\.ipa: 0x10000000000000000 does not fit in 64 bits/,
    ],
    [
      'unknown register name',
      arm64(vmCreate, vcpuCreate, { call: 'hv_vcpu_get_reg', args: { vcpu: '$cpu', reg: 'HV_REG_X31' } }),
      /step 2 \(hv_vcpu_get_reg\): args\.reg: unknown name "HV_REG_X31" \(expected a name \(HV_REG_\*\)/,
    ],
    [
      'x86 register name on arm64',
      arm64(vmCreate, vcpuCreate, { call: 'hv_vcpu_get_reg', args: { vcpu: '$cpu', reg: 'HV_X86_RIP' } }),
      /args\.reg: unknown name "HV_X86_RIP"/,
    ],
    [
      'unknown VMCS field',
      x86(
        { call: 'hv_vm_create', args: { flags: 0 } },
        { call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        { call: 'hv_vmx_vcpu_read_vmcs', args: { vcpu: '$cpu', field: 'VMCS_GUEST_RIPP' } },
      ),
      /step 2 \(hv_vmx_vcpu_read_vmcs\): args\.field: unknown name "VMCS_GUEST_RIPP"/,
    ],
    [
      'unknown capability',
      x86({ call: 'hv_vmx_read_capability', args: { field: 'HV_VMX_CAP_NOPE' } }),
      /step 0 \(hv_vmx_read_capability\): args\.field: unknown name "HV_VMX_CAP_NOPE"/,
    ],
    [
      'unknown interrupt type',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_set_pending_interrupt',
        args: { vcpu: '$cpu', type: 'HV_INTERRUPT_TYPE_NMI', pending: true },
      }),
      /args\.type: unknown name "HV_INTERRUPT_TYPE_NMI"/,
    ],
    [
      'unknown memory flag',
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: 4096, flags: ['READ', 'EXECUTE'] },
      }),
      /step 2 \(hv_vm_map\): args\.flags\[1\]: expected a name \(READ\/WRITE\/EXEC\), got "EXECUTE"/,
    ],
    [
      'x86-only memory flag on arm64',
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: 4096, flags: ['UEXEC'] },
      }),
      /args\.flags\[0\]: expected a name/,
    ],
    [
      'unknown vm option',
      x86({ call: 'hv_vm_create', args: { flags: ['HV_VM_TURBO'] } }),
      /step 0 \(hv_vm_create\): args\.flags\[0\]: expected a name \(HV_VM_\*\), got "HV_VM_TURBO"/,
    ],
    [
      'unbound reference',
      arm64(vmCreate, { call: 'hv_vcpu_destroy', args: { vcpu: '$cpu' } }),
      /step 1 \(hv_vcpu_destroy\): args\.vcpu: \$cpu is not bound by an earlier step/,
    ],
    [
      'reference bound later',
      arm64(vmCreate, { call: 'hv_vcpu_destroy', args: { vcpu: '$cpu' } }, vcpuCreate),
      /step 1 .*\$cpu is not bound/,
    ],
    [
      'reference of the wrong kind',
      arm64(...withVmConfig, { call: 'hv_vcpu_destroy', args: { vcpu: '$cfg' } }),
      /step 2 \(hv_vcpu_destroy\): args\.vcpu: \$cfg holds a config \(bound by step 1, hv_vm_config_create\), expected vcpu/,
    ],
    [
      'reference in a list',
      arm64(vmCreate, { call: 'hv_vcpus_exit', args: { vcpus: ['$nope'], vcpu_count: 1 } }),
      /step 1 \(hv_vcpus_exit\): args\.vcpus\[0\]: \$nope is not bound/,
    ],
    [
      'unknown host buffer',
      arm64(vmCreate, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'rom', offset: 0 }, ipa: 0, size: 4096, flags: [] },
      }),
      /step 1 \(hv_vm_map\): args\.uva\.mem: no host buffer named "rom"/,
    ],
    [
      'uva with extra field',
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0, size: 1 }, ipa: 0, size: 4096, flags: [] },
      }),
      /args\.uva\.size: unknown field/,
    ],
    [
      'duplicate host buffer',
      arm64(alloc, alloc),
      /step 1 \(host_alloc\): args\.name: a host buffer named "ram" already exists/,
    ],
    [
      'odd hex bytes',
      arm64(alloc, { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: '010' } }),
      /step 1 \(host_write\): args\.bytes: expected hex bytes/,
    ],
    [
      '0x-prefixed bytes',
      arm64(alloc, { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: '0x01' } }),
      /args\.bytes: expected hex bytes/,
    ],
    [
      'bad expected bytes',
      arm64(alloc, { call: 'host_read', args: { mem: 'ram', offset: 0, size: 1 }, expect: { bytes: 'zz' } }),
      /step 1 \(host_read\): expect\.bytes: expected hex bytes/,
    ],
    [
      'unknown return code',
      arm64({ ...vmCreate, expect: { ret: 'HV_OK' } }),
      /step 0 \(hv_vm_create\): expect\.ret: unknown return code "HV_OK"/,
    ],
    [
      'bad not',
      arm64({ ...vmCreate, expect: { ret: { not: 'HV_NOPE' } } }),
      /expect\.ret\.not: unknown return code "HV_NOPE"/,
    ],
    [
      'empty oneOf',
      arm64({ ...vmCreate, expect: { ret: { oneOf: [] } } }),
      /expect\.ret\.oneOf: expected a non-empty list/,
    ],
    [
      'unknown ret object',
      arm64({ ...vmCreate, expect: { ret: { any: true } } }),
      /expect\.ret: expected a return code, \{"not": code\} or \{"oneOf": \[codes\]\}/,
    ],
    [
      'value on a call without out-value',
      arm64({ ...vmCreate, expect: { value: 1 } }),
      /step 0 \(hv_vm_create\): expect\.value: not checkable on hv_vm_create \(it takes ret\)/,
    ],
    [
      'exit on x86 run',
      x86(
        { call: 'hv_vm_create', args: { flags: 0 } },
        { call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, expect: { exit: { reason: 1 } } },
      ),
      /step 2 \(hv_vcpu_run\): expect\.exit: not checkable on hv_vcpu_run/,
    ],
    [
      'unknown exit reason',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        expect: { exit: { reason: 'HV_EXIT_REASON_HALT' } },
      }),
      /step 2 \(hv_vcpu_run\): expect\.exit\.reason: unknown name "HV_EXIT_REASON_HALT"/,
    ],
    [
      'unknown exit field',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        expect: { exit: { esr: 1 } },
      }),
      /expect\.exit\.esr: unknown field/,
    ],
    [
      'mask without value',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        expect: { exit: { syndrome: { mask: '0xff' } } },
      }),
      /expect\.exit\.syndrome\.value: missing/,
    ],
    [
      'bool value as number',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_get_vtimer_mask',
        args: { vcpu: '$cpu' },
        expect: { value: 1 },
      }),
      /step 2 \(hv_vcpu_get_vtimer_mask\): expect\.value: expected true or false, got 1/,
    ],
    [
      'VMX reason name on another field',
      x86(
        { call: 'hv_vm_create', args: { flags: 0 } },
        { call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        {
          call: 'hv_vmx_vcpu_read_vmcs',
          args: { vcpu: '$cpu', field: 'VMCS_GUEST_RIP' },
          expect: { value: 'VMX_REASON_HLT' },
        },
      ),
      /step 2 \(hv_vmx_vcpu_read_vmcs\): expect\.value: expected a number or hex string, got "VMX_REASON_HLT"/,
    ],
    [
      'unknown expect field',
      arm64({ ...vmCreate, expect: { ret: 'HV_SUCCESS', retval: 0 } }),
      /expect\.retval: not checkable/,
    ],
    [
      'bind without out-value',
      arm64({ ...vmCreate, bind: 'vm' }),
      /step 0 \(hv_vm_create\): bind: hv_vm_create has no out-value to bind/,
    ],
    [
      'bytes from a binding of another kind',
      arm64(
        vmCreate,
        { ...vcpuCreate, bind: 'cpu' },
        {
          call: 'hv_gic_set_state',
          args: { gic_state_data: '$cpu' },
        },
      ),
      /step 2 \(hv_gic_set_state\): args\.gic_state_data: \$cpu holds a vcpu .*expected bytes/,
    ],
    [
      'bad bind name',
      arm64(vmCreate, { ...vcpuCreate, bind: '$cpu' }),
      /step 1 \(hv_vcpu_create\): bind: expected a name/,
    ],
    [
      'async on a call without async form',
      arm64({ ...vmCreate, async: true, label: 'a' }),
      /step 0 \(hv_vm_create\): async: hv_vm_create has no async form/,
    ],
    [
      'an unknown exit kind',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        expect: { ret: 'HV_SUCCESS', kind: 'arm64.wfx' },
      }),
      /step 2 \(hv_vcpu_run\): expect\.kind: expected an arm64 exit kind \(arm64\.…\), got "arm64\.wfx"/,
    ],
    [
      'an exit kind on a call without an exit',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_get_reg',
        args: { vcpu: '$cpu', reg: 'HV_REG_PC' },
        expect: { ret: 'HV_SUCCESS', kind: 'arm64.wfe' },
      }),
      /step 2 \(hv_vcpu_get_reg\): expect\.kind: not checkable on hv_vcpu_get_reg/,
    ],
    [
      'async without label',
      arm64(vmCreate, vcpuCreate, { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true }),
      /step 2 \(hv_vcpu_run\): label: an async step needs a label/,
    ],
    [
      'label without async',
      arm64(vmCreate, vcpuCreate, { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, label: 'r' }),
      /step 2 \(hv_vcpu_run\): label: only async steps carry a label/,
    ],
    [
      'expect on an async step',
      arm64(vmCreate, vcpuCreate, {
        call: 'hv_vcpu_run',
        args: { vcpu: '$cpu' },
        async: true,
        label: 'r',
        expect: { ret: 0 },
      }),
      /step 2 \(hv_vcpu_run\): expect: an async step checks nothing/,
    ],
    [
      'async never awaited',
      arm64(vmCreate, vcpuCreate, { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'r' }),
      /step 2 \(hv_vcpu_run\): label: never awaited/,
    ],
    [
      'await of an unknown label',
      arm64({ call: 'await', args: { label: 'r' } }),
      /step 0 \(await\): args\.label: no earlier async step is labelled "r"/,
    ],
    [
      'await twice',
      arm64(
        vmCreate,
        vcpuCreate,
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'r' },
        { call: 'await', args: { label: 'r' } },
        { call: 'await', args: { label: 'r' } },
      ),
      /step 4 \(await\): args\.label: the async step labelled "r" is already awaited/,
    ],
    [
      'await with a value expectation',
      arm64(
        vmCreate,
        vcpuCreate,
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'r' },
        { call: 'await', args: { label: 'r' }, expect: { value: 1 } },
      ),
      /step 3 \(await\): expect\.value: not checkable on hv_vcpu_run/,
    ],
    [
      'duplicate label',
      arm64(
        vmCreate,
        vcpuCreate,
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'r' },
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'r' },
      ),
      /step 3 \(hv_vcpu_run\): label: label "r" is already used/,
    ],
    [
      'x86_setup on arm64',
      arm64(vmCreate, vcpuCreate, { call: 'x86_setup', args: { vcpu: '$cpu', mode: 'prot32', rip: 0 } }),
      /step 2 \(x86_setup\): call: x86_setup is an x86_64 call, not arm64/,
    ],
    [
      'x86_setup unknown mode',
      x86(
        { call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        { call: 'x86_setup', args: { vcpu: '$cpu', mode: 'prot16', rip: 0 } },
      ),
      /step 1 \(x86_setup\): args\.mode: expected one of "real", "prot32", "prot32-paging", "long64", got "prot16"/,
    ],
    [
      'x86_setup on a thread that does not own the vCPU',
      x86(
        { thread: 2, call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        { thread: 1, call: 'x86_setup', args: { vcpu: '$cpu', mode: 'prot32', rip: 0 } },
      ),
      /step 1 \(x86_setup\): thread: x86_setup runs on the vCPU's owning thread 2/,
    ],
    [
      'arm64 vcpu config of the wrong kind (a VM configuration)',
      arm64(...withVmConfig, { call: 'hv_vcpu_create', args: { config: '$cfg' } }),
      /step 2 \(hv_vcpu_create\): args\.config: \$cfg holds a config \(bound by step 1, hv_vm_config_create\), expected vcpu_config/,
    ],
  ];
  for (const [name, trace, pattern] of cases) {
    it(name, () => {
      const e = error(trace);
      assert.match(e.message, pattern);
      assert.equal(e.file, 'traces/x.json');
    });
  }

  it('carries the step, call and field as properties', () => {
    const e = error(
      arm64(vmCreate, alloc, {
        call: 'hv_vm_map',
        args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: true, flags: [] },
      }),
    );
    assert.equal(e.step, 2);
    assert.equal(e.call, 'hv_vm_map');
    assert.equal(e.field, 'args.size');
    assert.equal(e.detail, 'expected a number or hex string, got true');
  });

  it('omits the file when none is given', () => {
    assert.throws(
      () => parseTrace(JSON.stringify(arm64({ call: 'nope', args: {} }))),
      (e: unknown) => {
        assert.ok(e instanceof TraceError);
        assert.equal(e.file, undefined);
        assert.match(e.message, /^step 0 \(nope\): call: unknown call/);
        return true;
      },
    );
  });
});

describe('the call table', () => {
  it('has an entry for every function of the registry, per architecture', () => {
    for (const arch of ['x86_64', 'arm64'] as const) {
      const names = callSpecs(arch).map((c) => c.name);
      assert.ok(names.length > 15);
      for (const name of names) assert.ok(traceCallSpec(name, arch), `${name} (${arch})`);
    }
    assert.deepEqual(traceCallArchs('hv_vcpus_exit'), ['arm64']);
    assert.deepEqual(traceCallArchs('host_alloc'), ['x86_64', 'arm64']);
  });
});
