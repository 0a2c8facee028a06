// The SPA's resumable upload on S3 storage (t/71-browser-s3.t): presigned
// parts PUT straight to the staging bucket, a reload mid-way, the same file
// chosen again continues with the parts S3 lacks; a small file goes up in
// one presigned PUT with the headers the presign answer names (SSE among
// them); cancelling an upload in the tray aborts the multipart upload on
// the server (DELETE /api/uploads/:id).  Prints TAP.
// Environment: BASE, BIG (a file of 40 MiB), SMALL (a small one), CHROMIUM.
import { chromium } from 'playwright-core';

const BASE = process.env.BASE;
let n = 0, failed = 0;

function ok(cond, what, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && diag) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});

try {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`));
  const parts = [], puts = [];
  page.on('request', (r) => {
    if (r.method() !== 'PUT' || !r.url().startsWith(process.env.S3)) return;
    if (/partNumber=/.test(r.url())) parts.push(r.url());
    else puts.push(r.headers());
  });

  await page.goto(BASE + '/register');
  await page.getByLabel('Name').fill('Sam');
  await page.getByLabel('Email').fill('sam@example.com');
  await page.getByLabel(/Password/).fill('correct horse battery');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.waitForURL(BASE + '/');

  const bar = () => page.evaluate(() => {
    const b = document.querySelector('#uploads progress');
    return b ? b.value : 0;
  });
  const until = (v) => page.waitForFunction((least) => {
    const b = document.querySelector('#uploads progress');
    return b && b.value >= least;
  }, v, { polling: 20, timeout: 60000 });

  await page.goto(BASE + '/upload');
  await page.locator('#file').setInputFiles(process.env.BIG);
  await until(0.3);
  ok(parts.length >= 2 && parts.every((u) => u.startsWith(process.env.S3)),
     'the parts go straight to S3', parts.join('\n'));

  await page.reload();
  await page.locator('#drop').waitFor();
  const before = parts.length;
  await page.locator('#file').setInputFiles(process.env.BIG);
  await until(0.0001);
  const first = await bar();
  await page.locator('#uploads li.done').waitFor({ timeout: 90000 });
  const again = parts.slice(before).map((u) => Number(/partNumber=(\d+)/.exec(u)[1]));
  ok(first >= 0.2, 'after a reload the bar continues from the parts S3 holds', `began at ${first}`);
  ok(again.length > 0 && !again.includes(1), 'only the missing parts are sent again',
     `parts sent after the reload: ${again}`);

  await page.locator('#file').setInputFiles(process.env.SMALL);
  await page.locator('#uploads li.done').nth(1).waitFor({ timeout: 30000 });
  ok(puts.length === 1 && puts[0]['x-amz-server-side-encryption'] === 'AES256',
     'a small file is one PUT to S3 with the presigned SSE header', JSON.stringify(puts));

  // slowed down, so that there is time to cancel
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0,
                                                       downloadThroughput: -1, uploadThroughput: 3 * 1024 * 1024 });
  await page.locator('#file').setInputFiles(process.env.CANCEL_ME);
  const item = page.locator('#tray #uploads li', { hasText: 'cancel-me' });
  await page.waitForFunction(() => {
    const li = [...document.querySelectorAll('#uploads li')].find((l) => l.textContent.includes('cancel-me'));
    return li && li.querySelector('progress').value > 0.02;
  }, null, { polling: 20, timeout: 60000 });
  const ended = page.waitForResponse((r) => r.request().method() === 'DELETE' && /\/api\/uploads\//.test(r.url()));
  await item.getByRole('button', { name: /Cancel the upload/ }).click();
  const res = await ended;
  await page.locator('#tray #uploads li.cancelled', { hasText: 'cancel-me' }).waitFor();
  const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mam-upload:')));
  ok(res.status() === 204 && saved.length === 0,
     'cancel in the tray aborts the multipart upload on the server (DELETE /api/uploads/:id)',
     `${res.status()} ${saved}`);
} catch (e) {
  ok(false, 'the browser run', e.stack || e.message);
  console.log(`# uploads: ${await browser.contexts()[0]?.pages()[0]?.locator('#uploads').textContent().catch(() => '?')}`);
} finally {
  await browser.close();
}

console.log(`1..${n}`);
process.exitCode = failed ? 1 : 0;
