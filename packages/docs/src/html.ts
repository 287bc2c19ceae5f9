/**
 * A small HTML builder: a tagged template that escapes every interpolated value unless it is already
 * {@link Html}, so no page can carry unescaped text from the spec (a `when` with `<` in it, say).
 * @module
 */

/** A fragment of markup that is safe to insert as is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Marks a string as markup (only for strings this package built itself). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** What a template accepts: text (escaped), markup, lists of either, and nothing. */
export type Fragment = Html | string | number | bigint | boolean | null | undefined | readonly Fragment[];

function render(v: Fragment): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** `html\`<td>${text}</td>\`` escapes `text`; nested `html` fragments and arrays are inserted as markup. */
export function html(strings: TemplateStringsArray, ...values: Fragment[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Joins fragments with a separator (itself escaped unless markup). */
export function join(items: readonly Fragment[], sep: Fragment): Html {
  return new Html(items.map(render).join(render(sep)));
}

/**
 * Renders inline code spans the way the spec's prose writes them: text between backticks becomes
 * `<code>`; everything else is escaped.
 */
export function prose(text: string): Html {
  const parts = text.split('`');
  return new Html(
    parts.map((p, i) => (i % 2 === 1 ? `<code>${escapeHtml(p)}</code>` : escapeHtml(p))).join(''),
  );
}

/** An id usable in a URL fragment and an HTML id attribute. */
export function anchorId(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]+/g, '-');
}
