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

export function view(title, ...children) {
  document.title = `${title} · MAM`;
  main.replaceChildren(...children);
  main.focus({ preventScroll: true });
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

// hh:mm:ss.ff, ff being frames at the version's frame rate
export function timecode(sec, fps = 25) {
  const f = Math.round(fps) || 25;
  const frames = Math.floor(sec * f + 1e-6);
  const ff = frames % f;
  const s = Math.floor(frames / f);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}.${p(ff)}`;
}

export function formatDuration(sec) {
  if (!sec && sec !== 0) return '–';
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
