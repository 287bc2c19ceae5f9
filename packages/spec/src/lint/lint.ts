/**
 * `lintTrace`: judges a recorded trace call by call against the spec, as if the framework had answered
 * it. Each `hv_*` step is predicted in the spec's state (`predict`: the row that decides it), the row
 * says whether the call is misuse, dangerous on real hosts or relies on an unverified rule, and the
 * recorded outcome is judged against it (`judge`), which also moves the spec's state on. Between runs,
 * the exit tracker checks that each exit was handled before its vCPU ran again.
 *
 * A recorded trace carries what happened in `expect` (the return code, the out-value, the arm64 exit).
 * Where a step records nothing, the spec's own answer is assumed. Handles bound by `bind` without a
 * recorded value get a number of their own (far from any handle a backend hands out), so that a
 * recording stays replayable on backends that number vCPUs differently.
 * @module
 */
import type { Arm64Exit, GicParameters, HostMemory } from '../backend.js';
import { showRet } from '../calls/dsl.js';
import { callSpec, inParams, judge, predict } from '../calls/registry.js';
import type { CallSpec, Row, SpecCall } from '../calls/types.js';
import { initialState, type SpecEnv, type SpecState } from '../state.js';
import { type BindKind, KIND_BITS, type TraceCallSpec, traceCallSpec } from '../trace/calls.js';
import { type ConvertEnv, convertArgs, FieldError } from '../trace/convert.js';
import { compileExpect, type ExpectCheck } from '../trace/parse.js';
import type { Step, Trace } from '../trace/types.js';
import { HV_REG } from '../vocabulary/arm64.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { HV_CAP, HV_X86_REG, VMCS } from '../vocabulary/x86.js';
import { ExitTracker } from './exits.js';
import type { Finding, FindingKind, LintReport } from './types.js';

/** Options of {@link lintTrace}. */
export interface LintOptions {
  /** The file the trace was read from (named in the report). */
  readonly file?: string;
}

/** First handle number given to bound handles without a recorded value. */
const SYNTHETIC_HANDLE = 0x7fff_0000;

/** Limits a trace does not state are taken as loose, so that lint never reports a limit it cannot know. */
const UNKNOWN_LIMIT = 1 << 20;

interface Bound {
  readonly kind: BindKind;
  readonly value: number | bigint | boolean | undefined;
}

/** What a step says happened. */
interface Recorded {
  readonly ret?: number;
  readonly value?: unknown;
  readonly valueKnown: boolean;
}

/** A call as the trace spells it, on one line: `hv_vm_map(uva={mem0+0x800}, gpa=0x1800, ...)`. */
export function stepText(step: Step): string {
  const show = (v: unknown): string => {
    if (v === null) return 'NULL';
    if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('mem' in o && 'offset' in o) return `${String(o.mem)}+${show(o.offset)}`;
      return `{${Object.entries(o)
        .map(([k, x]) => `${k}: ${show(x)}`)
        .join(', ')}}`;
    }
    if (typeof v === 'number') return v >= 256 ? `0x${v.toString(16)}` : String(v);
    return String(v);
  };
  const args = Object.entries(step.args)
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(', ');
  return `${step.call}(${args})`;
}

/** What the spec needs to know about the host, from what the trace recorded (loose where it says nothing). */
function lintEnv(trace: Trace): SpecEnv {
  const x86 = trace.arch === 'x86_64';
  const env = {
    arch: trace.arch,
    pageSize: x86 ? 4096 : 16384,
    maxVcpus: UNKNOWN_LIMIT,
    maxIpaSize: 52,
    defaultIpaSize: 36,
    ipaGranule4k: true,
    maxAddressSpaces: UNKNOWN_LIMIT,
    vmxCapabilities: {} as Record<number, bigint>,
    el2Supported: true,
    // GIC parameters the trace does not record are as loose as they can be: no alignment, regions of
    // one byte (a redistributor region of 4 GiB, so that any redistributor IPA is inside), every INTID.
    gic: {
      distributorSize: 1,
      distributorBaseAlignment: 1,
      redistributorRegionSize: 2 ** 32,
      redistributorSize: 1,
      redistributorBaseAlignment: 1,
      msiRegionSize: 1,
      msiRegionBaseAlignment: 1,
      spiBase: 0,
      spiCount: 2 ** 32 - 1,
    } as { -readonly [K in keyof GicParameters]: GicParameters[K] },
  };
  const noRefs: ConvertEnv = {
    ref: (name, _a, field) => {
      throw new FieldError(field, `$${name}`);
    },
    mem: (name, field) => {
      throw new FieldError(field, name);
    },
  };
  for (const step of trace.steps) {
    const spec = traceCallSpec(step.call, trace.arch);
    if (spec?.kind !== 'hv' || step.expect === undefined) continue;
    let args: unknown[];
    let rec: Recorded;
    try {
      args = convertArgs(step.call, spec.args, step.args, noRefs);
      rec = recorded(compileExpect(step.expect, step.call, spec, args, noRefs), spec);
    } catch {
      continue;
    }
    if (rec.ret !== HV.HV_SUCCESS || !rec.valueKnown) continue;
    const value = rec.value;
    switch (step.call) {
      case 'hv_capability':
        if (args[0] === HV_CAP.HV_CAP_VCPUMAX) env.maxVcpus = Number(value);
        if (args[0] === HV_CAP.HV_CAP_ADDRSPACEMAX) env.maxAddressSpaces = Number(value);
        break;
      case 'hv_vmx_read_capability':
        env.vmxCapabilities[args[0] as number] = value as bigint;
        break;
      case 'hv_vm_get_max_vcpu_count':
        env.maxVcpus = Number(value);
        break;
      case 'hv_vm_config_get_max_ipa_size':
        env.maxIpaSize = Number(value);
        break;
      case 'hv_vm_config_get_default_ipa_size':
        env.defaultIpaSize = Number(value);
        break;
      case 'hv_vm_config_get_el2_supported':
        env.el2Supported = value as boolean;
        break;
      case 'hv_gic_get_spi_interrupt_range': {
        const r = value as { spi_intid_base: number; spi_intid_count: number };
        env.gic.spiBase = r.spi_intid_base;
        env.gic.spiCount = r.spi_intid_count;
        break;
      }
      default: {
        const field = GIC_PARAMETER_CALLS[step.call];
        if (field) env.gic[field] = Number(value);
      }
    }
  }
  return env;
}

/** The parameter queries and the field of {@link GicParameters} each answers. */
const GIC_PARAMETER_CALLS: Readonly<Record<string, Exclude<keyof GicParameters, 'spiBase' | 'spiCount'>>> = {
  hv_gic_get_distributor_size: 'distributorSize',
  hv_gic_get_distributor_base_alignment: 'distributorBaseAlignment',
  hv_gic_get_redistributor_region_size: 'redistributorRegionSize',
  hv_gic_get_redistributor_size: 'redistributorSize',
  hv_gic_get_redistributor_base_alignment: 'redistributorBaseAlignment',
  hv_gic_get_msi_region_size: 'msiRegionSize',
  hv_gic_get_msi_region_base_alignment: 'msiRegionBaseAlignment',
};

const full = (check: { readonly mask: bigint }, bits: number): boolean =>
  check.mask === (1n << BigInt(bits)) - 1n;

/** The outcome a compiled expectation pins down (exact codes and values only). */
function recorded(check: ExpectCheck, spec: TraceCallSpec): Recorded {
  const ret = check.ret?.kind === 'is' ? check.ret.codes[0] : undefined;
  if (spec.out === undefined) return { ...(ret === undefined ? {} : { ret }), valueKnown: true };
  let value: unknown;
  let known = false;
  if (spec.out === 'exit') {
    const e = check.exit;
    const all = (k: 'reason' | 'syndrome' | 'virtual_address' | 'physical_address', bits: number) =>
      e?.[k] !== undefined && e[k].mask === (1n << BigInt(bits)) - 1n;
    if (
      e &&
      all('reason', 32) &&
      all('syndrome', 64) &&
      all('virtual_address', 64) &&
      all('physical_address', 64)
    ) {
      const exit: Arm64Exit = {
        reason: Number(e.reason?.value),
        exception: {
          syndrome: e.syndrome?.value as bigint,
          virtual_address: e.virtual_address?.value as bigint,
          physical_address: e.physical_address?.value as bigint,
        },
      };
      value = exit;
      known = true;
    }
  } else if (check.value !== undefined) {
    const v = check.value;
    if ('bool' in v) {
      value = v.bool;
      known = true;
    } else if ('list' in v) {
      if (v.list.every((x) => full(x, 64))) {
        known = true;
        value = v.list.map((x) => x.value);
      }
    } else if ('fields' in v) {
      const names = spec.fields ?? [];
      if (names.every((n) => v.fields[n] !== undefined && full(v.fields[n] as { mask: bigint }, 32))) {
        known = true;
        value = Object.fromEntries(names.map((n) => [n, Number(v.fields[n]?.value)]));
      }
    } else if (
      spec.out !== 'bytes' &&
      spec.out !== 'bool' &&
      spec.out !== 'mem' &&
      spec.out !== 'u64x8' &&
      spec.out !== 'record'
    ) {
      const bits = KIND_BITS[spec.out];
      if (full(v, bits)) {
        known = true;
        value = spec.out === 'u64' || spec.out === 'u128' ? v.value : Number(v.value);
      }
    }
  }
  return { ...(ret === undefined ? {} : { ret }), ...(known ? { value } : {}), valueKnown: known };
}

/** Whether a row is the framework refusing the call. */
function refuses(row: Row): boolean {
  return row.ret.kind === 'not-success' || (row.ret.kind === 'code' && row.ret.code !== HV.HV_SUCCESS);
}

/** Judges `trace` against the spec and reports every finding, in step order. */
export function lintTrace(trace: Trace, options: LintOptions = {}): LintReport {
  const arch = trace.arch;
  const state: SpecState = initialState(lintEnv(trace));
  const binds = new Map<string, Bound>();
  const mems = new Map<string, HostMemory>();
  const tracker = new ExitTracker();
  const findings: Finding[] = [];
  const aggregated = new Map<string, { index: number; count: number }>();
  let nextMem = 1;
  let nextHandle = SYNTHETIC_HANDLE;

  const env: ConvertEnv = {
    ref(name, accept, field) {
      const b = binds.get(name);
      if (!b || !accept.includes(b.kind)) throw new FieldError(field, `$${name} is not bound`);
      if (b.value === undefined) throw new FieldError(field, `$${name} has no value (its call failed)`);
      return b.value;
    },
    mem(name, field) {
      const m = mems.get(name);
      if (!m) throw new FieldError(field, `no host buffer named ${JSON.stringify(name)}`);
      return m;
    },
  };

  const add = (f: Finding, aggregate: boolean): void => {
    if (!aggregate) {
      findings.push(f);
      return;
    }
    const key = `${f.kind} ${f.rule}`;
    const seen = aggregated.get(key);
    if (seen) {
      seen.count++;
      const first = findings[seen.index] as Finding;
      findings[seen.index] = { ...first, count: seen.count };
      return;
    }
    aggregated.set(key, { index: findings.length, count: 1 });
    findings.push({ ...f, count: 1 });
  };

  // Async steps are judged with the outcome their await step recorded.
  const awaitOf = new Map<string, Step>();
  for (const s of trace.steps) if (s.call === 'await') awaitOf.set(String(s.args.label), s);
  const asyncVcpu = new Map<string, number>();

  trace.steps.forEach((step, index) => {
    const thread = step.thread ?? 0;
    const spec = traceCallSpec(step.call, arch);
    if (!spec) return;
    const base = { step: index, call: step.call, thread, text: stepText(step) };
    let args: unknown[];
    try {
      args = convertArgs(step.call, spec.args, step.args, env);
    } catch (e) {
      if (e instanceof FieldError) return; // a handle from a failed call: nothing the spec can judge
      throw e;
    }
    if (spec.kind === 'host') {
      if (step.call === 'host_alloc') {
        const size = Math.ceil((args[1] as number) / state.env.pageSize) * state.env.pageSize;
        const mem: HostMemory = { id: nextMem++, size };
        mems.set(args[0] as string, mem);
        state.buffers.set(mem.id, size);
      } else if (step.call === 'host_write') tracker.hostWrite();
      return;
    }
    if (spec.kind === 'setup') {
      tracker.forget(Number(args[0]));
      return;
    }
    if (spec.kind === 'await') {
      // A kick made while the run was in flight ended that run: it is not pending afterwards.
      const started = asyncVcpu.get(String(args[0]));
      const v = started === undefined ? undefined : state.vcpus.get(started);
      if (v) v.cancel = false;
      return;
    }

    const entry = callSpec(arch, step.call) as CallSpec;
    const named: Record<string, unknown> = {};
    inParams(entry).forEach((p, i) => {
      named[p.name] = args[i];
    });
    const call: SpecCall = { name: step.call, t: thread, args: named };
    if (step.async) asyncVcpu.set(String(step.label), Number(named.vcpu));
    const predicted = predict(state, call);
    const { row, ruleId } = predicted;

    const outcomeStep = step.async ? awaitOf.get(String(step.label)) : step;
    let rec: Recorded = { valueKnown: false };
    if (outcomeStep?.expect !== undefined) {
      try {
        rec = recorded(compileExpect(outcomeStep.expect, step.call, spec, args, env), spec);
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
      }
    }
    const got = rec.ret === undefined ? '' : `; the recorded call returned ${hvReturnName(rec.ret)}`;
    const evidence = { evidence: row.evidence, source: row.source };

    if (row.dangerous) {
      add(
        {
          ...base,
          ...evidence,
          rule: ruleId,
          kind: 'dangerous',
          severity: 'error',
          message: `${row.when}: ${row.dangerous}${got}`,
        },
        false,
      );
    } else if (refuses(row)) {
      add(
        {
          ...base,
          ...evidence,
          rule: ruleId,
          kind: 'misuse',
          severity: 'error',
          message: `${row.when}: the framework returns ${showRet(row.ret)}${got}`,
        },
        false,
      );
    } else if (row.ret.kind === 'any' && row.id !== 'ok' && row.id !== 'guest') {
      const kind: FindingKind = row.evidence === 'unverified' ? 'unverified' : 'may-fail';
      add(
        {
          ...base,
          ...evidence,
          rule: ruleId,
          kind,
          severity: 'warning',
          message: `${row.when}: ${row.result ?? 'the result is open'}`,
        },
        true,
      );
    } else if (row.evidence === 'unverified') {
      add(
        {
          ...base,
          ...evidence,
          rule: ruleId,
          kind: 'unverified',
          severity: 'warning',
          message: `${row.when}: ${row.result ?? showRet(row.ret)} — an inference, not yet observed on the framework`,
        },
        true,
      );
    }

    // The outcome: what was recorded, else what the spec says a conforming backend answers.
    const assumedRet =
      rec.ret ??
      (row.ret.kind === 'code' ? row.ret.code : row.ret.kind === 'not-success' ? undefined : HV.HV_SUCCESS);
    let value = rec.value;
    let valueKnown = rec.valueKnown;
    const handleOut =
      spec.out === 'vcpu' ||
      spec.out === 'config' ||
      spec.out === 'vcpu_config' ||
      spec.out === 'gic_config' ||
      spec.out === 'gic_state' ||
      spec.out === 'asid';
    if (!valueKnown && assumedRet === HV.HV_SUCCESS && handleOut) {
      value = nextHandle++;
      valueKnown = true;
    }
    if (!valueKnown && assumedRet === HV.HV_SUCCESS && spec.out === 'mem') {
      // Host memory of the size asked for: a buffer of its own, under the name the step binds.
      const mem: HostMemory = { id: nextMem++, size: Number(named.size) };
      value = mem;
      valueKnown = true;
      if (step.bind !== undefined) mems.set(step.bind, mem);
    }
    if (!valueKnown && assumedRet === HV.HV_SUCCESS && row.expect) {
      value = row.expect(state, call);
      valueKnown = value !== undefined;
    }
    let ok = false;
    // Without the out-value, only a row that checks none can be judged; a run still changes the state
    // the spec knows (registers unknown again, a kick consumed), whatever its exit was.
    const checksValue = row.expect !== undefined || row.value !== undefined;
    if (assumedRet === HV.HV_SUCCESS && !valueKnown && checksValue && entry.runsGuest) {
      row.effect?.(state, call, { ret: assumedRet });
      ok = true;
    } else if (assumedRet !== undefined && (valueKnown || assumedRet !== HV.HV_SUCCESS || !checksValue)) {
      const j = judge(state, call, { ret: assumedRet, ...(valueKnown ? { value } : {}) }, predicted);
      ok = assumedRet === HV.HV_SUCCESS && j.ok;
      if (!j.ok && rec.ret !== undefined) {
        add(
          {
            ...base,
            ...evidence,
            rule: ruleId,
            kind: 'spec-mismatch',
            severity: 'warning',
            message: `${j.mismatch} (the backend that recorded the trace answered differently from the spec)`,
          },
          true,
        );
      }
    }
    if (
      step.bind !== undefined &&
      assumedRet === HV.HV_SUCCESS &&
      spec.out !== undefined &&
      spec.out !== 'mem'
    ) {
      const kind = spec.out as BindKind;
      binds.set(step.bind, { kind, value: value as number | bigint | boolean | undefined });
    }
    if (!ok) return;

    // Exit handling.
    const vcpu = Number(named.vcpu);
    const field = named.field as number | undefined;
    switch (step.call) {
      case 'hv_vcpu_run':
      case 'hv_vcpu_run_until': {
        const exit = arch === 'arm64' && valueKnown ? (value as Arm64Exit) : undefined;
        const unhandled = tracker.run(vcpu, index, row.id === 'guest', exit);
        if (unhandled) {
          add(
            {
              ...base,
              rule: unhandled.rule.id,
              kind: 'unhandled-exit',
              severity: 'error',
              message: unhandled.message,
              evidence: unhandled.rule.evidence,
              source: unhandled.rule.source,
              related: [unhandled.exitStep],
            },
            false,
          );
        }
        break;
      }
      case 'hv_vmx_vcpu_read_vmcs': {
        if (!valueKnown) break;
        const v = value as bigint;
        if (field === VMCS.VMCS_RO_EXIT_REASON) tracker.exitReason(vcpu, v);
        else if (field === VMCS.VMCS_RO_EXIT_QUALIFIC) tracker.qualification(vcpu, v);
        else if (field === VMCS.VMCS_RO_VMEXIT_IRQ_INFO) tracker.interruptionInfo(vcpu, v);
        else if (field === VMCS.VMCS_GUEST_PHYSICAL_ADDRESS) tracker.guestPhysical(vcpu, v);
        else if (field === VMCS.VMCS_GUEST_RIP) tracker.readPc(vcpu, v);
        break;
      }
      case 'hv_vmx_vcpu_write_vmcs': {
        const v = named.value as bigint;
        if (field === VMCS.VMCS_GUEST_RIP) tracker.writePc(vcpu, v);
        else if (field === VMCS.VMCS_CTRL_VMENTRY_IRQ_INFO && (v & 0x8000_0000n) !== 0n) tracker.inject(vcpu);
        break;
      }
      case 'hv_vcpu_read_register':
      case 'hv_vcpu_get_reg':
        if (valueKnown && isPc(arch, named.reg as number)) tracker.readPc(vcpu, value as bigint);
        break;
      case 'hv_vcpu_write_register':
      case 'hv_vcpu_set_reg':
        if (isPc(arch, named.reg as number)) tracker.writePc(vcpu, named.value as bigint);
        break;
      case 'hv_vm_map':
      case 'hv_vm_map_space':
      case 'hv_vm_protect':
      case 'hv_vm_protect_space':
        tracker.mapped((named.gpa ?? named.ipa) as bigint, named.size as bigint);
        break;
      case 'hv_vcpu_destroy':
        tracker.forget(vcpu);
        break;
    }
  });

  const errors = findings.filter((f) => f.severity === 'error').length;
  return {
    ...(options.file === undefined ? {} : { file: options.file }),
    title: trace.title,
    arch,
    steps: trace.steps.length,
    findings,
    errors,
    warnings: findings.length - errors,
  };
}

function isPc(arch: string, reg: number): boolean {
  return arch === 'x86_64' ? reg === HV_X86_REG.HV_X86_RIP : reg === HV_REG.HV_REG_PC;
}
