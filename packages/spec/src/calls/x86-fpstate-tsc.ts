/**
 * x86 calls on a vCPU's floating-point state, the guest TSC of every vCPU, and the guest APIC's address
 * (hvf-facts.md §1.2 [H]; the buffer size QEMU's HVF accelerator uses [T]).
 * @module
 */
import type { Uva } from '../backend.js';
import { HV_FPSTATE_SIZE_TESTED } from '../vocabulary/x86.js';
import { ANY, always, arg, H, NOT_SUCCESS, noVmRow, ownerCall, SUCCESS, T, U } from './dsl.js';
import { IN } from './params.js';
import type { CallSpec, Row } from './types.js';

function fpstateSpec(name: 'hv_vcpu_read_fpstate' | 'hv_vcpu_write_fpstate'): CallSpec {
  const read = name === 'hv_vcpu_read_fpstate';
  const rows: Row[] = [
    {
      id: 'buffer-out-of-range',
      when: 'buffer + size runs past the end of its host buffer',
      applies: (s, c) => {
        const buffer = arg<Uva>(c, 'buffer');
        const bufSize = s.buffers.get(buffer.mem.id);
        return bufSize === undefined || BigInt(buffer.offset) + arg<bigint>(c, 'size') > BigInt(bufSize);
      },
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        "the buffer stands for a C pointer: past the caller's memory the C call is undefined behaviour; every hvspec backend refuses it",
    },
    {
      id: 'tested-size',
      when: `size is ${HV_FPSTATE_SIZE_TESTED} (the size QEMU's HVF accelerator passes)`,
      applies: (_s, c) => arg<bigint>(c, 'size') === BigInt(HV_FPSTATE_SIZE_TESTED),
      ret: SUCCESS,
      result: read
        ? "the buffer holds the vCPU's x87/SSE/AVX state in the host's XSAVE layout (legacy region at 0, XSAVE header at 512)"
        : "the vCPU's x87/SSE/AVX state is loaded from the buffer (the host's XSAVE layout)",
      evidence: T,
      source: `hvf-facts §1.2: "structure and size are defined by the XSAVE feature set of the host processor" [H]; QEMU's HVF accelerator passes ${HV_FPSTATE_SIZE_TESTED} bytes and aborts if the call fails [T]`,
    },
    {
      id: 'other-size',
      when: `size is not ${HV_FPSTATE_SIZE_TESTED}`,
      applies: always,
      ret: ANY,
      result:
        "which sizes the framework accepts besides one that holds the host's XSAVE area is undocumented; on HV_SUCCESS the state is transferred",
      evidence: U,
      source: 'hvf-facts §1.2: the size depends on the host processor [H]; no test passes another size [U]',
    },
  ];
  return ownerCall({
    name,
    arch: 'x86_64',
    summary: read
      ? "Reads a vCPU's floating-point and SIMD state (the host's XSAVE layout) into a buffer."
      : "Sets a vCPU's floating-point and SIMD state from a buffer (the host's XSAVE layout).",
    params: [
      {
        name: 'buffer',
        dir: 'in',
        // Apple's header spells both as `void *`, the write's buffer too.
        type: IN.uva('void *'),
        doc: read ? 'where the state is written' : 'the state to load',
        extent: 'size',
      },
      { name: 'size', dir: 'in', type: IN.u64('size_t'), doc: 'the size of the buffer in bytes' },
    ],
    rows,
  });
}

const hv_vm_sync_tsc: CallSpec = {
  name: 'hv_vm_sync_tsc',
  arch: 'x86_64',
  summary: 'Sets the guest TSC of every vCPU of the VM to one value.',
  availability: 'macOS 10.10',
  thread: 'process',
  header: 'hv.h',
  params: [{ name: 'tsc', dir: 'in', type: IN.u64('uint64_t'), doc: 'the guest TSC value' }],
  rows: [
    noVmRow('hvf-facts §1.2: it acts on the VM of the process; without one the code is undocumented'),
    {
      id: 'ok',
      when: 'a VM exists',
      applies: always,
      ret: SUCCESS,
      result: "every vCPU's guest TSC is tsc (and counts on from there)",
      evidence: H,
      source: 'hvf-facts §1.2: hv_vm_sync_tsc, 10.10, "set guest TSC on all vCPUs" [H]',
    },
  ],
};

const hv_vmx_vcpu_set_apic_address = ownerCall({
  name: 'hv_vmx_vcpu_set_apic_address',
  arch: 'x86_64',
  summary: "Sets the guest-physical address of a vCPU's APIC.",
  header: 'hv_vmx.h',
  params: [
    { name: 'gpa', dir: 'in', type: IN.u64('hv_gpaddr_t'), doc: 'guest-physical address, page aligned' },
  ],
  rows: [
    {
      id: 'unaligned',
      when: 'gpa is not a multiple of 4 KiB',
      applies: (_s, c) => arg<bigint>(c, 'gpa') % 4096n !== 0n,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.2: "page aligned" [H]; the code for an unaligned address is undocumented [U]',
    },
    {
      id: 'ok',
      when: 'gpa is page aligned',
      applies: always,
      ret: SUCCESS,
      result: "the vCPU's APIC is at gpa",
      evidence: H,
      source: 'hvf-facts §1.2: hv_vmx_vcpu_set_apic_address(vcpu, gpa), 10.10, page aligned [H]',
    },
  ],
});

export const X86_FPSTATE_TSC_CALLS: readonly CallSpec[] = [
  fpstateSpec('hv_vcpu_read_fpstate'),
  fpstateSpec('hv_vcpu_write_fpstate'),
  hv_vm_sync_tsc,
  hv_vmx_vcpu_set_apic_address,
];
