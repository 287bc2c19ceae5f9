/**
 * One page per `hv_*` function and flavour, laid out like the KVM API reference: what it does, where
 * and when it is available, who may call it, its C declaration and parameters, then every rule row
 * with its evidence and the line of the spec that states it, the exits it can produce, the deviations
 * backends declare for it, and an example trace replayed on the model.
 * @module
 */
import { type Arch, callSpecs, cDeclaration, type Evidence, hvReturnName, type Step } from '@hvspec/spec';
import type { CallEntry } from './data.js';
import { ARCHES } from './data.js';
import { type ExitKindExample, x86FieldsShown } from './exits.js';
import { anchorId, type Html, html, prose, raw } from './html.js';
import {
  archBadge,
  callLink,
  evidenceBadge,
  type Page,
  pageShell,
  relUrl,
  retBadge,
  sourceLink,
} from './layout.js';

/** The words for each thread rule (`CallSpec.thread`), as the registry's type documents them. */
export type ThreadWords = ReadonlyMap<string, string>;

/** What a call page needs beyond its own entry. */
export interface CallPageContext {
  /** Every function of each flavour, for the sidebar (from the registry). */
  readonly names: Readonly<Record<Arch, readonly string[]>>;
  readonly threadWords: ThreadWords;
}

/** The context from the registry itself. */
export function callPageContext(threadWords: ThreadWords): CallPageContext {
  return {
    names: {
      x86_64: callSpecs('x86_64').map((c) => c.name),
      arm64: callSpecs('arm64').map((c) => c.name),
    },
    threadWords,
  };
}

/** Sidebar: every function of both flavours, this one marked. */
export function sidebar(from: string, ctx: CallPageContext, current?: { arch: Arch; name: string }): Html {
  return html`${ARCHES.map(
    (arch) =>
      html`<h2>${arch}</h2><ul>${ctx.names[arch].map(
        (name) =>
          html`<li${current && current.arch === arch && current.name === name ? raw(' class="current"') : ''}>${callLink(from, { arch, name })}</li>`,
      )}</ul>`,
  )}`;
}

function paramsTable(entry: CallEntry): Html {
  const { spec } = entry;
  if (spec.params.length === 0) return html`<p>No parameters.</p>`;
  return html`<table class="params">
<thead><tr><th>Name</th><th>Direction</th><th>C type</th><th>JS type</th><th>Meaning</th></tr></thead>
<tbody>${spec.params.map((p) => {
    const where =
      p.dir === 'out' && p.c === 'return'
        ? ' (the C return value)'
        : p.dir === 'out' && p.c === 'none'
          ? ' (not a C parameter: the record behind the exit pointer)'
          : '';
    const ts =
      p.dir === 'in' ? p.type.ts : p.type.kind === 'exit-pointer' ? '—' : `Result.value: ${p.type.ts}`;
    const vocab =
      p.dir === 'in' && 'vocab' in p.type.trace && p.type.trace.vocab ? p.type.trace.vocab.label : undefined;
    return html`<tr><td><code>${p.name}</code></td><td><span class="dir dir-${p.dir}">${p.dir}</span></td><td><code>${p.type.c}</code></td><td><code>${ts}</code></td><td>${prose(p.doc)}${where}${vocab ? html` <span class="muted">(traces may write <code>${vocab}</code> names)</span>` : ''}</td></tr>`;
  })}</tbody></table>`;
}

function outcomeText(entry: CallEntry, i: number): Html {
  const { row } = entry.rows[i] ?? { row: undefined };
  if (!row) return html``;
  const parts: Html[] = [];
  if (row.result) parts.push(prose(row.result));
  else if (row.ret.kind === 'not-success') parts.push(html`nothing changes`);
  else if (!row.effect) parts.push(html`no state change`);
  const notes: string[] = [];
  if (row.expect) notes.push('the spec predicts the exact out-value');
  if (row.value) notes.push('the out-value is checked');
  if (notes.length) parts.push(html`<span class="muted">${notes.join('; ')}</span>`);
  return html`${parts.map((p, k) => (k === 0 ? p : html`<br>${p}`))}`;
}

function rowsTable(entry: CallEntry): Html {
  const { spec, page } = entry;
  return html`<table class="rows">
<thead><tr><th>#</th><th>Rule</th><th>Precondition</th><th>Returns</th><th>Out-value and state change</th><th>Evidence</th><th>Stated at</th></tr></thead>
<tbody>${entry.rows.map(({ row, loc }, i) => {
    const flags: Html[] = [];
    if (row.dangerous)
      flags.push(html`<span class="flag danger" title="${row.dangerous}">dangerous on hardware</span>`);
    if (row.requires)
      flags.push(
        html`<span class="flag host" title="This row applies only on some hosts">host dependent</span>`,
      );
    return html`<tr id="row-${anchorId(row.id)}" class="ev-row-${row.evidence}">
<td class="num">${i + 1}</td>
<td class="rule"><a class="rowid" href="#row-${anchorId(row.id)}"><code>${row.id}</code></a><div class="fullid"><code>${spec.name}.${row.id}</code></div>${flags}</td>
<td class="when">${prose(row.when)}</td>
<td>${retBadge(row.ret, page)}</td>
<td class="outcome">${outcomeText(entry, i)}</td>
<td class="evidence">${evidenceBadge(row.evidence, true)}<div class="source">${prose(row.source)}</div>${row.dangerous ? html`<div class="danger-note">${prose(row.dangerous)}</div>` : ''}</td>
<td class="where">${sourceLink(page, loc)}${loc.builder ? html`<div class="muted">shared: <code>${loc.builder}</code></div>` : ''}</td>
</tr>`;
  })}</tbody></table>`;
}

function evidenceSummary(entry: CallEntry): Html {
  const counts = new Map<Evidence, number>();
  for (const { row } of entry.rows) counts.set(row.evidence, (counts.get(row.evidence) ?? 0) + 1);
  const order: Evidence[] = ['header', 'tested', 'reported', 'unverified'];
  return html`${order
    .filter((e) => counts.has(e))
    .map((e) => html`<span class="evcount">${evidenceBadge(e)} ${counts.get(e)} ${e}</span> `)}`;
}

/** The instruction that exits and how the VMM started the program, or why there is no example. */
export function causeCell(k: ExitKindExample): Html {
  if (!k.cause) return html`<span class="muted">${k.missing ?? 'no example'}</span>`;
  return html`<code>${k.cause}</code>${k.setting ? html`<div class="muted">${k.setting}</div>` : ''}`;
}

function exitsSection(entry: CallEntry): Html {
  if (!entry.exits) return html``;
  const { page, spec } = entry;
  const never = entry.deviations.flatMap((d) =>
    (d.deviation.exitReasons ?? []).map((r) => ({
      reason: r,
      backend: d.backend.backend,
      id: d.deviation.id,
    })),
  );
  return html`<section id="exits"><h2>Exits it can produce</h2>
<p>The exit kinds of the spec's ${spec.arch} guest programs (each predicted exactly: ${spec.arch === 'x86_64' ? x86FieldsShown(entry.exits).join(', ') : 'reason, syndrome, FAR, IPA, PC'}). One example of each, found by sampling the spec's program generator and predicting its exits; the decoded fields are what the exit judge prints. See <a href="${relUrl(page, `exits.html#${spec.arch}`)}">Exits</a> for the decoding tables.</p>
<table class="exits"><thead><tr><th>Exit kind</th><th>Reason</th><th>Caused by</th><th>What the VMM reads</th></tr></thead>
<tbody>${entry.exits.map((k) => {
    const nr = never.filter((n) => n.reason === k.reasonValue && spec.arch === 'x86_64');
    return html`<tr><td><a href="${relUrl(page, `exits.html#kind-${anchorId(k.kind)}`)}"><code>${k.kind}</code></a></td>
<td>${k.reason ? html`<code>${k.reason}</code>` : html`<span class="muted">—</span>`}${nr.map((n) => html`<div class="flag host" title="declared by ${n.backend} (${n.id})">not on ${n.backend}</div>`)}</td>
<td>${causeCell(k)}</td>
<td><ul class="fields">${k.fields.map((f) => html`<li><code>${f}</code></li>`)}</ul></td></tr>`;
  })}</tbody></table></section>`;
}

/** Backends whose deviations are not known on this build (they did not load where it was built). */
function unknownNote(entry: CallEntry): Html {
  if (entry.unknownDeviations.length === 0) return html``;
  return html`<p class="muted">Not known on this build: the deviations of ${entry.unknownDeviations.map(
    (b, i) =>
      html`${i > 0 ? ', ' : ''}<a href="${relUrl(entry.page, `backends.html#${b.arch ? `${b.backend}-${b.arch}` : b.backend}`)}"><code>${b.backend}</code></a>`,
  )}, which did not load on the machine that built this site; a site built where ${entry.unknownDeviations.length === 1 ? 'it loads' : 'they load'} shows them.</p>`;
}

function deviationsSection(entry: CallEntry): Html {
  const { page } = entry;
  if (entry.deviations.length === 0)
    return html`<section id="deviations"><h2>Backend deviations</h2><p>No backend that loaded here declares a deviation that touches <code>${entry.spec.name}</code> on ${entry.spec.arch}. See <a href="${relUrl(page, 'backends.html')}">Backends</a>.</p>${unknownNote(entry)}</section>`;
  const backends = [...new Set(entry.deviations.map((d) => d.backend))];
  return html`<section id="deviations"><h2>Backend deviations</h2>
<p>What a backend declares it does differently here; a conformance run never judges a backend on what it declared (<a href="${relUrl(page, 'backends.html')}">Backends</a>).</p>
${backends.map(
  (b) => html`<h3><code>${b.backend}</code> <span class="muted">from ${b.source}</span></h3>
<table class="deviations"><thead><tr><th>Deviation</th><th>What differs</th></tr></thead>
<tbody>${entry.deviations
    .filter((d) => d.backend === b)
    .map(
      (d) =>
        html`<tr><td><a href="${relUrl(page, `backends.html#dev-${anchorId(d.deviation.id)}`)}"><code>${d.deviation.id}</code></a></td><td>${prose(d.deviation.description)}</td></tr>`,
    )}</tbody></table>`,
)}${unknownNote(entry)}</section>`;
}

/** A JSON value with names and hex strings written bare: `{ reason: HV_EXIT_REASON_EXCEPTION }`. */
function bare(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z0-9_$.]+$/.test(v) ? v : JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(bare).join(', ')}]`;
  return `{ ${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${bare(x)}`)
    .join(', ')} }`;
}

/** What a step expects, in words: the return code first, then the out-value, exit record or bytes. */
function expectCell(expect: Step['expect']): Html {
  if (!expect) return html``;
  const parts: Html[] = [];
  const r = expect.ret;
  if (r !== undefined) {
    const name = (c: unknown): string => (typeof c === 'number' ? hvReturnName(c) : String(c));
    if (typeof r === 'object' && r !== null && 'not' in r)
      parts.push(html`<span class="ret ret-loose">not ${name(r.not)}</span>`);
    else if (typeof r === 'object' && r !== null && 'oneOf' in r)
      parts.push(html`<span class="ret ret-any">one of ${r.oneOf.map(name).join(', ')}</span>`);
    else
      parts.push(
        html`<span class="ret ${name(r) === 'HV_SUCCESS' ? 'ret-ok' : 'ret-err'}">${name(r)}</span>`,
      );
  }
  if (expect.value !== undefined) parts.push(html`<code class="args">value = ${bare(expect.value)}</code>`);
  if (expect.exit !== undefined) parts.push(html`<code class="args">exit ${bare(expect.exit)}</code>`);
  if (expect.bytes !== undefined) parts.push(html`<code class="args">bytes = ${expect.bytes}</code>`);
  return html`${parts.map((p, k) => (k === 0 ? p : html`<br>${p}`))}`;
}

/** Whether a step expects one exact code (then a pass says which code came back). */
function exactCode(expect: Step['expect']): boolean {
  return expect?.ret !== undefined && (typeof expect.ret === 'string' || typeof expect.ret === 'number');
}

function stepRow(entry: CallEntry, step: Step, i: number): Html {
  const ex = entry.example;
  const outcome = ex?.report.steps.find((s) => s.index === i);
  const isThis = step.call === entry.spec.name;
  const callCell = step.call.startsWith('hv_')
    ? callLink(entry.page, { arch: entry.spec.arch, name: step.call })
    : html`<code>${step.call}</code>`;
  const status = outcome
    ? html`<span class="st st-${outcome.status}">${outcome.status === 'pass' ? '✓ pass' : outcome.status}</span>${outcome.ret !== undefined && !exactCode(step.expect) ? html`<div class="got">got ${hvReturnName(outcome.ret)}</div>` : ''}`
    : html``;
  return html`<tr${isThis ? raw(' class="focus"') : ''}><td class="num">${i}</td><td class="num">${step.thread ?? 0}</td><td>${callCell}${step.async ? html` <span class="muted">async</span>` : ''}</td><td><code class="args">${bare(step.args)}</code>${step.bind ? html` <span class="muted">→ <code>$${step.bind}</code></span>` : ''}</td><td class="expect">${expectCell(step.expect)}</td><td>${status}</td></tr>`;
}

function exampleSection(entry: CallEntry): Html {
  const ex = entry.example;
  const { page } = entry;
  if (!ex)
    return html`<section id="example"><h2>Example</h2><p class="warn">No example trace calls <code>${entry.spec.name}</code> yet: add one under <code>packages/docs/examples/${entry.spec.arch}/</code>.</p></section>`;
  const calls = ex.trace.steps.filter((s) => s.call === entry.spec.name).length;
  const generated = ex.origin === 'generated';
  const file = ex.path.split('/').pop() ?? ex.path;
  return html`<section id="example"><h2>Example</h2>
<p class="example-title"><strong>${prose(ex.trace.title)}</strong></p>
${ex.trace.description ? html`<p class="muted">${prose(ex.trace.description)}</p>` : ''}
<p>Replayed on <code>${ex.report.backend}</code> when this site was built: <span class="st st-pass">${ex.report.status}</span>, ${ex.trace.steps.length} steps, ${calls} of them <code>${entry.spec.name}</code> (highlighted). Replay it yourself${generated ? ' (download it first)' : ''}:</p>
<pre class="cmd"><code>npx hvspec replay ${generated ? file : ex.path}</code></pre>
<p><a href="${relUrl(page, `examples/${ex.path}`)}"${generated ? html` download="${file}"` : ''}>Download the trace</a> (<code>${generated ? file : ex.path}</code>; format <code>hvspec-trace/1</code>)${generated ? html`. Generated by the reference from the registry, because no trace in <code>traces/${entry.spec.arch}/</code> or <code>packages/docs/examples/${entry.spec.arch}/</code> calls <code>${entry.spec.name}</code>; a trace written there replaces it.` : '.'}</p>
<div class="scroll"><table class="steps"><thead><tr><th>Step</th><th>Thread</th><th>Call</th><th>Arguments</th><th>Expects</th><th>Replay</th></tr></thead>
<tbody>${ex.trace.steps.map((s, i) => stepRow(entry, s, i))}</tbody></table></div></section>`;
}

/** The page of one function. */
export function renderCallPage(entry: CallEntry, ctx: CallPageContext): Page {
  const { spec, page } = entry;
  const thread = ctx.threadWords.get(spec.thread) ?? spec.thread;
  const flavours = html`${archBadge(spec.arch)}${
    entry.other
      ? html` and <a href="${relUrl(page, entry.other)}">${spec.arch === 'x86_64' ? 'arm64' : 'x86_64'}</a>`
      : html` only`
  }`;
  const counts = `${entry.rows.length} rule row${entry.rows.length === 1 ? '' : 's'}`;
  const body = html`<article class="call">
<p class="crumbs"><a href="${relUrl(page, 'index.html')}">Functions</a> › <a href="${relUrl(page, `index.html#${spec.arch}`)}">${spec.arch}</a></p>
<h1><code>${spec.name}</code> ${archBadge(spec.arch)}${spec.deprecated ? html` <span class="flag deprecated">deprecated</span>` : ''}</h1>
<p class="lead">${prose(spec.summary)}</p>
<dl class="facts">
<dt>Flavours</dt><dd>${flavours}</dd>
<dt>macOS availability</dt><dd>${spec.availability}</dd>
${spec.deprecated ? html`<dt>Deprecated</dt><dd>${prose(spec.deprecated)}</dd>` : ''}
<dt>Declared in</dt><dd><code>&lt;Hypervisor/${spec.header}&gt;</code></dd>
<dt>Thread rule</dt><dd><code>${spec.thread}</code>: ${prose(thread)}</dd>
${spec.runsGuest ? html`<dt>Guest execution</dt><dd>runs guest code${spec.async ? '; the JS API also has an async form another thread can cancel' : ''}</dd>` : ''}
<dt>Rules</dt><dd>${counts}: ${evidenceSummary(entry)}</dd>
<dt>Registry entry</dt><dd>${sourceLink(page, entry.loc)}${entry.loc.builder ? html` <span class="muted">(built by <code>${entry.loc.builder}</code>)</span>` : ''}</dd>
</dl>
<section id="declaration"><h2>C declaration</h2><pre class="c"><code>${cDeclaration(spec)}</code></pre></section>
<section id="parameters"><h2>Parameters</h2><div class="scroll">${paramsTable(entry)}</div>
<p class="muted">In the JS API every method takes the logical thread first and returns <code>{ ret, value }</code>; a wrong JS type throws a <code>TypeError</code> naming the parameter.</p></section>
<section id="rules"><h2>Results</h2>
<p>Rows are tried in order; the first whose precondition holds decides. <span class="ret ret-loose">not HV_SUCCESS</span> means Apple's code is not known: any code but <code>HV_SUCCESS</code>, and the state is unchanged. Evidence: ${(['header', 'tested', 'reported', 'unverified'] as const).map((e) => html`${evidenceBadge(e)} ${e} `)}(<a href="${relUrl(page, 'evidence.html')}">legend</a>).</p>
<div class="scroll">${rowsTable(entry)}</div></section>
${exitsSection(entry)}
${deviationsSection(entry)}
${exampleSection(entry)}
</article>`;
  return pageShell({
    path: page,
    title: `${spec.name} (${spec.arch})`,
    description: spec.summary,
    sidebar: sidebar(page, ctx, { arch: spec.arch, name: spec.name }),
    body,
  });
}
