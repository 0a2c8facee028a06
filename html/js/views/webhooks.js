// A project's webhooks (/projects/:id/webhooks, issue 22), for its
// managers (and admins): the list, adding one (URL, events, a secret made
// here, shown once), enabling or disabling, sending a test event, deleting,
// and each one's delivery log (newest first, a page at a time).  Anyone
// else is told that only a manager sees them; the server says so too.

import { api } from '../api.js';
import { confirmDialog, h, toast, view } from '../dom.js';
import { isManager, reason } from '../metadata.js';

export const EVENTS = ['asset.created', 'version.created', 'preview.ready', 'preview.failed',
                       'comment.created', 'comment.resolved', 'approval.changed', 'share.viewed'];

// 32 random bytes as hex: what the receiver checks the signatures with
function newSecret() {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const when = (t) => (t ? new Date(t).toLocaleString() : '');

function addForm(projectId, reload) {
  const err = h('p', { class: 'error', role: 'alert' });
  const url = h('input', { id: 'wh-url', name: 'url', type: 'url', required: true, maxlength: 2048,
                           placeholder: 'https://example.com/hooks/mam', autocomplete: 'off' });
  const secret = h('input', { id: 'wh-secret', name: 'secret', required: true, minlength: 16, maxlength: 256,
                              autocomplete: 'off', 'aria-describedby': 'wh-secret-hint', value: newSecret() });
  const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', value: e, id: `wh-ev-${e}`, checked: true }));
  const shown = h('div', { id: 'wh-created', role: 'status' });
  const form = h('form', { class: 'card', id: 'webhook-add', 'aria-labelledby': 'wh-title' },
    h('h2', { id: 'wh-title' }, 'Add a webhook'),
    h('label', { for: 'wh-url' }, 'Payload URL'), url,
    h('fieldset', {}, h('legend', {}, 'Events'),
      h('div', { class: 'row wrap' }, EVENTS.map((e, i) =>
        h('label', { for: `wh-ev-${e}`, class: 'check' }, boxes[i], ' ', e)))),
    h('label', { for: 'wh-secret' }, 'Secret'), secret,
    h('p', { class: 'muted hint', id: 'wh-secret-hint' },
      'Each request is signed with it: X-Mam-Signature is sha256= and the hex HMAC-SHA256 of '
      + '"{X-Mam-Timestamp}.{body}". It is shown only now.'),
    err, h('button', { type: 'submit', id: 'wh-add' }, 'Add webhook'), shown);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const r = await api('POST', '/api/webhooks',
                          { project_id: projectId, url: url.value.trim(), events, secret: secret.value });
      toast('Webhook added');
      shown.replaceChildren(h('p', {}, 'Keep this secret for the receiver (it is not shown again): ',
                              h('code', { id: 'wh-secret-once' }, r.webhook.secret)));
      url.value = '';
      secret.value = newSecret();
      await reload();
    } catch (ex) { err.textContent = reason(ex); }
  });
  return form;
}

// the delivery log of one webhook, a page at a time
function deliveryLog(hook) {
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'ghost', hidden: true }, 'Older deliveries');
  const table = h('table', { class: 'deliveries', 'aria-label': `Deliveries to ${hook.url}` },
    h('thead', {}, h('tr', {}, ['When', 'Event', 'State', 'Attempts', 'Status', 'Error'].map((t) => h('th', {}, t)))),
    body);
  let cursor = null;
  const page = async (reset) => {
    if (reset) { cursor = null; body.replaceChildren(); }
    try {
      const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
      const r = await api('GET', `/api/webhooks/${hook.id}/deliveries${q}`);
      for (const d of r.items) {
        body.append(h('tr', { class: `delivery ${d.state}`, dataset: { state: d.state } },
          h('td', {}, when(d.created_at)), h('td', {}, d.event),
          h('td', {}, h('span', { class: `badge ${d.state}` }, d.state)),
          h('td', {}, String(d.attempts)), h('td', {}, d.status === null ? '—' : String(d.status)),
          h('td', { class: 'muted' }, d.error || (d.next_attempt ? `next ${when(d.next_attempt)}` : ''))));
      }
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No deliveries yet.')));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) { toast(e.message, true); }
  };
  const again = h('button', { type: 'button', class: 'ghost refresh' }, 'Refresh');
  more.addEventListener('click', () => page(false));
  again.addEventListener('click', () => page(true));
  return { el: h('div', { class: 'log' }, table, h('div', { class: 'row' }, again, more)), refresh: () => page(true) };
}

function hookCard(hook, reload) {
  const log = deliveryLog(hook);
  const logBox = h('div', { hidden: true }, log.el);
  const toggleLog = h('button', { type: 'button', class: 'ghost deliveries-toggle', 'aria-expanded': 'false' },
                      'Deliveries');
  toggleLog.addEventListener('click', async () => {
    const open = logBox.hidden;
    logBox.hidden = !open;
    toggleLog.setAttribute('aria-expanded', String(open));
    if (open) await log.refresh();
  });
  const test = h('button', { type: 'button', class: 'test' }, 'Send test event');
  test.addEventListener('click', async () => {
    try {
      await api('POST', `/api/webhooks/${hook.id}/test`);
      toast('Test event queued');
      logBox.hidden = false;
      toggleLog.setAttribute('aria-expanded', 'true');
      await log.refresh();
    } catch (e) { toast(e.message, true); }
  });
  const active = h('input', { type: 'checkbox', id: `wh-active-${hook.id}`, checked: hook.active });
  active.addEventListener('change', async () => {
    try { await api('PATCH', `/api/webhooks/${hook.id}`, { active: active.checked }); await reload(); }
    catch (e) { toast(e.message, true); active.checked = !active.checked; }
  });
  const del = h('button', { type: 'button', class: 'danger delete' }, 'Delete');
  del.addEventListener('click', async () => {
    if (!await confirmDialog(`Delete the webhook to ${hook.url}? Its delivery log goes with it.`, 'Delete webhook')) return;
    try { await api('DELETE', `/api/webhooks/${hook.id}`); toast('Webhook deleted'); await reload(); }
    catch (e) { toast(e.message, true); }
  });
  return h('li', { class: 'card webhook', dataset: { id: hook.id } },
    h('div', { class: 'row' }, h('code', { class: 'url' }, hook.url),
      hook.active ? null : h('span', { class: 'badge' }, 'disabled'),
      h('span', { class: 'row tools' }, test, toggleLog, del)),
    h('p', { class: 'muted events' }, hook.events.join(' · ')),
    h('div', { class: 'row muted' }, h('span', {}, 'Secret ', h('code', {}, `${hook.secret_prefix}…`)),
      h('label', { for: `wh-active-${hook.id}`, class: 'check' }, active, ' Active')),
    logBox);
}

export async function webhooksView(projectId) {
  view('Webhooks', h('p', { class: 'muted' }, 'Loading…'));
  let project;
  try {
    project = (await api('GET', `/api/projects/${projectId}`)).project;
  } catch (e) {
    return view('Webhooks', h('h1', {}, 'Webhooks'), h('p', { class: 'error' }, e.message));
  }
  const crumbs = h('p', { class: 'muted crumbs' },
    h('a', { href: `/projects/${projectId}`, 'data-link': true }, project.name), ' › Webhooks');
  if (!isManager(project)) {
    return view(`Webhooks of ${project.name}`, crumbs, h('h1', {}, `Webhooks of ${project.name}`),
      h('p', { class: 'muted', id: 'webhooks-readonly' }, 'Only a manager of the project sees and changes its webhooks.'));
  }
  const list = h('ul', { class: 'webhooks', id: 'webhooks' });
  const state = h('p', { class: 'muted', id: 'webhooks-state', role: 'status' });
  const load = async () => {
    try {
      const items = (await api('GET', `/api/webhooks?project=${projectId}`)).items;
      list.replaceChildren(...items.map((w) => hookCard(w, load)));
      state.textContent = items.length ? '' : 'No webhooks yet.';
    } catch (e) { state.replaceChildren(h('span', { class: 'error' }, e.message)); }
  };
  view(`Webhooks of ${project.name}`, crumbs, h('h1', {}, `Webhooks of ${project.name}`),
    h('p', { class: 'muted' }, 'The project\'s events are POSTed as signed JSON to these URLs, '
      + 'retried with backoff for a day when the receiver fails.'),
    list, state, addForm(projectId, load));
  await load();
}
