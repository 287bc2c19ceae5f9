/**
 * Finds, at build time, the line of the spec's source that states each rule row and each registry
 * entry, by reading `packages/spec/src/calls/*.ts` with the TypeScript parser. Nothing here is a
 * hand-kept list: a row is found by its `id` and its `when` text, so a row that moves moves its link.
 *
 * Rows written inside a table entry (`{ name: 'hv_vm_create', arch: 'x86_64', rows: [...] }`) link to
 * their own line there. Rows made by a shared builder (`vcpuPrelude`, `mapRows`, `interruptRows`, a
 * builder that makes a whole entry such as `vmDestroySpec`) link to the row inside the builder.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Arch, type CallSpec, hvReturnName, type Row } from '@hvspec/spec';
import ts from 'typescript';

/** A place in the repository: a path relative to the repository root and a 1-based line. */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
}

/** Where a row is stated, and the builder that makes it when it is not written in the table entry. */
export interface RowLoc extends SourceLoc {
  /** The function the row literal sits in (`vcpuPrelude`, `mapRows`, ...), when it is a shared builder. */
  readonly builder?: string;
}

/** A row literal found in the source. */
interface RowLiteral extends SourceLoc {
  readonly id: string;
  /** Matches the `when` text the literal produces (template literals match any substitution). */
  readonly when: RegExp;
  /** The same for `source` and `result` (undefined: the literal has none). */
  readonly source?: RegExp;
  readonly result?: RegExp;
  /** The evidence and return rule when the literal spells them plainly (`U`, `NOT_SUCCESS`, `code(HV.HV_BUSY)`). */
  readonly evidence?: string;
  readonly ret?: string;
  /** `name` of the enclosing registry entry literal, if the row is written inside one. */
  readonly callName?: string;
  /** `arch` of that entry when it is a string literal (undefined: a builder that takes the flavour). */
  readonly arch?: string;
  /** The enclosing named function, if any. */
  readonly fn?: string;
}

/** A registry entry literal (`{ name: 'hv_…', … }`) or a string literal naming a function. */
interface CallMention extends SourceLoc {
  readonly name: string;
  readonly arch?: string;
  /** A whole `{ name, arch, summary, … }` literal rather than a bare mention of the name. */
  readonly entry: boolean;
  readonly fn?: string;
  /** For a bare name passed to a function (`ownerCall('hv_vcpu_flush', …)`), that function. */
  readonly calledBy?: string;
}

/** The source index of `packages/spec/src/calls/`. */
export interface SpecSourceIndex {
  /** Repository-relative paths of the files read. */
  readonly files: readonly string[];
  /**
   * The row literals found, for {@link locateRow}.
   * @internal
   */
  readonly rows: readonly RowLiteral[];
  /**
   * The registry entries and mentions of function names found, for {@link locateCall}.
   * @internal
   */
  readonly calls: readonly CallMention[];
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function propName(p: ts.ObjectLiteralElementLike): string | undefined {
  if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) return undefined;
  const n = p.name;
  return ts.isIdentifier(n) || ts.isStringLiteral(n) ? n.text : undefined;
}

/** The value of a property (`when: '…'`, or the identifier of a shorthand `result,`). */
function prop(
  o: ts.ObjectLiteralExpression,
  name: string,
): { readonly initializer: ts.Expression } | undefined {
  const p = o.properties.find((x) => propName(x) === name);
  if (!p) return undefined;
  if (ts.isPropertyAssignment(p)) return p;
  if (ts.isShorthandPropertyAssignment(p)) return { initializer: p.name };
  return undefined;
}

function stringValue(e: ts.Expression | undefined): string | undefined {
  if (!e) return undefined;
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  return undefined;
}

/** The body of a regular expression matching every string the expression can produce (substitutions match anything). */
function textPatternBody(e: ts.Expression): string {
  const s = stringValue(e);
  if (s !== undefined) return escapeRe(s);
  if (ts.isTemplateExpression(e)) {
    let re = escapeRe(e.head.text);
    for (const span of e.templateSpans) re += `[\\s\\S]*${escapeRe(span.literal.text)}`;
    return re;
  }
  if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken)
    return textPatternBody(e.left) + textPatternBody(e.right);
  if (ts.isConditionalExpression(e))
    return `(?:${textPatternBody(e.whenTrue)}|${textPatternBody(e.whenFalse)})`;
  if (ts.isParenthesizedExpression(e)) return textPatternBody(e.expression);
  return '[\\s\\S]*';
}

function textPattern(e: ts.Expression): RegExp {
  return new RegExp(`^${textPatternBody(e)}$`);
}

const EVIDENCE_NAMES: Readonly<Record<string, string>> = {
  H: 'header',
  T: 'tested',
  R: 'reported',
  U: 'unverified',
};

/** `U` / `'unverified'` → `unverified`; anything computed → undefined (matches every row). */
function evidenceOf(e: ts.Expression | undefined): string | undefined {
  if (!e) return undefined;
  if (ts.isIdentifier(e)) return EVIDENCE_NAMES[e.text];
  return stringValue(e);
}

/** `SUCCESS` → `HV_SUCCESS`, `code(HV.HV_BUSY)` → `HV_BUSY`, `NOT_SUCCESS` / `ANY` → `not-success` / `any`. */
function retOf(e: ts.Expression | undefined): string | undefined {
  if (!e) return undefined;
  if (ts.isIdentifier(e)) {
    if (e.text === 'SUCCESS') return 'HV_SUCCESS';
    if (e.text === 'NOT_SUCCESS') return 'not-success';
    if (e.text === 'ANY') return 'any';
    return undefined;
  }
  if (ts.isCallExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'code') {
    const a = e.arguments[0];
    if (a && ts.isPropertyAccessExpression(a)) return a.name.text;
  }
  return undefined;
}

/** The same spelling for a registry row's return rule. */
function rowRet(row: Row): string {
  return row.ret.kind === 'code' ? hvReturnName(row.ret.code) : row.ret.kind;
}

function enclosingFunctionName(node: ts.Node): string | undefined {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isFunctionDeclaration(n) && n.name) return n.name.text;
    if ((ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && ts.isVariableDeclaration(n.parent)) {
      const name = n.parent.name;
      if (ts.isIdentifier(name)) return name.text;
    }
  }
  return undefined;
}

function enclosingEntry(node: ts.Node): { name: string; arch?: string } | undefined {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (!ts.isObjectLiteralExpression(n)) continue;
    const name = stringValue(prop(n, 'name')?.initializer);
    if (name?.startsWith('hv_') && prop(n, 'rows')) {
      const arch = stringValue(prop(n, 'arch')?.initializer);
      return arch ? { name, arch } : { name };
    }
  }
  return undefined;
}

/** Reads every `.ts` file of `packages/spec/src/calls/` under `repoRoot`. */
export function indexSpecSources(repoRoot: string): SpecSourceIndex {
  const dir = join(repoRoot, 'packages', 'spec', 'src', 'calls');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => join(dir, f));
  const rows: RowLiteral[] = [];
  const calls: CallMention[] = [];
  for (const abs of files) {
    const file = relative(repoRoot, abs).split('\\').join('/');
    const text = readFileSync(abs, 'utf8');
    const sf = ts.createSourceFile(abs, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const lineOf = (n: ts.Node): number => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    const visit = (node: ts.Node): void => {
      if (ts.isObjectLiteralExpression(node)) {
        const idProp = prop(node, 'id');
        const whenProp = prop(node, 'when');
        const id = stringValue(idProp?.initializer);
        if (idProp && whenProp && id !== undefined && prop(node, 'ret')) {
          const entry = enclosingEntry(node);
          const fn = enclosingFunctionName(node);
          const sourceProp = prop(node, 'source');
          const resultProp = prop(node, 'result');
          const evidence = evidenceOf(prop(node, 'evidence')?.initializer);
          const ret = retOf(prop(node, 'ret')?.initializer);
          rows.push({
            file,
            line: lineOf(node.properties.find((p) => propName(p) === 'id') ?? node),
            id,
            when: textPattern(whenProp.initializer),
            ...(sourceProp ? { source: textPattern(sourceProp.initializer) } : {}),
            ...(resultProp ? { result: textPattern(resultProp.initializer) } : {}),
            ...(evidence ? { evidence } : {}),
            ...(ret ? { ret } : {}),
            ...(entry ? { callName: entry.name } : {}),
            ...(entry?.arch ? { arch: entry.arch } : {}),
            ...(fn ? { fn } : {}),
          });
        }
        const nameProp = prop(node, 'name');
        const name = stringValue(nameProp?.initializer);
        if (nameProp && name?.startsWith('hv_') && prop(node, 'rows')) {
          const arch = stringValue(prop(node, 'arch')?.initializer);
          const fn = enclosingFunctionName(node);
          calls.push({
            file,
            line: lineOf(node),
            name,
            entry: true,
            ...(arch ? { arch } : {}),
            ...(fn ? { fn } : {}),
          });
        }
      } else if (ts.isStringLiteral(node) && /^hv_[a-z0-9_]+$/.test(node.text)) {
        const p = node.parent;
        // Names passed to builders (`accessorPair({ get: 'hv_vcpu_get_reg', … })`, `vcpuPrelude('hv_vcpu_run')`).
        if (!(ts.isPropertyAssignment(p) && propName(p) === 'name')) {
          const fn = enclosingFunctionName(node);
          const calledBy =
            ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.arguments.includes(node)
              ? p.expression.text
              : undefined;
          calls.push({
            file,
            line: lineOf(node),
            name: node.text,
            entry: false,
            ...(fn ? { fn } : {}),
            ...(calledBy ? { calledBy } : {}),
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { files: files.map((f) => relative(repoRoot, f).split('\\').join('/')), rows, calls };
}

const TABLE_FILE: Record<Arch, string> = { x86_64: 'x86.ts', arm64: 'arm64.ts' };

/**
 * The line that states `row` of `spec`: the row literal with the same id whose `when` matches, preferring
 * one written in this entry of this flavour, then one in a builder of this entry, then a shared row builder.
 * Undefined when no literal matches (the caller reports it: every row must be found).
 */
export function locateRow(index: SpecSourceIndex, spec: CallSpec, row: Row): RowLoc | undefined {
  // Same id and `when`, and nothing the literal spells plainly contradicts the row.
  const candidates = index.rows.filter(
    (r) =>
      r.id === row.id &&
      r.when.test(row.when) &&
      (r.evidence === undefined || r.evidence === row.evidence) &&
      (r.ret === undefined || r.ret === rowRet(row)) &&
      (r.source === undefined || r.source.test(row.source)) &&
      (r.result === undefined
        ? row.result === undefined
        : row.result !== undefined && r.result.test(row.result)),
  );
  const rank = (r: RowLiteral): number => {
    if (r.callName === spec.name && r.arch === spec.arch) return 0;
    if (r.callName === spec.name && r.arch === undefined) return 1;
    if (r.callName === undefined) return r.file.endsWith(TABLE_FILE[spec.arch]) ? 2 : 3;
    return 9; // a row of another entry or flavour
  };
  const best = candidates
    .map((r) => ({ r, k: rank(r) }))
    .filter((x) => x.k < 9)
    .sort((a, b) => a.k - b.k)[0];
  if (!best) return undefined;
  const { r } = best;
  const inEntry = best.k === 0;
  return { file: r.file, line: r.line, ...(!inEntry && r.fn ? { builder: r.fn } : {}) };
}

/**
 * The line that defines `spec`: its entry literal in this flavour's table, else the builder that makes
 * it (with the line where this flavour's table names it, when there is one), else the line of another
 * registry file that passes its name to a builder, else the table file.
 */
export function locateCall(index: SpecSourceIndex, spec: CallSpec): RowLoc {
  const own = index.calls.find((c) => c.entry && c.name === spec.name && c.arch === spec.arch);
  if (own) return { file: own.file, line: own.line };
  const mentions = index.calls.filter(
    (c) => !c.entry && c.name === spec.name && c.file.endsWith(`/${TABLE_FILE[spec.arch]}`),
  );
  // A name passed to a builder at the top level of the table beats one compared inside a builder.
  const mention = mentions.find((c) => c.fn === undefined) ?? mentions[0];
  if (mention)
    return { file: mention.file, line: mention.line, ...(mention.fn ? { builder: mention.fn } : {}) };
  const built = index.calls.find((c) => c.entry && c.name === spec.name && c.arch === undefined);
  if (built) return { file: built.file, line: built.line, ...(built.fn ? { builder: built.fn } : {}) };
  // A name passed to a builder at the top level of another file of the registry (`ownerCall('hv_vcpu_flush', …)`).
  const passed = index.calls.find(
    (c) => !c.entry && c.name === spec.name && c.fn === undefined && c.calledBy,
  );
  if (passed)
    return { file: passed.file, line: passed.line, ...(passed.calledBy ? { builder: passed.calledBy } : {}) };
  const table = index.files.find((f) => f.endsWith(`/${TABLE_FILE[spec.arch]}`)) ?? index.files[0] ?? '';
  return { file: table, line: 1 };
}
