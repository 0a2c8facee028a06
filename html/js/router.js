// Client-side routes: links with data-link and history; each view may
// register what to undo when the page is left (onLeave).

import { auth } from './api.js';
import { h, view } from './dom.js';

const routes = [];
let cleanup = [];

export const addRoute = (re, fn) => routes.push([re, fn]);
export const onLeave = (fn) => cleanup.push(fn);

export function go(path) {
  history.pushState(null, '', path);
  route();
}

export async function route() {
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

export function startRouter() {
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-link]');
    if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      e.preventDefault();
      go(a.getAttribute('href'));
    }
  });
  window.addEventListener('popstate', route);
}
