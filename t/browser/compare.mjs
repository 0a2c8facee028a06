// Compare (issue 20): playwright-core driving Debian's chromium, headless,
// against the stack t/77-browser-compare.t started.  Prints TAP.
// Environment: BASE, SHOTS (screenshot folder), ASSET (an asset whose v1
// shows its frame numbers from 0 and v2 from 512, both 25 fps, 8 s),
// OTHER (an asset showing 768 + its frame number, 4 s), CHROMIUM.
//
// The frame on screen of each side is read from its picture: the <video>
// drawn on a canvas, ten blocks across the top, block i white when bit i
// is set; minus the side's first number, both sides must agree within one
// frame whenever they are at rest.
import { chromium } from 'playwright-core';

import { AXE, axeViolations } from './axe.mjs';
import { FRAME_READER } from './frames.mjs';
import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET, OTHER } = process.env;
const PW = 'correct horse battery';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await ctx.addInitScript({ content: AXE });
await ctx.addInitScript({ content: FRAME_READER });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const csp = [];
page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
page.on('console', (m) => {
  if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) csp.push(m.text());
});

// each side's number on screen, once neither seeks and both show a frame;
// off: the side's first number (its asset and version)
const firstNumber = (asset, version) => (asset === OTHER ? 768 : version === 2 ? 512 : 0);
async function frames() {
  const r = await page.evaluate(async () => {
    await window.frameShown(['#video-a', '#video-b'].map((s) => document.querySelector(s)));
    const read = window.burnedIn;
    const side = (k) => {
      const fig = document.querySelector(`#side-${k}`), v = document.querySelector(`#video-${k}`);
      return { version: Number(fig.dataset.version), asset: new URL(location.href).searchParams.get(k),
               n: read(v), t: v.currentTime, paused: v.paused, muted: v.muted, rate: v.playbackRate };
    };
    return { a: side('a'), b: side('b') };
  });
  for (const k of ['a', 'b']) r[k].frame = r[k].n - firstNumber(r[k].asset, r[k].version);
  r.apart = Math.abs(r.a.frame - r.b.frame);
  return r;
}
const atRest = (f) => f.a.paused && f.b.paused && f.apart <= 1;
const ready = () => page.locator('#compare-stage[data-ready="1"]').waitFor({ timeout: 60000 });
const media = () => page.evaluate(() => ['a', 'b'].map((k) => {
  const v = document.querySelector(`#video-${k}`);
  return { t: v.currentTime, paused: v.paused, rate: v.playbackRate, muted: v.muted };
}));
const params = () => Object.fromEntries(new URL(page.url()).searchParams);
const clipOfA = () => page.evaluate(() => getComputedStyle(document.querySelector('#side-a')).clipPath);
const divider = () => page.evaluate(() => Number(document.querySelector('#wipe-divider').getAttribute('aria-valuenow')));
const axe = () => axeViolations(page);
const blur = () => page.evaluate(() => document.activeElement && document.activeElement.blur());

try {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill('eve@example.com');
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${BASE}/assets/${ASSET}`);

  await check('the asset page links "Compare versions" (v2 on screen with v1)', async () => {
    await page.getByRole('link', { name: 'Compare versions' }).click();
    await page.waitForURL(/\/compare\?/);
    await ready();
    const p = params();
    return { ok: p.a === ASSET && p.b === ASSET && p.av === '2' && p.bv === '1', diag: page.url() };
  });

  await check('side by side: A (v2) on the left, B (v1) on the right, each at rest on its first frame', async () => {
    const [ba, bb] = [await page.locator('#side-a').boundingBox(), await page.locator('#side-b').boundingBox()];
    const f = await frames();
    return { ok: ba.x + ba.width <= bb.x + 1 && Math.abs(ba.y - bb.y) < 2 && atRest(f) && f.a.frame === 0
                 && f.a.version === 2 && f.b.version === 1,
             diag: JSON.stringify({ ba, bb, f }) };
  });

  await check('play moves both, pause stops both on the same frame', async () => {
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForTimeout(1500);
    const during = await media();
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const f = await frames();
    return { ok: !during[0].paused && !during[1].paused && Math.abs(during[0].t - during[1].t) < 0.25
                 && atRest(f) && f.a.frame > 10,
             diag: JSON.stringify({ during, f }) };
  });

  await check('the follower\'s drift is corrected while playing (B put 0.3 s ahead)', async () => {
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForTimeout(300);
    await page.evaluate(() => { const b = document.querySelector('#video-b'); b.currentTime += 0.3; });
    await page.waitForTimeout(2000);
    const during = await media();
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const f = await frames();
    return { ok: Math.abs(during[0].t - during[1].t) < 0.1 && atRest(f), diag: JSON.stringify({ during, f }) };
  });

  await check('the seek bar moves both to the same frame', async () => {
    await page.evaluate(() => {
      const s = document.querySelector('#compare-seek');
      s.value = '3.3';
      s.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const f = await frames();
    return { ok: atRest(f) && f.a.frame === 82 && f.b.frame === 82, diag: JSON.stringify(f) };
  });

  await check('`.` and `,` step both one frame at a time', async () => {
    await blur();
    const seen = [];
    for (const key of ['.', '.', '.', ',']) {
      await page.keyboard.press(key);
      const f = await frames();
      seen.push([f.a.frame, f.b.frame]);
    }
    return { ok: JSON.stringify(seen) === JSON.stringify([[83, 83], [84, 84], [85, 85], [84, 84]]), diag: JSON.stringify(seen) };
  });

  await check('the frame step buttons do the same', async () => {
    await page.getByRole('button', { name: 'One frame on' }).click();
    const on = await frames();
    await page.getByRole('button', { name: 'One frame back' }).click();
    await page.getByRole('button', { name: 'One frame back' }).click();
    const back = await frames();
    return { ok: on.a.frame === 85 && on.b.frame === 85 && back.a.frame === 83 && back.b.frame === 83,
             diag: JSON.stringify({ on, back }) };
  });

  await check('J/K/L: L plays both, L again doubles, K pauses both on one frame, J goes back', async () => {
    await blur();
    await page.keyboard.press('l');
    await page.waitForTimeout(300);
    const a = await media();
    await page.keyboard.press('l');
    await page.waitForTimeout(300);
    const b = await media();
    await page.keyboard.press('k');
    const c = await frames();
    await page.keyboard.press('j');
    await page.waitForTimeout(800);
    await page.keyboard.press('k');
    const d = await frames();
    return { ok: !a[0].paused && !a[1].paused && b[0].rate === 2 && Math.abs(b[1].rate - 2) <= 0.5
                 && atRest(c) && atRest(d) && d.a.frame < c.a.frame - 5,
             diag: JSON.stringify({ a, b, c, d }) };
  });

  await check('Space plays and pauses both', async () => {
    await blur();
    await page.keyboard.press(' ');
    await page.waitForTimeout(500);
    const m = await media();
    await page.keyboard.press(' ');
    const f = await frames();
    return { ok: !m[0].paused && !m[1].paused && atRest(f), diag: JSON.stringify({ m, f }) };
  });

  // --- sound ---------------------------------------------------------------
  await check('the sound is A\'s; choosing B mutes A (audio=b in the URL)', async () => {
    const before = await media();
    await page.getByLabel('B', { exact: true }).check();
    const after = await media();
    await page.waitForFunction(() => location.search.includes('audio=b'));
    return { ok: !before[0].muted && before[1].muted && after[0].muted && !after[1].muted,
             diag: JSON.stringify({ before, after }) };
  });

  // --- the wipe --------------------------------------------------------------
  await check('the wipe stacks both pictures, A clipped at the divider (50 %)', async () => {
    await page.getByLabel('Wipe', { exact: true }).check();
    await page.locator('#wipe-divider').waitFor();
    const [ba, bb] = [await page.locator('#side-a video').boundingBox(), await page.locator('#side-b video').boundingBox()];
    const clip = await clipOfA();
    await page.waitForFunction(() => location.search.includes('mode=wipe'));
    return { ok: Math.abs(ba.x - bb.x) < 1 && Math.abs(ba.y - bb.y) < 1 && Math.abs(ba.width - bb.width) < 1
                 && /inset\(0px 50% 0px 0px\)/.test(clip) && (await divider()) === 50,
             diag: JSON.stringify({ ba, bb, clip }) };
  });

  await check('a drag moves the divider and the clip (to a quarter)', async () => {
    const box = await page.locator('#compare-stage').boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width / 2, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, y, { steps: 4 });
    await page.mouse.move(box.x + box.width * 0.25, y, { steps: 4 });
    await page.mouse.up();
    const at = await divider();
    const clip = await clipOfA();
    const m = clip.match(/inset\(0px ([\d.]+)% 0px 0px\)/);
    return { ok: Math.abs(at - 25) < 1 && m && Math.abs(Number(m[1]) - 75) < 1, diag: JSON.stringify({ at, clip }) };
  });

  await check('the divider\'s keys: → and Shift+→, Home, End', async () => {
    await page.locator('#wipe-divider').focus();
    const start = await divider();
    await page.keyboard.press('ArrowRight');
    const one = await divider();
    await page.keyboard.press('Shift+ArrowRight');
    const eleven = await divider();
    await page.keyboard.press('Home');
    const home = await divider();
    const homeClip = await clipOfA();
    await page.keyboard.press('End');
    const end = await divider();
    for (let i = 0; i < 5; i++) await page.keyboard.press('PageDown');
    const mid = await divider();
    return { ok: one === start + 1 && eleven === start + 11 && home === 0 && /inset\(0px 100% 0px 0px\)/.test(homeClip)
                 && end === 100 && mid === 50,
             diag: JSON.stringify({ start, one, eleven, home, homeClip, end, mid }) };
  });

  await check('in the wipe the transport still keeps both on one frame', async () => {
    await page.keyboard.press('.');
    await page.keyboard.press('.');
    const f = await frames();
    return { ok: atRest(f), diag: JSON.stringify(f) };
  });

  await check('axe finds nothing serious on the compare page', async () => {
    const r = await axe();
    return { ok: r.length === 0, diag: r.join('\n') };
  });

  await check('the screenshot of compare: the wipe at 50 %', async () => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${SHOTS}/compare.png`, fullPage: true });
  });

  await check('a reload restores the view from the URL (versions, wipe at 50 %, sound of B)', async () => {
    const before = params();
    await page.reload();
    await ready();
    const m = await media();
    const stage = await page.locator('#compare-stage').getAttribute('class');
    const f = await frames();
    return { ok: JSON.stringify(params()) === JSON.stringify(before) && /wipe/.test(stage) && (await divider()) === 50
                 && m[0].muted && !m[1].muted && (await page.getByLabel('Wipe', { exact: true }).isChecked())
                 && (await page.getByLabel('B', { exact: true }).isChecked()) && f.a.version === 2 && f.b.version === 1,
             diag: JSON.stringify({ before, after: params(), stage, m }) };
  });

  // --- another asset ----------------------------------------------------------
  await check('B can be another asset the user sees: both on one frame', async () => {
    await page.getByLabel('Side B: asset').selectOption({ label: 'Other take' });
    await page.waitForFunction((o) => new URL(location.href).searchParams.get('b') === o, OTHER);
    await ready();
    await blur();
    for (let i = 0; i < 10; i++) await page.keyboard.press('.');
    const f = await frames();
    return { ok: atRest(f) && f.b.n >= 768 && f.a.frame === f.b.frame && f.a.frame >= 9, diag: JSON.stringify(f) };
  });

  // --- a phone -----------------------------------------------------------------
  await check('on a phone, side by side stacks the two vertically', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.getByLabel('Side by side', { exact: true }).check();
    const [ba, bb] = [await page.locator('#side-a').boundingBox(), await page.locator('#side-b').boundingBox()];
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    // what sticks out, if anything
    const out = await page.evaluate(() => [...document.querySelectorAll('main *')]
      .filter((e) => e.getBoundingClientRect().right > 376)
      .map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 8));
    return { ok: bb.y >= ba.y + ba.height - 1 && Math.abs(ba.x - bb.x) < 1 && wide <= 375,
             diag: JSON.stringify({ ba, bb, wide, out }) };
  });

  ok(csp.length === 0, 'no Content-Security-Policy violation', csp.join('\n'));
} catch (e) {
  ok(false, 'the run', e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(done());
