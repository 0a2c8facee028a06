// Review on the asset page (issue 20): playwright-core driving Debian's
// chromium, headless, against the stack t/76-browser-review.t started.
// Prints TAP.  Environment: BASE, SHOTS (screenshot folder), ASSET (an
// asset whose v1, 29.97 fps, shows its frame numbers 0..179 in binary, with
// a comment at frame 100), V2 (a 24 fps file showing 512 + its frame
// number), TWO (an asset with two renditions, ready), CHROMIUM (the
// browser).
//
// The frame on screen is read from the picture: the <video> drawn on a
// canvas, ten blocks across the top, block i white when bit i is set.
import { chromium } from 'playwright-core';

import { FRAME_READER } from './frames.mjs';
import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET, V2, TWO } = process.env;
const PW = 'correct horse battery';
const same = (a, b) => ({ ok: JSON.stringify(a) === JSON.stringify(b),
                          diag: `got ${JSON.stringify(a)}\nwant ${JSON.stringify(b)}` });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await ctx.addInitScript({ content: FRAME_READER });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const csp = [];
page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
page.on('console', (m) => {
  if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) csp.push(m.text());
});

// the number the frame on screen shows, once no seek is pending and the
// frame is presented
async function frameOnScreen() {
  return page.evaluate(async () => {
    const v = document.querySelector('#video');
    await window.frameShown([v]);
    return window.burnedIn(v);
  });
}
// what the player says: its timecode, frame and state
const shown = () => page.evaluate(() => {
  const v = document.querySelector('#video'), tc = document.querySelector('#timecode');
  return { tc: tc.textContent, frame: Number(tc.dataset.frame), t: v.currentTime, paused: v.paused,
           rate: v.playbackRate };
});
// ready: playing that version's finished ladder, not one still rendering
// (whose frame rate is not known yet: its clock shows seconds)
const ready = (n) => page.locator(`#stage[data-ready="1"][data-version="${n}"]:not([data-live])`)
  .waitFor({ timeout: 90000 });
const commentTexts = () => page.$$eval('#comments li[data-id]', (lis) => lis.map((li) => li.querySelector('div').textContent));

try {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill('eve@example.com');
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${BASE}/assets/${ASSET}`);

  await check('v1 plays, its timecode drop-frame at 29.97 (hh:mm:ss;ff)', async () => {
    await ready(1);
    await page.evaluate(() => document.querySelector('#video').pause());
    const s = await shown();
    return { ok: /^00:00:00;00$/.test(s.tc), diag: JSON.stringify(s) };
  });

  // scrub thumbnails: the tile under the pointer is the VTT's cue of that
  // time, and the picture on it is that moment's (its burned-in number)
  await check('hovering the timeline shows the thumbnail of the time under the pointer', async () => {
    await page.waitForFunction(() => Number(document.querySelector('#timeline').dataset.thumbnails) > 0
                                     && document.querySelector('#video').duration > 0);
    const duration = await page.evaluate(() => document.querySelector('#video').duration);
    const tip = page.locator('#scrub');
    // the page may still move (comments, the version list arriving): the
    // timeline's place is read again for each try
    for (let i = 0; i < 5; i++) {
      const box = await page.locator('#timeline').boundingBox();
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 4 });
      if (await tip.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) break;
    }
    await tip.waitFor({ state: 'visible', timeout: 3000 });
    const got = await page.evaluate(async () => {
      const t = document.querySelector('#scrub');
      const tile = t.querySelector('.scrub-tile');
      const url = getComputedStyle(tile).backgroundImage.replace(/^url\("?|"?\)$/g, '');
      const [x, y, w, hh] = t.dataset.xywh.split(',').map(Number);
      const vtt = await (await fetch(url.replace(/thumbs\/[^/]+$/, 'thumbnails.vtt'))).text();
      const img = new Image();
      img.src = url;
      await img.decode();
      const n = window.burnedIn(img, x, y, w, hh);
      return { src: t.dataset.src, xywh: t.dataset.xywh, t: Number(t.dataset.t), vtt, n, tile: [w, hh] };
    });
    // the cue of the time the tip was drawn for (near 0.75 x duration
    // unless the page moved under the pointer) in the track the edge serves
    const t = got.t;
    const cue = got.vtt.split(/\n\n+/).map((b) => b.split('\n')).filter((l) => l.length > 1 && l[0].includes('-->'))
      .map(([times, ref]) => {
        const [a, b] = times.split('-->').map((x) => x.trim().split(':').reduce((s, p) => s * 60 + Number(p), 0));
        return { a, b, ref };
      }).find((c) => t >= c.a && t < c.b);
    const want = Math.round(cue ? cue.a * 29.97 : -1);
    return { ok: !!cue && t > 0 && t <= duration && cue.ref === `${got.src}#xywh=${got.xywh}` && got.tile[0] === 160
                 && Math.abs(got.n - want) <= 30,
             diag: JSON.stringify({ got: { ...got, vtt: undefined }, cue, want, t }) };
  });
  await page.mouse.move(0, 0);

  await check('a click on a comment lands on its exact frame (100 of v1)', async () => {
    await page.locator('#comments li', { hasText: 'v1 note at frame 100' }).locator('.tc').click();
    const n = await frameOnScreen();
    const s = await shown();
    return { ok: n === 100 && s.frame === 100 && s.tc === '00:00:03;10' && s.paused,
             diag: JSON.stringify({ onScreen: n, ...s }) };
  });

  // the focus still on the comment's time (a button): the editor's keys act
  await check('`.` steps one frame on at 29.97, `,` one back, paused', async () => {
    const seen = [];
    for (const key of ['.', '.', '.', ',']) {
      await page.keyboard.press(key);
      seen.push(await frameOnScreen());
    }
    const s = await shown();
    return { ok: same(seen, [101, 102, 103, 102]).ok && s.frame === 102 && s.paused,
             diag: JSON.stringify({ seen, ...s }) };
  });

  await check('J/K/L: L plays, L again doubles, K pauses, J plays backwards', async () => {
    await page.keyboard.press('l');
    await page.waitForTimeout(300);
    const a = await shown();
    await page.keyboard.press('l');
    const b = await shown();
    await page.keyboard.press('k');
    const c = await shown();
    await page.keyboard.press('j');
    await page.waitForTimeout(800);
    const d = await shown();
    await page.keyboard.press('k');
    await page.waitForTimeout(200);
    const e = await shown();
    return { ok: !a.paused && a.rate === 1 && b.rate === 2 && c.paused && d.paused && d.t < c.t - 0.3
                 && e.paused && Math.abs(e.t - d.t) < 0.15,
             diag: JSON.stringify({ a, b, c, d, e }) };
  });

  // --- a new version from the page ---------------------------------------------
  await check('"Upload new version" sends the file through the tray and promotes it as v2', async () => {
    await page.locator('#version-file').setInputFiles(V2);
    await page.locator('#uploads li.done', { hasText: 'Uploaded as v2' }).waitFor({ timeout: 30000 });
  });

  await check('the new version is announced, and shown on request', async () => {
    const note = page.locator('#new-version');
    await note.waitFor({ timeout: 20000 });
    const text = await note.textContent();
    await note.getByRole('button', { name: 'Show the new version' }).click();
    await ready(2);
    await page.evaluate(() => document.querySelector('#video').pause());
    const n = await frameOnScreen();
    const s = await shown();
    return { ok: /\(v2\)/.test(text) && n === 512 && /^00:00:00:00$/.test(s.tc)
                 && new URL(page.url()).search === '',
             diag: JSON.stringify({ text, onScreen: n, ...s, url: page.url() }) };
  });

  await check('frames step at v2\'s own rate (24 fps, hh:mm:ss:ff)', async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    for (let i = 0; i < 5; i++) await page.keyboard.press('.');
    const n = await frameOnScreen();
    const s = await shown();
    return { ok: n === 517 && s.frame === 5 && s.tc === '00:00:00:05', diag: JSON.stringify({ onScreen: n, ...s }) };
  });

  await check('in the comment box J/K/L and `.` are letters, not the player\'s', async () => {
    const before = await shown();
    await page.locator('#comment-text').focus();
    await page.keyboard.type('l.j');
    await page.waitForTimeout(300);
    const after = await shown();
    const text = await page.locator('#comment-text').inputValue();
    await page.locator('#comment-text').fill('');
    return { ok: text === 'l.j' && after.paused && after.frame === before.frame,
             diag: JSON.stringify({ text, before, after }) };
  });

  await check('a comment on v2 at a typed timecode carries v2 and the frame', async () => {
    await page.locator('#comment-text').focus();
    await page.locator('#comment-at').fill('00:00:01:13');
    await page.locator('#comment-text').fill('v2 note');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    const li = page.locator('#comments li', { hasText: 'v2 note' });
    await li.waitFor();
    const badge = await li.locator('.vnum').textContent();
    const tc = await li.locator('.tc').textContent();
    return { ok: badge === 'v2' && tc === '00:00:01:13', diag: JSON.stringify({ badge, tc }) };
  });

  await check('the comments shown are the version on screen\'s', async () => same(await commentTexts(), ['v2 note']));

  await check('the switcher plays v1 again (?version=1), with v1\'s comments only', async () => {
    await page.locator('#version-select').selectOption({ label: 'v1' });
    await ready(1);
    await page.evaluate(() => document.querySelector('#video').pause());
    const n = await frameOnScreen();
    const texts = await commentTexts();
    return { ok: n < 512 && new URL(page.url()).searchParams.get('version') === '1'
                 && same(texts, ['v1 note at frame 100']).ok,
             diag: JSON.stringify({ onScreen: n, url: page.url(), texts }) };
  });

  await check('"Show all versions\' comments" lists both, each with its version number', async () => {
    await page.locator('#comments-all').check();
    const got = await page.$$eval('#comments li[data-id]', (lis) => lis.map((li) =>
      `${li.querySelector('.vnum').textContent} ${li.querySelector('.tc').textContent} ${li.querySelector('div').textContent}`));
    // each timecode at its own version's rate: 37 at 24 fps, 100 at 29.97
    return same(got.sort(), ['v1 00:00:03;10 v1 note at frame 100', 'v2 00:00:01:13 v2 note']);
  });

  await check('a click on v2\'s comment from v1 shows v2 and lands on frame 37', async () => {
    await page.locator('#comments li', { hasText: 'v2 note' }).locator('.tc').click();
    await ready(2);
    await page.waitForFunction(() => document.querySelector('#timecode').dataset.frame === '37');
    const n = await frameOnScreen();
    const s = await shown();
    return { ok: n === 512 + 37 && s.frame === 37 && s.paused, diag: JSON.stringify({ onScreen: n, ...s }) };
  });

  await check('a reload keeps the version on screen', async () => {
    await page.locator('#version-select').selectOption({ label: 'v1' });
    await ready(1);
    await page.reload();
    await ready(1);
    return { ok: (await page.locator('#version-select').inputValue()) !== '' && new URL(page.url()).searchParams.get('version') === '1' };
  });

  await check('the screenshot of review: v1 at frame 100, every version\'s comments', async () => {
    await page.locator('#comments-all').check();
    await page.locator('#comments li', { hasText: 'v1 note at frame 100' }).locator('.tc').click();
    await frameOnScreen();
    await page.waitForTimeout(1000);           // the controls' spinner gone
    await page.screenshot({ path: `${SHOTS}/review.png` });
  });

  // the play epoch goes up under a viewer still entitled (eve shares the
  // asset and revokes the link; the edge trusts an epoch 1 s here): the
  // next request of the player is refused with 410, and it signs again.  A
  // quality picked fetches that rendition (each in turn: one is new).
  await check('a request refused with 410 (the play epoch went up): the player signs again and plays on', async () => {
    await page.goto(`${BASE}/assets/${TWO}`);
    await ready(1);
    // heard from before the epoch goes up: the player may still be loading
    // its first files then (a slow machine), and be refused at once
    const seen = [];
    // [status, the file asked for (the URL past its signature)]
    const heard = (r) => {
      const m = r.url().match(/\/s\/[^/]+\/[^/]+\/[^/]+\/[^/]+\/(.*)$/);
      if (m) seen.push([r.status(), m[1]]);
    };
    page.on('response', heard);
    await page.evaluate(() => document.querySelector('#video').pause());
    const share = await page.evaluate(async (asset) => {
      const { api } = await import('/js/api.js');
      const r = await api('POST', '/api/shares', { asset_ids: [asset], version: 'latest',
        allow_comments: false, allow_download: false, allow_approval: false, show_all_versions: false });
      await api('DELETE', `/api/shares/${r.share.id}`);
      return r.share.id;
    }, TWO);
    await page.waitForTimeout(1500);
    const first410 = () => seen.findIndex(([st]) => st === 410);
    const until = async (cond, ms) => {
      for (const end = Date.now() + ms; Date.now() < end; await page.waitForTimeout(100)) {
        if (await cond()) return true;
      }
      return false;
    };
    // [value, name] of each quality
    const levels = await page.$$eval('#quality option', (os) => os.map((o) => [o.value, o.textContent]));
    for (const [level] of levels.filter(([l]) => l !== '-1')) {
      if (first410() >= 0) break;
      await page.locator('#quality').selectOption(level);
      await until(() => first410() >= 0, 5000);
    }
    const refused = first410() >= 0;
    // the very file refused, served afterwards (not another rendition's
    // segments from the browser's cache).  Refused while Auto, hls.js may
    // have gone on with another rendition: picking the refused one asks
    // for it again.
    const file = refused ? seen[first410()][1] : null;
    const servedAgain = () => refused && seen.slice(first410()).some(([st, f]) => st === 200 && f === file);
    const own = refused && levels.find(([l, name]) => l !== '-1' && file.startsWith(`${name}/`));
    if (own && !(await until(servedAgain, 3000))) await page.locator('#quality').selectOption(own[0]);
    const served = await until(servedAgain, 15000);
    const t0 = await page.evaluate(() => document.querySelector('#video').currentTime);
    await page.evaluate(() => document.querySelector('#video').play());
    const played = await until(async () =>
      (await page.evaluate(() => document.querySelector('#video').currentTime)) > t0 + 0.5, 10000);
    await page.evaluate(() => document.querySelector('#video').pause());
    const error = await page.locator('#stage .error').count();
    page.off('response', heard);
    return { ok: refused && served && played && error === 0,
             diag: JSON.stringify({ share, levels, seen, refused, served, played, error }) };
  });

  ok(csp.length === 0, 'no Content-Security-Policy violation', csp.join('\n'));
} catch (e) {
  ok(false, 'the run', e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(done());
