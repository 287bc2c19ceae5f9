/**
 * The model's answers for the x86 calls beside registers and VMCS: floating-point state, MSR
 * information, and the shadow VMCS. What the model pretends its host is: see packages/model/README.md
 * ("What the model answers").
 * @module
 */
import { CPU_BASED2, HV_VMX_CAP, HV_VMX_MSR_INFO, vmcsFieldWidth } from '@hvspec/spec';

/**
 * The size of the model host's XSAVE area: the 4 KiB QEMU's HVF accelerator passes (hvf-facts.md
 * §1.2), which is also what KVM_GET_XSAVE transfers. Smaller buffers are refused.
 */
export const MODEL_FPSTATE_SIZE = 4096;

/**
 * The state of a vCPU after reset in the standard XSAVE layout (Intel SDM Vol. 1, 13.4.1: the legacy
 * region is FXSAVE's): FCW 0x037F, MXCSR 0x1F80 with the MXCSR_MASK of a processor with DAZ, all
 * registers zero, XSTATE_BV 0 (every component in its initial configuration).
 */
export function resetFpstate(): Uint8Array {
  const b = new Uint8Array(MODEL_FPSTATE_SIZE);
  const view = new DataView(b.buffer);
  view.setUint16(0, 0x037f, true);
  view.setUint32(24, 0x1f80, true);
  view.setUint32(28, 0xffff, true);
  return b;
}

/**
 * `hv_vmx_get_msr_info` on the model's host: a processor that enumerates none of the speculation
 * controls or PMU features the ids ask about (the model executes no PMU or SPEC_CTRL access), so every
 * value and every valid-bits mask is 0.
 */
export const MODEL_MSR_INFO: ReadonlyMap<bigint, bigint> = new Map(
  Object.values(HV_VMX_MSR_INFO).map((id) => [BigInt(id), 0n]),
);

/** Whether a host with these VMX capabilities offers VMCS shadowing (PROCBASED2 allowed-1 bit 14). */
export function offersShadowVmcs(caps: Readonly<Record<number, bigint>>): boolean {
  const cap = caps[HV_VMX_CAP.HV_VMX_CAP_PROCBASED2] ?? 0n;
  return ((cap >> 32n) & BigInt(CPU_BASED2.CPU_BASED2_VMCS_SHADOW)) !== 0n;
}

/** A value as a VMWRITE of the field stores it: truncated to the field's width (Intel SDM 24.11.2). */
export function truncateToWidth(field: number, value: bigint): bigint {
  return value & ((1n << BigInt(vmcsFieldWidth(field))) - 1n);
}
