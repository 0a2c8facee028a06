// The audit log's page: playwright-core driving Debian's chromium,
// headless, against the stack t/75-browser-audit.t started.  Prints TAP.
// Environment: BASE, SHOTS (screenshot folder), P and Q (Mia's and
// Quinn's projects), PA and QA (an asset of each), CHROMIUM (the browser).
import { chromium } from 'playwright-core';

import { check, done, ok } from './tap.mjs';

const { BASE, SHOTS, P, Q, PA, QA } = process.env;
const PW = 'correct horse battery';

const same = (a, b) => ({ ok: JSON.stringify(a) === JSON.stringify(b),
                          diag: `got ${JSON.stringify(a)}\nwant ${JSON.stringify(b)}` });

async function call(method, path, token) {
  const r = await fetch(new URL(path, BASE), { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: r.status, json: await r.json().catch(() => null) };
}
const tokenOf = async (email) => (await fetch(new URL('/auth/login', BASE), {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ email, password: PW }) }).then((r) => r.json())).access_token;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const csp = [];
async function signIn(email) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) csp.push(m.text());
  });
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

// the ids of the table's rows, once it has loaded
async function rows(page) {
  await page.waitForFunction(() => {
    const st = document.querySelector('#audit-state');
    return st && !/Loading/.test(st.textContent);
  });
  return page.$$eval('#audit tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));
}

try {
  // --- the admin --------------------------------------------------------------
  const ada = await signIn('ada@example.com');
  const A = await tokenOf('ada@example.com');
  await check('an admin has the Audit link', async () => {
    await ada.locator('#nav-audit').waitFor();
  });
  await ada.locator('#nav-audit').click();
  await ada.locator('#audit').waitFor();
  const first = (await call('GET', '/api/audit?limit=50', A)).json;
  await check('an admin sees the newest 50 entries, newest first, of every project', async () => {
    const got = await rows(ada);
    const r = same(got, first.items.map((i) => i.id));
    return r.ok && first.items.some((i) => i.project_id === Q) && first.items.some((i) => i.project_id === P)
      ? r : { ok: false, diag: r.diag };
  });
  await check('... with the address column', async () => {
    const heads = await ada.$$eval('#audit th', (th) => th.map((t) => t.textContent));
    const ips = await ada.$$eval('#audit td[data-label="Address"]', (td) => td.map((t) => t.textContent));
    return heads.includes('Address') ? same(ips, first.items.map((i) => i.ip || '')) : { ok: false, diag: heads };
  });
  await check('"Load more" brings the next page after the cursor, nothing twice', async () => {
    await ada.locator('#audit-more').click();
    await ada.waitForFunction((k) => document.querySelectorAll('#audit tbody tr').length > k, first.items.length);
    const got = await rows(ada);
    const next = (await call('GET', `/api/audit?limit=50&cursor=${encodeURIComponent(first.next_cursor)}`, A)).json;
    return same(got, [...first.items, ...next.items].map((i) => i.id));
  });
  await check('a filter narrows the table and is kept in the URL', async () => {
    await ada.locator('#audit-action').selectOption('asset_update');
    await ada.waitForURL(/\/audit\?action=asset_update$/);
    const got = await rows(ada);
    const want = (await call('GET', '/api/audit?action=asset_update', A)).json.items;
    const actions = await ada.$$eval('#audit tbody tr', (trs) => trs.map((tr) => tr.dataset.action));
    return want.length === 2 && actions.every((a) => a === 'asset_update') ? same(got, want.map((i) => i.id))
      : { ok: false, diag: `${want.length} ${actions}` };
  });
  await check('... and a reload keeps it', async () => {
    await ada.reload();
    await ada.locator('#audit').waitFor();
    const got = await rows(ada);
    return got.length === 2 && (await ada.locator('#audit-action').inputValue()) === 'asset_update';
  });
  await check('an asset in the table filters by that asset', async () => {
    await ada.locator('#audit-clear').click();
    await ada.waitForURL(/\/audit$/);
    await rows(ada);
    await ada.locator(`#audit a.filter[data-asset="${QA}"]`).first().click();
    await ada.waitForURL(new RegExp(`asset=${QA}`));
    const got = await rows(ada);
    const want = (await call('GET', `/api/audit?asset=${QA}`, A)).json.items;
    return want.length >= 2 ? same(got, want.map((i) => i.id)) : { ok: false, diag: 'no rows of the asset' };
  });
  await check('the time range: nothing before the instance existed', async () => {
    await ada.goto(`${BASE}/audit?to=2001-01-01T00:00:00.000Z`);
    await ada.locator('#audit').waitFor();
    const got = await rows(ada);
    return got.length === 0 && /No entry/.test(await ada.locator('#audit-state').textContent());
  });
  await ada.goto(`${BASE}/audit`);
  await ada.locator('#audit').waitFor();
  await rows(ada);
  await ada.locator('#audit-project option', { hasText: 'Harbour' }).waitFor({ state: 'attached' });
  await ada.screenshot({ path: `${SHOTS}/audit.png` });

  // --- the manager ------------------------------------------------------------
  const mia = await signIn('mia@example.com');
  const M = await tokenOf('mia@example.com');
  await check('a manager of a project has the Audit link', async () => {
    await mia.locator('#nav-audit').waitFor();
  });
  await mia.locator('#nav-audit').click();
  await mia.locator('#audit').waitFor();
  await check('a manager sees their project\'s entries only', async () => {
    const got = await rows(mia);
    const want = (await call('GET', '/api/audit?limit=50', M)).json.items;
    const all = (await call('GET', `/api/audit?limit=100&project=${Q}`, A)).json.items.map((i) => i.id);
    return want.every((i) => i.project_id === P) && !got.some((id) => all.includes(id))
      ? same(got, want.map((i) => i.id)) : { ok: false, diag: 'a row of another project' };
  });
  await check('... without the address column', async () => {
    const heads = await mia.$$eval('#audit th', (th) => th.map((t) => t.textContent));
    return !heads.includes('Address');
  });
  await check('... and a filter narrows them', async () => {
    await mia.locator('#audit-action').selectOption('asset_update');
    await mia.waitForURL(/action=asset_update/);
    const got = await rows(mia);
    const want = (await call('GET', '/api/audit?action=asset_update', M)).json.items;
    return want.length === 1 && want[0].asset_id === PA ? same(got, [want[0].id]) : { ok: false, diag: JSON.stringify(want) };
  });
  await check('... their project is the only one to choose', async () => {
    // the projects come with their own request, after the page
    await mia.waitForFunction(() => document.querySelectorAll('#audit-project option').length > 1,
                              null, { timeout: 20000 }).catch(() => {});
    const names = await mia.$$eval('#audit-project option', (o) => o.map((x) => x.textContent));
    return same(names, ['Any project', 'Harbour']);
  });

  // --- someone who manages nothing --------------------------------------------
  const vic = await signIn('vic@example.com');
  await check('a viewer has no Audit link', async () => {
    await vic.getByRole('link', { name: 'Assets' }).waitFor();
    await vic.waitForTimeout(500);
    return (await vic.locator('#nav-audit').count()) === 0;
  });
  await check('... and the page says they may not', async () => {
    await vic.goto(`${BASE}/audit`);
    await vic.locator('#audit-state .error').waitFor();
    return (await vic.locator('#audit tbody tr').count()) === 0;
  });

  await check('no Content-Security-Policy violation', async () => ({ ok: csp.length === 0, diag: csp.join('\n') }));
} catch (e) {
  ok(false, 'the run', e.stack || e.message);
}

await browser.close();
process.exit(done());
