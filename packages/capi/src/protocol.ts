/**
 * The call protocol between libhvspec-model (C, in the VMM) and the model server (Node, beside it),
 * derived from the spec's registry so that neither side spells a signature: call ids are the registry's
 * order, and each parameter kind has a fixed number of 64-bit words in the request or the reply.
 * The C side is generated from this module (scripts/codegen.ts); the server decodes with it at run time,
 * and both compare {@link protocolSignature} at startup.
 * @module
 */
// Types only: the generator runs this module from source before the packages are built.
import type { CallSpec, InParam, OutParam } from '@hvspec/spec';

/** Words a request or reply slot holds for arguments and for out-values. */
export const ARG_WORDS = 64;
export const OUT_WORDS = 32;

/**
 * Requests that are not hv_* calls, after the last call id: `share` adopts a memory object as a new
 * host buffer; `rebind` puts one behind the buffer `hv_vm_allocate` just made (the VMM's own mapping of
 * the memory the framework "allocated").
 */
export const SERVICE = { share: 0, rebind: 1 } as const;

/**
 * Call ids are the order of the flavour's registry (`callSpecs(arch)`); service requests come after
 * the last one: `calls.length + SERVICE.*`.
 */

/**
 * Request words of one `in` parameter: a uva is its shared buffer id and the offset in it; a 128-bit
 * value two words (low first); a config object a null flag and its handle; a vCPU list its count and
 * then the handles (and its `count` parameter none); bytes the shared buffer holding a copy, the
 * offset and the length (and its `length` parameter none).
 */
export function inWords(p: InParam): number | 'list' {
  switch (p.type.kind) {
    case 'uva':
    case 'u128':
    case 'config':
      return 2;
    case 'bytes':
      return 3;
    case 'vcpus':
      return 'list';
    case 'count':
    case 'length':
      return 0;
    default:
      return 1;
  }
}

/**
 * Request words an `out` parameter adds after the `in` ones: bytes the call writes go to a shared
 * buffer (its id and the offset), from where the library copies them to the caller's memory.
 */
export function outRequestWords(p: OutParam): number {
  return p.type.kind === 'bytes' ? 2 : 0;
}

/**
 * Reply words of one `out` parameter (the arm64 exit record: reason, syndrome, VA, IPA; host memory:
 * its buffer id and size; bytes: none, they are in shared memory).
 */
export function outWords(p: OutParam): number {
  switch (p.type.kind) {
    case 'u128':
    case 'mem':
      return 2;
    case 'exit':
      return 4;
    case 'u64x8':
      return 8;
    case 'exit-pointer':
    case 'bytes':
      return 0;
    default:
      return 1;
  }
}

/** At most this many vCPUs in one `hv_vcpu_interrupt` / `hv_vcpus_exit` list (the rest of a slot). */
export const MAX_LIST = ARG_WORDS - 2;

/** A fingerprint of the protocol: the calls, in order, with their parameter kinds (FNV-1a, 32 bits). */
export function protocolSignature(calls: readonly CallSpec[]): number {
  const text = calls
    .map((c) => `${c.name}(${c.params.map((p) => `${p.dir}:${p.type.kind}`).join(',')})`)
    .join(';');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The shared mailbox (a memfd mapped by both processes): a header, then one slot per logical thread.
 * A VMM thread writes its request into its slot, sets `state` to REQUEST and rings the doorbell (a
 * futex); the server answers in the same slot and sets `state` to REPLY (futex wake when the thread
 * sleeps). Offsets in bytes.
 */
export const MAILBOX = {
  magic: 0x4856_534d, // "HVSM"
  version: 1,
  slots: 256,
  headerBytes: 256,
  slotBytes: 1024,
  header: {
    magic: 0,
    version: 4,
    slots: 8,
    slotBytes: 12,
    /** Bumped by every request; the server sleeps on it. */
    doorbell: 16,
    /** 1 while the server sleeps on the doorbell (a request must wake it). */
    serverSleeping: 20,
    /** Slots in use: one past the highest logical thread that made a call. */
    active: 24,
    signature: 28,
    /** 0 x86_64, 1 arm64. */
    arch: 32,
  },
  slot: {
    state: 0,
    /** 1 while the VMM thread sleeps on `state`. */
    clientWaiting: 4,
    call: 8,
    thread: 12,
    ret: 16,
    nargs: 20,
    /** Deferred register writes the thread made since its last call (see {@link MAX_PENDING}). */
    npending: 24,
    args: 32,
    out: 32 + 8 * ARG_WORDS,
    pending: 32 + 8 * ARG_WORDS + 8 * OUT_WORDS,
  },
} as const;

/**
 * x86: register writes the library answers itself, because the spec says they succeed whenever the
 * calling thread owns the live vCPU (hv_vcpu_write_register of RIP or a general-purpose register: row
 * `gpr`, [T]; hv_vmx_vcpu_write_vmcs of the VMCS fields that are those registers: row `ok`, [T]). They
 * travel with the thread's next call (at most this many; then the write goes at once) and the server
 * applies them first, so that no call can tell: only the owner can read the vCPU's registers. Each is
 * three words: the vCPU, the register (bit 32 set: a VMCS field) and the value.
 */
export const MAX_PENDING = 8;
export const PENDING_VMCS = 0x1_0000_0000n;

/** Values of a slot's `state`: the server marks a request taken, so that a run in flight is not taken twice. */
export const SLOT_STATE = { idle: 0, request: 1, reply: 2, taken: 3 } as const;

/**
 * x86: what the server reads right after a run that returned HV_SUCCESS and sends back with it, so that
 * the reads a VMM makes after every exit are answered in the VMM's process (reply word 0: a validity
 * mask, bit i for word i + 1). VMCS fields first, then registers.
 */
export const X86_EXIT_VMCS = [
  'VMCS_RO_EXIT_REASON',
  'VMCS_RO_EXIT_QUALIFIC',
  'VMCS_GUEST_PHYSICAL_ADDRESS',
  'VMCS_RO_GUEST_LIN_ADDR',
  'VMCS_RO_VMEXIT_INSTR_LEN',
  'VMCS_RO_VMX_INSTR_INFO',
  'VMCS_RO_VMEXIT_IRQ_INFO',
  'VMCS_RO_VMEXIT_IRQ_ERROR',
  'VMCS_RO_IDT_VECTOR_INFO',
  'VMCS_RO_IDT_VECTOR_ERROR',
  'VMCS_GUEST_RIP',
] as const;
export const X86_EXIT_REGS = [
  'HV_X86_RIP',
  'HV_X86_RAX',
  'HV_X86_RCX',
  'HV_X86_RDX',
  'HV_X86_RBX',
  'HV_X86_RSI',
  'HV_X86_RDI',
] as const;
