// A project's custom fields (/projects/:id/fields): the list in order,
// and for its managers (and admins) adding a field, editing its label and
// choices, moving it up or down, deleting it (its values go from the
// assets).  Others see the list read-only.  A field's name and kind are
// fixed once made: the server refuses to change them.

import { api } from '../api.js';
import { confirmDialog, h, toast, view } from '../dom.js';
import { fieldsOf, hasChoices, isManager, KINDS, kindLabel, reason } from '../metadata.js';
import { stillShown } from '../router.js';

const choicesOf = (text) => text.split('\n').map((c) => c.trim()).filter(Boolean);

function addForm(projectId, reload) {
  const err = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'nf-name', name: 'name', required: true, maxlength: 40, pattern: '[a-z][a-z0-9_]*',
                            'aria-describedby': 'nf-name-hint', autocomplete: 'off' });
  const label = h('input', { id: 'nf-label', name: 'label', required: true, maxlength: 200 });
  const kind = h('select', { id: 'nf-kind', name: 'kind' }, KINDS.map(([v, t]) => h('option', { value: v }, t)));
  const choices = h('textarea', { id: 'nf-choices', name: 'choices', rows: 4, 'aria-describedby': 'nf-choices-hint' });
  const choicesRow = h('div', { id: 'nf-choices-row', hidden: true },
    h('label', { for: 'nf-choices' }, 'Choices'), choices,
    h('p', { class: 'muted hint', id: 'nf-choices-hint' }, 'One a line.'));
  kind.addEventListener('change', () => { choicesRow.hidden = !hasChoices(kind.value); });
  const form = h('form', { class: 'card', id: 'field-add', 'aria-labelledby': 'nf-title' },
    h('h2', { id: 'nf-title' }, 'Add a field'),
    h('label', { for: 'nf-label' }, 'Label'), label,
    h('label', { for: 'nf-name' }, 'Name'), name,
    h('p', { class: 'muted hint', id: 'nf-name-hint' },
      'Lowercase letters, digits and _, starting with a letter; fixed once made (filters use it).'),
    h('label', { for: 'nf-kind' }, 'Kind'), kind, choicesRow, err,
    h('button', { type: 'submit' }, 'Add field'));
  // a name from the label, until the name is typed
  let typed = false;
  name.addEventListener('input', () => { typed = true; });
  label.addEventListener('input', () => {
    if (!typed) name.value = label.value.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^[^a-z]+|_+$/g, '').slice(0, 40);
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { name: name.value.trim(), label: label.value.trim(), kind: kind.value };
    if (hasChoices(kind.value)) body.choices = choicesOf(choices.value);
    try {
      const r = await api('POST', `/api/projects/${projectId}/fields`, body);
      toast(`Added the field ${r.field.label}`);
      form.reset();
      typed = false;
      choicesRow.hidden = true;
      await reload();
      label.focus();
    } catch (ex) { err.textContent = reason(ex); }
  });
  return form;
}

function editForm(f, done) {
  const err = h('p', { class: 'error', role: 'alert' });
  const label = h('input', { id: `ef-label-${f.id}`, required: true, maxlength: 200, value: f.label });
  const choices = hasChoices(f.kind)
    ? h('textarea', { id: `ef-choices-${f.id}`, rows: 4 }) : null;
  if (choices) choices.value = f.choices.join('\n');
  const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
  const form = h('form', { class: 'edit-field', 'aria-label': `Edit the field ${f.label}` },
    h('label', { for: `ef-label-${f.id}` }, 'Label'), label,
    choices ? [h('label', { for: `ef-choices-${f.id}` }, 'Choices (one a line)'), choices] : null,
    err, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), cancel));
  cancel.addEventListener('click', () => done(false));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { label: label.value.trim() };
    if (choices) body.choices = choicesOf(choices.value);
    try {
      await api('PATCH', `/api/fields/${f.id}`, body);
      toast('Saved');
      done(true);
    } catch (ex) { err.textContent = reason(ex); }
  });
  return { form, focus: () => label.focus() };
}

export async function fieldsView(projectId) {
  const shown = stillShown();
  view('Fields', h('p', { class: 'muted' }, 'Loading…'));
  let project;
  try {
    project = (await api('GET', `/api/projects/${projectId}`)).project;
  } catch (e) {
    if (shown()) view('Fields', h('h1', {}, 'Fields'), h('p', { class: 'error' }, e.message));
    return;
  }
  if (!shown()) return;
  const manage = isManager(project);
  const list = h('ol', { class: 'fields', id: 'fields' });
  const state = h('p', { class: 'muted', id: 'fields-state', role: 'status' });
  let items = [];

  const move = async (i, by) => {
    const order = items.slice();
    const [f] = order.splice(i, 1);
    order.splice(i + by, 0, f);
    try {
      // positions 0..n-1 in the new order; only the ones that change
      for (const [at, x] of order.entries()) {
        if (x.position !== at) await api('PATCH', `/api/fields/${x.id}`, { position: at });
      }
      await load();
      list.querySelector(`[data-id="${f.id}"] .${by < 0 ? 'up' : 'down'}`)?.focus();
    } catch (e) { toast(e.message, true); }
  };

  const render = () => {
    list.replaceChildren(...items.map((f, i) => {
      const li = h('li', { class: 'card field', dataset: { id: f.id, name: f.name } },
        h('div', { class: 'row' },
          h('strong', { class: 'label' }, f.label), h('code', {}, f.name), h('span', { class: 'badge' }, kindLabel(f.kind)),
          manage ? h('span', { class: 'row tools' },
            h('button', { type: 'button', class: 'ghost up', disabled: i === 0, 'aria-label': `Move ${f.label} up`,
                          onclick: () => move(i, -1) }, '↑'),
            h('button', { type: 'button', class: 'ghost down', disabled: i === items.length - 1,
                          'aria-label': `Move ${f.label} down`, onclick: () => move(i, 1) }, '↓'),
            h('button', { type: 'button', class: 'ghost edit', 'aria-label': `Edit ${f.label}`, onclick: () => {
              const ed = editForm(f, async (saved) => { if (saved) await load(); else render(); });
              li.replaceChildren(ed.form);
              ed.focus();
            } }, 'Edit'),
            h('button', { type: 'button', class: 'danger delete', 'aria-label': `Delete ${f.label}`, onclick: async () => {
              if (!await confirmDialog(`Delete the field “${f.label}”? Its values go from every asset of the project.`,
                                       'Delete field')) return;
              try { await api('DELETE', `/api/fields/${f.id}`); toast(`Deleted ${f.label}`); await load(); }
              catch (e) { toast(e.message, true); }
            } }, 'Delete')) : null),
        hasChoices(f.kind) ? h('p', { class: 'muted choices' }, f.choices.join(' · ')) : null);
      return li;
    }));
    state.textContent = items.length ? '' : 'No fields yet.';
  };

  const load = async () => {
    try {
      items = await fieldsOf(projectId);
      render();
    } catch (e) { state.replaceChildren(h('span', { class: 'error' }, e.message)); }
  };

  view(`Fields of ${project.name}`,
    h('p', { class: 'muted crumbs' }, h('a', { href: `/projects/${projectId}`, 'data-link': true }, project.name), ' › Fields'),
    h('h1', {}, `Fields of ${project.name}`),
    h('p', { class: 'muted' }, manage
      ? 'Every asset of the project can have a value of each field; the grid filters by them.'
      : 'Only a manager of the project changes its fields.'),
    list, state, manage ? addForm(projectId, load) : null);
  await load();
}
