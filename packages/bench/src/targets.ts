/**
 * The performance targets of DESIGN.md ("Performance targets"), each judged from the tasks of one
 * run. Two kinds:
 *
 * - a **ratio** of two tasks' medians, `p50(numerator) / p50(denominator)`, taken round by round and
 *   reported as the median of the per-round ratios: within a round the two tasks ran next to each
 *   other, so a noisy stretch of the shared host affects both sides of the ratio and cancels;
 * - an **absolute** bound on one task's median, in ns per unit (no denominator).
 *
 * A target is listed when its subject task was measured or skipped in the run, so a host lists the
 * targets that concern it (Linux the x86 native ones, Apple Silicon the arm64 ones) and a target
 * whose task does not exist yet (long mode, the C library) stays out of the report until it does.
 * @module
 */
import { formatNs } from './format.js';
import type { SkippedTask, TaskReport } from './report.js';
import { quantile } from './stats.js';

/** A bound on a target's value: `value op bound`. */
export interface Target {
  readonly op: '>=' | '<=';
  readonly bound: number;
  /** `ratio`: a dimensionless ratio of medians; `ns`: a median in ns per unit. */
  readonly unit?: 'ratio' | 'ns';
  readonly text: string;
}

/** A target and the tasks it is computed from. */
export interface TargetDefinition {
  readonly name: string;
  readonly description: string;
  /** The task whose p50 is divided (or bounded, without a denominator). */
  readonly numerator: string;
  /** The task whose p50 divides; absent for an absolute bound. */
  readonly denominator?: string;
  /** The task whose presence in a run (measured or skipped) lists the target; default the numerator. */
  readonly subject?: string;
  /** Fewest interleaved rounds the value must be the median of, for a verdict. */
  readonly minRounds?: number;
  readonly target: Target;
}

/** A target as judged in one run. The JSON key is `ratios`, as in schema 1. */
export interface RatioReport extends TargetDefinition {
  /** The ratio (median of the per-round ratios when rounds are known) or the median in ns. */
  readonly value?: number;
  /** How `value` was taken. */
  readonly method?: 'median-of-rounds' | 'pooled-p50';
  /** The per-round ratios (ratio targets) or per-round medians (absolute targets), in round order. */
  readonly rounds?: readonly number[];
  /** true / false against the target; null when it could not be judged here. */
  readonly pass: boolean | null;
  readonly reason?: string;
}

const DESIGN = 'DESIGN.md "Performance targets"';

/** Every target, in the order reports list them. */
export const RATIO_DEFINITIONS: readonly TargetDefinition[] = [
  ...(['x86', 'arm64'] as const).map(
    (a): TargetDefinition => ({
      name: `${a}.native-js-vs-c-baseline`,
      description: `native ns per exit through the JS API / ns per exit of the same loop in C inside the addon (${a}), median of the per-round ratios (${DESIGN})`,
      numerator: `native.${a}.exit.js`,
      denominator: `native.${a}.exit.c-baseline`,
      minRounds: 5,
      target: {
        op: '<=',
        bound: 1.05,
        unit: 'ratio',
        text: `${a}: native exit loop through the JS API within 1.05× of the C loop`,
      },
    }),
  ),
  ...(['x86', 'arm64'] as const).map(
    (a): TargetDefinition => ({
      name: `${a}.model-exit-round-trip`,
      description: `median ns per exit round trip of the model's ${a} VMM loop (${DESIGN})`,
      numerator: `model.${a}.exit`,
      target: { op: '<=', bound: 100, unit: 'ns', text: `${a}: model exit round trip within 100 ns` },
    }),
  ),
  {
    name: 'model.arm64-vs-x86-throughput',
    description: `arm64 interpreter throughput / x86 interpreter throughput = p50 ns per x86 instruction / p50 ns per arm64 instruction (${DESIGN})`,
    numerator: 'model.x86.guest-throughput',
    denominator: 'model.arm64.guest-throughput',
    subject: 'model.arm64.guest-throughput',
    target: {
      op: '>=',
      bound: 1,
      unit: 'ratio',
      text: 'model: the arm64 interpreter at least as fast as the x86 one (throughput ratio)',
    },
  },
  {
    name: 'model.x86.long-vs-flat-throughput',
    description: `x86 long mode with paging throughput / flat 32-bit throughput = p50 ns per flat instruction / p50 ns per long-mode instruction (${DESIGN})`,
    numerator: 'model.x86.guest-throughput',
    denominator: 'model.x86.long.guest-throughput',
    subject: 'model.x86.long.guest-throughput',
    target: {
      op: '>=',
      bound: 0.5,
      unit: 'ratio',
      text: 'model x86: long mode with paging at least half as fast as flat 32-bit (throughput ratio)',
    },
  },
  ...(['x86', 'arm64'] as const).map(
    (a): TargetDefinition => ({
      name: `clib.model.${a}.exit-round-trip`,
      description: `median ns per exit round trip of a C VMM loop over the C library on the model (${a}) (${DESIGN})`,
      numerator: `clib.model.${a}.exit`,
      target: {
        op: '<=',
        bound: 20_000,
        unit: 'ns',
        text: `C library on the model (${a}): exit round trip within 20 µs`,
      },
    }),
  ),
  ...(['model.x86', 'model.arm64', 'native.x86', 'native.arm64', 'el2.arm64'] as const).flatMap(
    (b): TargetDefinition[] => [
      {
        name: `${b}.map-unmap-100k`,
        description: `median ns per page of hv_vm_map + hv_vm_unmap of 100,000 single pages one call at a time on ${b} (${DESIGN}: 100,000 map/unmap calls in seconds)`,
        numerator: `${b}.map-unmap.100k`,
        target: {
          op: '<=',
          bound: 150_000,
          unit: 'ns',
          text: `${b}: 100,000 pages mapped and unmapped one at a time within 15 s (150 µs per page)`,
        },
      },
      {
        name: `${b}.map-unmap-scaling`,
        description: `ns per page at 100,000 mapped pages / ns per page at 10,000 on ${b}: about 1 when each call costs the same however many mappings exist, about 10 with a per-call scan of every mapping (${DESIGN})`,
        numerator: `${b}.map-unmap.100k`,
        denominator: `${b}.map-unmap.10k`,
        target: {
          op: '<=',
          bound: 2,
          unit: 'ratio',
          text: `${b}: no per-call scan of every mapping (per-page cost at 100,000 pages within 2× of 10,000)`,
        },
      },
    ],
  ),
  {
    name: 'clib.kvm.x86-vs-provider-c-loop',
    description: `ns per exit of a C VMM loop over the C library on KVM / ns per exit of the provider's own C loop in the addon (${DESIGN})`,
    numerator: 'clib.kvm.x86.exit',
    denominator: 'native.x86.exit.c-baseline',
    minRounds: 5,
    target: {
      op: '<=',
      bound: 1.1,
      unit: 'ratio',
      text: "C library on KVM: exit loop within 1.1× of the provider's own C loop",
    },
  },
];

function judge(target: Target, value: number): boolean {
  return target.op === '>=' ? value >= target.bound : value <= target.bound;
}

/** Per-round ratios of two tasks' medians, when both recorded the same rounds. */
function roundRatios(num: TaskReport, den: TaskReport): number[] | undefined {
  const a = num.roundP50s;
  const b = den.roundP50s;
  if (!a || !b || a.length === 0 || a.length !== b.length) return undefined;
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!(y > 0) || !Number.isFinite(x)) return undefined;
    out.push(x / y);
  }
  return out;
}

/** Judges every target whose subject task was measured or skipped in this run. */
export function computeRatios(
  tasks: readonly TaskReport[],
  skipped: readonly SkippedTask[],
  definitions: readonly TargetDefinition[] = RATIO_DEFINITIONS,
): RatioReport[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const seen = (name: string): boolean => byName.has(name) || skipped.some((s) => s.name === name);
  return definitions
    .filter((def) => seen(def.subject ?? def.numerator))
    .map((def): RatioReport => {
      const needed = def.denominator === undefined ? [def.numerator] : [def.numerator, def.denominator];
      const missing = needed.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        const why = missing
          .map((n) => `${n}: ${skipped.find((s) => s.name === n)?.reason ?? 'not measured in this run'}`)
          .join('; ');
        return { ...def, pass: null, reason: why };
      }
      const num = byName.get(def.numerator)!;
      if (def.denominator === undefined) {
        const value = num.p50;
        return {
          ...def,
          value,
          method: 'pooled-p50',
          ...(num.roundP50s ? { rounds: num.roundP50s } : {}),
          pass: Number.isFinite(value) ? judge(def.target, value) : null,
        };
      }
      const den = byName.get(def.denominator)!;
      const perRound = roundRatios(num, den);
      let value: number;
      let method: RatioReport['method'];
      if (perRound) {
        value = quantile(
          [...perRound].sort((x, y) => x - y),
          0.5,
        );
        method = 'median-of-rounds';
      } else {
        if (!(den.p50 > 0)) return { ...def, pass: null, reason: `${def.denominator}: median is zero` };
        value = num.p50 / den.p50;
        method = 'pooled-p50';
      }
      const base = { ...def, value, method, ...(perRound ? { rounds: perRound } : {}) };
      const rounds = perRound?.length ?? 0;
      if (def.minRounds !== undefined && rounds < def.minRounds)
        return {
          ...base,
          pass: null,
          reason: `the target is the median of at least ${def.minRounds} interleaved rounds; this run had ${rounds} (--rounds)`,
        };
      return { ...base, pass: judge(def.target, value) };
    });
}

/** A target's value as text: `1.032×` for ratios, `85.2 ns` for medians. */
export function formatTargetValue(def: Pick<TargetDefinition, 'target'>, value: number): string {
  if ((def.target.unit ?? 'ratio') === 'ns') return formatNs(value);
  return `${value.toFixed(value >= 10 ? 1 : 3)}×`;
}
