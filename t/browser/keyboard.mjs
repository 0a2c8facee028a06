// The SPA by keyboard and for every account: playwright-core driving
// Debian's chromium, headless, against the stack t/72-browser-keyboard.t
// started.  Prints TAP.  Environment: BASE, SMALL (a short mp4), CLOCK (a
// ready 14 s video at 24 fps), TONE (a ready audio-only asset).
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { AXE, axeViolations } from './axe.mjs';

const BASE = process.env.BASE;
const CLOCK = process.env.CLOCK;
const TONE = process.env.TONE;
const PW = 'correct horse battery';
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

const contexts = [];
async function newPage(opts = {}) {
  const { width = 1280, height = 900, ...rest } = opts;
  const ctx = await browser.newContext({ viewport: { width, height }, ...rest });
  contexts.push(ctx);
  await ctx.addInitScript({ content: AXE });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  // file choosers are caught from the start (a listener added just before
  // a key press may come too late to catch it)
  page.on('filechooser', () => {});
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}

// the API from the test itself, as another person would
async function call(method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(new URL(path, BASE), { method, headers,
                                               body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await r.json(); } catch (e) { /* no body */ }
  return { status: r.status, json };
}
const tokenOf = async (email) => (await call('POST', '/auth/login', { email, password: PW })).json.access_token;
const userId = async (email) => (await call('GET', '/api/users', undefined, await tokenOf('ada@example.com')))
  .json.items.find((u) => u.email === email).id;

// Tab until the focus is on what matches sel (at most max presses)
async function tabTo(page, sel, max = 40, key = 'Tab') {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    if (await page.evaluate((s) => !!document.activeElement && document.activeElement.matches(s), sel)) return;
  }
  const at = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 80));
  throw new Error(`Tab never reached ${sel} (focus on ${at})`);
}

// sign in with the keyboard only: Tab to each field, Enter to submit
async function keyboardSignIn(page, email) {
  await page.locator('#f-email').waitFor();
  await tabTo(page, '#f-email');
  await page.keyboard.type(email);
  await tabTo(page, '#f-password');
  await page.keyboard.type(PW);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function signIn(page, email, path = '/') {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  if (path !== '/') await page.goto(BASE + path);
}

// axe-core on the page as it is: violations of serious or critical impact
const axeSeen = [];
async function axeCheck(page, screen) {
  const r = await axeViolations(page);
  axeSeen.push(screen);
  return { ok: r.length === 0, diag: `${screen}: ${r.join('\n')}` };
}

const media = (p) => p.evaluate(() => {
  const m = document.querySelector('#video, #audio');
  return m ? { paused: m.paused, t: m.currentTime, d: m.duration } : null;
});

try {
  // --- sign in ------------------------------------------------------------------
  const page = await newPage();
  await check('a visit to the sign-in page asks nothing that fails (no 401 in the console)', async () => {
    const refreshes = [];
    page.on('request', (r) => { if (r.url().endsWith('/auth/refresh')) refreshes.push(r.url()); });
    await page.goto(BASE + '/login');
    await page.locator('#f-email').waitFor();
    await page.reload();
    await page.locator('#f-email').waitFor();
    await page.waitForTimeout(300);
    return { ok: page.errors.length === 0 && refreshes.length === 0,
             diag: JSON.stringify({ errors: page.errors, refreshes }) };
  });
  await check('axe: the sign-in page', () => axeCheck(page, 'sign-in'));
  await check('axe: the register page', async () => {
    await page.goto(BASE + '/register');
    await page.locator('#f-display_name').waitFor();
    return axeCheck(page, 'register');
  });

  await check('keyboard only: sign in (Tab, type, Enter) lands on the grid', async () => {
    await page.goto(BASE + '/login');
    await keyboardSignIn(page, 'eddie@example.com');
    await page.locator('#grid .tile').first().waitFor();
    return page.url() === BASE + '/';
  });

  await check('no "null" in the top bar of an editor', async () => {
    const text = await page.locator('header.top').textContent();
    return { ok: !/null/.test(text) && /Upload/.test(text) && !/Users/.test(text), diag: text };
  });
  await check('axe: the grid', () => axeCheck(page, 'grid'));

  // --- focus after a direct link -----------------------------------------------
  await check('no focus ring around the content after a direct link or a reload', async () => {
    await page.goto(`${BASE}/assets/${CLOCK}`);
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    await page.reload();
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    const rings = await page.evaluate(() => [document.activeElement, document.querySelector('main'),
                                             document.querySelector('main h1')]
      .filter((el) => el && el !== document.body)
      .map((el) => [el.tagName, getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineWidth])
      .filter(([, st, w]) => st !== 'none' && w !== '0px'));
    return { ok: rings.length === 0, diag: JSON.stringify(rings) };
  });

  await check('a navigation moves the focus to the new page\'s heading, without a ring', async () => {
    await page.getByRole('link', { name: 'Assets' }).first().click();
    await page.locator('#grid .tile').first().waitFor();
    const f = await page.evaluate(() => ({ tag: document.activeElement.tagName, text: document.activeElement.textContent,
                                           outline: getComputedStyle(document.activeElement).outlineStyle }));
    return { ok: f.tag === 'H1' && f.text === 'Assets' && f.outline === 'none', diag: JSON.stringify(f) };
  });

  // --- upload by keyboard ---------------------------------------------------------
  await check('keyboard only: Tab reaches the drop zone\'s picker, Enter opens it, the file uploads', async () => {
    await page.getByRole('link', { name: 'Upload' }).first().click();
    await page.locator('#drop').waitFor();
    await tabTo(page, '#file');
    const display = await page.evaluate(() => getComputedStyle(document.querySelector('#file')).display);
    const within = await page.evaluate(() => document.querySelector('#drop').matches(':focus-within'));
    const chooser = page.waitForEvent('filechooser', { timeout: 5000 });
    await page.keyboard.press('Enter');
    await (await chooser).setFiles(process.env.SMALL);
    await page.locator('#uploads li.done', { hasText: 'small.mp4' }).waitFor({ timeout: 30000 });
    // Space opens it too
    const again = page.waitForEvent('filechooser', { timeout: 5000 });
    await page.locator('#file').focus();
    await page.keyboard.press(' ');
    await again;
    return { ok: display !== 'none' && within, diag: JSON.stringify({ display, within }) };
  });
  await check('axe: the upload page with the tray', () => axeCheck(page, 'upload'));

  await check('a refused file (415) offers no Retry', async () => {
    await page.locator('#file').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf',
                                               buffer: Buffer.from('%PDF-1.4') });
    const li = page.locator('#uploads li.failed', { hasText: 'notes.pdf' });
    await li.waitFor();
    const text = await li.textContent();
    return { ok: /not supported/.test(text) && await li.locator('button.retry').count() === 0, diag: text };
  });

  // --- the player's keys ------------------------------------------------------------
  await check('Space on a focused button presses it, and leaves the player alone', async () => {
    await page.goto(`${BASE}/assets/${CLOCK}`);
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    await page.waitForFunction(() => document.querySelector('#video').readyState >= 1);
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.locator('#theme').focus();
    await page.keyboard.press(' ');
    await page.waitForTimeout(300);
    const after = await page.evaluate(() => document.documentElement.dataset.theme);
    const m = await media(page);
    await page.keyboard.press(' ');               // back to the first theme
    return { ok: before !== after && m.paused, diag: JSON.stringify({ before, after, m }) };
  });

  await check('Space with the focus on the page plays and pauses', async () => {
    await page.locator('h1').click();
    await page.keyboard.press(' ');
    await page.waitForFunction(() => !document.querySelector('#video').paused);
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelector('#video').paused);
    return true;
  });

  await check('after clicking the video, Space toggles once (not twice)', async () => {
    await page.evaluate(() => { window.__toggles = 0;
      const v = document.querySelector('#video');
      v.addEventListener('play', () => window.__toggles++);
      v.addEventListener('pause', () => window.__toggles++); });
    await page.locator('#video').click({ position: { x: 100, y: 60 } });
    await page.waitForTimeout(500);
    const s0 = await page.evaluate(() => ({ paused: document.querySelector('#video').paused, n: window.__toggles,
                                            focus: document.activeElement.id }));
    await page.keyboard.press(' ');
    await page.waitForTimeout(700);
    const s1 = await page.evaluate(() => ({ paused: document.querySelector('#video').paused, n: window.__toggles }));
    await page.evaluate(() => document.querySelector('#video').pause());
    return { ok: s1.n - s0.n === 1 && s1.paused !== s0.paused, diag: JSON.stringify({ s0, s1 }) };
  });

  await check('the timeline slider has aria-valuemin/max/now and a timecode as valuetext', async () => {
    await page.evaluate(() => { document.querySelector('#video').currentTime = 12.48; });
    await page.waitForFunction(() => Math.abs(document.querySelector('#video').currentTime - 12.48) < 0.01);
    await page.waitForFunction(() => document.querySelector('#timeline').getAttribute('aria-valuenow') === '12.48');
    const a = await page.evaluate(() => Object.fromEntries(['min', 'max', 'now', 'text']
      .map((k) => [k, document.querySelector('#timeline').getAttribute(`aria-value${k}`)])));
    return { ok: a.min === '0' && Math.abs(Number(a.max) - 14) < 0.2 && a.now === '12.48'
                 && /^00:00:12:11 of 00:00:1[34]:/.test(a.text), diag: JSON.stringify(a) };
  });

  await check('timecodes count frames at the version\'s rate: 12.48 s at 24 fps is 00:00:12:11', async () => {
    await page.locator('#comment-text').focus();
    const at = await page.locator('#comment-at').inputValue();
    const format = await page.locator('#tc-format').textContent();
    const unit = await page.evaluate(async () => {
      const { timecode } = await import('/js/dom.js');
      return [timecode(12.48, 25), timecode(12.48, 30), timecode(12.48, 0), timecode(3725.5, 25)];
    });
    return { ok: at === '00:00:12:11' && /frames, at 24 frames a second/.test(format)
                 && unit.join(' ') === '00:00:12:12 00:00:12:14 00:00:12.480 01:02:05:12',
             diag: JSON.stringify({ at, format, unit }) };
  });

  await check('a comment\'s time is the playhead when writing began, not at submit', async () => {
    await page.locator('#comment-text').blur();
    await page.locator('#comment-text').fill('');
    // a fresh start: the held time is let go by a submitted comment; here
    // by a new page
    await page.reload();
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    await page.evaluate(async () => { const v = document.querySelector('#video'); v.currentTime = 2; await v.play(); });
    await page.waitForFunction(() => document.querySelector('#video').currentTime > 2.3);
    await page.locator('#comment-text').focus();
    const began = (await media(page)).t;
    const shown = await page.locator('#comment-at').inputValue();
    await page.keyboard.type('Begun here');
    await page.waitForTimeout(1200);
    const submitted = (await media(page)).t;
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await page.locator('#comments li', { hasText: 'Begun here' }).waitFor();
    await page.evaluate(() => document.querySelector('#video').pause());
    const c = (await call('GET', `/api/assets/${CLOCK}/comments`, undefined, await tokenOf('eddie@example.com')))
      .json.items.find((x) => x.content === 'Begun here');
    return { ok: Math.abs(c.timestamp_sec - began) < 0.1 && submitted - began > 0.8 && shown.startsWith('00:00:02:'),
             diag: JSON.stringify({ began, submitted, saved: c.timestamp_sec, shown }) };
  });

  await check('the person can change the comment\'s time before sending it', async () => {
    await page.locator('#comment-text').focus();
    await page.locator('#comment-at').fill('00:00:05:12');
    await page.locator('#comment-text').fill('Typed time');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    const li = page.locator('#comments li', { hasText: 'Typed time' });
    await li.waitFor();
    const tc = await li.locator('.tc').textContent();
    await page.locator('#comment-at').fill('not a time');
    await page.locator('#comment-text').fill('Bad time');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    const err = await page.locator('#comment-form .error').textContent();
    await page.locator('#comment-text').fill('');
    await page.reload();                               // the next test starts afresh
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    return { ok: tc === '00:00:05:12' && /hh:mm:ss:ff/.test(err), diag: JSON.stringify({ tc, err }) };
  });

  await check('Space on a comment\'s timecode seeks there instead of playing', async () => {
    // the list may still be drawn again after the reload (the version's
    // comments arriving): a press whose button was replaced meanwhile
    // reached the page instead, and is tried again; a press on the button
    // is judged
    let m, kept;
    for (let i = 0; i < 3; i++) {
      await page.evaluate(() => { const v = document.querySelector('#video'); v.pause(); v.currentTime = 0; });
      await page.waitForFunction(() => document.querySelector('#video').paused);
      await page.locator('#comments li', { hasText: 'Typed time' }).locator('.tc').focus();
      await page.keyboard.press(' ');
      await page.waitForTimeout(300);
      kept = await page.evaluate(() => document.activeElement.classList.contains('tc')
                                      && document.activeElement.isConnected);
      m = await media(page);
      if (kept) break;
      await page.evaluate(() => document.querySelector('#video').pause());
    }
    return { ok: kept && m.paused && Math.abs(m.t - 5.5) < 0.05, diag: JSON.stringify({ kept, ...m }) };
  });

  await check('deleting a comment asks first', async () => {
    const li = page.locator('#comments li', { hasText: 'Typed time' });
    await li.locator('button.delete').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor();
    const q = await dialog.textContent();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    const kept = await li.count();
    await li.locator('button.delete').click();
    await dialog.getByRole('button', { name: 'Delete comment' }).click();
    await li.waitFor({ state: 'detached' });
    return { ok: kept === 1 && /Typed time/.test(q), diag: q };
  });

  await check('keyboard only: play from the timeline, then write and send a comment', async () => {
    await page.evaluate(() => { document.querySelector('#video').currentTime = 1; });
    await page.locator('h1').focus();
    await tabTo(page, '#timeline');
    await page.keyboard.press('ArrowRight');           // the slider's own key: 5 s on
    await page.waitForFunction(() => Math.abs(document.querySelector('#video').currentTime - 6) < 0.2);
    await page.keyboard.press(' ');
    await page.waitForFunction(() => !document.querySelector('#video').paused);
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelector('#video').paused);
    const t = (await media(page)).t;
    await tabTo(page, '#comment-text');
    await page.keyboard.type('By keyboard');
    await tabTo(page, '#comment-form button[type="submit"]');
    await page.keyboard.press('Enter');
    await page.locator('#comments li', { hasText: 'By keyboard' }).waitFor({ timeout: 5000 }).catch(async () => {
      throw new Error(`no comment: ${await page.locator('#comment-form').innerText()} `
                      + `(${await page.locator('#comment-at').inputValue()})`);
    });
    const c = (await call('GET', `/api/assets/${CLOCK}/comments`, undefined, await tokenOf('eddie@example.com')))
      .json.items.find((x) => x.content === 'By keyboard');
    return { ok: Math.abs(c.timestamp_sec - t) < 0.05, diag: `${c.timestamp_sec} vs ${t}` };
  });

  await check('the shortcut hint shows where there is a keyboard', async () => page.getByText('Space: play/pause').isVisible());
  await check('axe: the asset page with the player and comments', () => axeCheck(page, 'asset'));

  // --- audio-only ------------------------------------------------------------------------
  await check('an audio-only asset gets an audio tile in the grid: no poster asked (no 404)', async () => {
    const posters = [];
    const seen = (r) => { if (r.url().includes(TONE) && /poster\.jpg/.test(r.url())) posters.push(r.url()); };
    page.on('request', seen);
    await page.goto(BASE + '/?q=tone');
    const tile = page.locator(`#grid .tile[data-id="${TONE}"]`);
    await tile.locator('.thumb.audio').waitFor();
    await page.waitForTimeout(500);
    page.off('request', seen);
    const img = await tile.locator('img').count();
    return { ok: img === 0 && posters.length === 0, diag: JSON.stringify({ img, posters }) };
  });

  await check('an audio-only asset plays in an audio player: no video box, no quality menu', async () => {
    await page.goto(`${BASE}/assets/${TONE}`);
    await page.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    const shape = await page.evaluate(() => ({ audio: !!document.querySelector('#audio'),
      video: !!document.querySelector('video'), quality: !!document.querySelector('#quality') }));
    await page.evaluate(() => document.querySelector('#audio').play());
    await page.waitForFunction(() => document.querySelector('#audio').currentTime > 0.3, null, { timeout: 15000 });
    await page.evaluate(() => document.querySelector('#audio').pause());
    const meta = await page.locator('#metadata').textContent();
    return { ok: shape.audio && !shape.video && !shape.quality && !/libx264/.test(meta) && /aac/.test(meta),
             diag: JSON.stringify({ shape, meta }) };
  });
  await check('axe: the audio asset page', () => axeCheck(page, 'audio asset'));

  // --- search and Back -----------------------------------------------------------------
  await check('the search is in the URL (?q=), and Back brings it back', async () => {
    await page.goto(BASE + '/');
    await page.getByLabel('Search assets').fill('clock');
    await page.waitForURL(/\?q=clock$/);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1);
    await page.locator('#grid .tile').first().click();
    await page.waitForURL(/\/assets\//);
    await page.goBack();
    await page.waitForURL(/\?q=clock$/);
    // the grid again shows the search's match (and only matches); on a
    // timeout, what the page said instead
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length >= 1)
      .catch(async (e) => {
        const seen = await page.evaluate(() => ({
          url: location.href, grid: !!document.querySelector('#grid'),
          state: document.querySelector('#grid-state')?.textContent,
          main: (document.querySelector('main') || document.body).innerText.slice(0, 300) }));
        throw new Error(`${e.message}; the page: ${JSON.stringify(seen)}`);
      });
    const value = await page.getByLabel('Search assets').inputValue();
    const titles = await page.locator('#grid .tile').allTextContents();
    return { ok: value === 'clock' && titles.every((t) => /clock/i.test(t)),
             diag: JSON.stringify({ value, titles }) };
  });

  // Back while the asset page still waits for an answer (here the
  // caller's projects, held back): when that answer comes, the asset page
  // must not draw itself over the grid shown by then
  await check('Back while an asset page loads: the grid stays, the late answer draws nothing', async () => {
    await page.goto(BASE + '/?q=clock');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1);
    let release;
    const held = new Promise((r) => { release = r; });
    const hold = async (r) => { await held; await r.continue(); };
    await page.route(/\/api\/projects$/, hold);
    const asset = page.waitForResponse(/\/api\/assets\/[0-9a-f-]{36}$/);
    await page.locator('#grid .tile').first().click();
    await asset;
    await page.waitForTimeout(300);             // the page has read it
    await page.goBack();
    await page.waitForURL(/\?q=clock$/);
    release();
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length >= 1);
    await page.waitForTimeout(1000);
    await page.unroute(/\/api\/projects$/, hold);
    const seen = await page.evaluate(() => ({ tiles: document.querySelectorAll('#grid .tile').length,
                                              stage: !!document.querySelector('#stage'), title: document.title }));
    return { ok: seen.tiles >= 1 && !seen.stage, diag: JSON.stringify(seen) };
  });

  await check('Back to the grid brings its scroll position back', async () => {
    await page.goto(BASE + '/');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length >= 24);
    await page.waitForFunction(() => { scrollTo(0, 1400); return scrollY > 1300; });
    await page.waitForTimeout(500);
    // a tile in view (a click on one out of view would scroll first)
    const [y, id] = await page.evaluate(() => [scrollY, [...document.querySelectorAll('#grid .tile')]
      .find((t) => t.getBoundingClientRect().top > 100 && t.getBoundingClientRect().bottom < innerHeight).dataset.id]);
    await page.locator(`#grid .tile[data-id="${id}"]`).click();
    await page.waitForURL(/\/assets\//);
    await page.goBack();
    // within a third of a row of tiles
    await page.waitForFunction((want) => Math.abs(scrollY - want) < 60, y, { timeout: 10000 }).catch(() => {});
    const back = await page.evaluate(() => scrollY);
    return { ok: Math.abs(back - y) < 60, diag: `${y} then ${back}` };
  });

  await check('server messages in plain words, error codes as sentences', async () => {
    const m = await page.evaluate(async () => {
      const { ApiError } = await import('/js/api.js');
      return [new ApiError(400, { error: 'invalid_request', message: 'title: must be 1..200 characters' }).message,
              new ApiError(401, { error: 'unauthorized', message: 'token outdated: roles or status changed' }).message,
              new ApiError(403, { error: 'forbidden', message: 'editor role required' }).message,
              new ApiError(409, { error: 'conflict', message: 'conflict' }).message];
    });
    return { ok: m[0] === 'The title must be 1 to 200 characters.' && !/token|outdated/.test(m[1])
                 && /editor role/.test(m[2]) && /^[A-Z].*\.$/.test(m[3]),
             diag: JSON.stringify(m) };
  });

  // --- a viewer ------------------------------------------------------------------------
  const viewer = await newPage();
  await check('no "null" in the top bar of a viewer', async () => {
    await signIn(viewer, 'cleo@example.com');
    const text = await viewer.locator('header.top').textContent();
    return { ok: !/null/.test(text) && !/Upload/.test(text), diag: text };
  });
  await check('a viewer opening /upload sees at once that it needs the editor role (no picker)', async () => {
    await viewer.goto(BASE + '/upload');
    await viewer.locator('#upload-denied').waitFor();
    const text = await viewer.locator('#upload-denied').textContent();
    return { ok: /editor role/.test(text) && await viewer.locator('input[type="file"]').count() === 0, diag: text };
  });
  await check('axe: the upload page of a viewer', () => axeCheck(viewer, 'upload (viewer)'));

  // --- admin: confirmations, keyboard, the phone ----------------------------------------------
  const admin = await newPage();
  const dora = () => admin.locator('#users tr[data-email="dora@example.com"]');
  await check('keyboard only: the admin signs in and opens Users', async () => {
    await admin.goto(BASE + '/login');
    await keyboardSignIn(admin, 'ada@example.com');
    // the focus is on the grid's heading: back to the top bar
    await tabTo(admin, 'a[href="/admin"]', 40, 'Shift+Tab');
    await admin.keyboard.press('Enter');
    await dora().waitFor();
    const text = await admin.locator('header.top').textContent();
    return { ok: /Users/.test(text) && !/null/.test(text), diag: text };
  });
  await check('axe: the users page', () => axeCheck(admin, 'users'));

  await check('changing a role asks first; Cancel keeps it, confirming saves it (by keyboard)', async () => {
    const patches = [];
    admin.on('request', (r) => { if (r.method() === 'PATCH') patches.push(r.url()); });
    await admin.locator('h1').focus();
    await tabTo(admin, 'tr[data-email="dora@example.com"] select.role');
    await dora().locator('select.role').selectOption('viewer');
    const dialog = admin.locator('dialog#confirm');
    await dialog.waitFor();
    const q = await dialog.textContent();
    await admin.keyboard.press('Enter');               // the focus is on Cancel
    await dialog.waitFor({ state: 'detached' });
    const kept = await dora().locator('select.role').inputValue();
    const none = patches.length;
    await dora().locator('select.role').selectOption('viewer');
    await dialog.getByRole('button', { name: 'Change role' }).focus();
    await admin.keyboard.press('Enter');
    await admin.getByText('Saved dora@example.com').last().waitFor();
    const roles = (await call('GET', '/api/users', undefined, await tokenOf('ada@example.com'))).json.items
      .find((u) => u.email === 'dora@example.com').roles;
    return { ok: kept === 'editor' && none === 0 && roles.join() === 'viewer' && /editor to viewer/.test(q),
             diag: JSON.stringify({ kept, none, roles, q }) };
  });

  await check('disabling a user asks first', async () => {
    await dora().locator('select.status').selectOption('disabled');
    const dialog = admin.locator('dialog#confirm');
    const q = await dialog.textContent();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const kept = await dora().locator('select.status').inputValue();
    const still = (await call('GET', '/api/users', undefined, await tokenOf('ada@example.com'))).json.items
      .find((u) => u.email === 'dora@example.com').status;
    await dora().locator('select.status').selectOption('disabled');
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await admin.getByText('Saved dora@example.com').last().waitFor();
    const now = (await call('GET', '/api/users', undefined, await tokenOf('ada@example.com'))).json.items
      .find((u) => u.email === 'dora@example.com').status;
    return { ok: /Disable Dora/.test(q) && kept === 'active' && still === 'active' && now === 'disabled',
             diag: JSON.stringify({ q, kept, still, now }) };
  });

  await check('at 375 px the users fit: every column shown, the status menu readable', async () => {
    const phone = await newPage({ width: 375, height: 812 });
    await signIn(phone, 'ada@example.com', '/admin');
    await phone.locator('#users tr[data-email="dora@example.com"]').waitFor();
    const r = await phone.evaluate(() => {
      const tr = document.querySelector('#users tr[data-email="cleo@example.com"]');
      const box = (el) => el.getBoundingClientRect();
      const st = tr.querySelector('select.status'), ro = tr.querySelector('select.role');
      return { overflow: document.documentElement.scrollWidth > innerWidth + 1,
               table: document.querySelector('#users').scrollWidth, right: Math.max(box(st).right, box(ro).right),
               status: box(st).width, role: box(ro).width, header: document.querySelector('header.top').offsetHeight };
    });
    const shot = await phone.screenshot();
    await phone.context().close();
    return { ok: !r.overflow && r.table <= 375 && r.right <= 375 && r.status >= 90 && r.role >= 80 && r.header <= 64 && shot,
             diag: JSON.stringify(r) };
  });

  await check('at 375 px the header stays one line and the grid fits', async () => {
    const phone = await newPage({ width: 375, height: 812 });
    await signIn(phone, 'eddie@example.com');
    await phone.locator('#grid .tile').first().waitFor();
    const r = await phone.evaluate(() => ({ header: document.querySelector('header.top').offsetHeight,
      overflow: document.documentElement.scrollWidth > innerWidth + 1,
      out: [...document.querySelectorAll('header.top a, header.top button')]
        .filter((el) => el.getBoundingClientRect().right > innerWidth).map((el) => el.textContent) }));
    await phone.context().close();
    return { ok: r.header <= 64 && !r.overflow && r.out.length === 0, diag: JSON.stringify(r) };
  });

  await check('at 375 px the other pages are behind "More": it opens, leads there and closes', async () => {
    const phone = await newPage({ width: 375, height: 812 });
    await signIn(phone, 'ada@example.com');
    await phone.locator('#grid .tile').first().waitFor();
    const hidden = await phone.getByRole('link', { name: 'Audit' }).isVisible();
    await phone.locator('#nav-more summary').click();
    const shown = await phone.locator('#nav-more .more-list a').allTextContents();
    const inside = await phone.evaluate(() => document.querySelector('#nav-more .more-list').getBoundingClientRect().right <= innerWidth);
    await phone.getByRole('link', { name: 'Audit' }).click();
    await phone.waitForURL(/\/audit$/);
    const open = await phone.locator('#nav-more').evaluate((d) => d.open);
    await phone.context().close();
    return { ok: !hidden && shown.join(',') === 'Projects,Users,Audit' && inside && !open,
             diag: JSON.stringify({ hidden, shown, inside, open }) };
  });

  await check('a rendition downloads as its own MP4, chosen beside Download', async () => {
    const p = await newPage();
    await signIn(p, 'ada@example.com', `/assets/${CLOCK}`);
    const pick = p.locator('#versions select.rendition');
    await pick.waitFor();
    const options = await pick.locator('option').allTextContents();
    await pick.selectOption({ index: 1 });
    const [download, res] = await Promise.all([
      p.waitForEvent('download'),
      p.waitForResponse((r) => /\/api\/versions\/[^/]+\/download$/.test(r.url())),
      p.locator('#versions button.download').click(),
    ]);
    const asked = res.request().postDataJSON().rendition;
    const name = download.suggestedFilename();
    const bytes = (await readFileSync(await download.path())).length;
    await p.context().close();
    return { ok: options[0] === 'Original' && options.length > 1 && res.status() === 200
                 && options[1] === `${asked} MP4` && name === `clock ${asked}.mp4` && bytes > 10000,
             diag: JSON.stringify({ options, asked, status: res.status(), name, bytes }) };
  });

  await check('on a touch screen the keyboard shortcut hint is hidden', async () => {
    const phone = await newPage({ width: 375, height: 812, hasTouch: true, isMobile: true });
    await signIn(phone, 'eddie@example.com', `/assets/${CLOCK}`);
    await phone.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    const coarse = await phone.evaluate(() => matchMedia('(pointer: coarse)').matches);
    const hint = phone.getByText('Space: play/pause');
    const present = await hint.count();
    const shown = await hint.isVisible();
    await phone.context().close();
    return { ok: coarse && present === 1 && !shown, diag: JSON.stringify({ coarse, present, shown }) };
  });

  // --- sessions that end -------------------------------------------------------------------
  const endedScreen = async (p) => {
    await p.locator('#session-ended').waitFor({ timeout: 30000 });
    const text = await p.locator('main').textContent();
    return { text, raw: /token outdated|roles or status changed/.test(await p.locator('body').textContent()) };
  };

  await check('a user disabled while a page is open sees "your session ended" and a way back in', async () => {
    const vic = await newPage();
    await signIn(vic, 'vic@example.com', `/assets/${CLOCK}`);
    await vic.locator('#stage[data-ready="1"]').waitFor({ timeout: 30000 });
    const id = await userId('vic@example.com');
    await call('PATCH', `/api/users/${id}`, { status: 'disabled' }, await tokenOf('ada@example.com'));
    const s = await endedScreen(vic);
    const link = await vic.getByRole('link', { name: 'Sign in again' }).isVisible();
    const streams = await vic.evaluate(() => document.querySelectorAll('video').length);
    const a = await axeCheck(vic, 'session ended');
    // enabled again: the link leads back to the page that was open
    await call('PATCH', `/api/users/${id}`, { status: 'active' }, await tokenOf('ada@example.com'));
    await vic.getByRole('link', { name: 'Sign in again' }).click();
    await vic.getByLabel('Email').fill('vic@example.com');
    await vic.getByLabel('Password').fill(PW);
    await vic.getByRole('button', { name: 'Sign in' }).click();
    await vic.waitForURL(`${BASE}/assets/${CLOCK}`);
    return { ok: /Your session ended/.test(s.text) && !s.raw && link && streams === 0 && a.ok,
             diag: JSON.stringify({ s, link, streams, a }) };
  });

  await check('a user demoted while a page is open sees "your session ended" too', async () => {
    const ed = await newPage();
    await signIn(ed, 'ed@example.com', '/upload');
    await ed.locator('#drop').waitFor();
    const id = await userId('ed@example.com');
    await call('PATCH', `/api/users/${id}`, { roles: ['viewer'] }, await tokenOf('ada@example.com'));
    // the next request the page makes: here the grid's list
    await ed.getByRole('link', { name: 'Assets' }).first().click();
    const s = await endedScreen(ed);
    const a = await axeCheck(ed, 'session ended');
    return { ok: /Your session ended/.test(s.text) && !s.raw && a.ok, diag: JSON.stringify({ s, a }) };
  });

  await check('dark theme: axe finds nothing serious on the grid', async () => {
    const d = await newPage({ colorScheme: 'dark' });
    await signIn(d, 'eddie@example.com');
    await d.locator('#grid .tile').first().waitFor();
    return axeCheck(d, 'grid (dark)');
  });

  await check('axe ran on every screen', async () => ({
    ok: ['sign-in', 'register', 'grid', 'upload', 'asset', 'audio asset', 'upload (viewer)', 'users', 'session ended',
         'grid (dark)'].every((s) => axeSeen.includes(s)), diag: axeSeen.join(', ') }));
} finally {
  for (const c of contexts) await c.close().catch(() => {});
  await browser.close();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}
