/**
 * The arm64 per-vCPU flags a backend keeps beside the guest's registers (pending IRQ/FIQ, the vtimer
 * mask, the debug traps), and what their get/set calls answer once the vCPU call's prologue (argument
 * checks, busy thread, owner) is past. The model and the el2 backend both keep these flags under the
 * same names, so the calls are made once, here.
 * @module
 */
import type { Result } from './backend.js';
import { HV_INTERRUPT_TYPE } from './vocabulary/arm64.js';
import { HV } from './vocabulary/returns.js';

/** The flags, as each backend's vCPU record names them. */
export interface Arm64VcpuFlags {
  /** hv_vcpu_set_pending_interrupt(HV_INTERRUPT_TYPE_IRQ): cleared when a run returns (hvf-facts.md §2.4 [H]). */
  pendingIrq: boolean;
  /** hv_vcpu_set_pending_interrupt(HV_INTERRUPT_TYPE_FIQ). */
  pendingFiq: boolean;
  /** hv_vcpu_set_vtimer_mask. */
  vtimerMasked: boolean;
  /** hv_vcpu_set_trap_debug_exceptions. */
  trapDebugExceptions: boolean;
  /** hv_vcpu_set_trap_debug_reg_accesses. */
  trapDebugRegAccesses: boolean;
}

const FLAG_CALLS = {
  vtimer_mask: 'vtimerMasked',
  trap_debug_exceptions: 'trapDebugExceptions',
  trap_debug_reg_accesses: 'trapDebugRegAccesses',
} as const satisfies Record<string, keyof Arm64VcpuFlags>;

/** The calls {@link installArm64VcpuFlagCalls} makes. */
export type Arm64VcpuFlagCall =
  | 'hv_vcpu_get_pending_interrupt'
  | 'hv_vcpu_set_pending_interrupt'
  | `hv_vcpu_${'get' | 'set'}_${'vtimer_mask' | 'trap_debug_exceptions' | 'trap_debug_reg_accesses'}`;

const INTERRUPT_FLAG: Readonly<Record<number, 'pendingIrq' | 'pendingFiq'>> = {
  [HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_IRQ]: 'pendingIrq',
  [HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_FIQ]: 'pendingFiq',
};

const SUCCESS: Result = Object.freeze({ ret: HV.HV_SUCCESS });

/** What each call does with the vCPU's flags; `rest` are its arguments after the thread and the vCPU. */
function answer(
  name: Arm64VcpuFlagCall,
  v: Arm64VcpuFlags,
  rest: readonly unknown[],
): Result<boolean | undefined> {
  if (name === 'hv_vcpu_get_pending_interrupt' || name === 'hv_vcpu_set_pending_interrupt') {
    const flag = INTERRUPT_FLAG[rest[0] as number];
    if (flag === undefined) return { ret: HV.HV_BAD_ARGUMENT };
    if (name === 'hv_vcpu_get_pending_interrupt') return { ret: HV.HV_SUCCESS, value: v[flag] };
    v[flag] = rest[1] as boolean;
    return SUCCESS;
  }
  const flag = FLAG_CALLS[name.slice('hv_vcpu_get_'.length) as keyof typeof FLAG_CALLS];
  if (name.startsWith('hv_vcpu_get_')) return { ret: HV.HV_SUCCESS, value: v[flag] };
  v[flag] = rest[0] as boolean;
  return SUCCESS;
}

/**
 * Makes the {@link Arm64VcpuFlagCall} methods of a backend class: each runs the backend's `vcpuCall`
 * prologue (a number is the code that ends the call, otherwise the vCPU's record) and then reads or
 * writes the flag. The class declares the methods with an interface of the same name.
 */
export function installArm64VcpuFlagCalls<B extends object>(
  proto: B,
  vcpuCall: (self: B, name: Arm64VcpuFlagCall, args: readonly unknown[]) => Arm64VcpuFlags | number,
): void {
  const names: Arm64VcpuFlagCall[] = ['hv_vcpu_get_pending_interrupt', 'hv_vcpu_set_pending_interrupt'];
  for (const flag of Object.keys(FLAG_CALLS) as (keyof typeof FLAG_CALLS)[])
    names.push(`hv_vcpu_get_${flag}`, `hv_vcpu_set_${flag}`);
  for (const name of names) {
    Object.defineProperty(proto, name, {
      value(this: B, ...args: unknown[]): Result<boolean | undefined> {
        const v = vcpuCall(this, name, args);
        return typeof v === 'number' ? { ret: v } : answer(name, v, args.slice(2));
      },
      writable: true,
      configurable: true,
    });
  }
}
