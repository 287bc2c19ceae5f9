/**
 * Prints calls the way a VMM author reads them: `t1: hv_vm_map(uva=mem0+0x0, ipa=0x10000, …)`.
 * @module
 */
import type { HostMemory, Uva } from '../backend.js';
import type { SpecCall } from '../calls/types.js';

function isUva(v: unknown): v is Uva {
  return typeof v === 'object' && v !== null && 'mem' in v && 'offset' in v;
}

/** A value in the spec's spelling. */
export function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (typeof v === 'number') return v >= 256 ? `0x${v.toString(16)}` : String(v);
  if (isUva(v)) return `mem${(v.mem as HostMemory).id}+0x${v.offset.toString(16)}`;
  if (Array.isArray(v)) return `[${v.map(describeValue).join(', ')}]`;
  if (v instanceof Uint8Array) {
    const hex = Buffer.from(v.subarray(0, 16)).toString('hex');
    return `bytes[${v.length}]:${hex}${v.length > 16 ? '…' : ''}`;
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'number' && typeof o.size === 'number' && Object.keys(o).length === 2)
      return `mem${o.id}(0x${o.size.toString(16)} bytes)`;
    return `{${Object.entries(o)
      .map(([k, x]) => `${k}: ${describeValue(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** One call on one line. */
export function describeCall(c: SpecCall): string {
  const args = Object.entries(c.args)
    .map(([k, v]) => `${k}=${describeValue(v)}`)
    .join(', ');
  return `t${c.t}: ${c.name}(${args})`;
}
