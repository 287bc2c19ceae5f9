// hvspec reference: client-side search over the prebuilt index (search-index.js sets window.HVSPEC_SEARCH).
// Without scripts the search box submits to search.html, which lists every name as a plain link.
(() => {
  const root = document.body.getAttribute('data-root') || '';
  const entries = () => window.HVSPEC_SEARCH || [];

  /** Ranks an entry for a query: lower is better, -1 when it does not match. */
  function rank(e, terms, whole) {
    const t = e.t.toLowerCase();
    const all = `${t} ${e.d.toLowerCase()} ${e.a || ''} ${e.k}`;
    if (!terms.every((w) => all.includes(w))) return -1;
    if (t === whole) return 0;
    if (t.startsWith(whole)) return 1 + t.length / 1000;
    if (t.includes(whole)) return 2 + t.length / 1000;
    if (terms.every((w) => t.includes(w))) return 3;
    return 4;
  }

  /** The best matches of a query, best first. */
  function search(query, limit) {
    const whole = query.trim().toLowerCase();
    if (!whole) return [];
    const terms = whole.split(/\s+/);
    const scored = [];
    for (const e of entries()) {
      const r = rank(e, terms, whole);
      if (r >= 0) scored.push([r, e]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1].t.localeCompare(b[1].t));
    return scored.slice(0, limit).map((s) => s[1]);
  }

  function item(e) {
    const a = document.createElement('a');
    a.href = root + e.u;
    a.className = 'result';
    const k = document.createElement('span');
    k.className = 'k';
    k.textContent = e.a ? `${e.k} · ${e.a}` : e.k;
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = e.t;
    const d = document.createElement('span');
    d.className = 'd';
    d.textContent = e.d;
    a.append(k, t, d);
    return a;
  }

  // The search box in the header: results as you type, arrows and Enter to pick.
  const input = document.getElementById('search-input');
  const box = document.getElementById('search-results');
  if (input && box) {
    let active = -1;
    const links = () => Array.from(box.querySelectorAll('a.result'));
    const show = () => {
      const found = search(input.value, 12);
      box.replaceChildren();
      active = -1;
      if (!input.value.trim()) {
        box.hidden = true;
        return;
      }
      if (found.length === 0) {
        const none = document.createElement('div');
        none.className = 'none';
        none.textContent = 'Nothing found.';
        box.append(none);
      } else {
        for (const e of found) box.append(item(e));
      }
      box.hidden = false;
    };
    const mark = () => {
      for (const [i, l] of links().entries()) l.classList.toggle('active', i === active);
    };
    input.addEventListener('input', show);
    input.addEventListener('focus', () => {
      if (input.value.trim()) show();
    });
    input.addEventListener('keydown', (ev) => {
      const ls = links();
      if (ev.key === 'ArrowDown' && ls.length) {
        active = (active + 1) % ls.length;
        mark();
        ev.preventDefault();
      } else if (ev.key === 'ArrowUp' && ls.length) {
        active = (active - 1 + ls.length) % ls.length;
        mark();
        ev.preventDefault();
      } else if (ev.key === 'Enter' && ls.length) {
        ev.preventDefault();
        window.location.href = ls[Math.max(active, 0)].href;
      } else if (ev.key === 'Escape') {
        box.hidden = true;
      }
    });
    document.addEventListener('click', (ev) => {
      if (!box.contains(ev.target) && ev.target !== input) box.hidden = true;
    });
  }

  // The search page: results for ?q=, above the full list of names.
  const pageInput = document.getElementById('search-page-input');
  const pageResults = document.getElementById('search-page-results');
  if (pageInput && pageResults) {
    const render = () => {
      const q = pageInput.value;
      pageResults.replaceChildren();
      if (!q.trim()) return;
      const found = search(q, 100);
      const h = document.createElement('h2');
      h.textContent = `${found.length === 100 ? '100+' : found.length} result${found.length === 1 ? '' : 's'} for “${q}”`;
      const ol = document.createElement('ol');
      for (const e of found) {
        const li = document.createElement('li');
        li.append(item(e));
        ol.append(li);
      }
      pageResults.append(h, ol);
    };
    const q = new URLSearchParams(window.location.search).get('q');
    if (q) pageInput.value = q;
    pageInput.addEventListener('input', render);
    render();
  }
})();
