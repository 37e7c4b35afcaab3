// The decoder page (www/index.html) in headless Chromium, served from a local static server:
// paste tokens (valid, expired, alg none, garbage, hostile claims) and check what is shown, that
// the countdown is live, and that the token never leaves the page. Screenshots go to
// tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, serveStatic, saveScreenshot, fakeToken, requireBuiltModule } from './harness.mjs';

let server;
let browser;

before(async () => {
  requireBuiltModule();
  server = await serveStatic();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page with the decoder loaded and its module ready. */
async function decoderPage() {
  const page = await newPage(browser);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('html[data-ready="true"]');
  return page;
}

/** Pastes `text` into the token box the way a user does (a real paste, then an input event). */
async function paste(page, text) {
  await page.locator('#token').fill(text);
}

const text = (page, sel) => page.locator(sel).textContent();
const now = () => Math.floor(Date.now() / 1000);

test('a valid token: header, claims, times, live countdown, no warnings, and "not verified"', async () => {
  const page = await decoderPage();
  const t = now();
  const token = fakeToken({ sub: 'alice', name: 'Alice Example', iat: t - 60, exp: t + 600 });
  await paste(page, `  Bearer ${token}\n`);

  assert.ok(await page.locator('#result').isVisible());
  assert.ok(await page.locator('#error').isHidden());
  assert.match(await text(page, '#banner'), /Decoded, not verified: anyone can forge these contents/);
  assert.ok(await page.locator('#banner').isVisible());
  assert.equal(await text(page, '#verified'), 'verified: false');
  assert.deepEqual(JSON.parse(await text(page, '#header')), { alg: 'HS256', typ: 'JWT' });
  const claims = JSON.parse(await text(page, '#claims'));
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.name, 'Alice Example');
  assert.match(await text(page, '#iat'), new RegExp(`^${t - 60} · \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z · 1m 0\\ds ago$`));
  assert.equal(await text(page, '#nbf'), 'absent');
  assert.match(await text(page, '#exp'), new RegExp(`^${t + 600} · .* · in (10m 00s|9m 5\\ds)$`));
  assert.equal(await text(page, '#lifetime'), '11m 00s');
  assert.match(await text(page, '#countdown'), /^expires in (10m 00s|9m 5\ds)$/);
  assert.equal(await page.locator('#countdown').getAttribute('data-state'), 'live');
  assert.match(await text(page, '#status'), /within its time window — not verified/);
  assert.equal(await page.locator('#warnings li').count(), 0);
  assert.ok(await page.locator('#no-warnings').isVisible());
  assert.match(await text(page, '#facts'), /signature 20 bytes, not checked; verified: false/);

  // The countdown is live: it moves on its own, without any input.
  const before = await text(page, '#countdown');
  await page.waitForFunction((b) => document.getElementById('countdown').textContent !== b, before, { timeout: 3000 });

  await saveScreenshot(page, 'decoder-valid');
  assert.deepEqual(page.problems, []);
});

test('an expired token shows as expired', async () => {
  const page = await decoderPage();
  const t = now();
  await paste(page, fakeToken({ sub: 'bob', iat: t - 900, exp: t - 125 }));
  assert.match(await text(page, '#countdown'), /^expired 2m 0\ds ago$/);
  assert.equal(await page.locator('#countdown').getAttribute('data-state'), 'expired');
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'expired');
  assert.match(await text(page, '#status'), /expired — not verified/);
  assert.equal(JSON.parse(await text(page, '#claims')).sub, 'bob');
  await saveScreenshot(page, 'decoder-expired');
  assert.deepEqual(page.problems, []);
});

test('the countdown reaches zero and flips to expired (fake clock)', async () => {
  const page = await newPage(browser);
  const start = Date.parse('2030-01-01T00:00:00Z');
  await page.clock.install({ time: start });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('html[data-ready="true"]');
  // Stop the page's clock at a known second; from here on it only moves when told to.
  await page.clock.pauseAt(start + 10_000);
  const t = start / 1000 + 10;
  await paste(page, fakeToken({ sub: 'carol', iat: t, exp: t + 5 }));
  assert.equal(await text(page, '#countdown'), 'expires in 5s');
  await page.clock.runFor(2_000);
  assert.equal(await text(page, '#countdown'), 'expires in 3s');
  await page.clock.runFor(3_500);
  assert.equal(await text(page, '#countdown'), 'expired 0s ago');
  assert.equal(await page.locator('#countdown').getAttribute('data-state'), 'expired');
  await page.clock.runFor(61_000);
  assert.equal(await text(page, '#countdown'), 'expired 1m 01s ago');
  assert.deepEqual(page.problems, []);
});

test('alg none decodes, but is flagged', async () => {
  const page = await decoderPage();
  const t = now();
  await paste(page, fakeToken({ sub: 'admin', exp: t + 300 }, { header: { alg: 'none' }, signature: '' }));
  assert.ok(await page.locator('#result').isVisible());
  assert.equal(JSON.parse(await text(page, '#claims')).sub, 'admin');
  const warning = page.locator('#warnings li[data-code="alg_none"]');
  assert.equal(await warning.count(), 1);
  assert.match(await warning.textContent(), /alg_none header\.alg — .*unsigned.*anyone can forge/);
  assert.equal(await text(page, '#verified'), 'verified: false');
  await saveScreenshot(page, 'decoder-alg-none');
  assert.deepEqual(page.problems, []);
});

test('security warnings: key headers, sensitive claims, long lifetime, missing exp', async () => {
  const page = await decoderPage();
  const t = now();
  await paste(page, fakeToken(
    { sub: 'dave', iat: t, exp: t + 86400, password: 'hunter2', card: { number: '4111-1111-1111-1111' }, email: 'dave@example.com' },
    { header: { alg: 'RS256', jku: 'https://attacker.example/jwks.json' } },
  ));
  const codes = await page.locator('#warnings li').evaluateAll((lis) => lis.map((li) => li.dataset.code));
  assert.deepEqual(codes, ['untrusted_key_header', 'long_lifetime', 'sensitive_claim', 'sensitive_claim', 'sensitive_claim']);
  const paths = await page.locator('#warnings li .path').allTextContents();
  assert.deepEqual(paths.map((p) => p.trim()), ['header.jku', 'claims.exp', 'claims.card', 'claims.card.number', 'claims.password']);
  assert.doesNotMatch(await text(page, '#warnings'), /claims\.email/);
  // Opting in to email flagging re-decodes.
  await page.locator('#flag-emails').check();
  assert.match(await text(page, '#warnings'), /claims\.email/);

  await paste(page, fakeToken({ sub: 'eve' }));
  assert.deepEqual(await page.locator('#warnings li').evaluateAll((lis) => lis.map((li) => li.dataset.code)), ['missing_exp']);
  assert.equal(await text(page, '#countdown'), 'no valid exp: never expires');
  await saveScreenshot(page, 'decoder-warnings');
  assert.deepEqual(page.problems, []);
});

test('garbage and malformed tokens show a typed error, not a result', async () => {
  const page = await decoderPage();
  const cases = [
    ['this is not a token', 'malformed', ''],
    ['eyJhbGciOiJIUzI1NiJ9.e30=.c2ln', 'bad_base64', 'in the payload'],
    [fakeToken('{"sub":"a","sub":"b"}'), 'duplicate_json_key', 'in the payload'],
    ['a.b.c.d.e', 'encrypted_token', ''],
    ['x'.repeat(9000), 'token_too_large', ''],
  ];
  for (const [token, code, part] of cases) {
    await paste(page, token);
    assert.ok(await page.locator('#error').isVisible(), code);
    assert.ok(await page.locator('#result').isHidden(), code);
    assert.equal(await text(page, '#error-code'), code);
    assert.equal(await text(page, '#error-part'), part);
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'error');
  }
  await paste(page, fakeToken('{}', { header: 'not json' }));
  assert.equal(await text(page, '#error-code'), 'bad_json');
  assert.equal(await text(page, '#error-part'), 'in the header');
  await saveScreenshot(page, 'decoder-error');
  // Clearing returns to the empty state.
  await page.locator('#clear').click();
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'empty');
  assert.ok(await page.locator('#error').isHidden());
  assert.deepEqual(page.problems, []);
});

test('claims are shown as text, never as markup', async () => {
  const page = await decoderPage();
  await paste(page, fakeToken({ sub: '<img src=x onerror="window.pwned=1">', exp: now() + 60, '<b>k</b>': '<script>window.pwned=2</script>' }));
  assert.match(await text(page, '#claims'), /<img src=x onerror=/);
  assert.equal(await page.locator('#result img, #result script, #result b').count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.deepEqual(page.problems, []);
});

test('the example button fills in a decodable token', async () => {
  const page = await decoderPage();
  await page.locator('#example').click();
  assert.equal(JSON.parse(await text(page, '#claims')).sub, 'alice');
  assert.match(await text(page, '#countdown'), /^expires in (10m 00s|9m 5\ds)$/);
  await saveScreenshot(page, 'decoder');
  assert.deepEqual(page.problems, []);
});

test('no token ever leaves the page: only the page\'s own static files are requested', async () => {
  const page = await decoderPage();
  const token = fakeToken({ sub: 'secret-subject-123', exp: now() + 60 });
  await paste(page, token);
  await page.locator('#flag-emails').check();
  await page.locator('#example').click();
  await page.waitForTimeout(500);
  const origin = new URL(server.url).origin;
  const paths = page.requests.map((r) => {
    const u = new URL(r.url);
    assert.equal(u.origin, origin, `request to another origin: ${r.url}`);
    assert.equal(r.method, 'GET', r.url);
    assert.equal(r.postData, null, r.url);
    assert.equal(u.search, '', r.url);
    return u.pathname;
  });
  const needed = ['/', '/decoder.css', '/decoder.js', '/pkg/edgegate.js', '/pkg/edgegate_bg.wasm'];
  const allowed = [...needed, '/favicon.svg', '/favicon.ico'];
  for (const p of needed) assert.ok(paths.includes(p), `${p} was not loaded`);
  for (const p of paths) assert.ok(allowed.includes(p), `unexpected request for ${p}`);
  // The server's own log (it also sees what the page's request events may not, like favicons).
  for (const r of server.requests) {
    assert.equal(r.method, 'GET', r.path);
    assert.ok(allowed.includes(r.path), `server saw ${r.path}`);
  }
  for (const r of page.requests) assert.ok(!r.url.includes('secret-subject') && !r.url.includes(token.slice(0, 20)));
  // The wasm was served (and accepted) as application/wasm for streaming compilation.
  const wasm = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm')));
  assert.equal(wasm.length, 1);
  // Nothing was stored either.
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, '']);
  assert.deepEqual(page.problems, []);
});
