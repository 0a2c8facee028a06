// The upload tray: lives outside the routed page (aside#tray), so uploads
// continue while the person moves around the app.  Each upload shows its
// progress and can be cancelled, which ends it on the server too (tus
// DELETE on local storage, DELETE /api/uploads/:id for S3 multipart); a
// page unload while uploads run asks first.
//
// Large files go in resumable pieces: tus on local storage (tus-js-client),
// presigned parts on S3.  The presign answer is kept in localStorage under
// the file's name, size and date, so choosing the same file again after a
// reload or a failure continues where the server says it stopped.

import { api, auth, ApiError } from './api.js';
import { $, h } from './dom.js';

const RESUMABLE_FROM = 32 * 1024 * 1024;
const TUS_CHUNK = 8 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uploadKey = (f) => `mam-upload:${f.name}:${f.size}:${f.lastModified}`;

class Cancelled extends Error {}

function savedUpload(file) {
  try {
    const p = JSON.parse(localStorage.getItem(uploadKey(file)));
    if (p && Date.parse(p.expires_at) > Date.now() + 60000) return p;
  } catch (e) { /* nothing usable */ }
  localStorage.removeItem(uploadKey(file));
  return null;
}

function putFile(job, url, file, headers, onprogress) {
  return new Promise((resolve, reject) => {
    if (job.cancelled) return reject(new Cancelled());
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onprogress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { message: 'The upload was interrupted.' }));
    xhr.onabort = () => reject(new Cancelled());
    job.abort = () => xhr.abort();
    xhr.send(file);
  });
}

function tusUpload(job, p, file, onprogress) {
  return new Promise((resolve, reject) => {
    const up = new tus.Upload(file, {
      uploadUrl: new URL(p.upload_url, location.href).href,
      uploadSize: file.size,
      chunkSize: TUS_CHUNK,
      retryDelays: RETRY_DELAYS,
      // a lost network is worth waiting for (tus-js-client would give up
      // at once while the browser reports itself offline)
      onShouldRetry: (err) => {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
        return status === 0 || status >= 500 || status === 409 || status === 423;
      },
      storeFingerprintForResuming: false,
      onBeforeRequest: (req) => { req.setHeader('Authorization', `Bearer ${auth.token}`); },
      onProgress: (sent, total) => onprogress(sent / total),
      onSuccess: resolve,
      onError: (e) => {
        const res = e.originalResponse;
        reject(new ApiError(res ? res.getStatus() : 0,
                            { message: 'The upload stopped. Retry continues it.' }));
      },
    });
    job.abort = () => {
      reject(new Cancelled());
      return up.abort(false);
    };
    up.start();
  });
}

async function putWithRetry(job, url, blob, onprogress) {
  for (let i = 0; ; i++) {
    try {
      return await putFile(job, url, blob, {}, onprogress);
    } catch (e) {
      if (e instanceof Cancelled || e.status !== 0 || i + 1 >= RETRY_DELAYS.length) throw e;
      await sleep(RETRY_DELAYS[i + 1]);
    }
  }
}

async function partsUpload(job, p, file, onprogress) {
  // each answer names what S3 holds and URLs for (up to 100 of) the rest
  for (;;) {
    const state = await api('GET', `/api/uploads/${p.upload_id}/parts`);
    if (job.cancelled) throw new Cancelled();
    if (!state.parts.length) break;
    let sent = state.uploaded.reduce((n, part) => n + part.size, 0);
    onprogress(sent / file.size);
    for (const part of state.parts) {
      const start = (part.part_number - 1) * state.part_size;
      const blob = file.slice(start, Math.min(start + state.part_size, file.size));
      await putWithRetry(job, part.url, blob, (f) => onprogress((sent + f * blob.size) / file.size));
      sent += blob.size;
    }
  }
  await api('POST', `/api/uploads/${p.upload_id}/complete`, {});
}

// a cancelled upload ends on the server too: tus termination (DELETE of
// the upload URL), or DELETE /api/uploads/:id for S3 multipart; a plain PUT
// that stopped leaves nothing
async function terminate(p) {
  if (p.method === 's3-multipart') return api('DELETE', `/api/uploads/${p.upload_id}`);
  if (p.method !== 'tus') return null;
  for (let i = 0; i < 8; i++) {
    const res = await fetch(new URL(p.upload_url, location.href), {
      method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${auth.token}` } });
    // 423/409: the interrupted PATCH still holds the upload for a moment
    if (res.status !== 423 && res.status !== 409) return res.status;
    await sleep(500 * (i + 1));
  }
  return null;
}

async function presignFor(file) {
  const resumable = file.size >= RESUMABLE_FROM;
  const saved = resumable ? savedUpload(file) : null;
  if (saved) return saved;
  const p = await api('POST', '/api/presign', {
    filename: file.name, content_type: file.type || 'video/mp4', size: file.size, resumable });
  if (p.method !== 'PUT') {
    const { parts, ...keep } = p;
    localStorage.setItem(uploadKey(file), JSON.stringify(keep));
  }
  return p;
}

// --- the tray -----------------------------------------------------------------

const jobs = new Set();           // the uploads running now
const list = h('ul', { class: 'uploads', id: 'uploads' });
const count = h('span', { id: 'tray-count' });
const tray = h('aside', { id: 'tray', 'aria-label': 'Uploads', hidden: true },
  h('div', { class: 'row' }, h('strong', {}, 'Uploads '), count,
    h('button', { type: 'button', class: 'ghost', id: 'tray-clear',
                  onclick: () => { list.querySelectorAll('li:not(.running)').forEach((li) => li.remove()); update(); } },
      'Clear finished')),
  list);

function update() {
  tray.hidden = list.children.length === 0;
  count.textContent = jobs.size ? `(${jobs.size} running)` : '';
}

export const uploading = () => jobs.size > 0;

// a failure that another try may get past: the network, the server, a
// rate limit, an upload the server holds or let expire
const retryable = (e) => !e.status || e.status >= 500 || [408, 409, 410, 423, 429].includes(e.status);

// the staged upload made an asset (target: { project_id?, folder_id? },
// where it goes: upload.js) or the next version of one (target:
// { asset_id }: the asset page's "Upload new version"), then promoted
async function promoteUpload(file, p, target, status) {
  if (target.asset_id) {
    status.textContent = 'Adding the version…';
    await api('PATCH', `/api/assets/${target.asset_id}`, { staging_key: p.staging_key });
    const { version } = await api('POST', '/api/promote', { asset_id: target.asset_id });
    return { id: target.asset_id, done: `Uploaded as v${version.number}: ` };
  }
  status.textContent = 'Creating the asset…';
  const title = file.name.replace(/\.[^.]+$/, '') || file.name;
  const { asset } = await api('POST', '/api/assets', { title, staging_key: p.staging_key, ...target });
  await api('POST', '/api/promote', { asset_id: asset.id });
  return { id: asset.id, done: 'Uploaded: ' };
}

async function uploadOne(file, li, target = {}) {
  const job = { cancelled: false, abort: null };
  const bar = h('progress', { max: 1, value: 0, 'aria-label': `Upload progress of ${file.name}` });
  const status = h('span', { class: 'muted' }, 'Preparing…');
  const cancel = h('button', { type: 'button', class: 'ghost cancel', 'aria-label': `Cancel the upload of ${file.name}` }, 'Cancel');
  li.className = 'running';
  li.replaceChildren(h('div', { class: 'row' }, h('strong', {}, file.name), status, cancel), bar);
  const progress = (f) => { bar.value = f; status.textContent = `${Math.round(f * 100)} %`; };
  let p = null;
  jobs.add(job);
  update();
  cancel.addEventListener('click', () => {
    job.cancelled = true;
    cancel.disabled = true;
    status.textContent = 'Cancelling…';
    if (job.abort) job.abort();
  });
  try {
    p = await presignFor(file);
    if (job.cancelled) throw new Cancelled();
    status.textContent = 'Uploading…';
    if (p.method === 'tus') await tusUpload(job, p, file, progress);
    else if (p.method === 's3-multipart') await partsUpload(job, p, file, progress);
    else await putFile(job, p.upload_url, file, p.headers, progress);
    if (job.cancelled) throw new Cancelled();
    localStorage.removeItem(uploadKey(file));
    cancel.remove();
    const made = await promoteUpload(file, p, target, status);
    bar.value = 1;
    status.replaceChildren(made.done, h('a', { href: `/assets/${made.id}`, 'data-link': true, class: 'open' }, 'open'));
    li.className = 'done';
  } catch (e) {
    cancel.remove();
    if (job.cancelled) {
      localStorage.removeItem(uploadKey(file));
      if (p) await terminate(p).catch(() => null);
      status.textContent = 'Cancelled';
      li.className = 'cancelled';
    } else {
      // an upload the server no longer continues is started afresh on retry
      if ([403, 404, 409, 410].includes(e.status)) localStorage.removeItem(uploadKey(file));
      // Retry only where trying again can help: not for a refused file
      // (415 its type, 413 its size, 400, 403 no right to upload)
      status.replaceChildren(h('span', { class: 'error' }, e.message), ' ',
                             retryable(e) ? h('button', { class: 'ghost retry', type: 'button',
                                                          'aria-label': `Retry the upload of ${file.name}`,
                                                          onclick: () => uploadOne(file, li, target) }, 'Retry') : null);
      li.className = 'failed';
    }
  } finally {
    jobs.delete(job);
    update();
  }
}

export function addUploads(files, target = {}) {
  for (const f of files) {
    const li = h('li');
    list.append(li);
    uploadOne(f, li, target);
  }
}

export function startTray() {
  $('#main').after(tray);
  // leaving the page would stop the uploads: the browser asks first
  window.addEventListener('beforeunload', (e) => {
    if (!uploading()) return;
    e.preventDefault();
    e.returnValue = '';
  });
}
