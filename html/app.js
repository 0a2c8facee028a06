// The MAM single-page app: plain ES modules, no framework and no build
// step, served by nginx from html/ on the API's origin (each file with
// Cache-Control: no-cache and an ETag, so an upgrade is picked up at once).
//
//   app.js            this entry: the navigation bar, the routes, the start
//   js/api.js         the API client, the token in memory and its refresh
//   js/router.js      client-side routes, onLeave for a page's cleanup
//   js/dom.js         element building, toasts, dialogs, time formats
//   js/events.js      the page's one live event stream (tickets, reconnects)
//   js/uploads.js     the upload tray above the routes (tus, S3 parts, cancel)
//   js/player.js      hls.js with renewed signed URLs, timeline, keys
//   js/views/*.js     accounts, grid, upload, asset, admin

import { auth, isAdmin, isEditor, logout, onAuthChange, refresh } from './js/api.js';
import { $, h } from './js/dom.js';
import { addRoute, go, route, startRouter } from './js/router.js';
import { startTray } from './js/uploads.js';
import { loginView, registerView } from './js/views/accounts.js';
import { adminView } from './js/views/admin.js';
import { assetView } from './js/views/asset.js';
import { gridView } from './js/views/grid.js';
import { uploadView } from './js/views/upload.js';

addRoute(/^\/$/, gridView);
addRoute(/^\/login$/, loginView);
addRoute(/^\/register$/, registerView);
addRoute(/^\/upload$/, uploadView);
addRoute(/^\/assets\/([0-9a-f-]{36})$/, assetView);
addRoute(/^\/admin$/, adminView);

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
    h('button', { class: 'ghost', type: 'button', id: 'logout',
                  onclick: async () => { await logout(); go('/login'); } }, 'Sign out'));
}
onAuthChange(renderNav);

// theme: the system's preference until the user picks one, then remembered
$('#theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('mam-theme', next);
});

startRouter();
startTray();
renderNav();
refresh().then(route);
