// The asset page: the player (or the preview's progress) of the version on
// screen, a version switcher (?version=N in the URL), versions (a download
// button each where the project allows it), metadata, custom fields and
// tags (assetmeta.js), time-coded comments (of the version on screen, or
// of every version) as threads with replies, edits, resolve and reopen and
// the open/resolved/mine filters, each version's approval (review.js,
// issue 21), and the owner's or an admin's actions (edit the
// title and description, upload a new version, delete, retry a failed
// preview).  Live over the asset's event stream: the preview's status,
// comments made by others, and a new version, which is announced.

import { api, auth, isAdmin, mayModify } from '../api.js';
import { confirmDialog, exactRate, formatDuration, frameOf, frameTimecode, h, parseTimecode, timecode, timecodeLabel,
         toast, view } from '../dom.js';
import { liveEvents } from '../events.js';
import { attachMentions } from '../mentions.js';
import { myProjects } from '../metadata.js';
import { shareButton } from './shares.js';
import { startPlayer } from '../player.js';
import { addUploads } from '../uploads.js';
import { go, onLeave, stillShown } from '../router.js';
import { downloadButton, metaSection } from './assetmeta.js';
import { compareLink } from './compare.js';
import { approvalBadge, approvalBox, inlineForm, mayResolve, threadsOf } from './review.js';

// a comment's timecode: its frame where it has one (exact), else its seconds
const commentTimecode = (c, fps) => (c.frame !== null && c.frame !== undefined && fps > 0
  ? frameTimecode(c.frame, fps) : timecode(c.timestamp_sec, fps));

// clock.fps: the frame rate of the version on screen once known (0:
// timecodes in ms); current(): that version; rateOf(versionId): a
// version's rate (a comment's timecode is at its own version's rate);
// seekTo(comment): a click on a comment (its version shown first when
// another is on screen)
function setupComments(asset, current, clock, box, player, seekTo, rateOf, project) {
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
  // a notification's link (?comment=): that comment sought and shown, once
  let wanted = new URLSearchParams(location.search).get('comment');
  const playhead = () => (player.video ? player.video.currentTime : 0);
  const hold = () => {
    if (held) return;
    held = true;
    at.value = timecode(playhead(), clock.fps);
  };
  const release = () => { held = false; edited = false; };

  // the version on screen's comments, or (the switch) every version's
  const all = h('input', { type: 'checkbox', id: 'comments-all' });
  const allRow = h('label', { class: 'row check', for: 'comments-all' }, all, 'Show all versions\' comments');
  // the server's filters (issue 21): open or resolved threads, mine
  const status = h('select', { id: 'comments-status', 'aria-label': 'Threads shown' },
    h('option', { value: '' }, 'All threads'), h('option', { value: 'open' }, 'Open'),
    h('option', { value: 'resolved' }, 'Resolved'));
  const mineBox = h('input', { type: 'checkbox', id: 'comments-mine' });
  const filterRow = h('div', { class: 'row comment-filters' }, status,
    h('label', { class: 'row check', for: 'comments-mine' }, mineBox, 'Mine'));
  const shownItems = () => {
    const v = current();
    const threads = threadsOf(items);
    return all.checked || !v ? threads : threads.filter((c) => c.version_id === v.id);
  };
  // an inline form (a reply, an edit) open: the list is not redrawn under
  // it; it is once the form closes
  let open = null;

  // the timeline is the version on screen's: its comments only, a range
  // comment's as a bar over its span (issue 21); their drawings go to the
  // player, which shows each on its frame
  const markers = () => {
    const tl = player.timeline, v = player.video, on = current();
    const mine = items.filter((x) => !x.parent_id && (!on || x.version_id === on.id));
    if (player.drawing) player.drawing.comments(mine);
    if (!tl || !v || !v.duration) return;
    tl.querySelectorAll('.marker, .range-bar').forEach((m) => m.remove());
    const pc = (t) => Math.min(100, (t / v.duration) * 100);
    for (const c of mine) {
      const title = `${commentTimecode(c, clock.fps)} ${c.content}`;
      if (c.duration_sec !== null && c.duration_sec !== undefined) {
        tl.append(h('div', { class: 'range-bar', title, dataset: { id: c.id },
                             style: `left:${pc(c.timestamp_sec)}%;width:${pc(c.duration_sec)}%` }));
      }
      tl.append(h('div', { class: 'marker', title, dataset: { id: c.id }, style: `left:${pc(c.timestamp_sec)}%` }));
    }
  };

  const remove = async (c) => {
    const short = c.content.length > 60 ? `${c.content.slice(0, 60)}…` : c.content;
    const what = c.reply_count ? ` and its ${c.reply_count} ${c.reply_count === 1 ? 'reply' : 'replies'}` : '';
    if (!await confirmDialog(`Delete the comment “${short}”${what}?`, 'Delete comment')) return;
    try { await api('DELETE', `/api/comments/${c.id}`); toast('Comment deleted'); await load(); }
    catch (e) { toast(e.message, true); }
  };
  // a form in place of (edit) or under (reply) a comment's text
  const inline = (slot, opts) => {
    open = opts.id;
    slot.replaceChildren(inlineForm({ ...opts, close: () => { open = null; render(); } }));
    attachMentions(slot.querySelector('textarea'), asset.project_id);
  };
  const body = (c) => {
    const slot = h('div', { class: 'comment-body' }, c.content,
      c.edited_at ? h('span', { class: 'muted edited', title: new Date(c.edited_at).toLocaleString() }, ' (edited)') : null);
    const tools = h('div', { class: 'row comment-tools' });
    const mineC = !!c.user && c.user.id === auth.user.id;
    if (mineC) {
      tools.append(h('button', { class: 'ghost edit', type: 'button', 'aria-label': 'Edit comment',
                                 onclick: () => inline(slot, { id: `edit-${c.id}`, label: 'Comment text', value: c.content,
                                                               submit: 'Save',
                                                               send: (t) => api('PATCH', `/api/comments/${c.id}`, { content: t })
                                                                 .then(() => load()) }) }, 'Edit'));
    }
    if (mineC || isAdmin()) {
      tools.append(h('button', { class: 'ghost delete', type: 'button', 'aria-label': 'Delete comment',
                                 onclick: () => remove(c) }, 'Delete'));
    }
    return [slot, tools];
  };
  const thread = (c, on, tc) => {
    const [slot, tools] = body(c);
    const replySlot = h('div', { class: 'reply-slot' });
    tools.prepend(h('button', { class: 'ghost reply', type: 'button', 'aria-label': 'Reply',
                                onclick: () => inline(replySlot, { id: `reply-${c.id}`, label: 'Your reply', submit: 'Reply',
                                                                   send: (t) => api('POST', `/api/assets/${asset.id}/comments`,
                                                                                    { parent_id: c.id, content: t })
                                                                     .then(() => load()) }) }, 'Reply'));
    if (mayResolve(c, asset, project)) {
      const act = c.resolved_at ? 'reopen' : 'resolve';
      tools.append(h('button', { class: `ghost ${act}`, type: 'button',
                                 onclick: async () => {
                                   try { await api('POST', `/api/comments/${c.id}/${act}`); await load(); }
                                   catch (e) { toast(e.message, true); }
                                 } }, c.resolved_at ? 'Reopen' : 'Resolve'));
    }
    const cls = [on && c.version_id !== on.id ? 'other-version' : '', c.resolved_at ? 'resolved' : ''].join(' ').trim();
    return h('li', { dataset: { id: c.id, frame: c.frame ?? '' }, class: cls || null },
      h('button', { class: 'tc', type: 'button', 'aria-label': `Seek to ${tc(c)}`
                      + (c.version_number ? ` of version ${c.version_number}` : ''),
                    onclick: (e) => {
                      list.querySelectorAll('li.selected').forEach((x) => x.classList.remove('selected'));
                      e.currentTarget.closest('li').classList.add('selected');
                      seekTo(c);
                    } },
        tc(c)),
      // a range's end (issue 21), at the same rate as its start
      c.duration_sec !== null && c.duration_sec !== undefined
        ? h('span', { class: 'tc-end muted' }, ` – ${commentTimecode({ frame: c.frame !== null && c.duration_frames !== null
                                                                              ? c.frame + c.duration_frames : null,
                                                                            timestamp_sec: c.timestamp_sec + c.duration_sec },
                                                                          c.version_id ? rateOf(c.version_id) : clock.fps)}`)
        : null,
      ' ', c.version_number ? h('span', { class: 'badge vnum', title: `Version ${c.version_number}` }, `v${c.version_number}`) : null,
      c.annotation ? h('span', { class: 'badge drawing', title: `${c.annotation.shapes.length} shape(s) drawn on the frame` },
                       'Drawing') : null,
      ' ', h('strong', {}, authorOf(c)),
      c.internal ? h('span', { class: 'badge internal', title: 'Members only: never shown to a review link\'s guests' },
                     'Internal') : null,
      c.resolved_at ? h('span', { class: 'badge resolved-badge',
                                  title: c.resolved_by ? `Resolved by ${c.resolved_by.display_name}` : 'Resolved' }, 'Resolved')
        : null,
      slot, tools,
      c.replies.length ? h('ul', { class: 'replies' }, c.replies.map((r) => {
        const [rs, rt] = body(r);
        return h('li', { dataset: { id: r.id } }, h('strong', {}, authorOf(r)), rs, rt);
      })) : null,
      replySlot);
  };

  const render = () => {
    if (open) return;
    const on = current();
    const tc = (c) => commentTimecode(c, c.version_id ? rateOf(c.version_id) : clock.fps);
    list.replaceChildren(...shownItems().map((c) => thread(c, on, tc)));
    if (!list.children.length) {
      const filtered = status.value || mineBox.checked;
      list.append(h('li', { class: 'muted' }, filtered ? 'No threads match.'
        : items.length ? 'No comments on this version yet.' : 'No comments yet.'));
    }
    markers();
  };
  all.addEventListener('change', render);

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
        if (status.value) q.set('status', status.value);
        if (mineBox.checked) q.set('mine', '1');
        const r = await api('GET', `/api/assets/${asset.id}/comments?${q}`);
        if (mine !== gen) return;
        all.push(...r.items);
        cursor = r.next_cursor;
      } while (cursor && ++pages < 50);
      items = all;
      render();
      if (wanted) focusWanted();
    } catch (e) { if (mine === gen) err.textContent = e.message; }
  };

  const focusWanted = () => {
    const c = items.find((x) => x.id === wanted);
    wanted = null;
    if (!c) return;
    seekTo(c);
    const li = list.querySelector(`li[data-id="${c.id}"]`);
    if (!li) return;
    li.classList.add('focused');
    li.scrollIntoView({ block: 'nearest' });
  };

  // what the player adds to the comment being written (issue 21): the
  // range marked (I/O), which sets its time, and the drawing's draft
  const rangeNote = h('p', { class: 'muted comment-extra', id: 'comment-range', hidden: true });
  const drawNote = h('p', { class: 'muted comment-extra', id: 'comment-drawing', hidden: true });
  const ranged = (r) => {
    at.readOnly = !!r;
    rangeNote.hidden = !r;
    // a range cleared with nothing written nor drawn holds no time
    if (!r) {
      if (!text.value && !(player.drawing && player.drawing.annotation())) release();
      return;
    }
    held = true;
    at.value = timecode(r.in, clock.fps);
    rangeNote.replaceChildren(`Range ${timecode(r.in, clock.fps)} – ${timecode(r.out, clock.fps)} `,
      h('button', { type: 'button', class: 'ghost', onclick: () => player.clearRange && player.clearRange() },
        'Clear range'));
  };
  const drawn = (n) => {
    drawNote.hidden = !n;
    if (!n) return;
    hold();
    drawNote.replaceChildren(`Drawing: ${n} ${n === 1 ? 'shape' : 'shapes'}, sent with this comment `,
      h('button', { type: 'button', class: 'ghost', onclick: () => player.drawing && player.drawing.clearDraft() },
        'Remove drawing'));
  };
  // members only: never shown to a review link's guests (issue 22)
  const internal = h('input', { type: 'checkbox', id: 'comment-internal' });
  const form = h('form', { id: 'comment-form' },
    h('div', { class: 'row at' }, h('label', { for: 'comment-at' }, 'At'), at, now, format),
    rangeNote, drawNote, text, err, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Comment'),
      h('label', { for: 'comment-internal', class: 'check' }, internal, ' Internal (members only)')));
  text.addEventListener('focus', hold);
  attachMentions(text, asset.project_id);
  text.addEventListener('keydown', hold);
  // passing through the box (Tab) with nothing written holds nothing
  text.addEventListener('blur', () => { if (!text.value && !edited) release(); });
  at.addEventListener('input', () => { held = true; edited = true; });
  now.addEventListener('click', () => { held = true; at.value = timecode(playhead(), clock.fps); text.focus(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const range = player.range ? player.range() : null;
    const t = range ? range.in : held ? parseTimecode(at.value, clock.fps) : playhead();
    if (t === null) {
      err.textContent = `The time must read ${clock.fps > 0 ? 'hh:mm:ss:ff' : 'hh:mm:ss.mmm'}, like ${timecode(0, clock.fps)}.`;
      at.focus();
      return;
    }
    const version = current();
    // the frame on screen, exact; the seconds to the millisecond
    const body = { timestamp_sec: Math.round(t * 1000) / 1000, content: text.value,
                   frame: clock.fps > 0 ? frameOf(t, clock.fps) : undefined,
                   version_id: version ? version.id : undefined,
                   annotation: player.drawing ? player.drawing.annotation() : undefined };
    if (range && range.out > range.in) {
      body.duration_sec = Math.round((range.out - range.in) * 1000) / 1000;
      if (clock.fps > 0) body.duration_frames = frameOf(range.out, clock.fps) - frameOf(range.in, clock.fps);
    }
    try {
      await api('POST', `/api/assets/${asset.id}/comments`, { ...body, internal: internal.checked });
      text.value = '';
      release();
      // the draft is gone: what shows from now on is the server's drawing
      if (player.drawing) { player.drawing.clearDraft(); player.drawing.off(); }
      if (player.clearRange) player.clearRange();
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

  status.addEventListener('change', () => load());
  mineBox.addEventListener('change', () => load());
  box.replaceChildren(h('h2', { id: 'c-title' }, 'Comments'), allRow, filterRow, list, form);
  load();
  // a comment event (anyone's): the list read again, at most every 200 ms
  let soon = null;
  const changed = () => {
    clearTimeout(soon);
    soon = setTimeout(load, 200);
  };
  onLeave(() => clearTimeout(soon));
  // another version on screen: its comments, its frame rate's timecodes
  const switched = () => { if (!held) at.value = timecode(playhead(), clock.fps); render(); };
  return { markers, changed, switched, ranged, drawn };
}

// the owner's or an admin's: edit title and description, delete
function actions(asset, heading, desc) {
  if (!mayModify(asset)) return null;
  const bar = h('div', { class: 'row actions', id: 'asset-actions' });
  const edit = h('button', { type: 'button', class: 'ghost', id: 'edit-asset' }, 'Edit title and description');
  const del = h('button', { type: 'button', class: 'danger', id: 'delete-asset' }, 'Delete asset');
  // a new version: the file goes through the upload tray (resumable from
  // 32 MiB, like any upload), then PATCH {staging_key} and promote; the
  // page announces the version when its preview is queued
  const file = h('input', { type: 'file', id: 'version-file', accept: 'video/*,audio/*', class: 'picker' });
  const upload = h('label', { for: 'version-file', class: 'button ghost', id: 'upload-version' }, 'Upload new version');
  file.addEventListener('change', () => {
    addUploads([...file.files], { asset_id: asset.id });
    file.value = '';
  });
  bar.append(edit, upload, file, del);

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

// a comment's author: a member, or a review link's guest (issue 22)
const authorOf = (c) => (c.user ? c.user.display_name : c.guest ? `${c.guest.name} (guest)` : 'Someone');

// the version ?version=N names, else the latest
function chosenVersion(versions) {
  const n = Number(new URLSearchParams(location.search).get('version'));
  return versions.find((v) => v.number === n) || versions[0];
}

export async function assetView(id) {
  const shown = stillShown();
  view('Asset', h('p', { class: 'muted' }, 'Loading…'));
  // the asset, and beside it the caller's projects (role, downloads)
  let data, projects;
  try {
    [data, projects] = await Promise.all([api('GET', `/api/assets/${id}`),
                                          myProjects().catch(() => [])]);
  } catch (e) {
    if (shown()) view('Asset', h('p', { class: 'error' }, e.message));
    return;
  }
  // left (Back) while it loaded: the page now shown is another's
  if (!shown()) return;
  const { asset } = data;
  let versions = data.versions;
  const project = projects.find((p) => p.id === asset.project_id) || null;
  asset.fields = asset.fields || {};
  // the version on screen
  let current = chosenVersion(versions);
  const rateOf = (v) => exactRate(v && v.metadata.frame_rate ? v.metadata.frame_rate : 0);
  const clock = { fps: rateOf(current) };

  const stage = h('div', { id: 'stage' });
  const commentsBox = h('section', { class: 'card', 'aria-labelledby': 'c-title' });
  const side = h('div', {}, commentsBox);
  const meta = h('section', { class: 'card', id: 'metadata', 'aria-labelledby': 'm-title' });
  const vers = h('section', { class: 'card', id: 'versions', 'aria-labelledby': 'v-title' });
  const news = h('div', { id: 'news', role: 'status' });
  const picker = h('select', { id: 'version-select', 'aria-label': 'Version on screen' });
  const pickerRow = h('div', { class: 'row version-pick' }, h('label', { for: 'version-select', style: 'margin:0' }, 'Version'), picker);
  // the version on screen's approval (issue 21)
  const approvalSlot = h('div', { id: 'approval-slot' });
  const downloadPicks = new Map();
  function renderVersions() {
    approvalSlot.replaceChildren(approvalBox(current, asset, project, () => reread()));
    picker.replaceChildren(...versions.map((v, i) => h('option', { value: v.id, selected: current && v.id === current.id },
      `v${v.number}${i === 0 ? ' (latest)' : ''}`)));
    // a choice from two versions on (.row's display would outdo [hidden])
    pickerRow.style.display = versions.length < 2 ? 'none' : '';
    vers.replaceChildren(h('h2', { id: 'v-title' }, 'Versions'),
      versions.length ? h('ul', {}, versions.map((v) => h('li', { class: current && v.id === current.id ? 'on-screen' : null },
        `v${v.number} · `,
        h('span', { class: `badge ${v.preview.status}` }, v.preview.status), ' ', approvalBadge(v.approval),
        ` · ${new Date(v.created_at).toLocaleString()} `,
        current && v.id === current.id ? h('span', { class: 'muted' }, '(on screen) ')
          : h('button', { type: 'button', class: 'ghost play-version', 'aria-label': `Play version ${v.number}`,
                          onclick: () => showVersion(v.id) }, 'Play'),
        downloadButton(v, project, downloadPicks))))
        : h('p', { class: 'muted' }, 'No version yet.'),
      // two versions side by side or as a wipe (another asset chosen there)
      versions.length ? h('p', { class: 'row' }, h('a', { class: 'button ghost', id: 'compare-link', 'data-link': true,
                                            href: compareLink(asset.id, versions, current ? current.number : versions[0].number) },
        versions.length > 1 ? 'Compare versions' : 'Compare with another asset'),
        // a review link for people without an account (issue 22)
        shareButton(asset, project, () => current)) : null);
  }
  picker.addEventListener('change', () => showVersion(picker.value));

  function renderMeta(m) {
    const rows = [['Duration', formatDuration(m.duration_sec)],
                  ['Resolution', m.width ? `${m.width}×${m.height}` : '–'],
                  ['Video codec', m.video_codec || '–'], ['Audio codec', m.audio_codec || '–'],
                  ['Frame rate', m.frame_rate || '–'], ['Encoder', m.encoder || '–']];
    meta.replaceChildren(h('h2', { id: 'm-title' }, 'Metadata'),
      h('dl', { class: 'metadata' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  }

  const heading = h('h1', {}, asset.title);
  const desc = h('p', { class: 'muted', id: 'asset-description' }, asset.description || '');
  const fieldsBox = h('div', { id: 'asset-fields-slot' });
  view(asset.title, heading, desc, actions(asset, heading, desc), news,
       h('div', { class: 'layout' }, h('div', {}, pickerRow, approvalSlot, stage, vers, meta, fieldsBox), side));
  metaSection(asset, project).then((box) => fieldsBox.replaceChildren(box));

  const player = { video: null };
  // a frame to land on once the player of a version switched to is ready
  let pendingFrame = null;
  const seekTo = (c) => {
    const at = () => {
      if (c.frame !== null && c.frame !== undefined && clock.fps > 0 && player.seekFrame) player.seekFrame(c.frame);
      else if (player.video) player.video.currentTime = c.timestamp_sec;
    };
    if (c.version_id && current && c.version_id !== current.id && versions.some((v) => v.id === c.version_id)) {
      pendingFrame = at;
      showVersion(c.version_id);
    } else {
      at();
    }
  };
  const versionRate = (versionId) => {
    const v = versions.find((x) => x.id === versionId);
    return v && v.metadata.frame_rate ? rateOf(v) : clock.fps;
  };
  const comments = setupComments(asset, () => current, clock, commentsBox, player, seekTo, versionRate, project);
  const known = new Set(versions.map((v) => v.id));

  const reread = async () => {
    const fresh = await api('GET', `/api/assets/${id}`);
    versions = fresh.versions;
    if (current) current = versions.find((v) => v.id === current.id) || current;
    renderVersions();
    return fresh;
  };

  // a version added while the page is open is announced, not swapped in
  let announcing = false;
  const announce = async (versionId) => {
    if (announcing) return;
    announcing = true;
    let number = '';
    try {
      await reread();
      const v = versions.find((x) => x.id === versionId);
      if (v) number = ` (v${v.number})`;
    } catch (e) { /* the announcement still stands */ }
    announcing = false;
    news.replaceChildren(h('div', { class: 'card notice', id: 'new-version' },
      `A new version${number} of this asset was added. `,
      h('button', { type: 'button', onclick: () => { news.replaceChildren(); showVersion(versionId); } },
        'Show the new version')));
  };

  // the preview's status of the version on screen, then its player
  const bar = h('progress', { max: 1, value: 0, id: 'preview-progress', 'aria-label': 'Preview progress' });
  const label = h('p', { id: 'preview-status' }, 'Preparing the preview…');
  let playing = false, stopPlayer = null, left = false;
  // playing a ladder that is still being rendered (playable, not ready)
  let live = false;
  const liveNote = h('p', { id: 'preview-live', class: 'muted', 'aria-live': 'polite' });
  const retry = () => h('button', { type: 'button', id: 'retry-preview', onclick: async (e) => {
    e.target.disabled = true;
    try {
      showStatus(await api('POST', '/api/preview', { version_id: current.id }));
    } catch (ex) { toast(ex.message, true); e.target.disabled = false; }
  } }, 'Retry the preview');
  // a ladder played while it renders: its progress under the player, then
  // the version's metadata once ready (playback goes on); withdrawn (a
  // failed attempt): back to the progress bar, or the failure
  const follow = async (st) => {
    if (st.status === 'ready') {
      live = false;
      liveNote.remove();
      const version = current;
      await reread();
      if (left || version.id !== current.id) return;
      renderMeta(current.metadata);
      clock.fps = rateOf(current);
      if (player.finished) player.finished(current, clock.fps);
      // the mark goes last: once it is gone, the clock runs at the
      // version's own rate (tests wait for it)
      delete stage.dataset.live;
      return;
    }
    if (!st.playable) {
      if (stopPlayer) stopPlayer();
      stopPlayer = null;
      playing = live = false;
      delete stage.dataset.ready;
      delete stage.dataset.live;
      liveNote.remove();
      showStatus(st);
      return;
    }
    liveNote.textContent = `Still transcoding (${Math.round((st.progress || 0) * 100)} %): `
      + 'playing what is ready, more follows.';
  };

  const showStatus = async (st) => {
    if (left || !current) return;
    if (st.version_id && st.version_id !== current.id) return;
    if (playing) {
      if (live) follow(st);
      return;
    }
    const version = current;
    // ready, or playable before (issue 20): the first segments of every
    // stream are published, or an earlier ladder still is (forced re-run)
    if (st.status === 'ready' || st.playable) {
      playing = true;
      live = st.status !== 'ready';
      await reread();
      if (left || version.id !== current.id) return;
      const v = current;
      renderMeta(v.metadata);
      clock.fps = rateOf(v);
      // no video renditions: an audio-only source (a ladder still
      // rendering has no metadata yet: its master playlist tells hls.js)
      const audioOnly = !live && !v.metadata.video_codec
        && !((v.preview.renditions || st.renditions || []).length);
      stopPlayer = startPlayer(asset, v, stage, player, comments, { fps: clock.fps, audioOnly });
      stage.dataset.version = String(v.number);
      if (live) {
        stage.dataset.live = '1';
        stage.append(liveNote);
        follow(st);
      }
      if (pendingFrame) {
        const land = pendingFrame;
        pendingFrame = null;
        player.video.addEventListener('loadedmetadata', () => land(), { once: true });
      }
      comments.switched();
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

  // another version on screen: the player stopped, the URL (?version=N)
  // replaced, its status asked, its comments shown
  async function showVersion(versionId) {
    let v = versions.find((x) => x.id === versionId);
    if (!v) {
      try { await reread(); } catch (e) { return toast(e.message, true); }
      v = versions.find((x) => x.id === versionId);
      if (!v) return;
    }
    if (stopPlayer) stopPlayer();
    stopPlayer = null;
    playing = live = false;
    liveNote.remove();
    delete stage.dataset.ready;
    delete stage.dataset.live;
    delete stage.dataset.version;
    current = v;
    clock.fps = rateOf(v);
    const url = new URL(location.href);
    if (v === versions[0]) url.searchParams.delete('version');
    else url.searchParams.set('version', String(v.number));
    history.replaceState(history.state, '', url.pathname + url.search);
    renderVersions();
    renderMeta(v.metadata);
    comments.switched();
    stage.replaceChildren(label, bar);
    try {
      showStatus(await api('GET', `/api/preview/status?version_id=${v.id}`));
    } catch (e) { stage.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }

  renderVersions();
  renderMeta(current ? current.metadata : {});
  if (!current) stage.replaceChildren(h('p', { class: 'muted' }, 'No version yet.'));
  else if (current !== versions[0]) showVersion(current.id);

  // one stream for the page: status, comments, new versions
  liveEvents(id, {
    status: (st) => {
      if (!st.version_id) return;
      if (!known.has(st.version_id)) {
        known.add(st.version_id);
        announce(st.version_id);
      } else if (current && st.version_id === current.id) {
        showStatus(st);
      }
    },
    comment: () => comments.changed(),
    approval: () => reread().catch(() => {}),
    reconnected: () => { comments.changed(); reread().catch(() => {}); },
  });
  onLeave(() => { left = true; });
}
