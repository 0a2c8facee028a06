// The asset page's custom fields and tags (shown to members, edited by
// whoever may change the asset: PATCH /api/assets/:id {fields, tags}),
// and a version's download button, for members with downloads (POST
// /api/versions/:id/download, then the signed URL, an attachment).

import { api } from '../api.js';
import { h, toast } from '../dom.js';
import { fieldInput, fieldRow, fieldsOf, mayChange, mayDownload, parseTags, reason, showValue } from '../metadata.js';

// the original, or a rendition transcoderd wrote a file of its own for
// (renditions[].download), chosen beside the button; picked (version id ->
// choice) keeps a choice across the list's redraws (an event, the version
// on screen changing), which would otherwise put it back to Original
export function downloadButton(version, project, picked = new Map()) {
  if (!mayDownload(project)) return null;
  const names = ((version.preview && version.preview.renditions) || [])
    .filter((r) => r.download).map((r) => r.name);
  const chosen = picked.get(version.id) || 'original';
  const pick = names.length
    ? h('select', { class: 'rendition', 'aria-label': `File of v${version.number} to download`,
                    onchange: (e) => picked.set(version.id, e.target.value) },
        h('option', { value: 'original', selected: chosen === 'original' }, 'Original'),
        ...names.map((n) => h('option', { value: n, selected: chosen === n }, `${n} MP4`)))
    : null;
  const button = h('button', { type: 'button', class: 'ghost download', dataset: { version: version.id },
                       'aria-label': `Download v${version.number}` + (pick ? '' : ' (original)'),
                       onclick: async (e) => {
                         e.target.disabled = true;
                         try {
                           const rendition = pick ? pick.value : 'original';
                           const r = await api('POST', `/api/versions/${version.id}/download`, { rendition });
                           location.assign(r.url);
                         } catch (ex) { toast(reason(ex), true); }
                         e.target.disabled = false;
                       } }, 'Download');
  return pick ? h('span', { class: 'download-pick' }, pick, ' ', button) : button;
}

// the card: the values of the project's fields and the tags
export async function metaSection(asset, project) {
  const box = h('section', { class: 'card', id: 'asset-fields', 'aria-labelledby': 'af-title' });
  let fields = [];
  try {
    fields = await fieldsOf(asset.project_id);
  } catch (e) { /* the tags still show */ }
  const editable = mayChange(asset, project);

  const show = () => {
    const tags = asset.tags || [];
    box.replaceChildren(h('div', { class: 'row' }, h('h2', { id: 'af-title' }, 'Fields and tags'),
        editable ? h('button', { type: 'button', class: 'ghost', id: 'edit-fields', onclick: edit },
                     'Edit fields and tags') : null),
      fields.length
        ? h('dl', { class: 'metadata', id: 'field-values' }, fields.flatMap((f) => [
          h('dt', {}, f.label), h('dd', { dataset: { field: f.name } }, showValue(f, asset.fields[f.name]))]))
        : h('p', { class: 'muted' }, 'The project has no fields.'),
      h('p', { class: 'tags', id: 'asset-tags' }, tags.length
        ? tags.map((t) => h('span', { class: 'badge tag' }, t))
        : h('span', { class: 'muted' }, 'No tags.')));
  };

  function edit() {
    const err = h('p', { class: 'error', role: 'alert' });
    const inputs = fields.map((f) => [f, fieldInput(f, asset.fields[f.name], `af-${f.name}`)]);
    const tags = h('input', { id: 'af-tags', value: (asset.tags || []).join(', '), 'aria-describedby': 'af-tags-hint' });
    const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
    const form = h('form', { id: 'fields-form', 'aria-label': 'Edit fields and tags' },
      inputs.flatMap(([f, i]) => fieldRow(f, i, `af-${f.name}`)),
      h('label', { for: 'af-tags' }, 'Tags'), tags,
      h('p', { class: 'muted hint', id: 'af-tags-hint' }, 'Separated by commas; stored in lowercase.'),
      err, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), cancel));
    cancel.addEventListener('click', () => { show(); box.querySelector('#edit-fields').focus(); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        // every field: its value, or null (removed)
        const values = Object.fromEntries(inputs.map(([f, i]) => [f.name, i.value()]));
        const r = await api('PATCH', `/api/assets/${asset.id}`, { fields: values, tags: parseTags(tags.value) });
        Object.assign(asset, r.asset);
        toast('Saved');
        show();
        box.querySelector('#edit-fields').focus();
      } catch (ex) { err.textContent = reason(ex); }
    });
    box.replaceChildren(h('h2', { id: 'af-title' }, 'Fields and tags'), form);
    const first = form.querySelector('input, select');
    if (first) first.focus();
  }

  show();
  return box;
}
