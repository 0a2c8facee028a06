// Users (admins): approve pending accounts, change status and role; a
// change that takes access away (disable, back to pending, another role)
// asks first.  On a narrow screen each user is a card (app.css), with the
// table's roles kept.

import { api, isAdmin, MESSAGES } from '../api.js';
import { confirmDialog, h, main, toast, view } from '../dom.js';

export async function adminView() {
  if (!isAdmin()) return view('Users', h('h1', {}, 'Users'), h('p', { class: 'error' }, MESSAGES.forbidden));
  const body = h('tbody', { role: 'rowgroup' });
  const th = (text) => h('th', { role: 'columnheader', scope: 'col' }, text);
  const table = h('table', { id: 'users', role: 'table', 'aria-label': 'Users' },
    h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, th('Name'), th('Email'), th('Status'),
                                                   th('Role'), th('Action'))), body);
  const load = async () => {
    const { items } = await api('GET', '/api/users');
    body.replaceChildren(...items.map((u) => {
      const role0 = ['admin', 'editor', 'viewer'].find((r) => u.roles.includes(r)) || 'viewer';
      const status = h('select', { 'aria-label': `Status of ${u.email}`, class: 'status' },
        ['active', 'pending', 'disabled'].map((s) => h('option', { value: s, selected: u.status === s }, s)));
      const role = h('select', { 'aria-label': `Role of ${u.email}`, class: 'role' },
        ['viewer', 'editor', 'admin'].map((r) => h('option', { value: r, selected: r === role0 }, r)));
      const save = async (change) => {
        try { await api('PATCH', `/api/users/${u.id}`, change); toast(`Saved ${u.email}`); await load(); }
        catch (e) { toast(e.message, true); await load(); }
      };
      status.addEventListener('change', async () => {
        const to = status.value;
        if (to !== 'active') {
          const q = to === 'disabled'
            ? `Disable ${u.display_name} (${u.email})? They are signed out at once and cannot sign in until enabled again.`
            : `Set ${u.display_name} (${u.email}) back to pending? They are signed out at once.`;
          if (!await confirmDialog(q, to === 'disabled' ? 'Disable' : 'Set to pending')) {
            status.value = u.status;
            status.focus();
            return;
          }
        }
        save({ status: to });
      });
      role.addEventListener('change', async () => {
        const to = role.value;
        if (!await confirmDialog(`Change the role of ${u.display_name} (${u.email}) from ${role0} to ${to}? `
                                 + 'Their open pages must sign in again.', 'Change role')) {
          role.value = role0;
          role.focus();
          return;
        }
        save({ roles: [to] });
      });
      const td = (label, ...c) => h('td', { role: 'cell', dataset: { label } }, ...c);
      return h('tr', { role: 'row', dataset: { email: u.email } }, td('Name', u.display_name),
        td('Email', h('span', { class: 'email' }, u.email)), td('Status', status), td('Role', role),
        td('Action', u.status === 'pending'
          ? h('button', { type: 'button', class: 'approve', 'aria-label': `Approve ${u.email}`,
                          onclick: () => save({ status: 'active' }) }, 'Approve') : ''));
    }));
  };
  view('Users', h('h1', {}, 'Users'), table);
  try { await load(); } catch (e) { main.append(h('p', { class: 'error' }, e.message)); }
}
