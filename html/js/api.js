// The API client: JSON requests with the access token, which lives in
// memory only; the refresh token is the HttpOnly mam_refresh cookie
// (Path=/auth), so a reload signs in again silently through POST
// /auth/refresh, and the token is refreshed a minute before it expires.
// localStorage keeps only a hint that a session may exist (mam-session),
// so that a visit without one never asks /auth/refresh (a 401 for nothing).
//
// A 401 from any request: the token is refreshed once and the request
// made again; when the refresh fails (the account was disabled, the
// session revoked) or brings other roles (the account was demoted or
// promoted), the session ends: onSessionEnd's handler shows a screen that
// says so and offers to sign in again.

export const auth = { token: null, user: null, timer: null };

const HINT = 'mam-session';
const listeners = [];
// fn() after every sign-in, refresh and sign-out (the navigation bar)
export const onAuthChange = (fn) => listeners.push(fn);
const changed = () => listeners.forEach((fn) => fn());

let endHandler = null;
// fn(message) when the session ended under the page
export const onSessionEnd = (fn) => { endHandler = fn; };

export const MESSAGES = {
  invalid_request: 'That request was not accepted.',
  unauthorized: 'Please sign in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'That does not exist (any more).',
  method_not_allowed: 'That cannot be done here.',
  conflict: 'That conflicts with the current state; reload and try again.',
  gone: 'That has expired; start again.',
  payload_too_large: 'That is too large.',
  unsupported_media_type: 'That file type is not supported: upload video or audio files.',
  rate_limited: 'Too many requests; wait a moment and try again.',
  unavailable: 'The service is temporarily unavailable; try again shortly.',
  internal: 'Something went wrong on our side; try again later.',
  session_ended: 'Your session ended. Please sign in again.',
};

// the server's messages as sentences for people: known ones reworded,
// "field: must be …" as "Field must be …", the rest by error code
const KNOWN = [
  [/^invalid email or password/i, 'Invalid email or password.'],
  [/awaits approval/i, 'Your account awaits approval by an admin. You can sign in once it is approved.'],
  [/account is disabled/i, 'Your account is disabled. Ask an admin to enable it.'],
  [/^token outdated/i, 'Your access changed (your role or your account\'s status). Please sign in again.'],
  [/^editor role required/i, 'This needs the editor role. Ask an admin for it.'],
  [/^admin role required/i, 'Only an admin can do this.'],
  [/^the last active admin/i, 'The last active admin cannot be demoted or disabled.'],
  [/^content_type: must be video/i, MESSAGES.unsupported_media_type],
];
const FIELDS = { content: 'The comment', title: 'The title', description: 'The description',
                 display_name: 'The name', email: 'The email', password: 'The password',
                 timestamp_sec: 'The comment\'s time', q: 'The search' };

export function plainMessage(status, body) {
  const code = body && body.error;
  const msg = body && typeof body.message === 'string' ? body.message : '';
  for (const [re, text] of KNOWN) if (re.test(msg)) return text;
  const f = msg.match(/^([a-z_]+): (must .*|required)$/);
  if (f && FIELDS[f[1]]) {
    return `${FIELDS[f[1]]} ${f[2] === 'required' ? 'is required' : f[2].replace(/(\d+)\.\.(\d+)/g, '$1 to $2')}.`;
  }
  if (code && MESSAGES[code]) return MESSAGES[code];
  if (msg && !/^[a-z_]+$/.test(msg) && status === 0) return msg;
  return `The request failed (${status || 'no answer'}).`;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(plainMessage(status, body));
    this.status = status;
    this.code = body && body.error;
    // the server's own message, for a view that says more than the code
    this.detail = body && typeof body.message === 'string' ? body.message : '';
  }
}

const rolesOf = (u) => (u ? `${u.status} ${[...u.roles].sort().join(',')}` : '');

export async function api(method, path, body, { retry = true } = {}) {
  const headers = {};
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
                              body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { message: 'The server cannot be reached; check the connection.' });
  }
  if (res.status === 401 && auth.token && !path.startsWith('/auth/')) {
    const before = rolesOf(auth.user);
    if (retry && await refresh() && rolesOf(auth.user) === before) {
      return api(method, path, body, { retry: false });
    }
    sessionEnded();
    throw new ApiError(401, { error: 'session_ended' });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function signedIn(data) {
  auth.token = data.access_token;
  auth.user = data.user;
  ended = false;
  localStorage.setItem(HINT, '1');
  clearTimeout(auth.timer);
  // refresh a minute before the access token expires
  auth.timer = setTimeout(async () => {
    const before = rolesOf(auth.user);
    if (!await refresh() || rolesOf(auth.user) !== before) sessionEnded();
  }, Math.max(10, data.expires_in - 60) * 1000);
  changed();
}

export function signedOut() {
  auth.token = null;
  auth.user = null;
  localStorage.removeItem(HINT);
  clearTimeout(auth.timer);
  changed();
}

// the session ended under the page: the access that remains (a refreshed
// token with other roles) is given up too, so that signing in again is a
// choice the person makes
let ended = false;
function sessionEnded() {
  if (ended) return;
  ended = true;
  const token = auth.token;
  signedOut();
  if (token) {
    fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', body: '{}',
                            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } })
      .catch(() => {});
  }
  if (endHandler) endHandler();
}

// one refresh at a time: the refresh token rotates, and a second use of
// the old one would be taken for reuse (every session of it revoked)
let refreshing = null;
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin',
                                                   headers: { 'Content-Type': 'application/json' },
                                                   body: '{}' });
        if (!res.ok) throw new Error('no session');
        signedIn(await res.json());
        return true;
      } catch (e) {
        signedOut();
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

// at start: a silent sign-in only where a session may exist
export function resume() {
  if (localStorage.getItem(HINT)) return refresh();
  signedOut();
  return Promise.resolve(false);
}

export async function logout() {
  try { await api('POST', '/auth/logout', {}); } catch (e) { /* signed out anyway */ }
  signedOut();
}

export const isAdmin = () => !!auth.user && auth.user.roles.includes('admin');
export const isEditor = () => !!auth.user && (isAdmin() || auth.user.roles.includes('editor'));
// an asset's owner or an admin may change or delete it
export const mayModify = (asset) => !!auth.user && isEditor()
  && (isAdmin() || (asset.owner && asset.owner.id === auth.user.id));
