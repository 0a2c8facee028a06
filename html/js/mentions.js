// @-completion in a comment box (issue 21): "@" and the start of a name
// (or of a word of it) offers the members of the asset's project
// (GET /api/projects/:id/members?q=), picked with the arrows and Enter or
// Tab, or a click; the box then reads "@Display Name ".  The server
// notifies whom a comment names so; a name of no member notifies nobody.

import { api } from './api.js';
import { h } from './dom.js';

let boxes = 0;

// the "@..." being written just before the caret: [start, query] or null
function token(text, caret) {
  const m = /(?:^|[^\p{L}\p{N}_])@([^@\n]{0,40})$/u.exec(text.slice(0, caret));
  return m ? [caret - m[1].length - 1, m[1]] : null;
}

export function attachMentions(textarea, projectId) {
  if (!projectId) return;
  const id = `mentions-${++boxes}`;
  const menu = h('ul', { class: 'mention-list', id, role: 'listbox', hidden: true,
                         'aria-label': 'Members to mention' });
  textarea.setAttribute('aria-controls', id);
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.after(menu);
  let items = [], active = 0, at = null, timer = null, gen = 0;

  const hide = () => {
    menu.hidden = true;
    items = [];
    textarea.removeAttribute('aria-activedescendant');
  };
  const mark = () => {
    [...menu.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    if (items.length) textarea.setAttribute('aria-activedescendant', `${id}-${active}`);
  };
  const pick = (m) => {
    const end = textarea.selectionStart;
    const before = textarea.value.slice(0, at);
    const after = textarea.value.slice(end);
    textarea.value = `${before}@${m.display_name} ${after}`;
    const caret = before.length + m.display_name.length + 2;
    textarea.setSelectionRange(caret, caret);
    hide();
    textarea.focus();
  };
  const show = (found) => {
    items = found;
    active = 0;
    menu.replaceChildren(...found.map((m, i) => h('li', { role: 'option', id: `${id}-${i}`,
      onmousedown: (e) => { e.preventDefault(); pick(m); } }, m.display_name)));
    menu.hidden = !found.length;
    mark();
  };
  const look = () => {
    const t = token(textarea.value, textarea.selectionStart);
    clearTimeout(timer);
    if (!t) { hide(); return; }
    at = t[0];
    const mine = ++gen;
    timer = setTimeout(async () => {
      try {
        const r = await api('GET', `/api/projects/${projectId}/members?q=${encodeURIComponent(t[1])}`);
        if (mine === gen) show(r.items);
      } catch { hide(); }
    }, 120);
  };

  textarea.addEventListener('input', look);
  textarea.addEventListener('blur', () => setTimeout(hide, 100));
  // first of the box's key handlers (capture runs before the others at
  // the target), so Escape closes the list and not the form around it
  textarea.addEventListener('keydown', (e) => {
    if (menu.hidden || !items.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      mark();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      pick(items[active]);
    } else if (e.key === 'Escape') {
      hide();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }, { capture: true });
}
