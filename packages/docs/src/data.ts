/**
 * Everything the site shows, gathered once from the spec's registry and the repository: one entry per
 * `hv_*` function and flavour with the source line of each row, its example, its exits and the
 * deviations that touch it; the backends; the lifecycles; the exit kinds and layouts; the vocabulary.
 * @module
 */
import { join } from 'node:path';
import {
  type Arch,
  type CallSpec,
  callSpecs,
  type Deviation,
  ESR_EC,
  exceptionClassName,
  HV,
  type Row,
} from '@hvspec/spec';
import { type BackendInfo, describeBackends, deviationTouches } from './backends.js';
import { evidenceDocs, memberDocs } from './comments.js';
import {
  type ExampleTrace,
  findExampleTraces,
  pickExample,
  type ReplayedExample,
  replayExamples,
} from './examples.js';
import {
  arm64ExitKinds,
  arm64Layouts,
  type ExitKindExample,
  type Layout,
  type SampleOptions,
  x86ExitFieldNames,
  x86ExitKinds,
  x86Layouts,
} from './exits.js';
import { generateExample } from './generated-examples.js';
import { type Lifecycle, vcpuLifecycle, vmLifecycle } from './lifecycle.js';
import { indexSpecSources, locateCall, locateRow, type RowLoc, type SpecSourceIndex } from './locate.js';

/** The flavours, in the order the site lists them. */
export const ARCHES: readonly Arch[] = ['x86_64', 'arm64'];

/** A row with the line of the spec that states it. */
export interface RowEntry {
  readonly row: Row;
  readonly loc: RowLoc;
}

/** A deviation a backend declares that touches a function. */
export interface TouchingDeviation {
  readonly backend: BackendInfo;
  readonly deviation: Deviation;
}

/** One function page's data. */
export interface CallEntry {
  readonly spec: CallSpec;
  /** Site path of the page, e.g. `calls/arm64/hv_vm_map.html`. */
  readonly page: string;
  readonly loc: RowLoc;
  readonly rows: readonly RowEntry[];
  readonly example?: ReplayedExample;
  /** The exits a run call can produce (run calls only). */
  readonly exits?: readonly ExitKindExample[];
  readonly deviations: readonly TouchingDeviation[];
  /**
   * Backends of this flavour (or of a flavour the build could not tell) that did not load where the
   * site was built, so their deviations are not known here.
   */
  readonly unknownDeviations: readonly BackendInfo[];
  /** The same function's page in the other flavour, when the spec models it there. */
  readonly other?: string;
}

/** What the site is built from. */
export interface SiteData {
  readonly repoRoot: string;
  readonly calls: readonly CallEntry[];
  readonly sources: SpecSourceIndex;
  readonly backends: readonly BackendInfo[];
  readonly lifecycles: readonly Lifecycle[];
  readonly exitKinds: Readonly<Record<Arch, readonly ExitKindExample[]>>;
  readonly layouts: Readonly<Record<Arch, readonly Layout[]>>;
  /** Exception classes of the vocabulary: value, name, the judge's words. */
  readonly exceptionClasses: readonly { readonly ec: number; readonly id: string; readonly name: string }[];
  /** Return codes with the words of their doc comments. */
  readonly codes: readonly { readonly name: string; readonly value: number; readonly doc: string }[];
  /** Evidence levels with the words of the `Evidence` type's doc comment. */
  readonly evidence: ReadonlyMap<string, string>;
  /** Every example trace found, and the ones generated for functions no trace calls. */
  readonly examples: readonly ExampleTrace[];
}

/** Site path of a function page. */
export function callPage(arch: Arch, name: string): string {
  return `calls/${arch}/${name}.html`;
}

/** Builds one function's entry (also used by tests with a modified registry entry). */
export function callEntry(
  spec: CallSpec,
  ctx: {
    readonly sources: SpecSourceIndex;
    readonly example?: ReplayedExample;
    readonly exits?: readonly ExitKindExample[];
    readonly backends?: readonly BackendInfo[];
    readonly other?: string;
  },
): CallEntry {
  const rows = spec.rows.map((row) => {
    const loc = locateRow(ctx.sources, spec, row);
    if (!loc) {
      throw new Error(
        `docs: cannot find the row ${spec.name}.${row.id} (${spec.arch}) in packages/spec/src/calls/*.ts: ` +
          'its id and `when` text must be written in a row literal',
      );
    }
    return { row, loc };
  });
  const deviations: TouchingDeviation[] = [];
  const unknownDeviations: BackendInfo[] = [];
  for (const b of ctx.backends ?? []) {
    if (b.unavailable && (b.arch === undefined || b.arch === spec.arch)) unknownDeviations.push(b);
    if (b.arch !== spec.arch) continue;
    for (const d of b.deviations)
      if (deviationTouches(d, spec)) deviations.push({ backend: b, deviation: d });
  }
  return {
    spec,
    page: callPage(spec.arch, spec.name),
    loc: locateCall(ctx.sources, spec),
    rows,
    ...(ctx.example ? { example: ctx.example } : {}),
    ...(spec.runsGuest && ctx.exits ? { exits: ctx.exits } : {}),
    deviations,
    unknownDeviations,
    ...(ctx.other ? { other: ctx.other } : {}),
  };
}

/**
 * Gathers everything. Throws when an example does not pass on the model, a row cannot be located, or the
 * spec's generators produced no example of an exit kind. `options.backends` replaces the backends'
 * discovery, `options.exitSamples` the sampling budget (tests).
 */
export async function collectSiteData(
  repoRoot: string,
  options: {
    readonly backends?: () => Promise<BackendInfo[]>;
    /** Seed and budget of the exit-kind sampling (default: `EXIT_SAMPLE_BUDGET` from the fixed seed). */
    readonly exitSamples?: SampleOptions;
  } = {},
): Promise<SiteData> {
  const sources = indexSpecSources(repoRoot);
  const backends = await (options.backends ?? describeBackends)();
  const modelX86 = backends.find((b) => b.backend === 'model' && b.arch === 'x86_64')?.capabilities;
  const exitKinds: Record<Arch, ExitKindExample[]> = {
    x86_64: x86ExitKinds({
      ...options.exitSamples,
      fieldNames: x86ExitFieldNames(repoRoot),
      ...(modelX86?.vmxCapabilities ? { vmxCapabilities: modelX86.vmxCapabilities } : {}),
    }),
    arm64: arm64ExitKinds(options.exitSamples),
  };
  const noExample = [...exitKinds.x86_64, ...exitKinds.arm64].filter((k) => k.missing);
  if (noExample.length > 0)
    throw new Error(
      `docs: no example for the exit kinds ${noExample.map((k) => k.kind).join(', ')}: ${noExample[0]?.missing}. ` +
        'Raise EXIT_SAMPLE_BUDGET (packages/docs/src/exits.ts) or bias the generator towards them.',
    );

  const allExamples = findExampleTraces(repoRoot);
  const chosen = new Map<string, ExampleTrace>();
  for (const arch of ARCHES)
    for (const spec of callSpecs(arch)) {
      // A function no trace calls gets one made from the registry (generated-examples.ts).
      const e = pickExample(allExamples, arch, spec.name);
      chosen.set(`${arch}/${spec.name}`, e ?? (await generateExample(arch, spec.name)));
    }
  const distinct = [...new Set(chosen.values())];
  const replayed = new Map((await replayExamples(distinct)).map((r) => [r.path, r]));

  const calls: CallEntry[] = [];
  for (const arch of ARCHES) {
    const otherArch = ARCHES.find((a) => a !== arch) as Arch;
    const otherNames = new Set(callSpecs(otherArch).map((c) => c.name));
    for (const spec of callSpecs(arch)) {
      const picked = chosen.get(`${arch}/${spec.name}`);
      const example = picked ? replayed.get(picked.path) : undefined;
      calls.push(
        callEntry(spec, {
          sources,
          ...(example ? { example } : {}),
          exits: exitKinds[arch],
          backends,
          ...(otherNames.has(spec.name) ? { other: callPage(otherArch, spec.name) } : {}),
        }),
      );
    }
  }

  const vocab = (f: string): string => join(repoRoot, 'packages', 'spec', 'src', 'vocabulary', f);
  const returnDocs = memberDocs(vocab('returns.ts'), 'HV');
  const codes = Object.entries(HV).map(([name, value]) => ({ name, value, doc: returnDocs.get(name) ?? '' }));
  const exceptionClasses = Object.entries(ESR_EC)
    .map(([id, ec]) => ({ ec, id, name: exceptionClassName(ec) }))
    .sort((a, b) => a.ec - b.ec);

  return {
    repoRoot,
    calls,
    sources,
    backends,
    lifecycles: ARCHES.flatMap((a) => [vmLifecycle(a), vcpuLifecycle(a)]),
    exitKinds,
    layouts: {
      x86_64: x86Layouts(exitKinds.x86_64),
      arm64: arm64Layouts(exceptionClasses, exitKinds.arm64),
    },
    exceptionClasses,
    codes,
    evidence: evidenceDocs(join(repoRoot, 'packages', 'spec', 'src', 'calls', 'types.ts')),
    examples: [...allExamples, ...[...chosen.values()].filter((e) => e.origin === 'generated')],
  };
}
