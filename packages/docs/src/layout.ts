/**
 * The frame every page shares (header, navigation, search box, footer), relative links between pages,
 * and the small pieces the tables repeat: evidence badges, return codes, links to the spec's source.
 * Pages work from `file://` as well as from a web server: every link is relative.
 * @module
 */
import {
  type Arch,
  type CallSpec,
  EVIDENCE_TAG,
  type Evidence,
  HV,
  hvReturnName,
  type RetRule,
  showRet,
} from '@hvspec/spec';
import { type Fragment, type Html, html, raw } from './html.js';
import type { SourceLoc } from './locate.js';

/** A page of the site: its path from the site root and its markup. */
export interface Page {
  readonly path: string;
  readonly html: string;
}

/** The URL of `to` (a site path, optionally with `#fragment`) as seen from the page at `from`. */
export function relUrl(from: string, to: string): string {
  const [toPath = '', hash] = to.split('#');
  const fromDir = from.split('/').slice(0, -1);
  const toParts = toPath.split('/');
  let i = 0;
  while (i < fromDir.length && i < toParts.length - 1 && fromDir[i] === toParts[i]) i++;
  const url = '../'.repeat(fromDir.length - i) + toParts.slice(i).join('/');
  return hash === undefined ? url : `${url}#${hash}`;
}

/** The top-level pages, in navigation order. */
export const NAV: readonly { readonly path: string; readonly label: string }[] = [
  { path: 'index.html', label: 'Functions' },
  { path: 'lifecycle.html', label: 'Lifecycle' },
  { path: 'exits.html', label: 'Exits' },
  { path: 'codes.html', label: 'Return codes' },
  { path: 'unverified.html', label: 'Unverified' },
  { path: 'evidence.html', label: 'Evidence' },
  { path: 'backends.html', label: 'Backends' },
  { path: 'api/index.html', label: 'API' },
];

/** Site path of the rendered source file (with line anchors). */
export function sourcePage(file: string): string {
  return `source/${file}.html`;
}

/** A link to a line of the spec's source, as `file:line`. */
export function sourceLink(from: string, loc: SourceLoc, label?: Fragment): Html {
  const short = loc.file.replace(/^packages\/spec\/src\//, '');
  return html`<a class="src" href="${relUrl(from, `${sourcePage(loc.file)}#L${loc.line}`)}">${label ?? `${short}:${loc.line}`}</a>`;
}

/** An evidence badge: `[T] tested`. */
export function evidenceBadge(e: Evidence, long = false): Html {
  return html`<span class="ev ev-${e}" title="${e}">${EVIDENCE_TAG[e]}${long ? raw(` ${e}`) : ''}</span>`;
}

/** A return rule, coloured: HV_SUCCESS, an error code, the loose "not HV_SUCCESS", or any code. */
export function retBadge(r: RetRule, from?: string): Html {
  if (r.kind === 'code') {
    const name = hvReturnName(r.code);
    const cls = r.code === HV.HV_SUCCESS ? 'ret ret-ok' : 'ret ret-err';
    return from
      ? html`<a class="${cls}" href="${relUrl(from, `codes.html#${name}`)}">${name}</a>`
      : html`<span class="${cls}">${name}</span>`;
  }
  return r.kind === 'not-success'
    ? html`<span class="ret ret-loose" title="Apple's code is not known: any code but HV_SUCCESS, and the state is unchanged">not HV_SUCCESS</span>`
    : html`<span class="ret ret-any" title="${showRet(r)}">any code</span>`;
}

/** A link to a function page. */
export function callLink(from: string, spec: Pick<CallSpec, 'arch' | 'name'>, text?: string): Html {
  return html`<a class="fn" href="${relUrl(from, `calls/${spec.arch}/${spec.name}.html`)}"><code>${text ?? spec.name}</code></a>`;
}

/** The flavour label. */
export function archBadge(arch: Arch): Html {
  return html`<span class="arch arch-${arch}">${arch}</span>`;
}

/** Options of {@link pageShell}. */
export interface ShellOptions {
  readonly path: string;
  readonly title: string;
  /** Markup of the sidebar, when the page has one. */
  readonly sidebar?: Html;
  readonly body: Html;
  /** Short description for the `<meta name="description">`. */
  readonly description?: string;
}

/** The full HTML of a page. */
export function pageShell(o: ShellOptions): Page {
  const root = relUrl(o.path, '');
  const nav = NAV.map((n) => {
    const current = n.path === o.path || (n.path === 'index.html' && o.path.startsWith('calls/'));
    return html`<a href="${relUrl(o.path, n.path)}"${current ? raw(' aria-current="page"') : ''}>${n.label}</a>`;
  });
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · hvspec reference</title>
${o.description ? html`<meta name="description" content="${o.description}">` : ''}
<link rel="icon" type="image/svg+xml" href="${relUrl(o.path, 'assets/favicon.svg')}">
<link rel="stylesheet" href="${relUrl(o.path, 'assets/style.css')}">
<script defer src="${relUrl(o.path, 'search-index.js')}"></script>
<script defer src="${relUrl(o.path, 'assets/search.js')}"></script>
</head>
<body data-root="${root}">
<header class="top">
  <a class="brand" href="${relUrl(o.path, 'index.html')}">hvspec <span>reference</span></a>
  <nav aria-label="Sections">${nav}</nav>
  <form class="search" action="${relUrl(o.path, 'search.html')}" role="search">
    <input type="search" name="q" id="search-input" placeholder="Search functions, codes, rule ids, exit reasons" autocomplete="off" aria-label="Search">
    <div id="search-results" class="search-results" hidden></div>
  </form>
</header>
<div class="${o.sidebar ? 'layout with-sidebar' : 'layout'}">
${o.sidebar ? html`<aside class="sidebar">${o.sidebar}</aside>` : ''}
<main>
${o.body}
</main>
</div>
<footer>Generated from the registry of <code>@hvspec/spec</code> by <code>@hvspec/docs</code> (<code>npm run docs</code>). Every row links to the line of the spec that states it; every example was replayed on <code>@hvspec/model</code> when this site was built.</footer>
</body>
</html>
`;
  return { path: o.path, html: page.value };
}
