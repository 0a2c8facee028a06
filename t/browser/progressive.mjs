// Playable while transcoding (issue 20): playwright-core driving Debian's
// chromium, headless, against the stack t/78-browser-progressive.t
// started.  Prints TAP.  Environment: BASE, SHOTS (screenshot folder),
// ASSET (an asset with a staged upload of a minute of video, not yet
// promoted), TOKEN (its owner's access token, for the promote),
// CHROMIUM (the browser).
import { chromium } from 'playwright-core';

import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET, TOKEN } = process.env;
const PW = 'correct horse battery';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));

// every rendition playlist hls.js fetched: its type when it came
const playlists = [];
page.on('response', async (r) => {
  if (!/\/(\d+p|audio)\/index\.m3u8$/.test(r.url())) return;
  const text = await r.text().catch(() => '');
  const type = (text.match(/^#EXT-X-PLAYLIST-TYPE:(\w+)$/m) || [])[1] || '?';
  playlists.push({ url: r.url().replace(/^.*\/([^/]+\/index\.m3u8)$/, '$1'), type,
                   segments: (text.match(/^#EXTINF:/mg) || []).length,
                   cc: r.headers()['cache-control'] || '' });
});

const status = async () => {
  const r = await fetch(`${BASE}/api/preview/status?asset_id=${ASSET}`,
                        { headers: { Authorization: `Bearer ${TOKEN}` } });
  return r.json();
};
const video = () => page.evaluate(() => {
  const v = document.querySelector('#video');
  return v ? { t: v.currentTime, d: v.duration, paused: v.paused, tagged: v.dataset.tag || '',
               live: document.querySelector('#stage').dataset.live || '' } : null;
});

try {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill('eve@example.com');
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();

  const r = await fetch(`${BASE}/api/promote`, {
    method: 'POST', body: JSON.stringify({ asset_id: ASSET }),
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
  });
  ok(r.status === 201, 'the version is promoted once the browser is signed in', `HTTP ${r.status}`);
  await page.goto(`${BASE}/assets/${ASSET}`);

  await check('the player starts while transcoderd still renders (playable, not ready)', async () => {
    await page.locator('#stage[data-live="1"][data-ready="1"]').waitFor({ timeout: 60000 });
    const st = await status();
    return { ok: st.status === 'processing' && st.playable === true, diag: JSON.stringify(st) };
  });
  await page.evaluate(() => {
    const v = document.querySelector('#video');
    v.dataset.tag = 'first';
    v.play();
  });

  await check('hls.js plays the growing ladder: time advances while it renders', async () => {
    await page.waitForFunction(() => document.querySelector('#video').currentTime > 2, null, { timeout: 30000 });
    const v = await video();
    const st = await status();
    return { ok: v.live === '1' && st.status === 'processing' && !v.paused && v.d < 59,
             diag: JSON.stringify({ v, st }) };
  });
  await page.screenshot({ path: `${SHOTS}/progressive.png` });
  await check('... under a note that it is still transcoding', async () => {
    const text = await page.locator('#preview-live').textContent();
    return { ok: /Still transcoding/.test(text), diag: text };
  });

  // hls.js reloads a playlist without #EXT-X-ENDLIST about every target
  // duration (6 s): one of them seen again, longer (or turned VOD)
  await check('hls.js reloads the EVENT playlists as they grow, never cached', async () => {
    const grown = () => playlists.some((p, i) => p.type === 'EVENT'
      && playlists.slice(i + 1).some((q) => q.url === p.url && (q.segments > p.segments || q.type === 'VOD')));
    for (let i = 0; i < 60 && !grown(); i++) await page.waitForTimeout(500);
    return { ok: grown() && playlists.every((p) => p.cc === 'private, no-cache'),
             diag: JSON.stringify(playlists) };
  });

  await check('ready: playback goes on, on the same media element, to the whole minute', async () => {
    const t0 = Date.now();
    while ((await status()).status !== 'ready') {
      if (Date.now() - t0 > 120000) throw new Error('not ready after 120 s');
      await page.waitForTimeout(500);
    }
    await page.waitForFunction(() => !document.querySelector('#stage').dataset.live, null, { timeout: 20000 });
    const before = await video();
    await page.waitForTimeout(1500);
    const after = await video();
    // the duration grows to the whole minute once the playlists end
    await page.waitForFunction(() => document.querySelector('#video').duration > 59, null, { timeout: 60000 });
    const end = await video();
    return { ok: after.tagged === 'first' && !after.paused && after.t > before.t && end.d < 61
                 && !(await page.locator('#preview-live').count()),
             diag: JSON.stringify({ before, after, end }) };
  });
  ok(playlists.some((p) => p.type === 'VOD') || playlists.some((p) => p.type === 'EVENT'),
     'the rendition playlists came through the edge', JSON.stringify(playlists.slice(-3)));
} catch (e) {
  ok(false, 'the browser run', e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(done());
