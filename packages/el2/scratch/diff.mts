import { createModel } from '@hvspec/model';
import { diffBackends, runConformance } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';

const runs = Number(process.argv[2] ?? 100);
const el2 = createEl2Backend({ maxVcpus: 3 });
const c = el2.capabilities;
const model = createModel('arm64', {
  maxVcpus: c.maxVcpus,
  maxIpaSize: c.maxIpaSize,
  ipaGranule4k: c.ipaGranule4k,
});
const b = diffBackends(model, el2);
for (let seed = Number(process.argv[3] ?? 1); seed < Number(process.argv[4] ?? 5); seed++) {
  const t0 = performance.now();
  const report = await runConformance(b, { runs, seed });
  console.log(
    seed,
    report.ok,
    ((performance.now() - t0) / 1000).toFixed(1) + 's',
    report.exitKinds.length,
    report.failure?.message ?? '',
  );
  for (const d of report.differences) console.log('   diff', d.count, d.ruleId, d.what);
  if (!report.ok)
    console.log(
      report.failure?.commands
        .split('\n')
        .map((l) => '    ' + l)
        .join('\n'),
    );
}
await b.close();
shutdownEl2Machines();
