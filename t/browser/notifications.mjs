// Notifications and @mentions in the browser (issue 21): playwright-core
// driving Debian's chromium, headless, against the stack
// t/68-browser-notifications.t started.  Three people in three browser
// contexts: Ann writes a comment on the asset page and picks Bob from the
// @-completion; Bob's bell, on the grid in his own context, counts it at
// once (the event stream, no reload), lists it, and a click opens the
// asset at that comment and marks it read; Cat, a member not mentioned,
// sees no count.  Prints TAP.  Environment: BASE, SHOTS, ASSET, CHROMIUM.
import { chromium } from 'playwright-core';

import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET } = process.env;
const PW = 'correct horse battery';

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                        args: ['--no-sandbox'] });
const errors = [];

async function signedIn(email, path) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => errors.push(`${email}: ${e.message}`));
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(BASE + path);
  return page;
}

const ann = await signedIn('ann@example.com', `/assets/${ASSET}`);
await ann.locator('#comments').waitFor();
const bob = await signedIn('bob@example.com', '/');
const cat = await signedIn('cat@example.com', '/');
// the grid's stream is open (its first event: the bell read the count)
await bob.locator('#bell').waitFor();
await cat.locator('#bell').waitFor();

await check('before anything, Bob\'s bell shows no count', async () => {
  return { ok: await bob.locator('#bell-count').isHidden(), diag: await bob.locator('#bell-count').textContent() };
});

await check('"@Bo" in the comment box offers Bob, among the project\'s members', async () => {
  const text = ann.locator('#comment-text');
  await text.click();
  await text.pressSequentially('Please check the grade, @Bo');
  await ann.locator('.mention-list li', { hasText: 'Bob Builder' }).waitFor();
  const names = await ann.locator('.mention-list li').allTextContents();
  return { ok: !names.includes('Out Sider'), diag: names.join(', ') };
});

await check('Enter picks him: the box reads "@Bob Builder "', async () => {
  await ann.locator('#comment-text').press('Enter');
  const v = await ann.locator('#comment-text').inputValue();
  return { ok: v === 'Please check the grade, @Bob Builder ', diag: v };
});

await check('the comment is posted', async () => {
  await ann.locator('#comment-text').pressSequentially('before Friday');
  await ann.getByRole('button', { name: 'Comment', exact: true }).click();
  await ann.locator('#comments li', { hasText: 'before Friday' }).waitFor();
});

await check('Bob\'s bell counts it live, without a reload', async () => {
  await bob.locator('#bell-count', { hasText: /^1$/ }).waitFor({ timeout: 10000 });
});

await check('... Cat, a member not mentioned, gets nothing', async () => {
  await bob.waitForTimeout(500);
  return await cat.locator('#bell-count').isHidden();
});

await check('the bell\'s list says who mentioned him where, with the text', async () => {
  await bob.locator('#bell').click();
  const li = bob.locator('#bell-list li.unread').first();
  await li.waitFor();
  const t = await li.textContent();
  return { ok: t.includes('Ann Lee mentioned you on Grade review') && t.includes('before Friday'), diag: t };
});
await bob.screenshot({ path: `${SHOTS}/notifications.png` });

await check('a click opens the asset at that comment and marks it read', async () => {
  await bob.locator('#bell-list li.unread .bell-item').first().click();
  await bob.waitForURL(new RegExp(`/assets/${ASSET}\\?.*comment=`));
  await bob.locator('#comments li.focused', { hasText: 'before Friday' }).waitFor();
  await bob.locator('#bell-count').waitFor({ state: 'hidden' });
});

await check('another mention on the asset page: the count again, then "Mark all read" clears it', async () => {
  await ann.locator('#comment-text').fill('And @Bob Builder, the titles too');
  await ann.getByRole('button', { name: 'Comment', exact: true }).click();
  await bob.locator('#bell-count', { hasText: /^1$/ }).waitFor({ timeout: 10000 });
  await bob.locator('#bell').click();
  await bob.locator('#bell-read-all').click();
  await bob.locator('#bell-count').waitFor({ state: 'hidden' });
  await bob.locator('#bell-list li.read', { hasText: 'the titles too' }).waitFor();
});

await check('Bob replies to Ann\'s thread, completing "@An" in the reply box: Ann\'s bell counts it live', async () => {
  const thread = bob.locator('#comments > li', { hasText: 'before Friday' });
  await thread.getByRole('button', { name: 'Reply', exact: true }).click();
  const box = bob.getByLabel('Your reply');
  await box.pressSequentially('Done, @An');
  await bob.locator('.mention-list li', { hasText: 'Ann Lee' }).click();
  await box.pressSequentially('have a look');
  const v = await box.inputValue();
  await thread.getByRole('button', { name: 'Reply', exact: true }).last().click();
  await thread.locator('.replies li', { hasText: 'have a look' }).waitFor();
  await ann.locator('#bell-count', { hasText: /^1$/ }).waitFor({ timeout: 10000 });
  return { ok: v === 'Done, @Ann Lee have a look', diag: v };
});

ok(errors.length === 0, 'no page errors', errors.join('\n'));
await browser.close();
process.exit(done());
