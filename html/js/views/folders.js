// The grid's sidebar (issue 19): the project switcher and the chosen
// project's folder tree.  The choice lives in the URL (/?project=ID,
// &folder=ID), so a link, a reload and Back keep it; grid.js asks scope()
// for the list's filters and puts sidebar() beside its tiles.  Editors and
// managers of the project (and admins) create, rename, move (a dialog, or
// a folder dragged onto another or onto the project's root) and delete
// folders; an asset tile dropped on a folder moves the asset there.  The
// server's refusals (a name taken, a move into itself, a folder that is
// not empty) are shown as they come.
//
// formDialog, folderOptions and projectsOf are shared with projects.js and
// upload.js.

import { api, isAdmin } from '../api.js';
import { h, toast, confirmDialog } from '../dom.js';
import { go, onLeave } from '../router.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// the project and folder of the URL: { project, folder } (ids or '')
export function scope(search = location.search) {
  const p = new URLSearchParams(search);
  const id = (k) => (UUID.test(p.get(k) || '') ? p.get(k) : '');
  const project = id('project');
  return { project, folder: project ? id('folder') : '' };
}

// the grid's URL for a scope and a search
export function gridUrl({ project = '', folder = '', q = '' } = {}) {
  const p = new URLSearchParams();
  if (project) p.set('project', project);
  if (project && folder) p.set('folder', folder);
  if (q) p.set('q', q);
  const s = p.toString();
  return s ? `/?${s}` : '/';
}

// the upload page for the URL's scope: uploads go into that folder
export const uploadUrl = () => gridUrl(scope()).replace(/^\//, '/upload');

// the message of a refusal: the server's own where it says more than the
// error code (a name taken, a folder not empty), else api.js's sentence
export function why(e, known = []) {
  for (const [re, text] of known) if (re.test(e.detail || '')) return text;
  return e.message;
}

const FOLDER_REFUSALS = [
  [/^name: a folder of this name/, 'A folder of this name is already there.'],
  [/^parent_id: a folder cannot move into itself/, 'A folder cannot move into itself or a folder under it.'],
  [/^parent_id: folders nest at most/, 'Folders cannot nest deeper than that.'],
  [/^a project holds at most/, 'This project holds as many folders as it may.'],
  [/^the folder still holds/, 'The folder still holds folders or assets: move or delete them first.'],
  [/^folder_id: /, 'That folder is not in the asset\'s project.'],
];

// the caller's projects (GET /api/projects), by name
export const projectsOf = async () => (await api('GET', '/api/projects')).items;

export const mayEdit = (project) => !!project
  && (isAdmin() || project.my_role === 'editor' || project.my_role === 'manager');

// a modal form: resolves the values by name, or null when cancelled.
// fields: { name, label, value?, options?: [[value, text]], type? }
export function formDialog(title, fields, action = 'Save') {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => (f.options
      ? h('select', { id: `dlg-${f.name}`, name: f.name },
          f.options.map(([v, t]) => h('option', { value: v, selected: v === (f.value || '') }, t)))
      : h('input', { id: `dlg-${f.name}`, name: f.name, type: f.type || 'text', value: f.value || '',
                     required: f.required, maxlength: f.max })));
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'dlg-title' }, title),
      fields.flatMap((f, i) => [h('label', { for: `dlg-${f.name}` }, f.label), inputs[i]]),
      h('div', { class: 'row dialog-actions' },
        h('button', { type: 'submit', value: 'ok', id: 'dlg-ok' }, action),
        h('button', { type: 'button', class: 'ghost', value: 'no', id: 'dlg-cancel' }, 'Cancel')));
    const d = h('dialog', { class: 'card', id: 'form-dialog', 'aria-labelledby': 'dlg-title' }, form);
    const done = (values) => { d.close(); d.remove(); resolve(values); };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      done(Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value])));
    });
    form.querySelector('#dlg-cancel').addEventListener('click', () => done(null));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(null); });
    document.body.append(d);
    d.showModal();
    inputs[0].focus();
  });
}

// the tree as rows in order, each { folder, depth }, children by name;
// without skip's subtree (a move's possible parents)
export function flatten(folders, skip = null) {
  const kids = new Map();
  for (const f of folders) {
    const k = f.parent_id || '';
    if (!kids.has(k)) kids.set(k, []);
    kids.get(k).push(f);
  }
  const rows = [];
  const walk = (parent, depth) => {
    for (const f of kids.get(parent) || []) {
      if (f.id === skip) continue;
      rows.push({ folder: f, depth });
      walk(f.id, depth + 1);
    }
  };
  walk('', 0);
  return rows;
}

// [[id, text]] for a <select> of folders, the root first
export const folderOptions = (folders, skip = null, root = '(project root)') => [['', root],
  ...flatten(folders, skip).map(({ folder, depth }) => [folder.id, `${'\u2003'.repeat(depth)}${folder.name}`])];

// the sidebar of the grid for the URL's scope
export function sidebar() {
  const { project, folder } = scope();
  const q = new URLSearchParams(location.search).get('q') || '';
  const switcher = h('select', { id: 'project-switch', 'aria-label': 'Project' },
    h('option', { value: '' }, 'All projects'));
  const tree = h('nav', { id: 'folders', 'aria-label': 'Folders' });
  const tools = h('div', { class: 'row folder-tools' });
  const el = h('aside', { class: 'side card', id: 'side' },
    h('label', { for: 'project-switch' }, 'Project'), switcher, tree, tools,
    h('p', {}, h('a', { href: '/projects', 'data-link': true, id: 'manage-projects' }, 'Manage projects')));
  switcher.addEventListener('change', () => go(gridUrl({ project: switcher.value })));
  // a tile dragged from the grid names its asset (grid.js knows nothing of it)
  const tileDrag = (e) => {
    const t = e.target.closest && e.target.closest('.tile[data-id]');
    if (t) e.dataTransfer.setData('application/x-mam-asset', t.dataset.id);
  };
  document.addEventListener('dragstart', tileDrag);
  onLeave(() => document.removeEventListener('dragstart', tileDrag));

  let folders = [];
  let current = null;

  const link = (id, text) => h('a', {
    href: gridUrl({ project, folder: id, q }), 'data-link': true, class: 'folder',
    dataset: { id: id || 'root' }, 'aria-current': (id || '') === folder ? 'page' : null,
    draggable: id && mayEdit(current) ? 'true' : null,
  }, text);

  const moveFolder = async (id, parent) => {
    try {
      await api('PATCH', `/api/folders/${id}`, { parent_id: parent || null });
      toast('Folder moved');
    } catch (e) { toast(why(e, FOLDER_REFUSALS), true); }
    await load();
  };
  const moveAsset = async (id, to) => {
    try {
      await api('PATCH', `/api/assets/${id}`, { folder_id: to || null });
      toast('Asset moved');
      // the tile leaves a folder's list
      if (folder && folder !== to) document.querySelector(`.tile[data-id="${id}"]`)?.remove();
    } catch (e) { toast(why(e, FOLDER_REFUSALS), true); }
  };

  // a folder dragged onto another folder (or the root); an asset tile too
  const dropTarget = (a, id) => {
    if (!mayEdit(current)) return;
    a.addEventListener('dragover', (e) => { e.preventDefault(); a.classList.add('over'); });
    a.addEventListener('dragleave', () => a.classList.remove('over'));
    a.addEventListener('drop', (e) => {
      e.preventDefault();
      a.classList.remove('over');
      const dragged = e.dataTransfer.getData('application/x-mam-folder');
      if (dragged) {
        if (dragged !== id) moveFolder(dragged, id);
        return;
      }
      const m = e.dataTransfer.getData('application/x-mam-asset')
        || ((e.dataTransfer.getData('text/uri-list') || '').match(/\/assets\/([0-9a-f-]{36})/) || [])[1];
      if (m) moveAsset(m, id);
    });
  };

  const render = () => {
    const ul = (parent) => {
      const rows = folders.filter((f) => (f.parent_id || '') === parent);
      if (!rows.length) return null;
      return h('ul', { class: 'tree' }, rows.map((f) => {
        const a = link(f.id, f.name);
        a.addEventListener('dragstart', (e) => e.dataTransfer.setData('application/x-mam-folder', f.id));
        dropTarget(a, f.id);
        return h('li', {}, a, ul(f.id));
      }));
    };
    const root = link('', current ? current.name : 'Project');
    root.classList.add('root');
    dropTarget(root, '');
    tree.replaceChildren(...[root, ul('')].filter(Boolean));
    tools.replaceChildren();
    if (!mayEdit(current)) return;
    const selected = folders.find((f) => f.id === folder);
    tools.append(h('button', { type: 'button', class: 'ghost', id: 'folder-new', onclick: create }, 'New folder'));
    if (selected) {
      tools.append(
        h('button', { type: 'button', class: 'ghost', id: 'folder-rename', onclick: () => rename(selected) }, 'Rename'),
        h('button', { type: 'button', class: 'ghost', id: 'folder-move', onclick: () => move(selected) }, 'Move'),
        h('button', { type: 'button', class: 'ghost danger-text', id: 'folder-delete', onclick: () => remove(selected) },
          'Delete'));
    }
  };

  async function load() {
    folders = (await api('GET', `/api/projects/${project}/folders`)).items;
    render();
  }

  async function create() {
    const v = await formDialog(folder ? 'New folder in this folder' : 'New folder', [
      { name: 'name', label: 'Name', required: true, max: 200 },
      { name: 'parent_id', label: 'In', value: folder, options: folderOptions(folders) }], 'Create');
    if (!v) return;
    try {
      const r = await api('POST', `/api/projects/${project}/folders`,
                          { name: v.name, parent_id: v.parent_id || null });
      toast(`Folder ${r.folder.name} created`);
    } catch (e) { toast(why(e, FOLDER_REFUSALS), true); }
    await load();
  }
  async function rename(f) {
    const v = await formDialog('Rename the folder', [{ name: 'name', label: 'Name', value: f.name, required: true, max: 200 }],
                               'Rename');
    if (!v || v.name === f.name) return;
    try { await api('PATCH', `/api/folders/${f.id}`, { name: v.name }); toast('Folder renamed'); }
    catch (e) { toast(why(e, FOLDER_REFUSALS), true); }
    await load();
  }
  async function move(f) {
    const v = await formDialog(`Move ${f.name}`, [
      { name: 'parent_id', label: 'Into', value: f.parent_id || '', options: folderOptions(folders, f.id) }], 'Move');
    if (v) await moveFolder(f.id, v.parent_id);
  }
  async function remove(f) {
    if (!await confirmDialog(`Delete the folder ${f.name}?`)) return;
    try {
      await api('DELETE', `/api/folders/${f.id}`);
      toast('Folder deleted');
      return go(gridUrl({ project, folder: f.parent_id || '' }), { replace: true });
    } catch (e) { toast(why(e, FOLDER_REFUSALS), true); }
  }

  (async () => {
    try {
      const projects = await projectsOf();
      switcher.append(...projects.map((p) => h('option', { value: p.id, selected: p.id === project }, p.name)));
      current = projects.find((p) => p.id === project) || null;
      if (!project) {
        tree.replaceChildren(h('p', { class: 'muted' }, 'Choose a project to see its folders.'));
        return;
      }
      if (!current) {
        tree.replaceChildren(h('p', { class: 'error' }, 'That project does not exist, or you are not a member.'));
        return;
      }
      await load();
    } catch (e) {
      tree.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  })();
  return el;
}
