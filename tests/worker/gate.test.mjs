// The gate end to end: the built wasm worker in workerd (Miniflare) in front of the real origin.
// One `describe` per numbered rule of the contract in README ("Behaviour").
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, createSign, randomBytes } from 'node:crypto';
import {
  startOrigin, startGate, hs, accessToken, b64u, echo, header, headerNames, NOW, SECRET,
} from './harness.mjs';

let origin;
let gate;

before(async () => {
  origin = await startOrigin();
  gate = await startGate({ ORIGIN_URL: origin.url });
});
after(async () => {
  await gate?.dispose();
  origin?.stop();
});
beforeEach(async () => { await origin.clearLog(); });

const cookie = (t) => ({ cookie: `access=${t}` });
const api = (t, extra = {}) => ({ headers: { accept: 'application/json', ...(t ? cookie(t) : {}), ...extra } });
const nav = (t, extra = {}) => ({ headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', ...(t ? cookie(t) : {}), ...extra } });

async function expectError(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.deepEqual(await res.json(), { error: code });
}

async function originSawNothing() {
  assert.deepEqual(await origin.log(), [], 'the origin must not have been reached');
}

describe('1. public paths', () => {
  it('forwards without a token and strips identity headers', async () => {
    const res = await gate.fetch('/health?probe=1', { headers: { 'x-auth-sub': 'root', 'X-Auth-Claims': 'e30', 'x-auth-role': 'admin' } });
    assert.equal(res.status, 200);
    const body = await echo(res);
    assert.equal(body.path, '/health');
    assert.equal(body.query, 'probe=1');
    assert.ok(!headerNames(body).some((n) => n.startsWith('x-auth-')), JSON.stringify(body.headers));
  });

  it('treats REFRESH_PATH and LOGIN_PATH as public, even with a bad or duplicated cookie', async () => {
    for (const p of ['/auth/refresh', '/auth/login']) {
      const res = await gate.fetch(p, { method: 'POST', headers: { cookie: 'access=garbage; access=more' } });
      assert.equal(res.status, 200, p);
      assert.equal((await echo(res)).path, p);
    }
  });

  it('matches prefixes on segment boundaries, after canonicalising the path', async () => {
    await expectError(await gate.fetch('/healthz', api()), 401, 'missing_token');
    assert.equal((await gate.fetch('/static/app.js')).status, 200);
    await expectError(await gate.fetch('/static', api()), 401, 'missing_token');
    // Dot segments and encoded characters cannot smuggle a private path under a public prefix.
    await expectError(await gate.fetch('/health/../admin', api()), 401, 'missing_token');
    await expectError(await gate.fetch('/static/%2e%2e/admin', api()), 401, 'missing_token');
    await expectError(await gate.fetch('/static/..%2fadmin', api()), 400, 'bad_request');
    // ...and the origin receives exactly the canonical path the gate checked.
    const res = await gate.fetch('/%68ealth//./x');
    assert.equal((await echo(res)).path, '/health/x');
  });
});

describe('2. token from the cookie; duplicates are ambiguous', () => {
  it('rejects two access cookies in either order, even if one is valid', async () => {
    const good = accessToken();
    const forged = accessToken('mallory', {}, { secret: 'f'.repeat(64) });
    for (const c of [`access=${good}; access=${forged}`, `access=${forged}; access=${good}`, `access=${good}; ACCESS=${good}`, `access=${good};  access =${good}`]) {
      const res = await gate.fetch('/api/data', { headers: { cookie: c } });
      assert.equal(res.status, 401, c);
      assert.match(res.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
      assert.deepEqual(await res.json(), { error: 'ambiguous_token' });
    }
    await originSawNothing();
  });

  it('finds the access cookie among others and ignores look-alike names', async () => {
    const res = await gate.fetch('/api/data', { headers: { cookie: `theme=dark; my_access=x; access=${accessToken('bob')}; accessx=y` } });
    assert.equal(res.status, 200);
    assert.equal(header(await echo(res), 'x-auth-sub'), 'bob');
  });

  it('ignores Authorization: Bearer unless ACCEPT_BEARER is on', async () => {
    const res = await gate.fetch('/api/data', { headers: { authorization: `Bearer ${accessToken()}` } });
    await expectError(res, 401, 'missing_token');
  });
});

describe('3. verification', () => {
  it('rejects alg none in every spelling', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const t = `${b64u(JSON.stringify({ alg }))}.${b64u(JSON.stringify({ sub: 'root', exp: NOW() + 600 }))}.`;
      await expectError(await gate.fetch('/api/data', api(t)), 401, 'invalid_token');
      const withSig = hs({ sub: 'root', exp: NOW() + 600 }, { header: { alg } });
      await expectError(await gate.fetch('/api/data', api(withSig)), 401, 'invalid_token');
    }
    await originSawNothing();
  });

  it('rejects HS/RS confusion: the RSA public key used as an HMAC secret, and RS256 when only HS256 is pinned', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    const claims = { sub: 'root', exp: NOW() + 600 };
    // Classic confusion: header says HS256, "secret" is the server's public key text.
    await expectError(await gate.fetch('/api/data', api(hs(claims, { secret: pem }))), 401, 'invalid_token');
    // Header says RS256 and the signature is a genuine RSA signature: not pinned, refused.
    const input = `${b64u(JSON.stringify({ alg: 'RS256' }))}.${b64u(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
    await expectError(await gate.fetch('/api/data', api(`${input}.${sig}`)), 401, 'invalid_token');
    // Header says RS256, signed with HMAC over the public key.
    await expectError(await gate.fetch('/api/data', api(hs(claims, { header: { alg: 'RS256' }, secret: pem }))), 401, 'invalid_token');
    await originSawNothing();
  });

  it('rejects an algorithm outside ALGORITHMS even with the right secret', async () => {
    const t = hs({ sub: 'a', exp: NOW() + 600 }, { header: { alg: 'HS512' }, hash: 'sha512' });
    await expectError(await gate.fetch('/api/data', api(t)), 401, 'invalid_token');
  });

  it('rejects a tampered payload and a wrong secret', async () => {
    const t = accessToken('alice');
    const [h, , s] = t.split('.');
    const evil = `${h}.${b64u(JSON.stringify({ sub: 'admin', exp: NOW() + 600 }))}.${s}`;
    await expectError(await gate.fetch('/api/data', api(evil)), 401, 'invalid_token');
    await expectError(await gate.fetch('/api/data', api(accessToken('a', {}, { secret: 'z'.repeat(40) }))), 401, 'invalid_token');
  });

  it('requires exp and sub, honours nbf and leeway', async () => {
    const now = NOW();
    await expectError(await gate.fetch('/api/data', api(hs({ sub: 'a' }))), 401, 'invalid_token');
    await expectError(await gate.fetch('/api/data', api(hs({ exp: now + 600 }))), 401, 'invalid_token');
    await expectError(await gate.fetch('/api/data', api(hs({ sub: 'a', exp: String(now + 600) }))), 401, 'invalid_token');
    await expectError(await gate.fetch('/api/data', api(hs({ sub: 'a', exp: now + 600, nbf: now + 300 }))), 401, 'invalid_token');
    // Within the default 30 s leeway: nbf slightly ahead, exp slightly behind.
    assert.equal((await gate.fetch('/api/data', api(hs({ sub: 'a', exp: now + 600, nbf: now + 10 })))).status, 200);
    assert.equal((await gate.fetch('/api/data', api(hs({ sub: 'a', exp: now - 10 })))).status, 200);
  });

  it('rejects duplicate claim keys, crit headers, oversize tokens, non-canonical base64url', async () => {
    const now = NOW();
    const dup = hs(`{"sub":"a","exp":${now + 600},"sub":"admin"}`);
    await expectError(await gate.fetch('/api/data', api(dup)), 401, 'invalid_token');
    const crit = hs({ sub: 'a', exp: now + 600 }, { header: { alg: 'HS256', crit: ['exp'] } });
    await expectError(await gate.fetch('/api/data', api(crit)), 401, 'invalid_token');
    const huge = accessToken('a', { pad: 'x'.repeat(9000) });
    await expectError(await gate.fetch('/api/data', api(huge)), 401, 'invalid_token');
    const padded = accessToken().replace(/\.([^.]*)$/, '.$1=');
    await expectError(await gate.fetch('/api/data', api(padded)), 401, 'invalid_token');
    await originSawNothing();
  });

  it('reports an expired-but-forged token as invalid_token, never token_expired', async () => {
    const forged = hs({ sub: 'a', iat: NOW() - 7200, exp: NOW() - 3600 }, { secret: 'attacker'.repeat(8) });
    await expectError(await gate.fetch('/api/data', api(forged)), 401, 'invalid_token');
    // Not even a refresh redirect for a navigation.
    await expectError(await gate.fetch('/app', nav(forged)), 401, 'invalid_token');
  });

  it('checks ISSUER and AUDIENCE when configured', async () => {
    const g = await startGate({ ORIGIN_URL: origin.url, ISSUER: 'https://id.example', AUDIENCE: 'edge' });
    try {
      const ok = accessToken('a', { iss: 'https://id.example', aud: ['other', 'edge'] });
      assert.equal((await g.fetch('/api/data', api(ok))).status, 200);
      await expectError(await g.fetch('/api/data', api(accessToken('a', { iss: 'https://evil.example', aud: 'edge' }))), 401, 'invalid_token');
      await expectError(await g.fetch('/api/data', api(accessToken('a', { iss: 'https://id.example', aud: 'other' }))), 401, 'invalid_token');
      await expectError(await g.fetch('/api/data', api(accessToken('a', { aud: 'edge' }))), 401, 'invalid_token');
    } finally { await g.dispose(); }
  });
});

describe('4. valid token: forwarded intact', () => {
  it('adds x-auth-sub and x-auth-claims (the verified payload) and strips spoofed identity headers', async () => {
    const t = accessToken('alice', { roles: ['reader'] });
    const res = await gate.fetch('/api/data?x=1&y=%20', api(t, { 'x-auth-sub': 'root', 'X-AUTH-SUB': 'root2', 'x-auth-admin': 'true' }));
    assert.equal(res.status, 200);
    const body = await echo(res);
    assert.equal(body.path, '/api/data');
    assert.equal(body.query, 'x=1&y=%20');
    const subs = body.headers.filter(([n]) => n === 'x-auth-sub');
    assert.deepEqual(subs, [['x-auth-sub', 'alice']]);
    assert.equal(header(body, 'x-auth-admin'), undefined);
    const claims = JSON.parse(Buffer.from(header(body, 'x-auth-claims'), 'base64url').toString());
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.roles, ['reader']);
    assert.equal(header(body, 'x-auth-claims'), t.split('.')[1]);
  });

  it('drops identity headers however they are spelled or repeated, and headers listed in Connection', async () => {
    const res = await gate.raw('/api/data', {
      headers: [
        ['Cookie', `access=${accessToken('carol')}`],
        ['X-Auth-Sub', 'root'], ['x-auth-sub', 'root2'], ['X-AUTH-CLAIMS', 'e30'], ['x-Auth-Tenant', 't1'],
        ['Connection', 'keep-alive, X-Trace'], ['X-Trace', 'hop'], ['X-Custom', 'kept'],
      ].flat(),
    });
    const body = JSON.parse(res.body.toString());
    const identity = body.headers.filter(([n]) => n.startsWith('x-auth-'));
    assert.deepEqual(identity.map(([n]) => n).sort(), ['x-auth-claims', 'x-auth-sub']);
    assert.equal(header(body, 'x-auth-sub'), 'carol');
    assert.equal(header(body, 'x-custom'), 'kept');
    assert.equal(header(body, 'x-trace'), undefined);
  });

  it('streams a POST body byte-for-byte and keeps the method', async () => {
    const payload = randomBytes(300_000);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await gate.fetch('/api/upload', { method, body: payload, headers: { ...cookie(accessToken()), 'content-type': 'application/octet-stream', origin: 'http://gate.test' } });
      const body = await echo(res);
      assert.equal(body.method, method);
      assert.equal(body.body_len, payload.length);
      assert.equal(body.body_sha256, createHash('sha256').update(payload).digest('hex'));
    }
  });

  it('returns every Set-Cookie header separately', async () => {
    const res = await gate.fetch('/__cookies', api(accessToken()));
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.getSetCookie(), [
      'a=1; Path=/',
      'b=2; Path=/; HttpOnly',
      'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure',
    ]);
    const two = await gate.fetch('/api/x?set_cookie=s1%3D1&set_cookie=s2%3D2', api(accessToken()));
    assert.deepEqual(two.headers.getSetCookie(), ['s1=1', 's2=2']);
  });

  it('passes the origin status and redirects through without following them', async () => {
    const res = await gate.fetch('/__status/302?location=/elsewhere', api(accessToken()));
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/elsewhere');
    assert.equal((await gate.fetch('/__status/418', api(accessToken()))).status, 418);
    assert.equal((await gate.fetch('/__status/204', api(accessToken()))).status, 204);
  });

  it('streams a large response intact', async () => {
    const res = await gate.fetch('/__big?bytes=5000000', api(accessToken()));
    const buf = Buffer.from(await res.arrayBuffer());
    assert.equal(buf.length, 5_000_000);
    assert.equal(createHash('sha256').update(buf).digest('hex'), res.headers.get('x-body-sha256'));
  });

  it('marks authenticated responses private for shared caches', async () => {
    const res = await gate.fetch('/api/data', api(accessToken()));
    assert.match(res.headers.get('cache-control') ?? '', /\bprivate\b/);
    // Public paths are left alone.
    const pub = await gate.fetch('/health');
    assert.equal(pub.headers.get('cache-control'), null);
  });
});

describe('5. expired token', () => {
  const expired = () => hs({ sub: 'a', iat: NOW() - 4000, exp: NOW() - 3600 });

  it('redirects a page navigation to the refresh endpoint with return_to', async () => {
    for (const headers of [{ 'sec-fetch-mode': 'navigate' }, { accept: 'text/html,application/xhtml+xml' }]) {
      for (const method of ['GET', 'HEAD']) {
        const res = await gate.raw('/app/page?tab=2&q=a%20b', { method, headers: { ...headers, ...cookie(expired()) } });
        assert.equal(res.status, 302, JSON.stringify(headers));
        assert.equal(res.headers.location, `/auth/refresh?return_to=${encodeURIComponent('/app/page?tab=2&q=a%20b')}`);
      }
    }
    await originSawNothing();
  });

  it('answers other requests 401 token_expired with WWW-Authenticate', async () => {
    for (const init of [api(expired()), { method: 'POST', headers: { ...cookie(expired()), 'sec-fetch-mode': 'navigate', accept: 'text/html' } }]) {
      const res = await gate.fetch('/api/data', init);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="token expired"');
      assert.deepEqual(await res.json(), { error: 'token_expired', refresh: '/auth/refresh' });
    }
  });

  it('never builds an off-site return_to', async () => {
    for (const p of ['//evil.example/x', '/\\evil.example', '/%5Cevil.example']) {
      const res = await gate.fetch(`http://gate.test${p}`, nav(expired()));
      if (res.status === 400) continue; // refused outright: also safe
      assert.equal(res.status, 302, p);
      const loc = res.headers.get('location');
      const target = new URL(loc, 'http://gate.test').searchParams.get('return_to');
      assert.ok(target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\'), `${p} -> ${target}`);
    }
  });
});

describe('6. missing and invalid tokens', () => {
  it('redirects a navigation without a token to the login endpoint', async () => {
    const res = await gate.fetch('/dashboard?x=1', nav());
    assert.equal(res.status, 302);
    const viaFetchMetadata = await gate.raw('/dashboard?x=1', { headers: { 'sec-fetch-mode': 'navigate' } });
    assert.equal(viaFetchMetadata.status, 302);
    assert.equal(res.headers.get('location'), `/auth/login?return_to=${encodeURIComponent('/dashboard?x=1')}`);
  });

  it('answers API calls 401 missing_token / invalid_token, with nothing more in the body', async () => {
    const missing = await gate.fetch('/api/data', api());
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    await expectError(missing, 401, 'missing_token');
    await expectError(await gate.fetch('/api/data', api('')), 401, 'missing_token');
    const invalid = await gate.fetch('/api/data', api('not.a.jwt'));
    assert.equal(invalid.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    await expectError(invalid, 401, 'invalid_token');
    await originSawNothing();
  });

  it('logs the reason as a structured line without the token', async () => {
    const t = hs({ sub: 'a', exp: NOW() + 600 }, { secret: 'wrong'.repeat(10) });
    await gate.fetch('/api/secret-path', api(t));
    const line = await gate.waitForLog((l) => l.path === '/api/secret-path');
    assert.equal(line.reason, 'bad_signature');
    assert.equal(line.status, 401);
    assert.equal(line.alg, 'HS256');
    const all = gate.logs.join('\n');
    assert.ok(!all.includes(t.split('.')[2]), 'a token signature appeared in the logs');
    assert.ok(!all.includes(SECRET), 'the secret appeared in the logs');
  });

  it('answers an oversize Cookie header quickly with 431', async () => {
    const res = await gate.fetch('/api/data', { headers: { cookie: `access=${'a'.repeat(20_000)}` } });
    await expectError(res, 431, 'header_too_large');
    const many = Array.from({ length: 200 }, (_, i) => `c${i}=v${i}`).join('; ');
    await expectError(await gate.fetch('/api/data', { headers: { cookie: many } }), 401, 'missing_token');
  });
});

describe('7. bad configuration fails closed', () => {
  const cases = [
    ['ORIGIN_URL', { ORIGIN_URL: undefined }],
    ['ORIGIN_URL', { ORIGIN_URL: 'ftp://127.0.0.1' }],
    ['ALGORITHMS', { ALGORITHMS: 'HS256,none' }],
    ['ALGORITHMS', { ALGORITHMS: undefined }],
    ['JWT_SECRET', { JWT_SECRET: undefined }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['LEEWAY_SECONDS', { LEEWAY_SECONDS: 'ten' }],
  ];
  for (const [key, vars] of cases) {
    it(`answers 500 misconfigured and logs the bad key (${key}=${JSON.stringify(Object.values(vars)[0])})`, async () => {
      const g = await startGate({ ORIGIN_URL: origin.url, ...vars });
      try {
        for (const p of ['/api/data', '/health']) {
          await expectError(await g.fetch(p, api(accessToken())), 500, 'misconfigured');
        }
        const line = await g.waitForLog((l) => l.reason === 'misconfigured');
        assert.equal(line.key, key);
        // Every answer logs it (besides the isolate's start-up line).
        const count = () => g.logs.filter((l) => l.includes('"reason":"misconfigured"')).length;
        for (let i = 0; i < 50 && count() < 3; i++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(count() >= 3, `one line per answer: ${count()}`);
        assert.ok(!g.logs.join('\n').includes('short"'), 'secret value must not be logged');
      } finally { await g.dispose(); }
    });
  }

  it('accepts wrangler.toml numbers and booleans as values', async () => {
    const g = await startGate({ ORIGIN_URL: origin.url, LEEWAY_SECONDS: 0, ACCEPT_BEARER: true });
    try {
      const res = await g.fetch('/api/data', { headers: { authorization: `Bearer ${accessToken('dave')}` } });
      assert.equal(res.status, 200);
      // Leeway 0: a token that expired a second ago is expired.
      const res2 = await g.fetch('/api/data', api(hs({ sub: 'a', exp: NOW() - 1 })));
      assert.deepEqual(await res2.json(), { error: 'token_expired', refresh: '/auth/refresh' });
    } finally { await g.dispose(); }
  });
});

describe('bearer tokens (ACCEPT_BEARER=true)', () => {
  let g;
  before(async () => { g = await startGate({ ORIGIN_URL: origin.url, ACCEPT_BEARER: 'true' }); });
  after(async () => { await g.dispose(); });

  it('accepts a bearer token and rejects a cookie/bearer mismatch as ambiguous', async () => {
    const t = accessToken('erin');
    const ok = await g.fetch('/api/data', { headers: { authorization: `Bearer ${t}` } });
    assert.equal(header(await echo(ok), 'x-auth-sub'), 'erin');
    const same = await g.fetch('/api/data', { headers: { authorization: `Bearer ${t}`, cookie: `access=${t}` } });
    assert.equal(same.status, 200);
    await same.arrayBuffer();
    const diff = await g.fetch('/api/data', { headers: { authorization: `Bearer ${accessToken('mallory')}`, cookie: `access=${t}` } });
    await expectError(diff, 401, 'ambiguous_token');
  });

  it('never redirects an expired bearer token', async () => {
    const t = hs({ sub: 'a', exp: NOW() - 3600 });
    const res = await g.fetch('/app', { headers: { authorization: `Bearer ${t}`, 'sec-fetch-mode': 'navigate', accept: 'text/html' } });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'token_expired', refresh: '/auth/refresh' });
  });
});

describe('origin failures', () => {
  it('answers 502 origin_unreachable when the origin is down', async () => {
    const g = await startGate({ ORIGIN_URL: 'http://127.0.0.1:9' });
    try {
      await expectError(await g.fetch('/health'), 502, 'origin_unreachable');
    } finally { await g.dispose(); }
  });
});
