// Custom fields, tags, downloads, the filter bar and the bulk edit in the
// SPA: playwright-core driving Debian's chromium, headless, against the
// stack t/74-browser-metadata.t started.  Prints TAP.  Environment: BASE,
// PROJECT (Mia manages it; Eve is an editor without downloads), ASSETS
// (its three assets, each with a version), SHOTS.
import { chromium } from 'playwright-core';

const { BASE, PROJECT, SHOTS } = process.env;
const ASSETS = process.env.ASSETS.split(',');
const PW = 'correct horse battery';
let n = 0, failed = 0;

function ok(cond, what, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && diag) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
}

const pages = [];
async function check(what, fn) {
  let good = false;
  try {
    const r = await fn();
    good = r === undefined || r === true || (r && r.ok);
    ok(good, what, r && r.diag);
  } catch (e) {
    ok(false, what, e.stack || e.message);
  }
  // what the pages showed, for the one reading the failure
  if (!good && process.env.FAILSHOTS) {
    for (const [i, p] of pages.entries()) await p.screenshot({ path: `${process.env.FAILSHOTS}/fail-${n}-${i}.png` });
  }
}

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

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                        args: ['--no-sandbox'] });

async function signedIn(email) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  pages.push(page);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await page.goto(BASE + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

const mia = await signedIn('mia@example.com');
const miaToken = await tokenOf('mia@example.com');

// --- field definitions ---------------------------------------------------------

async function addField(label, kind, choices) {
  await mia.locator('#nf-label').fill(label);
  await mia.locator('#nf-kind').selectOption(kind);
  if (choices) await mia.locator('#nf-choices').fill(choices.join('\n'));
  await mia.getByRole('button', { name: 'Add field' }).click();
  await mia.locator('#fields li', { hasText: label }).waitFor();
}

await check('the manager defines fields on /projects/:id/fields', async () => {
  await mia.goto(`${BASE}/projects/${PROJECT}/fields`);
  await mia.locator('h1', { hasText: 'Fields of Documentary' }).waitFor();
  await addField('Rating', 'choice', ['good', 'bad', 'ugly']);
  await addField('Shot on', 'date');
  await addField('Takes', 'number');
  await addField('Scratch', 'text');
  const names = await mia.locator('#fields li').evaluateAll((ls) => ls.map((l) => l.dataset.name));
  return { ok: names.join() === 'rating,shot_on,takes,scratch', diag: names.join() };
});

await check('a refused field says why (a taken name)', async () => {
  await mia.locator('#nf-label').fill('Rating');
  await mia.locator('#nf-kind').selectOption('text');
  await mia.getByRole('button', { name: 'Add field' }).click();
  await mia.locator('#field-add .error', { hasText: /./ }).waitFor();
  const text = await mia.locator('#field-add .error').textContent();
  return { ok: /rating/i.test(text) && /already/.test(text), diag: text };
});

await check('edit a label, move a field up, delete one', async () => {
  await mia.locator('#nf-label').fill('');
  await mia.locator('#fields li[data-name="takes"] .edit').click();
  await mia.locator('#fields li[data-name="takes"] input').fill('Number of takes');
  await mia.locator('#fields li[data-name="takes"] button[type="submit"]').click();
  await mia.locator('#fields li[data-name="takes"] .label', { hasText: 'Number of takes' }).waitFor();
  await mia.locator('#fields li[data-name="shot_on"] .up').click();
  await mia.waitForFunction(() => document.querySelector('#fields li')?.dataset.name === 'shot_on');
  await mia.locator('#fields li[data-name="scratch"] .delete').click();
  await mia.locator('#confirm button.danger').click();
  await mia.locator('#fields li[data-name="scratch"]').waitFor({ state: 'detached' });
  const names = await mia.locator('#fields li').evaluateAll((ls) => ls.map((l) => l.dataset.name));
  return { ok: names.join() === 'shot_on,rating,takes', diag: names.join() };
});

await check('the choices of a field are edited', async () => {
  await mia.locator('#fields li[data-name="rating"] .edit').click();
  await mia.locator('#fields li[data-name="rating"] textarea').fill('good\nbad\nugly\nfine');
  await mia.locator('#fields li[data-name="rating"] button[type="submit"]').click();
  await mia.locator('#fields li[data-name="rating"] .choices', { hasText: 'fine' }).waitFor();
});
// the screenshot without the toasts of the steps before
await mia.evaluate(() => { document.querySelector('#toast').replaceChildren(); scrollTo(0, 0); });
await mia.screenshot({ path: `${SHOTS}/fields.png` });

// --- values, tags and downloads on the asset page --------------------------------

await check('the asset page edits field values and tags', async () => {
  await mia.goto(`${BASE}/assets/${ASSETS[0]}`);
  await mia.locator('#edit-fields').click();
  await mia.locator('#af-rating').selectOption('good');
  await mia.locator('#af-shot_on').fill('2024-02-29');
  await mia.locator('#af-takes').fill('3.0');
  await mia.locator('#af-tags').fill(' Sunset, beach , SUNSET');
  await mia.locator('#fields-form button[type="submit"]').click();
  await mia.locator('#edit-fields').waitFor();
  const rating = await mia.locator('#field-values dd[data-field="rating"]').textContent();
  const tags = await mia.locator('#asset-tags .tag').allTextContents();
  const a = (await call('GET', `/api/assets/${ASSETS[0]}`, undefined, miaToken)).json.asset;
  return { ok: rating === 'good' && tags.join() === 'beach,sunset' && a.fields.takes === 3
           && a.fields.shot_on === '2024-02-29',
           diag: `${rating} ${tags} ${JSON.stringify(a.fields)}` };
});

await check('a bad value is refused, naming the field', async () => {
  await mia.locator('#edit-fields').click();
  await mia.locator('#af-shot_on').evaluate((el) => { el.type = 'text'; el.value = '2023-02-29'; });
  await mia.locator('#fields-form button[type="submit"]').click();
  await mia.locator('#fields-form .error', { hasText: /./ }).waitFor();
  const text = await mia.locator('#fields-form .error').textContent();
  await mia.locator('#fields-form button.ghost').click();
  return { ok: /shot_on/.test(text), diag: text };
});

await check('a download button per version, with downloads allowed', async () => {
  const button = mia.locator('#versions button.download');
  await button.first().waitFor();
  const [download, res] = await Promise.all([
    mia.waitForEvent('download'),
    mia.waitForResponse((r) => /\/api\/versions\/[^/]+\/download$/.test(r.url())),
    button.first().click(),
  ]);
  return { ok: res.status() === 200 && /\.mp4$/.test(download.suggestedFilename()),
           diag: `${res.status()} ${download.suggestedFilename()}` };
});

const eve = await signedIn('eve@example.com');
await check('no download button without downloads', async () => {
  await eve.goto(`${BASE}/assets/${ASSETS[0]}`);
  await eve.locator('#versions li').first().waitFor();
  await eve.locator('#asset-fields').waitFor();
  return { ok: await eve.locator('#versions button.download').count() === 0 };
});
await check('an editor who is not the owner sees the values, cannot edit them', async () => {
  const rating = await eve.locator('#field-values dd[data-field="rating"]').textContent();
  return { ok: rating === 'good' && await eve.locator('#edit-fields').count() === 0, diag: rating };
});

// --- the filter bar ---------------------------------------------------------------

const asked = [];
mia.on('request', (r) => { if (/\/api\/assets\?/.test(r.url())) asked.push(new URL(r.url())); });
const lastAsked = () => asked[asked.length - 1];

await check('the filter bar shows the project\'s fields', async () => {
  await mia.goto(`${BASE}/?project=${PROJECT}`);
  await mia.locator('#flt-field-rating').waitFor();
  await mia.locator('#grid .tile').first().waitFor();
  return { ok: await mia.locator('#flt-field-shot_on').getAttribute('type') === 'date' };
});

await check('a tag filter shows its assets only (the server filters)', async () => {
  const answered = mia.waitForResponse((r) => /[?&]tag=sunset/.test(r.url()));
  await mia.locator('#flt-tag').fill('Sunset');
  await mia.waitForURL(/tag=sunset/);
  await answered;
  await mia.waitForFunction((id) => {
    const ids = [...document.querySelectorAll('#grid .tile')].map((t) => t.dataset.id);
    return ids.length === 1 && ids[0] === id;
  }, ASSETS[0], { timeout: 10000 }).catch(() => {});
  const ids = await mia.locator('#grid .tile').evaluateAll((ts) => ts.map((t) => t.dataset.id));
  return { ok: ids.length === 1 && ids[0] === ASSETS[0], diag: ids.join(',') };
});

await check('filters go into the URL and the request, as /api/assets takes them', async () => {
  await mia.locator('#flt-status').selectOption('queued');
  await mia.locator('#flt-field-rating').selectOption('good');
  // listened for before the date goes in: the answer may come before the
  // URL is seen to change
  const answered = mia.waitForResponse((r) => /created_from=2024-01-01/.test(r.url()));
  await mia.locator('#flt-from').fill('2024-01-01');
  await mia.waitForURL(/created_from=2024-01-01/);
  await answered;
  const url = new URL(mia.url());
  const req = lastAsked();
  const want = { project: PROJECT, tag: 'sunset', status: 'queued', 'field.rating': 'good', created_from: '2024-01-01' };
  const bad = Object.entries(want).filter(([k, v]) => url.searchParams.get(k) !== v || req.searchParams.get(k) !== v);
  return { ok: bad.length === 0, diag: `${url} / ${req} : ${bad.map(([k]) => k)}` };
});

await check('a filtered URL brings its filters back', async () => {
  await mia.reload();
  await mia.locator('#flt-field-rating').waitFor();
  await mia.waitForFunction(() => document.querySelector('#flt-field-rating').value === 'good');
  return { ok: await mia.locator('#flt-tag').inputValue() === 'sunset'
           && await mia.locator('#flt-status').inputValue() === 'queued' };
});

await check('Clear filters keeps the project', async () => {
  await mia.locator('#flt-clear').click();
  await mia.waitForURL((u) => !u.searchParams.has('tag'));
  const url = new URL(mia.url());
  return { ok: url.searchParams.get('project') === PROJECT && [...url.searchParams.keys()].length === 1,
           diag: String(url) };
});

// --- selection and the bulk edit --------------------------------------------------

await check('tiles are selected, a Shift-click selects the range', async () => {
  await mia.locator('#grid .tile').first().waitFor();
  const boxes = mia.locator('#grid input.select');
  await boxes.nth(0).click();
  await boxes.nth(2).click({ modifiers: ['Shift'] });
  const count = await mia.locator('#bulk-count').textContent();
  return { ok: count === '3 selected', diag: count };
});

await check('the bulk edit dialog sets a field and adds a tag on every selected asset', async () => {
  await mia.locator('#bulk-edit').click();
  await mia.locator('#bulk-dialog').waitFor();
  await mia.locator('#bulk-act-rating').selectOption('set');
  await mia.locator('#bulk-rating').selectOption('bad');
  await mia.locator('#bulk-tags-add').fill('Batch');
  await mia.screenshot({ path: `${SHOTS}/bulk-edit.png` });
  const [res] = await Promise.all([
    mia.waitForResponse((r) => r.url().endsWith('/api/assets') && r.request().method() === 'PATCH'),
    mia.locator('#bulk-apply').click(),
  ]);
  await mia.locator('#bulk-dialog').waitFor({ state: 'detached' });
  const body = res.request().postDataJSON();
  const all = await Promise.all(ASSETS.map((id) => call('GET', `/api/assets/${id}`, undefined, miaToken)));
  const good = all.every((r) => r.json.asset.fields.rating === 'bad' && r.json.asset.tags.includes('batch'));
  return { ok: res.status() === 200 && body.ids.length === 3 && good && await mia.locator('#bulk-bar').isHidden(),
           diag: `${res.status()} ${JSON.stringify(body)}` };
});

await check('a bulk edit the server refuses says which asset, and changes nothing', async () => {
  // Eve (an editor, not the owner) selects an asset she may not change
  await eve.goto(`${BASE}/?project=${PROJECT}`);
  await eve.locator('#grid input.select').first().click();
  await eve.locator('#bulk-edit').click();
  await eve.locator('#bulk-tags-add').fill('nope');
  await eve.locator('#bulk-apply').click();
  await eve.locator('#bulk-error', { hasText: /./ }).waitFor();
  const text = await eve.locator('#bulk-error').textContent();
  await eve.locator('#bulk-dialog button.ghost').click();
  return { ok: /ids: asset [0-9a-f-]{36}: only the owner/.test(text), diag: text };
});

// (the refusals the test asks for are logged as failed loads: 409, 403, 400)
const unexpected = [...mia.errors, ...eve.errors].filter((e) => !/status of (400|403|409)/.test(e));
ok(unexpected.length === 0,
   'no errors in the pages\' consoles', unexpected.join('\n'));

await browser.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
