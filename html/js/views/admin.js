// Users (admins): approve pending accounts, change status and role.

import { api, isAdmin, MESSAGES } from '../api.js';
import { h, main, toast, view } from '../dom.js';

export async function adminView() {
  if (!isAdmin()) return view('Users', h('p', { class: 'error' }, MESSAGES.forbidden));
  const body = h('tbody');
  const table = h('table', { id: 'users' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Email'), h('th', {}, 'Status'),
                              h('th', {}, 'Role'), h('th', {}, ''))), body);
  const load = async () => {
    const { items } = await api('GET', '/api/users');
    body.replaceChildren(...items.map((u) => {
      const status = h('select', { 'aria-label': `Status of ${u.email}`, class: 'status' },
        ['active', 'pending', 'disabled'].map((s) => h('option', { value: s, selected: u.status === s }, s)));
      const role = h('select', { 'aria-label': `Role of ${u.email}`, class: 'role' },
        ['viewer', 'editor', 'admin'].map((r) => h('option', { value: r, selected: u.roles.includes(r) }, r)));
      const save = async (change) => {
        try { await api('PATCH', `/api/users/${u.id}`, change); toast(`Saved ${u.email}`); await load(); }
        catch (e) { toast(e.message, true); await load(); }
      };
      status.addEventListener('change', () => save({ status: status.value }));
      role.addEventListener('change', () => save({ roles: [role.value] }));
      return h('tr', { dataset: { email: u.email } }, h('td', {}, u.display_name), h('td', {}, u.email),
        h('td', {}, status), h('td', {}, role),
        h('td', {}, u.status === 'pending'
          ? h('button', { type: 'button', class: 'approve', onclick: () => save({ status: 'active' }) }, 'Approve') : ''));
    }));
  };
  view('Users', h('h1', {}, 'Users'), table);
  try { await load(); } catch (e) { main.append(h('p', { class: 'error' }, e.message)); }
}
