// Where the gate and common origin stacks could read one request differently, end to end: the
// built worker in workerd in front of the real origin process. Header spellings CGI/WSGI/PHP/Rack
// fold together, routing and method overrides, `;` path parameters, unsafe methods and WebSocket
// handshakes under the CSRF guard, qualified `private`, and a JWK Set that never ends.
//
// Requests go over plain HTTP/1.1 sockets with the headers exactly as written; every wait is
// bounded, and nothing asserts wall-clock time.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { startOrigin, startGate, accessToken, NOW, streamEndless } from './harness.mjs';

const TIMEOUT_MS = 20_000;

let origin;
let gate;
before(async () => {
  origin = await startOrigin();
  gate = await startGate({ ORIGIN_URL: origin.url, POLICY: JSON.stringify({ rules: [
    { name: 'admin', path: '/admin/**', require: { roles: 'admin' } },
    { name: 'closed', path: '/internal/**', action: 'deny' },
  ] }) });
});
after(async () => {
  await gate?.dispose();
  await origin?.stop();
});
beforeEach(async () => { await origin.clearLog(); });

/** One HTTP/1.1 request with `headers` ([name, value] pairs) exactly as given. */
async function send(g, p, { method = 'GET', headers = [], body } = {}) {
  const to = new URL(await g.mf.ready);
  const flat = ['Host', 'gate.test'];
  for (const [n, v] of headers) flat.push(n, v);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: to.hostname, port: to.port, path: p, method, headers: flat, agent: false, timeout: TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms: ${method} ${p}`)));
    req.on('error', reject);
    req.end(body);
  });
}

const json = (res) => JSON.parse(res.body.toString());
const cookie = (sub = 'alice', extra = {}) => ['Cookie', `access=${accessToken(sub, extra)}`];
const API = ['Accept', 'application/json'];
const names = (res) => json(res).headers.map(([n]) => n);

async function expectError(res, status, code) {
  assert.equal(res.status, status, res.body.toString());
  assert.deepEqual(json(res), { error: code });
}

describe('headers the origin would read differently never reach it', () => {
  const spoofed = [
    ['x_auth_sub', 'root'],
    ['X_Auth_Claims', 'e30'],
    ['X-Auth_Role', 'admin'],
    ['X-Original-URL', '/admin/users'],
    ['X-Rewrite-URL', '/admin/users'],
    ['X_Original_URL', '/admin/users'],
    ['X-Override-URL', '/admin/users'],
    ['X-HTTP-Method-Override', 'DELETE'],
    ['X-Method-Override', 'DELETE'],
    ['X-HTTP-Method', 'DELETE'],
    ['x_http_method_override', 'DELETE'],
  ];
  const stripped = new Set(spoofed.map(([n]) => n.toLowerCase()));

  it('strips underscore identity spellings, routing and method overrides on authenticated paths', async () => {
    const res = await send(gate, '/api/data', { method: 'POST', headers: [API, ['Sec-Fetch-Site', 'same-origin'], cookie(), ...spoofed, ['X-Keep', 'yes']], body: 'x' });
    assert.equal(res.status, 200, res.body.toString());
    const body = json(res);
    assert.equal(body.method, 'POST');
    const seen = names(res);
    for (const n of seen) assert.ok(!stripped.has(n), `${n} reached the origin`);
    assert.deepEqual(seen.filter((n) => n.replaceAll('_', '-').startsWith('x-auth-')).sort(), ['x-auth-claims', 'x-auth-sub']);
    assert.equal(body.headers.find(([n]) => n === 'x-auth-sub')[1], 'alice');
    assert.ok(seen.includes('x-keep'), 'other headers pass');
  });

  it('strips them on public paths too', async () => {
    const res = await send(gate, '/health', { headers: [...spoofed, ['X-Keep', 'yes']] });
    assert.equal(res.status, 200);
    const seen = names(res);
    for (const n of seen) assert.ok(!stripped.has(n) && !n.replaceAll('_', '-').startsWith('x-auth-'), `${n} reached the origin`);
    assert.ok(seen.includes('x-keep'));
  });
});

describe('path parameters', () => {
  it('refuses ; in a segment with 400, whatever the rule, token or request kind', async () => {
    for (const p of ['/admin;x=y/users', '/admin;/users', '/health/..;/admin', '/internal;x=y/x', '/admin%3Bx/users', '/static/app.js;jsessionid=1']) {
      for (const headers of [[API], [API, cookie()], [API, cookie('root', { roles: 'admin' })], [['Sec-Fetch-Mode', 'navigate'], ['Accept', 'text/html']]]) {
        const res = await send(gate, p, { headers });
        await expectError(res, 400, 'bad_request');
        assert.equal(res.headers.location, undefined, p);
      }
    }
    assert.deepEqual(await origin.log(), [], 'nothing reached the origin');
    const line = await gate.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'path_parameter');
    assert.equal(line.decision, 'reject');
  });
});

describe('CSRF guard beyond POST/PUT/PATCH/DELETE', () => {
  const crossSite = [['Sec-Fetch-Site', 'cross-site'], ['Origin', 'https://evil.example']];

  it('guards WebDAV and other registered methods', async () => {
    for (const method of ['PROPFIND', 'PROPPATCH', 'MOVE', 'COPY', 'MKCOL', 'LOCK', 'SEARCH', 'REPORT', 'QUERY']) {
      await expectError(await send(gate, '/api/data', { method, headers: [API, cookie(), ...crossSite] }), 403, 'csrf');
      const ok = await send(gate, '/api/data', { method, headers: [API, cookie(), ['Sec-Fetch-Site', 'same-origin']] });
      assert.equal(ok.status, 200, method);
      assert.equal(json(ok).method, method);
    }
  });

  it('never forwards a cross-site custom verb (workerd refuses unknown methods itself)', async () => {
    for (const method of ['X-CUSTOM', 'FOO']) {
      const res = await send(gate, '/api/data', { method, headers: [API, cookie(), ...crossSite] });
      // 501 from workerd's HTTP parser today; should it ever pass them on, the gate's 403.
      assert.ok([403, 501].includes(res.status), `${method}: ${res.status}`);
    }
    assert.deepEqual(await origin.log(), [], 'nothing reached the origin');
  });

  it('refuses a cross-site WebSocket handshake carrying the cookie', async () => {
    const upgrade = [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', randomBytes(16).toString('base64')]];
    for (const evidence of [crossSite, [['Origin', 'https://evil.example']], []]) {
      const res = await send(gate, '/ws', { headers: [cookie(), ...upgrade, ...evidence] });
      await expectError(res, 403, 'csrf');
    }
    assert.deepEqual((await origin.log()).filter((e) => e.path === '/ws'), [], 'no handshake reached the origin');
  });
});

describe('qualified private', () => {
  it('rewrites private="set-cookie", public, max-age=600 to private, max-age=600', async () => {
    const cc = 'private="set-cookie", public, max-age=600';
    const put = await fetch(`${origin.url}/__jwks?cache_control=${encodeURIComponent(cc)}`, { method: 'PUT', body: '{"keys":[]}' });
    assert.equal(put.status, 204);
    const direct = await fetch(`${origin.url}/__jwks`);
    assert.equal(direct.headers.get('cache-control'), cc, 'the origin sends the qualified form');
    const res = await send(gate, '/__jwks', { headers: [API, cookie()] });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['cache-control'], 'private, max-age=600');
  });
});

describe('remote JWK Set size', () => {
  const CAP = 256 * 1024;
  let idp;
  let closed;
  const b64u = (x) => Buffer.from(x).toString('base64url');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const token = () => {
    const input = `${b64u(JSON.stringify({ alg: 'ES256', kid: 'k' }))}.${b64u(JSON.stringify({ sub: 'alice', exp: NOW() + 600 }))}`;
    return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  };

  // A hostile IdP on 127.0.0.1: `/declared` announces a body over the cap, sends a few bytes and
  // stalls (only the Content-Length check answers before the fetch times out); `/endless` streams
  // up to 64 MiB without Content-Length, counting what it managed to write.
  before(async () => {
    idp = http.createServer((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(CAP + 1) });
        res.write('{"keys":[');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      ({ closed } = streamEndless(res));
    });
    await new Promise((r) => idp.listen(0, '127.0.0.1', r));
  });
  after(() => new Promise((r) => { idp.closeAllConnections(); idp.close(r); }));

  for (const [route, what] of [['/declared', 'by its Content-Length'], ['/endless', 'while streaming']]) {
    it(`refuses a JWK Set over 256 KiB ${what}`, async () => {
      const g = await startGate({ ORIGIN_URL: origin.url, ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS_URL: `http://127.0.0.1:${idp.address().port}${route}` });
      try {
        const res = await send(g, '/api/data', { headers: [API, ['Cookie', `access=${token()}`]] });
        await expectError(res, 401, 'invalid_token');
        const line = await g.waitForLog((l) => l.reason === 'jwks_fetch_failed');
        assert.match(line.problem, /larger than 262144 bytes/);
        if (route === '/endless') {
          // Reading stopped at the cap: the IdP could not push its 64 MiB through.
          const sent = await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('IdP connection still open')), TIMEOUT_MS))]);
          assert.ok(sent < 16 * 1024 * 1024, `the gate read on: the IdP wrote ${sent} bytes`);
        }
      } finally {
        await g.dispose();
      }
    });
  }
});
