// "Log out everywhere" reaching another signed-in browser within seconds, in headless Chromium:
// two isolated browser contexts (two devices) sign in through the gate; one logs out everywhere;
// the other's access token — far from its exp — is refused by the gate as soon as it has pulled
// the origin's published revocation list, and its next page load ends on the login page.
// Gate: the built worker in workerd (Miniflare), REVOCATION_URL on the reference origin process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launchBrowser, newPage, saveScreenshot, signIn } from './harness.mjs';

const ACCESS_TTL = 600;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let demo;
let gate;
let browser;
let site;

before(async () => {
  demo = await startDemo({
    accessTtl: ACCESS_TTL,
    gateVars: (url) => ({
      REVOCATION_URL: `${url}/.well-known/edgegate-revocations`,
      REVOCATION_REFRESH_SECONDS: '1',
    }),
  });
  ({ site, gate } = demo);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** The status of `/api/me` fetched by the page's own script (its cookies, same origin). */
const apiStatus = (page) => page.evaluate(() => fetch('/api/me', { credentials: 'same-origin' }).then((r) => r.status));

describe('revocation in the browser', () => {
  it('"Log out everywhere" in one browser signs another out within seconds, before its token expires', async () => {
    const laptop = await newPage(browser);
    const phone = await newPage(browser);
    await signIn(laptop, site);
    await signIn(phone, site);
    assert.equal(await apiStatus(phone), 200);
    const access = (await phone.context().cookies(site)).find((c) => c.name === 'access');
    const exp = JSON.parse(Buffer.from(access.value.split('.')[1], 'base64url')).exp;

    await Promise.all([laptop.waitForNavigation(), laptop.click('form[action="/auth/logout-all"] button')]);
    assert.equal(new URL(laptop.url()).pathname, '/auth/login');

    // The phone still holds its access token; the gate refuses it once its list is refreshed
    // (a deadline, not a timing assertion: the figure is measured in BENCHMARKS.md).
    const deadline = Date.now() + 15_000;
    let status = await apiStatus(phone);
    while (status === 200 && Date.now() < deadline) {
      await sleep(200);
      status = await apiStatus(phone);
    }
    assert.equal(status, 401, 'the phone is signed out at the gate');
    assert.ok(Date.now() / 1000 < exp - 60, 'long before its access token expires');
    const still = (await phone.context().cookies(site)).find((c) => c.name === 'access');
    assert.equal(still?.value, access.value, 'the phone never received a new token');

    // Its next page load: the gate sends it to refresh, which fails for the revoked family,
    // and it lands on the login page.
    const hops = [];
    phone.on('response', (r) => hops.push([new URL(r.url()).pathname, r.status()]));
    await phone.goto(`${site}/`);
    assert.equal(new URL(phone.url()).pathname, '/auth/login');
    assert.deepEqual(hops.slice(0, 2), [['/', 302], ['/auth/refresh', 302]]);
    await saveScreenshot(phone, 'revocation-other-browser-signed-out');

    const line = await gate.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'revoked');
    assert.equal(line.path, '/api/me');
    // The phone's page scripts may have hit the 401 themselves: nothing else went wrong.
    assert.deepEqual(phone.problems.filter((p) => !/401|Unauthorized/.test(p)), []);
    await laptop.context().close();
    await phone.context().close();
  });

  it('signing in again right after works at once', async () => {
    const page = await newPage(browser);
    await signIn(page, site);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/auth/logout-all"] button')]);
    await signIn(page, site);
    assert.equal(await apiStatus(page), 200);
    await sleep(2500); // two refreshes of the list: the new session is not on it
    assert.equal(await apiStatus(page), 200);
    await page.context().close();
  });
});
