// Review links (issue 22).  For members who may share (an editor or
// manager of the project, an admin): the Share button of the asset page
// (a dialog: switches, expiry, passphrase; the link's URL to copy, shown
// once: the server keeps no token) and the project page's list of links
// with their views, guests and a Revoke.  For guests: the page /r/{token}
// (guestView): the passphrase if the link has one, then a name, then the
// link's assets in the player with their comments (never internal ones),
// a comment with an arrow drawn on the frame, the approval buttons and a
// download, as the link allows.  The guest's session is an HttpOnly
// cookie scoped to the link's API path: the page never sees it.

import { api, isAdmin } from '../api.js';
import { confirmDialog, exactRate, frameOf, h, timecode, toast, view } from '../dom.js';
import { startPlayer } from '../player.js';
import { APPROVALS, approvalBadge, approvalLabel, threadsOf } from './review.js';

const mayShare = (project) => isAdmin() || ['editor', 'manager'].includes(project && project.my_role);

// the dialog's switches: [field, label]
const SWITCHES = [['allow_comments', 'Guests may comment'], ['allow_approval', 'Guests may approve'],
                  ['allow_download', 'Guests may download'], ['show_all_versions', 'Show every version']];

// the Share button of an asset (null for those who may not share)
export function shareButton(asset, project, current) {
  if (!mayShare(project)) return null;
  const b = h('button', { type: 'button', class: 'ghost', id: 'share-asset' }, 'Share');
  b.addEventListener('click', () => shareDialog(asset, current()));
  return b;
}

function shareDialog(asset, version) {
  const err = h('p', { class: 'error', role: 'alert' });
  const checks = SWITCHES.map(([name, label]) => {
    const box = h('input', { type: 'checkbox', id: `share-${name}`, name, checked: name === 'allow_comments' });
    return [box, h('label', { for: `share-${name}`, class: 'check' }, box, ` ${label}`)];
  });
  const pin = h('input', { type: 'checkbox', id: 'share-pin' });
  const expires = h('input', { type: 'date', id: 'share-expires' });
  const pass = h('input', { type: 'password', id: 'share-passphrase', maxlength: 256, autocomplete: 'new-password' });
  const out = h('div', { id: 'share-result' });
  const make = h('button', { type: 'submit', id: 'share-create' }, 'Create link');
  const close = h('button', { type: 'button', class: 'ghost' }, 'Close');
  const form = h('form', { class: 'card', method: 'dialog' },
    h('h2', { id: 'share-title' }, `Share “${asset.title}”`),
    checks.map(([, label]) => label),
    version ? h('label', { for: 'share-pin', class: 'check' }, pin, ` Only version ${version.number} (else the latest)`) : null,
    h('label', { for: 'share-expires' }, 'Expires on (optional)'), expires,
    h('label', { for: 'share-passphrase' }, 'Passphrase (optional)'), pass,
    err, out, h('div', { class: 'row' }, make, close));
  const d = h('dialog', { class: 'card', id: 'share-dialog', 'aria-labelledby': 'share-title' }, form);
  const done = () => { d.close(); d.remove(); };
  close.addEventListener('click', done);
  d.addEventListener('cancel', (e) => { e.preventDefault(); done(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { asset_ids: [asset.id], version: pin.checked && version ? version.id : 'latest' };
    for (const [box] of checks) body[box.name] = box.checked;
    if (expires.value) body.expires_at = `${expires.value}T23:59:59Z`;
    if (pass.value) body.passphrase = pass.value;
    make.disabled = true;
    try {
      const { share } = await api('POST', '/api/shares', body);
      const url = `${location.origin}${share.url}`;
      const field = h('input', { id: 'share-url', readonly: true, value: url, 'aria-label': 'The link' });
      const copy = h('button', { type: 'button', id: 'share-copy' }, 'Copy');
      copy.addEventListener('click', async () => {
        field.select();
        try { await navigator.clipboard.writeText(url); toast('Link copied'); }
        catch { toast('Select the link and copy it'); }
      });
      out.replaceChildren(h('p', {}, 'Anyone with this link (and its passphrase) can open it. '
                                     + 'It is shown once: copy it now.'), h('div', { class: 'row' }, field, copy));
      make.hidden = true;
      field.focus();
      field.select();
    } catch (ex) { err.textContent = ex.message; make.disabled = false; }
  });
  document.body.append(d);
  d.showModal();
  make.focus();
}

// the project page's links (null for those who may not share)
export function sharesSection(project) {
  if (!mayShare(project)) return null;
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'ghost', id: 'shares-more', hidden: true }, 'More');
  const section = h('section', { id: 'shares', 'aria-labelledby': 'shares-title' },
    h('h2', { id: 'shares-title' }, 'Review links'),
    h('table', { 'aria-label': `Review links of ${project.name}` },
      h('thead', {}, h('tr', {}, ['Created', 'By', 'Status', 'Views', 'Last view', 'Guests', 'Action']
        .map((t) => h('th', { scope: 'col' }, t)))), body), more);
  let cursor = null;
  const when = (t) => (t ? new Date(t).toLocaleString() : '–');
  const row = (s) => {
    const revoke = s.status === 'revoked' ? '' : h('button', { type: 'button', class: 'danger revoke',
      'aria-label': `Revoke the link of ${when(s.created_at)}`,
      onclick: async () => {
        if (!await confirmDialog('Revoke this link? Its guests lose access at once.', 'Revoke')) return;
        try { await api('DELETE', `/api/shares/${s.id}`); toast('Link revoked'); }
        catch (e) { toast(e.message, true); }
        load(true);
      } }, 'Revoke');
    return h('tr', { dataset: { share: s.id } }, h('td', {}, when(s.created_at)),
      h('td', {}, s.created_by ? s.created_by.display_name : '–'),
      h('td', {}, h('span', { class: `badge share-${s.status}` }, s.status)),
      h('td', { class: 'views' }, String(s.views)), h('td', {}, when(s.last_view_at)),
      h('td', { class: 'guests' }, String(s.guest_count)), h('td', {}, revoke));
  };
  async function load(again) {
    if (again) { cursor = null; body.replaceChildren(); }
    try {
      const r = await api('GET', `/api/shares?project=${project.id}&limit=20${cursor ? `&cursor=${cursor}` : ''}`);
      body.append(...r.items.map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No link yet.')));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) { body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'error' }, e.message))); }
  }
  more.addEventListener('click', () => load(false));
  load(true);
  return section;
}

// --- the guest's page ---------------------------------------------------------------

export async function guestView(token) {
  const base = `/api/r/${token}`;
  view('Review', h('p', { class: 'muted' }, 'Loading…'));
  let link;
  try {
    link = await api('GET', base);
  } catch (e) {
    const gone = e.status === 410;
    return view('Review', h('h1', {}, gone ? 'This link has ended' : 'No such link'),
      h('p', { class: 'muted', id: 'guest-ended' },
        gone ? 'It expired or was revoked. Ask the person who sent it for a new one.' : 'Check the address you were sent.'));
  }
  if (!link.guest) return guestSignIn(base, link, token);
  return guestReview(base, link);
}

// the passphrase (if any) and a name, remembered by the link's cookie
function guestSignIn(base, link, token) {
  const err = h('p', { class: 'error', role: 'alert' });
  const pass = link.passphrase ? h('input', { type: 'password', id: 'guest-passphrase', required: true,
                                              autocomplete: 'off' }) : null;
  const name = h('input', { id: 'guest-name', required: true, maxlength: 100, autocomplete: 'name' });
  const email = h('input', { id: 'guest-email', type: 'email', maxlength: 254, autocomplete: 'email' });
  const form = h('form', { class: 'card', id: 'guest-form' },
    pass ? [h('label', { for: 'guest-passphrase' }, 'Passphrase'), pass] : null,
    h('label', { for: 'guest-name' }, 'Your name (shown with your comments)'), name,
    h('label', { for: 'guest-email' }, 'Your e-mail (optional)'), email, err,
    h('p', {}, h('button', { type: 'submit', id: 'guest-enter' }, 'Open')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('POST', `${base}/session`, { name: name.value, passphrase: pass ? pass.value : undefined,
                                             email: email.value.trim() || undefined });
      guestView(token);
    } catch (ex) {
      err.textContent = ex.status === 401 ? 'That passphrase is not right.'
        : ex.status === 429 ? 'Too many wrong passphrases: wait a while and try again.' : ex.message;
    }
  });
  view('Review', h('h1', {}, 'You were invited to review'), form);
  (pass || name).focus();
}

function guestReview(base, link) {
  const stage = h('div', { id: 'stage' });
  const list = h('div', { id: 'guest-comments' });
  const approval = h('div', { id: 'approval', class: 'row approval-box' });
  const picker = h('div', { class: 'row', id: 'guest-assets' });
  const heading = h('h1', {}, 'Review');
  const form = link.allow_comments ? h('form', { class: 'card', id: 'guest-comment-form' }) : null;
  view('Review', heading, h('p', { class: 'muted' }, `Signed in as ${link.guest.name}`), picker,
       h('div', { class: 'layout' }, h('div', {}, approval, stage),
         h('section', { class: 'card', 'aria-labelledby': 'c-title' }, h('h2', { id: 'c-title' }, 'Comments'), form, list)));
  if (!link.assets.length) return stage.append(h('p', { class: 'muted' }, 'This link shows nothing (any more).'));
  const player = { video: null };
  let stop = null, drawing = null;
  const show = (asset, version) => {
    if (stop) stop();
    heading.textContent = asset.title;
    const fps = exactRate(version.metadata && version.metadata.frame_rate ? version.metadata.frame_rate : 0);
    stop = startPlayer(asset, version, stage, player, { markers() {} },
                       { fps, audioOnly: false, sign: `${base}/sign-preview` });
    drawing = drawLayer(stage);
    renderApproval(asset, version);
    renderForm(asset, version, fps);
    loadComments(asset, version, fps);
  };
  const renderApproval = (asset, version) => {
    approval.replaceChildren(h('span', { class: 'muted' }, `v${version.number}:`), approvalBadge(version.approval));
    if (link.allow_download) {
      approval.append(h('button', { type: 'button', class: 'ghost', id: 'guest-download', onclick: async () => {
        try { location.href = (await api('POST', `${base}/versions/${version.id}/download`, { rendition: 'original' })).url; }
        catch (e) { toast(e.message, true); }
      } }, 'Download'));
    }
    if (!link.allow_approval) return;
    for (const [status, label] of APPROVALS.slice(0, 3)) {
      const b = h('button', { type: 'button', class: status === version.approval.status ? '' : 'ghost',
                              'aria-pressed': String(status === version.approval.status), dataset: { approval: status } }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          const r = await api('PUT', `${base}/versions/${version.id}/approval`, { status });
          Object.assign(version, r.version);
          toast(`v${version.number}: ${approvalLabel(status)}`);
          renderApproval(asset, version);
        } catch (e) { toast(e.message, true); b.disabled = false; }
      });
      approval.append(b);
    }
  };
  const loadComments = async (asset, version, fps) => {
    try {
      const { items } = await api('GET', `${base}/assets/${asset.id}/comments`);
      list.replaceChildren(...threadsOf(items).map((t) => h('article', { class: 'comment', dataset: { comment: t.id } },
        h('p', {}, h('strong', {}, t.user ? t.user.display_name : t.guest ? t.guest.name : '–'), ' ',
          h('span', { class: 'muted' }, timecode(Number(t.timestamp_sec), fps)),
          t.annotation ? h('span', { class: 'badge drawing' }, 'Drawing') : null),
        h('p', {}, t.content),
        t.replies.map((r) => h('p', { class: 'reply' }, h('strong', {}, r.user ? r.user.display_name : r.guest ? r.guest.name : '–'),
          ` ${r.content}`)))));
      if (!items.length) list.append(h('p', { class: 'muted' }, 'No comment yet.'));
    } catch (e) { list.replaceChildren(h('p', { class: 'error' }, e.message)); }
  };
  const renderForm = (asset, version, fps) => {
    if (!form) return;
    const err = h('p', { class: 'error', role: 'alert' });
    const text = h('textarea', { id: 'guest-comment', rows: 3, maxlength: 4000, required: true, 'aria-label': 'Your comment' });
    const draw = h('button', { type: 'button', class: 'ghost', id: 'guest-draw', 'aria-pressed': 'false' }, 'Draw an arrow');
    draw.addEventListener('click', () => {
      const on = draw.getAttribute('aria-pressed') !== 'true';
      draw.setAttribute('aria-pressed', String(on));
      drawing.enable(on);
      if (on && player.video) player.video.pause();
    });
    form.replaceChildren(text, h('div', { class: 'row' }, h('button', { type: 'submit', id: 'guest-send' }, 'Comment'), draw), err);
    form.onsubmit = async (e) => {
      e.preventDefault();
      err.textContent = '';
      const t = player.video ? player.video.currentTime || 0 : 0;
      const shapes = drawing.shapes();
      try {
        await api('POST', `${base}/assets/${asset.id}/comments`, {
          timestamp_sec: Math.round(t * 1000) / 1000, content: text.value, version_id: version.id,
          frame: fps > 0 ? frameOf(t, fps) : undefined,
          annotation: shapes.length ? { shapes } : undefined });
        text.value = '';
        drawing.clear();
        draw.setAttribute('aria-pressed', 'false');
        drawing.enable(false);
        toast('Comment sent');
        loadComments(asset, version, fps);
      } catch (ex) { err.textContent = ex.message; }
    };
  };
  for (const a of link.assets) {
    if (!a.versions.length) continue;
    picker.append(h('button', { type: 'button', class: 'ghost', dataset: { asset: a.id }, onclick: () => show(a, a.versions[0]) },
                    a.title));
  }
  const first = link.assets.find((a) => a.versions.length);
  if (first) show(first, first.versions[0]);
  return null;
}

// arrows drawn over the picture: a drag from a point to another, kept in
// coordinates from 0 to 1 (the server's annotation form, mam_annotation.c)
function drawLayer(stage) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'draw-layer');
  svg.setAttribute('viewBox', '0 0 1 1');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.id = 'draw-layer';
  const box = stage.querySelector('.player') || stage;
  box.append(svg);
  const shapes = [];
  let start = null, line = null;
  const at = (e) => {
    const r = svg.getBoundingClientRect();
    const c = (v) => Math.round(Math.max(0, Math.min(1, v)) * 10000) / 10000;
    return [c((e.clientX - r.left) / r.width), c((e.clientY - r.top) / r.height)];
  };
  svg.addEventListener('pointerdown', (e) => {
    start = at(e);
    line = document.createElementNS(NS, 'line');
    line.setAttribute('stroke', '#ff3b30');
    line.setAttribute('stroke-width', '0.006');
    svg.append(line);
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', (e) => {
    if (!start) return;
    const [x, y] = at(e);
    line.setAttribute('x1', start[0]); line.setAttribute('y1', start[1]);
    line.setAttribute('x2', x); line.setAttribute('y2', y);
  });
  svg.addEventListener('pointerup', (e) => {
    if (!start) return;
    const end = at(e);
    if (end[0] !== start[0] || end[1] !== start[1]) {
      shapes.push({ type: 'arrow', points: [start, end], color: '#ff3b30', width: 0.006 });
    } else {
      line.remove();
    }
    start = null;
  });
  return {
    enable: (on) => svg.classList.toggle('on', on),
    shapes: () => shapes.slice(),
    clear: () => { shapes.length = 0; svg.replaceChildren(); },
  };
}
