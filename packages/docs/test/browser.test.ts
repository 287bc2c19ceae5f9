/**
 * The real-browser test: builds the whole site (typedoc included) into a temporary directory, serves it
 * on localhost, and drives Debian's chromium headless through playwright-core: every function page
 * exists and shows its rows, every internal link resolves, search finds HV_BAD_ARGUMENT and hv_vm_map,
 * pages are readable without JavaScript, and screenshots are saved to packages/docs/screenshots-out/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { callSpecs } from '@hvspec/spec';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '../src/paths.js';
import { type BuildReport, buildSite } from '../src/site.js';
import { workspacePackages } from '../src/typedoc.js';
import { checkLinks, ensureChromium, listFiles, serve } from './site-check.js';

const SHOTS = fileURLToPath(new URL('../screenshots-out/', import.meta.url));
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

const browserPath = ensureChromium();
const skip = browserPath.path ? false : `no chromium here: ${browserPath.why}`;

let siteDir = '';
let profileDir = '';
let report: BuildReport;
let server: Server | undefined;
let base = '';
let context: BrowserContext | undefined;
const pageErrors: string[] = [];
let buildMs = 0;
/** Same-site URLs (without fragment) of every link the browser saw on the reference's pages. */
const linked = new Set<string>();

/** Records the links of the loaded page, as the browser resolves them (HTML and SVG anchors alike). */
async function collectLinks(page: Page): Promise<void> {
  const hrefs = await page.$$eval('a[href], link[href], script[src]', (els) =>
    els.map((e) => new URL(e.getAttribute('href') ?? e.getAttribute('src') ?? '', document.baseURI).href),
  );
  for (const h of hrefs) if (h.startsWith(base)) linked.add(h.split('#')[0] ?? h);
}

async function open(path: string, ctx: BrowserContext | undefined = context): Promise<Page> {
  assert.ok(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${path}: console: ${m.text()}`);
  });
  const res = await page.goto(base + path, { waitUntil: 'domcontentloaded' });
  assert.equal(res?.status(), 200, `${path} did not load`);
  return page;
}

before(
  async () => {
    if (skip) return;
    siteDir = mkdtempSync(join(tmpdir(), 'hvspec-site-'));
    profileDir = mkdtempSync(join(tmpdir(), 'hvspec-chromium-'));
    const started = Date.now();
    report = await buildSite({ outDir: siteDir });
    buildMs = Date.now() - started;
    const s = await serve(siteDir);
    server = s.server;
    base = s.url;
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: browserPath.path,
      headless: true,
      args: FLAGS,
      viewport: { width: 1360, height: 900 },
    });
    mkdirSync(SHOTS, { recursive: true });
  },
  { timeout: 300_000 },
);

after(async () => {
  await context?.close();
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  for (const d of [siteDir, profileDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('every modelled function has a page that shows all its rows', { skip, timeout: 180_000 }, async (t) => {
  t.diagnostic(`site built in ${(buildMs / 1000).toFixed(1)} s`);
  const started = Date.now();
  const expected = (['x86_64', 'arm64'] as const).flatMap((arch) =>
    callSpecs(arch).map((spec) => ({ arch, spec })),
  );
  assert.equal(report.functionPages.length, expected.length);
  const page = await open('index.html');
  for (const { arch, spec } of expected) {
    const res = await page.goto(`${base}calls/${arch}/${spec.name}.html`, { waitUntil: 'domcontentloaded' });
    assert.equal(res?.status(), 200, `${arch} ${spec.name}`);
    // One round trip per page: what it shows, and every link as the browser resolves it.
    const seen = await page.evaluate(() => ({
      h1: document.querySelector('h1 code')?.textContent?.trim(),
      rows: document.querySelectorAll('table.rows tbody tr').length,
      example: document.querySelectorAll('#example table.steps').length,
      links: Array.from(
        document.querySelectorAll('a[href], link[href], script[src]'),
        (e) =>
          new URL(e.getAttribute('href') ?? e.getAttribute('src') ?? '', document.baseURI).href.split(
            '#',
          )[0] ?? '',
      ),
    }));
    assert.equal(seen.h1, spec.name);
    assert.equal(seen.rows, spec.rows.length, `${arch} ${spec.name} rows`);
    assert.equal(seen.example, 1, `${arch} ${spec.name} has an example`);
    for (const h of seen.links) if (h.startsWith(base)) linked.add(h);
  }
  t.diagnostic(
    `${expected.length} function pages checked in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  await page.close();
});

test('every internal link of the site resolves', { skip, timeout: 120_000 }, async () => {
  // Every file of the site, typedoc's pages included, checked on disk ...
  const files = listFiles(siteDir);
  const { checked, broken } = checkLinks(siteDir, files);
  assert.ok(checked > 5000, `only ${checked} links`);
  assert.deepEqual(broken.slice(0, 20), []);
  // ... and the links the browser sees on the reference's own pages (function pages: previous test).
  const page = await open('index.html');
  for (const path of report.pages.filter((p) => !p.startsWith('source/') && !p.startsWith('calls/'))) {
    await page.goto(base + path, { waitUntil: 'domcontentloaded' });
    await collectLinks(page);
  }
  const missing: string[] = [];
  for (const url of linked) {
    const res = await page.request.get(url);
    if (res.status() !== 200) missing.push(`${url}: ${res.status()}`);
  }
  assert.deepEqual(missing, []);
  assert.ok(linked.size > 100, `only ${linked.size} distinct links`);
  await page.close();
});

test('the API reference documents every export, and every type it names', { skip }, () => {
  const api = report.api;
  assert.ok(api, 'the build ran typedoc');
  assert.deepEqual(api.packages, workspacePackages(REPO_ROOT));
  // Exports without a doc comment, then the rest: types named by a documented export but left out
  // of the reference ("referenced by ... but not included"), broken relative paths.
  assert.deepEqual(api.undocumented, []);
  assert.deepEqual(api.warnings, []);
});

test('search finds HV_BAD_ARGUMENT and hv_vm_map', { skip, timeout: 60_000 }, async () => {
  const page = await open('calls/x86_64/hv_vcpu_run.html');
  const input = page.locator('#search-input');
  await input.fill('HV_BAD_ARGUMENT');
  await page.locator('#search-results a.result').first().waitFor();
  const first = await page.locator('#search-results a.result').first().getAttribute('href');
  assert.match(first ?? '', /codes\.html#HV_BAD_ARGUMENT$/);
  await page.screenshot({ path: join(SHOTS, 'search-dropdown.png') });

  await input.fill('hv_vm_map');
  await page.locator('#search-results a.result').first().waitFor();
  const hrefs = await page
    .locator('#search-results a.result')
    .evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
  assert.ok(
    hrefs.some((h) => h.endsWith('calls/x86_64/hv_vm_map.html')),
    hrefs.join(' '),
  );
  assert.ok(
    hrefs.some((h) => h.endsWith('calls/arm64/hv_vm_map.html')),
    hrefs.join(' '),
  );
  await input.press('Enter');
  await page.waitForURL(/calls\/(x86_64|arm64)\/hv_vm_map\.html$/);
  assert.equal((await page.locator('h1 code').first().textContent())?.trim(), 'hv_vm_map');

  await page.goto(`${base}search.html?q=HV_BAD_ARGUMENT`);
  await page.locator('#search-page-results a.result').first().waitFor();
  assert.match(
    (await page.locator('#search-page-results a.result').first().getAttribute('href')) ?? '',
    /codes\.html#HV_BAD_ARGUMENT$/,
  );
  await page.close();
});

test('pages are readable without JavaScript', { skip, timeout: 60_000 }, async () => {
  assert.ok(context);
  const browser = context.browser();
  // A persistent context has no browser object to open a second context on: use a separate launch.
  const noJs = browser
    ? await browser.newContext({ javaScriptEnabled: false })
    : await chromium
        .launch({ executablePath: browserPath.path, headless: true, args: FLAGS })
        .then((b) => b.newContext({ javaScriptEnabled: false }));
  try {
    const page = await open('calls/arm64/hv_vm_map.html', noJs);
    assert.ok((await page.locator('table.rows tbody tr').count()) > 3);
    assert.ok(await page.locator('#row-overlap').isVisible());
    await page.goto(`${base}search.html`);
    assert.ok(await page.locator('#all-names a[href$="codes.html#HV_BAD_ARGUMENT"]').isVisible());
    assert.ok(await page.locator('#all-names a[href$="calls/arm64/hv_vm_map.html"]').first().isVisible());
    await page.goto(`${base}lifecycle.html`);
    assert.ok((await page.locator('svg.lifecycle').count()) >= 4);
    await page.screenshot({ path: join(SHOTS, 'no-javascript-lifecycle.png') });
  } finally {
    const b = noJs.browser();
    await noJs.close();
    if (!browser) await b?.close();
  }
});

test('the backends page shows each backend: what it declared where it loads, how to get it where it does not', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await open('backends.html');
  for (const b of report.data.backends) {
    const id = b.arch ? `${b.backend}-${b.arch}` : b.backend;
    const section = page.locator(`section#${id}`);
    assert.equal(await section.count(), 1, id);
    const text = (await section.textContent()) ?? '';
    if (b.capabilities) {
      assert.match(text, /Permissions enforced exactly/, id);
      for (const d of b.deviations) assert.ok(text.includes(d.id), `${id} shows ${d.id}`);
    } else {
      assert.match(text, /Not available on the machine that built this site/, id);
      assert.match(text, /shown on a site built where it loads/, id);
    }
  }
  assert.ok(
    report.data.backends.some((b) => b.backend === 'el2'),
    'el2 is on the page, available or not',
  );
  await page.close();
});

test('screenshots of the main pages, with no script errors', { skip, timeout: 120_000 }, async () => {
  const shots: [string, string, { width: number; height: number }?][] = [
    ['index.html', 'index.png'],
    ['calls/arm64/hv_vm_map.html', 'arm64-hv_vm_map.png'],
    ['calls/x86_64/hv_vcpu_run.html', 'x86_64-hv_vcpu_run.png'],
    ['calls/x86_64/hv_vcpu_run.html#example', 'x86_64-hv_vcpu_run-example.png'],
    ['lifecycle.html', 'lifecycle.png'],
    ['exits.html', 'exits.png'],
    ['exits.html#arm64-iss-0x24', 'exits-data-abort-iss.png'],
    ['codes.html', 'codes.png'],
    ['unverified.html', 'unverified.png'],
    ['backends.html', 'backends.png'],
    ['backends.html#el2-arm64', 'backends-el2.png'],
    ['exits.html#arm64-kinds', 'exits-arm64-kinds.png'],
    ['calls/x86_64/hv_vcpu_flush.html#example', 'x86_64-hv_vcpu_flush-example.png'],
    ['evidence.html', 'evidence.png'],
    ['api/index.html', 'api.png'],
    ['calls/x86_64/hv_vm_map.html', 'mobile-x86_64-hv_vm_map.png', { width: 420, height: 900 }],
  ];
  for (const [path, file, viewport] of shots) {
    const page = await open(path);
    await page.waitForLoadState('load');
    if (viewport) await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, file) });
    await page.close();
  }
  assert.deepEqual(pageErrors, []);
});
