// The API client: JSON requests with the access token, which lives in
// memory only; the refresh token is the HttpOnly mam_refresh cookie
// (Path=/auth), so a reload signs in again silently through POST
// /auth/refresh, and the token is refreshed a minute before it expires.

export const auth = { token: null, user: null, timer: null };

const listeners = [];
// fn() after every sign-in, refresh and sign-out (the navigation bar)
export const onAuthChange = (fn) => listeners.push(fn);
const changed = () => listeners.forEach((fn) => fn());

export const MESSAGES = {
  unauthorized: 'Please sign in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'That does not exist (any more).',
  conflict: 'That conflicts with the current state.',
  rate_limited: 'Too many requests; wait a moment and try again.',
  unavailable: 'The service is temporarily unavailable; try again shortly.',
  payload_too_large: 'That is too large.',
  unsupported_media_type: 'That file type is not supported.',
  internal: 'Something went wrong on our side.',
};

export class ApiError extends Error {
  constructor(status, body) {
    const code = body && body.error;
    super((body && body.message && !/^[a-z_]+$/.test(body.message) ? body.message
           : MESSAGES[code]) || `Request failed (${status}).`);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body, { retry = true } = {}) {
  const headers = {};
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
                              body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { message: 'The server cannot be reached.' });
  }
  if (res.status === 401 && retry && auth.token && !path.startsWith('/auth/')) {
    if (await refresh()) return api(method, path, body, { retry: false });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function signedIn(data) {
  auth.token = data.access_token;
  auth.user = data.user;
  clearTimeout(auth.timer);
  // refresh a minute before the access token expires
  auth.timer = setTimeout(refresh, Math.max(10, data.expires_in - 60) * 1000);
  changed();
}

export function signedOut() {
  auth.token = null;
  auth.user = null;
  clearTimeout(auth.timer);
  changed();
}

export async function refresh() {
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
  }
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
