// The review workflow on the asset page (issue 21): playwright-core
// driving Debian's chromium, headless, against the stack
// t/79-browser-threads.t started (no transcoderd: the page waits for a
// preview, the comments and approvals work meanwhile).  Prints TAP.
// Environment: BASE, SHOTS, ASSET (Eve's asset with one version and
// Eve's thread "Check the grade"), CHROMIUM.  Eve is an editor and the
// asset's owner; Col a commenter of its project.
import { chromium } from 'playwright-core';

import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, ASSET } = process.env;
const PW = 'correct horse battery';

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                        args: ['--no-sandbox'] });
const errors = [];

async function signedIn(email) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => errors.push(`${email}: ${e.message}`));
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${BASE}/assets/${ASSET}`);
  await page.locator('#comments li', { hasText: 'Check the grade' }).waitFor();
  return page;
}

const eve = await signedIn('eve@example.com');
const col = await signedIn('col@example.com');
const thread = (page) => page.locator('#comments > li', { hasText: 'Check the grade' });

await check('a range comment shows its end and a drawing badge', async () => {
  const li = col.locator('#comments > li', { hasText: 'This span, circled' });
  const end = await li.locator('.tc-end').textContent();
  const badge = await li.locator('.badge.drawing').count();
  return { ok: end === ' – 00:00:03.500' && badge === 1, diag: JSON.stringify({ end, badge }) };
});

await check('a commenter replies to a thread: the reply shows under it', async () => {
  await thread(col).getByRole('button', { name: 'Reply', exact: true }).click();
  await col.getByLabel('Your reply').fill('On it, the shadows are crushed');
  await thread(col).getByRole('button', { name: 'Reply', exact: true }).last().click();
  await thread(col).locator('.replies li', { hasText: 'On it, the shadows are crushed' }).waitFor();
});

await check('... and it reaches the owner\'s page live', async () => {
  await thread(eve).locator('.replies li', { hasText: 'On it, the shadows are crushed' }).waitFor();
});

await check('the reply\'s author edits it: "(edited)"', async () => {
  const reply = thread(col).locator('.replies li', { hasText: 'On it' });
  await reply.getByRole('button', { name: 'Edit comment' }).click();
  await col.getByLabel('Comment text').fill('On it: the shadows are crushed below 5 %');
  await col.getByRole('button', { name: 'Save' }).click();
  await thread(col).locator('.replies li', { hasText: 'below 5 %' }).locator('.edited').waitFor();
});

await check('a commenter is offered no Resolve on another\'s thread, nor the approval buttons', async () => {
  const resolve = await thread(col).locator(':scope > .comment-tools .resolve').count();
  const buttons = await col.locator('#approval button[data-approval]').count();
  return { ok: resolve === 0 && buttons === 0, diag: `resolve ${resolve}, approval buttons ${buttons}` };
});

await check('the owner resolves the thread: the badge', async () => {
  await thread(eve).locator(':scope > .comment-tools').getByRole('button', { name: 'Resolve' }).click();
  await thread(eve).locator('.resolved-badge').waitFor();
  await thread(eve).locator(':scope > .comment-tools').getByRole('button', { name: 'Reopen' }).waitFor();
});

await check('the filters: open shows the other thread only, resolved this one with its reply', async () => {
  await eve.locator('#comments-status').selectOption('open');
  await eve.locator('#comments > li', { hasText: 'This span, circled' }).waitFor();
  await thread(eve).waitFor({ state: 'detached' });
  await eve.locator('#comments-status').selectOption('resolved');
  await thread(eve).locator('.replies li', { hasText: 'below 5 %' }).waitFor();
  const others = await eve.locator('#comments > li', { hasText: 'This span, circled' }).count();
  return { ok: others === 0, diag: `open threads shown: ${others}` };
});

await check('mine: the commenter\'s threads include the one they replied to', async () => {
  await col.locator('#comments-mine').check();
  await thread(col).waitFor();
  await col.locator('#comments-status').selectOption('open');
  await col.locator('#comments li', { hasText: 'No threads match.' }).waitFor();
  await col.locator('#comments-mine').uncheck();
  await col.locator('#comments > li', { hasText: 'This span, circled' }).waitFor();
  await col.locator('#comments-status').selectOption('');
});

await check('the owner approves the version with a note: the badge, who and the note', async () => {
  await eve.locator('#approval-note').fill('Good to go');
  await eve.locator('#approval').getByRole('button', { name: 'Approved' }).click();
  await eve.locator('#approval .badge.approval.approved').waitFor();
  await eve.locator('#approval-by', { hasText: 'Eve Editor — “Good to go”' }).waitFor();
  await eve.locator('#versions .badge.approval.approved').waitFor();
});

await check('... and the commenter\'s page shows it live', async () => {
  await col.locator('#approval .badge.approval.approved').waitFor();
});

await check('changes requested: the badge follows', async () => {
  await eve.locator('#approval').getByRole('button', { name: 'Changes requested' }).click();
  await eve.locator('#approval .badge.approval.changes_requested').waitFor();
  await col.locator('#versions .badge.approval.changes_requested').waitFor();
});

await eve.locator('#comments-status').selectOption('');
await thread(eve).locator('.replies').waitFor();
await eve.screenshot({ path: `${SHOTS}/threads.png` });

ok(errors.length === 0, 'no page errors', errors.join('\n'));
await browser.close();
process.exit(done());
