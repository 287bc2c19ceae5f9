/**
 * Lifecycle rows that are the same on both architectures (only the evidence differs): destroying the
 * VM and destroying a vCPU.
 * @module
 */
import type { Arch } from '../backend.js';
import { always, H, NOT_SUCCESS, noVmRow, SUCCESS, T, vcpuPrelude } from './dsl.js';
import { IN } from './params.js';
import type { CallSpec, Evidence } from './types.js';

/** `hv_vm_destroy`: needs a VM and no live vCPU. */
export function vmDestroySpec(
  arch: Arch,
  availability: string,
  sources: { readonly liveVcpus: string; readonly ok: string },
  result: string,
): CallSpec {
  return {
    name: 'hv_vm_destroy',
    arch,
    summary: 'Destroys the VM of the current process.',
    availability,
    thread: 'process',
    header: arch === 'x86_64' ? 'hv.h' : 'hv_vm.h',
    params: [],
    rows: [
      noVmRow('hvf-facts §3: undocumented'),
      {
        id: 'live-vcpus',
        when: 'some vCPU is not destroyed',
        applies: (s) => s.vcpus.size > 0,
        ret: NOT_SUCCESS,
        evidence: H,
        source: sources.liveVcpus,
      },
      {
        id: 'ok',
        when: 'a VM exists and every vCPU is destroyed',
        applies: always,
        ret: SUCCESS,
        result,
        evidence: T,
        source: sources.ok,
        effect: (s) => {
          s.vm = null;
        },
      },
    ],
  };
}

/** `hv_vcpu_destroy`: the owner destroys a live vCPU; from another thread it is dangerous on hardware. */
export function vcpuDestroySpec(
  arch: Arch,
  availability: string,
  ok: { readonly evidence: Evidence; readonly source: string; readonly result: string },
): CallSpec {
  return {
    name: 'hv_vcpu_destroy',
    arch,
    summary: 'Destroys a vCPU.',
    availability,
    thread: 'owner',
    header: arch === 'x86_64' ? 'hv.h' : 'hv_vcpu.h',
    params: [
      {
        name: 'vcpu',
        dir: 'in',
        type: IN.vcpu(arch === 'x86_64' ? 'hv_vcpuid_t' : 'hv_vcpu_t'),
        doc: 'the vCPU',
      },
    ],
    rows: [
      ...vcpuPrelude('hv_vcpu_destroy', {
        dangerousCrossThread:
          'a cross-thread hv_vcpu_destroy was reported to panic the host kernel (hvf-facts §3, §5.17 [R])',
      }),
      {
        id: 'ok',
        when: 'the owner destroys a live vCPU',
        applies: always,
        ret: SUCCESS,
        result: ok.result,
        evidence: ok.evidence,
        source: ok.source,
        effect: (s, c) => {
          const h = Number(c.args.vcpu);
          s.vcpus.delete(h);
          s.stale.add(h);
        },
      },
    ],
  };
}
