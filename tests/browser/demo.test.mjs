// The demo in a real browser (headless Chromium): sign in through the gate, let the access token
// expire, and watch the gate send the browser through the origin's refresh endpoint and back to
// the page it wanted; and the app page refreshing proactively before expiry.
// Gate: the built worker in workerd (Miniflare). Origin: the reference origin process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launchBrowser, newPage, saveScreenshot, signIn } from './harness.mjs';

const ACCESS_TTL = 4;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let demo;
let gate;
let browser;
let site;

before(async () => {
  demo = await startDemo({
    accessTtl: ACCESS_TTL,
    gateVars: { LEEWAY_SECONDS: '0' },
  });
  ({ site, gate } = demo);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('demo app through the gate, in Chromium', () => {
  it('login → expiry → the gate redirects through refresh → back to the page', async () => {
    const page = await newPage(browser);
    await signIn(page, site);
    // Stop the page's own proactive refresh so the gate's redirect path is what renews the token.
    await page.uncheck('#auto');
    const cookies = await page.context().cookies(site);
    const access = cookies.find((c) => c.name === 'access');
    assert.ok(access?.httpOnly, 'the access cookie is httpOnly');
    assert.equal(await page.evaluate(() => document.cookie.includes('access=')), false, 'JS cannot read it');
    const exp = JSON.parse(Buffer.from(access.value.split('.')[1], 'base64url')).exp;
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 1200);

    const hops = [];
    page.on('response', (r) => hops.push({ url: new URL(r.url()).pathname, status: r.status(), location: r.headers().location }));
    await page.goto(`${site}/?tab=2`);
    assert.deepEqual(hops.slice(0, 3).map((h) => [h.url, h.status]), [['/', 302], ['/auth/refresh', 302], ['/', 200]]);
    assert.equal(hops[0].location, `/auth/refresh?return_to=${encodeURIComponent('/?tab=2')}`);
    assert.equal(page.url(), `${site}/?tab=2`);
    await page.waitForFunction(() => document.querySelector('#sub')?.textContent === 'alice');
    const renewed = (await page.context().cookies(site)).find((c) => c.name === 'access');
    assert.notEqual(renewed.value, access.value, 'a new access token was issued');
    await page.waitForFunction(() => /\d/.test(document.querySelector('#exp')?.textContent ?? ''));
    await saveScreenshot(page, 'demo-after-refresh');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  it('the app page refreshes proactively before expiry, then logout everywhere ends the session', async () => {
    const page = await newPage(browser);
    await signIn(page, site);
    const before = (await page.context().cookies(site)).find((c) => c.name === 'access').value;
    const refreshed = page.waitForRequest((r) => r.url() === `${site}/auth/refresh` && r.method() === 'POST', { timeout: (ACCESS_TTL + 5) * 1000 });
    await refreshed;
    await sleep(500);
    const after = (await page.context().cookies(site)).find((c) => c.name === 'access').value;
    assert.notEqual(after, before, 'the page renewed its token before expiry');
    await page.waitForFunction(() => /\d/.test(document.querySelector('#exp')?.textContent ?? ''));
    await saveScreenshot(page, 'demo-signed-in');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/auth/logout-all"] button')]);
    // After logout everywhere a navigation ends on the login page, never back in the app.
    await page.goto(`${site}/`);
    await sleep(200);
    assert.equal(new URL(page.url()).pathname, '/auth/login');
    await page.context().close();
  });
});
