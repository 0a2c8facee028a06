// Drawings on the frame and ranges (issue 21): playwright-core driving
// Debian's chromium, headless, against the stack t/69-browser-drawing.t
// started.  Prints TAP.  Environment: BASE, SHOTS (screenshot folder),
// ASSET (Eve's asset: v1 at 24 fps showing its frame numbers 0..143 in
// binary, with 23 approval decisions), CHROMIUM.
//
// The frame on screen is read off the picture (frames.mjs), the drawing off
// the pixels of the canvas over it.  The window is wide and low, so the
// 4:3 picture is letterboxed (pillarboxed) in its element: the pointer is
// placed at fractions of the picture, worked out here from the video's own
// size, and t/69 checks that the API got those fractions.
import { chromium } from 'playwright-core';

import { FRAME_READER } from './frames.mjs';
import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET } = process.env;
const PW = 'correct horse battery';
const FPS = 24;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 640 } });
await ctx.addInitScript({ content: FRAME_READER });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => {
  if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) errors.push(m.text());
});

const ready = () => page.locator('#stage[data-ready="1"]').waitFor({ timeout: 60000 })
  .then(() => page.waitForFunction(() => document.querySelector('#video').readyState >= 2
                                         && document.querySelector('#video').duration > 0));
const frameOnScreen = () => page.evaluate(async () => {
  const v = document.querySelector('#video');
  await window.frameShown([v]);
  return window.burnedIn(v);
});
const clockFrame = () => page.evaluate(() => Number(document.querySelector('#timecode').dataset.frame));
// paused on frame f (the middle of its interval), once it is painted
const seekFrame = async (f) => {
  await page.evaluate(([f, fps]) => {
    const v = document.querySelector('#video');
    v.pause();
    v.currentTime = (f + 0.5) / fps;
  }, [f, FPS]);
  return frameOnScreen();
};
// the picture's rectangle inside the video element, in the page's pixels
const picture = () => page.evaluate(() => {
  const v = document.querySelector('#video');
  const b = v.getBoundingClientRect();
  const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
  const w = v.videoWidth * s, hh = v.videoHeight * s;
  return { x: b.left + (b.width - w) / 2, y: b.top + (b.height - hh) / 2, w, h: hh, ew: b.width, eh: b.height };
});
const at = (p, fx, fy) => [p.x + fx * p.w, p.y + fy * p.h];
// a drag through the picture's points, the picture scrolled into view first
const drag = async (points) => {
  await page.locator('#video').scrollIntoViewIfNeeded();
  const p = await picture();
  await page.mouse.move(...at(p, ...points[0]));
  await page.mouse.down();
  for (const pt of points.slice(1)) await page.mouse.move(...at(p, ...pt), { steps: 6 });
  await page.mouse.up();
};
const STROKE = [[0.6, 0.6], [0.7, 0.65], [0.8, 0.62], [0.85, 0.7]];
// the canvas's pixel over the picture's point (fx, fy): [r, g, b, a]
const pixel = (fx, fy) => page.evaluate(([fx, fy]) => {
  const v = document.querySelector('#video'), c = document.querySelector('#drawing');
  const b = v.getBoundingClientRect();
  const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
  const w = v.videoWidth * s, hh = v.videoHeight * s;
  const dpr = c.width / b.width;
  const x = ((b.width - w) / 2 + fx * w) * dpr, y = ((b.height - hh) / 2 + fy * hh) * dpr;
  return [...c.getContext('2d').getImageData(Math.round(x), Math.round(y), 1, 1).data];
}, [fx, fy]);
// how many of the canvas's pixels are drawn on
const inked = () => page.evaluate(() => {
  const c = document.querySelector('#drawing');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return n;
});
const red = (p) => p[0] > 200 && p[1] < 110 && p[2] < 110 && p[3] > 200;
const green = (p) => p[1] > 200 && p[0] < 110 && p[2] < 110 && p[3] > 200;
const shownIds = () => page.evaluate(() => document.querySelector('#drawing').dataset.shown || '');
const drawnComment = () => page.locator('#comments > li', { hasText: 'Fix this corner' });
let drawnId = null;

try {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill('eve@example.com');
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${BASE}/assets/${ASSET}`);
  await ready();

  await check('the picture is letterboxed in its element (the case the fractions must survive)', async () => {
    const p = await picture();
    return { ok: p.ew - p.w > 40, diag: JSON.stringify(p) };
  });

  await check('D turns the drawing tools on, over frame 60, paused', async () => {
    const n = await seekFrame(60);
    await page.locator('#video').scrollIntoViewIfNeeded();
    await page.locator('h1').click();
    await page.keyboard.press('d');
    await page.locator('#draw-tools').waitFor({ state: 'visible' });
    const pressed = await page.locator('#draw-toggle').getAttribute('aria-pressed');
    const paused = await page.evaluate(() => document.querySelector('#video').paused);
    return { ok: n === 60 && pressed === 'true' && paused, diag: JSON.stringify({ n, pressed, paused }) };
  });

  await check('a rectangle dragged from (0.2, 0.2) to (0.5, 0.5) of the picture', async () => {
    await page.getByRole('button', { name: 'Rectangle' }).click();
    await drag([[0.2, 0.2], [0.5, 0.5]]);
    const draft = await page.locator('#drawing').getAttribute('data-draft');
    const edge = await pixel(0.2, 0.35);
    return { ok: draft === '1' && red(edge), diag: JSON.stringify({ draft, edge }) };
  });

  await check('a freehand stroke (key 5), green and thick, through four points', async () => {
    await page.keyboard.press('5');
    await page.locator('#draw-color').fill('#00ff00');
    await page.locator('#draw-width').selectOption('0.012');
    await drag(STROKE);
    const draft = await page.locator('#drawing').getAttribute('data-draft');
    const ink = await pixel(0.8, 0.62);
    const tool = await page.locator('#draw-tools [data-tool="freehand"]').getAttribute('aria-pressed');
    return { ok: draft === '2' && green(ink) && tool === 'true', diag: JSON.stringify({ draft, ink, tool }) };
  });

  await check('the comment box says a drawing goes with the comment, held at the frame drawn on', async () => {
    const note = await page.locator('#comment-drawing').textContent();
    const atValue = await page.locator('#comment-at').inputValue();
    return { ok: /2 shapes/.test(note) && atValue === '00:00:02:12', diag: JSON.stringify({ note, atValue }) };
  });

  await check('Ctrl+Z undoes the last shape; drawn again', async () => {
    await page.keyboard.press('Control+z');
    const after = await page.locator('#drawing').getAttribute('data-draft');
    await drag(STROKE);
    const again = await page.locator('#drawing').getAttribute('data-draft');
    return { ok: after === '1' && again === '2', diag: JSON.stringify({ after, again }) };
  });
  await page.screenshot({ path: `${SHOTS}/drawing-tools.png` });

  await check('sent with the comment: the tools close, and what shows is the server\'s drawing', async () => {
    await page.locator('#comment-text').fill('Fix this corner');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await drawnComment().locator('.badge.drawing').waitFor();
    drawnId = await drawnComment().getAttribute('data-id');
    await page.waitForFunction((id) => (document.querySelector('#drawing').dataset.shown || '').split(' ').includes(id),
                                drawnId);
    const draft = await page.locator('#drawing').getAttribute('data-draft');
    const tools = await page.locator('#draw-tools').isVisible();
    const edge = await pixel(0.2, 0.35);
    return { ok: draft === '0' && !tools && red(edge), diag: JSON.stringify({ draft, tools, edge }) };
  });

  await page.reload();
  await ready();

  await check('after a reload, frame 40 shows no drawing', async () => {
    const n = await seekFrame(40);
    const ids = await shownIds();
    const ink = await inked();
    return { ok: n === 40 && ids === '' && ink === 0, diag: JSON.stringify({ n, ids, ink }) };
  });

  await check('played from frame 40, playback stops on frame 60 with its drawing shown', async () => {
    await page.evaluate(() => document.querySelector('#video').play());
    await page.waitForFunction((id) => document.querySelector('#video').paused
                                && (document.querySelector('#drawing').dataset.shown || '').split(' ').includes(id),
                                drawnId, { timeout: 15000 });
    const n = await frameOnScreen();
    const f = await clockFrame();
    const edge = await pixel(0.2, 0.35), corner = await pixel(0.5, 0.5), stroke = await pixel(0.8, 0.62);
    const inside = await pixel(0.35, 0.35);
    return { ok: n === 60 && f === 60 && red(edge) && red(corner) && green(stroke) && inside[3] === 0,
             diag: JSON.stringify({ n, f, edge, corner, stroke, inside }) };
  });

  await check('played on, the drawing is hidden after its frame', async () => {
    await page.evaluate(() => document.querySelector('#video').play());
    await page.waitForFunction(() => Number(document.querySelector('#timecode').dataset.frame) >= 66);
    await page.evaluate(() => document.querySelector('#video').pause());
    const n = await frameOnScreen();
    const ids = await shownIds();
    const ink = await inked();
    return { ok: n > 60 && ids === '' && ink === 0, diag: JSON.stringify({ n, ids, ink }) };
  });

  await check('a click on the comment seeks to frame 60 and shows the drawing', async () => {
    await seekFrame(100);
    const before = await inked();
    await drawnComment().locator('.tc').click();
    await page.waitForFunction((id) => (document.querySelector('#drawing').dataset.shown || '').split(' ').includes(id),
                                drawnId);
    const n = await frameOnScreen();
    const edge = await pixel(0.2, 0.35);
    const selected = await drawnComment().evaluate((li) => li.classList.contains('selected'));
    return { ok: before === 0 && n === 60 && red(edge) && selected, diag: JSON.stringify({ before, n, edge, selected }) };
  });

  await check('I at frame 24, O at frame 72: the range on the timeline and in the comment box', async () => {
    await seekFrame(24);
    await page.locator('h1').click();
    await page.keyboard.press('i');
    await seekFrame(72);
    await page.keyboard.press('o');
    await page.locator('#range-sel').waitFor({ state: 'visible' });
    const note = await page.locator('#comment-range').textContent();
    return { ok: note.startsWith('Range 00:00:01:00 – 00:00:03:00'), diag: note };
  });

  await check('a range comment: its end in the list, a bar over its span on the timeline', async () => {
    await page.locator('#comment-text').fill('This whole span');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    const li = page.locator('#comments > li', { hasText: 'This whole span' });
    await li.locator('.tc-end').waitFor();
    const id = await li.getAttribute('data-id');
    const bar = page.locator(`#timeline .range-bar[data-id="${id}"]`);
    await bar.waitFor({ state: 'attached' });
    const g = await page.evaluate((id) => {
      const tl = document.querySelector('#timeline').getBoundingClientRect();
      const b = document.querySelector(`#timeline .range-bar[data-id="${id}"]`).getBoundingClientRect();
      const d = document.querySelector('#video').duration;
      return { left: (b.left - tl.left) / tl.width, width: b.width / tl.width, d };
    }, id);
    const end = await li.locator('.tc-end').textContent();
    const sel = await page.locator('#range-sel').isVisible();
    const wantLeft = (24.5 / FPS) / g.d, wantWidth = 2 / g.d;
    return { ok: Math.abs(g.left - wantLeft) < 0.01 && Math.abs(g.width - wantWidth) < 0.01 && end === ' – 00:00:03:00'
                 && !sel,
             diag: JSON.stringify({ g, wantLeft, wantWidth, end, sel }) };
  });

  await check('Shift+drag on the timeline marks a range; X clears it', async () => {
    const tl = await page.locator('#timeline').boundingBox();
    const y = tl.y + tl.height / 2;
    await page.keyboard.down('Shift');
    await page.mouse.move(tl.x + tl.width * 0.1, y);
    await page.mouse.down();
    await page.mouse.move(tl.x + tl.width * 0.3, y, { steps: 6 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    const g = await page.evaluate(() => {
      const t = document.querySelector('#timeline').getBoundingClientRect();
      const b = document.querySelector('#range-sel').getBoundingClientRect();
      return { left: (b.left - t.left) / t.width, width: b.width / t.width };
    });
    const note = await page.locator('#comment-range').isVisible();
    await page.locator('h1').click();
    await page.keyboard.press('x');
    const gone = await page.locator('#range-sel').isHidden() && await page.locator('#comment-range').isHidden();
    return { ok: Math.abs(g.left - 0.1) < 0.02 && Math.abs(g.width - 0.2) < 0.02 && note && gone,
             diag: JSON.stringify({ g, note, gone }) };
  });

  await check('? lists the keyboard shortcuts; Escape closes the list', async () => {
    await page.keyboard.press('?');
    const d = page.locator('#shortcuts');
    await d.waitFor({ state: 'visible' });
    const text = await d.textContent();
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    return { ok: /Mark the in or out point/.test(text) && /Drawing tools on or off/.test(text) && /undo the last shape/.test(text),
             diag: text };
  });

  await check('a draft stops at the API\'s 64 shapes, saying so, and the server takes them all', async () => {
    await seekFrame(100);
    await page.locator('h1').click();
    await page.keyboard.press('d');
    await page.keyboard.press('5');
    await page.locator('#video').scrollIntoViewIfNeeded();
    const p = await picture();
    for (let i = 0; i < 65; i++) await page.mouse.click(...at(p, 0.1 + (i % 13) * 0.06, 0.3 + Math.floor(i / 13) * 0.1));
    const draft = await page.locator('#drawing').getAttribute('data-draft');
    const said = await page.locator('#draw-full').isVisible();
    await page.locator('#comment-text').fill('Many dots');
    await page.getByRole('button', { name: 'Comment', exact: true }).click();
    await page.locator('#comments > li', { hasText: 'Many dots' }).locator('.badge.drawing').waitFor();
    return { ok: draft === '64' && said, diag: JSON.stringify({ draft, said }) };
  });

  await check('the approval history: 20 decisions, "More" brings the other 3', async () => {
    await page.locator('#approval-history-toggle').click();
    await page.locator('#approval-history li').nth(19).waitFor();
    const first = await page.locator('#approval-history li').first().textContent();
    await page.locator('#approval-more').click();
    await page.locator('#approval-history li').nth(22).waitFor();
    const n = await page.locator('#approval-history li').count();
    const more = await page.locator('#approval-more').isHidden();
    const last = await page.locator('#approval-history li').last().textContent();
    return { ok: n === 23 && more && /round 23/.test(first) && /round 1”/.test(last) && /Eve Editor/.test(first),
             diag: JSON.stringify({ n, more, first, last }) };
  });

  // the picture of it all: the drawing on its frame, the range's bar
  await page.locator('#approval-history-toggle').click();
  await page.setViewportSize({ width: 1280, height: 900 });
  await drawnComment().locator('.tc').click();
  await page.waitForFunction((id) => (document.querySelector('#drawing').dataset.shown || '').split(' ').includes(id),
                              drawnId);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/drawing.png` });
  ok(errors.length === 0, 'no page error, no Content-Security-Policy refusal', errors.join('\n'));
} catch (e) {
  ok(false, 'the run', e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(done());
