/**
 * An example for a function no trace calls, made from the registry and the spec's state instead of
 * by hand, so that a function added to the registry has an example on its page without anyone writing
 * one: the setup its parameters need (a VM, the handles they name, a host buffer), the call, and what
 * the spec predicts for it as the expectation.
 *
 * The setup is searched, not scripted. Each `in` parameter has candidate values from its parameter
 * type (its vocabulary's names, handles made by the registry's call that returns that kind of handle,
 * small integers and the page size, every permission set); candidates are tried in order, each as a
 * trace replayed on the model while the spec follows the same calls (`predict`, then `judge`, on its
 * own state), and the first call that the spec's success row decides is kept. Where no success row is
 * reachable (a row that allows any code, say) the best row found is. The trace's expectations are the
 * deciding rows' own: the exact code, "not HV_SUCCESS", nothing where the row allows any code, and the
 * out-value where the row predicts one.
 * @module
 */
import { createModel } from '@hvspec/model';
import {
  type Arch,
  type Backend,
  type CallSpec,
  callSpec,
  callSpecs,
  EVIDENCE_TAG,
  envFromCapabilities,
  type HostMemory,
  HV,
  hvReturnName,
  type InParam,
  initialState,
  inParams,
  type JsonValue,
  judge,
  type Outcome,
  parseTrace,
  predict,
  type Row,
  replayTrace,
  type SpecCall,
  type SpecEnv,
  type SpecState,
  type Step,
  TRACE_FORMAT,
  type Trace,
  valueParam,
} from '@hvspec/spec';
import type { ExampleTrace } from './examples.js';

/** What the spec said about one `hv_*` call of a replay. */
interface Seen {
  readonly call: string;
  readonly row: Row;
  readonly outcome: Outcome;
  /** Whether the backend's answer conforms to the row. */
  readonly ok: boolean;
  /** The out-value the row predicts in the state before the call, when it predicts one. */
  readonly predicted?: unknown;
}

/**
 * The model, with the spec following along: every `hv_*` call is predicted on the spec's own state
 * before it is made and judged after, and `host_alloc` registers its buffer, as the conformance harness
 * does.
 */
class SpecFollower {
  private state: SpecState;
  seen: Seen[] = [];
  readonly backend: Backend;
  constructor(private readonly model: Backend) {
    const env = envFromCapabilities(model.capabilities);
    this.state = initialState(env);
    const self = this;
    this.backend = new Proxy(model, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        if (prop === 'reset')
          return async () => {
            await (v as () => Promise<void>).call(target);
            self.state = initialState(env);
            self.seen = [];
          };
        if (prop === 'host_alloc')
          return (size: number) => {
            const mem = (v as (n: number) => HostMemory).call(target, size);
            self.state.buffers.set(mem.id, mem.size);
            return mem;
          };
        const spec = typeof prop === 'string' ? callSpec(target.arch, prop) : undefined;
        if (!spec) return (v as (...a: unknown[]) => unknown).bind(target);
        return (t: number, ...args: unknown[]) => {
          const names = inParams(spec).map((p) => p.name);
          const call: SpecCall = {
            name: spec.name,
            t,
            args: Object.fromEntries(names.map((n, i) => [n, args[i]])),
          };
          const p = predict(self.state, call);
          const predicted = p.row.expect?.(self.state, call);
          const outcome = (v as (...a: unknown[]) => Outcome).call(target, t, ...args);
          const j = judge(self.state, call, outcome, p);
          self.seen.push({
            call: spec.name,
            row: p.row,
            outcome,
            ok: j.ok,
            ...(predicted !== undefined ? { predicted } : {}),
          });
          return outcome;
        };
      },
    });
  }
  close(): Promise<void> {
    return this.model.close();
  }
}

/** A candidate value of one argument, as a trace writes it, and the handles it needs made first. */
interface Candidate {
  readonly json: JsonValue | undefined;
  /** Handle kinds (`vcpu`, `asid`, an object kind such as `gic_state`), `bytes` or `buffer` this value refers to. */
  readonly needs: readonly string[];
}

const val = (json: JsonValue | undefined, ...needs: string[]): Candidate => ({ json, needs });
/** Integers the way a person writes them: small ones in decimal, addresses and sizes in hex. */
const int = (v: bigint): JsonValue => (v < 10n ? Number(v) : `0x${v.toString(16)}`);

/** Vocabulary names tried per argument, at most (the first ones of each vocabulary). */
const VOCAB_TRIED = 48;
/** Argument combinations tried per call, at most. */
const COMBINATIONS = 800;
/** Replays one example's search may make in all (a few milliseconds each). */
const REPLAYS = 4000;
/** How deep handle-making calls may nest (a vCPU made with a config made …). */
const DEPTH = 3;

/** The candidate values of an `in` parameter, most typical first. */
function candidates(p: InParam, pageSize: number): Candidate[] {
  const t = p.type;
  switch (t.kind) {
    case 'vcpu':
      return [val('$vcpu', 'vcpu')];
    case 'vcpus':
      return [val(['$vcpu'], 'vcpu')];
    case 'count':
      return [val(undefined)]; // optional: the list's length
    case 'asid':
      return [val(0), val('$asid', 'asid')];
    case 'config': {
      const handle = val(`$${t.object}`, t.object ?? 'config');
      return t.nullable === 'only'
        ? [val(null)]
        : t.nullable === 'or-handle'
          ? [val(null), handle]
          : [handle];
    }
    case 'bytes':
      return [val('$bytes', 'bytes')];
    case 'length':
      return [val(undefined)]; // optional: the length of the bytes beside it
    case 'uva':
      return [val({ mem: 'buf', offset: 0 }, 'buffer')];
    case 'flags':
      return [val(['READ', 'WRITE', 'EXEC']), val(['READ', 'WRITE']), val(['READ']), val([])];
    case 'options':
      return [val(0)];
    case 'bool':
      return [val(true), val(false)];
    default: {
      const vocab = 'vocab' in t.trace ? t.trace.vocab : undefined;
      if (vocab) return [...vocab.names.keys()].slice(0, VOCAB_TRIED).map((n) => val(n));
      return [0n, BigInt(pageSize), 1n, 0x10000n].map((v) => val(int(v)));
    }
  }
}

/** How good a deciding row is for an example: the spec's success row first. */
function score(s: Seen | undefined): number {
  if (!s?.ok) return -1;
  if (s.row.ret.kind === 'code') return s.row.ret.code === HV.HV_SUCCESS ? 3 : 0;
  if (s.row.ret.kind === 'any') return s.outcome.ret === HV.HV_SUCCESS ? 2 : 1;
  return 0;
}

/** A step without expectations yet, and the registry entry of its call (none for `host_alloc`). */
interface Planned {
  readonly step: Step;
  readonly spec?: CallSpec;
}

/**
 * The calls that make a handle of `kind` (every call of `among` when `kind` is empty), the ones whose
 * name shares most with `forName` first.
 */
function producers(arch: Arch, kind: string, forName: string, among = callSpecs(arch)): CallSpec[] {
  const shared = (a: string): number => {
    let i = 0;
    while (i < a.length && a[i] === forName[i]) i++;
    return i;
  };
  const makes = (c: CallSpec): boolean => {
    const t = valueParam(c)?.type;
    return t !== undefined && (t.kind === 'config' ? t.object === kind : t.kind === kind);
  };
  return among
    .filter((c) => kind === '' || makes(c))
    .sort((a, b) => shared(b.name) - shared(a.name) || a.name.localeCompare(b.name));
}

/** The best call of a function found on top of a prefix: its steps (handles made first) and the verdict. */
interface Found {
  readonly steps: readonly Planned[];
  readonly seen: Seen;
  readonly score: number;
}

class Search {
  private readonly pageSize: number;
  constructor(
    private readonly arch: Arch,
    private readonly follower: SpecFollower,
  ) {
    this.pageSize = follower.backend.capabilities.pageSize;
  }

  /** Replays made so far (see {@link REPLAYS}). */
  replays = 0;

  /** Replays the steps on the model with the spec following (counted in {@link replays}). */
  private replay(steps: readonly Planned[], title: string): ReturnType<typeof replayTrace> {
    this.replays++;
    const trace: Trace = { format: TRACE_FORMAT, arch: this.arch, title, steps: steps.map((p) => p.step) };
    return replayTrace(trace, this.follower.backend);
  }

  /** Whether every step replays and every call of them succeeds (a setup to build on). */
  async succeeds(steps: readonly Planned[]): Promise<boolean> {
    const report = await this.replay(steps, 'setup');
    return (
      report.status === 'pass' && this.follower.seen.every((s) => s.ok && s.outcome.ret === HV.HV_SUCCESS)
    );
  }

  /** Replays steps on the model with the spec following; what the spec said about the last step. */
  async run(steps: readonly Planned[]): Promise<Seen | undefined> {
    const report = await this.replay(steps, 'search');
    // Every step before the last must have gone as the search planned (bindings made).
    if (report.steps.slice(0, -1).some((s) => s.status !== 'pass')) return undefined;
    const last = steps[steps.length - 1];
    const seen = this.follower.seen;
    // The replayer may make calls of its own after a step (it reads the exit reason after an x86 run).
    const verdict = [...seen].reverse().find((v) => v.call === last?.spec?.name);
    return last?.spec ? verdict : undefined;
  }

  /**
   * The steps that make a handle of `kind` (or the host buffer) on top of `prefix`: the call that makes
   * it, after whatever that call needs itself, bound to `$kind`. Undefined when no call makes it there.
   */
  private async make(
    kind: string,
    prefix: readonly Planned[],
    forName: string,
    depth: number,
  ): Promise<Planned[] | undefined> {
    if (kind === 'buffer')
      return [{ step: { call: 'host_alloc', args: { name: 'buf', size: int(BigInt(4 * this.pageSize)) } } }];
    for (const p of producers(this.arch, kind, forName)) {
      const found = await this.best(p, prefix, depth + 1);
      if (found && found.score >= 2) {
        const steps = found.steps.slice(prefix.length);
        const last = steps[steps.length - 1];
        if (last) steps[steps.length - 1] = { ...last, step: { ...last.step, bind: kind } };
        return steps;
      }
    }
    return undefined;
  }

  /** The best call of `spec` on top of `prefix` (undefined when nothing could even be tried). */
  async best(spec: CallSpec, prefix: readonly Planned[], depth = 0): Promise<Found | undefined> {
    if (depth > DEPTH) return undefined;
    const params = inParams(spec);
    const lists = params.map((p) => candidates(p, this.pageSize));
    const made = new Map<string, Planned[] | undefined>();
    let best: Found | undefined;
    const index = params.map(() => 0);
    for (let n = 0; n < COMBINATIONS && this.replays < REPLAYS; n++) {
      const chosen = params.map((_, i) => lists[i]?.[index[i] ?? 0] as Candidate);
      const needs = [...new Set(chosen.flatMap((c) => c.needs))];
      let steps: Planned[] | undefined = [...prefix];
      for (const kind of needs) {
        // A handle the setup already made is used as it is (a vCPU whose MPIDR_EL1 the VMM wrote).
        if (prefix.some((p) => p.step.bind === kind)) continue;
        if (!made.has(kind)) made.set(kind, await this.make(kind, steps, spec.name, depth));
        const extra = made.get(kind);
        steps = extra ? [...steps, ...extra] : undefined;
        if (!steps) break;
      }
      if (steps) {
        const args: Record<string, JsonValue> = {};
        params.forEach((p, i) => {
          const c = chosen[i];
          if (c && c.json !== undefined) args[p.name] = c.json;
        });
        const planned = [...steps, { step: { call: spec.name, args }, spec }];
        const seen = await this.run(planned);
        const s = score(seen);
        if (seen && (!best || s > best.score)) best = { steps: planned, seen, score: s };
        if (s === 3) break;
      }
      // The next combination, the last parameter fastest.
      let k = params.length - 1;
      while (k >= 0 && (index[k] ?? 0) + 1 >= (lists[k]?.length ?? 1)) index[k--] = 0;
      if (k < 0) break;
      index[k] = (index[k] ?? 0) + 1;
    }
    return best;
  }
}

const roundUp = (v: bigint, align: number): bigint => {
  const a = BigInt(Math.max(align, 1));
  return ((v + a - 1n) / a) * a;
};

/**
 * What a VMM does after hv_vm_create before most calls make sense, in the order hvf-facts §2.7 gives
 * for a VM with a GIC: a GIC configuration with its three regions placed apart at the host's alignments
 * and an MSI range in the upper half of the SPIs, hv_gic_create; then a vCPU whose MPIDR_EL1 is written.
 * Each stage is the one before plus its steps; none where the host has no GIC.
 */
function vmmStages(arch: Arch, env: SpecEnv, vm: readonly Planned[]): Planned[][] {
  const g = env.gic;
  if (arch !== 'arm64' || g === undefined) return [];
  const step = (call: string, args: Record<string, JsonValue>, bind?: string): Planned => {
    const spec = callSpec(arch, call);
    return { step: { call, args, ...(bind ? { bind } : {}) }, ...(spec ? { spec } : {}) };
  };
  const distributor = roundUp(0x0800_0000n, g.distributorBaseAlignment);
  const msi = roundUp(distributor + BigInt(g.distributorSize), g.msiRegionBaseAlignment);
  const redistributor = roundUp(msi + BigInt(g.msiRegionSize), g.redistributorBaseAlignment);
  const msiCount = Math.max(1, Math.floor(g.spiCount / 2));
  const gic = [
    ...vm,
    step('hv_gic_config_create', {}, 'gic_config'),
    step('hv_gic_config_set_distributor_base', {
      config: '$gic_config',
      distributor_base_address: int(distributor),
    }),
    step('hv_gic_config_set_msi_region_base', { config: '$gic_config', msi_region_base_address: int(msi) }),
    step('hv_gic_config_set_redistributor_base', {
      config: '$gic_config',
      redistributor_base_address: int(redistributor),
    }),
    step('hv_gic_config_set_msi_interrupt_range', {
      config: '$gic_config',
      msi_intid_base: g.spiBase + g.spiCount - msiCount,
      msi_intid_count: msiCount,
    }),
    step('hv_gic_create', { gic_config: '$gic_config' }),
  ];
  const vcpu = [
    ...gic,
    step('hv_vcpu_create', { config: null }, 'vcpu'),
    step('hv_vcpu_set_sys_reg', { vcpu: '$vcpu', reg: 'HV_SYS_REG_MPIDR_EL1', value: 0 }),
  ];
  return [gic, vcpu];
}

/** A JSON spelling of an out-value the spec predicts. */
function valueJson(v: unknown): JsonValue | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n) return int(v);
  return undefined;
}

/** The expectation of a step, from the row that decided it. */
function expectOf(s: Seen): Step['expect'] {
  const out: { ret?: JsonValue; value?: JsonValue } = {};
  if (s.row.ret.kind === 'code') out.ret = hvReturnName(s.row.ret.code);
  else if (s.row.ret.kind === 'not-success') out.ret = { not: 'HV_SUCCESS' };
  if (s.outcome.ret === HV.HV_SUCCESS && s.predicted !== undefined) {
    const v = valueJson(s.predicted);
    if (v !== undefined) out.value = v;
  }
  return Object.keys(out).length > 0 ? (out as Step['expect']) : undefined;
}

const retWords = (row: Row): string =>
  row.ret.kind === 'code'
    ? hvReturnName(row.ret.code)
    : row.ret.kind === 'not-success'
      ? 'not HV_SUCCESS'
      : 'any code';

/** The site path of a generated example. */
export function generatedExamplePath(arch: Arch, name: string): string {
  return `generated/${arch}/${name}.json`;
}

/**
 * Makes the example of `name` (a function of the registry). Throws when the function is not in the
 * registry or no call of it could be made at all.
 */
export async function generateExample(arch: Arch, name: string): Promise<ExampleTrace> {
  const spec = callSpec(arch, name);
  if (!spec) throw new Error(`docs: ${name} is not a modelled ${arch} function`);
  const follower = new SpecFollower(createModel(arch));
  try {
    const search = new Search(arch, follower);
    // Without a VM first (calls that need none), then on top of one made by the registry's own call.
    let found = await search.best(spec, []);
    let vmSteps: readonly Planned[] = [];
    if ((found?.score ?? -1) < 3 && name !== 'hv_vm_create') {
      const creator = callSpec(arch, 'hv_vm_create');
      const vm = creator ? await search.best(creator, []) : undefined;
      if (vm && vm.score === 3) {
        vmSteps = vm.steps;
        const onVm = await search.best(spec, vmSteps);
        if (onVm && onVm.score > (found?.score ?? -1)) found = onVm;
      }
    }
    // Still refused: perhaps the call needs state another call makes (a mapping before hv_vm_protect).
    // Try each other call of the registry that succeeds on the VM first, nearest names first.
    if (found && found.score < 2) {
      for (const other of producers(arch, '', name, callSpecs(arch))) {
        if (other.name === name || other.name === 'hv_vm_create') continue;
        const before = await search.best(other, vmSteps);
        if (!before || before.score < 3) continue;
        const after = await search.best(spec, before.steps);
        if (after && after.score > found.score) found = after;
        if (found.score === 3) break;
      }
    }
    // Still refused: on top of what a VMM sets up next (a GIC, then a vCPU of it).
    for (const stage of vmmStages(arch, envFromCapabilities(follower.backend.capabilities), vmSteps)) {
      if ((found?.score ?? -1) >= 3 || name === 'hv_vm_create') break;
      if (!(await search.succeeds(stage))) break;
      const onStage = await search.best(spec, stage);
      if (onStage && onStage.score > (found?.score ?? -1)) found = onStage;
    }
    if (!found) throw new Error(`docs: could not make any call of ${name} (${arch}) to show as its example`);

    // One more replay of the chosen steps, for every step's own verdict.
    await search.run(found.steps);
    const verdicts = [...follower.seen];
    const steps: Step[] = [];
    let k = 0;
    for (const p of found.steps) {
      // Each step's own verdict: the next one of its call (the replayer's own calls in between skipped).
      while (p.spec && k < verdicts.length && verdicts[k]?.call !== p.spec.name) k++;
      const s = p.spec ? verdicts[k++] : undefined;
      const expect = s ? expectOf(s) : undefined;
      steps.push({ ...p.step, ...(expect ? { expect } : {}) });
    }
    const row = found.seen.row;
    const setup = found.steps
      .slice(0, -1)
      .filter((p) => p.step.call.startsWith('hv_'))
      .map((p) => p.step.call);
    const path = generatedExamplePath(arch, name);
    const trace = {
      format: TRACE_FORMAT,
      arch,
      title: `${name}${setup.length ? ` after ${setup.slice(0, -1).join(', ')}${setup.length > 1 ? ' and ' : ''}${setup.at(-1)}` : ' alone'} (generated from the registry)`,
      description:
        `No trace in traces/ or packages/docs/examples calls ${name}, so the reference generated this one from the registry: ` +
        `the setup its parameters need, one call, and what the spec predicts for it. The deciding row is ${name}.${row.id} ` +
        `("${row.when}"): ${retWords(row)} [${EVIDENCE_TAG[row.evidence]}], ${row.source}.` +
        (row.ret.kind === 'any' ? ' That row allows any code, so the step expects none.' : ''),
      steps,
    };
    const text = `${JSON.stringify(trace, null, 2)}\n`;
    const parsed = parseTrace(text, path);
    const calls = new Set(parsed.steps.map((s) => s.call).filter((c) => c.startsWith('hv_')));
    return { arch, path, origin: 'generated', text, trace: parsed, calls };
  } finally {
    await follower.close();
  }
}
