/**
 * How `hvspec lint` prints a report: one header line per trace, then each finding with its rule id,
 * evidence tag, step, the call as the trace spells it, what the rule says and where it comes from.
 * @module
 */
import { EVIDENCE_TAG } from '../calls/types.js';
import type { Finding, LintReport } from './types.js';

/** At most this many findings of one rule are printed in full; the rest are counted. */
const PER_RULE = 5;

function findingLines(f: Finding): string[] {
  const where =
    f.count !== undefined && f.count > 1 ? `step ${f.step} and ${f.count - 1} more` : `step ${f.step}`;
  const thread = f.thread === 0 ? '' : ` (thread ${f.thread})`;
  const related = f.related?.length ? ` [exit at step ${f.related.join(', ')}]` : '';
  return [
    `  ${f.severity.padEnd(7)} ${f.rule} [${EVIDENCE_TAG[f.evidence]}] ${f.kind} at ${where}${thread}${related}: ${f.text}`,
    `          ${f.message}`,
    `          evidence: ${f.source}`,
  ];
}

/** The report as text: a summary line, then the findings (errors first, in step order). */
export function formatLintReport(report: LintReport): string {
  const name = report.file ?? report.title;
  const verdict =
    report.errors === 0 && report.warnings === 0
      ? 'clean'
      : `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}`;
  const lines = [
    `${report.errors ? 'FAIL' : 'OK  '} ${name} (${report.arch}, ${report.steps} steps): ${verdict}`,
  ];
  const ordered = [...report.findings].sort((a, b) =>
    a.severity === b.severity ? a.step - b.step : a.severity === 'error' ? -1 : 1,
  );
  const perRule = new Map<string, number>();
  for (const f of ordered) {
    const n = (perRule.get(f.rule) ?? 0) + 1;
    perRule.set(f.rule, n);
    if (n <= PER_RULE) lines.push(...findingLines(f));
  }
  for (const [rule, n] of perRule)
    if (n > PER_RULE)
      lines.push(`  … ${n - PER_RULE} more finding${n - PER_RULE === 1 ? '' : 's'} of ${rule}`);
  return lines.join('\n');
}
