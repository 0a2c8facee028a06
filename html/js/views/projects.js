// Projects (issue 19).  /projects: the caller's projects (an admin's:
// all), with create for instance editors and admins, and rename and
// delete for a project's managers and admins.  /projects/:id: the
// project's members with their role and can_download; its managers (and
// admins) add members by e-mail (a manager cannot list the users), change
// a role or the download right, and remove members; everyone else sees the
// list read-only.

import { api, auth, isAdmin, isEditor } from '../api.js';
import { confirmDialog, h, main, toast, view } from '../dom.js';
import { go, stillShown } from '../router.js';
import { formDialog, gridUrl, projectsOf, why } from './folders.js';
import { sharesSection } from './shares.js';

const ROLES = ['viewer', 'commenter', 'editor', 'manager'];
const manages = (p) => isAdmin() || p.my_role === 'manager';

const REFUSALS = [
  [/^the project still holds assets/, 'The project still holds assets (or is the default project): move or delete them first.'],
  [/^email: no active account/, 'No active account has this e-mail address.'],
  [/^user_id: already a member/, 'That person is already a member.'],
];

const th = (text) => h('th', { scope: 'col' }, text);
const td = (label, ...c) => h('td', { dataset: { label } }, ...c);

export async function projectsView() {
  const body = h('tbody');
  const table = h('table', { id: 'projects', 'aria-label': 'Projects' },
    h('thead', {}, h('tr', {}, th('Name'), th('Your role'), th('Assets'), th('Actions'))), body);
  const name = h('input', { id: 'project-name', name: 'name', required: true, maxlength: 200 });
  const desc = h('input', { id: 'project-description', name: 'description', maxlength: 5000 });
  const form = isEditor() ? h('form', { class: 'card', id: 'project-form' },
    h('h2', {}, 'New project'),
    h('label', { for: 'project-name' }, 'Name'), name,
    h('label', { for: 'project-description' }, 'Description'), desc,
    h('p', {}, h('button', { type: 'submit', id: 'project-create' }, 'Create project'))) : null;

  const load = async () => {
    const items = await projectsOf();
    body.replaceChildren(...items.map((p) => h('tr', { dataset: { id: p.id, name: p.name } },
      td('Name', h('a', { href: `/projects/${p.id}`, 'data-link': true, class: 'project' }, p.name),
         p.default ? h('span', { class: 'badge' }, 'default') : null,
         p.description ? h('div', { class: 'muted' }, p.description) : null),
      td('Your role', p.my_role || (isAdmin() ? 'admin' : '–')),
      td('Assets', h('a', { href: gridUrl({ project: p.id }), 'data-link': true }, 'Open')),
      td('Actions', manages(p) ? h('div', { class: 'row' },
        h('button', { type: 'button', class: 'ghost rename', onclick: () => rename(p) }, 'Rename'),
        p.default ? null : h('button', { type: 'button', class: 'ghost delete', onclick: () => remove(p) }, 'Delete'))
        : ''))));
    if (!items.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'You are in no project yet.')));
  };
  const rename = async (p) => {
    const v = await formDialog('Rename the project', [
      { name: 'name', label: 'Name', value: p.name, required: true, max: 200 },
      { name: 'description', label: 'Description', value: p.description, max: 5000 }], 'Save');
    if (!v) return;
    try { await api('PATCH', `/api/projects/${p.id}`, v); toast('Project saved'); }
    catch (e) { toast(why(e, REFUSALS), true); }
    await load();
  };
  const remove = async (p) => {
    if (!await confirmDialog(`Delete the project ${p.name}? Only an empty project can be deleted.`)) return;
    try { await api('DELETE', `/api/projects/${p.id}`); toast('Project deleted'); }
    catch (e) { toast(why(e, REFUSALS), true); }
    await load();
  };
  if (form) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const { project } = await api('POST', '/api/projects', { name: name.value, description: desc.value });
        toast(`Project ${project.name} created`);
        go(`/projects/${project.id}`);
      } catch (err) { toast(why(err, REFUSALS), true); }
    });
  }
  view('Projects', ...[h('h1', {}, 'Projects'), table, form].filter(Boolean));
  try { await load(); } catch (e) { main.append(h('p', { class: 'error' }, e.message)); }
}

export async function projectView(id) {
  const shown = stillShown();
  let data;
  try {
    data = await api('GET', `/api/projects/${id}`);
  } catch (e) {
    if (shown()) {
      view('Project', h('h1', {}, 'Project'), h('p', { class: 'error' }, e.message),
           h('a', { href: '/projects', 'data-link': true }, 'Back to the projects'));
    }
    return;
  }
  if (!shown()) return;
  const { project } = data;
  const may = manages(project);
  const body = h('tbody');
  const table = h('table', { id: 'members', 'aria-label': `Members of ${project.name}` },
    h('thead', {}, h('tr', {}, th('Name'), th('Email'), th('Role'), th('Downloads'), may ? th('Action') : null)), body);

  const change = async (m, diff) => {
    try {
      await api('PATCH', `/api/projects/${id}/members`, { user_id: m.user.id, ...diff });
      toast(`Saved ${m.user.email}`);
    } catch (e) { toast(why(e, REFUSALS), true); }
    await load();
  };
  const render = (members) => body.replaceChildren(...members.map((m) => {
    const who = `${m.user.display_name} (${m.user.email})`;
    let role = m.role, dl = m.can_download ? 'yes' : 'no', act = '';
    if (may) {
      role = h('select', { class: 'role', 'aria-label': `Role of ${m.user.email}` },
        ROLES.map((r) => h('option', { value: r, selected: r === m.role }, r)));
      role.addEventListener('change', () => change(m, { role: role.value }));
      dl = h('input', { type: 'checkbox', class: 'download', checked: m.can_download,
                        'aria-label': `${m.user.email} may download` });
      dl.addEventListener('change', () => change(m, { can_download: dl.checked }));
      act = h('button', { type: 'button', class: 'ghost remove', 'aria-label': `Remove ${m.user.email}`,
        onclick: async () => {
          const self = auth.user && m.user.id === auth.user.id;
          if (!await confirmDialog(`Remove ${who} from ${project.name}?${self ? ' You lose access to it.' : ''}`,
                                   'Remove')) return;
          try { await api('DELETE', `/api/projects/${id}/members`, { user_id: m.user.id }); toast(`Removed ${m.user.email}`); }
          catch (e) { toast(why(e, REFUSALS), true); }
          await load();
        } }, 'Remove');
    }
    return h('tr', { dataset: { email: m.user.email } }, td('Name', m.user.display_name),
      td('Email', h('span', { class: 'email' }, m.user.email)), td('Role', role), td('Downloads', dl),
      may ? td('Action', act) : null);
  }));
  async function load() {
    try { render((await api('GET', `/api/projects/${id}`)).members); }
    catch (e) { body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'error' }, e.message))); }
  }

  let form = null;
  if (may) {
    const email = h('input', { id: 'member-email', name: 'email', type: 'email', required: true, maxlength: 254 });
    const role = h('select', { id: 'member-role', name: 'role' },
      ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, r)));
    const dl = h('input', { id: 'member-download', type: 'checkbox', name: 'can_download' });
    form = h('form', { class: 'card', id: 'member-form' }, h('h2', {}, 'Add a member'),
      h('label', { for: 'member-email' }, 'E-mail of their account'), email,
      h('label', { for: 'member-role' }, 'Role'), role,
      h('label', { for: 'member-download', class: 'check' }, dl, ' May download originals'),
      h('p', {}, h('button', { type: 'submit', id: 'member-add' }, 'Add member')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('POST', `/api/projects/${id}/members`,
                  { email: email.value.trim(), role: role.value, can_download: dl.checked });
        toast(`Added ${email.value.trim()}`);
        form.reset();
      } catch (err) { toast(why(err, REFUSALS), true); }
      await load();
    });
  }
  // (view() would write a null as the text "null")
  view(project.name, ...[h('p', {}, h('a', { href: '/projects', 'data-link': true }, '← Projects')),
    h('div', { class: 'row' }, h('h1', {}, project.name),
      h('a', { class: 'button', href: gridUrl({ project: id }), 'data-link': true, style: 'margin-left:auto',
               id: 'open-assets' }, 'Open its assets'),
      h('a', { class: 'button ghost', href: `/projects/${id}/fields`, 'data-link': true,
               id: 'open-fields' }, 'Custom fields'),
      may ? h('a', { class: 'button ghost', href: `/projects/${id}/webhooks`, 'data-link': true,
                     id: 'open-webhooks' }, 'Webhooks') : null),
    project.description ? h('p', { class: 'muted' }, project.description) : null,
    h('h2', {}, 'Members'),
    may ? null : h('p', { class: 'muted', id: 'members-readonly' }, 'Only a manager of the project changes its members.'),
    table, form, sharesSection(project)].filter(Boolean));
  render(data.members);
}
