/**
 * `replayTrace`: runs a parsed trace on a backend, step by step, each on its logical thread, and
 * reports every step as pass, fail, unsupported or skipped. `expandTrace` spells out `x86_setup`.
 *
 * Rules the replayer adds to the calls themselves (DESIGN.md, "Traces"):
 * - x86 `hv_vcpu_run` / `hv_vcpu_run_until` mean "run until an exit that is not spurious": while
 *   `VMCS_RO_EXIT_REASON` is `VMX_REASON_IRQ` (a host interrupt; returned to user space in both run
 *   modes, and Apple's own test loops over it — hvf-facts.md §1.7, §1.8 [T]) the vCPU is run again and
 *   the skipped exits are counted in the report. Not when an `hv_vcpu_interrupt` naming that vCPU was
 *   issued since its previous run (that kick's exit is the point of the step, §1.7 [R]), and never
 *   for async runs (a cancelled run reports the exit it got). Spurious EPT violations are not skipped.
 * - An async step starts `hv_vcpu_run` through the backend's `hv_vcpu_run_async` and passes once
 *   started; its `await` step (found by the async step's `label`) waits for it and is checked.
 * - A step the backend cannot honour is *unsupported*, never a pass: a run on a backend without
 *   guest execution; a map/protect that may succeed (per its `expect.ret`) with a permission set not
 *   in the backend's `capabilities.enforcedPermissions`, when a later step runs the guest (its
 *   accesses would not mean what the trace says); an arm64 run (or its await) whose `expect.kind` is
 *   an exit kind one of the backend's deviations declares it never produces (`arm64ExitKinds`), found
 *   before a synchronous run is made (an async run's at its await); an x86 exit-reason read expecting
 *   a reason the backend declares it never reports (`exitReasons`); an `x86_setup` of a mode the
 *   backend declares it cannot run (deviation `x86.mode.<mode>`); a step whose expectation fails, of
 *   a function one of the backend's deviations lists (`calls`: it answered HV_UNSUPPORTED, or the
 *   backend does not provide the function). The step and every later step are then reported
 *   unsupported.
 * - After a failure every later step is skipped. Async runs still in flight are then cancelled
 *   (`hv_vcpus_exit` / `hv_vcpu_interrupt` from thread 0) and awaited, so the backend is left idle.
 * @module
 */

import type { Arm64Exit, Backend, Capabilities, HostMemory, Vcpu } from '../backend.js';
import { arm64KindDeviation } from '../guest/arm64/vmm.js';
import type { X86Mode } from '../guest/x86/actions.js';
import { X86_REAL_IDT_LIMIT_DEVIATION, x86ModeDeviation } from '../guest/x86/scenario.js';
import { x86SetupSteps } from '../guest/x86/setup.js';
import { type FieldId, type JudgeContext, judgeField } from '../judge/exit.js';
import { memoryFlagsName } from '../vocabulary/memory.js';
import { HV, hvReturnName, u32 } from '../vocabulary/returns.js';
import { HV_VMX_CAP, VMCS, VMX_REASON, VMX_REASON_ENTRY_FAILURE, vmcsFieldName } from '../vocabulary/x86.js';
import { type BindKind, type TraceCallSpec, traceCallSpec, type Vocab } from './calls.js';
import {
  type ConvertEnv,
  convertArg,
  convertArgs,
  FieldError,
  hex,
  type NumericCheck,
  type RetCheck,
} from './convert.js';
import { bindKindOf, compileExpect, type ExpectCheck, setupThread } from './parse.js';
import type { Step, StepOutcome, StepStatus, Trace, TraceReport } from './types.js';

/** `x86SetupSteps` from the spec's guest programs: the canonical VMCS writes of `x86_setup`. */
export type X86SetupFn = (
  readCapability: (id: number) => bigint,
  mode: 'prot32',
  rip: bigint,
) => Array<{ field: number; value: bigint }>;

/** Options of {@link replayTrace}. */
export interface ReplayOptions {
  /** Call `backend.reset()` first, so the trace starts with no VM. Default true. */
  readonly reset?: boolean;
  /** The expansion of `x86_setup`; default the spec's `x86SetupSteps`. */
  readonly x86Setup?: X86SetupFn;
  /** Give up a run step after this many spurious exits (reported as a failure). Default 10000. */
  readonly maxSpuriousExits?: number;
}

interface Bound {
  readonly kind: BindKind;
  readonly value: number | bigint | boolean | Uint8Array | undefined;
  readonly step: number;
  readonly call: string;
  readonly ret: number | undefined;
}

class RuntimeEnv implements ConvertEnv {
  readonly binds = new Map<string, Bound>();
  readonly mems = new Map<string, HostMemory>();
  ref(name: string, accept: readonly BindKind[], field: string): number | bigint | boolean {
    const b = this.binds.get(name);
    if (!b || !accept.includes(b.kind))
      throw new FieldError(field, `$${name} is not bound to a ${accept.join(' or ')}`);
    if (b.value === undefined) {
      const why = b.ret === undefined ? 'made no call' : `returned ${hvReturnName(b.ret)}`;
      throw new FieldError(field, `$${name} has no value: step ${b.step} (${b.call}) ${why}`);
    }
    return b.value as number | bigint | boolean;
  }
  bytes(name: string, field: string): Uint8Array {
    const b = this.binds.get(name);
    if (b?.kind !== 'bytes') throw new FieldError(field, `$${name} is not bound to bytes`);
    if (!(b.value instanceof Uint8Array)) {
      const why = b.ret === undefined ? 'made no call' : `returned ${hvReturnName(b.ret)}`;
      throw new FieldError(field, `$${name} has no value: step ${b.step} (${b.call}) ${why}`);
    }
    return b.value;
  }
  mem(name: string, field: string): HostMemory {
    const m = this.mems.get(name);
    if (!m) throw new FieldError(field, `no host buffer named ${JSON.stringify(name)}`);
    return m;
  }
}

/** What a call produced, for checking. */
interface Produced {
  readonly ret?: number;
  readonly value?: unknown;
  readonly bytes?: Uint8Array;
}

/** What a numeric expectation is about, for the judge's decoding. */
function fieldOf(label: string, call: string, args: readonly unknown[], vocab?: Vocab): FieldId {
  if (label.startsWith('exit.')) return { kind: 'arm64', name: label.slice(5) as 'syndrome' };
  if (call === 'hv_vmx_vcpu_read_vmcs') return { kind: 'vmcs', field: args[1] as number };
  return vocab ? { kind: 'value', name: label, names: vocab.names } : { kind: 'value', name: label };
}

function checkNumeric(
  id: FieldId,
  check: NumericCheck,
  got: unknown,
  ret: number | undefined,
  ctx: JudgeContext,
): string | undefined {
  const value = got === undefined || got === null ? undefined : BigInt(got as number | bigint);
  const m = judgeField(id, { value: check.value, mask: check.mask }, value, ctx);
  if (!m) return undefined;
  const why = value === undefined && ret !== undefined ? ` (ret ${hvReturnName(ret)})` : '';
  return `${id.kind === 'value' || id.kind === 'arm64' ? m.field : 'value'}: expected ${m.expected}, got ${m.got}${why}`;
}

function checkRet(check: RetCheck, ret: number): string | undefined {
  const got = u32(ret);
  const names = check.codes.map(hvReturnName);
  switch (check.kind) {
    case 'is':
      return got === check.codes[0] ? undefined : `ret: expected ${names[0]}, got ${hvReturnName(got)}`;
    case 'not':
      return got !== check.codes[0] ? undefined : `ret: expected not ${names[0]}, got ${hvReturnName(got)}`;
    case 'oneOf':
      return check.codes.includes(got)
        ? undefined
        : `ret: expected one of ${names.join(', ')}, got ${hvReturnName(got)}`;
  }
}

function bytesHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Every mismatch between `check` and what the call produced, joined; undefined when all match. */
function checkProduced(
  check: ExpectCheck,
  got: Produced,
  call: string,
  args: readonly unknown[],
  ctx: JudgeContext,
): string | undefined {
  const problems: string[] = [];
  if (check.ret && got.ret !== undefined) {
    const p = checkRet(check.ret, got.ret);
    if (p) problems.push(p);
  }
  if (check.value) {
    if ('bool' in check.value) {
      if (got.value !== check.value.bool) {
        const g =
          got.value === undefined
            ? `no value${got.ret === undefined ? '' : ` (ret ${hvReturnName(got.ret)})`}`
            : String(got.value);
        problems.push(`value: expected ${check.value.bool}, got ${g}`);
      }
    } else if ('list' in check.value) {
      const list = Array.isArray(got.value) ? (got.value as unknown[]) : [];
      check.value.list.forEach((c, i) => {
        const p = checkNumeric({ kind: 'value', name: `value[${i}]` }, c, list[i], got.ret, ctx);
        if (p) problems.push(p);
      });
    } else if ('fields' in check.value) {
      const rec = (got.value ?? {}) as Record<string, unknown>;
      for (const [k, c] of Object.entries(check.value.fields)) {
        const p = checkNumeric({ kind: 'value', name: `value.${k}` }, c, rec[k], got.ret, ctx);
        if (p) problems.push(p);
      }
    } else {
      const p = checkNumeric(
        fieldOf('value', call, args, check.value.vocab),
        check.value,
        got.value,
        got.ret,
        ctx,
      );
      if (p) problems.push(p);
    }
  }
  if (check.exit) {
    const exit = got.value as Arm64Exit | undefined;
    for (const [key, c] of Object.entries(check.exit)) {
      if (!c) continue;
      const value =
        exit === undefined ? undefined : key === 'reason' ? exit.reason : exit.exception[key as 'syndrome'];
      const p = checkNumeric(fieldOf(`exit.${key}`, call, args), c, value, got.ret, ctx);
      if (p) problems.push(p);
    }
  }
  if (check.bytes) {
    const g = got.bytes;
    if (!g || bytesHex(g) !== bytesHex(check.bytes)) {
      problems.push(
        `bytes: expected ${bytesHex(check.bytes) || '(none)'}, got ${g ? bytesHex(g) || '(none)' : 'nothing'}`,
      );
    }
  }
  return problems.length ? problems.join('; ') : undefined;
}

/** True when a step's `ret` expectation admits HV_SUCCESS (or there is none). */
function maySucceed(check: RetCheck | undefined): boolean {
  if (!check) return true;
  if (check.kind === 'not') return check.codes[0] !== HV.HV_SUCCESS;
  return check.codes.includes(HV.HV_SUCCESS);
}

function describeThrow(e: unknown): string {
  return e instanceof Error ? `threw ${e.name}: ${e.message}` : `threw ${String(e)}`;
}

type Method = (...args: unknown[]) => unknown;

interface Pending {
  readonly index: number;
  readonly call: string;
  readonly thread: number;
  readonly vcpu: number;
  readonly spec: TraceCallSpec;
  readonly args: readonly unknown[];
  readonly settled: Promise<
    { ok: true; result: { ret: number; value?: unknown } } | { ok: false; error: unknown }
  >;
  awaited: boolean;
}

/**
 * The deviation (Deviation.exitReasons) by which the backend declared it never reports the x86 exit
 * reason a failed expectation names: then the step is unsupported by this backend, not failed.
 */
function neverReported(
  caps: Capabilities,
  call: string,
  args: readonly unknown[],
  check: ExpectCheck,
): string | undefined {
  if (call !== 'hv_vmx_vcpu_read_vmcs' || args[1] !== VMCS.VMCS_RO_EXIT_REASON) return undefined;
  const want = check.value;
  if (want === undefined || !('mask' in want)) return undefined;
  const basic = Number(want.value & 0xffffn);
  return caps.deviations.find((d) => d.exitReasons?.includes(basic))?.id;
}

/**
 * The deviation by which the backend declared it delivers real-mode events without checking the IDT
 * limit ({@link X86_REAL_IDT_LIMIT_DEVIATION}), when a failed expectation is the triple fault in which
 * such an event ends on a vCPU set up in real mode (the spec's real-mode programs triple-fault only so).
 */
function realIdtLimit(
  caps: Capabilities,
  call: string,
  args: readonly unknown[],
  check: ExpectCheck,
  realVcpus: ReadonlySet<number>,
): string | undefined {
  if (call !== 'hv_vmx_vcpu_read_vmcs' || args[1] !== VMCS.VMCS_RO_EXIT_REASON) return undefined;
  if (!realVcpus.has(args[0] as number)) return undefined;
  const want = check.value;
  if (want === undefined || !('mask' in want)) return undefined;
  if (Number(want.value & 0xffffn) !== VMX_REASON.VMX_REASON_TRIPLE_FAULT) return undefined;
  return caps.deviations.find((d) => d.id === X86_REAL_IDT_LIMIT_DEVIATION)?.id;
}

/** A step ended early: fail or unsupported, with the message. */
class StepEnd {
  constructor(
    readonly status: 'fail' | 'unsupported',
    readonly message: string,
    /** The declared deviation that makes the step unsupported, when one does. */
    readonly deviation?: string,
  ) {}
}

/**
 * Replays `trace` on `backend` (which must be of the trace's architecture). The trace passes only if
 * every step passes.
 */
export async function replayTrace(
  trace: Trace,
  backend: Backend,
  options: ReplayOptions = {},
): Promise<TraceReport> {
  const caps = backend.capabilities;
  if (caps.arch !== trace.arch) {
    throw new TypeError(`the trace is for ${trace.arch}, the backend (${caps.backend}) is ${caps.arch}`);
  }
  const setup = options.x86Setup ?? x86SetupSteps;
  const maxSpurious = options.maxSpuriousExits ?? 10_000;
  if (options.reset ?? true) await backend.reset();

  const env = new RuntimeEnv();
  const methods = backend as unknown as Record<string, Method | undefined>;
  const pending = new Map<string, Pending>();
  /** vCPUs named by an hv_vcpu_interrupt since their previous run (x86). */
  const kicked = new Set<number>();
  /** vCPUs whose last `x86_setup` was real mode (x86). */
  const realVcpus = new Set<number>();
  /** The basic exit reason last read on each vCPU (x86). */
  const exitReasons = new Map<number, number>();
  /** Owner thread of every vCPU created so far. */
  const owners = new Map<number, number>();
  const outcomes: StepOutcome[] = [];
  let stop: { status: 'fail' | 'unsupported'; index: number } | undefined;
  let spuriousTotal = 0;

  const x86 = trace.arch === 'x86_64';
  // Permissions matter only to guest accesses: a mapping's flags are unenforceable only if a later step runs the guest.
  let lastGuestRun = -1;
  trace.steps.forEach((s, i) => {
    if (traceCallSpec(s.call, trace.arch)?.runsGuest) lastGuestRun = i;
  });

  const runOne = async (step: Step, index: number): Promise<StepOutcome> => {
    const thread = step.thread ?? 0;
    const spec = traceCallSpec(step.call, trace.arch);
    const base = { index, call: step.call, thread };
    if (!spec) return { ...base, status: 'fail', message: `unknown call ${step.call}` };
    let ret: number | undefined;
    let spurious: number | undefined;
    const end = (status: StepStatus, message?: string, deviation?: string): StepOutcome => ({
      ...base,
      status,
      ...(message === undefined ? {} : { message }),
      ...(deviation === undefined ? {} : { deviation }),
      ...(ret === undefined ? {} : { ret }),
      ...(spurious === undefined ? {} : { spuriousExits: spurious }),
    });
    try {
      const args = convertArgs(step.call, spec.args, step.args, env);
      // Expectations are compiled before the call, so `$refs` in them see the bindings as they were.
      let resultSpec = spec;
      let resultCall = step.call;
      let resultArgs: readonly unknown[] = args;
      let awaited: Pending | undefined;
      if (spec.kind === 'await') {
        awaited = pending.get(args[0] as string);
        if (!awaited)
          throw new StepEnd('fail', `no async step labelled ${JSON.stringify(args[0])} is running`);
        resultSpec = awaited.spec;
        resultCall = awaited.call;
        resultArgs = awaited.args;
      }
      const check =
        step.expect === undefined ? {} : compileExpect(step.expect, resultCall, resultSpec, resultArgs, env);
      if (check.kind !== undefined) {
        const d = arm64KindDeviation(caps, check.kind);
        if (d)
          throw new StepEnd(
            'unsupported',
            `${caps.backend} declares it never produces ${check.kind} as the spec predicts`,
            d.id,
          );
      }

      if (spec.kind === 'hv') {
        if (spec.runsGuest && !caps.guestExecution) {
          throw new StepEnd(
            'unsupported',
            `${caps.backend} does not execute guest code (capabilities.guestExecution is false)`,
          );
        }
        if (typeof methods[step.call] !== 'function')
          throw new StepEnd('unsupported', `${caps.backend} has no ${step.call}`);
        if (spec.flagsArg !== undefined) {
          const flags = args[spec.flagsArg] as number;
          // Only permission sets within READ|WRITE|EXEC can take effect; other bits are argument errors.
          if (
            (flags & ~7) === 0 &&
            !caps.enforcedPermissions.includes(flags) &&
            maySucceed(check.ret) &&
            index < lastGuestRun
          ) {
            throw new StepEnd(
              'unsupported',
              `${caps.backend} does not enforce ${memoryFlagsName(flags)} permissions (capabilities.enforcedPermissions), so later guest accesses would not mean what the trace says`,
              caps.deviations.find((d) => d.permissions?.includes(flags))?.id,
            );
          }
        }
      }

      let produced: Produced;
      switch (spec.kind) {
        case 'host': {
          if (step.call === 'host_alloc') {
            env.mems.set(args[0] as string, backend.host_alloc(args[1] as number));
            produced = {};
          } else if (step.call === 'host_write') {
            backend.host_write(args[0] as HostMemory, args[1] as number, args[2] as Uint8Array);
            produced = {};
          } else {
            const bytes = backend.host_read(args[0] as HostMemory, args[1] as number, args[2] as number);
            produced = { value: bytes, bytes };
          }
          break;
        }
        case 'setup': {
          if (backend.arch !== 'x86_64') throw new StepEnd('fail', 'x86_setup needs an x86_64 backend');
          const mode = args[1] as X86Mode;
          const modeDeviation = caps.deviations.find((d) => d.id === x86ModeDeviation(mode));
          if (modeDeviation)
            throw new StepEnd(
              'unsupported',
              `${caps.backend} declares it cannot run guests in ${mode} mode`,
              modeDeviation.id,
            );
          const vcpu = args[0] as number;
          if (mode === 'real') realVcpus.add(vcpu);
          else realVcpus.delete(vcpu);
          const owner = owners.get(vcpu) ?? thread;
          base.thread = owner;
          const read = (id: number): bigint => {
            const r = backend.hv_vmx_read_capability(owner, id);
            if (u32(r.ret) !== HV.HV_SUCCESS || r.value === undefined) {
              const name = Object.entries(HV_VMX_CAP).find(([, v]) => v === id)?.[0] ?? String(id);
              throw new StepEnd(
                'fail',
                `x86_setup: hv_vmx_read_capability(${name}): expected HV_SUCCESS, got ${hvReturnName(r.ret)}`,
              );
            }
            return r.value;
          };
          for (const w of setup(read, args[1] as 'prot32', args[2] as bigint)) {
            const r = backend.hv_vmx_vcpu_write_vmcs(owner, vcpu as Vcpu, w.field, w.value);
            if (u32(r.ret) !== HV.HV_SUCCESS) {
              ret = r.ret;
              throw new StepEnd(
                'fail',
                `x86_setup: hv_vmx_vcpu_write_vmcs(${vmcsFieldName(w.field)}, ${hex(w.value)}): expected HV_SUCCESS, got ${hvReturnName(r.ret)}`,
              );
            }
          }
          produced = {};
          break;
        }
        case 'await': {
          const p = awaited as Pending;
          // The outcome names the thread the run is on; await itself only waits.
          base.thread = p.thread;
          const s = await p.settled;
          p.awaited = true;
          pending.delete(args[0] as string);
          kicked.delete(p.vcpu);
          if (!s.ok) throw new StepEnd('fail', describeThrow(s.error));
          ret = s.result.ret;
          produced = s.result;
          break;
        }
        case 'hv': {
          const method = methods[step.call] as Method;
          if (step.async) {
            const asyncMethod = methods[`${step.call}_async`];
            if (typeof asyncMethod !== 'function')
              throw new StepEnd('unsupported', `${caps.backend} has no ${step.call}_async`);
            const vcpu = args[0] as number;
            kicked.delete(vcpu);
            const promise = Promise.resolve().then(
              () => asyncMethod.call(backend, thread, ...args) as Promise<{ ret: number; value?: unknown }>,
            );
            pending.set(step.label as string, {
              index,
              call: step.call,
              thread,
              vcpu,
              spec,
              args,
              settled: promise.then(
                (result) => ({ ok: true as const, result }),
                (error: unknown) => ({ ok: false as const, error }),
              ),
              awaited: false,
            });
            produced = {};
            break;
          }
          let result = method.call(backend, thread, ...args) as { ret: number; value?: unknown };
          if (x86 && spec.runsGuest) {
            const vcpu = args[0] as number;
            const wasKicked = kicked.delete(vcpu);
            spurious = 0;
            while (!wasKicked && u32(result.ret) === HV.HV_SUCCESS && backend.arch === 'x86_64') {
              const reason = backend.hv_vmx_vcpu_read_vmcs(thread, vcpu as Vcpu, VMCS.VMCS_RO_EXIT_REASON);
              if (u32(reason.ret) !== HV.HV_SUCCESS || reason.value === undefined) break;
              const basic = Number(reason.value & 0xffffn);
              if (
                basic !== VMX_REASON.VMX_REASON_IRQ ||
                (reason.value & BigInt(VMX_REASON_ENTRY_FAILURE)) !== 0n
              )
                break;
              spurious++;
              if (spurious > maxSpurious) {
                ret = result.ret;
                throw new StepEnd(
                  'fail',
                  `gave up after ${maxSpurious} spurious VMX_REASON_IRQ exits in a row`,
                );
              }
              result = method.call(backend, thread, ...args) as { ret: number; value?: unknown };
            }
          }
          if (x86 && step.call === 'hv_vcpu_interrupt' && u32(result.ret) === HV.HV_SUCCESS) {
            for (const v of args[0] as number[]) kicked.add(v);
          }
          if (
            step.call === 'hv_vcpu_create' &&
            u32(result.ret) === HV.HV_SUCCESS &&
            result.value !== undefined
          ) {
            owners.set(Number(result.value), thread);
          }
          ret = result.ret;
          produced = result;
          break;
        }
      }
      if (step.bind !== undefined) {
        const kind = bindKindOf(resultSpec) as BindKind;
        const ok = produced.ret === undefined || u32(produced.ret) === HV.HV_SUCCESS;
        if (kind === 'mem') {
          // Host memory from the call (hv_vm_allocate) is a buffer the later steps name.
          if (ok && produced.value !== undefined) env.mems.set(step.bind, produced.value as HostMemory);
        } else {
          const value = ok
            ? (produced.value as number | bigint | boolean | Uint8Array | undefined)
            : undefined;
          env.binds.set(step.bind, { kind, value, step: index, call: step.call, ret: produced.ret });
        }
      }
      if (resultSpec.out === 'bytes' && produced.value instanceof Uint8Array)
        produced = { ...produced, bytes: produced.value };
      // The exit reason a VMM read last, per vCPU: the judge decodes the qualification read after it.
      const vmcsRead = x86 && resultCall === 'hv_vmx_vcpu_read_vmcs';
      if (vmcsRead && resultArgs[1] === VMCS.VMCS_RO_EXIT_REASON && typeof produced.value === 'bigint')
        exitReasons.set(resultArgs[0] as number, Number(produced.value & 0xffffn));
      const ctx = vmcsRead ? { exitReason: exitReasons.get(resultArgs[0] as number) } : {};
      const problem = checkProduced(check, produced, resultCall, resultArgs, ctx);
      const refused =
        problem && produced.ret !== undefined && u32(produced.ret) === HV.HV_UNSUPPORTED
          ? caps.deviations.find((d) => d.calls?.includes(step.call))?.id
          : undefined;
      if (refused) {
        return end(
          'unsupported',
          `${caps.backend} declares ${step.call} unsupported here (${problem})`,
          refused,
        );
      }
      const deviation = problem ? neverReported(caps, step.call, args, check) : undefined;
      if (problem && deviation) {
        return end(
          'unsupported',
          `${caps.backend} declares it never reports this exit reason (${problem})`,
          deviation,
        );
      }
      const missing = problem ? caps.deviations.find((d) => d.calls?.includes(step.call)) : undefined;
      if (problem && missing)
        return end(
          'unsupported',
          `${caps.backend} declares it does not provide ${step.call} (${problem})`,
          missing.id,
        );
      const realDeviation = problem ? realIdtLimit(caps, step.call, args, check, realVcpus) : undefined;
      if (problem && realDeviation) {
        return end(
          'unsupported',
          `${caps.backend} declares it delivers real-mode events through the IVT whatever the IDT limit (${problem})`,
          realDeviation,
        );
      }
      return problem ? end('fail', problem) : end('pass');
    } catch (e) {
      if (e instanceof StepEnd) return end(e.status, e.message, e.deviation);
      if (e instanceof FieldError) return end('fail', e.message);
      return end('fail', describeThrow(e));
    }
  };

  for (const [index, step] of trace.steps.entries()) {
    if (stop) {
      const status = stop.status === 'unsupported' ? 'unsupported' : 'skipped';
      const why =
        stop.status === 'unsupported'
          ? `after unsupported step ${stop.index}`
          : `after failed step ${stop.index}`;
      outcomes.push({ index, call: step.call, thread: step.thread ?? 0, status, message: why });
      continue;
    }
    const outcome = await runOne(step, index);
    outcomes.push(outcome);
    spuriousTotal += outcome.spuriousExits ?? 0;
    if (outcome.status === 'fail' || outcome.status === 'unsupported')
      stop = { status: outcome.status, index };
  }

  // Runs still in flight (the trace stopped before their await): cancel them and wait, so that the
  // backend is idle when the caller resets or closes it.
  for (const p of pending.values()) {
    try {
      if (backend.arch === 'arm64') backend.hv_vcpus_exit(0, [p.vcpu as Vcpu], 1);
      else backend.hv_vcpu_interrupt(0, [p.vcpu as Vcpu], 1);
    } catch {
      // The cancel is best effort: the step's own outcome already says what went wrong.
    }
    await p.settled;
  }

  const firstProblem = outcomes.find((o) => o.status === 'fail' || o.status === 'unsupported');
  return {
    title: trace.title,
    arch: trace.arch,
    backend: caps.backend,
    status: firstProblem ? (firstProblem.status as 'fail' | 'unsupported') : 'pass',
    steps: outcomes,
    ...(firstProblem ? { firstProblem } : {}),
    spuriousExits: spuriousTotal,
  };
}

const LITERAL_ENV: ConvertEnv = {
  ref(name: string, _accept: readonly BindKind[], field: string): never {
    throw new FieldError(field, `$${name}: x86_setup can only be expanded with a literal rip`);
  },
  mem(name: string, field: string): never {
    throw new FieldError(field, `no host buffer ${JSON.stringify(name)}`);
  },
  bytes(name: string, field: string): never {
    throw new FieldError(field, `$${name}: x86_setup takes no bytes`);
  },
};

/**
 * The trace with every `x86_setup` step replaced by the `hv_vmx_vcpu_write_vmcs` calls it performs
 * (on the vCPU's owning thread, each expecting HV_SUCCESS), given the backend's
 * `hv_vmx_read_capability`. arm64 traces come back unchanged.
 */
export function expandTrace(
  trace: Trace,
  readCapability: (id: number) => bigint,
  setup: X86SetupFn = x86SetupSteps,
): Trace {
  if (trace.arch !== 'x86_64') return trace;
  const vcpuThreads = new Map<string, number>();
  const steps: Step[] = [];
  for (const step of trace.steps) {
    if (step.call === 'hv_vcpu_create' && step.bind !== undefined)
      vcpuThreads.set(step.bind, step.thread ?? 0);
    if (step.call !== 'x86_setup') {
      steps.push(step);
      continue;
    }
    const owner = setupThread(step, vcpuThreads);
    const rip = convertArg(
      { t: 'int', bits: 64, as: 'bigint' },
      step.args.rip,
      'args.rip',
      LITERAL_ENV,
    ) as bigint;
    for (const w of setup(readCapability, step.args.mode as 'prot32', rip)) {
      steps.push({
        ...(owner === 0 ? {} : { thread: owner }),
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu: step.args.vcpu ?? null, field: vmcsFieldName(w.field), value: hex(w.value) },
        expect: { ret: 'HV_SUCCESS' },
      });
    }
  }
  return { ...trace, steps };
}
