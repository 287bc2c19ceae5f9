import { readdirSync, readFileSync } from 'node:fs';
import { parseTrace, replayTrace } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';

const dir = '/work/wt/el2/traces/arm64';
const hv = createEl2Backend();
for (const f of readdirSync(dir).sort()) {
  const trace = parseTrace(readFileSync(`${dir}/${f}`, 'utf8'), f);
  const t0 = performance.now();
  const r = await replayTrace(trace, hv);
  const p = r.firstProblem;
  console.log(
    r.status.toUpperCase(),
    f,
    (performance.now() - t0).toFixed(1) + 'ms',
    p ? `step ${p.index} ${p.call}: ${p.message}` : '',
  );
}
await hv.close();
shutdownEl2Machines();
