/**
 * Builds the whole static site: the function pages and overviews from the registry, the source pages,
 * the search index, the assets, the lifecycle SVG files and the typedoc API reference under `api/`.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callPageContext, renderCallPage } from './call-page.js';
import { enumeratedDocs, memberDocs } from './comments.js';
import { collectSiteData, type SiteData } from './data.js';
import type { Page } from './layout.js';
import {
  renderBackends,
  renderCodes,
  renderEvidence,
  renderExits,
  renderIndex,
  renderLifecycle,
  renderUnverified,
} from './overview.js';
import { DEFAULT_OUT, REPO_ROOT } from './paths.js';
import { renderSearchPage, searchEntries, searchIndexScript } from './search.js';
import { renderSourcePage } from './source-pages.js';
import { SVG_CSS, standaloneSvg } from './svg.js';
import { type ApiDocsReport, buildApiDocs } from './typedoc.js';

const ASSETS = fileURLToPath(new URL('../assets/', import.meta.url));
/** A file that marks a directory as a site this package wrote (so a rebuild may clear it). */
const MARKER = '.hvspec-site';

/** Options of {@link buildSite}. */
export interface BuildOptions {
  readonly repoRoot?: string;
  readonly outDir?: string;
  /** Build the typedoc API reference (default true). */
  readonly api?: boolean;
  /** Progress messages. */
  readonly log?: (message: string) => void;
}

/** What a build produced. */
export interface BuildReport {
  readonly outDir: string;
  /** Every page written, site paths (the API reference's pages not included). */
  readonly pages: readonly string[];
  /** Site paths of the function pages. */
  readonly functionPages: readonly string[];
  /** Functions whose example was generated from the registry, no trace calling them (`arch/name`). */
  readonly generatedExamples: readonly string[];
  readonly api?: ApiDocsReport;
  readonly data: SiteData;
}

function write(outDir: string, path: string, content: string | Buffer): void {
  const file = join(outDir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** Empties `outDir` if it is a previous build (or does not exist); refuses any other non-empty directory. */
function prepareOut(outDir: string): void {
  if (existsSync(outDir)) {
    const entries = readdirSync(outDir);
    if (entries.length > 0 && !entries.includes(MARKER))
      throw new Error(
        `docs: ${outDir} is not empty and is not a site built by @hvspec/docs; not overwriting it`,
      );
    rmSync(outDir, { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, MARKER), 'Built by @hvspec/docs (npm run docs). Safe to delete.\n');
}

/** Every page of the reference, from already gathered data (no I/O but reading the spec's sources). */
export function renderPages(data: SiteData): Page[] {
  const specSrc = join(data.repoRoot, 'packages', 'spec', 'src');
  const threadDoc = memberDocs(join(specSrc, 'calls', 'types.ts'), 'CallSpec').get('thread') ?? '';
  const ctx = callPageContext(enumeratedDocs(threadDoc));
  const exitsFile = join(specSrc, 'guest', 'x86', 'exits.ts');
  const esrFile = join(specSrc, 'guest', 'arm64', 'esr.ts');
  const x86Docs = new Map([
    ...memberDocs(exitsFile, 'IoQualification'),
    ...memberDocs(exitsFile, 'EptQualification'),
    ...memberDocs(exitsFile, 'InterruptionInfo'),
  ]);
  const armDocs = new Map([...memberDocs(esrFile, 'DataAbortFields'), ...memberDocs(esrFile, 'DecodedEsr')]);
  const entries = searchEntries(data);
  return [
    renderIndex(data, ctx),
    ...data.calls.map((c) => renderCallPage(c, ctx)),
    renderLifecycle(data),
    renderExits(data, { x86: x86Docs, arm64: armDocs }),
    renderCodes(data, ctx),
    renderUnverified(data, ctx),
    renderEvidence(data, ctx),
    renderBackends(data, ctx),
    renderSearchPage(entries, ctx),
    ...data.sources.files.map((f) => renderSourcePage(data.repoRoot, f)),
  ];
}

/** Builds the site. Throws when an example does not replay on the model, a row cannot be located, or typedoc fails. */
export async function buildSite(options: BuildOptions = {}): Promise<BuildReport> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const outDir = resolve(options.outDir ?? DEFAULT_OUT);
  const log = options.log ?? (() => {});
  log('gathering the registry, examples and backends');
  const data = await collectSiteData(repoRoot);
  prepareOut(outDir);
  const pages = renderPages(data);
  for (const p of pages) write(outDir, p.path, p.html);
  log(`wrote ${pages.length} pages`);

  write(
    outDir,
    'assets/style.css',
    `${readFileSync(join(ASSETS, 'style.css'), 'utf8')}\n/* lifecycle diagrams */${SVG_CSS}`,
  );
  write(outDir, 'assets/search.js', readFileSync(join(ASSETS, 'search.js')));
  write(outDir, 'assets/favicon.svg', readFileSync(join(ASSETS, 'favicon.svg')));
  const entries = searchEntries(data);
  write(outDir, 'search-index.json', `${JSON.stringify(entries, null, 1)}\n`);
  write(outDir, 'search-index.js', searchIndexScript(entries));
  for (const lc of data.lifecycles) {
    const path = `lifecycle-${lc.id}-${lc.arch}.svg`;
    write(outDir, path, standaloneSvg(lc, path));
  }
  const shown = new Set(data.calls.flatMap((c) => (c.example ? [c.example.path] : [])));
  for (const e of data.examples) if (shown.has(e.path)) write(outDir, `examples/${e.path}`, e.text);

  let api: ApiDocsReport | undefined;
  if (options.api ?? true) {
    log('running typedoc over every workspace package');
    api = await buildApiDocs(repoRoot, join(outDir, 'api'));
    write(
      outDir,
      'api-undocumented.txt',
      `${api.undocumented.map((u) => u.replace(/^\[warning\] /, '')).join('\n')}\n`,
    );
  } else {
    write(
      outDir,
      'api/index.html',
      '<!doctype html><meta charset="utf-8"><title>API</title><p>The API reference was not built (--no-api). Run <code>npm run docs</code>.</p><p><a href="../index.html">Back to the reference</a></p>',
    );
  }

  const generatedExamples = data.calls
    .filter((c) => c.example?.origin === 'generated')
    .map((c) => `${c.spec.arch}/${c.spec.name}`);
  return {
    outDir,
    pages: pages.map((p) => p.path),
    functionPages: data.calls.map((c) => c.page),
    generatedExamples,
    ...(api ? { api } : {}),
    data,
  };
}
