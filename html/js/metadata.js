// Custom fields and tags in the SPA (issue 19), shared by the field
// definitions page, the asset page, the grid's filter bar and its bulk
// edit: the caller's projects and rights in them, a project's fields, an
// input for a value of each kind, and tags as typed ("a, b, c").  The
// server checks every value (schema/functions/fields.sql); these inputs
// only make the right one easy to give.

import { api, auth, isAdmin } from './api.js';
import { h } from './dom.js';

export const KINDS = [['text', 'Text'], ['number', 'Number'], ['date', 'Date'], ['choice', 'Choice'],
                      ['multi_choice', 'Multiple choice'], ['tags', 'Tags']];
export const kindLabel = (k) => (KINDS.find(([v]) => v === k) || [k, k])[1];
export const hasChoices = (k) => k === 'choice' || k === 'multi_choice';

// the caller's projects (an admin's: all), with my_role and my_can_download
export const myProjects = async () => (await api('GET', '/api/projects')).items;
export const fieldsOf = async (projectId) => (await api('GET', `/api/projects/${projectId}/fields`)).items;

export const isManager = (p) => isAdmin() || (!!p && p.my_role === 'manager');
export const mayDownload = (p) => isAdmin() || (!!p && p.my_can_download);
// as the server decides (mam_asset_for_change): the owner while an editor
// of the project, a manager of it, an admin
export const mayChange = (asset, p) => isAdmin() || (!!p && (p.my_role === 'manager'
  || (p.my_role === 'editor' && !!asset.owner && asset.owner.id === auth.user.id)));

// a refusal of these routes in the server's words, which name the field,
// the choice or the asset (the generic sentence says less)
export function reason(e) {
  if (!e.detail || ![400, 403, 404, 409].includes(e.status)) return e.message;
  return /[.!?]$/.test(e.detail) ? e.detail : `${e.detail}.`;
}

export const parseTags = (text) => String(text || '').split(',').map((t) => t.trim()).filter(Boolean);

// a stored value as text
export function showValue(f, v) {
  if (v === undefined || v === null) return '–';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '–';
  return String(v);
}

// an input for a value of field f (id: the element's id).  value()
// answers the value to send, null for an empty input, or throws a
// message when the input cannot be one (a number that is not).
export function fieldInput(f, v, id) {
  const has = v !== undefined && v !== null;
  if (f.kind === 'choice') {
    const el = h('select', { id, name: f.name },
      h('option', { value: '' }, '—'),
      f.choices.map((c) => h('option', { value: c, selected: has && v === c }, c)));
    return { el, value: () => el.value || null };
  }
  if (f.kind === 'multi_choice') {
    const chosen = new Set(has ? v : []);
    const boxes = f.choices.map((c, i) => {
      const box = h('input', { type: 'checkbox', id: `${id}-${i}`, value: c, checked: chosen.has(c) });
      return h('label', { class: 'check', for: `${id}-${i}` }, box, ` ${c}`);
    });
    const el = h('fieldset', { id, class: 'choices' }, h('legend', {}, f.label), boxes);
    return {
      el,
      value: () => {
        const v2 = [...el.querySelectorAll('input:checked')].map((b) => b.value);
        return v2.length ? v2 : null;
      },
    };
  }
  if (f.kind === 'tags') {
    const el = h('input', { id, name: f.name, value: has ? v.join(', ') : '', placeholder: 'a, b, c' });
    return { el, value: () => { const t = parseTags(el.value); return t.length ? t : null; } };
  }
  const type = f.kind === 'number' ? 'number' : f.kind === 'date' ? 'date' : 'text';
  const el = h('input', { id, name: f.name, type, value: has ? String(v) : '',
                          step: f.kind === 'number' ? 'any' : undefined,
                          maxlength: f.kind === 'text' ? 1000 : undefined });
  return {
    el,
    value: () => {
      const t = el.value.trim();
      if (!t) return null;
      if (f.kind !== 'number') return t;
      const n = Number(t);
      if (!Number.isFinite(n)) throw new Error(`${f.label} must be a number.`);
      return n;
    },
  };
}

// a field's label and input, as a form shows them
// (a multiple choice is a fieldset: its legend is its label)
export const fieldRow = (f, input, id) => (f.kind === 'multi_choice'
  ? [input.el] : [h('label', { for: id }, f.label), input.el]);
