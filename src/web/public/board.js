// The manager board (#/manage/board): pipeline, throughput, readers, calibration, labels, overdue work and quarantine.
// Every number comes from a REST endpoint (GET /api/v1/stats/*, /calibration, /quarantine); the board polls them with
// If-None-Match and redraws only what changed (304: nothing to do). Charts are Chart.js, bundled by Vite.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

import { api, ApiError, problemText, session } from './api.js';
import { dueBadge, el, formatDateTime, formatDuration, replace, shortId } from './dom.js';
import { openTaskAction } from './task-actions.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

/** Default refresh period; `#/manage/board?refresh=<ms>` sets another (at least 500 ms). */
const REFRESH_MS = 5000;

const COLORS = { train: '#0b5cad', test: '#c26a00', pool: '#1b1f24', flagged: '#a61b1b', ok: '#5b8fc7', box: '#1e6b34' };

function pct(x) {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)} %`;
}

function num(x, digits = 2) {
  return x === null || x === undefined ? '—' : x.toFixed(digits);
}

function pValue(p) {
  return p < 1e-12 ? '< 1e-12' : p < 0.001 ? `= ${p.toExponential(1)}` : `= ${p.toFixed(3)}`;
}

function seconds(x) {
  return x === null || x === undefined ? '—' : x < 90 ? `${Math.round(x)} s` : formatDuration(x * 1000);
}

/**
 * GET with the last ETag of the same URL: `{ body, changed }`; a 304 gives the body kept from before and
 * `changed: false`. Problems are thrown as ApiError (401 signs out through the shared client).
 */
function conditionalClient() {
  const kept = new Map();
  return async function get(path, query, signal) {
    const url = new URL(`/api/v1${path}`, window.location.origin);
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    const key = url.toString();
    const headers = { Accept: 'application/json', Authorization: `Bearer ${session.token}` };
    const previous = kept.get(key);
    if (previous) headers['If-None-Match'] = previous.etag;
    let res;
    try {
      res = await fetch(url, { headers, signal, cache: 'no-store' });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, { title: 'Network error', detail: 'ReadFlow cannot be reached; the board retries.' });
    }
    if (res.status === 304 && previous) return { body: previous.body, changed: false };
    if (!res.ok) {
      const problem = (res.headers.get('content-type') || '').includes('json') ? await res.json().catch(() => ({})) : {};
      if (res.status === 401) await api('/me').catch(() => undefined); // the shared client signs out
      throw new ApiError(res.status, problem);
    }
    const body = await res.json();
    const etag = res.headers.get('etag');
    if (etag) kept.set(key, { etag, body });
    return { body, changed: true };
  };
}

function section(id, title, ...children) {
  return el('section', { class: 'board-card', id, 'aria-labelledby': `${id}-title` }, el('h2', { id: `${id}-title` }, title), ...children);
}

/** A compact list table: a hidden caption for screen readers, column headers, and the body the board fills. */
function listTable(caption, headers, tbody) {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { class: 'list compact' },
      el('caption', { class: 'visually-hidden' }, caption),
      el('thead', null, el('tr', null, headers.map((t) => el('th', { scope: 'col' }, t)))),
      tbody,
    ),
  );
}

function canvasBox(label, height = 220) {
  const canvas = el('canvas', { role: 'img', 'aria-label': label });
  return { box: el('div', { class: 'chart-box', style: { height: `${height}px` } }, canvas), canvas };
}

/** A Chart.js chart whose data is replaced on each update (no animation: the board redraws live). */
function makeChart(canvas, type, options = {}) {
  return new Chart(canvas, {
    type,
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' } },
      ...options,
    },
  });
}

export async function renderBoard(body, ctx, signal) {
  const get = conditionalClient();
  const refreshMs = Math.max(500, Number(ctx.params.get('refresh')) || REFRESH_MS);
  const meta = await api('/meta', { signal });
  const charts = [];
  ctx.onCleanup(() => charts.forEach((c) => c.destroy()));

  // ---- layout -------------------------------------------------------------------------------------------------
  const status = el('p', { class: 'board-status', role: 'status', 'aria-live': 'off' }, 'Loading…');
  const notice = el('p', { class: 'notice', role: 'status' });

  const pipelineTotals = el('dl', { class: 'kpis' });
  const pipelineTable = el('tbody');
  const pipelineChart = canvasBox('Scans per stage, by split');
  const pipeline = section(
    'board-pipeline',
    'Pipeline',
    pipelineTotals,
    el('div', { class: 'board-split' }, pipelineChart.box, el('table', { class: 'list compact' }, el('caption', { class: 'visually-hidden' }, 'Scans per stage and split'), el('thead', null, el('tr', null, ['Stage', 'Train', 'Test', 'Total', 'Workflows'].map((t) => el('th', { scope: 'col' }, t)))), pipelineTable)),
  );

  let bucket = 'hour';
  const throughputTotal = el('p', { class: 'hint' });
  const throughputChart = canvasBox('Scans released per bucket');
  const bucketSelect = el('select', { id: 'throughput-bucket' }, el('option', { value: 'hour' }, 'per hour (48 h)'), el('option', { value: 'day' }, 'per day (30 days)'));
  bucketSelect.addEventListener('change', () => {
    bucket = bucketSelect.value;
    void refresh();
  });
  const throughput = section(
    'board-throughput',
    'Throughput',
    el('div', { class: 'field-inline' }, el('label', { for: 'throughput-bucket' }, 'Scans released'), bucketSelect),
    throughputTotal,
    throughputChart.box,
  );

  const readersTable = el('tbody');
  const readersChart = canvasBox('Open and completed tasks per reader', 240);
  const readers = section(
    'board-readers',
    'Readers',
    readersChart.box,
    listTable('Work, read time and agreement per reader', ['Reader', 'Open', 'Overdue', 'Completed', 'Median read time', 'Box F1 vs fused', 'Label F1 vs fused', 'Calibration'], readersTable),
  );

  let calibrationLabel = '';
  const labelSelect = el('select', { id: 'calibration-label' });
  labelSelect.addEventListener('change', () => {
    calibrationLabel = labelSelect.value;
    if (lastCalibration) drawCalibration(lastCalibration);
  });
  const flaggedList = el('ul', { class: 'flagged' });
  const calibrationChart = canvasBox('Positive rate per reader for the chosen label, against the pool', 240);
  const csvButton = el('button', { type: 'button', class: 'button-quiet' }, 'Download CSV');
  csvButton.addEventListener('click', () => void downloadCsv());
  const calibrationMethod = el('p', { class: 'hint' });
  const calibration = section(
    'board-calibration',
    'Reader calibration',
    calibrationMethod,
    flaggedList,
    el('div', { class: 'field-inline' }, el('label', { for: 'calibration-label' }, 'Label'), labelSelect, csvButton),
    calibrationChart.box,
  );

  const labelsChart = canvasBox('Agreement with the reference per label', 520);
  const labels = section('board-labels', 'Agreement per label', el('p', { class: 'hint' }, 'Readers’ readings of released scans against the fused labels (train) or the consensus (test).'), labelsChart.box);

  const overdueTable = el('tbody');
  const overdueStatus = el('p', { class: 'list-status' });
  const readersList = el('datalist', { id: 'board-readers-list' });
  const overdue = section(
    'board-overdue',
    'Overdue tasks',
    el('p', { class: 'hint' }, 'Reassign to the suggested reader (who the workflow would pick), to the next eligible one, or to a reader you choose; Extend moves the deadline.'),
    readersList,
    listTable('Open tasks past their deadline, oldest first', ['Task', 'Scan', 'Reader', 'Kind', 'Due', 'Suggested', 'Actions'], overdueTable),
    overdueStatus,
  );

  const quarantineReasons = el('ul', { class: 'reasons' });
  const quarantineTable = el('tbody');
  const quarantine = section(
    'board-quarantine',
    'Quarantine',
    quarantineReasons,
    listTable('The latest inputs refused at ingest', ['Received', 'Reason', 'Detail', 'Scan'], quarantineTable),
  );

  replace(body, status, notice, el('div', { class: 'board' }, pipeline, throughput, readers, calibration, labels, overdue, quarantine));

  const stageChart = makeChart(pipelineChart.canvas, 'bar', { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } });
  const releaseChart = makeChart(throughputChart.canvas, 'bar', { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } });
  const workChart = makeChart(readersChart.canvas, 'bar', { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  const calChart = makeChart(calibrationChart.canvas, 'bar', { scales: { y: { beginAtZero: true, max: 1, ticks: { callback: (v) => `${Math.round(v * 100)} %` } } } });
  const labelChart = makeChart(labelsChart.canvas, 'bar', { indexAxis: 'y', scales: { x: { beginAtZero: true, max: 1 } } });
  charts.push(stageChart, releaseChart, workChart, calChart, labelChart);

  // ---- drawing ------------------------------------------------------------------------------------------------
  function workflowsLink(href, label) {
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'external', 'aria-label': label }, 'Temporal UI');
  }

  function drawPipeline(p) {
    const kpi = (key, label, value, cls) => el('div', null, el('dt', null, label), el('dd', { class: cls, dataset: { stat: key } }, String(value)));
    const stage = (name) => p.stages.find((s) => s.stage === name) || { total: 0 };
    replace(
      pipelineTotals,
      kpi('total', 'Scans', p.total),
      kpi('reading', 'Reading', stage('reading').total),
      kpi('released', 'Released', stage('released').total),
      kpi('open-tasks', 'Open tasks', p.openTasks),
      kpi('overdue-tasks', 'Overdue tasks', p.overdueTasks, p.overdueTasks > 0 ? 'bad' : undefined),
      kpi('needs-attention', 'Needs attention', stage('needs-attention').total, stage('needs-attention').total > 0 ? 'bad' : undefined),
      kpi('quarantined-inputs', 'Quarantined inputs', p.quarantinedInputs),
    );
    replace(
      pipelineTable,
      p.stages.map((s) =>
        el(
          'tr',
          { dataset: { stage: s.stage } },
          el('th', { scope: 'row' }, el('span', { class: `badge badge-stage badge-stage-${s.stage}` }, s.stage)),
          el('td', { dataset: { stat: `stage-${s.stage}-train` } }, String(s.train)),
          el('td', { dataset: { stat: `stage-${s.stage}-test` } }, String(s.test)),
          el('td', { dataset: { stat: `stage-${s.stage}-total` } }, String(s.total)),
          el('td', null, workflowsLink(s.workflowsUrl, `Scan workflows in stage ${s.stage} in the Temporal UI (opens a new tab)`)),
        ),
      ),
    );
    stageChart.data.labels = p.stages.map((s) => s.stage);
    stageChart.data.datasets = [
      { label: 'train', data: p.stages.map((s) => s.train), backgroundColor: COLORS.train },
      { label: 'test', data: p.stages.map((s) => s.test), backgroundColor: COLORS.test },
    ];
    stageChart.update();
    replace(
      quarantineReasons,
      p.quarantineReasons.length === 0
        ? el('li', null, 'Nothing is quarantined.')
        : p.quarantineReasons.map((r) => el('li', { dataset: { reason: r.reason } }, el('span', { class: 'badge badge-overdue' }, r.reason), ` ${r.count}`)),
    );
  }

  function drawThroughput(t) {
    const fmt = new Intl.DateTimeFormat(undefined, t.bucket === 'hour' ? { day: 'numeric', hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' });
    throughputTotal.textContent = `${t.total} released between ${formatDateTime(t.from)} and ${formatDateTime(t.to)}.`;
    throughputTotal.dataset.stat = 'released-window';
    throughputTotal.dataset.value = String(t.total);
    releaseChart.data.labels = t.series.map((p) => fmt.format(new Date(p.start)));
    releaseChart.data.datasets = [
      { label: 'train', data: t.series.map((p) => p.train), backgroundColor: COLORS.train },
      { label: 'test', data: t.series.map((p) => p.test), backgroundColor: COLORS.test },
    ];
    releaseChart.update();
  }

  let flagsByReader = new Map();
  let lastReaders;
  function drawReaders(r) {
    lastReaders = r;
    replace(
      readersTable,
      r.items.map((x) => {
        const flags = flagsByReader.get(x.readerId) || [];
        return el(
          'tr',
          { dataset: { readerId: x.readerId } },
          el('th', { scope: 'row' }, x.readerId, x.active ? '' : el('span', { class: 'muted' }, ' (inactive)')),
          el('td', { dataset: { field: 'open' } }, String(x.openTasks)),
          el('td', { dataset: { field: 'overdue' }, class: x.overdueTasks > 0 ? 'bad' : undefined }, String(x.overdueTasks)),
          el('td', { dataset: { field: 'completed' } }, String(x.completedTasks)),
          el('td', { dataset: { field: 'median-read' } }, seconds(x.medianReadSeconds)),
          el('td', { dataset: { field: 'box-f1' } }, x.agreement ? num(x.agreement.meanBoxF1) : '—'),
          el('td', { dataset: { field: 'label-f1' } }, x.agreement ? num(x.agreement.meanGlobalF1) : '—'),
          el('td', { dataset: { field: 'calibration' } }, flags.length ? el('span', { class: 'badge badge-overdue', title: flags.join(', ') }, `Flagged: ${flags.join(', ')}`) : '—'),
        );
      }),
    );
    replace(readersList, r.items.filter((x) => x.active).map((x) => el('option', { value: x.readerId }, `${x.displayName} · ${x.openTasks} open`)));
    workChart.data.labels = r.items.map((x) => x.readerId);
    workChart.data.datasets = [
      { label: 'open', data: r.items.map((x) => x.openTasks), backgroundColor: COLORS.test },
      { label: 'completed', data: r.items.map((x) => x.completedTasks), backgroundColor: COLORS.train },
    ];
    workChart.update();
  }

  let lastCalibration;
  function drawCalibration(c) {
    lastCalibration = c;
    flagsByReader = new Map(c.readers.map((r) => [r.readerId, r.flaggedLabels]));
    calibrationMethod.textContent = `${c.pool.readings} readings of ${c.pool.scans} released scans by ${c.pool.readers} readers. A reader is flagged when their positive rate for a label departs from the rest of the pool: ${c.method.testDescription}; ${c.method.correctionDescription} at α = ${c.method.alpha}. Reference: ${c.method.reference}.`;
    replace(
      flaggedList,
      c.flaggedReaders.length === 0
        ? el('li', { class: 'muted' }, 'No reader departs significantly from the pool.')
        : c.readers
            .filter((r) => r.flagged)
            .map((r) =>
              el(
                'li',
                { dataset: { flaggedReader: r.readerId } },
                el('strong', null, r.readerId),
                ': ',
                r.labels
                  .filter((l) => l.test && l.test.flagged)
                  .map((l) => `${l.label} ${pct(l.positiveRate)} vs ${pct(l.test.restPositiveRate)} in the rest of the pool (${l.test.direction}, adjusted p ${pValue(l.test.adjustedPValue)})`)
                  .join('; '),
              ),
            ),
    );
    const names = c.pool.labels.map((l) => l.label);
    if (!names.includes(calibrationLabel)) {
      const firstFlagged = c.readers.flatMap((r) => r.flaggedLabels)[0];
      calibrationLabel = firstFlagged || (c.pool.labels.slice().sort((a, b) => b.positives - a.positives)[0] || {}).label || '';
    }
    if (labelSelect.options.length !== names.length) replace(labelSelect, names.map((n) => el('option', { value: n }, n)));
    labelSelect.value = calibrationLabel;
    const i = names.indexOf(calibrationLabel);
    const pool = i >= 0 ? c.pool.labels[i].positiveRate : null;
    calChart.data.labels = c.readers.map((r) => r.readerId);
    calChart.data.datasets = [
      {
        type: 'bar',
        label: `${calibrationLabel}: reader’s positive rate`,
        data: c.readers.map((r) => (i >= 0 ? r.labels[i].positiveRate : null)),
        backgroundColor: c.readers.map((r) => (i >= 0 && r.labels[i].test && r.labels[i].test.flagged ? COLORS.flagged : COLORS.ok)),
      },
      { type: 'line', label: 'pool', data: c.readers.map(() => pool), borderColor: COLORS.pool, pointRadius: 0, borderDash: [6, 4] },
    ];
    calChart.update();
    if (lastReaders) drawReaders(lastReaders);
  }

  function drawLabels(l) {
    labelChart.data.labels = l.items.map((x) => x.label);
    labelChart.data.datasets = [
      { label: 'agreement on presence', data: l.items.map((x) => x.agreement), backgroundColor: COLORS.train },
      { label: 'sensitivity', data: l.items.map((x) => x.sensitivity), backgroundColor: COLORS.test },
      { label: 'box F1 (IoU ≥ 0.4)', data: l.items.map((x) => x.boxF1), backgroundColor: COLORS.box },
    ];
    labelChart.update();
  }

  function drawQuarantine(page) {
    replace(
      quarantineTable,
      page.items.map((q) =>
        el(
          'tr',
          { dataset: { quarantineId: q.id } },
          el('td', null, formatDateTime(q.createdAt)),
          el('td', null, el('span', { class: 'badge badge-overdue' }, q.reason)),
          el('td', { class: 'note' }, q.detail),
          el('td', null, q.scanId ? [el('code', { class: 'id' }, q.scanId), ' ', workflowsLink(workflowUrl(q.scanId), `Workflow of ${q.scanId} in the Temporal UI (opens a new tab)`)] : '—'),
        ),
      ),
    );
  }

  /** A scan's workflow in the Temporal UI (base URL and namespace from GET /meta). */
  function workflowUrl(scanId) {
    return `${meta.temporalUiUrl}/namespaces/${encodeURIComponent(meta.temporalNamespace)}/workflows/${encodeURIComponent(scanId)}`;
  }

  const openForms = new Map();
  function drawOverdue(o) {
    const now = Date.now();
    const rows = o.items.map((t) => {
      const tr = el(
        'tr',
        { dataset: { taskId: t.taskId } },
        el('td', null, shortId(t.taskId)),
        el('td', null, el('code', { class: 'id' }, t.scanId), ' ', workflowsLink(t.workflowUrl, `Workflow of ${t.scanId} in the Temporal UI (opens a new tab)`)),
        el('td', null, t.readerId),
        el('td', null, t.role === 'reviewer' ? `Review (round ${t.round})` : `Reading (slot ${t.slot})`),
        el('td', null, dueBadge(t.dueAt, 'open', now)),
        el('td', { dataset: { field: 'suggested' } }, t.suggestedReaderId || el('span', { class: 'muted' }, 'nobody eligible')),
        el(
          'td',
          { class: 'row-actions' },
          el('button', { type: 'button', class: 'button-quiet', 'aria-label': `Reassign task ${t.taskId.slice(0, 8)}`, onclick: () => openAction(tr, t, 'reassign') }, 'Reassign'),
          el('button', { type: 'button', class: 'button-quiet', 'aria-label': `Extend the deadline of task ${t.taskId.slice(0, 8)}`, onclick: () => openAction(tr, t, 'extend') }, 'Extend'),
        ),
      );
      return tr;
    });
    // Keep a form the manager is filling in across refreshes.
    const kept = [...openForms.entries()].filter(([id]) => o.items.some((t) => t.taskId === id));
    replace(overdueTable, rows);
    for (const [id, row] of kept) overdueTable.querySelector(`tr[data-task-id="${id}"]`)?.after(row);
    openForms.clear();
    for (const [id, row] of kept) openForms.set(id, row);
    overdueStatus.textContent = o.total === 0 ? 'No overdue tasks.' : `${o.total} overdue${o.total > o.items.length ? `, the ${o.items.length} oldest shown` : ''}.`;
  }

  function openAction(tr, t, kind) {
    openForms.get(t.taskId)?.remove();
    const row = openTaskAction(tr, t, kind, {
      idPrefix: 'board-',
      colspan: 7,
      readersList: 'board-readers-list',
      suggestions: true,
      notice,
      signal,
      onCancel: () => openForms.delete(t.taskId),
      onDone: () => {
        openForms.delete(t.taskId);
        void refresh();
      },
    });
    openForms.set(t.taskId, row);
  }

  // ---- live refresh -------------------------------------------------------------------------------------------
  let running = false;
  let timer;
  let updates = 0;
  async function refresh() {
    if (running || signal.aborted) return;
    running = true;
    window.clearTimeout(timer);
    try {
      const [p, t, r, c, l, o, q] = await Promise.all([
        get('/stats/pipeline', null, signal),
        get('/stats/throughput', { bucket }, signal),
        get('/stats/readers', null, signal),
        get('/calibration', null, signal),
        get('/stats/labels', null, signal),
        get('/stats/overdue', { limit: 100 }, signal),
        api('/quarantine', { query: { limit: 10 }, signal }).then((body) => ({ body, changed: true })),
      ]);
      if (p.changed) drawPipeline(p.body);
      if (t.changed) drawThroughput(t.body);
      if (c.changed) drawCalibration(c.body);
      if (r.changed || c.changed) drawReaders(r.body);
      if (l.changed) drawLabels(l.body);
      if (o.changed) drawOverdue(o.body);
      if (q.changed) drawQuarantine(q.body);
      updates++;
      status.textContent = `Live: updated ${new Date().toLocaleTimeString()}, every ${Math.round(refreshMs / 100) / 10} s. Temporal UI: ${meta.temporalUiUrl}`;
      status.dataset.updates = String(updates);
      status.classList.remove('error');
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = `Could not refresh: ${problemText(e)} (retrying).`;
      status.classList.add('error');
    } finally {
      running = false;
      if (!signal.aborted) timer = window.setTimeout(() => void refresh(), refreshMs);
    }
  }
  signal.addEventListener('abort', () => window.clearTimeout(timer));

  async function downloadCsv() {
    try {
      const res = await api('/calibration.csv', { raw: true, signal });
      const url = URL.createObjectURL(await res.blob());
      const a = el('a', { href: url, download: 'calibration.csv', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      if (e.name !== 'AbortError') notice.textContent = `Could not download: ${problemText(e)}`;
    }
  }

  await refresh();
}
