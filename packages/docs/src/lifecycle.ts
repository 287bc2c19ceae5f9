/**
 * The VM and vCPU lifecycles, derived from the rule rows by running them: starting from a process with
 * no VM, every lifecycle call (`hv_vm_create`, `hv_vm_destroy`, `hv_vcpu_create`, `hv_vcpu_destroy`,
 * `hv_vcpu_run` and the kick, i.e. the function that takes a `vcpus` list) is made in every reachable
 * state; the spec's `predict` picks the row that decides it, and the row's own state change is applied.
 * Concrete states are then abstracted (no VM / VM without vCPUs / VM with vCPUs; a vCPU not created,
 * idle, with an exit pending, destroyed), so the diagram's states and arrows are the rows' — remove a
 * row or change its effect and the diagram changes.
 * @module
 */
import {
  type Arch,
  type CallSpec,
  callSpecs,
  envFromCapabilities,
  HV,
  HV_DEADLINE_FOREVER,
  initialState,
  type Outcome,
  type Row,
  type SpecCall,
  type SpecEnv,
  type SpecState,
  showRet,
} from '@hvspec/spec';

/** A state of a lifecycle diagram. */
export interface LifeState {
  readonly id: string;
  readonly label: string;
}

/** One row that moves the abstract state from `from` to `to` (equal for a row that changes nothing visible). */
export interface LifeEdge {
  readonly from: string;
  readonly to: string;
  readonly call: string;
  readonly row: Row;
  /** The row's return code in words (`HV_SUCCESS`, `not HV_SUCCESS (state unchanged)`, `any code`). */
  readonly ret: string;
  /** Which caller made it, when that decides the row (`the owner`, `another thread`). */
  readonly caller?: string;
}

/** A derived lifecycle. */
export interface Lifecycle {
  readonly arch: Arch;
  readonly id: 'vm' | 'vcpu';
  readonly title: string;
  readonly states: readonly LifeState[];
  readonly edges: readonly LifeEdge[];
}

/** The spec environment the exploration runs in: the given limits, two vCPUs so the limit row is reachable. */
export function explorationEnv(arch: Arch): SpecEnv {
  return envFromCapabilities({
    backend: 'spec',
    arch,
    pageSize: arch === 'arm64' ? 16384 : 4096,
    maxVcpus: 2,
    guestExecution: true,
    enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
    deviations: [],
  });
}

interface Action {
  readonly call: SpecCall;
  readonly caller?: string;
}

/** An argument list for a call: the lifecycle's own handle where it takes one, neutral values elsewhere. */
function argsFor(spec: CallSpec, vcpu: number): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const p of spec.params) {
    if (p.dir !== 'in') continue;
    switch (p.type.kind) {
      case 'options':
        args[p.name] = 0n;
        break;
      case 'config':
        args[p.name] = null;
        break;
      case 'vcpu':
        args[p.name] = vcpu;
        break;
      case 'vcpus':
        args[p.name] = [vcpu];
        break;
      case 'count':
        args[p.name] = 1;
        break;
      case 'u64':
        args[p.name] = p.name === 'deadline' ? HV_DEADLINE_FOREVER : 0n;
        break;
      case 'bool':
        args[p.name] = false;
        break;
      default:
        args[p.name] = 0;
    }
  }
  return args;
}

/** The outcome a backend that follows `row` gives: its code (success for `any`), with the new handle for a create. */
function outcomeOf(row: Row, value: unknown): Outcome | undefined {
  if (row.ret.kind === 'not-success') return undefined;
  const ret = row.ret.kind === 'code' ? row.ret.code : HV.HV_SUCCESS;
  return ret === HV.HV_SUCCESS ? { ret, value } : { ret };
}

function nextHandle(s: SpecState): number {
  return Math.max(0, ...s.vcpus.keys(), ...s.stale) + 1;
}

function signature(s: SpecState): string {
  const vcpus = [...s.vcpus.values()].map((v) => `${v.handle}@${v.owner}${v.cancel ? '!' : ''}`).join(',');
  return `${s.vm ? 'vm' : '-'}|${vcpus}|${[...s.stale].sort().join(',')}`;
}

/** The registry entries a lifecycle is derived from: the spec's own by default, a modified list in tests. */
export type Registry = readonly CallSpec[];

function kickSpec(specs: Registry): CallSpec | undefined {
  return specs.find((c) => c.params.some((p) => p.dir === 'in' && p.type.kind === 'vcpus'));
}

function required(specs: Registry, arch: Arch, name: string): CallSpec {
  const spec = specs.find((c) => c.name === name);
  if (!spec) throw new Error(`docs: the ${arch} registry has no ${name}, which the lifecycle diagrams need`);
  return spec;
}

/** The row that decides a call: the first whose precondition holds (as the spec's `predict` finds it). */
function decide(specs: Registry, s: SpecState, c: SpecCall): Row {
  const spec = specs.find((x) => x.name === c.name);
  const row = spec?.rows.find((r) => r.applies(s, c));
  if (!row) throw new Error(`docs: no row of ${c.name} applies in a lifecycle state`);
  return row;
}

/**
 * Breadth-first over concrete states: every action in every state, the deciding row, its effect.
 * Returns the abstract edges, deduplicated, in discovery order.
 */
function explore(
  specs: Registry,
  start: SpecState,
  actions: (s: SpecState) => Action[],
  abstract: (s: SpecState) => string,
  maxStates = 64,
): LifeEdge[] {
  const seen = new Set<string>([signature(start)]);
  const queue: SpecState[] = [start];
  const edges = new Map<string, LifeEdge>();
  while (queue.length > 0) {
    const s = queue.shift() as SpecState;
    for (const { call, caller } of actions(s)) {
      const row = decide(specs, s, call);
      const next = structuredClone(s);
      const value = call.name === 'hv_vcpu_create' ? nextHandle(s) : undefined;
      const outcome = outcomeOf(row, value);
      if (outcome && row.effect) row.effect(next, call, outcome);
      const from = abstract(s);
      const to = abstract(next);
      const key = `${from}|${call.name}|${row.id}|${to}`;
      if (!edges.has(key)) {
        edges.set(key, {
          from,
          to,
          call: call.name,
          row,
          ret: showRet(row.ret),
          ...(caller ? { caller } : {}),
        });
      }
      const sig = signature(next);
      if (!seen.has(sig) && seen.size < maxStates) {
        seen.add(sig);
        queue.push(next);
      }
    }
  }
  return [...edges.values()];
}

/** The VM lifecycle of a flavour: no VM, a VM without vCPUs, a VM with live vCPUs. */
export function vmLifecycle(arch: Arch, specs: Registry = callSpecs(arch)): Lifecycle {
  const vmCreate = required(specs, arch, 'hv_vm_create');
  const vmDestroy = required(specs, arch, 'hv_vm_destroy');
  const vcpuCreate = required(specs, arch, 'hv_vcpu_create');
  const vcpuDestroy = required(specs, arch, 'hv_vcpu_destroy');
  const states: LifeState[] = [
    { id: 'none', label: 'no VM' },
    { id: 'empty', label: 'VM, no vCPU' },
    { id: 'vcpus', label: 'VM with live vCPUs' },
  ];
  const abstract = (s: SpecState): string =>
    s.vm === null ? 'none' : s.vcpus.size === 0 ? 'empty' : 'vcpus';
  const actions = (s: SpecState): Action[] => {
    const live = [...s.vcpus.values()];
    const freshThread = 1 + live.length + s.stale.size;
    const out: Action[] = [
      { call: { name: vmCreate.name, t: 0, args: argsFor(vmCreate, 0) } },
      { call: { name: vmDestroy.name, t: 0, args: argsFor(vmDestroy, 0) } },
      {
        call: { name: vcpuCreate.name, t: freshThread, args: argsFor(vcpuCreate, 0) },
        caller: 'a thread without a vCPU',
      },
    ];
    const first = live[0];
    if (first) {
      out.push({
        call: { name: vcpuCreate.name, t: first.owner, args: argsFor(vcpuCreate, 0) },
        caller: 'a thread that owns a vCPU',
      });
      out.push({
        call: { name: vcpuDestroy.name, t: first.owner, args: argsFor(vcpuDestroy, first.handle) },
        caller: 'the owner',
      });
    }
    return out;
  };
  const edges = explore(specs, initialState(explorationEnv(arch)), actions, abstract);
  return { arch, id: 'vm', title: `VM lifecycle (${arch})`, states, edges };
}

/** The lifecycle of one vCPU (handle 1, created by logical thread 1) inside an existing VM. */
export function vcpuLifecycle(arch: Arch, specs: Registry = callSpecs(arch)): Lifecycle {
  const vmCreate = required(specs, arch, 'hv_vm_create');
  const vcpuCreate = required(specs, arch, 'hv_vcpu_create');
  const vcpuDestroy = required(specs, arch, 'hv_vcpu_destroy');
  const run = required(specs, arch, 'hv_vcpu_run');
  const kick = kickSpec(specs);
  const H = 1;
  const OWNER = 1;
  const OTHER = 2;
  const states: LifeState[] = [
    { id: 'none', label: 'not created' },
    { id: 'idle', label: 'live' },
    { id: 'pending', label: 'live, exit pending' },
    { id: 'destroyed', label: 'destroyed (stale handle)' },
  ];
  const abstract = (s: SpecState): string => {
    const v = s.vcpus.get(H);
    if (v) return v.cancel ? 'pending' : 'idle';
    return s.stale.has(H) ? 'destroyed' : 'none';
  };
  const start = initialState(explorationEnv(arch));
  const createVm: SpecCall = { name: vmCreate.name, t: 0, args: argsFor(vmCreate, 0) };
  const row = decide(specs, start, createVm);
  const outcome = outcomeOf(row, undefined);
  if (outcome && row.effect) row.effect(start, createVm, outcome);
  if (start.vm === null)
    throw new Error(`docs: hv_vm_create (${arch}) does not create a VM in the initial state`);

  const actions = (s: SpecState): Action[] => {
    const out: Action[] = [];
    if (!s.vcpus.has(H) && !s.stale.has(H))
      out.push({
        call: { name: vcpuCreate.name, t: OWNER, args: argsFor(vcpuCreate, H) },
        caller: 'thread 1',
      });
    out.push(
      { call: { name: run.name, t: OWNER, args: argsFor(run, H) }, caller: 'the owner' },
      { call: { name: run.name, t: OTHER, args: argsFor(run, H) }, caller: 'another thread' },
    );
    if (kick) out.push({ call: { name: kick.name, t: 0, args: argsFor(kick, H) }, caller: 'any thread' });
    out.push(
      { call: { name: vcpuDestroy.name, t: OWNER, args: argsFor(vcpuDestroy, H) }, caller: 'the owner' },
      { call: { name: vcpuDestroy.name, t: OTHER, args: argsFor(vcpuDestroy, H) }, caller: 'another thread' },
    );
    return out;
  };
  // Creating the vCPU hands out handle H; explore() gives hv_vcpu_create the next free handle, which is H.
  const edges = explore(specs, start, actions, abstract);
  return { arch, id: 'vcpu', title: `vCPU lifecycle (${arch})`, states, edges };
}
