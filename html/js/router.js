// Client-side routes: links with data-link and history; each view may
// register what to undo when the page is left (onLeave).  Each history
// entry remembers its scroll position: Back and Forward bring it back
// (savedScroll(), for views that load their content first), and a
// navigation moves the focus to the new page's heading (dom.js, view()).

import { auth } from './api.js';
import { h, nav, view } from './dom.js';

const routes = [];
let cleanup = [];
let popped = false;

export const addRoute = (re, fn) => routes.push([re, fn]);
export const onLeave = (fn) => cleanup.push(fn);

// Each route() is a new page.  A view that awaits before it draws asks
// stillShown() when it starts and calls the answer after each await: false
// once the person went elsewhere (Back while it loaded), and it must not
// draw over the page shown now.
let generation = 0;
export const stillShown = () => {
  const mine = generation;
  return () => mine === generation;
};

// the scroll position to restore, when this page was reached by Back/Forward
export const savedScroll = () => (popped && history.state && history.state.scroll) || 0;

function remember() {
  history.replaceState({ ...(history.state || {}), scroll: scrollY }, '');
}

export function go(path, { replace = false } = {}) {
  remember();
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  popped = false;
  nav.moved = true;
  route();
}

// the page's cleanup (event stream, player, timers) without a new page
export function leave() {
  cleanup.forEach((f) => f());
  cleanup = [];
}

export async function route() {
  generation++;
  leave();
  const path = location.pathname;
  // a review link's page (/r/{token}) is for guests without an account
  const open = path === '/login' || path === '/register' || path.startsWith('/r/');
  if (!auth.token && !open) {
    const next = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
    return go(`/login${next}`, { replace: true });
  }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) return fn(...m.slice(1));
  }
  view('Not found', h('h1', {}, 'Not found'), h('a', { href: '/', 'data-link': true }, 'Back to the assets'));
}

export function startRouter() {
  history.scrollRestoration = 'manual';
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-link]');
    if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey && !e.altKey && e.button === 0) {
      e.preventDefault();
      go(a.getAttribute('href'));
    }
  });
  window.addEventListener('popstate', () => {
    popped = true;
    nav.moved = true;
    route();
  });
  // the position of the page being left by a reload or another site
  window.addEventListener('pagehide', remember);
}
