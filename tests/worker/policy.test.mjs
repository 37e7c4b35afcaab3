// Route policy and observability (issue 8), in workerd in front of the real origin.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startGate, hs, accessToken, echo, header, NOW } from './harness.mjs';

const POLICY = JSON.stringify({
  default: 'authenticated',
  rules: [
    { name: 'assets', path: '/assets/**', action: 'public' },
    { name: 'admin', path: '/admin/**', require: { roles: 'admin' } },
    { name: 'orders-write', path: '/api/orders/**', methods: ['POST', 'PUT', 'DELETE'], require: { scope: 'orders:write' } },
    { name: 'tenant', path: '/t/{tenant}/**', require: { tenant: '{tenant}' } },
    { name: 'internal', path: '/internal/**', action: 'deny' },
  ],
});

let origin;
let gate;
before(async () => {
  origin = await startOrigin();
  gate = await startGate({ ORIGIN_URL: origin.url, POLICY, SERVER_TIMING: 'true', LOG_SUB: 'hash', PUBLIC_PATHS: '/health' });
});
after(async () => { await gate?.dispose(); origin?.stop(); });
beforeEach(async () => { await origin.clearLog(); });

const SELF = 'http://gate.test';
const as = (claims) => ({ headers: { cookie: `access=${accessToken('u1', claims)}`, accept: 'application/json', origin: SELF } });

async function status(p, init) {
  const res = await gate.fetch(p, init);
  await res.arrayBuffer();
  return res.status;
}

describe('rules', () => {
  it('public rule: no token needed', async () => {
    assert.equal(await status('/assets/app.css'), 200);
    assert.equal(await status('/health'), 200, 'PUBLIC_PATHS still works');
  });

  it('authenticated default: any valid token', async () => {
    assert.equal(await status('/anything', as({})), 200);
    assert.equal(await status('/anything', { headers: { accept: 'application/json' } }), 401);
  });

  it('require roles contains admin', async () => {
    assert.equal(await status('/admin/users', as({ roles: ['user', 'admin'] })), 200);
    const res = await gate.fetch('/admin/users', as({ roles: ['user'] }));
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { error: 'forbidden' });
    assert.equal(await status('/admin', as({})), 403);
  });

  it('require scope includes orders:write, only for the listed methods', async () => {
    const read = { scope: 'orders:read' };
    assert.equal(await status('/api/orders/7', as(read)), 200, 'GET falls through to the default');
    assert.equal(await status('/api/orders/7', { method: 'POST', body: '{}', ...as(read) }), 403);
    assert.equal(await status('/api/orders/7', { method: 'POST', body: '{}', ...as({ scope: 'orders:read orders:write' }) }), 200);
  });

  it('require tenant equals a path segment', async () => {
    assert.equal(await status('/t/acme/dashboard', as({ tenant: 'acme' })), 200);
    assert.equal(await status('/t/globex/dashboard', as({ tenant: 'acme' })), 403);
  });

  it('deny rule: 403 even with a valid token; a navigation gets a plain page', async () => {
    assert.equal(await status('/internal/metrics', as({ roles: ['admin'] })), 403);
    const res = await gate.raw('/internal/x', { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', cookie: `access=${accessToken()}` } });
    assert.equal(res.status, 403);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.body.toString(), /403 Forbidden/);
  });

  it('a navigation refused by a condition gets the plain 403 page, never a refresh redirect', async () => {
    const res = await gate.raw('/admin', { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', cookie: `access=${accessToken('u', { roles: [] })}` } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.location, undefined);
  });
});

describe('precedence: 401 and refresh before 403', () => {
  it('missing → 401/login, invalid → 401, expired → refresh/401, valid but unmet → 403', async () => {
    assert.equal(await status('/admin/x', { headers: { accept: 'application/json' } }), 401);
    const login = await gate.raw('/admin/x', { headers: { 'sec-fetch-mode': 'navigate' } });
    assert.equal(login.status, 302);
    assert.match(login.headers.location, /^\/auth\/login\?return_to=/);
    const forged = hs({ sub: 'u', exp: NOW() + 600, roles: ['admin'] }, { secret: 'x'.repeat(40) });
    assert.equal(await status('/admin/x', { headers: { cookie: `access=${forged}` } }), 401);
    const expired = hs({ sub: 'u', exp: NOW() - 3600, roles: ['user'] });
    const refresh = await gate.raw('/admin/x', { headers: { 'sec-fetch-mode': 'navigate', cookie: `access=${expired}` } });
    assert.equal(refresh.status, 302);
    assert.match(refresh.headers.location, /^\/auth\/refresh\?return_to=%2Fadmin%2Fx/);
    const api = await gate.fetch('/admin/x', { headers: { cookie: `access=${expired}` } });
    assert.equal((await api.json()).error, 'token_expired');
    assert.equal(await status('/admin/x', as({ roles: ['user'] })), 403);
  });
});

describe('path normalisation cannot slip past a rule', () => {
  const attempts = [
    '/admin', '/admin/', '//admin', '/./admin', '/x/../admin', '/%61dmin', '/%61%64%6D%69%6E/users',
    '/ADMIN/../admin', '/assets/../admin', '/assets/%2e%2e/admin', '/assets/.%2E/admin', '/assets/%2E./admin',
    '/assets\\..\\admin', '/admin/./users', '/assets/../../admin', '///admin///users',
  ];
  for (const p of attempts) {
    it(`${JSON.stringify(p)} is judged as /admin…`, async () => {
      const res = await gate.raw(p, { headers: { cookie: `access=${accessToken('u', { roles: ['user'] })}` } });
      assert.equal(res.status, 403, `${p} -> ${res.status} ${res.body}`);
    });
  }

  it('refuses encodings that would change the path structure', async () => {
    for (const p of ['/assets/..%2fadmin', '/assets/..%2Fadmin', '/assets/..%5cadmin', '/assets/%00/x', '/assets/%zz']) {
      const res = await gate.raw(p, { headers: { cookie: `access=${accessToken()}` } });
      assert.equal(res.status, 400, p);
    }
  });

  it('forwards the same canonical path the rule saw', async () => {
    const res = await gate.raw('/x/../t/acme/./a//b', { headers: { cookie: `access=${accessToken('u', { tenant: 'acme' })}` } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).path, '/t/acme/a/b');
  });
});

describe('session endpoint', () => {
  it('returns the verified identity and expires_in', async () => {
    const now = NOW();
    const t = hs({ sub: 'alice', iat: now, exp: now + 300, roles: ['reader'] });
    const res = await gate.fetch('/.edgegate/session', { headers: { cookie: `access=${t}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    assert.equal(body.sub, 'alice');
    assert.ok(body.expires_in > 290 && body.expires_in <= 300, String(body.expires_in));
    assert.equal(body.exp, now + 300);
    assert.deepEqual(body.claims.roles, ['reader']);
    assert.deepEqual(await origin.log(), [], 'answered by the gate itself');
  });

  it('answers 401 with the usual codes and never redirects', async () => {
    for (const [cookie, code] of [[undefined, 'missing_token'], [`access=${hs({ sub: 'a', exp: NOW() - 99 })}`, 'token_expired'], ['access=x.y.z', 'invalid_token']]) {
      const res = await gate.raw('/.edgegate/session', { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', ...(cookie ? { cookie } : {}) } });
      assert.equal(res.status, 401, code);
      assert.equal(JSON.parse(res.body).error, code);
    }
    const post = await gate.fetch('/.edgegate/session', { method: 'POST', headers: { cookie: `access=${accessToken()}` } });
    assert.equal(post.status, 405);
  });

  it('moves with SESSION_PATH and can be switched off', async () => {
    const g = await startGate({ ORIGIN_URL: origin.url, SESSION_PATH: 'off' });
    try {
      const res = await g.fetch('/.edgegate/session', { headers: { cookie: `access=${accessToken()}` } });
      assert.equal(res.status, 200);
      assert.equal((await echo(res)).path, '/.edgegate/session', 'forwarded to the origin like any path');
    } finally { await g.dispose(); }
  });
});

describe('observability', () => {
  it('adds Server-Timing when SERVER_TIMING=true, to edge answers and forwarded responses', async () => {
    const a = await gate.fetch('/anything', { headers: { accept: 'application/json' } });
    assert.match(a.headers.get('server-timing') ?? '', /^edgegate;dur=\d+(\.\d+)?$/);
    const f = await gate.fetch('/anything', as({}));
    assert.match(f.headers.get('server-timing') ?? '', /edgegate;dur=/);
    const plain = await startGate({ ORIGIN_URL: origin.url });
    try {
      assert.equal((await plain.fetch('/x', { headers: { accept: 'application/json' } })).headers.get('server-timing'), null);
    } finally { await plain.dispose(); }
  });

  it('logs one structured line per request with rule, alg, times and a sub hash, never the token', async () => {
    const now = NOW();
    const t = hs({ sub: 'alice@example.com', iat: now - 20, exp: now + 100, roles: ['admin'] }, { header: { alg: 'HS256', kid: 'k-1' } });
    const res = await gate.fetch('/admin/panel', { headers: { cookie: `access=${t}` } });
    // kid k-1 does not exist: only keys without kid... the HMAC key has no kid, so this is refused.
    assert.equal(res.status, 401);
    const t2 = hs({ sub: 'alice@example.com', iat: now - 20, exp: now + 100, roles: ['admin'] });
    const ok = await gate.fetch('/admin/panel?secret-query=1', { headers: { cookie: `access=${t2}` } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const line = await gate.waitForLog((l) => l.path === '/admin/panel' && l.decision === 'forward');
    assert.equal(line.rule, 'admin');
    assert.equal(line.reason, 'ok');
    assert.equal(line.alg, 'HS256');
    assert.equal(line.source, 'cookie');
    assert.ok(line.token_age_s >= 20 && line.token_age_s < 30);
    assert.ok(line.expires_in_s > 90 && line.expires_in_s <= 100);
    assert.match(line.sub_hash, /^[0-9a-f]{16}$/);
    assert.equal(typeof line.verify_us, 'number');
    const refused = await gate.waitForLog((l) => l.path === '/admin/panel' && l.reason === 'unknown_kid');
    assert.equal(refused.kid, 'k-1');
    const all = gate.logs.join('\n');
    for (const secret of [t, t2, t.split('.')[2], t2.split('.')[2], t2.split('.')[1], 'alice@example.com', 'secret-query']) {
      assert.ok(!all.includes(secret), `log output contains ${secret.slice(0, 20)}…`);
    }
  });
});

describe('LOG_REQUESTS=denied: decision lines only for what the gate answers itself', () => {
  let quiet;
  before(async () => { quiet = await startGate({ ORIGIN_URL: origin.url, LOG_REQUESTS: 'denied', PUBLIC_PATHS: '/health' }); });
  after(async () => { await quiet?.dispose(); });

  it('logs the 401 and the refresh redirect, not the forwarded requests', async () => {
    const ok = await quiet.fetch('/api/quiet-ok', { headers: { cookie: `access=${accessToken('u1')}` } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal((await quiet.fetch('/health')).status, 200);
    const now = NOW();
    const expired = hs({ sub: 'u1', iat: now - 900, exp: now - 600 });
    const nav = await quiet.fetch('/quiet-page', { headers: { cookie: `access=${expired}`, accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assert.equal(nav.status, 302);
    const denied = await quiet.fetch('/api/quiet-denied');
    assert.equal(denied.status, 401);
    await quiet.waitForLog((l) => l.path === '/quiet-page' && l.decision === 'refresh');
    await quiet.waitForLog((l) => l.path === '/api/quiet-denied' && l.reason === 'missing_token');
    // Console output keeps request order: had the forwards been logged, their lines would be here.
    assert.ok(!quiet.logs.some((l) => l.includes('/api/quiet-ok') || l.includes('"/health"')), quiet.logs.join('\n'));
  });
});
