// A task: the image with boxes drawn in image pixels, the taxonomy, global labels, comment and submission.
// Reviewers (consensus) also see the readings under review, start from the fused proposal, or confirm/return.
import { api, ApiError } from './api.js';
import { announce, dueBadge, el, formatBytes, replace, svg, viewHeading } from './dom.js';

/** Distinct colours for the readings under review (readable on a grey film). */
const LAYER_COLOURS = ['#38d9a9', '#b197fc', '#4dabf7', '#a9e34b', '#f783ac', '#ffa94d'];
const DRAFT_COLOUR = '#ffd43b';
const INVALID_COLOUR = '#ff6b6b';
const SELECTED_COLOUR = '#ffffff';
const FUSED_COLOUR = '#ffffff';
const PROPOSAL_COLOUR = '#ffffff';
/** Drags smaller than this (image pixels) are clicks. */
const MIN_BOX = 3;

const COORDS = [
  ['x_min', 'x min'],
  ['y_min', 'y min'],
  ['x_max', 'x max'],
  ['y_max', 'y max'],
];

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function plainBox(b) {
  return { label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max };
}

function describeReading(r) {
  const boxes = `${r.boxes.length} box${r.boxes.length === 1 ? '' : 'es'}`;
  return r.globalLabels.length > 0 ? `${boxes}; ${r.globalLabels.join(', ')}` : boxes;
}

export async function renderTask(ctx, taskId) {
  const abort = new AbortController();
  let objectUrl = null;
  let resizeObserver = null;
  ctx.onCleanup(() => {
    abort.abort();
    resizeObserver?.disconnect();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
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
    boxes: [],
    globals: new Set(),
    selected: -1,
    /** Read-only overlays: { key, name, colour, boxes, visible, dashed }. */
    layers: [],
    editable: open && !isConfirmer,
    locked: !open,
    /** The globalLabels array of the last submission (maps `globalLabels[i]` problems to checkboxes). */
    sentGlobals: [],
    /** Box indexes with problems. */
    invalidBoxes: new Set(),
    drawing: null,
  };
  if (detail.submission) {
    state.boxes = detail.submission.boxes.map(plainBox);
    for (const g of detail.submission.globalLabels) state.globals.add(g);
  }
  if (review) {
    review.readings.forEach((r, i) =>
      state.layers.push({
        key: `r${i}`,
        name: `Reader ${r.readerId}`,
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
  /** Shows a new task status (after a submission, or when the task turned out to be closed). */
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

  // ---- viewer ---------------------------------------------------------------------------------------------
  const img = el('img', {
    class: 'film',
    alt: `Chest X-ray, image ${image.imageId}`,
    draggable: 'false',
    width: cols || undefined,
    height: rows || undefined,
  });
  const overlay = svg('svg', {
    class: 'overlay',
    viewBox: `0 0 ${cols} ${rows}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': 'Boxes on the image',
  });
  const stage = el('div', { class: 'stage loading' }, img, overlay);
  const imageStatus = el('p', { class: 'image-status', role: 'status' }, 'Loading the image…');
  const hint = el(
    'p',
    { class: 'hint' },
    isConfirmer && open
      ? 'The proposal under review is drawn in white; the readings in their own colours.'
      : state.editable
        ? 'Drag on the image to draw a box (Esc cancels). Click a box to select it.'
        : 'Read-only: this task takes no more boxes.',
  );
  const legend = state.layers.length > 0 ? renderLegend() : null;
  const viewer = el(
    'section',
    { class: 'viewer', 'aria-label': 'Image' },
    hint,
    legend,
    el('div', { class: 'stage-wrap' }, stage),
    imageStatus,
  );

  // ---- form -----------------------------------------------------------------------------------------------
  const formError = el('div', { class: 'form-error', role: 'alert', id: 'form-error' });
  const result = el('p', { class: 'result', role: 'status', id: 'result' });
  const boxList = el('ol', { class: 'box-list' });
  const boxesError = el('p', { class: 'field-error', id: 'err-boxes' });
  const boxCount = el('span', { class: 'count' });
  const addBox = el(
    'button',
    { type: 'button', class: 'button-quiet add-box', disabled: !state.editable },
    'Add a box by coordinates',
  );
  addBox.addEventListener('click', () => {
    // A box in the middle of the image, to be placed with the coordinate fields (the keyboard's way to draw).
    addDraftBox({
      label: '',
      x_min: Math.round(cols * 0.4),
      y_min: Math.round(rows * 0.4),
      x_max: Math.round(cols * 0.6),
      y_max: Math.round(rows * 0.6),
    });
  });
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
    rows: '3',
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
    { type: 'submit', class: 'primary' },
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
        el('div', { class: 'actions' }, submitButton),
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
      back,
      heading,
      meta,
      el('div', { class: 'task-layout' }, viewer, form),
    ),
  );
  heading.focus();
  renderBoxes();
  renderOverlay();
  if (state.locked)
    lockForm(task.status === 'submitted' ? 'This task has been submitted.' : `This task is ${task.status}.`);

  resizeObserver = new ResizeObserver(() => renderOverlay());
  resizeObserver.observe(overlay);
  wireDrawing();
  void loadImage();

  // ---- image ----------------------------------------------------------------------------------------------
  async function loadImage() {
    try {
      const res = await api(`/tasks/${encodeURIComponent(task.taskId)}/image`, {
        query: { format: 'png' },
        raw: true,
        signal: abort.signal,
      });
      const blob = await res.blob();
      objectUrl = URL.createObjectURL(blob);
      img.src = objectUrl;
      await img.decode();
      stage.classList.remove('loading');
      stage.classList.add('ready');
      imageStatus.textContent = `Image loaded (${formatBytes(blob.size)} PNG preview).`;
      stage.dataset.ready = 'true';
      renderOverlay();
    } catch (e) {
      if (e.name === 'AbortError') return;
      stage.classList.remove('loading');
      stage.classList.add('unavailable');
      imageStatus.classList.add('error');
      hint.textContent = state.editable
        ? 'Without a preview, add boxes by their coordinates in image pixels (columns × rows above).'
        : hint.textContent;
      if (e instanceof ApiError && e.status === 415) {
        replace(
          imageStatus,
          el(
            'strong',
            null,
            /uncompressed|compress/i.test(e.problem.detail || '')
              ? 'No preview: this image is stored compressed, which the browser cannot show. '
              : 'No preview for this image. ',
          ),
          'Download the DICOM and read it in your DICOM viewer. ',
          el(
            'span',
            { class: 'detail' },
            e.problem.detail || `Transfer syntax ${image.transferSyntax || 'unknown'}.`,
          ),
          ' ',
          el(
            'button',
            { type: 'button', class: 'button-quiet', onclick: () => void downloadDicom() },
            'Download DICOM',
          ),
        );
      } else {
        imageStatus.textContent = `The image could not be loaded: ${e.message}`;
      }
    }
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

  // ---- drawing --------------------------------------------------------------------------------------------
  function toImage(ev) {
    const r = overlay.getBoundingClientRect();
    return {
      x: Math.round(clamp(((ev.clientX - r.left) / r.width) * cols, 0, cols)),
      y: Math.round(clamp(((ev.clientY - r.top) / r.height) * rows, 0, rows)),
    };
  }

  function wireDrawing() {
    overlay.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0 || !stage.classList.contains('ready')) return;
      ev.preventDefault();
      const p = toImage(ev);
      state.drawing = { x0: p.x, y0: p.y, x1: p.x, y1: p.y, pointerId: ev.pointerId };
      overlay.setPointerCapture(ev.pointerId);
    });
    overlay.addEventListener('pointermove', (ev) => {
      if (!state.drawing || ev.pointerId !== state.drawing.pointerId) return;
      const p = toImage(ev);
      state.drawing.x1 = p.x;
      state.drawing.y1 = p.y;
      renderOverlay();
    });
    const finish = (ev) => {
      const d = state.drawing;
      if (!d || ev.pointerId !== d.pointerId) return;
      state.drawing = null;
      if (overlay.hasPointerCapture(ev.pointerId)) overlay.releasePointerCapture(ev.pointerId);
      if (ev.type === 'pointercancel') return renderOverlay();
      const box = {
        label: '',
        x_min: Math.min(d.x0, d.x1),
        y_min: Math.min(d.y0, d.y1),
        x_max: Math.max(d.x0, d.x1),
        y_max: Math.max(d.y0, d.y1),
      };
      if (box.x_max - box.x_min < MIN_BOX || box.y_max - box.y_min < MIN_BOX) {
        selectAt(d.x0, d.y0);
        return;
      }
      if (!state.editable) return renderOverlay();
      addDraftBox(box);
    };
    overlay.addEventListener('pointerup', finish);
    overlay.addEventListener('pointercancel', finish);
    document.addEventListener(
      'keydown',
      (ev) => {
        if (ev.key === 'Escape' && state.drawing) {
          state.drawing = null;
          renderOverlay();
        }
      },
      { signal: abort.signal },
    );
  }

  function addDraftBox(box) {
    state.boxes.push(box);
    state.selected = state.boxes.length - 1;
    clearProblems();
    renderBoxes();
    renderOverlay();
    announce(`Box ${state.boxes.length} added; choose its label.`);
    document.getElementById(`box-${state.selected}-label`)?.focus();
  }

  function selectAt(x, y) {
    let hit = -1;
    state.boxes.forEach((b, i) => {
      if (x >= b.x_min && x <= b.x_max && y >= b.y_min && y <= b.y_max) hit = i;
    });
    state.selected = hit;
    renderOverlay();
    renderSelection();
    if (hit >= 0) document.getElementById(`box-${hit}-label`)?.focus();
  }

  // ---- overlay --------------------------------------------------------------------------------------------
  function renderOverlay() {
    const r = overlay.getBoundingClientRect();
    const scale = r.width > 0 && cols > 0 ? cols / r.width : 1;
    const font = 13 * scale;
    const groups = [];
    const drawBox = (b, colour, text, cls, dashed) => {
      const w = Math.max(0, b.x_max - b.x_min);
      const hgt = Math.max(0, b.y_max - b.y_min);
      return svg(
        'g',
        { class: cls },
        svg('rect', {
          x: b.x_min,
          y: b.y_min,
          width: w,
          height: hgt,
          fill: 'none',
          stroke: colour,
          'stroke-width': 2,
          'stroke-dasharray': dashed ? '6 4' : undefined,
          'vector-effect': 'non-scaling-stroke',
        }),
        text
          ? svg(
              'text',
              {
                x: b.x_min + 3 * scale,
                y: b.y_min > font * 1.4 ? b.y_min - 4 * scale : b.y_min + font * 1.1,
                fill: colour,
                'font-size': font,
                class: 'box-text',
              },
              text,
            )
          : null,
      );
    };
    for (const layer of state.layers) {
      if (!layer.visible) continue;
      groups.push(
        svg(
          'g',
          { class: `layer layer-${layer.key}` },
          layer.reading.boxes.map((b) => drawBox(b, layer.colour, b.label, 'layer-box', layer.dashed)),
        ),
      );
    }
    state.boxes.forEach((b, i) => {
      const invalid = state.invalidBoxes.has(i);
      const cls = ['draft-box', i === state.selected ? 'selected' : '', invalid ? 'invalid' : '']
        .filter(Boolean)
        .join(' ');
      groups.push(
        drawBox(
          b,
          invalid ? INVALID_COLOUR : i === state.selected ? SELECTED_COLOUR : DRAFT_COLOUR,
          `${i + 1} ${b.label || '(no label)'}`,
          cls,
          false,
        ),
      );
    });
    if (state.drawing) {
      const d = state.drawing;
      groups.push(
        drawBox(
          {
            x_min: Math.min(d.x0, d.x1),
            y_min: Math.min(d.y0, d.y1),
            x_max: Math.max(d.x0, d.x1),
            y_max: Math.max(d.y0, d.y1),
          },
          DRAFT_COLOUR,
          '',
          'drawing',
          true,
        ),
      );
    }
    replace(overlay, ...groups);
  }

  // ---- box list -------------------------------------------------------------------------------------------
  function renderBoxes() {
    boxCount.textContent = `(${state.boxes.length})`;
    if (state.boxes.length === 0) {
      replace(
        boxList,
        el(
          'li',
          { class: 'empty' },
          state.editable ? 'No boxes yet: drag on the image to draw one.' : 'No boxes.',
        ),
      );
      return;
    }
    replace(
      boxList,
      ...state.boxes.map((b, i) => {
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
          b.label = select.value;
          clearRowProblems(i);
          renderOverlay();
        });
        select.addEventListener('focus', () => {
          state.selected = i;
          renderOverlay();
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
            if (input.value !== '' && Number.isFinite(v)) b[key] = v;
            clearRowProblems(i);
            renderOverlay();
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
          state.boxes.splice(i, 1);
          state.selected = -1;
          clearProblems();
          renderBoxes();
          renderOverlay();
          announce(`Box ${i + 1} deleted.`);
          const next = document.getElementById(`box-${Math.min(i, state.boxes.length - 1)}-label`);
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
      state.globals.has(taxonomy.noFinding) && state.boxes.length > 0
        ? `“${taxonomy.noFinding}” cannot go with boxes: delete them first.`
        : '';
  }

  // ---- review ---------------------------------------------------------------------------------------------
  function renderLegend() {
    return el(
      'fieldset',
      { class: 'legend' },
      el('legend', null, 'Show on the image'),
      state.layers.map((layer) => {
        const id = `layer-${layer.key}`;
        const input = el('input', { type: 'checkbox', id });
        input.checked = layer.visible;
        input.addEventListener('change', () => {
          layer.visible = input.checked;
          renderOverlay();
        });
        return el(
          'div',
          { class: 'check' },
          input,
          el(
            'label',
            { for: id },
            el('span', {
              class: `swatch${layer.dashed ? ' dashed' : ''}`,
              style: { '--c': layer.colour },
              'aria-hidden': 'true',
            }),
            `${layer.name}: ${describeReading(layer.reading)}`,
          ),
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
          `Step 1 of 2: ${review.readings.length} readings are shown in colour. Edit the labels below (start from the fused proposal if you like) and submit them; a second senior reader then confirms or returns them.`,
        ),
        el(
          'button',
          {
            type: 'button',
            class: 'button-quiet',
            disabled: !state.editable,
            onclick: () => {
              if (
                state.boxes.length > 0 &&
                !window.confirm('Replace your boxes and labels with the fused proposal?')
              )
                return;
              state.boxes = (review.fused.boxes || []).map(plainBox);
              state.globals = new Set(review.fused.globalLabels || []);
              for (const [label, input] of globalBoxes) input.checked = state.globals.has(label);
              state.selected = -1;
              clearProblems();
              renderBoxes();
              renderOverlay();
              announce(
                `Fused proposal loaded: ${describeReading({ boxes: state.boxes, globalLabels: [...state.globals] })}.`,
              );
            },
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
        'Step 2 of 2: confirm the first reviewer’s proposal as the final label, or return it with a reason (a new review round starts).',
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
    clearProblems();
    result.textContent = '';
    let body;
    if (isConfirmer) {
      body = { ...extra };
    } else {
      state.sentGlobals = [...state.globals].sort(
        (a, b) => globalLabels.indexOf(a) - globalLabels.indexOf(b),
      );
      body = { boxes: state.boxes.map(plainBox), globalLabels: state.sentGlobals, ...extra };
      if (comment.value.trim()) body.comment = comment.value;
    }
    const buttons = [...form.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    result.textContent = 'Submitting…';
    try {
      const res = await api(`/tasks/${encodeURIComponent(task.taskId)}/submission`, {
        method: 'POST',
        body,
        signal: abort.signal,
      });
      const what =
        extra.decision === 'confirm' ? 'Confirmation' : extra.decision === 'return' ? 'Return' : 'Submission';
      replace(
        result,
        el('strong', null, `${what} accepted`),
        res.duplicate ? ' (it had already been recorded).' : '.',
        ' ',
        el('a', { href: '#/inbox' }, 'Back to the inbox'),
      );
      result.classList.add('ok');
      announce(`${what} accepted.`);
      state.locked = true;
      lockForm();
      setStatus('submitted');
    } catch (e) {
      if (e.name === 'AbortError') return;
      result.textContent = '';
      if (!(e instanceof ApiError)) {
        showProblems([], `Submission failed: ${e.message}. Your work is still here; retry.`);
      } else if (e.status === 422) {
        // The problems go next to their fields; the detail is the summary only when there are none.
        showProblems(
          e.errors,
          e.errors.length > 0
            ? 'The submission was not accepted.'
            : e.problem.detail || 'The submission is invalid.',
        );
      } else if (e.status === 409) {
        showProblems([], `This task is no longer yours: ${e.problem.detail || e.message}`);
        state.locked = true;
        lockForm();
        // Show what became of it (expired, reassigned, cancelled…).
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
    }
  }

  function lockForm(message) {
    state.editable = false;
    for (const control of form.querySelectorAll('input, select, textarea, button')) control.disabled = true;
    hint.textContent = 'Read-only: this task takes no more boxes.';
    if (message) result.textContent = message;
  }

  // ---- problems (422) ---------------------------------------------------------------------------------------
  function clearProblems() {
    state.invalidBoxes.clear();
    formError.replaceChildren();
    for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
    for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
    for (const r of boxList.querySelectorAll('.box-row.invalid')) r.classList.remove('invalid');
  }

  function clearRowProblems(i) {
    if (!state.invalidBoxes.delete(i)) return;
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

  /** Puts each `errors[].path` next to its box, field or checkbox; the rest (and a summary) at the form. */
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
        const unlabelled = m[2] === 'label' && !(state.boxes[i] && state.boxes[i].label);
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
    renderOverlay();
    if (!first) formError.tabIndex = -1;
    (first || formError).focus();
  }
}
