// The MAM single-page app: plain ES modules, no framework, served by nginx
// from html/ on the API's origin.  The access token lives in memory only;
// the refresh token is the HttpOnly mam_refresh cookie (Path=/auth), so a
// reload signs in again silently through POST /auth/refresh.

const $ = (sel, root = document) => root.querySelector(sel);
const main = $('#main');

// --- api ------------------------------------------------------------------

const auth = { token: null, user: null, timer: null };

const MESSAGES = {
  unauthorized: 'Please sign in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'That does not exist (any more).',
  conflict: 'That conflicts with the current state.',
  rate_limited: 'Too many requests; wait a moment and try again.',
  unavailable: 'The service is temporarily unavailable; try again shortly.',
  payload_too_large: 'That is too large.',
  unsupported_media_type: 'That file type is not supported.',
  internal: 'Something went wrong on our side.',
};

class ApiError extends Error {
  constructor(status, body) {
    const code = body && body.error;
    super((body && body.message && !/^[a-z_]+$/.test(body.message) ? body.message
           : MESSAGES[code]) || `Request failed (${status}).`);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body, { retry = true } = {}) {
  const headers = {};
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
                              body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { message: 'The server cannot be reached.' });
  }
  if (res.status === 401 && retry && auth.token && !path.startsWith('/auth/')) {
    if (await refresh()) return api(method, path, body, { retry: false });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function signedIn(data) {
  auth.token = data.access_token;
  auth.user = data.user;
  clearTimeout(auth.timer);
  // refresh a minute before the access token expires
  auth.timer = setTimeout(refresh, Math.max(10, data.expires_in - 60) * 1000);
  renderNav();
}

async function refresh() {
  try {
    const res = await fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin',
                                               headers: { 'Content-Type': 'application/json' },
                                               body: '{}' });
    if (!res.ok) throw new Error('no session');
    signedIn(await res.json());
    return true;
  } catch (e) {
    auth.token = null;
    auth.user = null;
    renderNav();
    return false;
  }
}

const isAdmin = () => auth.user && auth.user.roles.includes('admin');
const isEditor = () => auth.user && (isAdmin() || auth.user.roles.includes('editor'));

// --- ui helpers -------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // through the CSSOM: the Content-Security-Policy refuses style attributes
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function toast(text, bad = false) {
  const m = h('div', { class: bad ? 'msg bad' : 'msg' }, text);
  $('#toast').append(m);
  setTimeout(() => m.remove(), 5000);
}

function view(title, ...children) {
  document.title = `${title} · MAM`;
  main.replaceChildren(...children);
  main.focus({ preventScroll: true });
}

// hh:mm:ss.ff, ff being frames at the version's frame rate
function timecode(sec, fps = 25) {
  const f = Math.round(fps) || 25;
  const frames = Math.floor(sec * f + 1e-6);
  const ff = frames % f;
  const s = Math.floor(frames / f);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}.${p(ff)}`;
}

function formatDuration(sec) {
  if (!sec && sec !== 0) return '–';
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// --- routing -----------------------------------------------------------

const routes = [
  [/^\/$/, gridView],
  [/^\/login$/, loginView],
  [/^\/register$/, registerView],
  [/^\/upload$/, uploadView],
  [/^\/assets\/([0-9a-f-]{36})$/, assetView],
  [/^\/admin$/, adminView],
];
let cleanup = [];

function go(path) {
  history.pushState(null, '', path);
  route();
}

async function route() {
  cleanup.forEach((f) => f());
  cleanup = [];
  const path = location.pathname;
  const open = path === '/login' || path === '/register';
  if (!auth.token && !open) return go('/login');
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) return fn(...m.slice(1));
  }
  view('Not found', h('h1', {}, 'Not found'), h('a', { href: '/', 'data-link': true }, 'Back to the assets'));
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
    e.preventDefault();
    go(a.getAttribute('href'));
  }
});
window.addEventListener('popstate', route);

function renderNav() {
  const nav = $('#nav');
  if (!auth.user) {
    nav.replaceChildren(h('a', { href: '/login', 'data-link': true }, 'Sign in'),
                        h('a', { href: '/register', 'data-link': true }, 'Register'));
    return;
  }
  nav.replaceChildren(
    h('a', { href: '/', 'data-link': true }, 'Assets'),
    isEditor() ? h('a', { href: '/upload', 'data-link': true }, 'Upload') : null,
    isAdmin() ? h('a', { href: '/admin', 'data-link': true }, 'Users') : null,
    h('span', { class: 'muted', style: 'margin-left:auto' }, auth.user.display_name),
    h('button', { class: 'ghost', type: 'button', id: 'logout', onclick: logout }, 'Sign out'));
}

async function logout() {
  try { await api('POST', '/auth/logout', {}); } catch (e) { /* signed out anyway */ }
  auth.token = null;
  auth.user = null;
  clearTimeout(auth.timer);
  renderNav();
  go('/login');
}

// theme: the system's preference until the user picks one, then remembered
$('#theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('mam-theme', next);
});

// --- accounts -------------------------------------------------------------

function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return [h('label', { for: id }, label), h('input', { id, ...attrs })];
}

function loginView() {
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    field('Email', { name: 'email', type: 'email', autocomplete: 'username', required: true }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    err,
    h('button', { type: 'submit' }, 'Sign in'),
    h('p', { class: 'muted' }, 'No account? ', h('a', { href: '/register', 'data-link': true }, 'Register')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const f = new FormData(form);
    try {
      signedIn(await api('POST', '/auth/login', { email: f.get('email'), password: f.get('password') }));
      go('/');
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  view('Sign in', form);
}

function registerView() {
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'reg-title' },
    h('h1', { id: 'reg-title' }, 'Create an account'),
    field('Name', { name: 'display_name', required: true, maxlength: 100 }),
    field('Email', { name: 'email', type: 'email', autocomplete: 'username', required: true }),
    field('Password (10 characters or more)', { name: 'password', type: 'password',
                                                autocomplete: 'new-password', required: true, minlength: 10 }),
    err,
    h('button', { type: 'submit' }, 'Register'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const f = new FormData(form);
    const body = { email: f.get('email'), password: f.get('password'), display_name: f.get('display_name') };
    try {
      const r = await api('POST', '/auth/register', body);
      if (r.user.status === 'pending') {
        view('Awaiting approval', h('div', { class: 'card', id: 'pending' },
          h('h1', {}, 'Thanks for registering'),
          h('p', {}, 'Your account awaits approval by an admin. You can sign in once it is approved.')));
        return;
      }
      signedIn(await api('POST', '/auth/login', { email: body.email, password: body.password }));
      go('/');
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  view('Register', form);
}

// --- the asset grid -------------------------------------------------------

async function posterUrl(asset) {
  const v = asset.latest_version;
  if (!v || v.preview.status !== 'ready') return null;
  const r = await api('POST', '/api/sign-preview', { asset_id: asset.id, version_id: v.id, ttl_sec: 3600 });
  return r.url.replace(/index\.m3u8$/, 'poster.jpg');
}

function tile(asset) {
  const status = asset.latest_version ? asset.latest_version.preview.status : 'none';
  const thumb = h('div', { class: 'thumb' }, status === 'ready' ? '' : (status === 'none' ? 'No version yet' : `Preview ${status}`));
  posterUrl(asset).then((url) => {
    if (url) thumb.replaceChildren(h('img', { src: url, alt: `Poster of ${asset.title}`, loading: 'lazy' }));
  }).catch(() => {});
  return h('a', { class: 'tile', href: `/assets/${asset.id}`, 'data-link': true, dataset: { id: asset.id } },
    thumb,
    h('div', { class: 'meta' }, h('strong', {}, asset.title),
      h('span', { class: `badge ${status}` }, status), ' ',
      h('span', { class: 'muted' }, asset.owner.display_name)));
}

function gridView() {
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search titles and descriptions',
                              'aria-label': 'Search assets' });
  const grid = h('div', { class: 'grid', id: 'grid', 'aria-live': 'polite' });
  const state = h('p', { class: 'muted', id: 'grid-state' });
  const sentinel = h('div', { class: 'sentinel' });
  let cursor = null, done = false, loading = false, gen = 0;

  async function load(reset) {
    if (loading && !reset) return;
    if (reset) { gen++; cursor = null; done = false; grid.replaceChildren(); }
    if (done) return;
    const mine = gen;
    loading = true;
    state.textContent = 'Loading…';
    const q = new URLSearchParams({ limit: '24' });
    if (search.value.trim()) q.set('q', search.value.trim());
    if (cursor) q.set('cursor', cursor);
    try {
      const r = await api('GET', `/api/assets?${q}`);
      if (mine !== gen) return;
      grid.append(...r.items.map(tile));
      cursor = r.next_cursor;
      done = !cursor;
      state.textContent = grid.children.length === 0
        ? (search.value.trim() ? 'No asset matches your search.' : 'No assets yet. Upload one to get started.')
        : '';
    } catch (e) {
      if (mine !== gen) return;
      loading = false;
      // no automatic retry: the person decides
      state.replaceChildren(h('span', { class: 'error' }, e.message), ' ',
                            h('button', { class: 'ghost', onclick: () => load(false) }, 'Retry'));
      return;
    }
    loading = false;
    // keep loading while the sentinel is still on screen
    if (!done && sentinel.getBoundingClientRect().top < innerHeight + 200) load(false);
  }

  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { loading = false; load(true); }, 250);
  });
  const io = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) load(false); },
                                      { rootMargin: '200px' });
  io.observe(sentinel);
  cleanup.push(() => io.disconnect());

  view('Assets', h('div', { class: 'row' }, h('h1', {}, 'Assets'),
                   isEditor() ? h('a', { class: 'button', href: '/upload', 'data-link': true, style: 'margin-left:auto' }, 'Upload') : null),
       search, grid, state, sentinel);
  load(true);
}

// --- upload -------------------------------------------------------------------

function putFile(url, file, headers, onprogress) {
  return new Promise((resolve, reject) => {
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
    xhr.send(file);
  });
}

// Large files go in resumable pieces: tus on local storage (tus-js-client),
// presigned parts on S3.  The presign answer is kept in localStorage under
// the file's name, size and date, so choosing the same file again after a
// reload or a failure continues where the server says it stopped.
const RESUMABLE_FROM = 32 * 1024 * 1024;
const TUS_CHUNK = 8 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uploadKey = (f) => `mam-upload:${f.name}:${f.size}:${f.lastModified}`;

function savedUpload(file) {
  try {
    const p = JSON.parse(localStorage.getItem(uploadKey(file)));
    if (p && Date.parse(p.expires_at) > Date.now() + 60000) return p;
  } catch (e) { /* nothing usable */ }
  localStorage.removeItem(uploadKey(file));
  return null;
}

function tusUpload(p, file, onprogress) {
  return new Promise((resolve, reject) => {
    new tus.Upload(file, {
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
    }).start();
  });
}

async function putWithRetry(url, blob, onprogress) {
  for (let i = 0; ; i++) {
    try {
      return await putFile(url, blob, {}, onprogress);
    } catch (e) {
      if (e.status !== 0 || i + 1 >= RETRY_DELAYS.length) throw e;
      await sleep(RETRY_DELAYS[i + 1]);
    }
  }
}

async function partsUpload(p, file, onprogress) {
  // each answer names what S3 holds and URLs for (up to 100 of) the rest
  for (;;) {
    const state = await api('GET', `/api/uploads/${p.upload_id}/parts`);
    if (!state.parts.length) break;
    let sent = state.uploaded.reduce((n, part) => n + part.size, 0);
    onprogress(sent / file.size);
    for (const part of state.parts) {
      const start = (part.part_number - 1) * state.part_size;
      const blob = file.slice(start, Math.min(start + state.part_size, file.size));
      await putWithRetry(part.url, blob, (f) => onprogress((sent + f * blob.size) / file.size));
      sent += blob.size;
    }
  }
  await api('POST', `/api/uploads/${p.upload_id}/complete`, {});
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

async function uploadOne(file, li) {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': `Upload progress of ${file.name}` });
  const status = h('span', { class: 'muted' }, 'Preparing…');
  li.replaceChildren(h('strong', {}, file.name), ' ', status, bar);
  const progress = (f) => { bar.value = f; status.textContent = `${Math.round(f * 100)} %`; };
  try {
    const p = await presignFor(file);
    status.textContent = 'Uploading…';
    if (p.method === 'tus') await tusUpload(p, file, progress);
    else if (p.method === 's3-multipart') await partsUpload(p, file, progress);
    else await putFile(p.upload_url, file, p.headers, progress);
    localStorage.removeItem(uploadKey(file));
    status.textContent = 'Creating the asset…';
    const title = file.name.replace(/\.[^.]+$/, '') || file.name;
    const { asset } = await api('POST', '/api/assets', { title, staging_key: p.staging_key });
    await api('POST', '/api/promote', { asset_id: asset.id });
    bar.value = 1;
    status.replaceChildren('Uploaded: ', h('a', { href: `/assets/${asset.id}`, 'data-link': true, class: 'open' }, 'open'));
    li.classList.add('done');
  } catch (e) {
    // an upload the server no longer continues is started afresh on retry
    if ([403, 404, 409, 410].includes(e.status)) localStorage.removeItem(uploadKey(file));
    status.replaceChildren(h('span', { class: 'error' }, e.message), ' ',
                           h('button', { class: 'ghost retry', type: 'button', onclick: () => uploadOne(file, li) }, 'Retry'));
    li.classList.add('failed');
  }
}

function uploadView() {
  const list = h('ul', { class: 'uploads', id: 'uploads' });
  const input = h('input', { type: 'file', id: 'file', multiple: true, accept: 'video/*,audio/*',
                             'aria-label': 'Choose files to upload' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop video or audio files here, or'),
    h('label', { for: 'file', class: 'button', style: 'display:inline-block' }, 'Choose files'),
    input);
  input.style.display = 'none';
  const start = (files) => [...files].forEach((f) => { const li = h('li'); list.append(li); uploadOne(f, li); });
  input.addEventListener('change', () => start(input.files));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); start(e.dataTransfer.files); });
  view('Upload', h('h1', {}, 'Upload'), drop, list);
}

// --- the asset page ------------------------------------------------------------

async function assetView(id) {
  view('Asset', h('p', { class: 'muted' }, 'Loading…'));
  let data;
  try {
    data = await api('GET', `/api/assets/${id}`);
  } catch (e) {
    return view('Asset', h('p', { class: 'error' }, e.message));
  }
  const { asset, versions } = data;
  const latest = versions[0];
  const fps = latest && latest.metadata.frame_rate ? latest.metadata.frame_rate : 25;

  const stage = h('div', { id: 'stage' });
  const commentsBox = h('section', { class: 'card', 'aria-labelledby': 'c-title' });
  const side = h('div', {}, commentsBox);
  const meta = h('section', { class: 'card', id: 'metadata', 'aria-labelledby': 'm-title' });
  const vers = h('section', { class: 'card', id: 'versions', 'aria-labelledby': 'v-title' });
  function renderVersions(list) {
    vers.replaceChildren(h('h2', { id: 'v-title' }, 'Versions'),
      list.length ? h('ul', {}, list.map((v) => h('li', {}, `v${v.number} · `,
        h('span', { class: `badge ${v.preview.status}` }, v.preview.status),
        ` · ${new Date(v.created_at).toLocaleString()}`)))
        : h('p', { class: 'muted' }, 'No version yet.'));
  }
  renderVersions(versions);

  function renderMeta(m) {
    const rows = [['Duration', formatDuration(m.duration_sec)],
                  ['Resolution', m.width ? `${m.width}×${m.height}` : '–'],
                  ['Video codec', m.video_codec || '–'], ['Audio codec', m.audio_codec || '–'],
                  ['Frame rate', m.frame_rate || '–'], ['Encoder', m.encoder || '–']];
    meta.replaceChildren(h('h2', { id: 'm-title' }, 'Metadata'),
      h('dl', { class: 'metadata' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  }
  renderMeta(latest ? latest.metadata : {});

  view(asset.title, h('h1', {}, asset.title), h('p', { class: 'muted' }, asset.description || ''),
       h('div', { class: 'layout' }, h('div', {}, stage, vers, meta), side));

  const player = { video: null };
  const comments = setupComments(asset, latest, fps, commentsBox, player);

  if (!latest) {
    stage.replaceChildren(h('p', { class: 'muted' }, 'No version yet.'));
    return;
  }

  // live status over Server-Sent Events, then the player without a reload
  const bar = h('progress', { max: 1, value: 0, id: 'preview-progress', 'aria-label': 'Preview progress' });
  const label = h('p', { id: 'preview-status' }, 'Preparing the preview…');
  let playing = false;
  let es = null;
  let stopped = false;
  let retry = 1000;
  const stop = () => { stopped = true; if (es) es.close(); };
  const showStatus = async (st) => {
    if (playing) return;
    if (st.status === 'ready') {
      playing = true;
      stop();
      const fresh = await api('GET', `/api/assets/${id}`);
      renderMeta(fresh.versions[0].metadata);
      renderVersions(fresh.versions);
      startPlayer(asset, latest, stage, player, comments);
    } else if (st.status === 'failed') {
      stage.replaceChildren(h('p', { class: 'error' }, `The preview failed: ${st.error || 'unknown error'}`));
    } else {
      bar.value = st.progress || 0;
      label.textContent = st.status === 'queued' ? 'Waiting for a transcoder…'
        : `Transcoding… ${Math.round((st.progress || 0) * 100)} %`;
      if (!stage.contains(bar)) stage.replaceChildren(label, bar);
    }
  };
  // never a token in the URL: a single-use ticket for each (re)connection;
  // the server ends the stream when the token expires or access changes
  const again = () => {
    if (stopped) return;
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  };
  const connect = async () => {
    if (stopped) return;
    let t;
    try {
      t = await api('POST', '/api/preview/events/ticket', {});
    } catch (e) {
      again();
      return;
    }
    if (stopped) return;
    es = new EventSource(`/api/preview/events?asset_id=${id}&ticket=${encodeURIComponent(t.ticket)}`);
    es.addEventListener('open', () => { retry = 1000; });
    es.addEventListener('status', (e) => {
      const st = JSON.parse(e.data);
      if (st.version_id === latest.id) showStatus(st);
    });
    es.addEventListener('error', () => {
      es.close();
      again();
    });
  };
  connect();
  cleanup.push(stop);
}

function startPlayer(asset, version, stage, player, comments) {
  const video = h('video', { id: 'video', controls: true, playsinline: true, 'aria-label': `Player: ${asset.title}` });
  const quality = h('select', { id: 'quality', 'aria-label': 'Quality' }, h('option', { value: '-1' }, 'Auto'));
  const timeline = h('div', { class: 'timeline', id: 'timeline', role: 'slider', tabindex: 0,
                              'aria-label': 'Timeline with comment markers', 'aria-valuemin': 0 });
  const played = h('div', { class: 'played' });
  timeline.append(played);
  stage.replaceChildren(h('div', { class: 'player' }, video), timeline,
    h('div', { class: 'row' }, h('label', { for: 'quality', style: 'margin:0' }, 'Quality'), quality,
      h('span', { class: 'muted' }, 'Space: play/pause · ←/→: 5 s · F: fullscreen')));
  player.video = video;
  player.timeline = timeline;

  // the signature covers the whole folder: every request goes through the
  // newest signed prefix, which is renewed well before it expires
  let prefix = null;
  const sign = async () => {
    const r = await api('POST', '/api/sign-preview', { asset_id: asset.id, version_id: version.id, ttl_sec: 900 });
    prefix = r.url.replace(/index\.m3u8$/, '');
    return r.url;
  };
  // every 10 minutes (the URL lives 15); mam-renew-ms in localStorage
  // shortens it to watch the renewal work
  const every = Number(localStorage.getItem('mam-renew-ms')) || 600 * 1000;
  const renew = setInterval(() => sign().catch(() => {}), every);
  const rewrite = (url) => {
    const m = url.match(/\/s\/\d+\/[A-Za-z0-9_-]{43}\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/(.*)$/);
    return m && prefix ? prefix + m[1] : url;
  };

  sign().then((url) => {
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ xhrSetup: (xhr, url) => xhr.open('GET', rewrite(url), true) });
      player.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
        d.levels.forEach((l, i) => quality.append(h('option', { value: String(i) }, l.height ? `${l.height}p` : `Level ${i + 1}`)));
        stage.dataset.ready = '1';
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      quality.addEventListener('change', () => { hls.currentLevel = Number(quality.value); });
      cleanup.push(() => hls.destroy());
    } else {
      video.src = url;
      stage.dataset.ready = '1';
    }
  }).catch((e) => stage.replaceChildren(h('p', { class: 'error' }, e.message)));
  cleanup.push(() => clearInterval(renew));

  video.addEventListener('timeupdate', () => {
    if (video.duration) played.style.width = `${(video.currentTime / video.duration) * 100}%`;
  });
  video.addEventListener('loadedmetadata', () => comments.markers());
  timeline.addEventListener('click', (e) => {
    const r = timeline.getBoundingClientRect();
    if (video.duration) video.currentTime = ((e.clientX - r.left) / r.width) * video.duration;
  });

  const keys = (e) => {
    if (e.target.closest('input, textarea, select')) return;
    if (e.key === ' ') { e.preventDefault(); video.paused ? video.play() : video.pause(); }
    else if (e.key === 'ArrowRight') { video.currentTime = Math.min(video.duration || 0, video.currentTime + 5); }
    else if (e.key === 'ArrowLeft') { video.currentTime = Math.max(0, video.currentTime - 5); }
    else if (e.key === 'f' || e.key === 'F') {
      document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen().catch(() => {});
    }
  };
  document.addEventListener('keydown', keys);
  cleanup.push(() => document.removeEventListener('keydown', keys));
}

function setupComments(asset, version, fps, box, player) {
  const list = h('ul', { class: 'comments', id: 'comments' });
  const text = h('textarea', { id: 'comment-text', rows: 2, maxlength: 4000, 'aria-label': 'Comment' });
  const at = h('span', { class: 'muted', id: 'comment-at' }, timecode(0, fps));
  const err = h('p', { class: 'error', role: 'alert' });
  let items = [];

  const markers = () => {
    const tl = player.timeline, v = player.video;
    if (!tl || !v || !v.duration) return;
    tl.querySelectorAll('.marker').forEach((m) => m.remove());
    for (const c of items) {
      tl.append(h('div', { class: 'marker', title: `${timecode(c.timestamp_sec, fps)} ${c.content}`,
                           style: `left:${Math.min(100, (c.timestamp_sec / v.duration) * 100)}%` }));
    }
  };

  const render = () => {
    list.replaceChildren(...items.map((c) => h('li', { dataset: { id: c.id } },
      h('button', { class: 'tc', type: 'button', 'aria-label': `Seek to ${timecode(c.timestamp_sec, fps)}`,
                    onclick: () => { if (player.video) { player.video.currentTime = c.timestamp_sec; } } },
        timecode(c.timestamp_sec, fps)),
      ' ', h('strong', {}, c.user.display_name), h('div', {}, c.content),
      (c.user.id === auth.user.id || isAdmin())
        ? h('button', { class: 'ghost delete', type: 'button', 'aria-label': 'Delete comment',
                        onclick: async () => {
                          try { await api('DELETE', `/api/comments/${c.id}`); await load(); }
                          catch (e) { toast(e.message, true); }
                        } }, 'Delete') : null)));
    if (!items.length) list.append(h('li', { class: 'muted' }, 'No comments yet.'));
    markers();
  };

  // every page (100 a page, next_cursor followed; at most 50 pages), the
  // newest load winning when a post or delete starts another one
  let gen = 0;
  const load = async () => {
    const mine = ++gen;
    try {
      const all = [];
      let cursor = null, pages = 0;
      do {
        const q = new URLSearchParams({ limit: '100' });
        if (cursor) q.set('cursor', cursor);
        const r = await api('GET', `/api/assets/${asset.id}/comments?${q}`);
        if (mine !== gen) return;
        all.push(...r.items);
        cursor = r.next_cursor;
      } while (cursor && ++pages < 50);
      items = all;
      render();
    } catch (e) { if (mine === gen) err.textContent = e.message; }
  };

  const form = h('form', {},
    h('div', { class: 'row' }, 'At ', at),
    text, err, h('button', { type: 'submit' }, 'Comment'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const t = player.video ? player.video.currentTime : 0;
    try {
      await api('POST', `/api/assets/${asset.id}/comments`,
                { timestamp_sec: Math.round(t * 1000) / 1000, content: text.value,
                  version_id: version ? version.id : undefined });
      text.value = '';
      await load();
    } catch (ex) { err.textContent = ex.message; }
  });
  const tick = setInterval(() => { if (player.video) at.textContent = timecode(player.video.currentTime, fps); }, 100);
  cleanup.push(() => clearInterval(tick));

  box.replaceChildren(h('h2', { id: 'c-title' }, 'Comments'), list, form);
  load();
  return { markers };
}

// --- admin ------------------------------------------------------------------

async function adminView() {
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

// --- start ---------------------------------------------------------------------

renderNav();
refresh().then(route);
