// Review links (issue 22) in a real browser: playwright-core driving
// Debian's chromium, headless, against the stack t/67-browser-guest.t
// started (no transcoderd: the version's preview is marked playable in
// the database, so playback is signed; the picture itself never comes).
// A manager shares the asset from its page (passphrase, approval on),
// copies the link; a guest without an account opens it: a wrong
// passphrase is refused, the right one and a name let them in; they see
// the client comment and not the internal one, draw an arrow on the
// frame and comment with it, and approve the version; the manager sees
// the view and the guest on the project page, and revokes the link,
// which the guest's next load says has ended.  Prints TAP.
// Environment: BASE, SHOTS, ASSET, PROJECT, CHROMIUM.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET, PROJECT } = process.env;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                        args: ['--no-sandbox'] });
const errors = [];
// axe-core from node_modules in every page (no network), as t/72's
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function axeCheck(page, screen) {
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((x) => x.target.join(' ')).join(', ')}`);
  });
  return { ok: r.length === 0, diag: `${screen}: ${r.join('\n')}` };
}

async function pageOf(who) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript({ content: AXE });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => errors.push(`${who}: ${e.message}`));
  return page;
}

const mia = await pageOf('mia');
await mia.goto(BASE + '/login');
await mia.getByLabel('Email').fill('mia@example.com');
await mia.getByLabel('Password').fill('correct horse battery');
await mia.getByRole('button', { name: 'Sign in' }).click();
await mia.getByRole('button', { name: 'Sign out' }).waitFor();

let url = '';
await check('the manager shares the asset: a link to copy', async () => {
  await mia.goto(`${BASE}/assets/${ASSET}`);
  await mia.getByRole('button', { name: 'Share' }).click();
  await mia.getByLabel('Guests may approve').check();
  await mia.getByLabel('Passphrase (optional)').fill('open sesame');
  await mia.getByRole('button', { name: 'Create link' }).click();
  await mia.locator('#share-url').waitFor();
  url = await mia.locator('#share-url').inputValue();
  await mia.screenshot({ path: `${SHOTS}/share-dialog.png` });
  return { ok: /\/r\/[A-Za-z0-9_-]{43}$/.test(url), diag: url };
});
await check('axe: the share dialog', () => axeCheck(mia, 'share dialog'));
await mia.getByRole('button', { name: 'Close' }).click();

const guest = await pageOf('guest');
await check('a guest opens the link: the passphrase and a name are asked', async () => {
  await guest.goto(url);
  await guest.getByLabel('Passphrase').waitFor();
  await guest.getByLabel('Your name (shown with your comments)').waitFor();
});
await check('axe: the guest\'s sign-in', () => axeCheck(guest, 'guest sign-in'));

await check('a wrong passphrase is refused', async () => {
  await guest.getByLabel('Passphrase').fill('open says me');
  await guest.getByLabel('Your name (shown with your comments)').fill('Gina Guest');
  await guest.getByRole('button', { name: 'Open' }).click();
  await guest.locator('#guest-form .error', { hasText: 'That passphrase is not right.' }).waitFor();
});

await check('the right one and the name open the review', async () => {
  await guest.getByLabel('Passphrase').fill('open sesame');
  await guest.getByRole('button', { name: 'Open' }).click();
  await guest.getByRole('heading', { name: 'Client cut' }).waitFor();
  await guest.locator('text=Signed in as Gina Guest').waitFor();
});

await check('the guest sees the client comment, not the internal one', async () => {
  await guest.locator('#guest-comments', { hasText: 'Warmer, please' }).waitFor();
  const internal = await guest.locator('#guest-comments', { hasText: 'Budget' }).count();
  return { ok: internal === 0, diag: `internal shown: ${internal}` };
});

await check('the guest draws an arrow on the frame and comments with it', async () => {
  await guest.getByRole('button', { name: 'Draw an arrow' }).click();
  const box = await guest.locator('#draw-layer').boundingBox();
  await guest.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
  await guest.mouse.down();
  await guest.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.6, { steps: 5 });
  await guest.mouse.up();
  const lines = await guest.locator('#draw-layer line').count();
  await guest.getByLabel('Your comment').fill('The sky: more blue here');
  await guest.screenshot({ path: `${SHOTS}/guest-review.png` });
  await guest.getByRole('button', { name: 'Comment', exact: true }).click();
  await guest.locator('#guest-comments article', { hasText: 'The sky: more blue here' }).locator('.badge.drawing').waitFor();
  return { ok: lines === 1, diag: `arrows drawn: ${lines}` };
});

await check('axe: the guest\'s review page', () => axeCheck(guest, 'guest review'));

await check('the guest approves the version', async () => {
  await guest.locator('#approval').getByRole('button', { name: 'Approved' }).click();
  await guest.locator('#approval .badge.approval.approved').waitFor();
});

await check('the manager sees the guest\'s comment, and the internal one marked', async () => {
  await mia.goto(`${BASE}/assets/${ASSET}`);
  await mia.locator('#comments li', { hasText: 'Gina Guest (guest)' }).waitFor();
  await mia.locator('#comments li', { hasText: 'Budget' }).locator('.badge.internal').waitFor();
});

await check('the project page lists the link with its view and guest', async () => {
  await mia.goto(`${BASE}/projects/${PROJECT}`);
  const row = mia.locator('#shares tbody tr').first();
  await row.locator('.views', { hasText: /^[1-9]/ }).waitFor();
  const guests = await row.locator('.guests').textContent();
  await mia.screenshot({ path: `${SHOTS}/shares-list.png`, fullPage: true });
  return { ok: guests === '1', diag: `guests: ${guests}` };
});
await check('axe: the project page with its links', () => axeCheck(mia, 'project links'));

await check('the manager revokes it: the guest\'s next load says it has ended', async () => {
  await mia.locator('#shares tbody tr').first().getByRole('button', { name: /^Revoke/ }).click();
  await mia.locator('#confirm').getByRole('button', { name: 'Revoke' }).click();
  await mia.locator('#shares .badge.share-revoked').waitFor();
  await guest.reload();
  await guest.locator('#guest-ended').waitFor();
  await guest.getByRole('heading', { name: 'This link has ended' }).waitFor();
});

ok(errors.length === 0, 'no page errors', errors.join('\n'));
await browser.close();
process.exit(done());
