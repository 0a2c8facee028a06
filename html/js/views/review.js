// The review workflow on the asset page (issue 21): threads (a comment and
// its replies, as the list gives them: each thread's first comment followed
// by its replies), the rights the server applies (shown here only so that
// a button is offered where it would work; the server decides), and a
// version's approval: its badge and the buttons that set it.

import { api, auth, isAdmin } from '../api.js';
import { h, toast } from '../dom.js';

export const APPROVALS = [['in_review', 'In review'], ['changes_requested', 'Changes requested'],
                          ['approved', 'Approved'], ['none', 'No decision']];
export const approvalLabel = (s) => (APPROVALS.find(([v]) => v === s) || [s, s])[1];

const rank = (p) => ({ viewer: 1, commenter: 2, editor: 3, manager: 4 }[p && p.my_role] || 0);
const mine = (x) => !!x && !!auth.user && x.id === auth.user.id;

// as mam_comment_resolve: the author or the asset's owner (a commenter at
// least), an editor or manager of the project, an admin
export const mayResolve = (c, asset, p) => isAdmin() || rank(p) >= 3
  || (rank(p) >= 2 && (mine(c.user) || mine(asset.owner)));
// as mam_version_approve: an editor or manager, the asset's owner (a
// commenter at least), an admin
export const mayDecide = (asset, p) => isAdmin() || rank(p) >= 3 || (rank(p) >= 2 && mine(asset.owner));
export const mayComment = (p) => isAdmin() || rank(p) >= 2;

// the list's rows as threads: [{...first comment, replies: [...]}]; a row
// with a parent_id belongs to the thread just above it
export function threadsOf(items) {
  const threads = [];
  for (const c of items) {
    if (c.parent_id && threads.length && threads[threads.length - 1].id === c.parent_id) {
      threads[threads.length - 1].replies.push(c);
    } else if (!c.parent_id) {
      threads.push({ ...c, replies: [] });
    }
  }
  return threads;
}

// a small form in place (a reply, an edit): text, a submit and Cancel;
// send(text) resolves when done, close() when left
export function inlineForm({ id, label, value = '', submit, send, close }) {
  const err = h('p', { class: 'error', role: 'alert' });
  const text = h('textarea', { id, rows: 2, maxlength: 4000, 'aria-label': label });
  text.value = value;
  const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
  const form = h('form', { class: 'inline-form' }, text, err,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, submit), cancel));
  cancel.addEventListener('click', () => close());
  text.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); close(); } });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await send(text.value);
      close();
    } catch (ex) { err.textContent = ex.message; }
  });
  setTimeout(() => text.focus(), 0);
  return form;
}

// a version's approval as a badge
export const approvalBadge = (a) => h('span', { class: `badge approval ${a ? a.status : 'none'}`,
                                               title: a && a.user ? `${approvalLabel(a.status)} by ${a.user.display_name}`
                                                                    + (a.note ? `: ${a.note}` : '') : null },
  approvalLabel(a ? a.status : 'none'));

// the page size of the history: a handful of decisions is the usual
export const HISTORY_PAGE = 20;

// a version's decisions (who, when, the note), newest first, a page at a
// time: "More" follows next_cursor (GET /api/versions/:id/approvals)
export function approvalHistory(version) {
  const list = h('ul', { class: 'approval-history', id: 'approval-history' });
  const more = h('button', { type: 'button', class: 'ghost', id: 'approval-more', hidden: true }, 'More');
  let cursor = null;
  const page = async () => {
    more.disabled = true;
    try {
      const q = new URLSearchParams({ limit: String(HISTORY_PAGE) });
      if (cursor) q.set('cursor', cursor);
      const r = await api('GET', `/api/versions/${version.id}/approvals?${q}`);
      list.append(...r.items.map((e) => h('li', { dataset: { id: e.id } },
        approvalBadge({ status: e.status }), ' ',
        h('strong', {}, e.user ? e.user.display_name : 'A former user'), ' ',
        h('time', { datetime: e.created_at, class: 'muted' }, new Date(e.created_at).toLocaleString()),
        e.note ? ` — “${e.note}”` : null)));
      if (!list.children.length) list.append(h('li', { class: 'muted' }, 'No decision yet.'));
      cursor = r.next_cursor;
    } catch (e) { toast(e.message, true); }
    more.hidden = !cursor;
    more.disabled = false;
  };
  more.addEventListener('click', page);
  page();
  return h('div', { class: 'approval-history-box' }, list, more);
}

// the version on screen's approval: its badge, who decided and the note,
// the history (on demand) and (where the caller may decide) the buttons,
// with an optional note; changed() after a decision (the page reads the
// asset again)
export function approvalBox(version, asset, project, changed) {
  const box = h('div', { id: 'approval', class: 'row approval-box' });
  if (!version) return box;
  const a = version.approval || { status: 'none' };
  const history = h('button', { type: 'button', class: 'ghost', id: 'approval-history-toggle',
                                'aria-expanded': 'false' }, 'History');
  let shown = null;
  history.addEventListener('click', () => {
    if (shown) { shown.remove(); shown = null; }
    else box.append(shown = approvalHistory(version));
    history.setAttribute('aria-expanded', String(!!shown));
  });
  // who decided: a member, or a review link's guest (issue 22); (the DOM's
  // append would write a null out as "null")
  const by = a.user ? a.user.display_name : a.guest ? `${a.guest.name} (guest)` : null;
  box.append(...[h('span', { class: 'muted' }, `v${version.number}:`), approvalBadge(a),
                 by ? h('span', { class: 'muted', id: 'approval-by' },
                   ` ${by}${a.note ? ` — “${a.note}”` : ''}`) : null, history].filter(Boolean));
  if (!mayDecide(asset, project)) return box;
  const note = h('input', { id: 'approval-note', maxlength: 2000, placeholder: 'Note (optional)',
                            'aria-label': 'Approval note' });
  const set = async (status, button) => {
    button.disabled = true;
    try {
      await api('PUT', `/api/versions/${version.id}/approval`, { status, note: note.value.trim() || undefined });
      toast(`v${version.number}: ${approvalLabel(status)}`);
      await changed();
    } catch (e) { toast(e.message, true); button.disabled = false; }
  };
  for (const [status, label] of APPROVALS.slice(0, 3)) {
    const b = h('button', { type: 'button', class: status === a.status ? '' : 'ghost',
                            'aria-pressed': String(status === a.status), dataset: { approval: status } }, label);
    b.addEventListener('click', () => set(status, b));
    box.append(b);
  }
  box.append(note);
  return box;
}
