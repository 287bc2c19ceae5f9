/**
 * `hvspec rules [FUNCTION]`: the spec's rule rows from the registry, as the harness tries them: id,
 * precondition, result, evidence tag and its source; the dangerous ones marked.
 * @module
 */
import {
  type Arch,
  type CallSpec,
  callSpecs,
  EVIDENCE_TAG,
  type Evidence,
  type Row,
  showRet,
} from '@hvspec/spec';
import type { Command } from 'commander';
import { EXIT_OK, EXIT_USAGE, jsonText, UsageError, withExitCodes } from './common.js';

/** One row as `rules` prints it. */
export interface RuleRow {
  /** `hv_vm_create.vm-exists`. */
  readonly id: string;
  readonly arch: Arch;
  readonly function: string;
  readonly when: string;
  /** The result code: a name, `not HV_SUCCESS (state unchanged)` or `any code`. */
  readonly ret: string;
  /** What happens besides the code (state change, out-value), when the row says. */
  readonly result?: string;
  readonly evidence: Evidence;
  /** hvf-facts.md's tag: H, T, R, U. */
  readonly tag: string;
  readonly source: string;
  /** Why real hardware must never make this call, for dangerous rows. */
  readonly dangerous?: string;
}

export function ruleRow(spec: CallSpec, row: Row): RuleRow {
  return {
    id: `${spec.name}.${row.id}`,
    arch: spec.arch,
    function: spec.name,
    when: row.when,
    ret: showRet(row.ret),
    ...(row.result ? { result: row.result } : {}),
    evidence: row.evidence,
    tag: EVIDENCE_TAG[row.evidence],
    source: row.source,
    ...(row.dangerous ? { dangerous: row.dangerous } : {}),
  };
}

export interface RulesQuery {
  readonly archs: readonly Arch[];
  /** A function name; `*` matches any run of characters (`hv_vm_*`). */
  readonly fn?: string;
  readonly unverified?: boolean;
}

function matcher(fn: string): (name: string) => boolean {
  if (!fn.includes('*')) return (name) => name === fn;
  const re = new RegExp(
    `^${fn
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return (name) => re.test(name);
}

/** The registry entries a query selects, with their rows (filtered), in table order. */
export function selectRules(q: RulesQuery): { spec: CallSpec; rows: RuleRow[] }[] {
  const match = q.fn === undefined ? () => true : matcher(q.fn);
  const out: { spec: CallSpec; rows: RuleRow[] }[] = [];
  for (const arch of q.archs) {
    for (const spec of callSpecs(arch)) {
      if (!match(spec.name)) continue;
      const rows = spec.rows
        .filter((r) => !q.unverified || r.evidence === 'unverified')
        .map((r) => ruleRow(spec, r));
      if (rows.length) out.push({ spec, rows });
    }
  }
  if (q.fn !== undefined && !out.length && !q.unverified) {
    const all = new Set(q.archs.flatMap((a) => callSpecs(a).map((c) => c.name)));
    const stem = q.fn.replace(/\*/g, '').replace(/^hv_/, '').split('_')[0] ?? '';
    const near = [...all].filter((n) => stem && n.includes(stem)).slice(0, 6);
    throw new UsageError(
      `no function ${q.fn} in the ${q.archs.join(' or ')} registry${near.length ? `; similar: ${near.join(', ')}` : ''}`,
    );
  }
  return out;
}

/** The lines `hvspec rules` prints: per function a heading, then per row its verdict and its source. */
export function rulesLines(selected: readonly { spec: CallSpec; rows: readonly RuleRow[] }[]): string[] {
  const lines: string[] = [];
  for (const { spec, rows } of selected) {
    lines.push(`${spec.name} (${spec.arch}, thread: ${spec.thread}): ${spec.summary}`);
    for (const r of rows) {
      const result = r.result ? `; ${r.result}` : '';
      lines.push(`  [${r.tag}] ${r.id}: ${r.when} → ${r.ret}${result}`);
      lines.push(`        source: ${r.source}`);
      if (r.dangerous) lines.push(`        dangerous on real hardware, never made there: ${r.dangerous}`);
    }
  }
  const rows = selected.flatMap((s) => s.rows);
  const byTag = (['header', 'tested', 'reported', 'unverified'] as const)
    .map((e) => [e, rows.filter((r) => r.evidence === e).length] as const)
    .filter(([, n]) => n > 0)
    .map(([e, n]) => `${n} ${e} [${EVIDENCE_TAG[e]}]`);
  lines.push(
    `${rows.length} rows of ${selected.length} functions${byTag.length ? `: ${byTag.join(', ')}` : ''}`,
  );
  return lines;
}

/** Registers `hvspec rules` on the program. */
export function registerRules(program: Command): void {
  const cmd = program
    .command('rules')
    .description("the spec's rule rows: id, precondition, result, evidence tag and its source")
    .argument('[function]', 'one hv_* function (a * matches anything: hv_vm_*)')
    .option('--arch <arch>', 'x86_64, arm64 or all', 'all')
    .option('--unverified', 'only the rows whose evidence is unverified [U] (what hvspec probe tries)')
    .option('--json', 'print the rows as JSON')
    .addHelpText(
      'after',
      `
Evidence tags (shared/hvf-facts.md): [H] Apple header or documentation, [T] tested on the real
framework, [R] one third-party report, [U] unverified inference (a loose rule: "not HV_SUCCESS").`,
    );
  withExitCodes(cmd).action(
    (fn: string | undefined, o: { arch: string; unverified?: boolean; json?: boolean }) => {
      try {
        let archs: Arch[];
        if (o.arch === 'all') archs = ['x86_64', 'arm64'];
        else if (o.arch === 'x86_64' || o.arch === 'arm64') archs = [o.arch];
        else throw new UsageError(`--arch must be x86_64, arm64 or all, got ${JSON.stringify(o.arch)}`);
        const selected = selectRules({
          archs,
          ...(fn !== undefined ? { fn } : {}),
          unverified: !!o.unverified,
        });
        process.stdout.write(
          o.json ? `${jsonText(selected.flatMap((s) => s.rows))}\n` : `${rulesLines(selected).join('\n')}\n`,
        );
        process.exitCode = EXIT_OK;
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`hvspec rules: ${e.message}\n`);
        process.exitCode = EXIT_USAGE;
      }
    },
  );
}
