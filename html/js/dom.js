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

// a timecode: hh:mm:ss:ff, ff the frame within the second at the
// version's frame rate (the seconds stay the player's), when the rate is
// known; else hh:mm:ss.mmm (audio).  timecodeLabel says which.
export function timecode(sec, fps) {
  const t = Math.max(0, sec || 0);
  const s = Math.floor(t + 1e-6);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const hms = `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
  if (fps > 0) return `${hms}:${p(Math.min(Math.ceil(fps) - 1, Math.floor((t - s) * fps + 1e-6)))}`;
  return `${hms}.${p(Math.min(999, Math.round((t - s) * 1000)), 3)}`;
}

export const timecodeLabel = (fps) => (fps > 0
  ? `hours:minutes:seconds:frames, at ${Math.round(fps * 1000) / 1000} frames a second`
  : 'hours:minutes:seconds.milliseconds');

// a timecode as typed back: hh:mm:ss:ff, hh:mm:ss.mmm, mm:ss or seconds
export function parseTimecode(text, fps) {
  const m = String(text).trim().match(/^(?:(?:(\d+):)?(\d{1,2}):)?(\d{1,2}(?:\.\d+)?)(?::(\d{1,3}))?$/);
  if (!m) return null;
  const [, hh, mm, ss, ff] = m;
  let sec = Number(hh || 0) * 3600 + Number(mm || 0) * 60 + Number(ss);
  if (ff !== undefined) {
    if (!(fps > 0) || Number(ff) >= Math.ceil(fps)) return null;
    sec += Number(ff) / fps;
  }
  return Number.isFinite(sec) ? sec : null;
}

export function formatDuration(sec) {
  if (!sec && sec !== 0) return '–';
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
