/**
 * The site built without the hardware backends (the addon and el2 not loading): pages still render, say
 * where each missing backend's deviations would come from and how to get it; and a build whose sampling
 * finds no example of an exit kind fails, naming the kinds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeBackends } from '../src/backends.js';
import { collectSiteData } from '../src/data.js';
import { REPO_ROOT } from '../src/paths.js';
import { renderPages } from '../src/site.js';

const notHere = () =>
  describeBackends({
    native: () => Promise.reject(new Error('the addon is not built')),
    el2: async () => ({
      el2Availability: () => ({
        available: false,
        reason: 'qemu-system-aarch64 is not installed',
        fix: 'apt-get install -y qemu-system-arm',
      }),
      createEl2Backend: () => {
        throw new Error('not called');
      },
    }),
  });

test('without the native addon and el2 the site says what is missing, where and how to get it', async () => {
  const data = await collectSiteData(REPO_ROOT, { backends: notHere });
  const pages = new Map(renderPages(data).map((p) => [p.path, p.html]));
  const backends = pages.get('backends.html') ?? '';
  assert.match(backends, /id="native"/);
  assert.match(backends, /the addon is not built/);
  assert.match(backends, /id="el2-arm64"/);
  assert.match(backends, /qemu-system-aarch64 is not installed/);
  assert.match(backends, /apt-get install -y qemu-system-arm/);
  assert.match(backends, /shown on a site built where it loads/);
  // Every function page of both flavours says the native backend's deviations are not known here;
  // the arm64 pages say the same of el2.
  const flush = pages.get('calls/x86_64/hv_vcpu_flush.html') ?? '';
  assert.match(flush, /Not known on this build: the deviations of <a [^>]*><code>native<\/code><\/a>/);
  assert.doesNotMatch(flush, /<code>el2<\/code>/, 'el2 is arm64 only');
  const run = pages.get('calls/arm64/hv_vcpu_run.html') ?? '';
  assert.match(run, /<code>native<\/code><\/a>, <a [^>]*><code>el2<\/code><\/a>/);
});

test('a build whose sampling reaches no example of an exit kind fails, naming the kinds', async () => {
  await assert.rejects(
    collectSiteData(REPO_ROOT, { backends: notHere, exitSamples: { budget: 5 } }),
    /no example for the exit kinds [^:]*arm64\.s1ptw[^:]*: none of the 5 programs/,
  );
});
