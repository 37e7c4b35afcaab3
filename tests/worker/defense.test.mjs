// Defense in depth (issue 10): the CSRF guard for cookie-authenticated state-changing requests,
// the signed identity assertion to the origin, and bearer clients. Real workerd, real origin.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { startOrigin, startGate, hs, accessToken, echo, header, NOW } from './harness.mjs';

let origin;
before(async () => { origin = await startOrigin(); });
after(() => origin?.stop());
beforeEach(async () => { await origin.clearLog(); });

const SELF = 'http://gate.test';

async function expectCsrf(res) {
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), { error: 'csrf' });
}

describe('CSRF guard (default on)', () => {
  let g;
  before(async () => { g = await startGate({ ORIGIN_URL: origin.url, ACCEPT_BEARER: 'true', ALLOWED_ORIGINS: 'https://partner.example' }); });
  after(async () => { await g.dispose(); });
  const post = (headers, method = 'POST') => g.raw('/api/orders', { method, headers: { cookie: `access=${accessToken('alice')}`, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'qty=1' });

  it('refuses a cross-site form POST, Origin: null, and a request with neither header', async () => {
    for (const headers of [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      {},
    ]) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await post(headers, method);
        assert.equal(res.status, 403, `${method} ${JSON.stringify(headers)}`);
        assert.deepEqual(JSON.parse(res.body), { error: 'csrf' });
      }
    }
    assert.deepEqual(await origin.log(), [], 'nothing reached the origin');
  });

  it('accepts same-origin evidence: Sec-Fetch-Site, or a matching Origin', async () => {
    for (const headers of [{ 'sec-fetch-site': 'same-origin' }, { origin: SELF }, { 'sec-fetch-site': 'same-origin', origin: SELF }]) {
      const res = await post(headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(JSON.parse(res.body).method, 'POST');
    }
  });

  it('accepts an ALLOWED_ORIGINS origin, and a same-site subdomain only with the switch', async () => {
    assert.equal((await post({ 'sec-fetch-site': 'cross-site', origin: 'https://partner.example' })).status, 200);
    assert.equal((await post({ 'sec-fetch-site': 'same-site', origin: 'https://sub.gate.test' })).status, 403);
    const lax = await startGate({ ORIGIN_URL: origin.url, CSRF_ALLOW_SAME_SITE: 'true' });
    try {
      const res = await lax.raw('/api/orders', { method: 'POST', headers: { cookie: `access=${accessToken()}`, 'sec-fetch-site': 'same-site', origin: 'https://sub.gate.test' } });
      assert.equal(res.status, 200);
    } finally { await lax.dispose(); }
  });

  it('never blocks safe methods, and exempts bearer-authenticated requests', async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const res = await g.raw('/api/orders', { method, headers: { cookie: `access=${accessToken()}`, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } });
      assert.equal(res.status, 200, method);
    }
    const res = await g.raw('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${accessToken('svc')}` }, body: 'x' });
    assert.equal(res.status, 200);
    assert.equal(header(JSON.parse(res.body), 'x-auth-sub'), 'svc');
  });

  it('keeps the usual 401 for invalid or expired cookies, whatever the origin', async () => {
    const expired = hs({ sub: 'a', exp: NOW() - 3600 });
    const res = await g.raw('/api/orders', { method: 'POST', headers: { cookie: `access=${expired}`, origin: 'https://evil.example' } });
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error, 'token_expired');
  });

  it('can be switched off, with a loud start-up warning', async () => {
    const off = await startGate({ ORIGIN_URL: origin.url, CSRF_GUARD: 'false' });
    try {
      const res = await off.raw('/api/orders', { method: 'POST', headers: { cookie: `access=${accessToken()}`, origin: 'https://evil.example' } });
      assert.equal(res.status, 200);
      const warn = await off.waitForLog((l) => l.level === 'warn' && /CSRF_GUARD=false/.test(l.problem));
      assert.equal(warn.edgegate, 'config');
    } finally { await off.dispose(); }
  });
});

describe('signed identity assertion (ASSERTION_SECRET)', () => {
  const secret = randomBytes(32).toString('hex');
  let g;
  before(async () => { g = await startGate({ ORIGIN_URL: origin.url, ASSERTION_SECRET: secret, ASSERTION_TTL: '20' }); });
  after(async () => { await g.dispose(); });

  // An independent verifier (node:crypto), as an origin in any stack would write it.
  function verifyAssertion(token) {
    const [h, p, s] = token.split('.');
    const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
    assert.equal(s, expected, 'HMAC-SHA256 signature');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
    return JSON.parse(Buffer.from(p, 'base64url'));
  }

  it('adds a fresh HS256 assertion bound to sub, audience, method and path', async () => {
    const res = await g.fetch('/api/orders?page=2', { method: 'POST', body: 'x', headers: { cookie: `access=${accessToken('alice')}`, origin: SELF, 'x-auth-assertion': 'forged' } });
    const body = await echo(res);
    const values = body.headers.filter(([n]) => n === 'x-auth-assertion').map(([, v]) => v);
    assert.equal(values.length, 1, 'the client-supplied assertion is stripped');
    const c = verifyAssertion(values[0]);
    assert.equal(c.iss, 'edgegate');
    assert.equal(c.aud, origin.url);
    assert.equal(c.sub, 'alice');
    assert.equal(c.htm, 'POST');
    assert.equal(c.htp, '/api/orders');
    assert.equal(c.exp - c.iat, 20);
    assert.ok(Math.abs(c.iat - NOW()) <= 5);
    assert.match(c.jti, /^[A-Za-z0-9_-]{22}$/);
    // Two requests never share an assertion.
    const again = await echo(await g.fetch('/api/orders?page=2', { method: 'POST', body: 'x', headers: { cookie: `access=${accessToken('alice')}`, origin: SELF } }));
    assert.notEqual(header(again, 'x-auth-assertion'), values[0]);
  });

  it('marks public-path requests too, without a subject', async () => {
    const body = await echo(await g.fetch('/health'));
    const c = verifyAssertion(header(body, 'x-auth-assertion'));
    assert.equal(c.sub, undefined);
    assert.equal(c.htp, '/health');
  });

  it('is absent when ASSERTION_SECRET is not set', async () => {
    const plain = await startGate({ ORIGIN_URL: origin.url });
    try {
      const body = await echo(await plain.fetch('/api/x', { headers: { cookie: `access=${accessToken()}` } }));
      assert.equal(header(body, 'x-auth-assertion'), undefined);
    } finally { await plain.dispose(); }
  });

  it('refuses to start with a short secret', async () => {
    const bad = await startGate({ ORIGIN_URL: origin.url, ASSERTION_SECRET: 'short' });
    try {
      const res = await bad.fetch('/health');
      assert.equal(res.status, 500);
      const line = await bad.waitForLog((l) => l.reason === 'misconfigured');
      assert.equal(line.key, 'ASSERTION_SECRET');
    } finally { await bad.dispose(); }
  });
});
