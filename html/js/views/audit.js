// The audit log (admins: every entry; a project's managers: their
// projects' entries): a table newest first, filtered by actor, action,
// asset, project and a time range kept in the URL (?actor=&action=&asset=
// &project=&from=&to=, from and to as ISO times), "Load more" on the
// keyset cursor.  An actor or an asset in the table filters by it.  The
// address column is an admin's only (the API gives managers none).

import { api, isAdmin, MESSAGES } from '../api.js';
import { h, main, view } from '../dom.js';
import { go } from '../router.js';

// the actions the API records (GET /api/audit?action=)
const ACTIONS = ['asset_create', 'asset_update', 'asset_delete', 'promote', 'comment_create',
  'comment_delete', 'preview_enqueue', 'preview_callback', 'preview_requeue', 'play_sign', 'download',
  'project_create', 'project_update', 'project_delete', 'member_add', 'member_update', 'member_remove',
  'presign', 'upload_terminate', 'upload_expire', 'register', 'login', 'login_failure', 'logout',
  'refresh_reuse', 'user_update', 'audit_purge'];
const FILTERS = ['actor', 'action', 'asset', 'project', 'from', 'to'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// an ISO time as a datetime-local input's value (local time), and back
const pad = (n) => String(n).padStart(2, '0');
function toLocal(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function toIso(local) {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}
const when = (iso) => new Date(iso).toLocaleString();

// an entry's details: a line of them, the whole of them on opening
function details(d) {
  const text = JSON.stringify(d);
  if (text === '{}') return '';
  if (text.length <= 60) return h('code', { class: 'details' }, text);
  return h('details', {}, h('summary', {}, h('code', {}, `${text.slice(0, 56)}…`)),
           h('pre', { class: 'details' }, JSON.stringify(d, null, 2)));
}

// the projects the caller may read the log of, and the people in them
async function choices() {
  const { items } = await api('GET', '/api/projects');
  const projects = isAdmin() ? items : items.filter((p) => p.my_role === 'manager');
  const people = new Map();
  if (isAdmin()) {
    for (const u of (await api('GET', '/api/users')).items) people.set(u.id, u);
  } else {
    const got = await Promise.all(projects.map((p) => api('GET', `/api/projects/${p.id}`)));
    for (const g of got) for (const m of g.members) people.set(m.user.id, m.user);
  }
  return { projects, people: [...people.values()].sort((a, b) => a.display_name.localeCompare(b.display_name)) };
}

export async function auditView() {
  const params = new URLSearchParams(location.search);
  const admin = isAdmin();
  // a value from the URL that the options lack (yet) is kept as an option
  const select = (name, label, options) => {
    const v = params.get(name);
    const all = v && !options.some(([value]) => value === v) ? [...options, [v, v]] : options;
    return h('select', { id: `audit-${name}`, name, 'aria-label': label },
      h('option', { value: '' }, `Any ${label.toLowerCase()}`),
      all.map(([value, text]) => h('option', { value, selected: v === value }, text)));
  };
  const fill = (sel, options) => {
    for (const [value, text] of options) {
      const had = [...sel.options].find((o) => o.value === value);
      if (had) had.textContent = text;
      else sel.append(h('option', { value }, text));
    }
  };

  const actor = select('actor', 'Actor', []);
  const action = select('action', 'Action', ACTIONS.map((a) => [a, a]));
  const project = select('project', 'Project', []);
  const asset = h('input', { id: 'audit-asset', name: 'asset', 'aria-label': 'Asset id',
                             placeholder: 'Asset id', value: params.get('asset') || '', size: 20 });
  const from = h('input', { id: 'audit-from', name: 'from', type: 'datetime-local', 'aria-label': 'From',
                            value: params.get('from') ? toLocal(params.get('from')) : '' });
  const to = h('input', { id: 'audit-to', name: 'to', type: 'datetime-local', 'aria-label': 'Until',
                          value: params.get('to') ? toLocal(params.get('to')) : '' });
  const state = h('p', { class: 'muted', id: 'audit-state', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'audit-more', class: 'ghost', hidden: true }, 'Load more');
  const body = h('tbody', { role: 'rowgroup' });
  const th = (text) => h('th', { role: 'columnheader', scope: 'col' }, text);
  const table = h('table', { id: 'audit', role: 'table', 'aria-label': 'Audit log' },
    h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, th('When'), th('Actor'), th('Action'),
      th('Target'), th('Asset'), th('Details'), admin ? th('Address') : null)), body);

  // the filters into the URL (the page's state: Back, a reload, a link)
  const apply = (change = {}) => {
    const q = new URLSearchParams();
    const values = { actor: actor.value, action: action.value, asset: asset.value.trim(),
                     project: project.value, from: toIso(from.value), to: toIso(to.value), ...change };
    for (const k of FILTERS) if (values[k]) q.set(k, values[k]);
    const s = q.toString();
    go(`/audit${s ? `?${s}` : ''}`, { replace: true });
  };
  const form = h('form', { id: 'audit-filters', class: 'row filters', role: 'search', 'aria-label': 'Filter the audit log',
                           onsubmit: (e) => { e.preventDefault(); apply(); } },
    actor, action, project, asset,
    h('label', { for: 'audit-from' }, 'From'), from, h('label', { for: 'audit-to' }, 'Until'), to,
    h('button', { type: 'submit', id: 'audit-apply' }, 'Filter'),
    h('button', { type: 'button', class: 'ghost', id: 'audit-clear',
                  onclick: () => go('/audit', { replace: true }) }, 'Clear'));
  for (const el of [actor, action, project, from, to]) el.addEventListener('change', () => apply());

  const filterLink = (name, value, text) => h('a', { href: '#', class: 'filter', dataset: { [name]: value },
    title: `Only the entries of ${text}`, onclick: (e) => { e.preventDefault(); apply({ [name]: value }); } }, text);
  const td = (label, ...c) => h('td', { role: 'cell', dataset: { label } }, ...c);
  const row = (it) => h('tr', { role: 'row', dataset: { id: it.id, action: it.action } },
    td('When', h('time', { datetime: it.at }, when(it.at))),
    td('Actor', it.actor ? filterLink('actor', it.actor.id, it.actor.display_name) : h('span', { class: 'muted' }, 'system')),
    td('Action', h('code', {}, it.action)),
    td('Target', it.target_type || '', it.target_id
      ? [' ', h('code', { title: it.target_id }, it.target_id.length > 12 ? `${it.target_id.slice(0, 8)}…` : it.target_id)]
      : ''),
    td('Asset', it.asset_id ? filterLink('asset', it.asset_id, it.asset_id.slice(0, 8)) : ''),
    td('Details', details(it.details)),
    admin ? td('Address', it.ip || '') : null);

  let cursor = null;
  const query = new URLSearchParams({ limit: '50' });
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v && (k !== 'asset' || UUID.test(v))) query.set(k, v);
  }
  async function load() {
    more.disabled = true;
    state.textContent = 'Loading…';
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    try {
      const r = await api('GET', `/api/audit?${q}`);
      body.append(...r.items.map(row));
      cursor = r.next_cursor;
      more.hidden = !cursor;
      state.textContent = body.children.length === 0 ? 'No entry matches.' : '';
    } catch (e) {
      state.replaceChildren(h('span', { class: 'error' }, e.status === 403 ? MESSAGES.forbidden : e.message));
    }
    more.disabled = false;
  }
  more.addEventListener('click', load);

  view('Audit log', h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, admin ? 'Every recorded change, newest first.'
      : 'What happened in the projects you manage, newest first.'),
    form, h('p', { class: 'muted', id: 'audit-asset-bad', hidden: !params.get('asset') || UUID.test(params.get('asset')) },
      'The asset must be given by its id.'),
    h('div', { class: 'scroll' }, table), state, more);
  await load();
  try {
    const { projects, people } = await choices();
    fill(project, projects.map((p) => [p.id, p.name]));
    fill(actor, people.map((u) => [u.id, `${u.display_name} (${u.email})`]));
  } catch (e) {
    main.append(h('p', { class: 'error' }, e.message));
  }
}
