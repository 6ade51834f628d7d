// A task: the film in the Cornerstone3D viewer (viewer.js), boxes labelled from the taxonomy, global labels, comment
// and submission; the next open task opens after a submission. Reviewers (consensus) see each reading and the fused
// proposal as layers they can show, hide and adopt; the second reviewer confirms or returns with a reason.
// Everything is reachable from the keyboard (see KEYS).
import { api, ApiError, session } from './api.js';
import { announce, dueBadge, el, replace, viewHeading } from './dom.js';

/** Distinct colours for the readings under review (readable on a grey film). */
const LAYER_COLOURS = ['#38d9a9', '#b197fc', '#4dabf7', '#a9e34b', '#f783ac', '#ffa94d'];
const FUSED_COLOUR = '#ffffff';
const PROPOSAL_COLOUR = '#ffffff';

const COORDS = [
  ['x_min', 'x min'],
  ['y_min', 'y min'],
  ['x_max', 'x max'],
  ['y_max', 'y max'],
];

const MODE_BUTTONS = [
  ['box', 'Box', 'B'],
  ['wl', 'Window', 'W'],
  ['pan', 'Pan', 'P'],
  ['zoom', 'Zoom', 'Z'],
];
const PRESET_BUTTONS = [
  ['lung', 'Lung', '1'],
  ['mediastinum', 'Mediastinum', '2'],
  ['bone', 'Bone', '3'],
];

/** The keyboard map shown on the page. */
const KEYS = [
  ['B / W / P / Z', 'draw boxes / window-level / pan / zoom with the mouse'],
  ['N', 'new box in the middle of the image'],
  ['L or Enter', 'label the selected box (type to pick, Enter to come back)'],
  ['[ and ]', 'select the previous / next box'],
  ['Arrows', 'move the selected box (Shift: 10 px; Alt: resize); pan when none is selected'],
  ['Delete', 'delete the selected box'],
  ['1 / 2 / 3', 'lung / mediastinum / bone window'],
  ['Q A / E D', 'narrow / widen the window, level down / up'],
  ['I, R, + and −', 'invert, reset, zoom'],
  ['Ctrl+Enter', 'submit'],
];

/** A message carried to the next task's page (e.g. "Submission accepted"). */
let flash = null;

function plainBox(b) {
  return { label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max };
}

function describeReading(r) {
  const boxes = `${r.boxes.length} box${r.boxes.length === 1 ? '' : 'es'}`;
  return r.globalLabels.length > 0 ? `${boxes}; ${r.globalLabels.join(', ')}` : boxes;
}

function isTyping(target) {
  return !!target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
}

export async function renderTask(ctx, taskId) {
  const abort = new AbortController();
  let viewer = null;
  ctx.onCleanup(() => {
    abort.abort();
    viewer?.destroy();
    viewer = null;
  });
  document.title = 'Task · ReadFlow';
  replace(
    ctx.main,
    el('section', { class: 'view' }, el('p', { class: 'list-status', role: 'status' }, 'Loading the task…')),
  );

  let detail;
  try {
    detail = await api(`/tasks/${encodeURIComponent(taskId)}`, { signal: abort.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    const heading = viewHeading('Task unavailable');
    const text =
      e instanceof ApiError && e.status === 404
        ? 'This task does not exist, or it is not yours.'
        : `The task could not be loaded: ${e.message}`;
    replace(
      ctx.main,
      el(
        'section',
        { class: 'view' },
        heading,
        el('p', { class: 'error' }, text),
        el('p', null, el('a', { href: '#/inbox' }, 'Back to the inbox')),
      ),
    );
    heading.focus();
    return;
  }

  const { task, image, taxonomy, review } = detail;
  const cols = image.columns || 0;
  const rows = image.rows || 0;
  const localLabels = taxonomy.labels.filter((l) => l.kind === 'local').map((l) => l.name);
  const globalLabels = taxonomy.labels.filter((l) => l.kind === 'global').map((l) => l.name);
  const isReviewer = task.role === 'reviewer';
  const isConfirmer = isReviewer && review && review.slot === 1;
  const open = task.status === 'open';

  const state = {
    /** Labels of the reader's own boxes, by index (the geometry lives in the viewer's annotations). */
    labels: [],
    globals: new Set(),
    selected: -1,
    /** Read-only layers: { key, name, colour, reading, visible, dashed }. */
    layers: [],
    editable: open && !isConfirmer,
    locked: !open,
    /** The globalLabels array of the last submission (maps `globalLabels[i]` problems to checkboxes). */
    sentGlobals: [],
    invalidBoxes: new Set(),
    submitting: false,
  };
  const initialBoxes = detail.submission ? detail.submission.boxes.map(plainBox) : [];
  if (detail.submission) for (const g of detail.submission.globalLabels) state.globals.add(g);
  if (review) {
    review.readings.forEach((r, i) =>
      state.layers.push({
        key: `r${i}`,
        name: `Reader ${r.readerId}`,
        prefix: `R${i + 1}`,
        colour: LAYER_COLOURS[i % LAYER_COLOURS.length],
        reading: r.reading,
        visible: true,
        dashed: false,
      }),
    );
    if (review.fused) {
      state.layers.push({
        key: 'fused',
        name: 'Fused proposal',
        prefix: 'F',
        colour: FUSED_COLOUR,
        reading: { boxes: review.fused.boxes || [], globalLabels: review.fused.globalLabels || [] },
        visible: !isConfirmer,
        dashed: true,
      });
    }
    if (review.proposal) {
      state.layers.push({
        key: 'proposal',
        name: `Proposal of ${review.proposal.readerId}`,
        prefix: 'P',
        colour: PROPOSAL_COLOUR,
        reading: review.proposal.reading,
        visible: true,
        dashed: false,
      });
    }
  }

  // ---- header ---------------------------------------------------------------------------------------------
  const statusBadge = el('span', { class: `badge badge-status-${task.status}` }, task.status);
  const dueSlot = el('span', null, dueBadge(task.dueAt, task.status));
  function setStatus(status) {
    statusBadge.textContent = status;
    statusBadge.className = `badge badge-status-${status}`;
    replace(dueSlot, dueBadge(task.dueAt, status));
  }
  const kind = isReviewer ? `Consensus review, round ${review ? review.round : task.round}` : 'Reading';
  const heading = viewHeading(`${kind}: image ${image.imageId.slice(0, 8)}`);
  document.title = `${kind} · ReadFlow`;
  const meta = el(
    'p',
    { class: 'task-meta' },
    statusBadge,
    ' ',
    dueSlot,
    ' ',
    el('span', null, `${cols} × ${rows} px`),
    image.modality ? el('span', null, ` · ${image.modality}`) : null,
    image.viewPosition ? el('span', null, ` ${image.viewPosition}`) : null,
    image.pixelSpacing ? el('span', null, ` · ${image.pixelSpacing.join(' × ')} mm/px`) : null,
  );
  const notice = flash
    ? el('p', { class: 'notice ok', role: 'status', id: 'flash' }, flash)
    : null;
  flash = null;

  // ---- viewer ---------------------------------------------------------------------------------------------
  const viewport = el('div', {
    class: 'viewport',
    tabindex: '0',
    role: 'application',
    'aria-label': `Chest X-ray, image ${image.imageId}. Keyboard: N new box, L label, Delete, arrows, B W P Z tools, 1 2 3 windows.`,
    'aria-describedby': 'image-status',
  });
  const imageStatus = el(
    'p',
    { class: 'image-status', role: 'status', id: 'image-status' },
    'Loading the image…',
  );
  const wlReadout = el('span', { class: 'wl-readout', 'aria-live': 'off' });
  const modeButtons = new Map();
  const toolbar = el(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Viewer tools' },
    el(
      'div',
      { class: 'tool-group', role: 'group', 'aria-label': 'Mouse' },
      MODE_BUTTONS.map(([mode, text, key]) => {
        const b = el(
          'button',
          {
            type: 'button',
            class: 'tool',
            'aria-pressed': 'false',
            'aria-keyshortcuts': key,
            title: `${text} (${key})`,
            dataset: { mode },
            disabled: true,
            onclick: () => viewer?.setMode(mode),
          },
          text,
        );
        modeButtons.set(mode, b);
        return b;
      }),
    ),
    el(
      'div',
      { class: 'tool-group', role: 'group', 'aria-label': 'Window presets' },
      PRESET_BUTTONS.map(([preset, text, key]) =>
        el(
          'button',
          {
            type: 'button',
            class: 'tool',
            'aria-keyshortcuts': key,
            title: `${text} window (${key})`,
            dataset: { preset },
            disabled: true,
            onclick: () => viewer?.applyPreset(preset),
          },
          text,
        ),
      ),
    ),
    el(
      'div',
      { class: 'tool-group', role: 'group', 'aria-label': 'View' },
      el(
        'button',
        { type: 'button', class: 'tool', title: 'Invert (I)', 'aria-keyshortcuts': 'I', disabled: true, onclick: () => viewer?.invert() },
        'Invert',
      ),
      el(
        'button',
        { type: 'button', class: 'tool', title: 'Zoom in (+)', 'aria-label': 'Zoom in', disabled: true, onclick: () => viewer?.zoomBy(1.25) },
        '+',
      ),
      el(
        'button',
        { type: 'button', class: 'tool', title: 'Zoom out (−)', 'aria-label': 'Zoom out', disabled: true, onclick: () => viewer?.zoomBy(0.8) },
        '−',
      ),
      el(
        'button',
        { type: 'button', class: 'tool', title: 'Reset the view (R)', 'aria-keyshortcuts': 'R', disabled: true, onclick: () => viewer?.reset() },
        'Reset',
      ),
    ),
    wlReadout,
  );
  const legend = state.layers.length > 0 ? renderLegend() : null;
  const keysHelp = el(
    'details',
    { class: 'keys' },
    el('summary', null, 'Keyboard'),
    el(
      'dl',
      null,
      KEYS.map(([k, what]) => [el('dt', null, k), el('dd', null, what)]),
    ),
  );
  const viewerSection = el(
    'section',
    { class: 'viewer', 'aria-label': 'Image' },
    toolbar,
    legend,
    el('div', { class: 'viewport-wrap' }, viewport),
    el('div', { class: 'viewer-foot' }, imageStatus, keysHelp),
  );

  // ---- form -----------------------------------------------------------------------------------------------
  const formError = el('div', { class: 'form-error', role: 'alert', id: 'form-error' });
  const result = el('p', { class: 'result', role: 'status', id: 'result' });
  const boxList = el('ol', { class: 'box-list' });
  const boxesError = el('p', { class: 'field-error', id: 'err-boxes' });
  const boxCount = el('span', { class: 'count' });
  const addBox = el(
    'button',
    { type: 'button', class: 'button-quiet add-box', disabled: true, 'aria-keyshortcuts': 'N' },
    'Add a box (N)',
  );
  addBox.addEventListener('click', () => newBoxInTheMiddle());
  const boxesFieldset = el(
    'fieldset',
    { class: 'boxes', 'aria-describedby': 'err-boxes', tabindex: '-1' },
    el('legend', null, 'Boxes ', boxCount),
    boxList,
    addBox,
    boxesError,
  );
  const globalsError = el('p', { class: 'field-error', id: 'err-globalLabels' });
  const globalBoxes = new Map();
  const globalsFieldset = el(
    'fieldset',
    { class: 'globals', 'aria-describedby': 'err-globalLabels' },
    el('legend', null, 'Image-level labels'),
    el(
      'div',
      { class: 'checks' },
      globalLabels.map((name) => {
        const id = `global-${name.replace(/[^A-Za-z0-9]+/g, '-')}`;
        const input = el('input', {
          type: 'checkbox',
          id,
          name: 'globalLabels',
          value: name,
          'aria-describedby': 'err-globalLabels',
        });
        input.checked = state.globals.has(name);
        input.addEventListener('change', () => onGlobalChange(name, input.checked));
        globalBoxes.set(name, input);
        return el(
          'div',
          { class: name === taxonomy.noFinding ? 'check no-finding' : 'check' },
          input,
          el('label', { for: id }, name),
        );
      }),
    ),
    el('p', { class: 'hint' }, `“${taxonomy.noFinding}” excludes every other label and box.`),
    globalsError,
  );
  const comment = el('textarea', {
    id: 'comment',
    name: 'comment',
    rows: '2',
    maxlength: '4000',
    'aria-describedby': 'err-comment',
  });
  comment.value = detail.submission?.comment || '';
  const commentField = el(
    'div',
    { class: 'field' },
    el('label', { for: 'comment' }, 'Comment ', el('span', { class: 'optional' }, '(optional)')),
    comment,
    el('p', { class: 'field-error', id: 'err-comment' }),
  );
  const submitButton = el(
    'button',
    { type: 'submit', class: 'primary', 'aria-keyshortcuts': 'Control+Enter' },
    isReviewer ? 'Submit the reviewed labels' : 'Submit reading',
  );
  const form = el('form', { class: 'panel', novalidate: true, 'aria-label': 'Labels' });
  const reviewSection = review ? renderReviewSection() : null;
  if (isConfirmer) {
    form.append(reviewSection, formError, result);
  } else {
    form.append(
      ...[
        reviewSection,
        boxesFieldset,
        globalsFieldset,
        commentField,
        formError,
        el('div', { class: 'actions' }, submitButton, el('span', { class: 'hint' }, 'Ctrl+Enter')),
        result,
      ].filter(Boolean),
    );
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!isConfirmer) void submit(isReviewer ? { decision: 'submit' } : {});
  });

  const back = el('p', { class: 'back' }, el('a', { href: '#/inbox' }, '← Inbox'));
  replace(
    ctx.main,
    el(
      'section',
      { class: 'view task' },
      el('div', { class: 'task-head' }, back, heading, meta),
      notice,
      el('div', { class: 'task-layout' }, viewerSection, form),
    ),
  );
  heading.focus();
  renderBoxes();
  if (state.locked)
    lockForm(task.status === 'submitted' ? 'This task has been submitted.' : `This task is ${task.status}.`);
  document.addEventListener('keydown', onKey, { signal: abort.signal });
  void loadViewer();

  // ---- the viewer ---------------------------------------------------------------------------------------------
  async function loadViewer() {
    let mod;
    try {
      mod = await import('./viewer.js');
      if (abort.signal.aborted) return;
      viewer = await mod.createViewer(viewport, {
        url: `/api/v1/tasks/${encodeURIComponent(task.taskId)}/image`,
        getToken: () => session.token,
        editable: state.editable,
        onChange: onViewerChange,
      });
      if (abort.signal.aborted) {
        viewer.destroy();
        viewer = null;
        return;
      }
      const info = await viewer.loaded;
      if (abort.signal.aborted) return;
      for (const b of toolbar.querySelectorAll('button')) b.disabled = false;
      if (!state.editable) modeButtons.get('box').disabled = true;
      addBox.disabled = !state.editable;
      if (initialBoxes.length > 0) {
        viewer.setBoxes(initialBoxes);
        state.labels = initialBoxes.map((b) => b.label);
      }
      for (const layer of state.layers) {
        viewer.setLayer(layer.key, layer.reading.boxes, layer);
        viewer.setLayerVisible(layer.key, layer.visible);
      }
      if (state.locked) viewer.lock();
      renderBoxes();
      updateReadout();
      const mismatch = cols && rows && (info.columns !== cols || info.rows !== rows);
      imageStatus.textContent =
        `${info.columns} × ${info.rows} px, ${info.photometric || 'grey'}` +
        (info.photometric === 'MONOCHROME1' ? ' (shown inverted: white is low)' : '') +
        (mismatch ? ` — the task says ${cols} × ${rows}` : '') +
        '. ' +
        (state.editable ? 'Drag on the image to draw a box; drag a box or its corners to move or resize it.' : '');
      viewport.dataset.ready = 'true';
    } catch (e) {
      if (abort.signal.aborted) return;
      viewport.classList.add('unavailable');
      imageStatus.classList.add('error');
      const status = e && typeof e.status === 'number' ? e.status : 0;
      replace(
        imageStatus,
        el(
          'strong',
          null,
          status === 404
            ? 'This image is no longer available to you (the task was reassigned, expired or cancelled). '
            : status
              ? `The image could not be loaded (HTTP ${status}). `
              : `The image could not be shown: ${e?.message || e}. `,
        ),
        image.transferSyntax ? `Transfer syntax ${image.transferSyntax}. ` : '',
        status === 404
          ? null
          : el(
              'button',
              { type: 'button', class: 'button-quiet', onclick: () => void downloadDicom() },
              'Download DICOM',
            ),
      );
      if (!mod) imageStatus.append(' The viewer could not be loaded; reload the page.');
    }
  }

  function onViewerChange(ev) {
    if (ev.what === 'added') {
      state.labels[ev.index] = '';
      state.selected = ev.index;
      clearProblems();
      renderBoxes();
      announce(`Box ${ev.index + 1} added; choose its label.`);
      document.getElementById(`box-${ev.index}-label`)?.focus();
    } else if (ev.what === 'moved') {
      clearRowProblems(ev.index);
      updateCoords(ev.index);
    } else if (ev.what === 'selected') {
      state.selected = ev.index;
      renderSelection();
    } else if (ev.what === 'mode') {
      for (const [mode, b] of modeButtons) b.setAttribute('aria-pressed', String(mode === ev.mode));
      viewport.dataset.mode = ev.mode;
    } else if (ev.what === 'voi') {
      updateReadout();
    }
  }

  function updateReadout() {
    if (!viewer?.info) return;
    const w = viewer.windowLevel();
    wlReadout.textContent = `W ${Math.round(w.width)} L ${Math.round(w.center)}${w.invert ? ' · inverted' : ''}`;
    viewport.dataset.windowWidth = String(Math.round(w.width));
    viewport.dataset.windowCenter = String(Math.round(w.center));
  }

  function newBoxInTheMiddle() {
    if (!viewer?.info || !state.editable) return;
    const { columns, rows: height } = viewer.info;
    const i = viewer.addBox({
      label: '',
      x_min: Math.round(columns * 0.4),
      y_min: Math.round(height * 0.4),
      x_max: Math.round(columns * 0.6),
      y_max: Math.round(height * 0.6),
    });
    viewer.selectBox(i);
    onViewerChange({ what: 'added', index: i });
  }

  function deleteBox(i) {
    if (!viewer || !state.editable || i < 0 || i >= state.labels.length) return;
    viewer.removeBox(i);
    state.labels.splice(i, 1);
    state.selected = -1;
    clearProblems();
    renderBoxes();
    announce(`Box ${i + 1} deleted.`);
  }

  function onKey(ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      if (!isConfirmer && !state.locked) void submit(isReviewer ? { decision: 'submit' } : {});
      return;
    }
    const target = ev.target;
    if (target && target.tagName === 'SELECT' && target.id.startsWith('box-') && ev.key === 'Enter') {
      ev.preventDefault();
      viewport.focus();
      return;
    }
    if (ev.key === 'Escape' && isTyping(target) && form.contains(target)) {
      viewport.focus();
      return;
    }
    if (isTyping(target) || ev.ctrlKey || ev.metaKey || !viewer?.info) return;
    // Anywhere on the task's page (the heading has focus when it opens), but buttons and links keep Enter and Space.
    if (target !== document.body && !ctx.main.contains(target)) return;
    if (target && /^(BUTTON|A|SUMMARY)$/.test(target.tagName) && (ev.key === 'Enter' || ev.key === ' ')) return;
    const sel = viewer.selectedIndex();
    const step = ev.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    let handled = true;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (key === 'b') viewer.setMode('box');
    else if (key === 'w') viewer.setMode('wl');
    else if (key === 'p') viewer.setMode('pan');
    else if (key === 'z') viewer.setMode('zoom');
    else if (key === '1') viewer.applyPreset('lung');
    else if (key === '2') viewer.applyPreset('mediastinum');
    else if (key === '3') viewer.applyPreset('bone');
    else if (key === 'i') viewer.invert();
    else if (key === 'r') viewer.reset();
    else if (key === '+' || key === '=') viewer.zoomBy(1.25);
    else if (key === '-') viewer.zoomBy(0.8);
    else if (key === 'q') viewer.nudgeWindow(-0.1, 0);
    else if (key === 'a') viewer.nudgeWindow(0.1, 0);
    else if (key === 'e') viewer.nudgeWindow(0, 0.05);
    else if (key === 'd') viewer.nudgeWindow(0, -0.05);
    else if (key === 'n') newBoxInTheMiddle();
    else if ((key === 'l' || key === 'Enter') && sel >= 0) document.getElementById(`box-${sel}-label`)?.focus();
    else if ((key === 'Delete' || key === 'Backspace') && sel >= 0) deleteBox(sel);
    else if ((key === '[' || key === ']') && state.labels.length > 0) {
      const n = state.labels.length;
      const next = sel < 0 ? (key === ']' ? 0 : n - 1) : (sel + (key === ']' ? 1 : n - 1)) % n;
      viewer.selectBox(next);
      state.selected = next;
      renderSelection();
      announce(`Box ${next + 1}: ${state.labels[next] || 'no label'}.`);
    } else if (arrows[key]) {
      const [dx, dy] = arrows[key];
      if (sel >= 0 && state.editable) {
        viewer.shiftBox(sel, ev.altKey ? { dw: dx * step, dh: dy * step } : { dx: dx * step, dy: dy * step });
      } else viewer.panBy(-dx * step * 5, -dy * step * 5);
    } else handled = false;
    if (handled) ev.preventDefault();
  }

  async function downloadDicom() {
    try {
      const res = await api(`/tasks/${encodeURIComponent(task.taskId)}/image`, {
        raw: true,
        signal: abort.signal,
      });
      const url = URL.createObjectURL(await res.blob());
      const a = el('a', { href: url, download: `${image.imageId}.dcm` });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      if (e.name !== 'AbortError') announce(`Download failed: ${e.message}`);
    }
  }

  // ---- box list -------------------------------------------------------------------------------------------
  function currentBoxes() {
    const geometry = viewer ? viewer.boxes() : [];
    return geometry.map((b, i) => ({ ...b, label: state.labels[i] || '' }));
  }

  function updateCoords(i) {
    const b = currentBoxes()[i];
    if (!b) return;
    for (const [key] of COORDS) {
      const input = document.getElementById(`box-${i}-${key}`);
      if (input && document.activeElement !== input) input.value = String(b[key]);
    }
  }

  function renderBoxes() {
    const boxes = currentBoxes();
    boxCount.textContent = `(${boxes.length})`;
    if (boxes.length === 0) {
      replace(
        boxList,
        el(
          'li',
          { class: 'empty' },
          state.editable ? 'No boxes yet: drag on the image to draw one, or press N.' : 'No boxes.',
        ),
      );
      return;
    }
    replace(
      boxList,
      ...boxes.map((b, i) => {
        const errId = `err-boxes-${i}`;
        const select = el(
          'select',
          {
            id: `box-${i}-label`,
            name: `boxes[${i}].label`,
            'aria-describedby': errId,
            disabled: !state.editable,
            value: b.label,
          },
          el('option', { value: '' }, 'Choose a label…'),
          localLabels.map((name) => el('option', { value: name }, name)),
        );
        select.addEventListener('change', () => {
          state.labels[i] = select.value;
          viewer?.setBoxLabel(i, select.value);
          clearRowProblems(i);
        });
        select.addEventListener('focus', () => {
          state.selected = i;
          viewer?.selectBox(i);
          renderSelection();
        });
        const coords = COORDS.map(([key, text]) => {
          const input = el('input', {
            type: 'number',
            id: `box-${i}-${key}`,
            name: `boxes[${i}].${key}`,
            min: 0,
            max: key.startsWith('x') ? cols : rows,
            step: 1,
            inputmode: 'numeric',
            'aria-describedby': errId,
            disabled: !state.editable,
            value: String(b[key]),
          });
          input.addEventListener('change', () => {
            const v = Number(input.value);
            if (input.value === '' || !Number.isFinite(v)) return;
            const next = { ...currentBoxes()[i], [key]: v };
            viewer?.setBoxCoords(i, next);
            clearRowProblems(i);
          });
          return el('div', { class: 'coord' }, el('label', { for: input.id }, text), input);
        });
        const del = el(
          'button',
          {
            type: 'button',
            class: 'button-quiet danger',
            'aria-label': `Delete box ${i + 1}`,
            disabled: !state.editable,
          },
          'Delete',
        );
        del.addEventListener('click', () => {
          deleteBox(i);
          const next = document.getElementById(`box-${Math.min(i, state.labels.length - 1)}-label`);
          if (next) next.focus();
          else boxesFieldset.focus();
        });
        return el(
          'li',
          { class: 'box-row', dataset: { index: String(i) } },
          el('span', { class: 'box-num', 'aria-hidden': 'true' }, String(i + 1)),
          el(
            'div',
            { class: 'box-fields' },
            el(
              'div',
              { class: 'box-label' },
              el('label', { for: select.id }, `Box ${i + 1} label`),
              select,
              del,
            ),
            el('div', { class: 'coords' }, coords),
            el('p', { class: 'field-error', id: errId }),
          ),
        );
      }),
    );
    renderSelection();
  }

  function renderSelection() {
    for (const row of boxList.querySelectorAll('.box-row'))
      row.classList.toggle('selected', Number(row.dataset.index) === state.selected);
  }

  function onGlobalChange(name, checked) {
    if (checked) {
      state.globals.add(name);
      // "No finding" is exclusive: it clears the other labels, and another label clears it.
      if (name === taxonomy.noFinding) {
        for (const other of [...state.globals]) if (other !== name) state.globals.delete(other);
      } else {
        state.globals.delete(taxonomy.noFinding);
      }
    } else {
      state.globals.delete(name);
    }
    for (const [label, input] of globalBoxes) input.checked = state.globals.has(label);
    globalsError.textContent =
      state.globals.has(taxonomy.noFinding) && state.labels.length > 0
        ? `“${taxonomy.noFinding}” cannot go with boxes: delete them first.`
        : '';
  }

  // ---- review ---------------------------------------------------------------------------------------------
  function adopt(reading, what) {
    if (!viewer?.info) return;
    if (state.labels.length > 0 && !window.confirm(`Replace your boxes and labels with ${what}?`)) return;
    const boxes = (reading.boxes || []).map(plainBox);
    viewer.setBoxes(boxes);
    state.labels = boxes.map((b) => b.label);
    state.globals = new Set(reading.globalLabels || []);
    for (const [label, input] of globalBoxes) input.checked = state.globals.has(label);
    state.selected = -1;
    clearProblems();
    renderBoxes();
    announce(`${what[0].toUpperCase()}${what.slice(1)} adopted: ${describeReading({ boxes, globalLabels: [...state.globals] })}.`);
  }

  function renderLegend() {
    return el(
      'fieldset',
      { class: 'legend' },
      el('legend', null, 'Layers'),
      state.layers.map((layer) => {
        const id = `layer-${layer.key}`;
        const input = el('input', { type: 'checkbox', id });
        input.checked = layer.visible;
        input.addEventListener('change', () => {
          layer.visible = input.checked;
          viewer?.setLayerVisible(layer.key, layer.visible);
        });
        const canAdopt = state.editable && isReviewer && !isConfirmer;
        return el(
          'div',
          { class: 'check', dataset: { layer: layer.key } },
          input,
          el(
            'label',
            { for: id },
            el('span', {
              class: `swatch${layer.dashed ? ' dashed' : ''}`,
              style: { '--c': layer.colour },
              'aria-hidden': 'true',
            }),
            `${layer.prefix} ${layer.name}: ${describeReading(layer.reading)}`,
          ),
          canAdopt
            ? el(
                'button',
                {
                  type: 'button',
                  class: 'button-quiet adopt',
                  'aria-label': `Adopt ${layer.name}`,
                  onclick: () => adopt(layer.reading, layer.key === 'fused' ? 'the fused proposal' : `the reading of ${layer.name}`),
                },
                'Adopt',
              )
            : null,
        );
      }),
    );
  }

  function renderReviewSection() {
    const section = el('section', { class: 'review', 'aria-labelledby': 'review-title' });
    section.append(el('h2', { id: 'review-title' }, `Consensus review, round ${review.round}`));
    if (review.returns.length > 0) {
      section.append(
        el('h3', null, 'Returned earlier'),
        el(
          'ul',
          { class: 'returns' },
          review.returns.map((r) => el('li', null, `Round ${r.round}, ${r.readerId}: ${r.reason}`)),
        ),
      );
    }
    const reviewError = el('p', { class: 'field-error', id: 'err-review' });
    if (!isConfirmer) {
      section.append(
        el(
          'p',
          null,
          `Step 1 of 2: ${review.readings.length} readings and the fused proposal are layers on the image (show, hide or adopt them). Edit the labels below and submit them; a second senior reader then confirms or returns them.`,
        ),
        el(
          'button',
          {
            type: 'button',
            class: 'button-quiet',
            disabled: !state.editable,
            onclick: () =>
              adopt({ boxes: review.fused.boxes || [], globalLabels: review.fused.globalLabels || [] }, 'the fused proposal'),
          },
          'Start from the fused proposal',
        ),
        reviewError,
      );
      return section;
    }
    const proposal = review.proposal;
    const reason = el('textarea', {
      id: 'reason',
      name: 'reason',
      rows: '3',
      maxlength: '4000',
      'aria-describedby': 'err-reason',
    });
    const confirm = el('button', { type: 'button', class: 'primary', disabled: !open }, 'Confirm as final');
    const ret = el(
      'button',
      { type: 'button', class: 'button-quiet danger', disabled: !open },
      'Return with reason',
    );
    confirm.addEventListener('click', () => void submit({ decision: 'confirm' }));
    ret.addEventListener('click', () => {
      if (!reason.value.trim()) {
        showProblems(
          [{ path: 'reason', message: 'Say why the proposal is returned.' }],
          'A returned review needs a reason.',
        );
        reason.focus();
        return;
      }
      void submit({ decision: 'return', reason: reason.value.trim() });
    });
    section.append(
      el(
        'p',
        null,
        'Step 2 of 2: confirm the first reviewer’s proposal (white on the image) as the final label, or return it with a reason (a new review round starts).',
      ),
      proposal
        ? el(
            'div',
            { class: 'proposal' },
            el('h3', null, `Proposal of ${proposal.readerId}`),
            el(
              'ul',
              null,
              proposal.reading.boxes.map((b, i) =>
                el('li', null, `${i + 1}. ${b.label} (${b.x_min}, ${b.y_min}) – (${b.x_max}, ${b.y_max})`),
              ),
            ),
            el('p', null, 'Image-level labels: ', proposal.reading.globalLabels.join(', ') || 'none'),
            proposal.reading.comment ? el('p', null, 'Comment: ', proposal.reading.comment) : null,
          )
        : el('p', { class: 'error' }, 'The proposal is not available.'),
      el('div', { class: 'actions' }, confirm),
      el(
        'div',
        { class: 'field' },
        el('label', { for: 'reason' }, 'Reason for returning'),
        reason,
        el('p', { class: 'field-error', id: 'err-reason' }),
      ),
      el('div', { class: 'actions' }, ret),
      reviewError,
    );
    return section;
  }

  // ---- submission -----------------------------------------------------------------------------------------
  async function submit(extra) {
    if (state.submitting) return;
    clearProblems();
    result.textContent = '';
    let body;
    if (isConfirmer) {
      body = { ...extra };
    } else {
      state.sentGlobals = [...state.globals].sort(
        (a, b) => globalLabels.indexOf(a) - globalLabels.indexOf(b),
      );
      body = { boxes: currentBoxes().map(plainBox), globalLabels: state.sentGlobals, ...extra };
      if (comment.value.trim()) body.comment = comment.value;
    }
    const buttons = [...form.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    state.submitting = true;
    result.textContent = 'Submitting…';
    try {
      const res = await api(`/tasks/${encodeURIComponent(task.taskId)}/submission`, {
        method: 'POST',
        body,
        signal: abort.signal,
      });
      const what =
        extra.decision === 'confirm' ? 'Confirmation' : extra.decision === 'return' ? 'Return' : 'Submission';
      const said = `${what} accepted${res.duplicate ? ' (it had already been recorded)' : ''}`;
      announce(`${said}.`);
      state.locked = true;
      lockForm();
      setStatus('submitted');
      // The next open task, if any, opens at once.
      const next = await nextTask();
      if (abort.signal.aborted) return;
      if (next) {
        flash = `${said} for image ${image.imageId.slice(0, 8)}. This is your next task.`;
        ctx.navigate(`#/tasks/${next.taskId}`);
        return;
      }
      replace(
        result,
        el('strong', null, said),
        '. No more open tasks. ',
        el('a', { href: '#/inbox' }, 'Back to the inbox'),
      );
      result.classList.add('ok');
    } catch (e) {
      if (e.name === 'AbortError') return;
      result.textContent = '';
      if (!(e instanceof ApiError)) {
        showProblems([], `Submission failed: ${e.message}. Your work is still here; retry.`);
      } else if (e.status === 422) {
        // The problems go next to their fields and boxes; the detail is the summary only when there are none.
        showProblems(
          e.errors,
          e.errors.length > 0
            ? 'The submission was not accepted.'
            : e.problem.detail || 'The submission is invalid.',
        );
      } else if (e.status === 409) {
        showProblems([], `This task is no longer yours: ${e.problem.detail || e.message}`);
        formError.classList.add('conflict');
        state.locked = true;
        lockForm();
        api(`/tasks/${encodeURIComponent(task.taskId)}`, { signal: abort.signal })
          .then((d) => setStatus(d.task.status))
          .catch(() => undefined);
        return;
      } else if (e.status === 404) {
        showProblems([], `This task is no longer available: ${e.problem.detail || e.message}`);
      } else {
        showProblems(
          [],
          `Submission failed (${e.status}): ${e.problem.detail || e.message}. Your work is still here; retry.`,
        );
      }
      for (const b of buttons) b.disabled = state.locked;
    } finally {
      state.submitting = false;
    }
  }

  async function nextTask() {
    try {
      const page = await api('/me/tasks', { query: { status: 'open', limit: 20 }, signal: abort.signal });
      return page.items.find((t) => t.taskId !== task.taskId) || null;
    } catch {
      return null;
    }
  }

  function lockForm(message) {
    state.editable = false;
    for (const control of form.querySelectorAll('input, select, textarea, button')) control.disabled = true;
    modeButtons.get('box').disabled = true;
    for (const b of viewerSection.querySelectorAll('.adopt')) b.disabled = true;
    viewer?.lock();
    if (message) result.textContent = message;
  }

  // ---- problems (422) ---------------------------------------------------------------------------------------
  function clearProblems() {
    state.invalidBoxes.clear();
    viewer?.markInvalid([]);
    formError.replaceChildren();
    formError.classList.remove('conflict');
    for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
    for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
    for (const r of boxList.querySelectorAll('.box-row.invalid')) r.classList.remove('invalid');
  }

  function clearRowProblems(i) {
    if (!state.invalidBoxes.delete(i)) return;
    viewer?.markInvalid([...state.invalidBoxes]);
    const row = boxList.querySelector(`.box-row[data-index="${i}"]`);
    row?.classList.remove('invalid');
    for (const c of row?.querySelectorAll('[aria-invalid]') || []) c.removeAttribute('aria-invalid');
    const err = document.getElementById(`err-boxes-${i}`);
    if (err) err.textContent = '';
  }

  function addMessage(target, message) {
    if (!target) return false;
    target.append(el('span', { class: 'problem' }, message));
    return true;
  }

  /** Puts each `errors[].path` next to its box (list row and the box on the image), field or checkbox. */
  function showProblems(errors, summary) {
    const unplaced = [];
    let first = null;
    const mark = (control) => {
      if (!control) return;
      control.setAttribute('aria-invalid', 'true');
      first = first || control;
    };
    for (const p of errors) {
      const path = String(p.path || '');
      const message = p.message || p.code || 'invalid';
      let m;
      if ((m = /^boxes\[(\d+)\](?:\.(\w+))?$/.exec(path))) {
        const i = Number(m[1]);
        const row = boxList.querySelector(`.box-row[data-index="${i}"]`);
        if (!row) {
          unplaced.push(`Box ${i + 1}: ${message}`);
          continue;
        }
        state.invalidBoxes.add(i);
        row.classList.add('invalid');
        const field = m[2] ? document.getElementById(`box-${i}-${m[2]}`) : null;
        mark(field || document.getElementById(`box-${i}-label`));
        const what = m[2] === 'label' ? 'Label' : m[2] ? m[2].replace('_', ' ') : null;
        const unlabelled = m[2] === 'label' && !state.labels[i];
        addMessage(
          document.getElementById(`err-boxes-${i}`),
          unlabelled ? 'Label: choose one of the box labels.' : what ? `${what}: ${message}` : message,
        );
      } else if ((m = /^globalLabels\[(\d+)\]$/.exec(path))) {
        const name = state.sentGlobals[Number(m[1])];
        mark(globalBoxes.get(name));
        addMessage(globalsError, name ? `${name}: ${message}` : message);
      } else if (path === 'globalLabels') {
        mark(globalBoxes.values().next().value);
        addMessage(globalsError, message);
      } else if (path === 'boxes') {
        addMessage(boxesError, message);
        first = first || boxesFieldset;
      } else if (path === 'comment' || path === 'reason') {
        const control = document.getElementById(path);
        mark(control);
        if (!addMessage(document.getElementById(`err-${path}`), message)) unplaced.push(message);
      } else if (path === 'decision') {
        if (!addMessage(document.getElementById('err-review'), message)) unplaced.push(message);
      } else {
        unplaced.push(path ? `${path}: ${message}` : message);
      }
    }
    viewer?.markInvalid([...state.invalidBoxes]);
    const count = errors.length;
    replace(
      formError,
      el(
        'p',
        null,
        el('strong', null, summary),
        count > 0 ? ` ${count} problem${count === 1 ? '' : 's'}; see the marked fields.` : '',
      ),
      unplaced.length > 0
        ? el(
            'ul',
            null,
            unplaced.map((u) => el('li', null, u)),
          )
        : null,
    );
    if (!first) formError.tabIndex = -1;
    (first || formError).focus();
  }
}
