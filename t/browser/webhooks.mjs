// A project's webhooks in the SPA (issue 22), against the stack
// t/67-browser-webhooks.t started (webhookd delivering to its receiver).
// Prints TAP.  Environment: BASE, PROJECT, RECEIVER (the receiver's base
// URL), SHOTS (screenshot folder), CHROMIUM.
import { chromium } from 'playwright-core';
import { AXE, axeViolations } from './axe.mjs';
import { check as step, done, ok } from './tap.mjs';

const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS;
const PROJECT = process.env.PROJECT;
const RECEIVER = process.env.RECEIVER;
const PW = 'correct horse battery';

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                        args: ['--no-sandbox'] });
const csp = [];
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript({ content: AXE });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) csp.push(m.text()); });
  return page;
}
async function signIn(page, email, path) {
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(BASE + path);
}
const toastSays = (page, re) => page.locator('#toast .msg', { hasText: re }).first().waitFor();

const page = await newPage();
const check = (what, fn) => step(what, fn, (i) => (process.env.FAIL_SHOTS
  ? page.screenshot({ path: `${process.env.FAIL_SHOTS}/fail-${i}.png` }) : Promise.resolve()));

await check('the manager opens the project and follows its Webhooks link', async () => {
  await signIn(page, 'pia@example.com', `/projects/${PROJECT}`);
  await page.locator('#open-webhooks').click();
  await page.getByRole('heading', { name: /^Webhooks of Clients$/ }).waitFor();
  await page.locator('#webhooks-state', { hasText: 'No webhooks yet.' }).waitFor();
});

await check('a URL that is not http(s) is refused with the server\'s reason', async () => {
  await page.getByLabel('Payload URL').fill('ftp://127.0.0.1/x');
  await page.locator('#wh-add').click();
  await page.locator('#webhook-add .error', { hasText: /must begin with http:\/\/ or https:\/\// }).waitFor();
});

let secret;
await check('adding a webhook shows its secret once', async () => {
  const made = (await page.locator('#wh-secret').inputValue());
  ok(/^[0-9a-f]{64}$/.test(made), 'the form offers a random 256-bit secret');
  await page.getByLabel('Payload URL').fill(`${RECEIVER}/ok`);
  await page.getByLabel('share.viewed').uncheck();
  await page.locator('#wh-add').click();
  await toastSays(page, /Webhook added/);
  secret = await page.locator('#wh-secret-once').textContent();
  await page.locator('#webhooks li.webhook').first().waitFor();
  const events = await page.locator('#webhooks li.webhook .events').textContent();
  return { ok: secret === made && !events.includes('share.viewed') && events.includes('comment.created'),
           diag: `${secret} ${events}` };
});
console.log(`# secret ${secret}`);

await check('"Send test event" delivers it: the log shows it delivered with 200', async () => {
  const card = page.locator('#webhooks li.webhook').first();
  await card.getByRole('button', { name: 'Send test event' }).click();
  await toastSays(page, /Test event queued/);
  for (let i = 0; i < 40; i++) {
    if (await card.locator('tr.delivery[data-state="delivered"]').count()) break;
    await page.waitForTimeout(250);
    await card.getByRole('button', { name: 'Refresh' }).click();
  }
  const row = card.locator('tr.delivery').first();
  const text = await row.textContent();
  return { ok: /webhook\.test/.test(text) && /delivered/.test(text) && /200/.test(text), diag: text };
});

await check('axe finds nothing serious on the webhooks page with its log open', async () => {
  const r = await axeViolations(page);
  return { ok: r.length === 0, diag: r.join('\n') };
});

await check('screenshot docs/screenshots/webhooks.png', async () => {
  await page.screenshot({ path: `${SHOTS}/webhooks.png`, fullPage: true });
});

await check('a webhook can be disabled', async () => {
  const card = page.locator('#webhooks li.webhook').first();
  await card.getByLabel('Active').uncheck();
  await page.locator('#webhooks li.webhook .badge', { hasText: 'disabled' }).waitFor();
});

await check('a viewer sees no Webhooks link and is told only managers see them', async () => {
  const p2 = await newPage();
  await signIn(p2, 'carl@example.com', `/projects/${PROJECT}`);
  await p2.locator('#open-assets').waitFor();
  const links = await p2.locator('#open-webhooks').count();
  await p2.goto(`${BASE}/projects/${PROJECT}/webhooks`);
  await p2.locator('#webhooks-readonly').waitFor();
  return { ok: links === 0 && (await p2.locator('#webhook-add').count()) === 0, diag: `links ${links}` };
});

await check('deleting asks first, then the webhook is gone', async () => {
  const card = page.locator('#webhooks li.webhook').first();
  await card.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Delete webhook' }).click();
  await toastSays(page, /Webhook deleted/);
  await page.locator('#webhooks-state', { hasText: 'No webhooks yet.' }).waitFor();
});

ok(csp.length === 0, 'no Content-Security-Policy violation', csp.join('\n'));
await browser.close();
process.exit(done());
