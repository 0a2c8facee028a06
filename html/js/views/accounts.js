// Sign in and register.

import { api, signedIn } from '../api.js';
import { field, h, view } from '../dom.js';
import { go } from '../router.js';

// where to go after signing in: ?next= when it is a path of this app
function next() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return /^\/(?!\/)/.test(n) && !n.startsWith('/login') ? n : '/';
}

export function loginView() {
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
      go(next());
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  view('Sign in', form);
}

export function registerView() {
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
