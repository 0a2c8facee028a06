// The notification bell (issue 21): the unread count in the header, a
// list of the newest notifications under it, "Mark all read", and a click
// that marks one read and opens its asset at the comment's time.  The
// count follows the page's event stream (events.js hands every
// "notification" event here), and is read again at each sign-in and
// navigation, so pages without a stream catch up when left.

import { api, auth, onAuthChange } from './api.js';
import { h, toast } from './dom.js';
import { go } from './router.js';

const LIST = 20;

// a bell drawn in SVG (an emoji needs a font the system may lack)
function bellIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const set = (el, attrs) => { for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
  set(svg, { viewBox: '0 0 24 24', width: '18', height: '18', 'aria-hidden': 'true', fill: 'none',
             stroke: 'currentColor', 'stroke-width': '2', 'stroke-linejoin': 'round' });
  // the dome on its rim, the clapper under it, the knob on top
  svg.append(set(document.createElementNS(ns, 'path'), { d: 'M4 17h16l-2.5-3.5V10a5.5 5.5 0 0 0-11 0v3.5z' }),
             set(document.createElementNS(ns, 'circle'), { cx: '12', cy: '20', r: '1.5' }),
             set(document.createElementNS(ns, 'circle'), { cx: '12', cy: '3.5', r: '1' }));
  return svg;
}

const count = h('span', { class: 'bell-count', id: 'bell-count', hidden: true });
const button = h('button', { class: 'ghost bell', type: 'button', id: 'bell', 'aria-haspopup': 'true',
                             'aria-expanded': 'false', 'aria-label': 'Notifications' }, bellIcon(), count);
const list = h('ul', { class: 'bell-list', id: 'bell-list' });
const markAll = h('button', { class: 'ghost', type: 'button', id: 'bell-read-all' }, 'Mark all read');
const panel = h('div', { class: 'bell-panel', id: 'bell-panel', hidden: true, role: 'region',
                         'aria-label': 'Notifications' },
  h('div', { class: 'row bell-head' }, h('strong', {}, 'Notifications'), markAll), list);
const root = h('div', { class: 'bell-root' }, button, panel);

// "Ann mentioned you", in words, for each kind
const APPROVAL = { in_review: 'in review', changes_requested: 'changes requested', approved: 'approved',
                   none: 'no status' };
function what(n) {
  const who = n.actor ? n.actor.display_name : 'Someone';
  const title = n.asset ? n.asset.title : 'an asset';
  switch (n.kind) {
    case 'mention': return `${who} mentioned you on ${title}`;
    case 'reply': return `${who} replied to your comment on ${title}`;
    case 'approval': return `${who} set ${title}${n.version ? ` v${n.version.number}` : ''} to ${APPROVAL[n.status] || n.status}`;
    case 'version': return `${who} uploaded version ${n.version ? n.version.number : ''} of ${title}`;
    default: return title;
  }
}

function showCount(unread) {
  count.hidden = !unread;
  count.textContent = unread > 999 ? '999+' : String(unread);
  button.setAttribute('aria-label', unread ? `Notifications, ${count.textContent} unread` : 'Notifications');
}

// the asset, at the comment (asset.js seeks to ?comment=) on its version
function target(n) {
  const q = new URLSearchParams();
  if (n.version) q.set('version', String(n.version.number));
  if (n.comment) q.set('comment', n.comment.id);
  const qs = q.toString();
  return `/assets/${n.asset_id}${qs ? `?${qs}` : ''}`;
}

async function open(n) {
  close();
  if (!n.read_at) {
    try { await api('POST', `/api/notifications/${n.id}/read`); } catch { /* gone: the page says so */ }
  }
  go(target(n));
  refresh();
}

function item(n) {
  return h('li', { class: n.read_at ? 'read' : 'unread', dataset: { id: n.id } },
    h('button', { type: 'button', class: 'ghost bell-item', onclick: () => open(n) },
      h('span', { class: 'bell-what' }, what(n)),
      n.comment && n.comment.excerpt ? h('span', { class: 'muted bell-excerpt' }, n.comment.excerpt) : null,
      h('span', { class: 'muted bell-when' }, new Date(n.created_at).toLocaleString())));
}

let gen = 0;
// the count and (when the panel is open, or asked) the list, newest load
// winning
export async function refresh() {
  if (!auth.user) return;
  const mine = ++gen;
  try {
    const r = await api('GET', `/api/notifications?limit=${LIST}`);
    if (mine !== gen) return;
    showCount(r.unread);
    list.replaceChildren(...(r.items.length ? r.items.map(item)
                                             : [h('li', { class: 'muted' }, 'Nothing yet.')]));
  } catch { /* the next event or navigation tries again */ }
}

function close() {
  panel.hidden = true;
  button.setAttribute('aria-expanded', 'false');
}

button.addEventListener('click', () => {
  if (!panel.hidden) { close(); return; }
  panel.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  refresh();
});
markAll.addEventListener('click', async () => {
  try { await api('POST', '/api/notifications/read-all'); } catch (e) { toast(e.message, true); }
  refresh();
});
document.addEventListener('click', (e) => { if (!panel.hidden && !root.contains(e.target)) close(); });
panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { close(); button.focus(); } });

// one arrived on the page's stream: the count and list again, and a word
export function notified(n) {
  refresh();
  toast(what(n));
}

// the header's bell (app.js puts it in the navigation bar when signed in)
export const bell = () => root;

onAuthChange(() => { if (auth.user) refresh(); else { close(); showCount(0); } });
window.addEventListener('popstate', () => refresh());
