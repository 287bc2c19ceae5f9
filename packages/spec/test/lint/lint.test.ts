import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatLintReport } from '../../src/lint/format.js';
import { lintTrace } from '../../src/lint/lint.js';
import type { LintReport } from '../../src/lint/types.js';
import { parseTrace } from '../../src/trace/parse.js';
import { type Json, onCpu } from '../trace/steps.js';

const TRACES = join(import.meta.dirname, '../../../../traces');

function lint(arch: 'x86_64' | 'arm64', ...steps: Json[]): LintReport {
  return lintTrace(parseTrace(JSON.stringify({ format: 'hvspec-trace/1', arch, title: 't', steps })));
}
const rules = (r: LintReport, severity = 'error'): string[] =>
  r.findings.filter((f) => f.severity === severity).map((f) => `${f.step}:${f.rule}`);

const ok = { ret: 'HV_SUCCESS' };
/** hv_vm_map of the host buffer `ram` from its start. */
const mapRam = (gpa: string, size: string, flags: string[], ret: unknown = 'HV_SUCCESS') => ({
  call: 'hv_vm_map',
  args: { uva: { mem: 'ram', offset: 0 }, gpa, size, flags },
  expect: { ret },
});
const x86Vm = [
  { call: 'hv_vm_create', args: { flags: 0 }, expect: ok },
  { call: 'host_alloc', args: { name: 'ram', size: '0x2000' } },
  mapRam('0x1000', '0x2000', ['READ', 'WRITE', 'EXEC']),
  { thread: 1, call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu', expect: ok },
];
const run = onCpu('hv_vcpu_run', {}, { expect: ok });
const readVmcs = (field: string, value: string | number) =>
  onCpu('hv_vmx_vcpu_read_vmcs', { field }, { expect: { ret: 'HV_SUCCESS', value } });
const writeVmcs = (field: string, value: string) =>
  onCpu('hv_vmx_vcpu_write_vmcs', { field, value }, { expect: ok });
const writeRip = (value: string) => writeVmcs('VMCS_GUEST_RIP', value);

describe('lintTrace: misuse the spec knows', () => {
  it('names the row of each refused call with its evidence and step', () => {
    const r = lint(
      'x86_64',
      ...x86Vm,
      mapRam('0x10800', '0x1000', ['READ'], 'HV_BAD_ARGUMENT'),
      mapRam('0x2000', '0x1000', ['READ'], 'HV_ERROR'),
      onCpu(
        'hv_vcpu_read_register',
        { reg: 'HV_X86_RAX' },
        { thread: 2, expect: { ret: 'HV_BAD_ARGUMENT' } },
      ),
      { call: 'hv_vm_destroy', args: {}, expect: { ret: 'HV_BUSY' } },
    );
    assert.deepEqual(rules(r), [
      '4:hv_vm_map.misaligned',
      '5:hv_vm_map.overlap',
      '6:hv_vcpu_read_register.wrong-thread',
      '7:hv_vm_destroy.live-vcpus',
    ]);
    const misaligned = r.findings[0];
    assert.equal(misaligned?.evidence, 'header');
    assert.match(misaligned?.source ?? '', /hvf-facts §1\.2/);
    assert.equal(r.errors, 4);
  });

  it('reports a cross-thread destroy as dangerous and a run after destroy as a bad handle', () => {
    const r = lint(
      'x86_64',
      ...x86Vm,
      onCpu('hv_vcpu_destroy', {}, { thread: 2, expect: { ret: 'HV_BAD_ARGUMENT' } }),
      onCpu('hv_vcpu_destroy', {}, { expect: ok }),
      onCpu('hv_vcpu_run', {}, { expect: { ret: 'HV_BAD_ARGUMENT' } }),
    );
    assert.deepEqual(rules(r), ['4:hv_vcpu_destroy.wrong-thread', '6:hv_vcpu_run.bad-handle']);
    assert.equal(r.findings[0]?.kind, 'dangerous');
  });

  it('reports where the recording backend answered differently from the spec, as a warning', () => {
    const r = lint(
      'x86_64',
      { call: 'hv_vm_create', args: { flags: 0 }, expect: ok },
      {
        call: 'hv_vm_create',
        args: { flags: 0 },
        expect: ok,
      },
    );
    assert.deepEqual(rules(r), ['1:hv_vm_create.vm-exists']);
    assert.deepEqual(
      r.findings.filter((f) => f.kind === 'spec-mismatch').map((f) => f.rule),
      ['hv_vm_create.vm-exists'],
    );
  });

  it('counts reliance on an unverified rule once per rule', () => {
    const r = lint(
      'x86_64',
      ...x86Vm,
      readVmcs('VMCS_GUEST_RIP', '0x1000'),
      readVmcs('VMCS_GUEST_RIP', '0x1000'),
    );
    const u = r.findings.filter((f) => f.kind === 'unverified');
    assert.deepEqual(
      u.map((f) => [f.rule, f.step, f.count]),
      [['hv_vmx_vcpu_read_vmcs.ok', 4, 2]],
    );
    assert.equal(r.errors, 0);
  });
});

describe('lintTrace: exits left unhandled (x86)', () => {
  const ioExit = [
    run,
    readVmcs('VMCS_RO_EXIT_REASON', 'VMX_REASON_IO'),
    readVmcs('VMCS_RO_EXIT_QUALIFIC', '0x800040'),
  ];

  it('flags a run after an I/O exit without RIP advanced', () => {
    const r = lint('x86_64', ...x86Vm, ...ioExit, run);
    assert.deepEqual(rules(r), ['7:exit.x86.io']);
    const f = r.findings.find((x) => x.rule === 'exit.x86.io');
    assert.deepEqual(f?.related, [4]);
    assert.match(f?.message ?? '', /OUT of 1 byte, port 0x80/);
  });

  it('flags RIP written back unchanged, and accepts RIP advanced', () => {
    const same = lint(
      'x86_64',
      ...x86Vm,
      ...ioExit,
      readVmcs('VMCS_GUEST_RIP', '0x1000'),
      writeRip('0x1000'),
      run,
    );
    assert.deepEqual(rules(same), ['9:exit.x86.io']);
    assert.match(same.findings.find((f) => f.rule === 'exit.x86.io')?.message ?? '', /wrote back/);
    const advanced = lint(
      'x86_64',
      ...x86Vm,
      ...ioExit,
      readVmcs('VMCS_GUEST_RIP', '0x1000'),
      writeRip('0x1002'),
      run,
    );
    assert.deepEqual(rules(advanced), []);
  });

  it('does not take an injected event for handling an I/O exit (the handler returns to the OUT)', () => {
    const r = lint('x86_64', ...x86Vm, ...ioExit, writeVmcs('VMCS_CTRL_VMENTRY_IRQ_INFO', '0x80000020'), run);
    assert.deepEqual(rules(r), ['8:exit.x86.io']);
  });

  it('accepts an EPT violation fixed by a mapping, and flags one left alone', () => {
    const ept = [
      run,
      readVmcs('VMCS_RO_EXIT_REASON', 'VMX_REASON_EPT_VIOLATION'),
      readVmcs('VMCS_GUEST_PHYSICAL_ADDRESS', '0x8000'),
    ];
    const left = lint('x86_64', ...x86Vm, ...ept, run);
    assert.deepEqual(rules(left), ['7:exit.x86.ept-violation']);
    const elsewhere = lint('x86_64', ...x86Vm, ...ept, mapRam('0x10000', '0x1000', ['READ']), run);
    assert.deepEqual(rules(elsewhere), ['8:exit.x86.ept-violation']);
    const fixed = lint('x86_64', ...x86Vm, ...ept, mapRam('0x8000', '0x1000', ['READ', 'WRITE']), run);
    assert.deepEqual(rules(fixed), []);
  });

  it('judges an exception exit only when it is a fault, and accepts an injection', () => {
    const exc = (info: string) => [
      run,
      readVmcs('VMCS_RO_EXIT_REASON', 'VMX_REASON_EXC_NMI'),
      readVmcs('VMCS_RO_VMEXIT_IRQ_INFO', info),
    ];
    assert.deepEqual(rules(lint('x86_64', ...x86Vm, ...exc('0x80000b0d'), run)), ['7:exit.x86.exception']);
    assert.deepEqual(rules(lint('x86_64', ...x86Vm, ...exc('0x80000603'), run)), []); // int3: a trap
    const injected = lint(
      'x86_64',
      ...x86Vm,
      ...exc('0x80000b0d'),
      writeVmcs('VMCS_CTRL_VMENTRY_IRQ_INFO', '0x80000b0d'),
      run,
    );
    assert.deepEqual(rules(injected), []);
  });

  it('does not judge an exit whose reason the VMM never read, nor a spurious IRQ exit', () => {
    assert.deepEqual(rules(lint('x86_64', ...x86Vm, run, run)), []);
    assert.deepEqual(
      rules(lint('x86_64', ...x86Vm, run, readVmcs('VMCS_RO_EXIT_REASON', 'VMX_REASON_IRQ'), run)),
      [],
    );
  });
});

describe('lintTrace: exits left unhandled (arm64)', () => {
  const vm = [
    { call: 'hv_vm_create', args: { config: null }, expect: ok },
    { thread: 1, call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu', expect: ok },
  ];
  const exit = (syndrome: string, ipa = '0x40000') =>
    onCpu(
      'hv_vcpu_run',
      {},
      {
        expect: {
          ret: 'HV_SUCCESS',
          exit: {
            reason: 'HV_EXIT_REASON_EXCEPTION',
            syndrome,
            virtual_address: '0x0',
            physical_address: ipa,
          },
        },
      },
    );
  const setPc = (value: string) => onCpu('hv_vcpu_set_reg', { reg: 'HV_REG_PC', value }, { expect: ok });

  it('flags a data abort not advanced past, and not an HVC', () => {
    assert.deepEqual(rules(lint('arm64', ...vm, exit('0x93810040'), exit('0x93810040'))), [
      '3:exit.arm64.data-abort',
    ]);
    assert.deepEqual(
      rules(lint('arm64', ...vm, exit('0x93810040'), setPc('0x10004'), exit('0x93810040'))),
      [],
    );
    assert.deepEqual(rules(lint('arm64', ...vm, exit('0x5a000000'), exit('0x5a000000'))), []);
  });

  it('flags WFI, trapped system registers and SMC left at the instruction', () => {
    assert.deepEqual(rules(lint('arm64', ...vm, exit('0x06000000'), exit('0x06000000'))), [
      '3:exit.arm64.wfx',
    ]);
    assert.deepEqual(rules(lint('arm64', ...vm, exit('0x62000000'), exit('0x62000000'))), [
      '3:exit.arm64.sysreg',
    ]);
    assert.deepEqual(rules(lint('arm64', ...vm, exit('0x5e000000'), exit('0x5e000000'))), [
      '3:exit.arm64.smc',
    ]);
  });
});

describe('lintTrace on traces/', () => {
  it('finds nothing wrong in the exit traces and names the misuse in the misuse traces', () => {
    const misuse = new Set([
      'map-misaligned-rejected.json',
      'map-misaligned-bad-argument.json',
      'map-overlap-error.json',
      'vcpu-used-from-other-thread.json',
      'vm-create-twice-rejected.json',
      'vm-create-twice-busy.json',
      'vm-destroy-live-vcpu.json',
      'vmcs-eptp-read-bad-argument.json',
      'config-ipa-size-above-max.json',
      'pending-interrupt-set-get.json',
      'gic-refused-calls.json',
    ]);
    for (const arch of ['x86_64', 'arm64']) {
      for (const name of readdirSync(join(TRACES, arch))) {
        const file = `traces/${arch}/${name}`;
        const report = lintTrace(parseTrace(readFileSync(join(TRACES, arch, name), 'utf8'), file), { file });
        const text = formatLintReport(report);
        if (misuse.has(name)) assert.ok(report.errors > 0, text);
        else assert.equal(report.errors, 0, text);
        assert.ok(!report.findings.some((f) => f.kind === 'unhandled-exit'), text);
      }
    }
  });
});
