// The grid's filter bar: tag, preview status, owner, a creation date
// range and, when the URL names a project (?project=ID), that project's
// custom fields.  The filters live in the URL as the very parameters of
// GET /api/assets (tag, status, owner, created_from, created_to,
// field.NAME; project and folder are set elsewhere and kept), so a
// filtered grid is a link, and the grid sends them as they are.

import { api, auth } from '../api.js';
import { h } from '../dom.js';
import { fieldsOf } from '../metadata.js';

const PLAIN = ['project', 'folder', 'tag', 'status', 'owner', 'created_from', 'created_to'];
const FIELD = /^field\.[a-z][a-z0-9_]{0,39}$/;
const OWN = ['tag', 'status', 'owner', 'created_from', 'created_to'];   // the bar's own
const STATUSES = [['', 'Any status'], ['none', 'No preview'], ['queued', 'Queued'], ['processing', 'Processing'],
                  ['ready', 'Ready'], ['failed', 'Failed']];

// the URL's filters, as GET /api/assets takes them
export function filterParams(search = location.search) {
  return [...new URLSearchParams(search)].filter(([k, v]) => v !== '' && (PLAIN.includes(k) || FIELD.test(k)));
}

// the URL with name set to value (or removed when empty), the rest kept;
// one history entry, replaced as one types
export function setParams(changes) {
  const u = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') u.delete(k);
    else u.set(k, v);
  }
  const qs = u.toString();
  history.replaceState(history.state, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
}

function control(f, value) {
  const id = `flt-field-${f.name}`;
  const attrs = { id, name: `field.${f.name}`, dataset: { field: f.name } };
  let el;
  if (f.kind === 'choice' || f.kind === 'multi_choice') {
    el = h('select', attrs, h('option', { value: '' }, 'Any'),
      f.choices.map((c) => h('option', { value: c, selected: c === value }, c)));
  } else {
    el = h('input', { ...attrs, type: f.kind === 'number' ? 'number' : f.kind === 'date' ? 'date' : 'search',
                      step: f.kind === 'number' ? 'any' : undefined, value: value || '' });
  }
  return h('div', { class: 'filter' }, h('label', { for: id }, f.label), el);
}

// the bar; onChange() after the URL changed
export function filterBar(onChange) {
  const u = new URLSearchParams(location.search);
  const project = u.get('project');
  const tag = h('input', { type: 'search', id: 'flt-tag', name: 'tag', value: u.get('tag') || '', autocomplete: 'off' });
  const status = h('select', { id: 'flt-status', name: 'status' },
    STATUSES.map(([v, t]) => h('option', { value: v, selected: v === (u.get('status') || '') }, t)));
  const owner = h('select', { id: 'flt-owner', name: 'owner' },
    h('option', { value: '' }, 'Anyone'), h('option', { value: auth.user.id }, 'Me'));
  const from = h('input', { type: 'date', id: 'flt-from', name: 'created_from', value: u.get('created_from') || '' });
  const to = h('input', { type: 'date', id: 'flt-to', name: 'created_to', value: u.get('created_to') || '' });
  const fields = h('div', { class: 'row filters-fields', id: 'flt-fields' });
  const clear = h('button', { type: 'button', class: 'ghost', id: 'flt-clear' }, 'Clear filters');
  const cell = (label, id, el) => h('div', { class: 'filter' }, h('label', { for: id }, label), el);
  const bar = h('form', { class: 'filters row', id: 'filters', role: 'search', 'aria-label': 'Filters' },
    cell('Tag', 'flt-tag', tag), cell('Status', 'flt-status', status), cell('Owner', 'flt-owner', owner),
    cell('Created from', 'flt-from', from), cell('Created before', 'flt-to', to), fields, clear);

  const apply = () => {
    const changes = { tag: tag.value.trim().toLowerCase(), status: status.value, owner: owner.value,
                      created_from: from.value, created_to: to.value };
    for (const k of new URLSearchParams(location.search).keys()) if (FIELD.test(k)) changes[k] = null;
    for (const el of fields.querySelectorAll('[data-field]')) changes[el.name] = el.value.trim();
    setParams(changes);
    onChange();
  };
  let timer;
  bar.addEventListener('input', (e) => {
    if (e.target.tagName !== 'INPUT' || e.target.type === 'date') return;
    clearTimeout(timer);
    timer = setTimeout(apply, 300);
  });
  bar.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT' || e.target.type === 'date') apply(); });
  bar.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); apply(); });
  clear.addEventListener('click', () => {
    for (const el of bar.querySelectorAll('input, select')) el.value = '';
    apply();
  });

  // the owner's choices: the project's members; the fields of the project
  // (an owner from a link stays chosen, named once the members are known)
  const wanted = u.get('owner');
  if (wanted && wanted !== auth.user.id) owner.append(h('option', { value: wanted }, 'The owner in the link'));
  if (wanted) owner.value = wanted;
  if (project) {
    api('GET', `/api/projects/${project}`).then((r) => {
      for (const m of r.members) {
        if (m.user.id === auth.user.id) continue;
        const known = [...owner.options].find((o) => o.value === m.user.id);
        if (known) known.textContent = m.user.display_name;
        else owner.append(h('option', { value: m.user.id }, m.user.display_name));
      }
    }).catch(() => {});
    fieldsOf(project).then((list) => {
      fields.replaceChildren(...list.map((f) => control(f, u.get(`field.${f.name}`))));
    }).catch(() => {});
  }
  return bar;
}
