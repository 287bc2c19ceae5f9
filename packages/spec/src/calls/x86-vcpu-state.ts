/**
 * x86 calls on a vCPU's state beside its registers and VMCS: model-specific registers (native access,
 * read, write) and the cache/TLB calls (hvf-facts.md §1.2 [H]; the XNU test [T]).
 * @module
 */
import { NATIVE_MSRS_TESTED, X86_MSR } from '../vocabulary/x86.js';
import { ANY, always, arg, H, liveVcpu, ownerCall, SUCCESS, T, U } from './dsl.js';
import { IN, type Vocab, valueIn, valueOut } from './params.js';
import type { CallSpec, InParam, Row } from './types.js';

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

/** The row of a call that always works for the owner and changes nothing the API shows. */
function unobservable(source: string): Row {
  return {
    id: 'ok',
    when: 'the owner calls it on a live vCPU',
    applies: always,
    ret: SUCCESS,
    result: 'nothing the VMM can observe through the API changes',
    evidence: H,
    source,
  };
}

const hv_vcpu_enable_native_msr = ownerCall({
  name: 'hv_vcpu_enable_native_msr',
  arch: 'x86_64',
  summary: 'Lets the guest access an MSR directly (no RDMSR/WRMSR exit for it), or takes that back.',
  params: [msrParam, { name: 'enable', dir: 'in', type: IN.bool(), doc: 'native access on or off' }],
  rows: [
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
});

/** `hv_vcpu_read_msr` and `hv_vcpu_write_msr`: which MSRs and values they take is undocumented. */
function msrAccess(name: 'hv_vcpu_read_msr' | 'hv_vcpu_write_msr'): CallSpec {
  const read = name === 'hv_vcpu_read_msr';
  return ownerCall({
    name,
    arch: 'x86_64',
    summary: `${read ? 'Reads' : 'Writes'} one of a vCPU's model-specific registers.`,
    params: [msrParam, read ? valueOut() : valueIn()],
    rows: [
      {
        id: 'msr',
        when: `the owner ${read ? 'reads' : 'writes'} an MSR`,
        applies: always,
        ret: ANY,
        result: read
          ? 'which MSRs the framework reads, and their values, are undocumented'
          : 'which MSRs and values the framework accepts is undocumented',
        evidence: U,
        source: `hvf-facts §1.2: ${name}, 10.10 [H]; no test asserts a code${read ? ' or a value' : ''} [U]`,
      },
    ],
  });
}

export const X86_VCPU_STATE_CALLS: readonly CallSpec[] = [
  hv_vcpu_enable_native_msr,
  msrAccess('hv_vcpu_read_msr'),
  msrAccess('hv_vcpu_write_msr'),
  ownerCall({
    name: 'hv_vcpu_flush',
    arch: 'x86_64',
    summary: "Writes back the vCPU's cached register and VMCS state.",
    rows: [unobservable('hvf-facts §1.2, §1.7: "flush cached vCPU state"; accesses may be cached [H]')],
  }),
  ownerCall({
    name: 'hv_vcpu_invalidate_tlb',
    arch: 'x86_64',
    summary: "Invalidates the vCPU's TLB.",
    rows: [unobservable('hvf-facts §1.2: hv_vcpu_invalidate_tlb, 10.10 [H]')],
  }),
];
