/**
 * The spec's source files as pages with a numbered anchor per line (`#L42`), so a rule row links to the
 * exact line that states it and the link works offline. Light highlighting: comments, strings, keywords.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml, html, raw } from './html.js';
import { type Page, pageShell, relUrl, sourcePage } from './layout.js';

const KEYWORDS = new Set(
  'import export from const let function return if else for of in while switch case default break continue new type interface extends implements readonly as satisfies throw try catch finally class static async await true false null undefined void typeof keyof'.split(
    ' ',
  ),
);

type Token = { readonly cls?: 'com' | 'str' | 'kw' | 'nm'; readonly text: string };

/** Splits TypeScript text into highlighted tokens (enough for reading, not a parser). */
export function tokenize(text: string): Token[] {
  const re =
    /(\/\*[\s\S]*?\*\/|\/\/[^\n]*)|('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`)|\b([A-Za-z_$][\w$]*)\b|\b(0x[0-9a-fA-F_]+n?|\d[\d_]*n?)\b/g;
  const out: Token[] = [];
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    if (m[1]) out.push({ cls: 'com', text: m[1] });
    else if (m[2]) out.push({ cls: 'str', text: m[2] });
    else if (m[3]) out.push(KEYWORDS.has(m[3]) ? { cls: 'kw', text: m[3] } : { text: m[3] });
    else if (m[4]) out.push({ cls: 'nm', text: m[4] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** Highlighted HTML, one string per source line (spans closed and reopened at line breaks). */
export function highlightLines(text: string): string[] {
  const lines: string[] = [''];
  for (const t of tokenize(text)) {
    const parts = t.text.split('\n');
    parts.forEach((p, i) => {
      if (i > 0) lines.push('');
      if (p === '') return;
      const esc = escapeHtml(p);
      lines[lines.length - 1] += t.cls ? `<span class="${t.cls}">${esc}</span>` : esc;
    });
  }
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The page of one repository file. */
export function renderSourcePage(repoRoot: string, file: string): Page {
  const path = sourcePage(file);
  const lines = highlightLines(readFileSync(join(repoRoot, file), 'utf8'));
  const rows = lines
    .map(
      (l, i) =>
        `<tr id="L${i + 1}"><td class="ln"><a href="#L${i + 1}">${i + 1}</a></td><td class="code"><pre>${l || ' '}</pre></td></tr>`,
    )
    .join('\n');
  const body = html`<p class="crumbs"><a href="${relUrl(path, 'index.html')}">Functions</a> › source</p>
<h1 class="source-title"><code>${file}</code></h1>
<p class="muted">The spec's source as it was when this site was built. Rule rows and registry entries link to their lines here.</p>
<div class="scroll"><table class="source"><tbody>${raw(rows)}</tbody></table></div>`;
  return pageShell({ path, title: file, body });
}
