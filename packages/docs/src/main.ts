/**
 * `npm run docs`: builds the reference into `packages/docs/site/` (or `--out DIR`); `--no-api` skips
 * typedoc. Exits 1 when the build fails (a broken example, a row the build cannot locate, typedoc
 * errors), naming what failed.
 * @module
 */
import { pathToFileURL } from 'node:url';
import { DEFAULT_OUT } from './paths.js';
import { buildSite } from './site.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const started = Date.now();
try {
  const report = await buildSite({
    outDir: arg('--out') ?? DEFAULT_OUT,
    api: !process.argv.includes('--no-api'),
    log: (m) => console.log(`docs: ${m}`),
  });
  console.log(
    `docs: ${report.functionPages.length} function pages, ${report.pages.length} pages in all, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (report.generatedExamples.length > 0)
    console.log(
      `docs: no trace calls ${report.generatedExamples.join(', ')}: their examples were generated from the registry`,
    );
  if (report.api) {
    console.log(
      `docs: API reference of ${report.api.packages.join(', ')}; ${report.api.undocumented.length} exports without a doc comment (listed in ${report.outDir}/api-undocumented.txt)`,
    );
  }
  console.log(`docs: open ${pathToFileURL(`${report.outDir}/index.html`).href}`);
} catch (e) {
  console.error(`docs: build failed: ${(e as Error).message}`);
  process.exitCode = 1;
}
