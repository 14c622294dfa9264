// DOM helpers. Text always goes in as text nodes (never as HTML), so nothing a job, an agent
// or a user wrote can become markup.

/// h('a', {href: '#/'}, 'Home', child…): an element; `on*` attributes become listeners,
/// `false`/`null`/`undefined` attributes and children are left out.
export function h(tag, attrs = {}, ...children) {
  const svg = tag === 'svg' || h.inSvg.has(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value' && !svg) el.value = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}
h.inSvg = new Set(['rect', 'g', 'line', 'text', 'title', 'path']);

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === false || child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/// Replaces what `el` holds.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function ago(iso) {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/// Every state a job can be in, in the order of its life.
export const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'];

/// A table of `headings` and `rows` (arrays of cells: text or nodes); `empty` when no rows.
export function table(headings, rows, empty = 'None yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))),
  );
}

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, 'data-state': state }, state);
}

/// Shows a short message in the corner for a few seconds.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  box.className = `toast show ${kind}`;
  box.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.className = 'toast'), 5000);
}

/// A form's fields as an object (`name` → value).
export function fields(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/// A labelled form field.
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

/// An error shown in a form, read out by screen readers.
export function errorBox() {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

export function showError(box, err) {
  box.hidden = false;
  box.textContent = err ? err.message : '';
}
