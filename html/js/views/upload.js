// The upload page: a drop zone and a file picker that hand files to the
// upload tray (uploads.js), which keeps them going across pages.

import { h, view } from '../dom.js';
import { addUploads } from '../uploads.js';

export function uploadView() {
  const input = h('input', { type: 'file', id: 'file', multiple: true, accept: 'video/*,audio/*',
                             'aria-label': 'Choose files to upload' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop video or audio files here, or'),
    h('label', { for: 'file', class: 'button', style: 'display:inline-block' }, 'Choose files'),
    input,
    h('p', { class: 'muted' }, 'Uploads continue in the tray while you move around the app.'));
  input.style.display = 'none';
  input.addEventListener('change', () => { addUploads([...input.files]); input.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addUploads([...e.dataTransfer.files]); });
  view('Upload', h('h1', {}, 'Upload'), drop);
}
