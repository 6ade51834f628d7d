// Small DOM helpers: elements are built with properties and text nodes (never HTML strings).

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * `el('button', { type: 'button', class: 'primary', onclick }, 'Save')`. `on*` functions become listeners,
 * booleans and non-string values are set as properties, `value` is set after the children (for <select>).
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'value') value = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') for (const [p, x] of Object.entries(v)) node.style.setProperty(p, x);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  if (value !== undefined) node.value = value;
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') for (const [p, x] of Object.entries(v)) node.style.setProperty(p, x);
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

/** Replaces a node's children. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Says `message` to screen readers (polite). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  window.setTimeout(() => {
    region.textContent = message;
  }, 30);
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : '—';
}

/** A compact duration: "2 d 3 h", "3 h 20 min", "5 min". */
export function formatDuration(ms) {
  const minutes = Math.max(0, Math.round(Math.abs(ms) / 60000));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  return `${m} min`;
}

/** A due-date badge: overdue (red), due within 12 h (amber), later (green); the date itself for closed tasks. */
export function dueBadge(dueAt, status = 'open', now = Date.now()) {
  const t = Date.parse(dueAt);
  const time = el('time', { datetime: dueAt, title: formatDateTime(dueAt) });
  if (status !== 'open') {
    time.textContent = formatDateTime(dueAt);
    return el('span', { class: 'due' }, 'Was due ', time);
  }
  time.textContent = formatDuration(t - now);
  if (t < now) return el('span', { class: 'badge badge-overdue' }, 'Overdue by ', time);
  return el(
    'span',
    { class: t - now < 12 * 3600000 ? 'badge badge-soon' : 'badge badge-ok' },
    'Due in ',
    time,
  );
}

/** The first 8 characters of an id, with the whole id as a tooltip. */
export function shortId(id) {
  return el('code', { class: 'id', title: id }, String(id).slice(0, 8));
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A heading that takes focus when a view opens (screen readers hear where they are). */
export function viewHeading(text, level = 'h1') {
  return el(level, { tabindex: '-1', class: 'view-title' }, text);
}
