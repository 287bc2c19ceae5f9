/**
 * `hv_vcpu_get_exec_time`, the same on both flavours but for its unit: the x86 header says
 * nanoseconds; the arm64 header says mach_absolute_time units while Apple's web page and a binding say
 * nanoseconds (hvf-facts.md §1.2, §2.4, §5.11 [H]). Either way the value is the vCPU's cumulative guest
 * time, so it never goes down.
 * @module
 */
import type { Arch } from '../backend.js';
import { always, H, liveVcpu, ownerCall, SUCCESS } from './dsl.js';
import { OUT } from './params.js';
import type { CallSpec } from './types.js';

/** The registry entry of `hv_vcpu_get_exec_time` for a flavour. */
export function execTimeSpec(arch: Arch): CallSpec {
  const x86 = arch === 'x86_64';
  return ownerCall({
    name: 'hv_vcpu_get_exec_time',
    arch,
    summary: x86
      ? "Reads a vCPU's cumulative execution time, in nanoseconds."
      : "Reads a vCPU's cumulative execution time (mach_absolute_time units per the header; nanoseconds per Apple's web page).",
    params: [{ name: 'time', dir: 'out', type: OUT.u64('uint64_t *'), doc: 'the guest time so far' }],
    rows: [
      {
        id: 'ok',
        when: 'the owner asks for a live vCPU',
        applies: always,
        ret: SUCCESS,
        result: 'time = the cumulative guest time; never less than a value read before for this vCPU',
        evidence: H,
        source: `hvf-facts §${x86 ? '1.2' : '2.4'}, §5.11: "cumulative" execution time [H]; the unit differs by flavour`,
        value: (s, c, v) => {
          const known = liveVcpu(s, c).execTime;
          if (typeof v !== 'bigint') return `time: expected a 64-bit value, got ${String(v)}`;
          return v < known ? `time: went back from ${known} to ${v} (it is cumulative)` : undefined;
        },
        effect: (s, c, o) => {
          liveVcpu(s, c).execTime = o.value as bigint;
        },
      },
    ],
  });
}
