/**
 * Doc comments read from the spec's source with the TypeScript parser: the words the spec already
 * says about a return code, an evidence level or a decoded field, so the reference repeats them instead
 * of writing its own.
 * @module
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

function jsDocText(node: ts.Node, sf: ts.SourceFile): string | undefined {
  const ranges = ts.getLeadingCommentRanges(sf.text, node.getFullStart()) ?? [];
  const docs = ranges
    .map((r) => sf.text.slice(r.pos, r.end))
    .filter((c) => c.startsWith('/**'))
    .map((c) =>
      c
        .replace(/^\/\*\*/, '')
        .replace(/\*\/$/, '')
        .split('\n')
        .map((l) => l.replace(/^\s*\* ?/, ''))
        .filter((l) => !l.trim().startsWith('@'))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim(),
    );
  return docs.length > 0 ? docs[docs.length - 1] : undefined;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The doc comments of the members of `export const NAME = { … }` or `interface NAME { … }`, by member name. */
export function memberDocs(file: string, name: string): Map<string, string> {
  const sf = parse(file);
  const out = new Map<string, string>();
  const take = (members: readonly (ts.ObjectLiteralElementLike | ts.TypeElement)[]): void => {
    for (const m of members) {
      const key = m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name)) ? m.name.text : undefined;
      const doc = jsDocText(m, sf);
      if (key !== undefined && doc) out.set(key, doc);
    }
  };
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer) {
      let init: ts.Expression = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init)) init = init.expression;
      if (ts.isObjectLiteralExpression(init)) take(init.properties);
    }
    if (ts.isInterfaceDeclaration(n) && n.name.text === name) take(n.members);
    if (ts.isTypeAliasDeclaration(n) && n.name.text === name) {
      const collect = (t: ts.TypeNode): void => {
        if (ts.isTypeLiteralNode(t)) take(t.members);
        else if (ts.isUnionTypeNode(t) || ts.isIntersectionTypeNode(t)) t.types.forEach(collect);
        else if (ts.isParenthesizedTypeNode(t)) collect(t.type);
      };
      collect(n.type);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The doc comment of a top-level declaration (`type`, `const`, `function`, `interface`) by name. */
export function declarationDoc(file: string, name: string): string | undefined {
  const sf = parse(file);
  for (const st of sf.statements) {
    const named =
      (ts.isTypeAliasDeclaration(st) ||
        ts.isInterfaceDeclaration(st) ||
        ts.isFunctionDeclaration(st) ||
        ts.isClassDeclaration(st)) &&
      st.name?.text === name;
    const isVar =
      ts.isVariableStatement(st) &&
      st.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name);
    if (named || isVar) return jsDocText(st, sf);
  }
  return undefined;
}

/**
 * The evidence levels as the spec's `Evidence` type documents them: "`header` — Apple's header or
 * documentation ([H]); …" becomes header → "Apple's header or documentation ([H])".
 */
export function evidenceDocs(typesFile: string): Map<string, string> {
  const doc = declarationDoc(typesFile, 'Evidence') ?? '';
  const out = new Map<string, string>();
  const body = doc.includes(':') ? doc.slice(doc.indexOf(':') + 1) : doc;
  for (const part of body.split(';')) {
    const m = /`(\w+)`\s*[—-]+\s*(.*)$/.exec(part.trim());
    if (m?.[1] && m[2]) out.set(m[1], m[2].replace(/\.$/, '').trim());
  }
  return out;
}

/** Splits "`a`: words; `b`: words" (the way the registry documents enumerated values) into a map. */
export function enumeratedDocs(doc: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of doc.split(';')) {
    const m = /`([\w-]+)`\s*:\s*(.*)$/.exec(part.trim());
    if (m?.[1] && m[2]) out.set(m[1], m[2].replace(/\.$/, '').trim());
  }
  return out;
}
