// Drawings on the frame (issue 21): a canvas over the picture of the
// player, which shows the drawings the server returned with the comments
// (never anything else as a saved comment) and, while its tools are on, the
// draft of the comment being written.
//
// Coordinates are the API's (libmam/mam_annotation.h): fractions 0..1 of
// the picture from its top left corner, not of the element: a video
// element letterboxes its picture (object-fit: contain), so the picture's
// rectangle inside the element is worked out from videoWidth/videoHeight
// for every pointer event and every redraw.  A stroke's width is a
// fraction of the picture's width.  A draft holds to the API's bounds as
// it is drawn (64 shapes, 1,000 points a stroke, 2,000 in all), so what is
// sent is never refused for its size; the server checks it all again.

import { frameOf, h } from './dom.js';

export const TOOLS = [['arrow', 'Arrow'], ['rectangle', 'Rectangle'], ['ellipse', 'Ellipse'],
                      ['line', 'Line'], ['freehand', 'Freehand']];
export const WIDTHS = [['0.003', 'Thin'], ['0.006', 'Medium'], ['0.012', 'Thick']];
const SHAPES_MAX = 64, POINTS_MAX = 1000, TOTAL_MAX = 2000;
// a freehand point is kept once the pointer moved this far (of the width)
const STEP = 0.002;
// without a measured rate, "a frame" is 40 ms (the player's steps)
const FALLBACK_FPS = 25;

const round4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

// where the picture is inside the media element, in CSS pixels
export function pictureRect(media) {
  const ew = media.clientWidth, eh = media.clientHeight;
  const vw = media.videoWidth || ew, vh = media.videoHeight || eh;
  if (!ew || !eh || !vw || !vh) return { x: 0, y: 0, w: ew, h: eh };
  const s = Math.min(ew / vw, eh / vh);
  return { x: (ew - vw * s) / 2, y: (eh - vh * s) / 2, w: vw * s, h: vh * s };
}

// one shape on a 2D context, the picture at r (device pixels)
function paint(g, shape, r) {
  const px = ([x, y]) => [r.x + x * r.w, r.y + y * r.h];
  g.strokeStyle = shape.color;
  g.fillStyle = shape.color;
  g.lineWidth = Math.max(1, shape.width * r.w);
  g.lineCap = 'round';
  g.lineJoin = 'round';
  g.beginPath();
  const pts = shape.points.map(px);
  if (shape.type === 'freehand') {
    if (pts.length === 1) {
      g.arc(pts[0][0], pts[0][1], g.lineWidth / 2, 0, 2 * Math.PI);
      g.fill();
      return;
    }
    pts.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
  } else if (shape.type === 'rectangle') {
    const [[x0, y0], [x1, y1]] = pts;
    g.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  } else if (shape.type === 'ellipse') {
    const [[x0, y0], [x1, y1]] = pts;
    g.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, 0, 0, 2 * Math.PI);
  } else {
    const [[x0, y0], [x1, y1]] = pts;
    g.moveTo(x0, y0);
    g.lineTo(x1, y1);
    if (shape.type === 'arrow') {
      // the head: two strokes back from the tip, 28° either side
      const a = Math.atan2(y1 - y0, x1 - x0);
      const len = Math.max(4 * g.lineWidth, 0.025 * r.w);
      for (const s of [-1, 1]) {
        g.moveTo(x1, y1);
        g.lineTo(x1 - len * Math.cos(a + s * 0.49), y1 - len * Math.sin(a + s * 0.49));
      }
    }
  }
  g.stroke();
}

// a comment's span in frames at fps: [first, last]
export function spanOf(c, fps) {
  const f = fps > 0 ? fps : FALLBACK_FPS;
  const first = fps > 0 && c.frame !== null && c.frame !== undefined ? c.frame : frameOf(c.timestamp_sec, f);
  let len = 0;
  if (c.duration_sec !== null && c.duration_sec !== undefined) {
    len = fps > 0 && c.duration_frames !== null && c.duration_frames !== undefined
      ? c.duration_frames : Math.round(c.duration_sec * f);
  }
  return [first, first + len];
}

// The layer over media in box (the player's element).  fps() is the rate
// of the version on screen (0: none known); changed(n) is told the draft's
// number of shapes after each change.
export function drawingLayer(box, media, fps, { changed = () => {} } = {}) {
  const canvas = h('canvas', { id: 'drawing', class: 'drawing', 'aria-hidden': 'true', hidden: true });
  box.append(canvas);
  let saved = [];          // the version's comments with a drawing
  let shown = [];          // those whose drawing is on screen
  let draft = [];          // the shapes of the comment being written
  let current = null;      // the shape under the pointer
  let on = false;
  const pick = { tool: 'arrow', color: '#ff3b30', width: 0.006 };

  const frameNow = () => frameOf(media.currentTime, fps() > 0 ? fps() : FALLBACK_FPS);
  const points = () => draft.reduce((n, s) => n + s.points.length, 0) + (current ? current.points.length : 0);

  // the canvas over the element, at the screen's pixel density
  const fit = () => {
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${media.clientWidth}px`;
    canvas.style.height = `${media.clientHeight}px`;
    canvas.width = Math.round(media.clientWidth * dpr);
    canvas.height = Math.round(media.clientHeight * dpr);
  };
  const redraw = () => {
    if (canvas.width !== Math.round(media.clientWidth * (window.devicePixelRatio || 1))) fit();
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, canvas.width, canvas.height);
    const dpr = window.devicePixelRatio || 1;
    const p = pictureRect(media);
    const r = { x: p.x * dpr, y: p.y * dpr, w: p.w * dpr, h: p.h * dpr };
    for (const c of shown) c.annotation.shapes.forEach((s) => paint(g, s, r));
    if (on) {
      draft.forEach((s) => paint(g, s, r));
      if (current) paint(g, current, r);
    }
    // nothing to show: no layer over the picture to composite each frame
    canvas.hidden = !on && !shown.length;
    canvas.dataset.shown = shown.map((c) => c.id).join(' ');
    canvas.dataset.draft = String(draft.length);
  };
  // the layer follows the element's size once it has something to show
  // (no observer, no bitmap, no work at all for a version without drawings)
  let resize = null;
  const watch = () => {
    if (resize) return;
    resize = new ResizeObserver(() => { fit(); redraw(); });
    resize.observe(media);
  };

  // the drawings of the frame on screen (a range's through its range)
  const update = () => {
    if (!saved.length && !shown.length) return;
    const f = frameNow();
    const next = saved.filter((c) => {
      const [a, b] = spanOf(c, fps());
      return f >= a && f <= b;
    });
    if (next.length === shown.length && next.every((c, i) => c === shown[i])) return;
    shown = next;
    redraw();
  };

  // a pointer's place as a point of the picture, clamped to it
  const at = (e) => {
    const b = media.getBoundingClientRect();
    const p = pictureRect(media);
    return [round4((e.clientX - b.left - p.x) / p.w), round4((e.clientY - b.top - p.y) / p.h)];
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (!on || e.button !== 0) return;
    if (draft.length >= SHAPES_MAX || points() + 2 > TOTAL_MAX) {
      full.hidden = false;
      return;
    }
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const p = at(e);
    current = { type: pick.tool, points: pick.tool === 'freehand' ? [p] : [p, p], color: pick.color, width: pick.width };
    redraw();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current) return;
    const p = at(e);
    if (current.type !== 'freehand') {
      current.points[1] = p;
    } else {
      const [lx, ly] = current.points[current.points.length - 1];
      if (Math.hypot(p[0] - lx, p[1] - ly) < STEP) return;
      if (current.points.length >= POINTS_MAX || points() >= TOTAL_MAX) return;
      current.points.push(p);
    }
    redraw();
  });
  const finish = () => {
    if (!current) return;
    const s = current;
    current = null;
    const [a, b] = s.points;
    // a click without a drag makes no box, line or arrow
    if (s.type === 'freehand' || a[0] !== b[0] || a[1] !== b[1]) draft.push(s);
    redraw();
    changed(draft.length);
  };
  canvas.addEventListener('pointerup', finish);
  canvas.addEventListener('pointercancel', finish);

  // the tools: a toolbar under the player, shown while drawing
  const toolButtons = TOOLS.map(([tool, label], i) => {
    const b = h('button', { type: 'button', class: 'ghost tool', dataset: { tool },
                            'aria-pressed': String(tool === pick.tool), title: `${label} (${i + 1})` }, label);
    b.addEventListener('click', () => choose(tool));
    return b;
  });
  const color = h('input', { type: 'color', id: 'draw-color', value: pick.color, 'aria-label': 'Colour' });
  color.addEventListener('input', () => { pick.color = color.value.toLowerCase(); });
  const width = h('select', { id: 'draw-width', 'aria-label': 'Stroke width' },
    WIDTHS.map(([v, label]) => h('option', { value: v, selected: Number(v) === pick.width }, label)));
  width.addEventListener('change', () => { pick.width = Number(width.value); });
  const undoB = h('button', { type: 'button', class: 'ghost', id: 'draw-undo', title: 'Undo (Ctrl+Z)' }, 'Undo');
  const clearB = h('button', { type: 'button', class: 'ghost', id: 'draw-clear' }, 'Clear');
  // the API's bounds reached: said, not silently ignored
  const full = h('span', { class: 'muted', id: 'draw-full', role: 'status', hidden: true },
    `A drawing holds at most ${SHAPES_MAX} shapes and ${TOTAL_MAX} points: undo to draw more.`);
  const toolbar = h('div', { class: 'row draw-tools', id: 'draw-tools', role: 'toolbar', 'aria-label': 'Drawing tools',
                             hidden: true },
    toolButtons, color, width, undoB, clearB, full);
  const choose = (tool) => {
    pick.tool = tool;
    toolButtons.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.tool === tool)));
  };
  const undo = () => { draft.pop(); full.hidden = true; redraw(); changed(draft.length); };
  const clearDraft = () => { draft = []; current = null; full.hidden = true; redraw(); changed(0); };
  undoB.addEventListener('click', undo);
  clearB.addEventListener('click', clearDraft);

  // the tools on (the picture paused: one draws on a frame) or off
  const toggleB = h('button', { type: 'button', class: 'ghost', id: 'draw-toggle', 'aria-pressed': 'false',
                                title: 'Draw on the frame (D)' }, 'Draw');
  const set = (v) => {
    on = v;
    if (on) watch();
    if (on) media.pause();
    toggleB.setAttribute('aria-pressed', String(on));
    toolbar.hidden = !on;
    canvas.classList.toggle('active', on);
    current = null;
    redraw();
  };
  toggleB.addEventListener('click', () => set(!on));
  media.addEventListener('play', () => { if (on) set(false); });

  return {
    toggleButton: toggleB,
    toolbar,
    update,
    redraw,
    // the version on screen's comments: those with a drawing are replayed
    comments: (cs) => {
      saved = cs.filter((c) => c.annotation && c.annotation.shapes);
      if (saved.length) watch();
      update();
    },
    // the first drawing whose frame playback passed from frame a to b
    crossed: (a, b) => saved.find((c) => { const [f] = spanOf(c, fps()); return a < f && f <= b; }) || null,
    active: () => on,
    toggle: () => set(!on),
    off: () => set(false),
    choose: (i) => { if (TOOLS[i]) choose(TOOLS[i][0]); },
    undo,
    clearDraft,
    // the API's form of the draft: {shapes} or undefined without one
    annotation: () => (draft.length ? { shapes: draft.map((s) => ({ ...s, points: s.points.map((p) => [...p]) })) }
                                    : undefined),
    stop: () => resize && resize.disconnect(),
  };
}
