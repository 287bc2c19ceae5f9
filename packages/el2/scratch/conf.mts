import { runConformance } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';

const runs = Number(process.argv[2] ?? 50);
const seed = Number(process.argv[3] ?? 1);
const hv = createEl2Backend({ maxVcpus: 3 });
const t0 = performance.now();
const report = await runConformance(hv, { runs, seed });
console.log(report.ok, report.failure?.message, '\n', report.failure?.commands);
console.log('exits', report.exitKinds.join(' '));
console.log('uncovered', report.rulesTotal.filter((id) => !report.rulesCovered.includes(id)).join(' '));
console.log('time', ((performance.now() - t0) / 1000).toFixed(1), 's');
await hv.close();
shutdownEl2Machines();
