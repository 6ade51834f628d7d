// The film viewer on Cornerstone3D (the library under OHIF): the de-identified DICOM of a task is fetched by the DICOM
// image loader (bearer token on the request) and decoded by its WASM codecs in a web worker (JPEG baseline/lossless,
// JPEG-LS, JPEG 2000, HTJ2K, RLE, uncompressed). Window/level, pan, zoom and boxes are Cornerstone tools; a box is a
// RectangleROI annotation whose corners are converted to image pixels (0,0 = top-left corner of the first pixel).
// Loaded on demand by task.js (a chunk of its own: the inbox and manager pages do not pay for it).
import {
  Enums as CoreEnums,
  RenderingEngine,
  cache,
  eventTarget,
  getRenderingEngine,
  init as coreInit,
  metaData,
  utilities as coreUtils,
} from '@cornerstonejs/core';
import { init as loaderInit, wadouri } from '@cornerstonejs/dicom-image-loader';
import {
  Enums as ToolEnums,
  PanTool,
  RectangleROITool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation as csAnnotation,
  init as toolsInit,
} from '@cornerstonejs/tools';

const { MouseBindings, Events: ToolEvents } = ToolEnums;

/** Read-only boxes (other readers' readings, the fused proposal): the same rectangle, never interactive. */
class LayerBoxTool extends RectangleROITool {
  static toolName = 'ReadFlowLayerBox';
}

/** One line of text beside each box: its number and label (no pixel statistics: they are not what a reader needs). */
function labelLines(data) {
  return data.label ? [data.label] : [];
}

/**
 * Some films carry a Pixel Spacing of 0 (e.g. "0.000\\0.000" in the NEMA CR sample RG1_J2KI): the loader takes it as
 * given, the image then has no extent in world space and neither drawing nor the camera work. Such a spacing, like a
 * missing one, is read as 1 (boxes are in image pixels anyway; no distance is measured in mm here).
 */
let planeGuard = false;
function imagePlaneWithUsableSpacing(type, imageId) {
  if (type !== 'imagePlaneModule' || planeGuard) return undefined;
  planeGuard = true;
  let plane;
  try {
    plane = metaData.get(type, imageId);
  } finally {
    planeGuard = false;
  }
  if (!plane) return undefined;
  const usable = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (usable(plane.rowPixelSpacing) && usable(plane.columnPixelSpacing)) return plane;
  return { ...plane, pixelSpacing: [1, 1], rowPixelSpacing: 1, columnPixelSpacing: 1, usingDefaultValues: true };
}

/**
 * Cornerstone parses DICOM metadata with dcmjs, whose validator logs every non-conformance of a file (e.g. an Age
 * String of 2 characters) as console errors. The files were validated at ingest; in the browser these are warnings,
 * marked as such, so that real page errors stand out.
 */
function conformanceAsWarnings() {
  const { log } = coreUtils.logger;
  if (!log?.getLogger) return;
  for (const logger of [log, log.getLogger('validation.dcmjs')]) {
    const original = logger.methodFactory;
    logger.methodFactory = (method, level, name) => {
      if (method !== 'error') return original(method, level, name);
      const warn = original('warn', level, name);
      return (...args) => warn('[DICOM conformance]', ...args);
    };
    logger.setLevel(logger.getLevel(), false);
  }
}

const DEFLATED_EXPLICIT_LE = '1.2.840.10008.1.2.1.99';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Deflated Explicit VR Little Endian (the whole data set zipped after the file meta information) is not read by the
 * DICOM image loader: such a file is inflated here, with the browser's own DecompressionStream, into the explicit VR
 * little endian file it stands for, before the loader parses it. Every other file passes untouched.
 */
async function inflateIfDeflated(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 144 || new TextDecoder().decode(bytes.subarray(128, 132)) !== 'DICM') return buffer;
  const view = new DataView(buffer);
  let p = 132;
  let tsOffset = -1;
  let tsLength = 0;
  while (p + 8 <= bytes.length && view.getUint16(p, true) === 0x0002) {
    const element = view.getUint16(p + 2, true);
    const vr = String.fromCharCode(bytes[p + 4], bytes[p + 5]);
    const long = LONG_VRS.has(vr);
    const length = long ? view.getUint32(p + 8, true) : view.getUint16(p + 6, true);
    const header = long ? 12 : 8;
    if (element === 0x0010) {
      tsOffset = p + header;
      tsLength = length;
    }
    p += header + length;
  }
  if (tsOffset < 0) return buffer;
  const ts = new TextDecoder().decode(bytes.subarray(tsOffset, tsOffset + tsLength)).replace(/[\0 ]+$/, '');
  if (ts !== DEFLATED_EXPLICIT_LE) return buffer;
  const inflate = async (data) =>
    new Uint8Array(
      await new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).arrayBuffer(),
    );
  // Bytes after the end of the deflated stream (a padding byte, or a stray trailer some writers add) make the browser's
  // inflater refuse the whole stream, where zlib stops at the end: up to 16 such bytes are dropped, one at a time.
  let inflated;
  for (let drop = 0; ; drop += 1) {
    try {
      inflated = await inflate(bytes.subarray(p, bytes.length - drop));
      break;
    } catch (e) {
      if (drop >= 16 || bytes.length - drop - 1 <= p) throw e;
    }
  }
  const out = new Uint8Array(p + inflated.length);
  out.set(bytes.subarray(0, p));
  // The meta information now names explicit VR little endian, in the same 22 bytes (NUL-padded).
  out.fill(0, tsOffset, tsOffset + tsLength);
  out.set(new TextEncoder().encode(EXPLICIT_LE), tsOffset);
  out.set(inflated, p);
  return out.buffer;
}

let initialised = null;
let tokenOf = () => null;

/**
 * Initialises Cornerstone once per page: CPU rendering (a single 2D film needs no GPU, and reading rooms on virtual
 * desktops often have none: the same pixels everywhere), one decoding worker, the bearer token on every request.
 */
/** True for the error of a render the library ran for a viewer whose rendering engine was destroyed. */
function renderedAfterClose(error) {
  return error instanceof TypeError && /reading 'renderViewport'/.test(error.message) && closedViewers > 0;
}
/** Viewers closed on this page so far (a render after close is only possible once one was). */
let closedViewers = 0;

function initialise(getToken) {
  tokenOf = getToken;
  initialised ??= (async () => {
    conformanceAsWarnings();
    // The loader also rejects promises of its own with the failed request (a 404 after reassignment, a request cut
    // short when the reader moves to the next task) that nobody awaits: the reader is told through `loaded`, so these
    // are not page errors.
    window.addEventListener('unhandledrejection', (event) => {
      if (event.reason instanceof XMLHttpRequest || renderedAfterClose(event.reason)) event.preventDefault();
    });
    // Likewise a render the library scheduled (an image arriving, a tool's redraw) for a viewer closed meanwhile: its
    // rendering engine is gone, so the library's own `viewport.render()` finds none. Nothing is lost: the film closed.
    window.addEventListener('error', (event) => {
      if (renderedAfterClose(event.error)) event.preventDefault();
    });
    await coreInit({ rendering: { useCPURendering: true } });
    loaderInit({
      maxWebWorkers: 1,
      beforeSend: () => {
        const token = tokenOf();
        // Images are revalidated (ETag) every time: a reader loses an image as soon as the task is reassigned.
        return token ? { Authorization: `Bearer ${token}`, 'Cache-Control': 'no-cache' } : {};
      },
      beforeProcessing: (xhr) => inflateIfDeflated(xhr.response),
    });
    metaData.addProvider(imagePlaneWithUsableSpacing, 10_000);
    toolsInit();
    addTool(WindowLevelTool);
    addTool(PanTool);
    addTool(ZoomTool);
    addTool(RectangleROITool);
    addTool(LayerBoxTool);
  })();
  return initialised;
}

/**
 * One film on the page at a time, under fixed ids: the annotation layer is `svg-layer-readflow-film`, so the one inline
 * style Cornerstone's text boxes write (a drop shadow by that id) is always the same string, which the page's CSP allows
 * by its hash and nothing else inline (src/web/csp.ts).
 */
export const VIEWPORT_ID = 'readflow-film';
const ENGINE_ID = 'readflow-engine';
const TOOL_GROUP_ID = 'readflow-tools';

/** Window presets, as fractions of the film's own range of values (1st to 99th percentile) in display terms (0 = black,
 * 1 = white). Radiographs have no Hounsfield scale, so "lung" stretches the dark end, "mediastinum" the middle-to-bright
 * soft tissue and "bone" the bright end of the film's own range. */
export const PRESETS = {
  lung: { name: 'Lung', display: [0, 0.6] },
  mediastinum: { name: 'Mediastinum', display: [0.3, 0.9] },
  bone: { name: 'Bone', display: [0.55, 1] },
};

export const MODES = ['box', 'wl', 'pan', 'zoom'];

/**
 * The 1st and 99th percentiles of a film's values (from a sample of at most ~256k pixels): the span the presets divide,
 * robust to a file VOI much wider than its data or to a few saturated pixels.
 */
function valueRange(image) {
  const data = image.getPixelData();
  const step = Math.max(1, Math.floor(data.length / 262144));
  const sample = new Float64Array(Math.ceil(data.length / step));
  let n = 0;
  for (let i = 0; i < data.length; i += step) sample[n++] = data[i];
  const sorted = sample.subarray(0, n).sort();
  const scaled = !!image.preScale?.scaled;
  const slope = scaled ? 1 : (image.slope ?? 1);
  const intercept = scaled ? 0 : (image.intercept ?? 0);
  const at = (q) => sorted[Math.min(n - 1, Math.max(0, Math.round(q * (n - 1))))] * slope + intercept;
  const lower = at(0.01);
  const upper = at(0.99);
  return upper > lower ? { lower, upper } : { lower: lower - 1, upper: lower + 1 };
}

/**
 * A viewer in `element` for the image at `url` (an API path). Returns the controls; `loaded` resolves with the image's
 * `{ columns, rows, photometric, voi }` or rejects with `{ status, message }`.
 */
export async function createViewer(element, { url, getToken, editable, onChange }) {
  await initialise(getToken);
  getRenderingEngine(ENGINE_ID)?.destroy();
  if (ToolGroupManager.getToolGroup(TOOL_GROUP_ID)) ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
  const engine = new RenderingEngine(ENGINE_ID);
  engine.enableElement({
    viewportId: VIEWPORT_ID,
    type: CoreEnums.ViewportType.STACK,
    element,
    defaultOptions: { background: [0, 0, 0] },
  });
  const viewport = engine.getViewport(VIEWPORT_ID);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.addTool(RectangleROITool.toolName, {
    getTextLines: labelLines,
    calculateStats: false,
    preventHandleOutsideImage: true,
  });
  group.addTool(LayerBoxTool.toolName, { getTextLines: labelLines, calculateStats: false });
  group.addViewport(viewport.id, engine.id);
  group.setToolEnabled(LayerBoxTool.toolName);
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, {
    bindings: [{ mouseButton: MouseBindings.Secondary }, { mouseButton: MouseBindings.Wheel }],
  });
  const preventMenu = (ev) => ev.preventDefault();
  element.addEventListener('contextmenu', preventMenu);
  // Window/level dragged with the mouse (or set by a preset, invert, reset) is reported to the page.
  const onVoi = () => changed('voi');
  element.addEventListener(CoreEnums.Events.VOI_MODIFIED, onVoi);
  // The film follows the size of its box (window resized, layers shown, panel scrolled into view).
  const resizer = new ResizeObserver(() => {
    if (!destroyed) engine.resize(true, true);
  });
  resizer.observe(element);

  const imageId = `wadouri:${new URL(url, window.location.origin).href}`;
  let info = null;
  /** The reader's own boxes, in the order they were drawn: `{ uid, label, number }`. */
  const own = [];
  /** Read-only layers by key: the annotation uids. */
  const layers = new Map();
  let mode = 'box';
  let locked = !editable;
  let initialInverted = false;
  let displayInverted = false;
  let destroyed = false;

  const annotationOf = (uid) => csAnnotation.state.getAnnotation(uid);
  const render = () => {
    if (!destroyed) viewport.render();
  };

  function toImage(world) {
    const [x, y] = coreUtils.worldToImageCoords(imageId, world);
    return [x, y];
  }
  function toWorld(x, y) {
    return coreUtils.imageToWorldCoords(imageId, [x, y]);
  }

  /** The box of an annotation in image pixels, rounded to whole pixels and kept inside the image. */
  function boxOf(uid) {
    const a = annotationOf(uid);
    if (!a || !info) return null;
    const pts = a.data.handles.points.map(toImage);
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const clampX = (v) => Math.min(info.columns, Math.max(0, Math.round(v)));
    const clampY = (v) => Math.min(info.rows, Math.max(0, Math.round(v)));
    return {
      x_min: clampX(Math.min(...xs)),
      y_min: clampY(Math.min(...ys)),
      x_max: clampX(Math.max(...xs)),
      y_max: clampY(Math.max(...ys)),
    };
  }

  function pointsOf(b) {
    return [
      toWorld(b.x_min, b.y_min),
      toWorld(b.x_max, b.y_min),
      toWorld(b.x_min, b.y_max),
      toWorld(b.x_max, b.y_max),
    ];
  }

  function makeAnnotation(Tool, b, label) {
    const a = Tool.createAnnotationForViewport(viewport, {
      data: { handles: { points: pointsOf(b), activeHandleIndex: null }, label },
    });
    a.annotationUID = coreUtils.uuidv4();
    a.highlighted = false;
    csAnnotation.state.addAnnotation(a, element);
    return a;
  }

  function ownText(entry) {
    return `${entry.number} ${entry.label || '(no label)'}`;
  }

  function refreshOwnStyles(invalid = new Set()) {
    own.forEach((entry, i) => {
      entry.number = i + 1;
      const a = annotationOf(entry.uid);
      if (!a) return;
      a.data.label = ownText(entry);
      const bad = invalid.has(i);
      const colour = bad ? 'rgb(255, 107, 107)' : 'rgb(255, 212, 59)';
      csAnnotation.config.style.setAnnotationStyles(entry.uid, {
        color: colour,
        colorHighlighted: bad ? 'rgb(255, 160, 160)' : 'rgb(255, 236, 153)',
        colorSelected: 'rgb(255, 255, 255)',
        colorLocked: colour,
        lineWidth: '2',
        textBoxColor: colour,
        textBoxColorHighlighted: colour,
        textBoxColorSelected: 'rgb(255, 255, 255)',
        textBoxColorLocked: colour,
        textBoxFontSize: '15px',
        textBoxBackground: 'rgba(0, 0, 0, 0.55)',
      });
      csAnnotation.locking.setAnnotationLocked(entry.uid, locked);
    });
    render();
  }

  const changed = (what, detail = {}) => onChange?.({ what, ...detail });

  // ---- Cornerstone events -------------------------------------------------------------------------------------
  const isOwn = (a) => a?.metadata?.toolName === RectangleROITool.toolName && element.isConnected;
  function onCompleted(evt) {
    const a = evt.detail.annotation;
    if (!isOwn(a) || own.some((e) => e.uid === a.annotationUID)) return;
    const b = boxOf(a.annotationUID);
    if (!b || b.x_max - b.x_min < 2 || b.y_max - b.y_min < 2) {
      // A click, not a box.
      csAnnotation.state.removeAnnotation(a.annotationUID);
      render();
      return;
    }
    own.push({ uid: a.annotationUID, label: '', number: own.length + 1 });
    refreshOwnStyles();
    select(a.annotationUID);
    changed('added', { index: own.length - 1 });
  }
  function onModified(evt) {
    const a = evt.detail.annotation;
    const i = own.findIndex((e) => e.uid === a?.annotationUID);
    if (i >= 0) changed('moved', { index: i });
  }
  function onSelection(evt) {
    const uids = evt.detail.selection || [];
    const i = own.findIndex((e) => uids.includes(e.uid));
    changed('selected', { index: i });
  }
  eventTarget.addEventListener(ToolEvents.ANNOTATION_COMPLETED, onCompleted);
  eventTarget.addEventListener(ToolEvents.ANNOTATION_MODIFIED, onModified);
  eventTarget.addEventListener(ToolEvents.ANNOTATION_SELECTION_CHANGE, onSelection);

  // ---- modes --------------------------------------------------------------------------------------------------
  function setMode(next) {
    if (!MODES.includes(next)) return;
    if (next === 'box' && locked) next = 'wl';
    mode = next;
    const primary = { bindings: [{ mouseButton: MouseBindings.Primary }] };
    for (const name of [WindowLevelTool.toolName, RectangleROITool.toolName]) group.setToolPassive(name);
    if (locked) group.setToolEnabled(RectangleROITool.toolName);
    if (next === 'box') group.setToolActive(RectangleROITool.toolName, primary);
    else if (next === 'wl') group.setToolActive(WindowLevelTool.toolName, primary);
    group.setToolActive(PanTool.toolName, {
      bindings:
        next === 'pan'
          ? [{ mouseButton: MouseBindings.Auxiliary }, { mouseButton: MouseBindings.Primary }]
          : [{ mouseButton: MouseBindings.Auxiliary }],
    });
    group.setToolActive(ZoomTool.toolName, {
      bindings:
        next === 'zoom'
          ? [
              { mouseButton: MouseBindings.Secondary },
              { mouseButton: MouseBindings.Wheel },
              { mouseButton: MouseBindings.Primary },
            ]
          : [{ mouseButton: MouseBindings.Secondary }, { mouseButton: MouseBindings.Wheel }],
    });
    element.dataset.mode = next;
    changed('mode', { mode: next });
  }

  // ---- the image ----------------------------------------------------------------------------------------------
  const loaded = (async () => {
    try {
      await viewport.setStack([imageId]);
    } catch (e) {
      const xhr = e && typeof e === 'object' && 'status' in e ? e : e?.request;
      const status = typeof xhr?.status === 'number' ? xhr.status : 0;
      const message = status ? `HTTP ${status}` : e?.error?.message || e?.message || String(e);
      throw { status, message };
    }
    if (destroyed) throw { status: 0, message: 'closed' };
    const pixel = metaData.get('imagePixelModule', imageId) || {};
    const image = viewport.csImage;
    const voi = viewport.getProperties().voiRange;
    const photometric = pixel.photometricInterpretation || image.photometricInterpretation || '';
    info = {
      columns: image.columns,
      rows: image.rows,
      photometric,
      transferSyntax: metaData.get('transferSyntax', imageId)?.transferSyntaxUID || '',
      voi: { lower: voi.lower, upper: voi.upper },
      range: valueRange(image),
    };
    // Shown inverted as the file says (MONOCHROME1); `invert` toggles from there.
    initialInverted = photometric === 'MONOCHROME1';
    displayInverted = initialInverted;
    setMode(locked ? 'wl' : 'box');
    viewport.render();
    element.dataset.ready = 'true';
    return info;
  })();
  // A viewer closed before its film loaded: nobody awaits `loaded` any more, and that is no page error.
  loaded.catch(() => undefined);

  function applyPreset(key) {
    const preset = PRESETS[key];
    if (!preset || !info) return;
    const { lower, upper } = info.range;
    const span = upper - lower;
    let [a, b] = preset.display;
    if (displayInverted) [a, b] = [1 - b, 1 - a];
    viewport.setProperties({ voiRange: { lower: lower + a * span, upper: lower + b * span } });
    render();
    changed('voi');
  }

  function windowLevel() {
    const { voiRange } = viewport.getProperties();
    return {
      width: voiRange.upper - voiRange.lower,
      center: (voiRange.upper + voiRange.lower) / 2,
      lower: voiRange.lower,
      upper: voiRange.upper,
      /** Shown the other way round from what the file asks. */
      invert: displayInverted !== initialInverted,
    };
  }

  function select(uid) {
    csAnnotation.selection.setAnnotationSelected(uid, true, false);
    render();
  }

  function removeAll(list) {
    for (const uid of list) csAnnotation.state.removeAnnotation(uid);
  }

  return {
    loaded,
    element,
    get info() {
      return info;
    },
    get mode() {
      return mode;
    },
    setMode,
    applyPreset,
    windowLevel,
    /** Changes the window by a step (keyboard): `dw` widens, `dc` moves the centre, in fractions of the default window. */
    nudgeWindow(dw, dc) {
      if (!info) return;
      const span = info.voi.upper - info.voi.lower;
      const w = windowLevel();
      const width = Math.max(1, w.width * (1 + dw));
      const center = w.center + dc * span;
      viewport.setProperties({ voiRange: { lower: center - width / 2, upper: center + width / 2 } });
      render();
      changed('voi');
    },
    invert() {
      // Absolute: under CPU rendering the viewport's `invert` is the display's (true for MONOCHROME1 from the start).
      displayInverted = !displayInverted;
      viewport.setProperties({ invert: displayInverted });
      render();
      changed('voi');
    },
    zoomBy(factor) {
      viewport.setZoom(viewport.getZoom() * factor);
      render();
    },
    panBy(dx, dy) {
      const [x, y] = viewport.getPan();
      viewport.setPan([x + dx, y + dy]);
      render();
    },
    reset() {
      viewport.resetCamera();
      if (info) {
        displayInverted = initialInverted;
        viewport.setProperties({ voiRange: { ...info.voi }, invert: displayInverted });
      }
      render();
      changed('voi');
    },
    /** The canvas position (CSS pixels, relative to the element) of an image point: for tests and hit-testing. */
    imageToCanvas(x, y) {
      return viewport.worldToCanvas(toWorld(x, y));
    },
    // ---- own boxes ----
    boxes() {
      return own.map((e) => ({ label: e.label, ...boxOf(e.uid) }));
    },
    count() {
      return own.length;
    },
    addBox(b) {
      const a = makeAnnotation(RectangleROITool, b, '');
      own.push({ uid: a.annotationUID, label: b.label || '', number: own.length + 1 });
      refreshOwnStyles();
      return own.length - 1;
    },
    setBoxes(list) {
      removeAll(own.splice(0).map((e) => e.uid));
      for (const b of list) {
        const a = makeAnnotation(RectangleROITool, b, '');
        own.push({ uid: a.annotationUID, label: b.label || '', number: own.length + 1 });
      }
      refreshOwnStyles();
    },
    setBoxLabel(i, label) {
      if (!own[i]) return;
      own[i].label = label;
      refreshOwnStyles();
    },
    setBoxCoords(i, b) {
      const a = own[i] && annotationOf(own[i].uid);
      if (!a) return;
      a.data.handles.points = pointsOf(b);
      a.invalidated = true;
      render();
    },
    /** Moves (dx, dy) or resizes (dw, dh) a box by image pixels, kept inside the image. */
    shiftBox(i, { dx = 0, dy = 0, dw = 0, dh = 0 }) {
      const b = own[i] && boxOf(own[i].uid);
      if (!b || !info) return;
      const w = Math.max(2, b.x_max - b.x_min + dw);
      const h = Math.max(2, b.y_max - b.y_min + dh);
      const x = Math.min(info.columns - w, Math.max(0, b.x_min + dx));
      const y = Math.min(info.rows - h, Math.max(0, b.y_min + dy));
      this.setBoxCoords(i, { x_min: x, y_min: y, x_max: x + w, y_max: y + h });
      changed('moved', { index: i });
    },
    removeBox(i) {
      const [entry] = own.splice(i, 1);
      if (entry) csAnnotation.state.removeAnnotation(entry.uid);
      refreshOwnStyles();
    },
    selectBox(i) {
      if (own[i]) select(own[i].uid);
      else {
        csAnnotation.selection.deselectAnnotation();
        render();
      }
    },
    selectedIndex() {
      const uids = csAnnotation.selection.getAnnotationsSelected() || [];
      return own.findIndex((e) => uids.includes(e.uid));
    },
    markInvalid(indexes) {
      refreshOwnStyles(new Set(indexes));
    },
    lock() {
      locked = true;
      refreshOwnStyles();
      setMode('wl');
    },
    // ---- read-only layers ----
    setLayer(key, boxes, { colour, dashed, prefix }) {
      removeAll(layers.get(key) || []);
      const uids = boxes.map((b) => {
        const a = makeAnnotation(LayerBoxTool, b, `${prefix} ${b.label}`);
        csAnnotation.config.style.setAnnotationStyles(a.annotationUID, {
          color: colour,
          colorHighlighted: colour,
          colorSelected: colour,
          colorLocked: colour,
          lineWidth: '2',
          lineDash: dashed ? '6,4' : '',
          textBoxColor: colour,
          textBoxColorHighlighted: colour,
          textBoxColorSelected: colour,
          textBoxColorLocked: colour,
          textBoxFontSize: '13px',
          textBoxBackground: 'rgba(0, 0, 0, 0.55)',
        });
        csAnnotation.locking.setAnnotationLocked(a.annotationUID, true);
        return a.annotationUID;
      });
      layers.set(key, uids);
      render();
    },
    setLayerVisible(key, visible) {
      for (const uid of layers.get(key) || []) csAnnotation.visibility.setAnnotationVisibility(uid, visible);
      render();
    },
    visibleLayerBoxes() {
      let n = 0;
      for (const uids of layers.values())
        for (const uid of uids) if (csAnnotation.visibility.isAnnotationVisible(uid) !== false) n += 1;
      return n;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      closedViewers += 1;
      eventTarget.removeEventListener(ToolEvents.ANNOTATION_COMPLETED, onCompleted);
      eventTarget.removeEventListener(ToolEvents.ANNOTATION_MODIFIED, onModified);
      eventTarget.removeEventListener(ToolEvents.ANNOTATION_SELECTION_CHANGE, onSelection);
      element.removeEventListener('contextmenu', preventMenu);
      element.removeEventListener(CoreEnums.Events.VOI_MODIFIED, onVoi);
      resizer.disconnect();
      removeAll(own.map((e) => e.uid));
      for (const uids of layers.values()) removeAll(uids);
      ToolGroupManager.destroyToolGroup(group.id);
      engine.destroy();
      // Nothing of a task's image stays in memory once the reader leaves it.
      cache.purgeCache();
      wadouri.dataSetCacheManager.purge();
    },
  };
}
