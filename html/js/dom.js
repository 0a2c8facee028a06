// DOM helpers shared by every view: element building, the page's main
// region, toasts, time formats.

export const $ = (sel, root = document) => root.querySelector(sel);
export const main = $('#main');

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // through the CSSOM: the Content-Security-Policy refuses style attributes
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function toast(text, bad = false) {
  const m = h('div', { class: bad ? 'msg bad' : 'msg' }, text);
  $('#toast').append(m);
  setTimeout(() => m.remove(), 5000);
}

// set by the router on a navigation (not on the first page of a visit,
// where the browser starts at the top by itself)
export const nav = { moved: false };

// a page: its title, its content, and after a navigation the focus on its
// heading (tabindex=-1, no ring: app.css), so that a screen reader starts
// there and Tab continues from there
export function view(title, ...children) {
  document.title = `${title} · MAM`;
  main.replaceChildren(...children);
  if (!nav.moved) return;
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  } else {
    main.focus({ preventScroll: true });
  }
}

export function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return [h('label', { for: id }, label), h('input', { id, ...attrs })];
}

// a modal question answered by a button: resolves true (confirmed) or false
export function confirmDialog(question, action = 'Delete') {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'danger', value: 'yes' }, action);
    const no = h('button', { type: 'button', class: 'ghost', value: 'no' }, 'Cancel');
    const d = h('dialog', { class: 'card', id: 'confirm', 'aria-labelledby': 'confirm-q' },
      h('p', { id: 'confirm-q' }, question), h('div', { class: 'row' }, ok, no));
    const done = (yes) => { d.close(); d.remove(); resolve(yes); };
    ok.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(d);
    d.showModal();
    no.focus();
  });
}

// Frames and timecodes (issue 20).  A frame is counted from 0 at the
// version's measured frame rate (metadata.frame_rate); frameOf() is the
// frame shown at a time, frameTime() the middle of a frame's interval, so a
// seek there lands inside it whatever the browser rounds.
export const frameOf = (sec, fps) => Math.max(0, Math.floor(Math.max(0, sec || 0) * fps + 1e-6));
export const frameTime = (frame, fps) => (frame + 0.5) / fps;

// metadata.frame_rate is rounded to 1/1000: the NTSC rates are taken as
// their exact fractions, so a frame count does not drift over an hour
export function exactRate(fps) {
  for (const r of [24000 / 1001, 30000 / 1001, 48000 / 1001, 60000 / 1001]) {
    if (Math.abs(fps - r) < 0.001) return r;
  }
  return fps > 0 ? fps : 0;
}

// 29.97 and 59.94 (NTSC) read as drop-frame timecode, hh:mm:ss;ff
export const isDropFrame = (fps) => Math.abs(fps - 30000 / 1001) < 0.01 || Math.abs(fps - 60000 / 1001) < 0.01;

// a rate near a whole number counts frames SMPTE's way (ff from 0 to the
// nominal rate - 1, 23.976 as 24); another rate (12.5) keeps the clock's
// seconds with ff the frame within the second
const nominal = (fps) => (Math.abs(fps - Math.round(fps)) < 0.1 || isDropFrame(fps) ? Math.round(fps) : 0);

// the drop-frame count: 2 (29.97) or 4 (59.94) frame numbers skipped at
// every minute but each tenth, so the timecode keeps to the clock
function dropFrameTimecode(frame, fps) {
  const nom = Math.round(fps), drop = nom / 15;
  const per10 = Math.round(fps * 600), perMin = nom * 60 - drop;
  const d = Math.floor(frame / per10), m = frame % per10;
  const n = frame + drop * 9 * d + (m > drop ? drop * Math.floor((m - drop) / perMin) : 0);
  return [Math.floor(n / (nom * 3600)), Math.floor(n / (nom * 60)) % 60, Math.floor(n / nom) % 60, n % nom];
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// a timecode: hh:mm:ss:ff at the version's frame rate (hh:mm:ss;ff,
// drop-frame, at 29.97 and 59.94) when the rate is known; else
// hh:mm:ss.mmm (audio).  timecodeLabel says which.
export function timecode(sec, fps) {
  const t = Math.max(0, sec || 0);
  if (fps > 0) return frameTimecode(frameOf(t, fps), fps);
  const s = Math.floor(t + 1e-6);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(Math.min(999, Math.round((t - s) * 1000)), 3)}`;
}

export function frameTimecode(frame, fps) {
  const nom = nominal(fps);
  let hh, mm, ss, ff;
  if (isDropFrame(fps)) [hh, mm, ss, ff] = dropFrameTimecode(frame, fps);
  else if (nom) [hh, mm, ss, ff] = [Math.floor(frame / (nom * 3600)), Math.floor(frame / (nom * 60)) % 60,
                                    Math.floor(frame / nom) % 60, frame % nom];
  else {
    const t = frame / fps, s = Math.floor(t + 1e-6);
    [hh, mm, ss, ff] = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60,
                        Math.min(Math.ceil(fps) - 1, Math.floor((t - s) * fps + 1e-6))];
  }
  return `${pad(hh)}:${pad(mm)}:${pad(ss)}${isDropFrame(fps) ? ';' : ':'}${pad(ff)}`;
}

export const timecodeLabel = (fps) => (fps > 0
  ? `hours:minutes:seconds${isDropFrame(fps) ? ';frames, drop-frame' : ':frames'}, at ${Math.round(fps * 1000) / 1000} frames a second`
  : 'hours:minutes:seconds.milliseconds');

// a timecode's frame number: hh:mm:ss:ff or hh:mm:ss;ff (either separator)
function parseFrame(hh, mm, ss, ff, fps) {
  const nom = nominal(fps);
  if (!nom) return Math.round((hh * 3600 + mm * 60 + ss) * fps) + ff;
  const minutes = hh * 60 + mm;
  const drop = isDropFrame(fps) ? (nom / 15) * (minutes - Math.floor(minutes / 10)) : 0;
  return (hh * 3600 + mm * 60 + ss) * nom + ff - drop;
}

// a timecode as typed back: hh:mm:ss:ff (or ;ff), hh:mm:ss.mmm, mm:ss or
// seconds; a timecode with frames is the start of that frame
export function parseTimecode(text, fps) {
  const m = String(text).trim().match(/^(?:(?:(\d+):)?(\d{1,2}):)?(\d{1,2}(?:\.\d+)?)(?:[:;](\d{1,3}))?$/);
  if (!m) return null;
  const [, hh, mm, ss, ff] = m;
  let sec = Number(hh || 0) * 3600 + Number(mm || 0) * 60 + Number(ss);
  if (ff !== undefined) {
    const top = nominal(fps) || Math.ceil(fps);
    if (!(fps > 0) || Number(ff) >= top || !Number.isInteger(Number(ss))) return null;
    const frame = parseFrame(Number(hh || 0), Number(mm || 0), Number(ss), Number(ff), fps);
    sec = Math.max(0, frame) / fps;
  }
  return Number.isFinite(sec) ? sec : null;
}

export function formatDuration(sec) {
  if (!sec && sec !== 0) return '–';
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
