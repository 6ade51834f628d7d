// Managers: the live board (board.js), overdue tasks (reassign, extend), scans by stage with their Temporal UI links,
// quarantined inputs.
import { api, problemText } from './api.js';
import { renderBoard } from './board.js';
import { dueBadge, el, formatBytes, formatDateTime, replace, shortId, viewHeading } from './dom.js';
import { openTaskAction } from './task-actions.js';

const TABS = [
  ['board', 'Board'],
  ['overdue', 'Overdue tasks'],
  ['scans', 'Scans'],
  ['quarantine', 'Quarantine'],
];

/** The value lists (stages, splits…) as the API serves them (`GET /meta`, declared once in src/domain); fetched once. */
let meta;
function valueLists(signal) {
  if (!meta) meta = api('/meta', { signal }).catch((e) => {
    meta = undefined;
    throw e;
  });
  return meta;
}

function th(text) {
  return el('th', { scope: 'col' }, text);
}

/** A paged list: `fetchPage(cursor)` → { items, nextCursor }; `row(item)` → <tr>. */
function pagedTable({ caption, columns, fetchPage, row, empty, signal }) {
  const tbody = el('tbody');
  const table = el(
    'table',
    { class: 'list' },
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', null, el('tr', null, columns.map(th))),
    tbody,
  );
  const status = el('p', { class: 'list-status', role: 'status' }, 'Loading…');
  const more = el('button', { type: 'button', class: 'button-quiet', hidden: true }, 'Load more');
  let cursor = null;
  let count = 0;
  async function load() {
    more.disabled = true;
    try {
      const page = await fetchPage(cursor, signal);
      for (const item of page.items) tbody.append(row(item));
      count += page.items.length;
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.textContent = count === 0 ? empty : `${count} shown${cursor ? '; more available' : ''}.`;
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = `Could not load: ${problemText(e)}`;
      status.classList.add('error');
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load());
  return { node: el('div', { class: 'table-wrap' }, table, status, more), load, tbody, status };
}

export async function renderManage(ctx, tab) {
  if (!TABS.some(([t]) => t === tab)) tab = 'overdue';
  const title = TABS.find(([t]) => t === tab)[1];
  document.title = `${title} · ReadFlow`;
  const abort = new AbortController();
  ctx.onCleanup(() => abort.abort());

  const heading = viewHeading(title);
  const tabs = el(
    'nav',
    { class: 'tabs', 'aria-label': 'Manager views' },
    TABS.map(([t, label]) =>
      el('a', { href: `#/manage/${t}`, 'aria-current': t === tab ? 'page' : undefined }, label),
    ),
  );
  const refresh = el(
    'button',
    { type: 'button', class: 'button-quiet', onclick: () => ctx.navigate(window.location.hash) },
    'Refresh',
  );
  const body = el('div');
  replace(
    ctx.main,
    el('section', { class: 'view' }, el('div', { class: 'view-head' }, heading, refresh), tabs, body),
  );
  heading.focus();
  if (tab === 'board') await renderBoard(body, ctx, abort.signal);
  else if (tab === 'overdue') await overdue(body, abort.signal);
  else if (tab === 'scans') await scans(body, ctx, abort.signal);
  else await quarantine(body, abort.signal);
}

// ---- overdue tasks ------------------------------------------------------------------------------------------
async function overdue(body, signal) {
  const notice = el('p', { class: 'notice', role: 'status' });
  const readersList = el('datalist', { id: 'readers-list' });
  const now = Date.now();
  const table = pagedTable({
    caption: 'Open tasks past their deadline, oldest deadline first',
    columns: ['Task', 'Scan', 'Reader', 'Kind', 'Due', 'Actions'],
    empty: 'No overdue tasks.',
    signal,
    fetchPage: (cursor) => api('/tasks', { query: { overdue: true, limit: 50, cursor }, signal }),
    row: (t) => {
      const tr = el(
        'tr',
        { dataset: { taskId: t.taskId } },
        el('td', null, shortId(t.taskId)),
        el('td', null, el('code', { class: 'id' }, t.scanId)),
        el('td', null, t.readerId),
        el('td', null, t.role === 'reviewer' ? `Review (round ${t.round})` : `Reading (slot ${t.slot})`),
        el('td', null, dueBadge(t.dueAt, t.status, now)),
        el(
          'td',
          { class: 'row-actions' },
          el(
            'button',
            {
              type: 'button',
              class: 'button-quiet',
              'aria-label': `Reassign task ${t.taskId.slice(0, 8)}`,
              onclick: () => openAction(tr, t, 'reassign'),
            },
            'Reassign',
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'button-quiet',
              'aria-label': `Extend the deadline of task ${t.taskId.slice(0, 8)}`,
              onclick: () => openAction(tr, t, 'extend'),
            },
            'Extend',
          ),
        ),
      );
      return tr;
    },
  });
  replace(
    body,
    el(
      'p',
      { class: 'hint' },
      'Reassign gives the task to another reader (the next eligible one when left blank); Extend moves its deadline.',
    ),
    notice,
    readersList,
    table.node,
  );
  void api('/readers', { query: { role: 'radiologist', limit: 200 }, signal })
    .then((page) =>
      replace(
        readersList,
        ...page.items.filter((r) => r.active).map((r) => el('option', { value: r.id }, r.displayName)),
      ),
    )
    .catch(() => undefined);

  function openAction(tr, t, kind) {
    const previous = tr.nextElementSibling;
    if (previous && previous.classList.contains('action-row')) previous.remove();
    openTaskAction(tr, t, kind, {
      colspan: 6,
      readersList: 'readers-list',
      notice,
      signal,
      onCancel: () => tr.querySelector('button')?.focus(),
      onDone: () => {
        notice.tabIndex = -1;
        notice.focus();
      },
    });
  }

  await table.load();
}

// ---- scans ------------------------------------------------------------------------------------------------
async function scans(body, ctx, signal) {
  const stage = ctx.params.get('stage') || '';
  const split = ctx.params.get('split') || '';
  const { stages, splits } = await valueLists(signal);
  const stageSelect = el(
    'select',
    { id: 'scan-stage', value: stages.includes(stage) ? stage : '' },
    el('option', { value: '' }, 'All stages'),
    stages.map((s) => el('option', { value: s }, s)),
  );
  const splitSelect = el(
    'select',
    { id: 'scan-split', value: splits.includes(split) ? split : '' },
    el('option', { value: '' }, 'Both splits'),
    splits.map((s) => el('option', { value: s }, s)),
  );
  const apply = () => {
    const q = new URLSearchParams();
    if (stageSelect.value) q.set('stage', stageSelect.value);
    if (splitSelect.value) q.set('split', splitSelect.value);
    const qs = q.toString();
    ctx.navigate(`#/manage/scans${qs ? `?${qs}` : ''}`);
  };
  stageSelect.addEventListener('change', apply);
  splitSelect.addEventListener('change', apply);
  const filters = el(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter scans',
      onsubmit: (ev) => {
        ev.preventDefault();
        apply();
      },
    },
    el('div', { class: 'field-inline' }, el('label', { for: 'scan-stage' }, 'Stage'), stageSelect),
    el('div', { class: 'field-inline' }, el('label', { for: 'scan-split' }, 'Split'), splitSelect),
  );
  const table = pagedTable({
    caption: 'Scans, newest first',
    columns: ['Scan', 'Stage', 'Split', 'Policy', 'Updated', 'Note', 'Workflow'],
    empty: stageSelect.value ? `No scans in stage ${stageSelect.value}.` : 'No scans yet.',
    signal,
    fetchPage: (cursor) =>
      api('/scans', {
        query: { stage: stageSelect.value, split: splitSelect.value, limit: 50, cursor },
        signal,
      }),
    row: (s) =>
      el(
        'tr',
        { dataset: { scanId: s.scanId } },
        el('td', null, el('code', { class: 'id' }, s.scanId)),
        el('td', null, el('span', { class: `badge badge-stage badge-stage-${s.stage}` }, s.stage)),
        el('td', null, s.split),
        el('td', null, s.policy, ...policyBadges(s)),
        el('td', null, formatDateTime(s.updatedAt)),
        el('td', { class: 'note' }, s.quarantineReason || s.attentionReason || ''),
        el(
          'td',
          null,
          el(
            'a',
            {
              href: s.workflowUrl,
              target: '_blank',
              rel: 'noopener noreferrer',
              class: 'external',
              'aria-label': `Workflow of ${s.scanId} in the Temporal UI (opens a new tab)`,
            },
            'Temporal UI',
          ),
        ),
      ),
  });
  replace(body, filters, table.node);
  await table.load();
}

/**
 * Badges after a scan's policy (manager's view only: the scans API answers managers alone): an adaptive scan's
 * extension decision, and a hidden gold scan.
 */
function policyBadges(s) {
  const badges = [];
  if (s.extended === true) {
    badges.push(' ', el('span', { class: 'badge badge-extended', dataset: { field: 'extension' }, title: 'The first readers disagreed: two more readers were added' }, 'extended to 5'));
  } else if (s.extended === false) {
    badges.push(' ', el('span', { class: 'badge', dataset: { field: 'extension' }, title: 'The first readers agreed: no extension' }, '3 readers'));
  }
  if (s.gold === true) badges.push(' ', el('span', { class: 'badge badge-gold', dataset: { field: 'gold' }, title: 'Hidden gold scan: never fused, exported or released' }, 'gold'));
  return badges;
}

// ---- quarantine ---------------------------------------------------------------------------------------------
async function quarantine(body, signal) {
  const table = pagedTable({
    caption: 'Inputs refused at ingest, newest first',
    columns: ['Received', 'Content (SHA-256)', 'Reason', 'Detail', 'Size', 'Scan'],
    empty: 'Nothing is quarantined.',
    signal,
    fetchPage: (cursor) => api('/quarantine', { query: { limit: 50, cursor }, signal }),
    row: (q) =>
      el(
        'tr',
        { dataset: { quarantineId: q.id } },
        el('td', null, formatDateTime(q.createdAt)),
        el(
          'td',
          null,
          // File names can carry identity: only the restricted originals store keeps them (issue 11).
          el('code', { class: 'id', title: `SHA-256 ${q.sha256}` }, q.sha256.slice(0, 12)),
        ),
        el('td', null, el('span', { class: 'badge badge-overdue' }, q.reason)),
        el('td', { class: 'note' }, q.detail),
        el('td', null, formatBytes(q.sizeBytes)),
        el('td', null, q.scanId ? el('code', { class: 'id' }, q.scanId) : '—'),
      ),
  });
  replace(
    body,
    el(
      'p',
      { class: 'hint' },
      'Refused files stay in the quarantine store under their SHA-256; fix the source and upload again.',
    ),
    table.node,
  );
  await table.load();
}
