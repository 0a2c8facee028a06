// The grid's selection and bulk edit: a checkbox on each tile (Shift-click
// selects the range from the last one clicked), a bar that counts the
// selection, and a dialog that sets or clears field values and adds or
// removes tags on every selected asset at once (PATCH /api/assets, all or
// nothing: a refusal names the asset and nothing changes).  Field values
// need one project: the URL's, or the one all selected assets are in.

import { api, isEditor } from '../api.js';
import { h, toast } from '../dom.js';
import { fieldInput, fieldsOf, parseTags, reason } from '../metadata.js';

const MAX = 100;

// the dialog for the assets of selected (id → asset); resolves true when
// they were changed
async function bulkDialog(selected) {
  const projects = new Set([...selected.values()].map((a) => a.project_id));
  const project = projects.size === 1 ? [...projects][0] : null;
  let fields = [];
  if (project) {
    try { fields = await fieldsOf(project); } catch (e) { /* tags only */ }
  }
  return new Promise((resolve) => {
    const err = h('p', { class: 'error', role: 'alert', id: 'bulk-error' });
    const rows = fields.map((f) => {
      const id = `bulk-${f.name}`;
      const input = fieldInput(f, null, id);
      const act = h('select', { id: `bulk-act-${f.name}`, 'aria-label': `${f.label}: what to do` },
        h('option', { value: 'keep' }, 'Leave as is'), h('option', { value: 'set' }, 'Set to'),
        h('option', { value: 'clear' }, 'Clear'));
      // the row names the field: the input needs no label of its own
      if (f.kind !== 'multi_choice') input.el.setAttribute('aria-label', `${f.label}: the value to set`);
      const slot = h('div', { class: 'bulk-value', hidden: true }, input.el);
      act.addEventListener('change', () => { slot.hidden = act.value !== 'set'; });
      return { f, input, act, el: h('div', { class: 'bulk-field', dataset: { field: f.name } },
        h('div', { class: 'row' }, h('strong', {}, f.label), act), slot) };
    });
    const add = h('input', { id: 'bulk-tags-add', placeholder: 'a, b, c' });
    const remove = h('input', { id: 'bulk-tags-remove', placeholder: 'a, b, c' });
    const apply = h('button', { type: 'submit', id: 'bulk-apply' }, 'Apply');
    const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
    const n = selected.size;
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'bulk-title' }, `Edit ${n} asset${n === 1 ? '' : 's'}`),
      rows.length ? h('fieldset', { class: 'bulk-fields' }, h('legend', {}, 'Fields'), rows.map((r) => r.el))
        : h('p', { class: 'muted' }, project ? 'The project has no fields.'
          : 'The selected assets are in several projects: select assets of one project to set fields.'),
      h('label', { for: 'bulk-tags-add' }, 'Add tags'), add,
      h('label', { for: 'bulk-tags-remove' }, 'Remove tags'), remove,
      err, h('div', { class: 'row' }, apply, cancel));
    const d = h('dialog', { class: 'card', id: 'bulk-dialog', 'aria-labelledby': 'bulk-title' }, form);
    const done = (changed) => { d.close(); d.remove(); resolve(changed); };
    cancel.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      const body = { ids: [...selected.keys()] };
      try {
        const values = {};
        for (const r of rows) {
          if (r.act.value === 'clear') values[r.f.name] = null;
          if (r.act.value !== 'set') continue;
          const v = r.input.value();
          if (v === null) throw new Error(`Give a value for ${r.f.label}, or choose Clear.`);
          values[r.f.name] = v;
        }
        if (Object.keys(values).length) body.fields = values;
        if (parseTags(add.value).length) body.tags_add = parseTags(add.value);
        if (parseTags(remove.value).length) body.tags_remove = parseTags(remove.value);
        if (!body.fields && !body.tags_add && !body.tags_remove) throw new Error('Nothing to change yet.');
      } catch (ex) { err.textContent = ex.message; return; }
      apply.disabled = true;
      try {
        const r = await api('PATCH', '/api/assets', body);
        toast(`Updated ${r.items.length} asset${r.items.length === 1 ? '' : 's'}`);
        done(true);
      } catch (ex) {
        err.textContent = reason(ex);
        apply.disabled = false;
      }
    });
    document.body.append(d);
    d.showModal();
    (d.querySelector('select, input') || cancel).focus();
  });
}

// the selection of the grid's tiles; onChanged() after a bulk edit
export function bulkSelection(onChanged) {
  const selected = new Map();       // asset id → asset
  let last = null;                  // the checkbox clicked last
  const count = h('span', { id: 'bulk-count', role: 'status' });
  const edit = h('button', { type: 'button', id: 'bulk-edit' }, 'Edit selected…');
  const clear = h('button', { type: 'button', class: 'ghost', id: 'bulk-clear' }, 'Clear selection');
  const bar = h('div', { class: 'row bulk-bar', id: 'bulk-bar', hidden: true }, count, edit, clear);
  const boxes = () => [...document.querySelectorAll('#grid input.select')];

  const update = () => {
    const n = selected.size;
    bar.hidden = n === 0;
    count.textContent = `${n} selected`;
    edit.disabled = n > MAX;
    edit.title = n > MAX ? `At most ${MAX} assets at a time` : '';
  };
  const mark = (box, on) => {
    box.checked = on;
    box.closest('.tile-wrap').classList.toggle('selected', on);
    if (on) selected.set(box.dataset.id, box.asset);
    else selected.delete(box.dataset.id);
  };
  const reset = () => { for (const b of boxes()) mark(b, false); selected.clear(); last = null; update(); };

  clear.addEventListener('click', reset);
  edit.addEventListener('click', async () => {
    if (await bulkDialog(selected)) { reset(); onChanged(); } else edit.focus();
  });

  // a tile with its checkbox (outside the tile's link); none for an
  // instance viewer, who changes no asset
  const wrap = (tileEl, asset) => {
    if (!isEditor()) return tileEl;
    const box = h('input', { type: 'checkbox', class: 'select', dataset: { id: asset.id },
                             'aria-label': `Select ${asset.title}` });
    box.asset = asset;
    box.addEventListener('click', (e) => {
      const all = boxes();
      if (e.shiftKey && last && all.includes(last)) {
        const [a, b] = [all.indexOf(last), all.indexOf(box)].sort((x, y) => x - y);
        for (const x of all.slice(a, b + 1)) mark(x, box.checked);
      } else {
        mark(box, box.checked);
      }
      last = box;
      update();
    });
    const el = h('div', { class: 'tile-wrap', dataset: { id: asset.id } }, box, tileEl);
    if (selected.has(asset.id)) mark(box, true);
    return el;
  };
  return { bar, wrap, reset };
}
