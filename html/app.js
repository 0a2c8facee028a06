// The MAM single-page app: plain ES modules, no framework and no build
// step, served by nginx from html/ on the API's origin (each file with
// Cache-Control: no-cache and an ETag, so an upgrade is picked up at once).
//
//   app.js            this entry: the navigation bar, the routes, the start
//   js/api.js         the API client, the token in memory and its refresh
//   js/router.js      client-side routes, onLeave for a page's cleanup
//   js/dom.js         element building, toasts, dialogs, time formats
//   js/events.js      the page's one live event stream (tickets, reconnects)
//   js/notifications.js  the bell: unread count, list, mark read (issue 21)
//   js/mentions.js    @-completion of a project's members in a comment box
//   js/uploads.js     the upload tray above the routes (tus, S3 parts, cancel)
//   js/player.js      hls.js with renewed signed URLs, timeline, keys
//   js/metadata.js    custom fields and tags: inputs by kind, project rights
//   js/views/*.js     accounts, grid (+ filters, bulk), upload, asset (+
//                     assetmeta), compare (two versions, one transport),
//                     admin, audit, fields, webhooks, projects, folders (the grid's
//                     project switcher and folder tree), shares (review
//                     links: the Share dialog, a project's links, the
//                     guest's page /r/{token})

import { api, auth, isAdmin, isEditor, logout, onAuthChange, onSessionEnd, resume } from './js/api.js';
import { $, h, view } from './js/dom.js';
import { bell } from './js/notifications.js';
import { addRoute, go, leave, route, startRouter } from './js/router.js';
import { startTray } from './js/uploads.js';
import { loginView, registerView } from './js/views/accounts.js';
import { adminView } from './js/views/admin.js';
import { assetView } from './js/views/asset.js';
import { auditView } from './js/views/audit.js';
import { compareView } from './js/views/compare.js';
import { fieldsView } from './js/views/fields.js';
import { gridView } from './js/views/grid.js';
import { projectView, projectsView } from './js/views/projects.js';
import { guestView } from './js/views/shares.js';
import { uploadView } from './js/views/upload.js';
import { webhooksView } from './js/views/webhooks.js';

addRoute(/^\/$/, gridView);
addRoute(/^\/login$/, loginView);
addRoute(/^\/register$/, registerView);
addRoute(/^\/upload$/, uploadView);
addRoute(/^\/assets\/([0-9a-f-]{36})$/, assetView);
addRoute(/^\/compare$/, compareView);
addRoute(/^\/admin$/, adminView);
addRoute(/^\/audit$/, auditView);
addRoute(/^\/projects$/, projectsView);
addRoute(/^\/projects\/([0-9a-f-]{36})$/, projectView);
addRoute(/^\/projects\/([0-9a-f-]{36})\/fields$/, fieldsView);
addRoute(/^\/projects\/([0-9a-f-]{36})\/webhooks$/, webhooksView);
addRoute(/^\/r\/([A-Za-z0-9_-]{43})$/, guestView);

// the audit log's link: for admins, and for managers of a project, which
// GET /api/projects says (my_role); asked again at every sign-in and
// refresh, so a new manager finds it after their next one
const audit = { user: null, manages: false };
async function checkAudit() {
  const user = auth.user && !isAdmin() ? auth.user.id : null;
  if (!user) { audit.user = null; audit.manages = false; return; }
  try {
    const { items } = await api('GET', '/api/projects');
    const manages = items.some((p) => p.my_role === 'manager');
    if (!auth.user || auth.user.id !== user) return;
    const changedNow = audit.user !== user || audit.manages !== manages;
    Object.assign(audit, { user, manages });
    if (changedNow) renderNav();
  } catch { /* no link: the page itself says 403 when asked */ }
}
const mayAudit = () => isAdmin() || (audit.user === auth.user.id && audit.manages);

// a phone's header keeps one line: Assets and Upload stay in it, the other
// pages go behind a "More" menu (rebuilt when the width crosses the line)
const narrow = matchMedia('(max-width: 600px)');
narrow.addEventListener('change', () => renderNav());

function moreMenu(links) {
  const menu = h('details', { class: 'more', id: 'nav-more' },
    h('summary', {}, 'More'), h('div', { class: 'more-list' }, ...links));
  // a page chosen (or a click elsewhere) closes it
  menu.addEventListener('click', (e) => { if (e.target.closest('a')) menu.open = false; });
  return menu;
}

function renderNav() {
  const nav = $('#nav');
  if (!auth.user) {
    nav.replaceChildren(h('a', { href: '/login', 'data-link': true }, 'Sign in'),
                        h('a', { href: '/register', 'data-link': true }, 'Register'));
    return;
  }
  // (replaceChildren would write a null as the text "null")
  const pages = [
    h('a', { href: '/projects', 'data-link': true }, 'Projects'),
    isAdmin() ? h('a', { href: '/admin', 'data-link': true }, 'Users') : null,
    mayAudit() ? h('a', { href: '/audit', 'data-link': true, id: 'nav-audit' }, 'Audit') : null,
  ].filter(Boolean);
  nav.replaceChildren(...[
    h('a', { href: '/', 'data-link': true }, 'Assets'),
    narrow.matches ? null : pages[0],
    isEditor() ? h('a', { href: '/upload', 'data-link': true }, 'Upload') : null,
    ...(narrow.matches ? [moreMenu(pages)] : pages.slice(1)),
    h('span', { class: 'muted who', title: auth.user.email }, auth.user.display_name),
    bell(),
    h('button', { class: 'ghost', type: 'button', id: 'logout',
                  onclick: async () => { await logout(); go('/login'); } }, 'Sign out'),
  ].filter(Boolean));
}
document.addEventListener('click', (e) => {
  const menu = $('#nav-more');
  if (menu && menu.open && !menu.contains(e.target)) menu.open = false;
});
onAuthChange(renderNav);
onAuthChange(checkAudit);

// the account was disabled or its roles changed while a page was open:
// the page stops (its stream, its player) and says so, with a way back in
onSessionEnd(() => {
  leave();
  const next = location.pathname.startsWith('/login') ? '' : `?next=${encodeURIComponent(location.pathname + location.search)}`;
  view('Session ended', h('div', { class: 'card', id: 'session-ended' },
    h('h1', {}, 'Your session ended'),
    h('p', {}, 'Your account was disabled or its access changed while this page was open, so you were signed out.'),
    h('p', {}, h('a', { class: 'button', href: `/login${next}`, 'data-link': true, id: 'sign-in-again' }, 'Sign in again'))));
  const heading = $('#session-ended h1');
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
});

// theme: the system's preference until the user picks one, then remembered
$('#theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('mam-theme', next);
});

startRouter();
startTray();
renderNav();
resume().then(route);
