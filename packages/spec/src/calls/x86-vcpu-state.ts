/**
 * x86 calls on a vCPU's state beside its registers and VMCS: model-specific registers (native access,
 * read, write) and the cache/TLB calls (hvf-facts.md §1.2 [H]; the XNU test [T]).
 * @module
 */
import { NATIVE_MSRS_TESTED, X86_MSR } from '../vocabulary/x86.js';
import { ANY, always, arg, H, liveVcpu, SUCCESS, T, U, vcpuPrelude } from './dsl.js';
import { IN, OUT, type Vocab } from './params.js';
import type { CallSpec, InParam } from './types.js';

const vcpuParam: InParam = { name: 'vcpu', dir: 'in', type: IN.vcpu('hv_vcpuid_t'), doc: 'the vCPU' };
const MSR_NAMES: Vocab = {
  label: 'MSR_IA32_*',
  names: new Map(Object.entries(X86_MSR).map(([k, v]) => [k, BigInt(v)])),
};
const msrParam: InParam = {
  name: 'msr',
  dir: 'in',
  type: IN.u32('uint32_t', MSR_NAMES),
  doc: 'the MSR number',
};
const tested = (msr: number): boolean => NATIVE_MSRS_TESTED.includes(msr);

const hv_vcpu_enable_native_msr: CallSpec = {
  name: 'hv_vcpu_enable_native_msr',
  arch: 'x86_64',
  summary: 'Lets the guest access an MSR directly (no RDMSR/WRMSR exit for it), or takes that back.',
  availability: 'macOS 10.10',
  thread: 'owner',
  header: 'hv.h',
  params: [
    vcpuParam,
    msrParam,
    { name: 'enable', dir: 'in', type: IN.bool(), doc: 'native access on or off' },
  ],
  rows: [
    ...vcpuPrelude('hv_vcpu_enable_native_msr'),
    {
      id: 'tested',
      when: "msr is one Apple's test makes native (STAR, LSTAR, CSTAR, FMASK, KERNEL_GS_BASE, TSC, TSC_AUX, SYSENTER_CS/ESP/EIP, FS_BASE, GS_BASE)",
      applies: (_s, c) => tested(arg<number>(c, 'msr')),
      ret: SUCCESS,
      result: "the guest's RDMSR/WRMSR of it no longer exit (enable = true), or exit again (false)",
      evidence: T,
      source: 'hvf-facts §1.2, §5.16: the XNU test enables these successfully [T]',
      effect: (s, c) => {
        const v = liveVcpu(s, c);
        if (arg<boolean>(c, 'enable')) v.nativeMsrs.add(arg<number>(c, 'msr'));
        else v.nativeMsrs.delete(arg<number>(c, 'msr'));
      },
    },
    {
      id: 'other',
      when: 'any other MSR',
      applies: always,
      ret: ANY,
      result: 'which other MSRs the framework lets a guest access natively is undocumented',
      evidence: U,
      source: 'hvf-facts §1.2 [H] names the call, not the MSRs it accepts',
    },
  ],
};

const hv_vcpu_read_msr: CallSpec = {
  name: 'hv_vcpu_read_msr',
  arch: 'x86_64',
  summary: "Reads one of a vCPU's model-specific registers.",
  availability: 'macOS 10.10',
  thread: 'owner',
  header: 'hv.h',
  params: [vcpuParam, msrParam, { name: 'value', dir: 'out', type: OUT.u64('uint64_t *'), doc: 'the value' }],
  rows: [
    ...vcpuPrelude('hv_vcpu_read_msr'),
    {
      id: 'msr',
      when: 'the owner reads an MSR',
      applies: always,
      ret: ANY,
      result: 'which MSRs the framework reads, and their values, are undocumented',
      evidence: U,
      source: 'hvf-facts §1.2: hv_vcpu_read_msr, 10.10 [H]; no test asserts a code or a value [U]',
    },
  ],
};

const hv_vcpu_write_msr: CallSpec = {
  name: 'hv_vcpu_write_msr',
  arch: 'x86_64',
  summary: "Writes one of a vCPU's model-specific registers.",
  availability: 'macOS 10.10',
  thread: 'owner',
  header: 'hv.h',
  params: [vcpuParam, msrParam, { name: 'value', dir: 'in', type: IN.u64('uint64_t'), doc: 'the value' }],
  rows: [
    ...vcpuPrelude('hv_vcpu_write_msr'),
    {
      id: 'msr',
      when: 'the owner writes an MSR',
      applies: always,
      ret: ANY,
      result: 'which MSRs and values the framework accepts is undocumented',
      evidence: U,
      source: 'hvf-facts §1.2: hv_vcpu_write_msr, 10.10 [H]; no test asserts a code [U]',
    },
  ],
};

/** A call on a live vCPU that only its owner may make and that always works for it. */
function ownerCall(name: string, summary: string, source: string): CallSpec {
  return {
    name,
    arch: 'x86_64',
    summary,
    availability: 'macOS 10.10',
    thread: 'owner',
    header: 'hv.h',
    params: [vcpuParam],
    rows: [
      ...vcpuPrelude(name),
      {
        id: 'ok',
        when: 'the owner calls it on a live vCPU',
        applies: always,
        ret: SUCCESS,
        result: 'nothing the VMM can observe through the API changes',
        evidence: H,
        source,
      },
    ],
  };
}

export const X86_VCPU_STATE_CALLS: readonly CallSpec[] = [
  hv_vcpu_enable_native_msr,
  hv_vcpu_read_msr,
  hv_vcpu_write_msr,
  ownerCall(
    'hv_vcpu_flush',
    "Writes back the vCPU's cached register and VMCS state.",
    'hvf-facts §1.2, §1.7: "flush cached vCPU state"; accesses may be cached [H]',
  ),
  ownerCall(
    'hv_vcpu_invalidate_tlb',
    "Invalidates the vCPU's TLB.",
    'hvf-facts §1.2: hv_vcpu_invalidate_tlb, 10.10 [H]',
  ),
];
