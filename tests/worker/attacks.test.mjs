// Proxy-level attacks (issue 9), end to end: the built worker in workerd (Miniflare) in front of
// the real origin process. Cookie tossing and cookie syntax, identity-header spoofing (including
// hop-by-hop smuggling through `Connection`), open redirects through `return_to`, shared-cache
// safety, response integrity for Set-Cookie and large/streamed bodies, and hostile header sizes.
//
// Requests go over plain HTTP/1.1 sockets with the headers exactly as written (`send` below), each
// with a bounded timeout: "answered quickly" means "answered before the timeout", never a
// wall-clock assertion.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOrigin, startGate, hs, accessToken, NOW, SECRET } from './harness.mjs';

const TIMEOUT_MS = 20_000;

let origin;
let gate;
let base;

before(async () => {
  origin = await startOrigin();
  gate = await startGate({ ORIGIN_URL: origin.url });
  base = new URL(await gate.mf.ready);
});
after(async () => {
  await gate?.dispose();
  await origin?.stop();
});
beforeEach(async () => { await origin.clearLog(); });

/**
 * One HTTP/1.1 request to `g`'s workerd with `headers` sent exactly as given ([name, value] pairs,
 * repeats allowed), `Host: gate.test` unless given. `body` may be a Buffer, or an async iterable
 * of Buffers sent with chunked transfer encoding. Rejects after `timeout` ms.
 * Resolves to { status, headers (lower-case; set-cookie an array), rawHeaders, body (Buffer) }.
 */
async function send(p, { method = 'GET', headers = [], body, timeout = TIMEOUT_MS, to = base } = {}) {
  const flat = [];
  if (!headers.some(([n]) => /^host$/i.test(n))) flat.push('Host', 'gate.test');
  for (const [n, v] of headers) flat.push(n, v);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: to.hostname, port: to.port, path: p, method, headers: flat, agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms: ${method} ${p.slice(0, 80)}`)));
    req.on('error', reject);
    if (body && typeof body[Symbol.asyncIterator] === 'function') {
      (async () => {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((e) => req.destroy(e));
    } else {
      req.end(body);
    }
  });
}

const json = (res) => JSON.parse(res.body.toString());
const good = () => accessToken('alice');
const forged = () => accessToken('mallory', {}, { secret: 'f'.repeat(64) });
const API = [['Accept', 'application/json']];
const NAV = [['Sec-Fetch-Mode', 'navigate'], ['Accept', 'text/html']];

async function expectError(res, status, code) {
  assert.equal(res.status, status, res.body.toString());
  assert.equal(res.headers['cache-control'], 'no-store', 'edge answers are never cacheable');
  assert.deepEqual(json(res), { error: code });
}

async function originSawNothing() {
  assert.deepEqual(await origin.log(), [], 'the origin must not have been reached');
}

/** The identity headers the origin received (name → values). */
function identityHeaders(echoBody) {
  const out = {};
  for (const [n, v] of echoBody.headers) if (n.startsWith('x-auth-')) (out[n] ??= []).push(v);
  return out;
}

describe('cookie tossing and cookie syntax', () => {
  it('refuses a duplicated access cookie in either order, any case, any whitespace', async () => {
    const g = good();
    const f = forged();
    for (const c of [
      `access=${g}; access=${f}`,
      `access=${f}; access=${g}`,
      `ACCESS=${f}; access=${g}`,
      `access=${g}; Access=${f}`,
      ` access=${g};access =${f}`,
      `access=${g};\taccess=${f}`,
      `access=${g}; theme=dark; access="${f}"`,
      `Access=${g}`, // a single case variant is ambiguous too
    ]) {
      const res = await send('/api/data', { headers: [...API, ['Cookie', c]] });
      await expectError(res, 401, 'ambiguous_token');
      assert.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/);
    }
    await originSawNothing();
  });

  it('refuses two Cookie header lines carrying the access cookie', async () => {
    // workerd joins repeated Cookie lines with ", " (Fetch Headers), so the gate reads one value
    // `<a>, access=<b>`: refused as ambiguous or as a malformed token, never "first wins".
    let n = 0;
    for (const [a, b] of [[good(), forged()], [forged(), good()]]) {
      const p = `/api/two-cookie-lines-${n++}`;
      const res = await send(p, { headers: [...API, ['Cookie', `access=${a}`], ['Cookie', `access=${b}`]] });
      assert.equal(res.status, 401, res.body.toString());
      assert.ok(['ambiguous_token', 'invalid_token'].includes(json(res).error), res.body.toString());
      const line = await gate.waitForLog((l) => l.edgegate === 'decision' && l.path === p);
      assert.equal(line.decision, 'reject');
    }
    await originSawNothing();
  });

  it('accepts one quoted or whitespace-padded value; names with inner whitespace are other cookies', async () => {
    for (const c of [`access="${good()}"`, `theme=dark;   access =  ${good()}  ; lang=en`]) {
      const res = await send('/api/data', { headers: [...API, ['Cookie', c]] });
      assert.equal(res.status, 200, c);
      assert.deepEqual(identityHeaders(json(res))['x-auth-sub'], ['alice']);
    }
    for (const c of [`acc ess=${good()}`, `access_=${good()}`, `"access"=${good()}`, `xaccess=${good()}`]) {
      await expectError(await send('/api/data', { headers: [...API, ['Cookie', c]] }), 401, 'missing_token');
    }
  });
});

describe('identity spoofing never reaches the origin', () => {
  it('drops inbound x-auth-* in any case and any number, on authenticated and public paths', async () => {
    const spoof = [['X-Auth-Sub', 'root'], ['x-auth-sub', 'root2'], ['X-AUTH-CLAIMS', 'e30'], ['x-Auth-Role', 'admin'], ['X-Auth-Assertion', 'forged']];
    const authed = await send('/api/data', { headers: [...API, ['Cookie', `access=${good()}`], ...spoof] });
    assert.equal(authed.status, 200);
    const ids = identityHeaders(json(authed));
    assert.deepEqual(Object.keys(ids).sort(), ['x-auth-claims', 'x-auth-sub']);
    assert.deepEqual(ids['x-auth-sub'], ['alice']);
    const pub = await send('/health', { headers: spoof });
    assert.equal(pub.status, 200);
    assert.deepEqual(identityHeaders(json(pub)), {});
  });

  it('ignores x-auth-* listed in Connection (hop-by-hop smuggling) and never forwards Connection', async () => {
    for (const conn of ['x-auth-sub', 'X-Auth-Sub, X-Auth-Claims', 'close, x-auth-sub', 'keep-alive,x-auth-claims , x-auth-role']) {
      const res = await send('/api/data', {
        headers: [...API, ['Cookie', `access=${good()}`], ['Connection', conn], ['X-Auth-Sub', 'root'], ['X-Auth-Role', 'admin']],
      });
      assert.equal(res.status, 200, conn);
      const body = json(res);
      const ids = identityHeaders(body);
      // The gate's own identity headers arrive, exactly once; nothing the client sent does.
      assert.deepEqual(ids['x-auth-sub'], ['alice'], conn);
      assert.equal(ids['x-auth-claims']?.length, 1, conn);
      assert.equal(ids['x-auth-role'], undefined, conn);
      assert.ok(!body.headers.some(([n, v]) => n === 'connection' && /x-auth/i.test(v)), conn);
    }
    // On a public path the listed headers are dropped and none is added.
    const pub = await send('/health', { headers: [['Connection', 'x-auth-sub'], ['X-Auth-Sub', 'root']] });
    assert.deepEqual(identityHeaders(json(pub)), {});
  });
});

describe('open redirect: return_to is always a same-origin relative path', () => {
  const expired = () => hs({ sub: 'a', iat: NOW() - 4000, exp: NOW() - 3600 });

  /** Checks one redirect: a single Location on this origin whose return_to is a relative path. */
  function checkRedirect(res, endpoint, p) {
    assert.equal(res.status, 302, `${p}: ${res.status} ${res.body.toString()}`);
    const locations = res.rawHeaders.filter((_, i) => i % 2 === 0 && /^location$/i.test(res.rawHeaders[i]));
    assert.equal(locations.length, 1, p);
    const loc = res.headers.location;
    assert.ok(loc.startsWith(`${endpoint}?return_to=`), `${p} -> ${loc}`);
    assert.ok(!/[\r\n\s"<>\\]/.test(loc), `${p} -> ${JSON.stringify(loc)}`);
    const url = new URL(loc, 'http://gate.test');
    assert.equal(url.origin, 'http://gate.test', p);
    const target = url.searchParams.get('return_to');
    assert.ok(target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\'), `${p} -> ${target}`);
    assert.equal(new URL(target, 'http://gate.test').origin, 'http://gate.test', `${p} -> ${target}`);
    assert.equal(res.headers['set-cookie'], undefined);
    return target;
  }

  const hostile = [
    '//evil.example/x',
    '///evil.example',
    '/\\evil.example',
    '/\\/evil.example',
    '/a/../..//evil.example',
    '/%2e%2e/%2e%2e//evil.example',
    '/.//evil.example',
    '/x?next=//evil.example&u=http://evil.example',
    '/x?a=%0d%0aLocation:%20http://evil.example',
    '/x?a=%0D%0ASet-Cookie:%20access=evil',
    '/x?a=\u2028b'.replace('\u2028', '%E2%80%A8'),
    '/%E2%80%AEevil',
    '/x?"><script>alert(1)</script>'.replace(/[<>"]/g, encodeURIComponent),
  ];

  it('for login (missing token) and refresh (expired token) redirects', async () => {
    for (const p of hostile) {
      const login = await send(p, { headers: NAV });
      checkRedirect(login, '/auth/login', p);
      const refresh = await send(p, { headers: [...NAV, ['Cookie', `access=${expired()}`]] });
      checkRedirect(refresh, '/auth/refresh', p);
    }
    await originSawNothing();
  });

  it('refuses encoded CR/LF, NUL, slashes and backslashes in the path with 400', async () => {
    for (const p of ['/app%0d%0aSet-Cookie:%20x=1', '/app%0aLocation:%20//evil', '/app%00', '/%2F%2Fevil.example', '/%5Cevil.example', '/a%2f..%2f..%2fevil']) {
      for (const headers of [NAV, [...NAV, ['Cookie', `access=${expired()}`]]]) {
        const res = await send(p, { headers });
        await expectError(res, 400, 'bad_request');
        assert.equal(res.headers.location, undefined);
      }
    }
    await originSawNothing();
  });

  it('falls back to / or the bare path for very long targets', async () => {
    const longPath = `/${'p'.repeat(3000)}`;
    assert.equal(checkRedirect(await send(longPath, { headers: NAV }), '/auth/login', 'long path'), '/');
    const longQuery = `/page?q=${'x'.repeat(5000)}`;
    assert.equal(checkRedirect(await send(longQuery, { headers: NAV }), '/auth/login', 'long query'), '/page');
    const veryLong = `/${'a/'.repeat(4000)}x`;
    const res = await send(veryLong, { headers: NAV });
    // workerd may refuse a URL this long itself; if the gate answers, it is a safe redirect.
    if (res.status === 302) assert.equal(checkRedirect(res, '/auth/login', 'very long'), '/');
    else assert.ok(res.status >= 400 && res.status < 500, `very long path: ${res.status}`);
  });
});

describe('shared caches never store authenticated responses', () => {
  let dir;
  let ref;
  let refGate;
  before(async () => {
    // The reference origin sends real Cache-Control values: `public, max-age=300` on its JWKS and
    // `no-store` on /api/me. (The echo origin sends none and has no way to choose one.)
    dir = mkdtempSync(path.join(tmpdir(), 'edgegate-attacks-'));
    ref = await startOrigin(
      ['--reference', '--user', 'alice:wonderland', '--data-dir', dir, '--public-origin', 'http://gate.test', '--test-routes'],
      { JWT_SECRET: SECRET },
      { quiet: true },
    );
    refGate = await startGate({ ORIGIN_URL: ref.url, PUBLIC_PATHS: '/health' });
  });
  after(async () => {
    await refGate?.dispose();
    await ref?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const via = async (p, headers) => send(p, { headers, to: new URL(await refGate.mf.ready) });

  it('adds private when the origin says nothing', async () => {
    const res = await send('/api/data', { headers: [...API, ['Cookie', `access=${good()}`]] });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'private');
  });

  it('turns the origin\'s public, max-age=300 into private, max-age=300', async () => {
    const res = await via('/.well-known/jwks.json', [...API, ['Cookie', `access=${good()}`]]);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['cache-control'], 'private, max-age=300');
    assert.ok(JSON.parse(res.body.toString()).keys, 'the JWKS body passes through');
  });

  it('keeps the origin\'s no-store as it is', async () => {
    const res = await via('/api/me', [...API, ['Cookie', `access=${good()}`]]);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(JSON.parse(res.body.toString()).sub, 'alice');
  });

  it('leaves public-path responses alone, and marks every edge answer no-store', async () => {
    const pub = await via('/health', []);
    assert.equal(pub.status, 200);
    assert.equal(pub.headers['cache-control'], 'no-store'); // the origin's own value, untouched
    for (const [p, headers] of [['/api/data', API], ['/app', NAV], ['/api/data', [...API, ['Cookie', `access=${forged()}`]]]]) {
      const res = await send(p, { headers });
      assert.ok([302, 401].includes(res.status));
      assert.equal(res.headers['cache-control'], 'no-store', `${p} ${res.status}`);
    }
  });
});

describe('response integrity', () => {
  it('keeps every Set-Cookie separate and in order, also when the headers are rewritten', async () => {
    const cookies = [
      'a=1; Path=/',
      'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure; HttpOnly',
      'c=x,y; Path=/; SameSite=Lax',
      'd=; Max-Age=0',
      ...Array.from({ length: 12 }, (_, i) => `n${i}=${i}; Path=/p${i}`),
    ];
    const q = cookies.map((c) => `set_cookie=${encodeURIComponent(c)}`).join('&');
    const res = await send(`/api/cookies?${q}`, { headers: [...API, ['Cookie', `access=${good()}`]] });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'private'); // the response was rebuilt...
    assert.deepEqual(res.headers['set-cookie'], cookies); // ...and every cookie survived
  });

  it('streams a large chunked upload to the origin byte for byte', async () => {
    const total = 12 * 1024 * 1024;
    const hash = createHash('sha256');
    async function* chunks() {
      for (let sent = 0; sent < total;) {
        const c = randomBytes(Math.min(256 * 1024, total - sent));
        hash.update(c);
        sent += c.length;
        yield c;
      }
    }
    const res = await send('/api/upload', {
      method: 'POST',
      body: chunks(),
      headers: [['Cookie', `access=${good()}`], ['Origin', 'http://gate.test'], ['Content-Type', 'application/octet-stream'], ['Transfer-Encoding', 'chunked']],
      timeout: 60_000,
    });
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
    const body = json(res);
    assert.equal(body.body_len, total);
    assert.equal(body.body_sha256, hash.digest('hex'));
  });

  it('streams a large download intact', async () => {
    const bytes = 24 * 1024 * 1024;
    const res = await send(`/__big?bytes=${bytes}`, { headers: [['Cookie', `access=${good()}`]], timeout: 60_000 });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, bytes);
    assert.equal(createHash('sha256').update(res.body).digest('hex'), res.headers['x-body-sha256']);
  });
});

describe('hostile header sizes are answered with a 4xx, never a hang', () => {
  it('a 1 MB Cookie header', async () => {
    const res = await send('/api/data', { headers: [...API, ['Cookie', `access=${good()}; junk=${'j'.repeat(1024 * 1024)}`]] });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    if (res.headers['content-type'] === 'application/json') {
      // Answered by the gate itself (not refused by workerd's HTTP layer first).
      assert.deepEqual(json(res), { error: 'header_too_large' });
    }
    await originSawNothing();
  });

  it('a Cookie header just over 16 KiB is the gate\'s 431', async () => {
    const res = await send('/api/data', { headers: [...API, ['Cookie', `access=${good()}; junk=${'j'.repeat(16 * 1024)}`]] });
    await expectError(res, 431, 'header_too_large');
  });

  it('200 cookies: missing token, or found among them', async () => {
    const many = Array.from({ length: 200 }, (_, i) => `c${i}=v${i}`).join('; ');
    await expectError(await send('/api/data', { headers: [...API, ['Cookie', many]] }), 401, 'missing_token');
    const ok = await send('/api/data', { headers: [...API, ['Cookie', `${many}; access=${good()}`]] });
    assert.equal(ok.status, 200);
    const tossed = Array.from({ length: 200 }, (_, i) => `access=v${i}`).join('; ');
    await expectError(await send('/api/data', { headers: [...API, ['Cookie', tossed]] }), 401, 'ambiguous_token');
  });

  it('200 separate Cookie header lines', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => ['Cookie', `c${i}=v${i}`]);
    const res = await send('/api/data', { headers: [...API, ...lines] });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  });
});
