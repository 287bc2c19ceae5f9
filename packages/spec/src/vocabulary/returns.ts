/**
 * `hv_return_t` — the closed set of result codes of every `hv_*` call.
 *
 * Apple encodes them as `err_local | err_sub(0xba5) | code` = `0xfae94000 | code` (hvf-facts.md §0.1, [H]).
 * In C they are a signed 32-bit `mach_error_t`, so every non-success code is negative there; hvspec keeps
 * them as unsigned 32-bit numbers and compares them as such.
 * @module
 */

/** The return codes, by their names in Apple's headers. Values are unsigned 32-bit. */
export const HV = {
  /** Success. */
  HV_SUCCESS: 0x00000000,
  /** Generic failure. */
  HV_ERROR: 0xfae94001,
  /** The owning resource is busy. */
  HV_BUSY: 0xfae94002,
  /** An argument is invalid. */
  HV_BAD_ARGUMENT: 0xfae94003,
  /** The guest is in an illegal state (arm64 header and newer kernel headers only). */
  HV_ILLEGAL_GUEST_STATE: 0xfae94004,
  /** The host is out of resources. */
  HV_NO_RESOURCES: 0xfae94005,
  /** "No VM or vCPU available". */
  HV_NO_DEVICE: 0xfae94006,
  /** The system did not allow the operation (for example a missing entitlement). 11.x SDKs and later. */
  HV_DENIED: 0xfae94007,
  /**
   * 0xfae94008: named `HV_FAULT` in newer x86 headers and `HV_EXISTS` in one arm64 kernel header
   * (hvf-facts.md §0.1, [R]). Semantics undocumented; hvspec calls it by the x86 name.
   */
  HV_FAULT: 0xfae94008,
  /** Not supported. */
  HV_UNSUPPORTED: 0xfae9400f,
} as const;

/** A return-code name. */
export type HvReturnName = keyof typeof HV;
/** A return code as the unsigned 32-bit number the API returns. */
export type HvReturn = number;

const NAMES = new Map<number, HvReturnName>(
  (Object.entries(HV) as [HvReturnName, number][]).map(([name, value]) => [value, name]),
);

/** Normalises a code to unsigned 32 bits, so that a signed `-85377023` equals `0xfae94001`. */
export function u32(code: number): number {
  return code >>> 0;
}

/** The name of a code, or its hex spelling when it is not one of Apple's. */
export function hvReturnName(code: number): string {
  return NAMES.get(u32(code)) ?? `0x${u32(code).toString(16).padStart(8, '0')}`;
}

/** Looks a code up by name (`"HV_BUSY"`) or accepts a number; `undefined` when the name is unknown. */
export function hvReturnFromName(name: string): number | undefined {
  return Object.hasOwn(HV, name) ? HV[name as HvReturnName] : undefined;
}

/** True when both codes are the same unsigned 32-bit value. */
export function sameReturn(a: number, b: number): boolean {
  return u32(a) === u32(b);
}

/** Every code, in numeric order. */
export const ALL_RETURNS: readonly HvReturnName[] = (Object.keys(HV) as HvReturnName[]).sort(
  (a, b) => HV[a] - HV[b],
);
