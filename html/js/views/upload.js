// The upload page: a drop zone and a file picker that hand files to the
// upload tray (uploads.js), which keeps them going across pages.  The file
// input itself is the picker (visually hidden, never display:none): Tab
// reaches it, the drop zone shows its focus, and Enter or Space opens it.
// A viewer sees at once that uploading needs the editor role.

import { isEditor } from '../api.js';
import { h, view } from '../dom.js';
import { addUploads } from '../uploads.js';

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
  input.addEventListener('change', () => { addUploads([...input.files]); input.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addUploads([...e.dataTransfer.files]); });
  view('Upload', h('h1', {}, 'Upload'), drop);
}
