// Browser tests of the SPA: playwright-core driving Debian's chromium,
// headless, against the real stack that t/70-browser.t started.  Prints
// TAP.  Environment: BASE (http://127.0.0.1:PORT), MEDIA (a short mp4),
// MEDIA2, SHOTS (screenshot folder), CHROMIUM (the browser).
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

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

try {
  const { ctx, page } = await newPage();

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

  await check('a failed upload shows its error and a retry button', async () => {
    // a PDF is not video or audio: the presign refuses it (415)
    await page.locator('#file').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf',
                                               buffer: Buffer.from('%PDF-1.4') });
    const li = page.locator('#uploads li.failed');
    await li.waitFor();
    const text = await li.textContent();
    return /not supported|must be video/.test(text) && await li.locator('button.retry').isVisible();
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
    const seen = (r) => { const m = r.url().match(/\/s\/\d+\/([A-Za-z0-9_-]{43})\//); if (m) sigs.add(m[1]); };
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
    return tc === '00:00:02.00';
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

  await check('delete one\'s own comment', async () => {
    await page.locator('#comments li', { hasText: 'Earlier' }).locator('button.delete').click();
    await page.locator('#comments li', { hasText: 'Earlier' }).waitFor({ state: 'detached' });
    return true;
  });

  // --- grid: search, posters, infinite scroll -------------------------------
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
