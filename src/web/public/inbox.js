// The radiologist's inbox: open tasks by due date; tabs for submitted and expired ones.
import { api } from './api.js';
import { dueBadge, el, formatDateTime, replace, viewHeading } from './dom.js';

const TABS = [
  ['open', 'Open'],
  ['submitted', 'Submitted'],
  ['expired', 'Expired'],
];

export async function renderInbox(ctx, status) {
  if (!TABS.some(([s]) => s === status)) status = 'open';
  const tabLabel = TABS.find(([s]) => s === status)[1];
  document.title = `Inbox (${tabLabel.toLowerCase()}) · ReadFlow`;
  const abort = new AbortController();
  ctx.onCleanup(() => abort.abort());

  const heading = viewHeading('Inbox');
  const tabs = el(
    'nav',
    { class: 'tabs', 'aria-label': 'Task status' },
    TABS.map(([s, label]) =>
      el('a', { href: `#/inbox?status=${s}`, 'aria-current': s === status ? 'page' : undefined }, label),
    ),
  );
  const tbody = el('tbody');
  const table = el(
    'table',
    { class: 'list inbox' },
    el('caption', { class: 'visually-hidden' }, `${tabLabel} tasks, by due date`),
    el(
      'thead',
      null,
      el(
        'tr',
        null,
        el('th', { scope: 'col' }, 'Image'),
        el('th', { scope: 'col' }, 'Kind'),
        el('th', { scope: 'col' }, 'Assigned'),
        el('th', { scope: 'col' }, 'Due'),
      ),
    ),
    tbody,
  );
  const statusLine = el('p', { class: 'list-status', role: 'status' }, 'Loading…');
  const more = el('button', { type: 'button', class: 'button-quiet', hidden: true }, 'Load more');
  const refresh = el(
    'button',
    { type: 'button', class: 'button-quiet', onclick: () => ctx.navigate(window.location.hash) },
    'Refresh',
  );
  replace(
    ctx.main,
    el(
      'section',
      { class: 'view' },
      el('div', { class: 'view-head' }, heading, refresh),
      tabs,
      table,
      statusLine,
      more,
    ),
  );
  heading.focus();

  let cursor = null;
  let count = 0;
  const now = Date.now();
  async function load() {
    more.disabled = true;
    try {
      const page = await api('/me/tasks', { query: { status, limit: 50, cursor }, signal: abort.signal });
      for (const t of page.items) {
        const kind = t.role === 'reviewer' ? 'Consensus review' : 'Reading';
        tbody.append(
          el(
            'tr',
            { dataset: { taskId: t.taskId } },
            el(
              'td',
              null,
              el('a', { href: `#/tasks/${t.taskId}`, class: 'task-link' }, `Image ${t.imageId.slice(0, 8)}`),
            ),
            el('td', null, el('span', { class: `badge badge-${t.role}` }, kind)),
            el('td', null, formatDateTime(t.assignedAt)),
            el('td', null, dueBadge(t.dueAt, t.status, now)),
          ),
        );
      }
      count += page.items.length;
      cursor = page.nextCursor;
      more.hidden = !cursor;
      statusLine.textContent =
        count === 0
          ? status === 'open'
            ? 'No open tasks. New scans are assigned to you automatically.'
            : `No ${tabLabel.toLowerCase()} tasks.`
          : `${count} ${tabLabel.toLowerCase()} task${count === 1 ? '' : 's'}${cursor ? ' so far' : ''}.`;
    } catch (e) {
      if (e.name === 'AbortError') return;
      statusLine.textContent = `The inbox could not be loaded: ${e.message}`;
      statusLine.classList.add('error');
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load());
  await load();
}
