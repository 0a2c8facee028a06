// The asset page: the player (or the preview's progress), versions (a
// download button each where the project allows it), metadata, custom
// fields and tags (assetmeta.js), time-coded comments, and the owner's or
// an admin's actions (edit the title and description, delete, retry a
// failed preview).  Live
// over the asset's event stream: the preview's status, comments made by
// others, and a new version, which is announced.

import { api, auth, isAdmin, mayModify } from '../api.js';
import { confirmDialog, formatDuration, h, parseTimecode, timecode, timecodeLabel, toast, view } from '../dom.js';
import { liveEvents } from '../events.js';
import { myProjects } from '../metadata.js';
import { startPlayer } from '../player.js';
import { go, onLeave, route } from '../router.js';
import { downloadButton, metaSection } from './assetmeta.js';

// clock.fps: the version's frame rate once known (0: timecodes in ms)
function setupComments(asset, version, clock, box, player) {
  const list = h('ul', { class: 'comments', id: 'comments' });
  const text = h('textarea', { id: 'comment-text', rows: 2, maxlength: 4000, 'aria-label': 'Comment' });
  // the comment's time: the playhead's until the person starts writing
  // (focus or first key in the box), then held, shown and editable
  const format = h('span', { class: 'muted', id: 'tc-format' });
  const at = h('input', { id: 'comment-at', class: 'tc-input', inputmode: 'decimal', autocomplete: 'off',
                          'aria-describedby': 'tc-format', value: timecode(0, clock.fps) });
  const now = h('button', { type: 'button', class: 'ghost', id: 'comment-now' }, 'Use the playhead');
  const err = h('p', { class: 'error', role: 'alert' });
  let items = [];
  let held = false, edited = false;
  const playhead = () => (player.video ? player.video.currentTime : 0);
  const hold = () => {
    if (held) return;
    held = true;
    at.value = timecode(playhead(), clock.fps);
  };
  const release = () => { held = false; edited = false; };

  const markers = () => {
    const tl = player.timeline, v = player.video;
    if (!tl || !v || !v.duration) return;
    tl.querySelectorAll('.marker').forEach((m) => m.remove());
    for (const c of items) {
      tl.append(h('div', { class: 'marker', title: `${timecode(c.timestamp_sec, clock.fps)} ${c.content}`,
                           style: `left:${Math.min(100, (c.timestamp_sec / v.duration) * 100)}%` }));
    }
  };

  const render = () => {
    list.replaceChildren(...items.map((c) => h('li', { dataset: { id: c.id } },
      h('button', { class: 'tc', type: 'button', 'aria-label': `Seek to ${timecode(c.timestamp_sec, clock.fps)}`,
                    onclick: () => { if (player.video) { player.video.currentTime = c.timestamp_sec; } } },
        timecode(c.timestamp_sec, clock.fps)),
      ' ', h('strong', {}, c.user.display_name), h('div', {}, c.content),
      (c.user.id === auth.user.id || isAdmin())
        ? h('button', { class: 'ghost delete', type: 'button', 'aria-label': 'Delete comment',
                        onclick: async () => {
                          const short = c.content.length > 60 ? `${c.content.slice(0, 60)}…` : c.content;
                          if (!await confirmDialog(`Delete the comment “${short}”?`, 'Delete comment')) return;
                          try { await api('DELETE', `/api/comments/${c.id}`); toast('Comment deleted'); await load(); }
                          catch (e) { toast(e.message, true); }
                        } }, 'Delete') : null)));
    if (!items.length) list.append(h('li', { class: 'muted' }, 'No comments yet.'));
    markers();
  };

  // every page (100 a page, next_cursor followed; at most 50 pages), the
  // newest load winning when a post, a delete or an event starts another
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

  const form = h('form', { id: 'comment-form' },
    h('div', { class: 'row at' }, h('label', { for: 'comment-at' }, 'At'), at, now, format),
    text, err, h('button', { type: 'submit' }, 'Comment'));
  text.addEventListener('focus', hold);
  text.addEventListener('keydown', hold);
  // passing through the box (Tab) with nothing written holds nothing
  text.addEventListener('blur', () => { if (!text.value && !edited) release(); });
  at.addEventListener('input', () => { held = true; edited = true; });
  now.addEventListener('click', () => { held = true; at.value = timecode(playhead(), clock.fps); text.focus(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const t = held ? parseTimecode(at.value, clock.fps) : playhead();
    if (t === null) {
      err.textContent = `The time must read ${clock.fps > 0 ? 'hh:mm:ss:ff' : 'hh:mm:ss.mmm'}, like ${timecode(0, clock.fps)}.`;
      at.focus();
      return;
    }
    try {
      await api('POST', `/api/assets/${asset.id}/comments`,
                { timestamp_sec: Math.round(t * 1000) / 1000, content: text.value,
                  version_id: version ? version.id : undefined });
      text.value = '';
      release();
      await load();
    } catch (ex) { err.textContent = ex.message; }
  });
  const shown = () => {
    format.textContent = `(${timecodeLabel(clock.fps)})`;
    if (!held && document.activeElement !== at) at.value = timecode(playhead(), clock.fps);
  };
  shown();
  const tick = setInterval(shown, 100);
  onLeave(() => clearInterval(tick));

  box.replaceChildren(h('h2', { id: 'c-title' }, 'Comments'), list, form);
  load();
  // a comment event (anyone's): the list read again, at most every 200 ms
  let soon = null;
  const changed = () => {
    clearTimeout(soon);
    soon = setTimeout(load, 200);
  };
  onLeave(() => clearTimeout(soon));
  return { markers, changed };
}

// the owner's or an admin's: edit title and description, delete
function actions(asset, heading, desc) {
  if (!mayModify(asset)) return null;
  const bar = h('div', { class: 'row actions', id: 'asset-actions' });
  const edit = h('button', { type: 'button', class: 'ghost', id: 'edit-asset' }, 'Edit title and description');
  const del = h('button', { type: 'button', class: 'danger', id: 'delete-asset' }, 'Delete asset');
  bar.append(edit, del);

  edit.addEventListener('click', () => {
    const err = h('p', { class: 'error', role: 'alert' });
    const title = h('input', { id: 'f-title', name: 'title', required: true, maxlength: 200, value: asset.title });
    const description = h('textarea', { id: 'f-description', name: 'description', rows: 3, maxlength: 4000 });
    description.value = asset.description || '';
    const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
    const form = h('form', { class: 'card', id: 'edit-form', 'aria-label': 'Edit the asset' },
      h('label', { for: 'f-title' }, 'Title'), title,
      h('label', { for: 'f-description' }, 'Description'), description, err,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), cancel));
    const close = () => { form.remove(); bar.hidden = false; edit.focus(); };
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        const r = await api('PATCH', `/api/assets/${asset.id}`,
                            { title: title.value.trim(), description: description.value.trim() });
        Object.assign(asset, r.asset);
        heading.textContent = asset.title;
        desc.textContent = asset.description || '';
        document.title = `${asset.title} · MAM`;
        toast('Saved');
        close();
      } catch (ex) { err.textContent = ex.message; }
    });
    bar.hidden = true;
    bar.after(form);
    title.focus();
  });

  del.addEventListener('click', async () => {
    if (!await confirmDialog(`Delete “${asset.title}”? Its previews are removed; it leaves every list.`, 'Delete')) return;
    try {
      await api('DELETE', `/api/assets/${asset.id}`);
      toast(`Deleted ${asset.title}`);
      go('/');
    } catch (e) { toast(e.message, true); }
  });
  return bar;
}

export async function assetView(id) {
  view('Asset', h('p', { class: 'muted' }, 'Loading…'));
  // the caller's projects (role, downloads), asked beside the asset
  const projects = myProjects().catch(() => []);
  let data;
  try {
    data = await api('GET', `/api/assets/${id}`);
  } catch (e) {
    return view('Asset', h('p', { class: 'error' }, e.message));
  }
  // left (Back) while it loaded: the page now shown is another's
  if (location.pathname !== `/assets/${id}`) return;
  const { asset, versions } = data;
  const project = (await projects).find((p) => p.id === asset.project_id) || null;
  asset.fields = asset.fields || {};
  const latest = versions[0];
  const clock = { fps: latest && latest.metadata.frame_rate ? latest.metadata.frame_rate : 0 };

  const stage = h('div', { id: 'stage' });
  const commentsBox = h('section', { class: 'card', 'aria-labelledby': 'c-title' });
  const side = h('div', {}, commentsBox);
  const meta = h('section', { class: 'card', id: 'metadata', 'aria-labelledby': 'm-title' });
  const vers = h('section', { class: 'card', id: 'versions', 'aria-labelledby': 'v-title' });
  const news = h('div', { id: 'news', role: 'status' });
  function renderVersions(list) {
    vers.replaceChildren(h('h2', { id: 'v-title' }, 'Versions'),
      list.length ? h('ul', {}, list.map((v) => h('li', {}, `v${v.number} · `,
        h('span', { class: `badge ${v.preview.status}` }, v.preview.status),
        ` · ${new Date(v.created_at).toLocaleString()} `, downloadButton(v, project))))
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

  const heading = h('h1', {}, asset.title);
  const desc = h('p', { class: 'muted', id: 'asset-description' }, asset.description || '');
  const fieldsBox = h('div', { id: 'asset-fields-slot' });
  view(asset.title, heading, desc, actions(asset, heading, desc), news,
       h('div', { class: 'layout' }, h('div', {}, stage, vers, meta, fieldsBox), side));
  metaSection(asset, project).then((box) => fieldsBox.replaceChildren(box));

  const player = { video: null };
  const comments = setupComments(asset, latest, clock, commentsBox, player);
  const known = new Set(versions.map((v) => v.id));

  // a version added while the page is open is announced, not swapped in
  let announcing = false;
  const announce = async (versionId) => {
    if (announcing) return;
    announcing = true;
    let number = '';
    try {
      const fresh = await api('GET', `/api/assets/${id}`);
      const v = fresh.versions.find((x) => x.id === versionId);
      if (v) number = ` (v${v.number})`;
      renderVersions(fresh.versions);
    } catch (e) { /* the announcement still stands */ }
    news.replaceChildren(h('div', { class: 'card notice', id: 'new-version' },
      `A new version${number} of this asset was added. `,
      h('button', { type: 'button', onclick: () => route() }, 'Show the new version')));
  };

  // the preview's status, then the player without a reload
  const bar = h('progress', { max: 1, value: 0, id: 'preview-progress', 'aria-label': 'Preview progress' });
  const label = h('p', { id: 'preview-status' }, 'Preparing the preview…');
  let playing = false;
  const retry = () => h('button', { type: 'button', id: 'retry-preview', onclick: async (e) => {
    e.target.disabled = true;
    try {
      showStatus(await api('POST', '/api/preview', { version_id: latest.id }));
    } catch (ex) { toast(ex.message, true); e.target.disabled = false; }
  } }, 'Retry the preview');
  const showStatus = async (st) => {
    if (playing) return;
    if (st.status === 'ready') {
      playing = true;
      const fresh = await api('GET', `/api/assets/${id}`);
      const v = fresh.versions.find((x) => x.id === latest.id) || fresh.versions[0];
      renderMeta(v.metadata);
      renderVersions(fresh.versions);
      clock.fps = v.metadata.frame_rate || 0;
      // no video renditions: an audio-only source
      const audioOnly = !v.metadata.video_codec && !((v.preview.renditions || st.renditions || []).length);
      startPlayer(asset, latest, stage, player, comments, { fps: clock.fps, audioOnly });
      comments.changed();
    } else if (st.status === 'failed') {
      stage.replaceChildren(h('div', { id: 'preview-failed' },
        h('p', { class: 'error' }, `The preview failed: ${st.error || 'unknown error'}`),
        mayModify(asset) ? retry() : null));
    } else {
      bar.value = st.progress || 0;
      label.textContent = st.status === 'queued' ? 'Waiting for a transcoder…'
        : `Transcoding… ${Math.round((st.progress || 0) * 100)} %`;
      if (!stage.contains(bar)) stage.replaceChildren(label, bar);
    }
  };

  if (!latest) stage.replaceChildren(h('p', { class: 'muted' }, 'No version yet.'));

  // one stream for the page: status, comments, new versions
  liveEvents(id, {
    status: (st) => {
      if (!st.version_id) return;
      if (!known.has(st.version_id)) {
        known.add(st.version_id);
        announce(st.version_id);
      } else if (latest && st.version_id === latest.id) {
        showStatus(st);
      }
    },
    comment: () => comments.changed(),
    reconnected: () => comments.changed(),
  });
  onLeave(() => { playing = true; });
}
