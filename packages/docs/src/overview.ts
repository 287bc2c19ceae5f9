/**
 * The overview pages: the function index, the lifecycles, the exit-decoding tables, the return codes,
 * the rows still `unverified`, the evidence legend, and what each backend can and cannot show.
 * @module
 */
import {
  ALL_RETURNS,
  type Arch,
  type Evidence,
  envFromCapabilities,
  HV,
  HV_EXIT_REASON,
  HV_MEMORY,
  hvReturnName,
  VMX_REASON,
} from '@hvspec/spec';
import type { BackendInfo } from './backends.js';
import { type CallPageContext, causeCell, sidebar } from './call-page.js';
import { ARCHES, type CallEntry, type SiteData } from './data.js';
import { type Layout, x86FieldsShown } from './exits.js';
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
import type { Lifecycle } from './lifecycle.js';
import { lifecycleSvg } from './svg.js';

const EVIDENCE_ORDER: readonly Evidence[] = ['header', 'tested', 'reported', 'unverified'];
const hex = (v: number | bigint, pad = 0): string => `0x${BigInt(v).toString(16).padStart(pad, '0')}`;

function countBy(entries: readonly CallEntry[]): Map<Evidence, number> {
  const m = new Map<Evidence, number>();
  for (const e of entries) for (const { row } of e.rows) m.set(row.evidence, (m.get(row.evidence) ?? 0) + 1);
  return m;
}

function evidenceBar(counts: Map<Evidence, number>): Html {
  const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
  return html`<span class="bar" aria-hidden="true">${EVIDENCE_ORDER.filter((e) => counts.get(e)).map(
    (e) =>
      html`<span class="seg ev-${e}" style="width:${((100 * (counts.get(e) ?? 0)) / total).toFixed(1)}%"></span>`,
  )}</span>`;
}

function evidenceCounts(counts: Map<Evidence, number>): Html {
  return html`${EVIDENCE_ORDER.filter((e) => counts.get(e)).map(
    (e) => html`<span class="evcount">${evidenceBadge(e)}&nbsp;${counts.get(e)}</span> `,
  )}`;
}

/** The entry page: what the reference is, and every function of each flavour. */
export function renderIndex(data: SiteData, ctx: CallPageContext): Page {
  const path = 'index.html';
  const all = countBy(data.calls);
  const totalRows = [...all.values()].reduce((a, b) => a + b, 0);
  const perArch = (arch: Arch): readonly CallEntry[] => data.calls.filter((c) => c.spec.arch === arch);
  const body = html`<h1>The <code>hv_*</code> API, call by call</h1>
<p class="lead">Apple documents the success path of each Hypervisor.framework call and almost none of its errors. This reference is generated from hvspec's executable specification: for every modelled function of each flavour, every rule row — precondition, result code, out-value, state change — with the evidence for it and a link to the line of the spec that states it. It cannot drift from the spec: the spec is what the conformance tests run.</p>
<div class="stats">
<div><strong>${perArch('x86_64').length}</strong> x86_64 functions</div>
<div><strong>${perArch('arm64').length}</strong> arm64 functions</div>
<div><strong>${totalRows}</strong> rule rows ${evidenceBar(all)}</div>
<div>${evidenceCounts(all)}</div>
</div>
<p>How to read a page: rows are tried in order and the first that applies decides. A row whose code Apple does not document says <span class="ret ret-loose">not HV_SUCCESS</span> — any code but success, and nothing changes — instead of guessing. Each row carries an evidence tag: ${EVIDENCE_ORDER.map((e) => html`${evidenceBadge(e, true)} `)}(<a href="evidence.html">legend</a>). Each page ends with a trace that was replayed on the model when this site was built.</p>
<p>Overviews: <a href="lifecycle.html">VM and vCPU lifecycles</a> (diagrams derived from the rows) · <a href="exits.html">exit decoding</a> (VMX reasons and qualifications, arm64 exception classes and ISS fields) · <a href="codes.html">return codes</a> · <a href="unverified.html">rows still unverified</a> · <a href="backends.html">what each backend can show</a> · <a href="api/index.html">TypeScript API (typedoc)</a> · <a href="search.html">index of names</a>.</p>
${ARCHES.map(
  (arch) => html`<section id="${arch}"><h2>${archBadge(arch)} functions</h2>
<table class="index"><thead><tr><th>Function</th><th>Summary</th><th>Available</th><th>Thread</th><th>Rows</th><th>Evidence</th></tr></thead>
<tbody>${perArch(arch).map((c) => {
    const counts = countBy([c]);
    return html`<tr><td>${callLink(path, c.spec)}${c.spec.deprecated ? html` <span class="flag deprecated">deprecated</span>` : ''}</td><td class="summary">${prose(c.spec.summary)}</td><td class="nowrap">${c.spec.availability}</td><td><code>${c.spec.thread}</code></td><td class="num">${c.rows.length}</td><td class="nowrap">${evidenceBar(counts)} ${evidenceCounts(counts)}</td></tr>`;
  })}</tbody></table></section>`,
)}`;
  return pageShell({
    path,
    title: 'Functions',
    description: 'The hv_* API reference generated from the hvspec specification',
    sidebar: sidebar(path, ctx),
    body,
  });
}

function transitionTable(lc: Lifecycle, path: string): Html {
  const label = new Map(lc.states.map((s) => [s.id, s.label]));
  return html`<table class="transitions"><thead><tr><th>From</th><th>Call</th><th>Caller</th><th>Row</th><th>Returns</th><th>To</th></tr></thead>
<tbody>${lc.edges.map(
    (e) =>
      html`<tr${e.from === e.to ? raw(' class="stay"') : ''}><td>${label.get(e.from)}</td><td>${callLink(path, { arch: lc.arch, name: e.call })}</td><td>${e.caller ?? ''}</td><td><a href="${relUrl(path, `calls/${lc.arch}/${e.call}.html#row-${anchorId(e.row.id)}`)}"><code>${e.row.id}</code></a> ${evidenceBadge(e.row.evidence)}${e.row.dangerous ? html` <span class="flag danger">dangerous</span>` : ''}</td><td>${retBadge(e.row.ret, path)}</td><td>${e.from === e.to ? html`<span class="muted">unchanged</span>` : label.get(e.to)}</td></tr>`,
  )}</tbody></table>`;
}

/** The lifecycle diagrams, derived from the rows. */
export function renderLifecycle(data: SiteData): Page {
  const path = 'lifecycle.html';
  const body = html`<h1>VM and vCPU lifecycles</h1>
<p class="lead">These diagrams are not drawn by hand. The build starts from a process with no VM, makes <code>hv_vm_create</code>, <code>hv_vm_destroy</code>, <code>hv_vcpu_create</code>, <code>hv_vcpu_destroy</code>, <code>hv_vcpu_run</code> and the kick (the call that takes a list of vCPUs) in every reachable state, asks the spec which row decides each call, and applies that row's own state change. States are then grouped (a VM with one vCPU or two is "a VM with live vCPUs"). Arrows are rows that change the state; each box lists the rows that leave it unchanged (✗ not HV_SUCCESS, ? any code, ⚠ dangerous on real hardware). Every label links to its row.</p>
${ARCHES.map(
  (arch) => html`<section id="${arch}"><h2>${archBadge(arch)}</h2>
${data.lifecycles
  .filter((l) => l.arch === arch)
  .map(
    (
      l,
    ) => html`<figure id="${`${l.id}-${arch}`}"><figcaption>${l.title} <a class="muted" href="${`lifecycle-${l.id}-${arch}.svg`}">(SVG file)</a></figcaption>
<div class="diagram">${raw(lifecycleSvg(l, path))}</div>
<details><summary>Transitions as a table (${l.edges.length})</summary>${transitionTable(l, path)}</details></figure>`,
  )}</section>`,
)}`;
  return pageShell({ path, title: 'Lifecycles', body });
}

function layoutTable(
  l: Layout,
  name: (field: string) => string,
  fieldDocs: ReadonlyMap<string, string>,
): Html {
  return html`<section id="${l.id}"><h4>${l.title}</h4>
<p class="muted">Bit layout found by flipping each bit under <code>${l.decoder}</code> and noting which decoded field changes.</p>
<table class="layout"><thead><tr><th>Bits</th><th>Field</th><th>Meaning</th></tr></thead>
<tbody>${l.bits.map((b) => {
    const bits = b.hi === b.lo ? `${b.hi}` : `${b.hi}:${b.lo}`;
    const fields =
      b.fields.length === 0
        ? html`<span class="muted">not decoded</span>`
        : b.fields.map((f) =>
            f === '(valid)' ? html`<span class="muted">validity</span> ` : html`<code>${name(f)}</code> `,
          );
    const meaning = b.fields
      .map((f) =>
        f === '(valid)'
          ? 'flipping it makes the value undecodable (a validity or encoding bit)'
          : (fieldDocs.get(f) ?? ''),
      )
      .filter((x) => x !== '')
      .join(' ');
    return html`<tr${b.fields.length === 0 ? raw(' class="unused"') : ''}><td class="num">${bits}</td><td>${fields}</td><td>${prose(meaning)}</td></tr>`;
  })}</tbody></table>
${l.constants ? html`<p class="consts">The vocabulary's <code>${l.constants.vocabulary}</code>: ${Object.entries(l.constants.values).map(([n, v]) => html`<code>${n}</code>&nbsp;${hex(v)} `)}</p>` : ''}
${l.examples.length > 0 ? html`<p>Examples from the spec's predictions:</p><ul class="fields">${l.examples.map((e) => html`<li><code>${e.value}</code>: ${e.described}</li>`)}</ul>` : ''}</section>`;
}

const ARM_FIELD_NAMES = new Map([
  ['fnv', 'FnV'],
  ['wnr', 'WnR'],
  ['s1ptw', 'S1PTW'],
  ['crn', 'CRn'],
  ['crm', 'CRm'],
  ['imm16', 'imm16'],
  ['comment', 'comment'],
  ['read', 'Direction'],
]);
const armName = (f: string): string => ARM_FIELD_NAMES.get(f) ?? (f.startsWith('(') ? f : f.toUpperCase());

/** The exit-decoding tables. */
export function renderExits(
  data: SiteData,
  fieldDocs: { readonly x86: ReadonlyMap<string, string>; readonly arm64: ReadonlyMap<string, string> },
): Page {
  const path = 'exits.html';
  const x86Kinds = data.exitKinds.x86_64;
  const armKinds = data.exitKinds.arm64;
  const never = new Map<number, string[]>();
  for (const b of data.backends)
    for (const d of b.deviations)
      for (const r of d.exitReasons ?? []) never.set(r, [...(never.get(r) ?? []), `${b.backend} (${d.id})`]);
  const kindsTable = (
    arch: Arch,
    kinds: typeof x86Kinds,
  ): Html => html`<table class="exits"><thead><tr><th>Exit kind</th><th>Reason</th><th>Caused by</th><th>Decoded example</th></tr></thead>
<tbody>${kinds.map(
    (k) =>
      html`<tr id="kind-${anchorId(k.kind)}"><td><code>${k.kind}</code></td><td>${k.reason ? html`<a href="#${arch === 'x86_64' ? k.reason : `reason-${k.reason}`}"><code>${k.reason}</code></a>` : ''}</td><td>${causeCell(k)}</td><td><ul class="fields">${k.fields.map((f) => html`<li><code>${f}</code></li>`)}</ul></td></tr>`,
  )}</tbody></table>`;
  const body = html`<h1>Exit decoding</h1>
<p class="lead">What <code>hv_vcpu_run</code> leaves for the VMM and how to read it: the exit kinds the spec's guest programs produce (each with an example the spec predicts), the exit reasons, and the layouts of the fields a VMM decodes. The layouts come from the spec's own decoders (<code>decodeIoQualification</code>, <code>decodeEptQualification</code>, <code>decodeInterruptionInfo</code>, <code>decodeEsr</code>); the words are the exit judge's (<code>describeQualification</code>, <code>describeEsr</code>), which is also what a failing conformance run prints.</p>
<ul class="toc"><li><a href="#x86_64-kinds">x86_64 exit kinds</a></li><li><a href="#x86_64-reasons">VMX basic exit reasons</a></li><li><a href="#x86_64-layouts">Qualification layouts</a></li><li><a href="#arm64-kinds">arm64 exit kinds</a></li><li><a href="#arm64-reasons">arm64 exit reasons</a></li><li><a href="#arm64-classes">Exception classes</a></li><li><a href="#arm64-layouts">ISS layouts</a></li></ul>
<section id="x86_64"><h2>${archBadge('x86_64')}</h2>
<p>The VMM reads the exit through <code>hv_vmx_vcpu_read_vmcs</code>; the spec predicts ${x86FieldsShown(x86Kinds).map((f, i) => html`${i > 0 ? ', ' : ''}<code>${f}</code>`)}. The basic reason is the low 16 bits of <code>VMCS_RO_EXIT_REASON</code> (bit 31 is a VM-entry failure); RIP stays at the exiting instruction.</p>
<h3 id="x86_64-kinds">Exit kinds of the spec's guest programs</h3>${kindsTable('x86_64', x86Kinds)}
<h3 id="x86_64-reasons">VMX basic exit reasons</h3>
<table class="reasons"><thead><tr><th>Reason</th><th>Name</th><th>Produced by the spec's programs</th><th>Never reported by</th></tr></thead>
<tbody>${Object.entries(VMX_REASON).map(([name, value]) => {
    const kinds = x86Kinds.filter((k) => k.reasonValue === value);
    return html`<tr id="${name}"><td class="num">${value}</td><td><code>${name}</code></td><td>${kinds.map((k) => html`<a href="#kind-${anchorId(k.kind)}"><code>${k.kind}</code></a> `)}</td><td>${(never.get(value) ?? []).map((n) => html`<span class="flag host">${n}</span> `)}</td></tr>`;
  })}</tbody></table>
<h3 id="x86_64-layouts">Qualification and interruption-information layouts</h3>
${data.layouts.x86_64.map((l) => layoutTable(l, (f) => f, fieldDocs.x86))}
</section>
<section id="arm64"><h2>${archBadge('arm64')}</h2>
<p>Every run returns the exit record <code>hv_vcpu_exit_t</code>: <code>reason</code> and, for exceptions, <code>exception.syndrome</code> (ESR_EL2), <code>virtual_address</code> (FAR) and <code>physical_address</code> (IPA). PC stays at the instruction for aborts, WFx and trapped system registers, and points past an HVC. Exceptions the guest takes itself at EL1 (the <code>arm64.el1.*</code> kinds) do not exit on their own: the spec's programs install vectors that report each one with <code>hvc #(0xfe00 | slot)</code>, and the VMM reads <code>ESR_EL1</code>, <code>ELR_EL1</code>, <code>FAR_EL1</code> and <code>SPSR_EL1</code> back.</p>
<h3 id="arm64-kinds">Exit kinds of the spec's guest programs</h3>${kindsTable('arm64', armKinds)}
<h3 id="arm64-reasons">Exit reasons (<code>hv_exit_reason_t</code>)</h3>
<table class="reasons"><thead><tr><th>Value</th><th>Name</th><th>Produced by the spec's programs</th></tr></thead>
<tbody>${Object.entries(HV_EXIT_REASON).map(([name, value]) => {
    const kinds = armKinds.filter((k) => k.reasonValue === value);
    return html`<tr id="reason-${name}"><td class="num">${value}</td><td><code>${name}</code></td><td>${kinds.map((k) => html`<a href="#kind-${anchorId(k.kind)}"><code>${k.kind}</code></a> `)}</td></tr>`;
  })}</tbody></table>
<h3 id="arm64-classes">Exception classes (ESR_EL2.EC, bits 31:26)</h3>
<table class="reasons"><thead><tr><th>EC</th><th>Vocabulary</th><th>Meaning</th><th>ISS decoded by the spec</th><th>Produced by the spec's programs</th></tr></thead>
<tbody>${data.exceptionClasses.map((c) => {
    const kinds = armKinds.filter((k) => k.ec === c.ec && !k.guestTaken);
    const guest = armKinds.filter((k) => k.guestEc === c.ec);
    const layout = data.layouts.arm64.find((l) => l.id === `arm64-iss-${hex(c.ec)}`);
    return html`<tr id="ec-${hex(c.ec)}"><td class="num"><code>${hex(c.ec, 2)}</code></td><td><code>ESR_EC.${c.id}</code></td><td>${c.name}</td><td>${layout ? html`<a href="#${layout.id}">layout</a>` : html`<span class="muted">—</span>`}</td><td>${kinds.map((k) => html`<a href="#kind-${anchorId(k.kind)}"><code>${k.kind}</code></a> `)}${guest.length > 0 ? html`<div class="muted">taken by the guest at EL1 (ESR_EL1): ${guest.map((k) => html`<a href="#kind-${anchorId(k.kind)}"><code>${k.kind}</code></a> `)}</div>` : ''}</td></tr>`;
  })}</tbody></table>
<h3 id="arm64-layouts">ISS layouts</h3>
<p>Common to every class: EC in bits 31:26, IL (32-bit instruction) in bit 25, the ISS in bits 24:0.</p>
${data.layouts.arm64.map((l) => layoutTable(l, armName, fieldDocs.arm64))}
</section>`;
  return pageShell({ path, title: 'Exit decoding', body });
}

/** Every return code and the rows that return it. */
export function renderCodes(data: SiteData, ctx: CallPageContext): Page {
  const path = 'codes.html';
  const loose = data.calls.flatMap((c) =>
    c.rows.filter((r) => r.row.ret.kind === 'not-success').map(() => c),
  );
  const body = html`<h1>Return codes</h1>
<p class="lead"><code>hv_return_t</code> is <code>0xfae94000 | code</code> (a Mach error: negative as a signed 32-bit C value). hvspec keeps codes unsigned and compares them as such. Below, every code and the rows that return exactly it; ${loose.length} further rows only say <span class="ret ret-loose">not HV_SUCCESS</span> because Apple's code is not known (<a href="unverified.html">unverified rows</a>).</p>
<table class="codes"><colgroup><col><col><col><col style="width:34%"><col style="width:30%"></colgroup><thead><tr><th>Code</th><th>Value</th><th>Signed (C)</th><th>Meaning</th><th>Rows that return it</th></tr></thead>
<tbody>${ALL_RETURNS.map((name) => {
    const value = HV[name];
    const doc = data.codes.find((c) => c.name === name)?.doc ?? '';
    const rows = data.calls.flatMap((c) =>
      c.rows.filter((r) => r.row.ret.kind === 'code' && r.row.ret.code === value).map((r) => ({ c, r })),
    );
    return html`<tr id="${name}"><td><code class="code-name">${name}</code></td><td><code>${hex(value, 8)}</code></td><td><code>${value | 0}</code></td><td>${prose(doc)}</td><td>${
      rows.length === 0
        ? html`<span class="muted">no row names it exactly</span>`
        : html`<details${rows.length <= 6 ? raw(' open') : ''}><summary>${rows.length} row${rows.length === 1 ? '' : 's'}</summary><ul class="rowlist">${rows.map(
            ({ c, r }) =>
              html`<li>${archBadge(c.spec.arch)} <a href="${relUrl(path, `${c.page}#row-${anchorId(r.row.id)}`)}"><code>${c.spec.name}.${r.row.id}</code></a> ${evidenceBadge(r.row.evidence)}</li>`,
          )}</ul></details>`
    }</td></tr>`;
  })}</tbody></table>
<p class="muted">Any other value is printed in hex (<code>${hvReturnName(0xfae94099)}</code>).</p>`;
  return pageShell({ path, title: 'Return codes', sidebar: sidebar(path, ctx), body });
}

/** Every row still `unverified`, grouped by function. */
export function renderUnverified(data: SiteData, ctx: CallPageContext): Page {
  const path = 'unverified.html';
  const groups = data.calls
    .map((c) => ({ c, rows: c.rows.filter((r) => r.row.evidence === 'unverified') }))
    .filter((g) => g.rows.length > 0);
  const total = groups.reduce((a, g) => a + g.rows.length, 0);
  const body = html`<h1>Rows still unverified</h1>
<p class="lead">${total} rows in ${groups.length} function pages are inference (<span class="ev ev-unverified">U</span>): nobody has yet observed the framework's answer. Most say only <span class="ret ret-loose">not HV_SUCCESS</span>. A Mac owner can settle them: <code>npx hvspec check --backend native --arch &lt;flavour&gt;</code> runs them on the real framework, and <code>npx hvspec check --diff model,native</code> lists the codes it actually returns where the spec is loose. Each observation can promote a row to <span class="ev ev-tested">T</span> with its exact code.</p>
${ARCHES.map(
  (arch) => html`<section id="${arch}"><h2>${archBadge(arch)}</h2>
${groups
  .filter((g) => g.c.spec.arch === arch)
  .map(
    (
      g,
    ) => html`<section class="group" id="${`${arch}-${g.c.spec.name}`}"><h3>${callLink(path, g.c.spec)} <span class="muted">${g.rows.length} of ${g.c.rows.length} rows</span></h3>
<table class="rows compact"><thead><tr><th>Rule</th><th>Precondition</th><th>Returns</th><th>Why it is unverified</th><th>Stated at</th></tr></thead>
<tbody>${g.rows.map(
      ({ row, loc }) =>
        html`<tr><td><a href="${relUrl(path, `${g.c.page}#row-${anchorId(row.id)}`)}"><code>${row.id}</code></a>${row.dangerous ? html` <span class="flag danger">dangerous</span>` : ''}</td><td>${prose(row.when)}</td><td>${retBadge(row.ret, path)}</td><td>${prose(row.source)}</td><td>${sourceLink(path, loc)}</td></tr>`,
    )}</tbody></table></section>`,
  )}</section>`,
)}`;
  return pageShell({ path, title: 'Unverified rows', sidebar: sidebar(path, ctx), body });
}

/** The evidence legend and the counts. */
export function renderEvidence(data: SiteData, ctx: CallPageContext): Page {
  const path = 'evidence.html';
  const body = html`<h1>Evidence</h1>
<p class="lead">Every row says how we know it, with the tag the project's fact sheet uses and the source it cites (a section of <code>hvf-facts.md</code> and where that fact comes from). Where Apple's code is unknown, a row does not guess: it says <span class="ret ret-loose">not HV_SUCCESS</span>, and a backend is judged by that loose rule.</p>
<table class="legend"><thead><tr><th>Tag</th><th>Level</th><th>Meaning</th>${ARCHES.map((a) => html`<th>${a} rows</th>`)}</tr></thead>
<tbody>${EVIDENCE_ORDER.map((e) => {
    const per = ARCHES.map((a) => countBy(data.calls.filter((c) => c.spec.arch === a)).get(e) ?? 0);
    return html`<tr id="${e}"><td>${evidenceBadge(e)}</td><td><code>${e}</code></td><td>${prose(data.evidence.get(e) ?? '')}</td>${per.map((n) => html`<td class="num">${n}</td>`)}</tr>`;
  })}</tbody></table>
<h2>By function</h2>
${ARCHES.map(
  (
    arch,
  ) => html`<h3>${archBadge(arch)}</h3><table class="index"><thead><tr><th>Function</th>${EVIDENCE_ORDER.map((e) => html`<th>${evidenceBadge(e)}</th>`)}<th>Evidence mix</th></tr></thead>
<tbody>${data.calls
    .filter((c) => c.spec.arch === arch)
    .map((c) => {
      const counts = countBy([c]);
      return html`<tr><td>${callLink(path, c.spec)}</td>${EVIDENCE_ORDER.map((e) => html`<td class="num">${counts.get(e) ?? ''}</td>`)}<td>${evidenceBar(counts)}</td></tr>`;
    })}</tbody></table>`,
)}`;
  return pageShell({ path, title: 'Evidence', sidebar: sidebar(path, ctx), body });
}

const FLAG_NAMES = (flags: number): string =>
  flags === 0 ? 'NONE' : (['READ', 'WRITE', 'EXEC'] as const).filter((n) => flags & HV_MEMORY[n]).join('|');

/** The permission sets of a mask, as the API names them. */
function flagList(flags: readonly number[]): Html {
  return html`${flags.map((f) => html`<code>${FLAG_NAMES(f)}</code> `)}`;
}

function vmxReasonLink(r: number): Html {
  const name = Object.entries(VMX_REASON).find(([, v]) => v === r)?.[0];
  return name ? html`<a href="exits.html#${name}"><code>${name}</code></a> ` : html`<code>${r}</code> `;
}

/** The section id of a backend: `model-x86_64`, `native-kvm-x86_64`, `el2-arm64`, `native`. */
export function backendAnchor(b: BackendInfo): string {
  return b.arch ? `${b.backend}-${b.arch}` : b.backend;
}

/** The rows and deviations a backend's section lists: what it declared and what follows from it. */
function backendSection(data: SiteData, b: BackendInfo, path: string): Html {
  const caps = b.capabilities;
  const env = caps ? envFromCapabilities(caps) : undefined;
  const rowsOf = (arch: Arch | undefined) => data.calls.filter((c) => c.spec.arch === arch);
  const unreachable = env
    ? rowsOf(b.arch).flatMap((c) =>
        c.rows.filter((r) => r.row.requires && !r.row.requires(env)).map((r) => ({ c, r })),
      )
    : [];
  const dangerous =
    caps && b.backend !== 'model'
      ? rowsOf(b.arch).flatMap((c) => c.rows.filter((r) => r.row.dangerous).map((r) => ({ c, r })))
      : [];
  const notEnforced = caps
    ? [0, 1, 2, 3, 4, 5, 6, 7].filter((f) => !caps.enforcedPermissions.includes(f))
    : [];
  const rowLink = (c: CallEntry, id: string): Html =>
    html`<a href="${relUrl(path, `${c.page}#row-${anchorId(id)}`)}"><code>${c.spec.name}.${id}</code></a>`;
  const facts = caps
    ? html`<dl class="facts"><dt>Guest execution</dt><dd>${caps.guestExecution ? 'yes: hv_vcpu_run executes guest code' : 'no'}</dd>
<dt>Page size</dt><dd>${caps.pageSize} bytes</dd><dt>vCPUs per VM</dt><dd>${caps.maxVcpus}</dd>
${caps.maxAddressSpaces !== undefined ? html`<dt>Address spaces</dt><dd>${caps.maxAddressSpaces}</dd>` : ''}
${caps.maxIpaSize !== undefined ? html`<dt>IPA size</dt><dd>default ${caps.defaultIpaSize ?? '?'} bits, at most ${caps.maxIpaSize}; 4 KiB granule ${caps.ipaGranule4k ? 'available' : 'not available'}</dd>` : ''}
<dt>Permissions enforced exactly</dt><dd>${flagList(caps.enforcedPermissions)}</dd>
${notEnforced.length > 0 ? html`<dt>Not enforced</dt><dd>${flagList(notEnforced)} — a guest access to such memory is <em>unsupported</em> here, never a pass</dd>` : ''}
</dl>`
    : html`<p class="warn">Not available on the machine that built this site: ${prose(b.unavailable ?? 'it did not load')}.${b.fix ? html` To get it: <code>${b.fix}</code>.` : ''} Its capabilities and declared deviations are shown on a site built where it loads (<code>npm run docs</code> there).</p>`;
  const deviations = !caps
    ? ''
    : b.deviations.length === 0
      ? html`<h3>Deviations</h3><p>None declared: everything the spec predicts, this backend must do.</p>`
      : html`<h3>Deviations</h3><table class="deviations"><thead><tr><th>Id</th><th>What differs</th><th>Touches</th></tr></thead><tbody>${b.deviations.map(
          (d) =>
            html`<tr id="dev-${anchorId(d.id)}"><td><code>${d.id}</code></td><td>${prose(d.description)}${d.permissions ? html`<div class="muted">permission sets: ${flagList(d.permissions)}</div>` : ''}${d.exitReasons ? html`<div class="muted">exit reasons never reported: ${d.exitReasons.map(vmxReasonLink)}</div>` : ''}</td><td>${rowsOf(
              b.arch,
            )
              .filter((c) => c.deviations.some((x) => x.deviation.id === d.id && x.backend === b))
              .map((c) => html`${callLink(path, c.spec)} `)}</td></tr>`,
        )}</tbody></table>`;
  return html`<section class="backend" id="${backendAnchor(b)}"><h2><code>${b.backend}</code> ${b.arch ? archBadge(b.arch) : html`<span class="muted">(the host's flavour)</span>`}</h2>
<p>${prose(b.what)}.</p>
<p class="muted">From ${b.source}.</p>
${facts}
${deviations}
${unreachable.length > 0 ? html`<h3>Rows this backend's host cannot reach</h3><ul class="rowlist">${unreachable.map(({ c, r }) => html`<li>${rowLink(c, r.row.id)}: ${prose(r.row.when)}</li>`)}</ul>` : ''}
${dangerous.length > 0 ? html`<h3>Calls a run on this backend never makes</h3><p>Reported to panic a real host, so the harness makes them only on the model.</p><details><summary>${dangerous.length} rows</summary><ul class="rowlist">${dangerous.map(({ c, r }) => html`<li>${rowLink(c, r.row.id)}: ${prose(r.row.dangerous ?? '')}</li>`)}</ul></details>` : ''}
${
  b.backend === 'model'
    ? html`<p>The model shows every row, including the dangerous ones, and executes guest code with its interpreters; an instruction outside their subsets stops the vCPU with a documented unsupported-instruction exit instead of a guess. Touched by no deviation, it is the reference the others are compared with (${rowsOf(
        b.arch,
      )
        .filter((c) => c.spec.runsGuest)
        .map((c) => html`${callLink(path, c.spec)} `)}run its guest programs).</p>`
    : ''
}
</section>`;
}

/** What each backend declares, and what it therefore can and cannot show. */
export function renderBackends(data: SiteData, ctx: CallPageContext): Page {
  const path = 'backends.html';
  const hvfLoaded = data.backends.some((b) => b.backend === 'native-hvf');
  const body = html`<h1>Backends: what each can and cannot show</h1>
<p class="lead">The same conformance harness and the same traces run on every backend. A backend declares its capabilities — guest execution, the memory permission sets it enforces, its limits — and every way it differs from the spec (a deviation); a run never judges a backend on what it declared. This page shows those declarations as each backend made them when it loaded on the machine that built the site.</p>
<table class="index"><thead><tr><th>Backend</th><th>Flavour</th><th>Here</th><th>Guest execution</th><th>Permission sets enforced</th><th>Deviations</th></tr></thead>
<tbody>${data.backends.map((b) => {
    const caps = b.capabilities;
    return html`<tr><td><a href="#${backendAnchor(b)}"><code>${b.backend}</code></a></td><td>${b.arch ? archBadge(b.arch) : html`<span class="muted">the host's</span>`}</td><td>${caps ? 'loaded' : html`<span class="muted">not available</span>`}</td><td>${caps ? (caps.guestExecution ? 'yes' : 'no') : ''}</td><td>${caps ? `${caps.enforcedPermissions.length} of 8` : ''}</td><td class="num">${caps ? b.deviations.length : html`<span class="muted">shown where it loads</span>`}</td></tr>`;
  })}</tbody></table>
${data.backends.map((b) => backendSection(data, b, path))}
${hvfLoaded ? '' : html`<section id="native-hvf"><h2><code>native-hvf</code></h2><p>Hypervisor.framework itself, through the same addon, on macOS (both flavours). It is the oracle: it declares no deviations. Its code is compiled on Linux CI but has not been run by this project (see the README, "What has not been run on a Mac").</p></section>`}`;
  return pageShell({ path, title: 'Backends', sidebar: sidebar(path, ctx), body });
}
