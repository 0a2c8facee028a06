// The upload page: a drop zone and a file picker that hand files to the
// upload tray (uploads.js), which keeps them going across pages.  The file
// input itself is the picker (visually hidden, never display:none): Tab
// reaches it, the drop zone shows its focus, and Enter or Space opens it.
// A viewer sees at once that uploading needs the editor role.  The files
// go into the project and folder chosen above the drop zone (from the
// grid's Upload link: the grid's project and folder, ?project=&folder=);
// the projects offered are those where the caller may add assets.

import { api, isEditor } from '../api.js';
import { h, view } from '../dom.js';
import { addUploads } from '../uploads.js';
import { folderOptions, mayEdit, projectsOf, scope } from './folders.js';

// the project and folder <select>s; target() says where files go now
function targetPicker() {
  const chosen = scope();
  const project = h('select', { id: 'upload-project', name: 'project' });
  const folder = h('select', { id: 'upload-folder', name: 'folder' }, h('option', { value: '' }, '(project root)'));
  const el = h('div', { class: 'row upload-target' },
    h('div', {}, h('label', { for: 'upload-project' }, 'Project'), project),
    h('div', {}, h('label', { for: 'upload-folder' }, 'Folder'), folder));
  const folders = async (want) => {
    folder.replaceChildren(h('option', { value: '' }, '(project root)'));
    if (!project.value) return;
    const { items } = await api('GET', `/api/projects/${project.value}/folders`);
    folder.replaceChildren(...folderOptions(items).map(([v, t]) => h('option', { value: v, selected: v === want }, t)));
  };
  project.addEventListener('change', () => folders('').catch(() => {}));
  projectsOf().then(async (all) => {
    const mine = all.filter(mayEdit);
    const pick = mine.find((p) => p.id === chosen.project) || mine.find((p) => p.default) || mine[0];
    project.replaceChildren(...mine.map((p) => h('option', { value: p.id, selected: p === pick }, p.name)));
    await folders(pick && pick.id === chosen.project ? chosen.folder : '');
  }).catch(() => {});
  const target = () => (project.value ? { project_id: project.value, folder_id: folder.value || null } : {});
  return { el, target };
}

export function uploadView() {
  if (!isEditor()) {
    return view('Upload', h('h1', {}, 'Upload'),
      h('div', { class: 'card', id: 'upload-denied' },
        h('p', {}, 'Uploading needs the editor role, and your account is a viewer.'),
        h('p', { class: 'muted' }, 'Ask an admin to make you an editor. You can still watch and comment on every asset.'),
        h('a', { href: '/', 'data-link': true }, 'Back to the assets')));
  }
  const input = h('input', { type: 'file', id: 'file', multiple: true, accept: 'video/*,audio/*',
                             class: 'picker', 'aria-describedby': 'drop-help' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop video or audio files here, or'),
    h('label', { for: 'file', class: 'button', id: 'choose' }, 'Choose files'),
    input,
    h('p', { class: 'muted', id: 'drop-help' },
      'Enter or Space opens the file picker. Uploads continue in the tray while you move around the app.'));
  const to = targetPicker();
  input.addEventListener('change', () => { addUploads([...input.files], to.target()); input.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addUploads([...e.dataTransfer.files], to.target()); });
  view('Upload', h('h1', {}, 'Upload'), to.el, drop);
}
