/**
 * x86 VMX calls beside VMCS reads and writes: the write masks of a VMCS field, the MSR information of
 * the host, and the shadow VMCS (hvf-facts.md §1.2 [H]; the shadow-VMCS part of Apple's test, §1.8 [T]).
 * @module
 */
import type { SpecEnv, SpecState, SpecVcpu } from '../state.js';
import { HV } from '../vocabulary/returns.js';
import {
  CPU_BASED2,
  HV_SHADOW_VMCS,
  HV_VMX_CAP,
  HV_VMX_MSR_INFO,
  SHADOW_FIELDS_TESTED,
  VMCS,
  vmcsFieldWidth,
} from '../vocabulary/x86.js';
import { ANY, always, arg, H, liveVcpu, NOT_SUCCESS, ownerCall, SUCCESS, T, U } from './dsl.js';
import { IN, OUT, VOCABS, type Vocab, valueIn, valueOut } from './params.js';
import { VMCS_CONTROL_CAPABILITY } from './registers.js';
import type { CallSpec, InParam, Row, SpecCall } from './types.js';

const vocab = (label: string, entries: Record<string, number>): Vocab => ({
  label,
  names: new Map(Object.entries(entries).map(([k, v]) => [k, BigInt(v)])),
});
const MSR_INFO_VOCAB = vocab('HV_VMX_*_MSR_*', HV_VMX_MSR_INFO);
const SHADOW_FLAGS_VOCAB = vocab('HV_SHADOW_VMCS_*', HV_SHADOW_VMCS);
const MSR_INFO_IDS = new Set<bigint>(MSR_INFO_VOCAB.names.values());
const SHADOW_RW = BigInt(HV_SHADOW_VMCS.HV_SHADOW_VMCS_READ | HV_SHADOW_VMCS.HV_SHADOW_VMCS_WRITE);

const fieldParam = (doc: string): InParam => ({
  name: 'field',
  dir: 'in',
  type: IN.u32('uint32_t', VOCABS.vmcs),
  doc,
});

/** The write masks of a field, as the JS API returns the two out-values. */
interface WriteMasks {
  readonly allowed_0: bigint;
  readonly allowed_1: bigint;
}

/** allowed_0 = 1 with allowed_1 = 0 "should not happen" (Apple's header, hvf-facts §1.2 [H]). */
function masksConsistent(v: unknown): string | undefined {
  const m = v as Partial<WriteMasks> | undefined;
  if (typeof m?.allowed_0 !== 'bigint' || typeof m.allowed_1 !== 'bigint')
    return `value: expected {allowed_0, allowed_1} as bigints, got ${String(v)}`;
  const bad = m.allowed_0 & ~m.allowed_1;
  return bad === 0n
    ? undefined
    : `allowed_0 0x${m.allowed_0.toString(16)} has bits allowed_1 0x${m.allowed_1.toString(16)} lacks (0x${bad.toString(16)}: "should not happen")`;
}

const hv_vmx_vcpu_get_cap_write_vmcs = ownerCall({
  name: 'hv_vmx_vcpu_get_cap_write_vmcs',
  arch: 'x86_64',
  summary:
    'Reads the allowed-0 and allowed-1 masks the framework imposes on writes of a VMCS field of a vCPU.',
  availability: 'macOS 11.0',
  header: 'hv_vmx.h',
  params: [
    fieldParam('the VMCS field encoding'),
    {
      name: 'allowed_0',
      dir: 'out',
      type: OUT.u64('uint64_t *'),
      doc: 'bits that must be 1 (allowed-0 mask)',
    },
    {
      name: 'allowed_1',
      dir: 'out',
      type: OUT.u64('uint64_t *'),
      doc: 'bits that may be 1 (allowed-1 mask)',
    },
  ],
  rows: [
    {
      id: 'control',
      when: 'field is a pin-based, CPU-based, secondary CPU-based, VM-entry or VM-exit control',
      applies: (_s, c) => VMCS_CONTROL_CAPABILITY.has(arg<number>(c, 'field')),
      ret: SUCCESS,
      result:
        'allowed_0 = the bits a write must set, allowed_1 = the bits it may set; no bit is in allowed_0 but not in allowed_1',
      evidence: H,
      source:
        'hvf-facts §1.2: hv_vmx_vcpu_get_cap_write_vmcs, 11.0, (0,0) must be clear, (0,1) free, (1,1) must be set, (1,0) "should not happen" [H]',
      value: (_s, _c, v) => masksConsistent(v),
    },
    {
      id: 'other',
      when: 'any other field',
      applies: always,
      ret: ANY,
      result:
        'which other fields have masks is undocumented ("for fields that are scalar values ... any scalar within the allowed range"); on HV_SUCCESS no bit is in allowed_0 but not in allowed_1',
      evidence: U,
      source: "hvf-facts §1.2: the masks' meaning [H]; the fields that have them are undocumented [U]",
      value: (_s, _c, v) => masksConsistent(v),
    },
  ],
});

const hv_vmx_get_msr_info: CallSpec = {
  name: 'hv_vmx_get_msr_info',
  arch: 'x86_64',
  summary:
    "Reads what the host offers a guest's MSRs: the value of IA32_ARCH_CAPABILITIES or IA32_PERF_CAPABILITIES, or a mask of the bits a guest may set in a PMU, DEBUGCTL or SPEC_CTRL MSR.",
  availability: 'macOS 11.0',
  thread: 'process',
  header: 'hv_vmx.h',
  params: [
    { name: 'field', dir: 'in', type: IN.u64('hv_vmx_msr_info_t', MSR_INFO_VOCAB), doc: 'what to read' },
    valueOut('the information'),
  ],
  rows: [
    {
      id: 'unknown',
      when: 'field is not an hv_vmx_msr_info_t value',
      applies: (_s, c) => !MSR_INFO_IDS.has(arg<bigint>(c, 'field')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.2 lists nine ids; others are undocumented',
    },
    {
      id: 'no-vm',
      when: 'there is no VM',
      applies: (s) => s.vm === null,
      ret: ANY,
      result: 'whether the information needs a VM is undocumented',
      evidence: U,
      source: 'hvf-facts §1.2: "information about guest MSR configuration" [H]; no test calls it [U]',
    },
    {
      id: 'ok',
      when: 'field is an hv_vmx_msr_info_t value and a VM exists',
      applies: always,
      ret: SUCCESS,
      result: 'value = the information (the host decides it)',
      evidence: H,
      source: 'hvf-facts §1.2: hv_vmx_get_msr_info, 11.0, ids 0–8 [H]',
    },
  ],
};

/** Whether the host offers VMCS shadowing (PROCBASED2 allowed-1 bit 14); undefined when not declared. */
export function hostHasShadowVmcs(env: SpecEnv): boolean | undefined {
  const cap = env.vmxCapabilities[HV_VMX_CAP.HV_VMX_CAP_PROCBASED2];
  if (cap === undefined) return undefined;
  return ((cap >> 32n) & BigInt(CPU_BASED2.CPU_BASED2_VMCS_SHADOW)) !== 0n;
}

/** Whether the VMM enabled VMCS shadowing in the vCPU's secondary controls, as far as the spec knows. */
function shadowEnabled(v: SpecVcpu): boolean {
  const ctl = v.cpuBased2;
  return ctl !== undefined && (ctl & BigInt(CPU_BASED2.CPU_BASED2_VMCS_SHADOW)) !== 0n;
}

/** The situation of Apple's test: shadowing offered and enabled, a field it used, read and write granted. */
function testedShadowAccess(s: SpecState, c: SpecCall): boolean {
  const v = liveVcpu(s, c);
  const field = arg<number>(c, 'field');
  return (
    hostHasShadowVmcs(s.env) === true &&
    shadowEnabled(v) &&
    SHADOW_FIELDS_TESTED.includes(field) &&
    v.shadowAccess.get(field) === SHADOW_RW
  );
}

const fits = (field: number, value: bigint): boolean => value >> BigInt(vmcsFieldWidth(field)) === 0n;

/** The guest's access to a field of the shadow VMCS becomes `flags`. */
function setShadowAccess(s: SpecState, c: SpecCall): void {
  liveVcpu(s, c).shadowAccess.set(arg<number>(c, 'field'), arg<bigint>(c, 'flags'));
}

/** The rows every shadow-VMCS call starts with after the vCPU prelude. */
const shadowRows: Row[] = [
  {
    id: 'no-shadow-vmcs',
    when: 'the host does not offer VMCS shadowing (bit 14 of the allowed-1 half of HV_VMX_CAP_PROCBASED2 is clear)',
    applies: (s: SpecState) => hostHasShadowVmcs(s.env) === false,
    requires: (env: SpecEnv) => hostHasShadowVmcs(env) === false,
    ret: NOT_SUCCESS,
    evidence: U,
    source:
      "hvf-facts §1.2: the shadow-VMCS calls require CPU_BASED2_VMCS_SHADOW support; Apple's test skips without it [T]; the code is undocumented [U]",
  },
];

const hv_vmx_vcpu_set_shadow_access = ownerCall({
  name: 'hv_vmx_vcpu_set_shadow_access',
  arch: 'x86_64',
  summary: "Sets whether a vCPU's guest may VMREAD and VMWRITE a field of its shadow VMCS without an exit.",
  availability: 'macOS 10.15',
  header: 'hv_vmx.h',
  params: [
    fieldParam('the VMCS field encoding'),
    {
      name: 'flags',
      dir: 'in',
      type: IN.u64('hv_shadow_flags_t', SHADOW_FLAGS_VOCAB),
      doc: 'HV_SHADOW_VMCS_READ and/or HV_SHADOW_VMCS_WRITE, or HV_SHADOW_VMCS_NONE',
    },
  ],
  rows: [
    ...shadowRows,
    {
      id: 'tested',
      when: "shadowing is offered and enabled in VMCS_CTRL_CPU_BASED2, field is one Apple's test shadows (VMCS_GUEST_ES, VMCS_RO_EXIT_QUALIFIC, VMCS_RO_IO_RCX) or VMCS_CTRL_EPTP, flags = READ | WRITE",
      applies: (s, c) =>
        hostHasShadowVmcs(s.env) === true &&
        shadowEnabled(liveVcpu(s, c)) &&
        [...SHADOW_FIELDS_TESTED, VMCS.VMCS_CTRL_EPTP].includes(arg<number>(c, 'field')) &&
        arg<bigint>(c, 'flags') === SHADOW_RW,
      requires: (env) => hostHasShadowVmcs(env) === true,
      ret: SUCCESS,
      result:
        'the guest may VMREAD and VMWRITE the field in the shadow VMCS (EPTP too: the ordinary VMCS_CTRL_EPTP stays inaccessible)',
      evidence: T,
      source:
        "hvf-facts §1.8: Apple's test enables READ | WRITE on these fields and on VMCS_CTRL_EPTP, all HV_SUCCESS [T]",
      effect: setShadowAccess,
    },
    {
      id: 'other',
      when: 'any other field, flags, or shadowing not enabled in the controls',
      applies: always,
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the field has the new access, otherwise nothing changes',
      evidence: U,
      source:
        'hvf-facts §1.2: hv_vmx_vcpu_set_shadow_access, 10.15 [H]; other fields and flags are untested [U]',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) setShadowAccess(s, c);
      },
    },
  ],
});

/** A tested shadow VMCS write: the field holds the value, unless it is wider than the field. */
function writeShadow(s: SpecState, c: SpecCall): void {
  const v = liveVcpu(s, c);
  const field = arg<number>(c, 'field');
  const value = arg<bigint>(c, 'value');
  // A value wider than the field: what the framework stores is undocumented.
  if (fits(field, value)) v.shadow.set(field, value);
  else v.shadow.delete(field);
}

/** `hv_vmx_vcpu_read_shadow_vmcs` and `hv_vmx_vcpu_write_shadow_vmcs`: defined on the fields Apple's test shadows. */
function shadowVmcsAccess(name: 'hv_vmx_vcpu_read_shadow_vmcs' | 'hv_vmx_vcpu_write_shadow_vmcs'): CallSpec {
  const read = name === 'hv_vmx_vcpu_read_shadow_vmcs';
  return ownerCall({
    name,
    arch: 'x86_64',
    summary: `${read ? 'Reads' : 'Writes'} a field of a vCPU's shadow VMCS.`,
    availability: 'macOS 10.15',
    header: 'hv_vmx.h',
    params: [fieldParam('the VMCS field encoding'), read ? valueOut() : valueIn()],
    rows: [
      ...shadowRows,
      {
        id: 'tested',
        when: "shadowing is offered and enabled, field is one Apple's test shadows and has READ | WRITE access",
        applies: testedShadowAccess,
        requires: (env) => hostHasShadowVmcs(env) === true,
        ret: SUCCESS,
        result: read
          ? 'value = what the VMM or, since, the guest wrote there'
          : 'the shadow VMCS field holds the value (the guest VMREADs it)',
        evidence: T,
        source: read
          ? "hvf-facts §1.8: Apple's test reads back the values its guest VMWRITEs into these fields [T]"
          : "hvf-facts §1.8: Apple's test writes these shadow fields, HV_SUCCESS, and its guest reads the values [T]",
        ...(read
          ? { expect: (s: SpecState, c: SpecCall) => liveVcpu(s, c).shadow.get(arg<number>(c, 'field')) }
          : { effect: writeShadow }),
      },
      {
        id: 'other',
        when: 'any other field or access, or shadowing not enabled in the controls',
        applies: always,
        ret: ANY,
        result: read
          ? 'undocumented'
          : 'undocumented; on HV_SUCCESS the field holds some value the spec does not predict',
        evidence: U,
        source: `hvf-facts §1.2: ${name}, 10.15 [H]; other fields are untested [U]`,
        // A write outside the tested cases may have stored anything.
        ...(read
          ? {}
          : { effect: (s: SpecState, c: SpecCall) => liveVcpu(s, c).shadow.delete(arg<number>(c, 'field')) }),
      },
    ],
  });
}

export const X86_VMX_EXTRA_CALLS: readonly CallSpec[] = [
  hv_vmx_vcpu_get_cap_write_vmcs,
  hv_vmx_get_msr_info,
  hv_vmx_vcpu_set_shadow_access,
  shadowVmcsAccess('hv_vmx_vcpu_read_shadow_vmcs'),
  shadowVmcsAccess('hv_vmx_vcpu_write_shadow_vmcs'),
];
