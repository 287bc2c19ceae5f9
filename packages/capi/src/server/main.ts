/**
 * The model server: `node dist/server/main.js`, started by libhvspec-model beside a C VMM (see
 * src/c/model/client.c). It serves that VMM's hv_* calls on `@hvspec/model`: fd 3 is its end of the
 * socketpair, the first message carries the mailbox, later ones the VMM's guest memory objects, which
 * become the model's host buffers in place (`host_adopt`). Each request names a call of the flavour's
 * registry (src/protocol.ts); its arguments are decoded by parameter type and the backend method of the
 * same name is called on the request's logical thread. Runs go through the model's async runs, so that a
 * guest that never exits does not stop the other threads' calls (a kick from another thread ends it).
 *
 * It exits when the VMM's end of the socket closes (a watcher thread in the addon), and with the VMM
 * through PR_SET_PDEATHSIG.
 * @module
 */
import { createRequire } from 'node:module';
import { createModel } from '@hvspec/model';
import {
  type Arch,
  type Arm64Exit,
  type CallSpec,
  callSpecs,
  type HostMemory,
  HV,
  HV_X86_REG,
  type InParam,
  type OutParam,
  VMCS,
  VMX_REASON,
  valueParam,
  valueParams,
} from '@hvspec/spec';
import {
  inWords,
  MAILBOX,
  MAX_PENDING,
  outRequestWords,
  outWords,
  PENDING_VMCS,
  protocolSignature,
  SERVICE,
  X86_EXIT_REGS,
  X86_EXIT_VMCS,
} from '../protocol.js';

interface Addon {
  recvFd(fd: number): { message: string; fd: number };
  send(fd: number, text: string): void;
  map(fd: number, size: number): ArrayBuffer;
  next(mailbox: ArrayBuffer, timeoutMs: number, spinUs: number): number;
  reply(mailbox: ArrayBuffer, slot: number): void;
  watch(fd: number): void;
}

const CHANNEL = 3;
const require = createRequire(import.meta.url);
// HVSPEC_SERVER_ADDON names another build of the addon (scripts/sanitize.sh: its ASan+UBSan build).
const addon = require(process.env.HVSPEC_SERVER_ADDON || '../lib/hvspec_server.node') as Addon;

type Backend = Record<string, (...args: unknown[]) => unknown>;
/** The arm64 model's hook that puts the library's mapping behind memory its hv_vm_allocate made. */
interface Rebinding {
  host_rebind_allocation(mem: HostMemory, bytes: Uint8Array): void;
}
type Result = { ret: number; value?: unknown };

function fail(message: string): never {
  try {
    addon.send(CHANNEL, `ERR ${message}`);
  } catch {
    // The VMM is gone already.
  }
  process.stderr.write(`hvspec model server: ${message}\n`);
  process.exit(1);
}

const logged = new Set<string>();
function logOnce(message: string): void {
  if (logged.has(message)) return;
  logged.add(message);
  process.stderr.write(`hvspec model server: ${message}\n`);
}

/** How one call's request words become backend arguments, and its reply words. */
interface Codec {
  readonly spec: CallSpec;
  readonly method: string;
  /** Decodes the arguments starting at word `at`. */
  readonly decode: (w: BigUint64Array, at: number) => unknown[];
  /** Index of the value's first reply word (out-values before it take their words). */
  readonly valueWord: number;
  readonly async: boolean;
  /** Its value is host memory (hv_vm_allocate): the library then shares its own mapping of it (rebind). */
  readonly allocates: boolean;
  /** Where bytes the call writes go (a shared buffer and offset from the request), if it writes any. */
  readonly destination: (w: BigUint64Array, at: number) => { mem: HostMemory; offset: number } | undefined;
}

function codecOf(spec: CallSpec, backend: Backend): Codec {
  const ins = spec.params.filter((p): p is InParam => p.dir === 'in');
  /** Request words of the `in` parameters, for what follows them (a destination of bytes). */
  const inLength = (w: BigUint64Array, at: number): number => {
    let i = at;
    for (const p of ins) {
      const n = inWords(p);
      i += n === 'list' ? 1 + Number(w[i]) : n;
    }
    return i - at;
  };
  const outs = spec.params.filter((p): p is OutParam => p.dir === 'out');
  const writesBytes = outs.some((p) => outRequestWords(p) > 0);
  const destination = (w: BigUint64Array, at: number): { mem: HostMemory; offset: number } | undefined => {
    if (!writesBytes) return undefined;
    const i = at + inLength(w, at);
    const mem = buffers.get(Number(w[i]));
    if (!mem) throw new TypeError(`no shared buffer ${w[i]} for the bytes the call writes`);
    return { mem, offset: Number(w[i + 1]) };
  };
  const decode = (w: BigUint64Array, at: number): unknown[] => {
    const args: unknown[] = [];
    let i = at;
    let listLength = 0;
    let bytesLength = 0n;
    for (const p of ins) {
      const n = inWords(p);
      const word = w[i] as bigint;
      switch (p.type.kind) {
        case 'u64':
        case 'options':
          args.push(word);
          break;
        case 'bool':
          args.push(word !== 0n);
          break;
        case 'u128':
          args.push(word | ((w[i + 1] as bigint) << 64n));
          break;
        case 'uva': {
          const mem = buffers.get(Number(word));
          if (!mem) throw new TypeError(`${p.name}: no shared buffer ${word}`);
          args.push({ mem, offset: Number(w[i + 1]) });
          break;
        }
        case 'config':
          args.push(word !== 0n ? null : Number(w[i + 1]));
          break;
        case 'bytes': {
          const mem = buffers.get(Number(word));
          if (!mem) throw new TypeError(`${p.name}: no shared buffer ${word}`);
          bytesLength = w[i + 2] as bigint;
          args.push(model.host_read(mem, Number(w[i + 1]), Number(bytesLength)));
          break;
        }
        case 'length':
          args.push(bytesLength);
          break;
        case 'vcpus': {
          listLength = Number(word);
          const list: number[] = [];
          for (let k = 0; k < listLength; k++) list.push(Number(w[i + 1 + k]));
          args.push(list);
          i += 1 + listLength;
          continue;
        }
        case 'count':
          args.push(listLength);
          break;
        default:
          args.push(Number(word));
      }
      i += n === 'list' ? 0 : n;
    }
    return args;
  };
  // The value's reply words come after those of the out-values before it (the arm64 exit pointer has none).
  const value = outs.findIndex((p) => p.type.kind !== 'exit-pointer');
  const valueWord = outs.slice(0, Math.max(value, 0)).reduce((sum, p) => sum + outWords(p), 0);
  // Runs use the model's async runs (slices, kicks between them). hv_vcpu_run_until has none: the model
  // runs every deadline as HV_DEADLINE_FOREVER (packages/model/README.md), which is hv_vcpu_run's run.
  const asyncName =
    typeof backend[`${spec.name}_async`] === 'function'
      ? `${spec.name}_async`
      : spec.runsGuest
        ? 'hv_vcpu_run_async'
        : undefined;
  return {
    spec,
    method: asyncName ?? spec.name,
    decode,
    valueWord,
    async: asyncName !== undefined,
    allocates: valueParam(spec)?.type.kind === 'mem',
    destination,
  };
}

// ---- the handshake ---------------------------------------------------------------------------------

addon.watch(CHANNEL);
const hello = addon.recvFd(CHANNEL);
if (hello.message !== 'HELLO' || hello.fd < 0)
  fail(`unexpected first message ${JSON.stringify(hello.message)}`);
const MAILBOX_BYTES = MAILBOX.headerBytes + MAILBOX.slots * MAILBOX.slotBytes;
const mailbox = addon.map(hello.fd, MAILBOX_BYTES);
const u32 = new Uint32Array(mailbox);
const u64 = new BigUint64Array(mailbox);
const header = (offset: number): number => u32[offset / 4] as number;
if (header(MAILBOX.header.magic) !== MAILBOX.magic || header(MAILBOX.header.version) !== MAILBOX.version)
  fail('the mailbox is not an hvspec mailbox of this version');
const arch: Arch = header(MAILBOX.header.arch) === 1 ? 'arm64' : 'x86_64';
const specs = callSpecs(arch);
if (header(MAILBOX.header.signature) !== protocolSignature(specs))
  fail(
    `the library was built for another registry (protocol ${header(MAILBOX.header.signature).toString(16)}, server ${protocolSignature(specs).toString(16)}): rebuild @hvspec/capi`,
  );

const model = createModel(arch);
const backend = model as unknown as Backend;
const buffers = new Map<number, HostMemory>();
/** Memory the model's hv_vm_allocate made, until the library shares its own mapping of it (rebind). */
const allocated = new Map<number, HostMemory>();
const allocatedBuffer = (id: number): HostMemory | undefined => {
  const mem = allocated.get(id);
  allocated.delete(id);
  return mem;
};
const codecs = specs.map((s) => codecOf(s, backend));
const share = specs.length + SERVICE.share;
const rebind = specs.length + SERVICE.rebind;
const EXIT_VMCS = X86_EXIT_VMCS.map((n) => VMCS[n]);
const EXIT_REGS = X86_EXIT_REGS.map((n) => HV_X86_REG[n]);
addon.send(CHANNEL, 'OK');

// ---- serving ------------------------------------------------------------------------------------------

const slotBase = (i: number): number => MAILBOX.headerBytes + i * MAILBOX.slotBytes;
let inflight = 0;

function answer(i: number, ret: number, fill?: (out: number) => void): void {
  const base = slotBase(i);
  u32[(base + MAILBOX.slot.ret) / 4] = ret >>> 0;
  if (fill) fill((base + MAILBOX.slot.out) / 8);
  addon.reply(mailbox, i);
}

function storeValue(codec: Codec, out: number, value: unknown): void {
  const at = out + codec.valueWord;
  if (value instanceof Uint8Array) return; // written to the request's destination (see done())
  if (Array.isArray(value)) {
    value.forEach((x, i) => {
      u64[at + i] = BigInt.asUintN(64, BigInt(x as bigint));
    });
    return;
  }
  if (typeof value === 'object' && value !== null && !('exception' in value)) {
    if ('id' in value && 'size' in value) {
      // Host memory (hv_vm_allocate): the model's buffer id and its size.
      u64[at] = BigInt((value as HostMemory).id);
      u64[at + 1] = BigInt((value as HostMemory).size);
      return;
    }
    // Several out-values: one word each, in C order.
    Object.values(value).forEach((x, i) => {
      u64[at + i] = BigInt.asUintN(64, BigInt(x as number | bigint));
    });
    return;
  }
  switch (typeof value) {
    case 'bigint':
      if (codec.spec.params.some((p) => p.dir === 'out' && p.type.kind === 'u128')) {
        u64[at] = value & 0xffff_ffff_ffff_ffffn;
        u64[at + 1] = value >> 64n;
      } else u64[at] = BigInt.asUintN(64, value);
      break;
    case 'number':
      u64[at] = BigInt(value);
      break;
    case 'boolean':
      u64[at] = value ? 1n : 0n;
      break;
    case 'object': {
      const values = valueParams(codec.spec);
      if (values.length > 1) {
        // Several integer out-values, one reply word each in C order (a record keyed by their names).
        const record = value as Record<string, bigint | number>;
        values.forEach((p, i) => {
          u64[at + i] = BigInt.asUintN(64, BigInt(record[p.name] ?? 0));
        });
        break;
      }
      const exit = value as Arm64Exit | null;
      if (!exit) break;
      u64[at] = BigInt(exit.reason);
      u64[at + 1] = exit.exception.syndrome;
      u64[at + 2] = exit.exception.virtual_address;
      u64[at + 3] = exit.exception.physical_address;
      break;
    }
  }
}

interface X86Reads {
  hv_vmx_vcpu_read_vmcs(t: number, v: number, f: number): Result;
  hv_vcpu_read_register(t: number, v: number, r: number): Result;
  hv_vcpu_write_register(t: number, v: number, r: number, value: bigint): Result;
  hv_vmx_vcpu_write_vmcs(t: number, v: number, f: number, value: bigint): Result;
}
const x86 = model as unknown as X86Reads;

/** Reply word of each exit-record entry (mailbox.h). */
const VMCS_WORD = new Map<number, number>(EXIT_VMCS.map((f, i) => [f, i + 1]));
const REG_WORD = new Map<number, number>(EXIT_REGS.map((r, i) => [r, EXIT_VMCS.length + i + 1]));

/**
 * x86: the exit record read right after a run (word 0 the validity mask). Only what the exit's handler
 * needs is read (each read is a model call): the reason, qualification, instruction length, IDT
 * vectoring information, RIP and RAX always; the addresses after an EPT violation; the interruption
 * information after an exception; RCX and RDX after an MSR access; RSI, RDI and RCX after string I/O.
 */
function storeExitRecord(t: number, vcpu: number, out: number): void {
  let mask = 0n;
  const vmcs = (field: number): bigint | undefined => {
    const r = x86.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
    if (r.ret !== HV.HV_SUCCESS) return undefined;
    const word = VMCS_WORD.get(field) as number;
    u64[out + word] = r.value as bigint;
    mask |= 1n << BigInt(word);
    return r.value as bigint;
  };
  const reg = (id: number): void => {
    const r = x86.hv_vcpu_read_register(t, vcpu, id);
    if (r.ret !== HV.HV_SUCCESS) return;
    const word = REG_WORD.get(id) as number;
    u64[out + word] = r.value as bigint;
    mask |= 1n << BigInt(word);
  };
  const reason = Number((vmcs(VMCS.VMCS_RO_EXIT_REASON) ?? 0n) & 0xffffn);
  const qual = vmcs(VMCS.VMCS_RO_EXIT_QUALIFIC) ?? 0n;
  vmcs(VMCS.VMCS_RO_VMEXIT_INSTR_LEN);
  if (((vmcs(VMCS.VMCS_RO_IDT_VECTOR_INFO) ?? 0n) & 0x8000_0000n) !== 0n) vmcs(VMCS.VMCS_RO_IDT_VECTOR_ERROR);
  vmcs(VMCS.VMCS_GUEST_RIP);
  reg(HV_X86_REG.HV_X86_RIP);
  reg(HV_X86_REG.HV_X86_RAX);
  if (reason === VMX_REASON.VMX_REASON_EPT_VIOLATION || reason === VMX_REASON.VMX_REASON_EPT_MISCONFIG) {
    vmcs(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS);
    vmcs(VMCS.VMCS_RO_GUEST_LIN_ADDR);
  } else if (reason === VMX_REASON.VMX_REASON_EXC_NMI) {
    vmcs(VMCS.VMCS_RO_VMEXIT_IRQ_INFO);
    vmcs(VMCS.VMCS_RO_VMEXIT_IRQ_ERROR);
  } else if (reason === VMX_REASON.VMX_REASON_RDMSR || reason === VMX_REASON.VMX_REASON_WRMSR) {
    reg(HV_X86_REG.HV_X86_RCX);
    reg(HV_X86_REG.HV_X86_RDX);
  } else if (reason === VMX_REASON.VMX_REASON_IO && (qual & 0x10n) !== 0n) {
    reg(HV_X86_REG.HV_X86_RCX);
    reg(HV_X86_REG.HV_X86_RSI);
    reg(HV_X86_REG.HV_X86_RDI);
  }
  u64[out] = mask;
}

/** x86: the register writes the thread's library answered itself, applied before its call. */
function applyPending(base: number, t: number): void {
  const n = u32[(base + MAILBOX.slot.npending) / 4] as number;
  const at = (base + MAILBOX.slot.pending) / 8;
  for (let k = 0; k < n && k < MAX_PENDING; k++) {
    const vcpu = Number(u64[at + 3 * k]);
    const what = u64[at + 3 * k + 1] as bigint;
    const value = u64[at + 3 * k + 2] as bigint;
    const r =
      what & PENDING_VMCS
        ? x86.hv_vmx_vcpu_write_vmcs(t, vcpu, Number(what & 0xffff_ffffn), value)
        : x86.hv_vcpu_write_register(t, vcpu, Number(what), value);
    // The library defers only writes the spec says succeed; anything else is a bug to report.
    if (r.ret !== HV.HV_SUCCESS) logOnce(`a deferred register write returned 0x${r.ret.toString(16)}`);
  }
}

function failed(e: unknown, call: string): number {
  const message = e instanceof Error ? e.message : String(e);
  logOnce(`${call}: ${message}`);
  return e instanceof TypeError ? HV.HV_BAD_ARGUMENT : HV.HV_ERROR;
}

function handle(i: number): void {
  const base = slotBase(i);
  const call = u32[(base + MAILBOX.slot.call) / 4] as number;
  // The VMM's threads are numbered from 0 in the order of their first call; on the model they are
  // logical threads from 1, since its thread 0 is the caller itself, which cannot run a vCPU
  // asynchronously (and the model runs every VMM run asynchronously).
  const t = (u32[(base + MAILBOX.slot.thread) / 4] as number) + 1;
  const argsAt = (base + MAILBOX.slot.args) / 8;
  if (arch === 'x86_64') applyPending(base, t);
  if (call === rebind) {
    try {
      const size = Number(u64[argsAt]);
      const allocated = buffers.get(Number(u64[argsAt + 1])) ?? allocatedBuffer(Number(u64[argsAt + 1]));
      const object = addon.recvFd(CHANNEL);
      if (object.message !== 'SHARE' || object.fd < 0) throw new Error('expected a memory object');
      if (!allocated) throw new TypeError(`no buffer ${u64[argsAt + 1]} from hv_vm_allocate`);
      (model as unknown as Rebinding).host_rebind_allocation(
        allocated,
        new Uint8Array(addon.map(object.fd, size)),
      );
      buffers.set(allocated.id, allocated);
      answer(i, HV.HV_SUCCESS);
    } catch (e) {
      answer(i, failed(e, 'sharing allocated memory'));
    }
    return;
  }
  if (call === share) {
    try {
      const size = Number(u64[argsAt]);
      const object = addon.recvFd(CHANNEL);
      if (object.message !== 'SHARE' || object.fd < 0) throw new Error('expected a memory object');
      const mem = model.host_adopt(new Uint8Array(addon.map(object.fd, size)));
      buffers.set(mem.id, mem);
      answer(i, HV.HV_SUCCESS, (out) => {
        u64[out] = BigInt(mem.id);
      });
    } catch (e) {
      answer(i, failed(e, 'sharing guest memory'));
    }
    return;
  }
  const codec = codecs[call];
  if (!codec) {
    answer(i, HV.HV_UNSUPPORTED);
    return;
  }
  let args: unknown[];
  try {
    args = codec.decode(u64, argsAt);
  } catch (e) {
    answer(i, failed(e, codec.spec.name));
    return;
  }
  const method = backend[codec.method] as (...a: unknown[]) => unknown;
  let destination: { mem: HostMemory; offset: number } | undefined;
  try {
    destination = codec.destination(u64, argsAt);
  } catch (e) {
    answer(i, failed(e, codec.spec.name));
    return;
  }
  const done = (r: Result): void => {
    if (r.ret === HV.HV_SUCCESS && r.value instanceof Uint8Array && destination)
      model.host_write(destination.mem, destination.offset, r.value);
    if (r.ret === HV.HV_SUCCESS && codec.allocates)
      allocated.set((r.value as HostMemory).id, r.value as HostMemory);
    answer(i, r.ret, (out) => {
      if (r.ret !== HV.HV_SUCCESS) return;
      if (r.value !== undefined) storeValue(codec, out, r.value);
      if (arch === 'x86_64' && codec.spec.runsGuest) storeExitRecord(t, args[0] as number, out);
    });
  };
  try {
    if (codec.async) {
      inflight++;
      // Only the vCPU: the async run takes no deadline.
      (method.call(model, t, args[0]) as Promise<Result>).then(
        (r) => {
          inflight--;
          done(r);
        },
        (e: unknown) => {
          inflight--;
          answer(i, failed(e, codec.spec.name));
        },
      );
      return;
    }
    done(method.call(model, t, ...args) as Result);
  } catch (e) {
    answer(i, failed(e, codec.spec.name));
  }
}

const spinUs = Number(process.env.HVSPEC_MODEL_SERVER_SPIN ?? 20);
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function serve(): Promise<never> {
  for (;;) {
    // Idle: wait in the addon (spin, then sleep on the doorbell). Runs in flight: only look, and let
    // them go on between looks.
    const i = addon.next(mailbox, inflight > 0 ? 0 : 1000, inflight > 0 ? 0 : spinUs);
    if (i >= 0) {
      try {
        handle(i);
      } catch (e) {
        // Whatever went wrong, the VMM's thread gets an answer and the server goes on.
        answer(i, failed(e, 'a request'));
      }
    }
    if (inflight > 0) {
      // A run that ended in its first slice settles within a few microtask turns.
      for (let k = 0; k < 8 && inflight > 0; k++) await null;
      if (inflight > 0 && i < 0) await immediate();
    }
  }
}

void serve();
