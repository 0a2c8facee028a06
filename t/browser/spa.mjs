// Browser tests of the SPA: playwright-core driving Debian's chromium,
// headless, against the real stack that t/70-browser.t started.  Prints
// TAP.  Environment: BASE (http://127.0.0.1:PORT), MEDIA (a short mp4),
// MEDIA2, SHOTS (screenshot folder), CHROMIUM (the browser).
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';

const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS;
let n = 0, failed = 0;

function ok(cond, what, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && diag) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
}

async function check(what, fn) {
  try {
    const r = await fn();
    ok(r === undefined || r === true || (r && r.ok), what, r && r.diag);
  } catch (e) {
    ok(false, what, e.stack || e.message);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});

// what the page's Content-Security-Policy refused, on every page opened
const cspViolations = [];

async function newPage(width = 1280, height = 900, scheme = 'light') {
  const ctx = await browser.newContext({ viewport: { width, height }, colorScheme: scheme });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return { ctx, page };
}

const PW = 'correct horse battery';

// the API from the test itself, as another user or another tab would
async function call(method, path, body, token, raw, extra = {}) {
  const headers = { ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !raw) headers['Content-Type'] = 'application/json';
  const r = await fetch(new URL(path, BASE), { method, headers,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, json, headers: r.headers };
}
const tokenOf = async (email) => (await call('POST', '/auth/login', { email, password: PW })).json.access_token;

// a file into staging: its staging_key
async function stage(token, file, name) {
  const bytes = readFileSync(file);
  const p = (await call('POST', '/api/presign', { filename: name, content_type: 'video/mp4',
                                                  size: bytes.length }, token)).json;
  const put = await fetch(new URL(p.upload_url, BASE), { method: 'PUT', headers: p.headers || {}, body: bytes });
  if (put.status !== 201 && put.status !== 200) throw new Error(`PUT ${put.status}`);
  return p.staging_key;
}

// every EventSource a page opens, and whether it is still open
const TRACK_STREAMS = () => {
  const Real = window.EventSource;
  window.__streams = [];
  window.EventSource = class extends Real {
    constructor(url, opts) { super(url, opts); window.__streams.push(this); }
  };
};
const openStreams = (p) => p.evaluate(() => window.__streams
  .filter((e) => e.readyState !== 2).map((e) => new URL(e.url).search));

try {
  const { ctx, page } = await newPage();
  await ctx.addInitScript(TRACK_STREAMS);
  // the browser's own dialogs (beforeunload): accepted unless a test says
  const dialogs = [];
  let dialogAnswer = 'accept';
  page.on('dialog', async (d) => {
    dialogs.push(d.type());
    if (dialogAnswer === 'accept') await d.accept(); else await d.dismiss();
  });
  const streamUrls = [];
  page.on('request', (r) => { if (r.url().includes('/api/preview/events?')) streamUrls.push(r.url()); });

  // --- accounts ------------------------------------------------------------
  await check('an anonymous visit lands on the sign-in form', async () => {
    await page.goto(BASE + '/');
    await page.waitForURL('**/login');
    return await page.getByRole('heading', { name: 'Sign in' }).isVisible();
  });

  await check('register the first user (admin) and land on the asset grid', async () => {
    await page.getByRole('link', { name: 'Register' }).first().click();
    await page.getByLabel('Name').fill('Ada Admin');
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByLabel(/Password/).fill(PW);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(BASE + '/');
    await page.getByText('No assets yet').waitFor();
    await page.screenshot({ path: `${SHOTS}/empty.png` });
    // the harness adds older assets now and says so with a file
    for (let i = 0; i < 200 && !existsSync(process.env.SEEDED); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  });

  // another person, a viewer: registered, approved and demoted by the admin
  await call('POST', '/auth/register', { email: 'cleo@example.com', password: PW, display_name: 'Cleo Client' });
  {
    const t = await tokenOf('ada@example.com');
    const cleo = (await call('GET', '/api/users', undefined, t)).json.items.find((u) => u.email === 'cleo@example.com');
    await call('PATCH', `/api/users/${cleo.id}`, { status: 'active', roles: ['viewer'] }, t);
  }

  await check('index.html loads app.js as an ES module that imports the others', async () => {
    const mods = [];
    const seen = (r) => { if (/\/js\/.*\.js$/.test(r.url())) mods.push(new URL(r.url()).pathname); };
    page.on('request', seen);
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    page.off('request', seen);
    const type = await page.evaluate(() => document.querySelector('script[src="/app.js"]').type);
    return { ok: type === 'module' && mods.includes('/js/api.js') && mods.includes('/js/router.js')
                 && mods.includes('/js/events.js') && mods.includes('/js/uploads.js')
                 && mods.includes('/js/player.js') && mods.some((m) => m.startsWith('/js/views/')),
             diag: `${type}: ${mods.join(' ')}` };
  });

  await check('index.html and the modules are served no-cache with an ETag, and revalidated (304)', async () => {
    const heads = {};
    for (const p of ['/', '/assets/00000000-0000-0000-0000-000000000000', '/app.js', '/js/api.js', '/app.css']) {
      const r = await fetch(BASE + p);
      heads[p] = [r.status, r.headers.get('cache-control'), r.headers.get('etag')];
    }
    const again = await fetch(BASE + '/js/api.js', { headers: { 'If-None-Match': heads['/js/api.js'][2] } });
    // and the browser itself asks again on a reload: 304, not an old copy
    const revalidated = [];
    const seen = async (r) => {
      if (!/\/app\.js$|\/js\/api\.js$/.test(r.url())) return;
      revalidated.push(`${r.status()} ${(await r.request().allHeaders())['if-none-match'] ? 'INM' : '-'}`);
    };
    page.on('response', seen);
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    page.off('response', seen);
    const good = Object.values(heads).every(([st, cc, etag]) => st === 200 && cc === 'no-cache' && /^(W\/)?"/.test(etag || ''));
    return { ok: good && again.status === 304 && revalidated.length >= 2
                 && revalidated.every((x) => x.startsWith('304') || x.endsWith('INM')),
             diag: JSON.stringify({ heads, again: again.status, revalidated }) };
  });

  await check('a readable message, never raw JSON, for a wrong password', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login');
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByLabel('Password').fill('wrong horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const msg = await page.getByRole('alert').textContent({ timeout: 10000 });
    await page.getByText('invalid email or password').waitFor();
    return !/[{}"]/.test(msg);
  });

  await check('sign in, and a reload stays signed in (silent refresh by cookie)', async () => {
    await page.getByLabel('Password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(BASE + '/');
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return (await page.url()) === BASE + '/';
  });

  await check('the access token is refreshed silently before it expires', async () => {
    // this stack's access tokens live 60 s: the app refreshes 10 s in
    const refreshed = page.waitForRequest('**/auth/refresh', { timeout: 20000 });
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const t0 = Date.now();
    await page.waitForRequest('**/auth/refresh', { timeout: 20000 });
    await refreshed;
    return { ok: Date.now() - t0 >= 5000, diag: `after ${Date.now() - t0} ms` };
  });

  await check('the access token is kept in memory only', async () => {
    const stored = await page.evaluate(() => JSON.stringify(localStorage) + document.cookie);
    return !/eyJ/.test(stored);
  });

  // --- upload --------------------------------------------------------------
  await check('upload two files at once: a progress bar each, then create + promote', async () => {
    await page.getByRole('link', { name: 'Upload' }).first().click();
    await page.waitForURL('**/upload');
    await page.locator('#file').setInputFiles([process.env.MEDIA, process.env.MEDIA2]);
    const items = page.locator('#uploads li');
    await items.nth(1).waitFor();
    await page.locator('#uploads progress').first().waitFor();
    await page.screenshot({ path: `${SHOTS}/upload.png` });
    await page.locator('#uploads li.done').nth(1).waitFor({ timeout: 60000 });
    return (await items.count()) === 2;
  });

  await check('files dropped on the drop zone upload too', async () => {
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['not really a video'], 'dropped.mp4', { type: 'video/mp4' }));
      return d;
    });
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await page.locator('#uploads li.done', { hasText: 'dropped.mp4' }).waitFor();
    return true;
  });

  await check('a refused file (415) shows why, and no Retry (trying again cannot help)', async () => {
    // a PDF is not video or audio: the presign refuses it (415)
    await page.locator('#file').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf',
                                               buffer: Buffer.from('%PDF-1.4') });
    const li = page.locator('#uploads li.failed', { hasText: 'notes.pdf' });
    await li.waitFor();
    const text = await li.textContent();
    return { ok: /not supported/.test(text) && await li.locator('button.retry').count() === 0, diag: text };
  });

  await check('a failure that may pass (503) offers Retry, which uploads the file', async () => {
    let refused = 0;
    const presign = (u) => u.pathname === '/api/presign';
    await page.route(presign, (r) => {
      if (refused++) return r.continue();
      return r.fulfill({ status: 503, contentType: 'application/json',
                         body: '{"error":"unavailable","message":"service temporarily unavailable"}' });
    });
    await page.locator('#file').setInputFiles({ name: 'again.mp4', mimeType: 'video/mp4',
                                               buffer: Buffer.from('not really a video either') });
    const li = page.locator('#uploads li', { hasText: 'again.mp4' });
    await li.locator('button.retry').click();
    await page.locator('#uploads li.done', { hasText: 'again.mp4' }).waitFor();
    await page.unroute(presign);
    return true;
  });

  // --- live status and the player -------------------------------------------
  await check('the asset page follows the preview over SSE and switches to the player', async () => {
    await page.locator('#uploads li.done a.open').first().click();
    await page.waitForURL(/\/assets\//);
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 120000 });
    return await page.locator('video#video').isVisible();
  });

  await check('the quality menu offers Auto and each rendition', async () => {
    const opts = await page.locator('#quality option').allTextContents();
    return { ok: opts[0] === 'Auto' && opts.includes('720p') && opts.includes('360p') && opts.length === 4,
             diag: opts.join(', ') };
  });

  await check('hls.js plays from the signed URL', async () => {
    await page.evaluate(() => document.querySelector('video').play());
    await page.waitForFunction(() => document.querySelector('video').currentTime > 0.5, null, { timeout: 30000 });
    return true;
  });

  await check('keyboard: space pauses, arrows seek 5 s', async () => {
    await page.locator('h1').click();
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelector('video').paused);
    // from the start: the clip is short, and 5 s on from wherever a loaded
    // machine let playback get to could be clamped at its end
    await page.evaluate(() => { document.querySelector('video').currentTime = 0; });
    await page.waitForFunction(() => { const v = document.querySelector('video'); return !v.seeking && v.currentTime < 0.1; });
    const t0 = await page.evaluate(() => document.querySelector('video').currentTime);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((t) => document.querySelector('video').currentTime >= t + 4, t0);
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction((t) => Math.abs(document.querySelector('video').currentTime - t) < 1, t0);
    return true;
  });

  await check('F toggles fullscreen', async () => {
    await page.locator('h1').click();
    await page.keyboard.press('f');
    await page.waitForFunction(() => document.fullscreenElement !== null, null, { timeout: 5000 });
    await page.keyboard.press('f');
    await page.waitForFunction(() => document.fullscreenElement === null, null, { timeout: 5000 });
    return true;
  });

  await check('the signed URL is renewed and playback requests use the newest one', async () => {
    const sigs = new Set();
    const seen = (r) => { const m = r.url().match(/\/s\/\d+(?:\.\d+)?\/([A-Za-z0-9_-]{43})\//); if (m) sigs.add(m[1]); };
    await page.evaluate(() => localStorage.setItem('mam-renew-ms', '1200'));
    await page.reload();
    page.on('request', seen);
    await page.locator('#stage[data-ready="1"]').waitFor();
    await page.evaluate(() => { const v = document.querySelector('video'); v.currentTime = 0; return v.play(); });
    await page.waitForTimeout(3000);
    // another rendition: its playlist and segments come through the renewed prefix
    await page.locator('#quality').selectOption({ label: '360p' });
    await page.waitForTimeout(2000);
    page.off('request', seen);
    await page.evaluate(() => { localStorage.removeItem('mam-renew-ms'); document.querySelector('video').pause(); });
    return { ok: sigs.size >= 2, diag: `signatures seen: ${sigs.size}` };
  });

  await check('the metadata panel shows duration, resolution, codecs and encoder', async () => {
    const text = await page.locator('#metadata').textContent();
    return { ok: /1280×720/.test(text) && /h264/.test(text) && /libx264/.test(text) && /0:05/.test(text),
             diag: text };
  });

  await check('the versions list shows v1 ready', async () => {
    const text = await page.locator('#versions').textContent();
    return { ok: /v1 · ready/.test(text), diag: text };
  });

  // --- comments --------------------------------------------------------------
  await check('a comment at the current time, shown as hh:mm:ss.ff, with a timeline marker', async () => {
    await page.evaluate(() => { document.querySelector('video').currentTime = 2.0; });
    await page.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 2) < 0.05);
    await page.getByLabel('Comment', { exact: true }).fill('Cut here');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await page.locator('#comments li', { hasText: 'Cut here' }).waitFor();
    const tc = await page.locator('#comments li', { hasText: 'Cut here' }).locator('.tc').textContent();
    await page.locator('#timeline .marker').first().waitFor();
    return { ok: tc === '00:00:02:00', diag: tc };
  });

  await check('comments are sorted by time; clicking one seeks there', async () => {
    await page.evaluate(() => { document.querySelector('video').currentTime = 1.0; });
    await page.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 1) < 0.05);
    await page.getByLabel('Comment', { exact: true }).fill('Earlier');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await page.locator('#comments li', { hasText: 'Earlier' }).waitFor();
    const order = await page.locator('#comments li strong + div').allTextContents();
    await page.locator('#comments li', { hasText: 'Cut here' }).locator('.tc').click();
    await page.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 2) < 0.1);
    await page.screenshot({ path: `${SHOTS}/player.png` });
    return order[0] === 'Earlier' && order[1] === 'Cut here';
  });

  await check('comments are loaded page by page, following next_cursor', async () => {
    // one comment a page: the list shows all three only if every cursor is followed
    const asked = [];
    const paged = (url) => /\/api\/assets\/[^/]+\/comments\?/.test(url.href);
    await page.route(paged, (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const u = new URL(route.request().url());
      u.searchParams.set('limit', '1');
      asked.push(u.searchParams.get('cursor') ? 'cursor' : 'first');
      return route.continue({ url: u.toString() });
    });
    await page.evaluate(() => { document.querySelector('video').currentTime = 3.0; });
    await page.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 3) < 0.05);
    await page.getByLabel('Comment', { exact: true }).fill('Paged');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await page.locator('#comments li', { hasText: 'Paged' }).waitFor();
    await page.unroute(paged);
    const order = await page.locator('#comments li strong + div').allTextContents();
    return { ok: order.join('|') === 'Earlier|Cut here|Paged' && asked.filter((a) => a === 'cursor').length >= 2,
             diag: JSON.stringify({ order, asked }) };
  });

  await check('delete one\'s own comment, after a confirmation', async () => {
    await page.locator('#comments li', { hasText: 'Earlier' }).locator('button.delete').click();
    await page.locator('dialog#confirm').getByRole('button', { name: 'Cancel' }).click();
    const kept = await page.locator('#comments li', { hasText: 'Earlier' }).count();
    await page.locator('#comments li', { hasText: 'Earlier' }).locator('button.delete').click();
    await page.locator('dialog#confirm').getByRole('button', { name: 'Delete comment' }).click();
    await page.locator('#comments li', { hasText: 'Earlier' }).waitFor({ state: 'detached' });
    return { ok: kept === 1, diag: `${kept} after Cancel` };
  });

  // --- live: one stream per page -----------------------------------------------
  const assetId = page.url().split('/assets/')[1];
  const cleoSays = async (content, at = 0.5) => (await call('POST', `/api/assets/${assetId}/comments`,
    { timestamp_sec: at, content }, await tokenOf('cleo@example.com'))).json.comment;

  await check('the asset page holds one event stream, of its asset', async () => {
    const open = await openStreams(page);
    return { ok: open.length === 1 && open[0].includes(`asset_id=${assetId}`) && open[0].includes('ticket='),
             diag: JSON.stringify(open) };
  });

  await check("another person's comment appears on the open asset, and goes when deleted", async () => {
    const c = await cleoSays('From Cleo, live');
    const li = page.locator('#comments li', { hasText: 'From Cleo, live' });
    await li.waitFor({ timeout: 10000 });
    const who = await li.locator('strong').textContent();
    await call('DELETE', `/api/comments/${c.id}`, undefined, await tokenOf('ada@example.com'));
    await li.waitFor({ state: 'detached', timeout: 10000 });
    return { ok: who === 'Cleo Client', diag: who };
  });

  await check('after the server ends the stream (token expiry) it is opened again with a fresh ticket', async () => {
    // this stack's tokens live 60 s, and a stream as long as its token
    const mine = () => streamUrls.filter((u) => u.includes(assetId));
    const before = mine().length;
    const t0 = Date.now();
    while (mine().length <= before && Date.now() - t0 < 80000) await page.waitForTimeout(500);
    const tickets = mine().map((u) => new URL(u).searchParams.get('ticket'));
    await page.waitForTimeout(1500);
    await cleoSays('After the reconnection', 1);
    await page.locator('#comments li', { hasText: 'After the reconnection' }).waitFor({ timeout: 10000 });
    const open = await openStreams(page);
    return { ok: tickets.length > before && new Set(tickets).size === tickets.length && open.length === 1,
             diag: `${tickets.length} connections, ${new Set(tickets).size} tickets, ${open.length} open` };
  });

  await check('a new version is announced on its page', async () => {
    const t = await tokenOf('ada@example.com');
    const key = await stage(t, process.env.MEDIA2, 'first-v2.mp4');
    await call('PATCH', `/api/assets/${assetId}`, { staging_key: key }, t);
    const v = await call('POST', '/api/promote', { asset_id: assetId }, t);
    const note = page.locator('#new-version');
    await note.waitFor({ timeout: 10000 });
    const text = await note.textContent();
    await note.getByRole('button', { name: 'Show the new version' }).click();
    await page.locator('#versions li', { hasText: 'v2' }).waitFor();
    return { ok: v.status === 201 && /new version \(v2\)/.test(text), diag: `${v.status} ${text}` };
  });

  // --- grid: search, posters, infinite scroll -------------------------------
  await check('grid tiles follow their previews live: status, then the poster', async () => {
    const t = await tokenOf('ada@example.com');
    const key = await stage(t, process.env.MEDIA2, 'live-tile.mp4');
    const a = (await call('POST', '/api/assets', { title: 'live tile', staging_key: key }, t)).json.asset;
    await page.goto(BASE + '/');
    const tile = page.locator(`#grid .tile[data-id="${a.id}"]`);
    await tile.waitFor();
    const before = await tile.locator('.badge').textContent();
    const open = await openStreams(page);
    await call('POST', '/api/promote', { asset_id: a.id }, t);
    const seen = new Set();
    const badge = tile.locator('.badge');
    const t0 = Date.now();
    while (!(await tile.locator('img').count()) && Date.now() - t0 < 90000) {
      seen.add((await badge.textContent()).replace(/ \d+ %$/, ''));
      await page.waitForTimeout(100);
    }
    seen.add(await badge.textContent());
    const img = await tile.locator('img').count();
    return { ok: before === 'none' && img === 1 && seen.has('ready') && (seen.has('queued') || seen.has('processing'))
                 && open.length === 1 && !open[0].includes('asset_id'),
             diag: JSON.stringify({ before, seen: [...seen], img, open }) };
  });

  await check('the grid shows poster thumbnails once previews are ready', async () => {
    await page.goto(BASE + '/');
    await page.locator('#grid .tile img').first().waitFor({ timeout: 30000 });
    return true;
  });

  await check('search as you type filters the grid', async () => {
    await page.getByLabel('Search assets').fill('secon');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1);
    const t = await page.locator('#grid .tile strong').textContent();
    await page.getByLabel('Search assets').fill('zzzz-nothing');
    await page.getByText('No asset matches your search.').waitFor();
    await page.getByLabel('Search assets').fill('');
    return t === 'second';
  });

  await check('an API failure shows a readable error state with retry', async () => {
    const assetsList = (u) => u.pathname === '/api/assets';
    await page.route(assetsList, (r) => r.fulfill({ status: 503, contentType: 'application/json',
      body: '{"error":"unavailable","message":"service temporarily unavailable"}' }));
    await page.goto(BASE + '/');
    const state = page.locator('#grid-state');
    await state.getByRole('button', { name: 'Retry' }).waitFor();
    const text = await state.textContent();
    await page.unroute(assetsList);
    await state.getByRole('button', { name: 'Retry' }).click();
    await page.locator('#grid .tile').first().waitFor();
    return { ok: /temporarily unavailable/.test(text) && !/[{}"]/.test(text), diag: text };
  });

  await check('infinite scroll loads the next page with the cursor', async () => {
    await page.goto(BASE + '/');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length >= 24);
    await page.screenshot({ path: `${SHOTS}/grid.png` });
    await page.mouse.wheel(0, 20000);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length > 24, null, { timeout: 20000 });
    return true;
  });

  // --- resumable uploads -----------------------------------------------------
  const progressOf = (name) => page.evaluate((n) => {
    const li = [...document.querySelectorAll('#uploads li')].find((l) => l.textContent.includes(n));
    const bar = li && li.querySelector('progress');
    return bar ? bar.value : 0;
  }, name);
  const waitProgress = (name, least) => page.waitForFunction(([n, v]) => {
    const li = [...document.querySelectorAll('#uploads li')].find((l) => l.textContent.includes(n));
    const bar = li && li.querySelector('progress');
    return bar && bar.value >= v;
  }, [name, least], { polling: 20, timeout: 60000 });

  await check('a large file goes in tus chunks and continues after a reload', async () => {
    await page.goto(BASE + '/upload');
    await page.locator('#file').setInputFiles(process.env.BIG_A);
    await waitProgress('resume-a', 0.3);
    await page.reload();
    await page.locator('#drop').waitFor();
    await page.locator('#file').setInputFiles(process.env.BIG_A);
    await waitProgress('resume-a', 0.0001);
    const first = await progressOf('resume-a');
    await page.locator('#uploads li.done', { hasText: 'resume-a' }).waitFor({ timeout: 60000 });
    const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mam-upload:')));
    return { ok: first >= 0.19 && saved.length === 0,
             diag: `the bar began again at ${first}; saved: ${saved}` };
  });

  await check('a dropped network pauses the upload, which then finishes', async () => {
    await page.locator('#file').setInputFiles(process.env.BIG_B);
    await waitProgress('resume-b', 0.2);
    await ctx.setOffline(true);
    await new Promise((r) => setTimeout(r, 1500));
    const during = await progressOf('resume-b');
    await ctx.setOffline(false);
    await page.locator('#uploads li.done', { hasText: 'resume-b' }).waitFor({ timeout: 90000 });
    return { ok: during < 1, diag: `progress while offline ${during}` };
  });

  // --- the upload tray ------------------------------------------------------------
  const cdp = await ctx.newCDPSession(page);
  const throttle = (bytesPerSec) => cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSec });
  const trayItem = (name) => page.locator('#tray #uploads li', { hasText: name }).last();

  await check('an upload continues in the tray while the person moves around the app', async () => {
    await page.goto(BASE + '/upload');
    await throttle(6 * 1024 * 1024);
    await page.locator('#file').setInputFiles(process.env.BIG_C);
    await waitProgress('resume-c', 0.05);
    await page.getByRole('link', { name: 'Assets' }).first().click();
    await page.waitForURL(BASE + '/');
    const p1 = await progressOf('resume-c');
    await page.locator('#grid .tile').first().click();
    await page.waitForURL(/\/assets\//);
    await page.screenshot({ path: `${SHOTS}/tray.png` });
    await throttle(-1);
    await trayItem('resume-c').and(page.locator('li.done')).waitFor({ timeout: 60000 });
    return { ok: p1 > 0 && p1 < 1, diag: `progress on the grid ${p1}` };
  });

  await check('a page unload with an upload running asks first', async () => {
    await page.goto(BASE + '/upload');
    await page.locator('h1').click();           // a person's gesture: the browser may ask
    await throttle(3 * 1024 * 1024);
    await page.locator('#file').setInputFiles(process.env.CANCEL_ME);
    await waitProgress('cancel-me', 0.02);
    const idle = await page.evaluate(() => {
      const e = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    });
    dialogAnswer = 'dismiss';
    const n = dialogs.length;
    await page.reload({ timeout: 4000 }).catch(() => {});
    dialogAnswer = 'accept';
    const stayed = await trayItem('cancel-me').and(page.locator('li.running')).count();
    return { ok: idle && dialogs.slice(n).includes('beforeunload') && stayed === 1,
             diag: JSON.stringify({ prevented: idle, dialogs: dialogs.slice(n), stayed }) };
  });

  await check('cancel in the tray ends the upload on the server (tus DELETE)', async () => {
    // the interrupted PATCH may hold the upload a moment (423): asked again
    const deletes = [];
    const seen = (r) => { if (r.request().method() === 'DELETE' && r.url().includes('/upload/')) deletes.push(r); };
    page.on('response', seen);
    await trayItem('cancel-me').getByRole('button', { name: /Cancel the upload/ }).click();
    await trayItem('cancel-me').and(page.locator('li.cancelled')).waitFor({ timeout: 30000 });
    page.off('response', seen);
    await throttle(-1);
    const res = deletes[deletes.length - 1];
    const head = await call('HEAD', res.url(), undefined, await tokenOf('ada@example.com'),
                            false, { 'Tus-Resumable': '1.0.0' });
    const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mam-upload:')));
    const idle = await page.evaluate(() => {
      const e = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    });
    return { ok: res.status() === 204 && [404, 410].includes(head.status) && saved.length === 0 && !idle,
             diag: JSON.stringify({ deletes: deletes.map((r) => r.status()), head: head.status, saved, idle }) };
  });

  // --- asset actions ---------------------------------------------------------------
  const dropped = (await call('GET', '/api/assets?q=dropped', undefined, await tokenOf('ada@example.com'))).json.items[0];

  await check('retry a failed preview from the asset page (POST /api/preview)', async () => {
    await page.goto(`${BASE}/assets/${dropped.id}`);
    await page.locator('#preview-failed').waitFor({ timeout: 60000 });
    const asked = page.waitForResponse((r) => r.url().endsWith('/api/preview') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Retry the preview' }).click();
    const res = await asked;
    // queued again, then (it is no video) failed again, live
    await page.locator('#preview-failed').waitFor({ timeout: 60000 });
    const jobs = (await call('GET', `/api/preview/status?asset_id=${dropped.id}`, undefined,
                             await tokenOf('ada@example.com'))).json;
    return { ok: res.status() === 202 && jobs.job_id !== dropped.latest_version.preview.job_id,
             diag: `${res.status()} ${JSON.stringify(jobs)}` };
  });

  await check('the owner edits the title and description', async () => {
    await page.getByRole('button', { name: 'Edit title and description' }).click();
    await page.getByLabel('Title').fill('dropped, renamed');
    await page.getByLabel('Description').fill('Not really a video.');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('h1', { hasText: 'dropped, renamed' }).waitFor();
    await page.reload();
    await page.locator('h1', { hasText: 'dropped, renamed' }).waitFor();
    return await page.locator('#asset-description').textContent() === 'Not really a video.';
  });

  await check('a viewer sees no asset actions', async () => {
    const v = await newPage();
    await v.page.goto(BASE + '/login');
    await v.page.getByLabel('Email').fill('cleo@example.com');
    await v.page.getByLabel('Password').fill(PW);
    await v.page.getByRole('button', { name: 'Sign in' }).click();
    await v.page.waitForURL(BASE + '/');
    await v.page.goto(`${BASE}/assets/${dropped.id}`);
    await v.page.locator('#preview-failed').waitFor({ timeout: 30000 });
    const n = await v.page.locator('#asset-actions, #retry-preview').count();
    const form = await v.page.getByRole('button', { name: 'Comment', exact: true }).count();
    await v.ctx.close();
    return { ok: n === 0 && form === 1, diag: `${n} actions` };
  });

  await check('delete asks for confirmation, then removes the asset', async () => {
    await page.getByRole('button', { name: 'Delete asset' }).click();
    await page.locator('dialog#confirm').getByRole('button', { name: 'Cancel' }).click();
    const still = (await call('GET', `/api/assets/${dropped.id}`, undefined, await tokenOf('ada@example.com'))).status;
    await page.getByRole('button', { name: 'Delete asset' }).click();
    await page.locator('dialog#confirm').getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(BASE + '/');
    const gone = (await call('GET', `/api/assets/${dropped.id}`, undefined, await tokenOf('ada@example.com'))).status;
    return { ok: still === 200 && gone === 404, diag: `${still} then ${gone}` };
  });

  // --- admin and a pending account ----------------------------------------
  const other = await newPage();
  await check('a new account in approval mode sees that it awaits approval', async () => {
    const p = other.page;
    await p.goto(BASE + '/register');
    await p.getByLabel('Name').fill('Pat Pending');
    await p.getByLabel('Email').fill('pat@example.com');
    await p.getByLabel(/Password/).fill(PW);
    await p.getByRole('button', { name: 'Register' }).click();
    await p.locator('#pending').waitFor();
    await p.goto(BASE + '/login');
    await p.getByLabel('Email').fill('pat@example.com');
    await p.getByLabel('Password').fill(PW);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByText(/awaits approval/).waitFor();
    return true;
  });

  await check('the admin approves the pending user and changes roles', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    const row = page.locator('#users tr[data-email="pat@example.com"]');
    await row.locator('button.approve').click();
    await row.locator('select.status').locator('option[value="active"][selected]').waitFor({ state: 'attached' });
    await page.locator('#users tr[data-email="pat@example.com"] select.role').selectOption('viewer');
    await page.locator('dialog#confirm').getByRole('button', { name: 'Change role' }).click();
    await page.getByText('Saved pat@example.com').last().waitFor();
    await page.screenshot({ path: `${SHOTS}/admin.png` });
    const p = other.page;
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(BASE + '/');
    return !(await p.getByRole('link', { name: 'Upload' }).count());
  });

  // --- theme, mobile ------------------------------------------------------------
  await check('the theme toggle switches to dark and is remembered', async () => {
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.getByRole('button', { name: 'Toggle dark mode' }).click();
    await page.reload();
    const after = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.goto(BASE + '/');
    await page.locator('#grid .tile').first().waitFor();
    // posters for the screenshot; a loaded machine may be slow to show them
    await page.locator('#grid .tile img').first().waitFor({ timeout: 60000 }).catch(() => {});
    await page.screenshot({ path: `${SHOTS}/dark.png` });
    return before === 'light' && after === 'dark';
  });

  await check('the system preference decides before a choice is made', async () => {
    const d = await newPage(1280, 800, 'dark');
    await d.page.goto(BASE + '/login');
    const t = await d.page.evaluate(() => document.documentElement.dataset.theme);
    await d.ctx.close();
    return t === 'dark';
  });

  await check('at 375 px wide nothing overflows and the player page works', async () => {
    const m = await newPage(375, 812);
    await m.page.goto(BASE + '/login');
    await m.page.getByLabel('Email').fill('ada@example.com');
    await m.page.getByLabel('Password').fill(PW);
    await m.page.getByRole('button', { name: 'Sign in' }).click();
    await m.page.waitForURL(BASE + '/');
    await m.page.locator('#grid .tile').first().waitFor();
    const overflow = await m.page.evaluate(() => document.documentElement.scrollWidth > innerWidth + 1);
    await m.page.screenshot({ path: `${SHOTS}/mobile.png` });
    await m.ctx.close();
    return !overflow;
  });

  await check('every control is labelled (no unnamed buttons, inputs or selects)', async () => {
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
      .filter((el) => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80)));
    if (unnamed.length) console.log(`# unnamed: ${unnamed.join(' | ')}`);
    return unnamed.length === 0;
  });

  await check('the SPA ran under its Content-Security-Policy without a violation', async () => {
    if (cspViolations.length) console.log(`# ${cspViolations.join('\n# ')}`);
    return cspViolations.length === 0;
  });

  await ctx.close();
  await other.ctx.close();
} finally {
  await browser.close();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}
