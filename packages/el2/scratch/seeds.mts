import { runConformance } from '@hvspec/spec';
import { createEl2Backend, shutdownEl2Machines } from '../src/index.ts';

const runs = Number(process.argv[2] ?? 100);
const hv = createEl2Backend({ maxVcpus: 3 });
for (let seed = Number(process.argv[3] ?? 1); seed < Number(process.argv[4] ?? 10); seed++) {
  const t0 = performance.now();
  const report = await runConformance(hv, { runs, seed });
  console.log(
    seed,
    report.ok,
    ((performance.now() - t0) / 1000).toFixed(1) + 's',
    report.exitKinds.length,
    report.failure?.message ?? '',
  );
  if (!report.ok)
    console.log(
      report.failure?.commands
        .split('\n')
        .map((l) => '    ' + l)
        .join('\n'),
    );
}
await hv.close();
shutdownEl2Machines();
