// The workers-rs form (`edgegate::workers`, feature `workers-rs`): the example app in
// examples/workers-rs/, built by worker-build (scripts/build-rust-example.sh), runs in workerd and
// gets the contract slice the JS forms get (tests/package/): valid → the handler runs with the
// identity, client-sent identity headers stripped; expired → 302 / 401; forged → 401; cross-site
// POST → 403; Set-Cookie kept; Cache-Control private; a configuration error names the key exactly
// as the standalone gate does. Plus: a public-key token verified through WebCrypto, the remote JWK
// Set (fetch, cap, stale-if-error), the published revocation list (REVOCATION_URL from a publisher
// on 127.0.0.1, REVOCATION_KV; the background refresh through the Context, and inline without
// one), the closure form (`guard`), the log lines compared with the standalone JS gate's, and a
// runtime failure answered `internal_error`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startOrigin, startGate, startPublisher, accessToken, header, headerNames, hsDoc, until, sleep, NOW, SECRET,
  REVOCATIONS_TYP, revocationList as list,
  streamEndless,
} from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'examples', 'workers-rs', 'build');
const EXAMPLE = { scriptPath: path.join(BUILD, 'index.js'), modulesRoot: BUILD };

const b64u = (x) => Buffer.from(x).toString('base64url');
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
const api = (token, extra = {}) => ({ headers: { accept: 'application/json', ...(token ? { cookie: `access=${token}` } : {}), ...extra } });
const nav = (token) => ({ headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', cookie: `access=${token}` } });
const expired = () => accessToken('alice', { iat: NOW() - 1200, exp: NOW() - 600 });
const forged = () => accessToken('alice', { role: 'admin' }, { secret: 'f'.repeat(64) });

/** An ES256 key pair with a kid, and a signer for it (Node crypto: independent of the gate). */
function es256Key() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `k-${b64u(randomBytes(6))}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const token = (sub = 'alice', extra = {}, k = kid) => {
    const input = `${b64u(JSON.stringify({ alg: 'ES256', kid: k }))}.${b64u(JSON.stringify({ sub, iat: NOW(), exp: NOW() + 600, ...extra }))}`;
    return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  };
  return { kid, jwk, token, privateKey };
}

/** What the app received (its echo), with the path and query split out. */
async function seen(res) {
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new Error(`not the app's echo (status ${res.status}): ${text.slice(0, 300)}`); }
  const url = new URL(body.url);
  return { ...body, path: url.pathname, query: url.search ? url.search.slice(1) : null };
}

async function expectError(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal((await res.json()).error, code);
}

const example = (vars, opts = {}) => startGate({ SERVER_TIMING: 'true', APP_NAME: 'example', ...vars }, { ...opts, miniflare: { ...EXAMPLE, ...opts.miniflare } });

before(() => {
  if (!existsSync(EXAMPLE.scriptPath)) {
    throw new Error(`${EXAMPLE.scriptPath} missing: run scripts/build-rust-example.sh (scripts/test.sh does)`);
  }
});

/** The contract slice of tests/package/, for the example built in `form`. */
function contractSlice(form) {
  describe(`the contract slice (${form})`, () => {
    let gate;
    before(async () => { gate = await example(form === 'guard' ? { EXAMPLE_FORM: 'guard' } : {}); });
    after(async () => { await gate?.dispose(); });

    it('valid token → the handler runs with the identity; client-sent x-auth-* stripped; Cache-Control private', async () => {
      const token = accessToken('alice', { role: 'reader', tags: ['a', 'b'] });
      const res = await gate.fetch('/%61pi//me?q=1', api(token, { 'x-auth-sub': 'root', X_Auth_Claims: 'e30', 'x-auth-role': 'admin' }));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control'), /^private\b/);
      assert.match(res.headers.get('server-timing'), /^edgegate;dur=/);
      const s = await seen(res);
      assert.equal(s.method, 'GET');
      assert.equal(s.path, '/api/me');
      assert.equal(s.query, 'q=1');
      assert.deepEqual(s.identity, { sub: 'alice', claims: claimsOf(token) });
      assert.equal(s.role, 'reader', 'typed claims (Identity::claims_as)');
      assert.equal(header(s, 'x-auth-sub'), 'alice');
      assert.deepEqual(JSON.parse(Buffer.from(header(s, 'x-auth-claims'), 'base64url')), claimsOf(token));
      assert.deepEqual(headerNames(s).filter((n) => /^x.auth./i.test(n)).sort(), ['x-auth-claims', 'x-auth-sub']);
      assert.equal(s.envBinding, 'example', 'the app keeps its own env');
    });

    it('public path → the handler runs without identity, client-sent x-auth-* stripped', async () => {
      const res = await gate.fetch('/health', api(forged(), { 'x-auth-sub': 'alice', 'x-auth-claims': 'eyJzdWIiOiJhbGljZSJ9' }));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), null, 'no private rules without identity');
      const s = await seen(res);
      assert.equal(s.identity, null);
      assert.ok(!headerNames(s).some((n) => n.startsWith('x-auth-')), JSON.stringify(s.headers));
    });

    it('expired token → 302 to REFRESH_PATH for a navigation, 401 token_expired with WWW-Authenticate for an API call', async () => {
      const res = await gate.fetch('/dash?tab=1', nav(expired()));
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/auth/refresh?return_to=%2Fdash%3Ftab%3D1');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const apiRes = await gate.fetch('/api/me', api(expired()));
      assert.equal(apiRes.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="token expired"');
      await expectError(apiRes, 401, 'token_expired');
    });

    it('forged or missing token → 401, the handler never runs', async () => {
      const res = await gate.fetch('/api/me', api(forged()));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      await expectError(res, 401, 'invalid_token');
      await expectError(await gate.fetch('/api/me', api(null, { 'x-auth-sub': 'alice' })), 401, 'missing_token');
    });

    it('cross-site POST with the cookie → 403 csrf; a same-origin one reaches the handler with its body', async () => {
      await expectError(await gate.fetch('/api/orders', { method: 'POST', body: 'x', ...api(accessToken(), { origin: 'https://evil.example' }) }), 403, 'csrf');
      const res = await gate.fetch('/api/orders', { method: 'POST', body: 'order=1', ...api(accessToken(), { origin: 'http://gate.test' }) });
      assert.equal(res.status, 200);
      const s = await seen(res);
      assert.deepEqual([s.method, s.body], ['POST', 'order=1']);
    });

    it('every Set-Cookie of the handler\'s response is kept, separately; public Cache-Control becomes private', async () => {
      const res = await gate.fetch('/__cookies', api(accessToken()));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'private, max-age=60');
      assert.deepEqual(res.headers.getSetCookie(), [
        'a=1; Path=/',
        'b=2; Path=/; HttpOnly',
        'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure',
      ]);
      assert.equal(await res.text(), 'cookies set');
    });

    it('no log line holds the token', async () => {
      const token = accessToken('alice');
      await (await gate.fetch('/api/me', api(token))).arrayBuffer();
      await gate.waitForLog((l) => l.edgegate === 'decision' && l.path === '/api/me' && l.decision === 'forward');
      const signature = token.split('.')[2];
      assert.ok(!gate.logs.some((l) => l.includes(signature)), gate.logs.join('\n'));
    });
  });
}

contractSlice('two halves');
contractSlice('guard');

describe('the same edge as the standalone gate', () => {
  let origin;
  before(async () => { origin = await startOrigin([], {}, { quiet: true }); });
  after(async () => { await origin?.stop(); });

  /** The config error line of a gate (`opts`: which build) missing ALGORITHMS. */
  async function configErrorLine(vars, opts) {
    const g = await startGate({ JWT_SECRET: SECRET, ...vars }, { defaults: false, ...opts });
    try {
      await expectError(await g.fetch('/api/me', api(accessToken())), 500, 'misconfigured');
      await expectError(await g.fetch('/health', api(null)), 500, 'misconfigured');
      const lines = g.logs.map((l) => JSON.parse(l.slice(l.indexOf('{')))).filter((l) => l.edgegate === 'config');
      assert.ok(lines.length >= 2, `a line on every request: ${g.logs.join('\n')}`);
      return lines.at(-1);
    } finally {
      await g.dispose();
    }
  }

  it('a missing ALGORITHMS → 500 misconfigured on every request, the log line naming the key exactly as the standalone gate\'s', async () => {
    const line = await configErrorLine({}, { miniflare: EXAMPLE });
    assert.equal(line.key, 'ALGORITHMS');
    assert.deepEqual(line, await configErrorLine({ ORIGIN_URL: origin.url }, {}));
  });

  it('the decision line is the standalone gate\'s', async () => {
    const decision = async (g) => {
      const token = accessToken('alice', { iat: NOW() - 5 });
      await (await g.fetch('/%61pi//me?secret=1', api(token))).arrayBuffer();
      const { verify_us, token_age_s, expires_in_s, ...line } = await g.waitForLog((l) => l.edgegate === 'decision');
      assert.equal(typeof verify_us, 'number');
      assert.ok(token_age_s >= 5 && expires_in_s > 0);
      return line;
    };
    const rust = await example({ LOG_SUB: 'hash' });
    const js = await startGate({ ORIGIN_URL: origin.url, LOG_SUB: 'hash' });
    try {
      const line = await decision(rust);
      assert.deepEqual(line, { edgegate: 'decision', decision: 'forward', reason: 'ok', status: null, method: 'GET', path: '/%61pi//me', source: 'cookie', alg: 'HS256', rule: 'default', sub_hash: line.sub_hash });
      assert.deepEqual(line, await decision(js));
    } finally {
      await rust.dispose();
      await js.dispose();
    }
  });

  it('start-up warnings are logged once per isolate', async () => {
    const g = await example({ CSRF_GUARD: 'false' });
    try {
      for (let i = 0; i < 3; i++) await (await g.fetch('/health')).arrayBuffer();
      await g.waitForLog((l) => l.edgegate === 'decision');
      const warnings = g.logs.filter((l) => l.includes('"level":"warn"'));
      assert.equal(warnings.length, 1, g.logs.join('\n'));
      assert.match(warnings[0], /CSRF_GUARD/);
    } finally {
      await g.dispose();
    }
  });
});

describe('public keys through WebCrypto', () => {
  it('an ES256 token (inline JWKS) is verified, again from the verified-signature cache; forged and wrong-kid ones are refused', async () => {
    const key = es256Key();
    const other = es256Key();
    const g = await example({ ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS: JSON.stringify({ keys: [key.jwk] }) });
    try {
      const token = key.token('carol', { role: 'writer' });
      for (let i = 0; i < 2; i++) {
        const res = await g.fetch('/api/me', api(token));
        assert.equal(res.status, 200);
        assert.deepEqual((await seen(res)).identity, { sub: 'carol', claims: claimsOf(token) });
      }
      await expectError(await g.fetch('/api/me', api(other.token('mallory', {}, key.kid))), 401, 'invalid_token');
      await expectError(await g.fetch('/api/me', api(other.token('mallory'))), 401, 'invalid_token');
      // A token signed by the right key but with one claim changed.
      const [h, , sig] = token.split('.');
      const tampered = `${h}.${b64u(JSON.stringify({ ...claimsOf(token), sub: 'root' }))}.${sig}`;
      await expectError(await g.fetch('/api/me', api(tampered)), 401, 'invalid_token');
      const line = await g.waitForLog((l) => l.edgegate === 'decision' && l.alg === 'ES256' && l.decision === 'forward');
      assert.equal(line.kid, key.kid);
    } finally {
      await g.dispose();
    }
  });
});

describe('the remote JWK Set (JWKS_URL)', () => {
  let origin;
  before(async () => { origin = await startOrigin([], {}, { quiet: true }); });
  after(async () => { await origin?.stop(); });
  const publish = async (keys) => {
    const res = await fetch(`${origin.url}/__jwks`, { method: 'PUT', body: JSON.stringify({ keys: keys.map((k) => k.jwk) }) });
    assert.equal(res.status, 204);
  };

  it('fetched on first use, rotated in on an unknown kid, kept when the IdP fails', async () => {
    const a = es256Key();
    const b = es256Key();
    await publish([a]);
    const g = await example({ ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS_URL: `${origin.url}/__jwks`, JWKS_MIN_REFRESH_SECONDS: '0' });
    try {
      assert.equal((await g.fetch('/api/me', api(a.token()))).status, 200);
      await publish([a, b]);
      assert.equal((await g.fetch('/api/me', api(b.token('bob')))).status, 200, 'rotated in without a redeploy');
      await fetch(`${origin.url}/__jwks`, { method: 'DELETE' });
      const c = es256Key();
      await expectError(await g.fetch('/api/me', api(c.token())), 401, 'invalid_token');
      const line = await g.waitForLog((l) => l.reason === 'jwks_fetch_failed');
      assert.equal(line.serving_stale, true);
      assert.match(line.problem, /the IdP answered \d+/);
      assert.equal((await g.fetch('/api/me', api(a.token()))).status, 200, 'stale-if-error');
    } finally {
      await g.dispose();
    }
  });

  describe('a hostile IdP', () => {
    const CAP = 256 * 1024;
    let idp;
    let closed;
    before(async () => {
      // `/declared` announces a body over the cap and stalls; `/endless` streams up to 64 MiB.
      idp = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...(req.url === '/declared' ? { 'content-length': String(CAP + 1) } : {}) });
        res.write('{"keys":[');
        if (req.url === '/declared') return;
        ({ closed } = streamEndless(res));
      });
      await new Promise((r) => idp.listen(0, '127.0.0.1', r));
    });
    after(() => new Promise((r) => { idp.closeAllConnections(); idp.close(r); }));

    for (const [route, what] of [['/declared', 'by its Content-Length'], ['/endless', 'while streaming']]) {
      it(`a JWK Set over 256 KiB is refused ${what}`, async () => {
        const key = es256Key();
        const g = await example({ ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS_URL: `http://127.0.0.1:${idp.address().port}${route}` });
        try {
          await expectError(await g.fetch('/api/me', api(key.token())), 401, 'invalid_token');
          const line = await g.waitForLog((l) => l.reason === 'jwks_fetch_failed');
          assert.match(line.problem, /larger than 262144 bytes/);
          assert.equal(line.serving_stale, false);
          if (route === '/endless') {
            let timer;
            const timeout = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('IdP connection still open')), 20_000); });
            const sent = await Promise.race([closed, timeout]).finally(() => clearTimeout(timer));
            assert.ok(sent < 16 * 1024 * 1024, `the gate read on: the IdP wrote ${sent} bytes`);
          }
        } finally {
          await g.dispose();
        }
      });
    }
  });
});

describe('the revocation list', () => {
  let pub;
  let origin;
  before(async () => { pub = await startPublisher(); origin = await startOrigin([], {}, { quiet: true }); });
  after(async () => { await pub?.close(); await origin?.stop(); });

  const withList = (vars = {}, opts = {}) => example({ REVOCATION_URL: pub.url, REVOCATION_REFRESH_SECONDS: '1', ...vars }, opts);
  // Issued a minute ago: before the cut-offs the lists below name.
  const old = (sub = 'alice', extra = {}) => accessToken(sub, { iat: NOW() - 60, ...extra });
  const status = async (g, token) => {
    const res = await g.fetch('/api/data', api(token));
    await res.arrayBuffer();
    return res.status;
  };
  const revocationLine = (g, pred) => g.waitForLog((l) => l.edgegate === 'revocation' && pred(l));

  for (const form of ['two halves', 'guard']) {
    it(`refuses revoked tokens exactly like expired ones and leaves every other token alone (${form})`, async () => {
      pub.doc(hsDoc(list(1, { subjects: { alice: NOW() - 30 }, sessions: { 's-1': NOW() } })));
      const g = await withList(form === 'guard' ? { EXAMPLE_FORM: 'guard' } : {});
      try {
        const r = await g.fetch('/api/data', api(old('alice')));
        assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="token expired"');
        assert.deepEqual(JSON.parse(await r.clone().text()), { error: 'token_expired', refresh: '/auth/refresh' });
        await expectError(r, 401, 'token_expired');
        const n = await g.fetch('/app', nav(old('alice')));
        assert.equal(n.status, 302);
        assert.equal(n.headers.get('location'), '/auth/refresh?return_to=%2Fapp');
        const line = await g.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'revoked');
        assert.equal(line.status, 401);
        assert.equal(await status(g, old('bob', { sid: 's-1' })), 401, 'a session entry, whatever the subject');
        // Untouched: another subject, another session, a token issued after the cut-off.
        const res = await g.fetch('/api/data', api(old('bob', { sid: 's-2' })));
        assert.equal(res.status, 200);
        assert.equal((await seen(res)).identity.sub, 'bob', 'the handler ran');
        assert.equal(await status(g, old('bob')), 200);
        assert.equal(await status(g, accessToken('alice', { iat: NOW() })), 200);
        assert.equal((await g.fetch('/health')).status, 200);
        for (const l of g.logs) assert.doesNotMatch(l, /eyJ/, 'no token in a log line');
      } finally { await g.dispose(); }
    });
  }

  it('refuses a forged list and fails closed: 503 revocation_unavailable; public paths unaffected', async () => {
    pub.doc(hsDoc(list(9), { secret: 'not-the-gate-secret-not-the-gate-secret' }));
    const g = await withList();
    try {
      await expectError(await g.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      const line = await revocationLine(g, () => true);
      assert.deepEqual(line, { edgegate: 'revocation', level: 'error', reason: 'revocation_refused', problem: 'bad_signature', serving_stale: false });
      const res = await g.fetch('/health');
      assert.equal(res.status, 200);
      assert.equal((await seen(res)).identity, null);
      await expectError(await g.fetch('/api/data', api('garbage')), 401, 'invalid_token');
    } finally { await g.dispose(); }
    // Not a revocation list: an access token, or the right key with another typ.
    for (const body of [accessToken('alice'), hsDoc(list(1), { header: { alg: 'HS256', typ: 'JWT' } })]) {
      pub.doc(body);
      const g2 = await withList();
      try {
        await expectError(await g2.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
        await revocationLine(g2, (l) => l.reason === 'revocation_refused');
      } finally { await g2.dispose(); }
    }
  });

  it('picks up a newer list in the background, checks an idle isolate against a fresh one, and refuses a rollback', async () => {
    pub.doc(hsDoc(list(5)));
    const g = await withList();
    try {
      assert.equal(await status(g, old('alice')), 200);
      pub.doc(hsDoc(list(6, { subjects: { alice: NOW() } })));
      await until(async () => (await status(g, old('alice'))) === 401, 'the newer list');
      // Idle for two intervals: the next request waits for a fresh list.
      pub.doc(hsDoc(list(7, { subjects: { alice: NOW(), carol: NOW() } })));
      await sleep(2100);
      assert.equal(await status(g, old('carol')), 401, 'the first request after the gap');
      // An older version with fewer entries (a stale copy, a replay) is refused.
      const before = pub.hits;
      pub.doc(hsDoc(list(5)));
      await until(async () => { await status(g, old('bob')); return pub.hits > before + 1; }, 'two more fetches');
      const line = await revocationLine(g, (l) => l.problem === 'rollback');
      assert.equal(line.reason, 'revocation_refused');
      assert.equal(line.serving_stale, true);
      assert.equal(await status(g, old('alice')), 401, 'still revoked');
    } finally { await g.dispose(); }
  });

  it('no request waits for a background refresh once the isolate holds a list', async () => {
    pub.doc(hsDoc(list(1, { subjects: { alice: NOW() } })));
    const g = await withList({ REVOCATION_MAX_AGE_SECONDS: '60' });
    try {
      assert.equal(await status(g, old('bob')), 200);
      // The publisher now holds every request open until released.
      let release;
      const released = new Promise((r) => { release = r; });
      let pending = 0;
      let open = 0;
      pub.serve(async (req, res) => {
        pending++;
        open++;
        res.on('close', () => { open--; });
        await released;
        res.writeHead(503);
        res.end();
      });
      await sleep(1100);
      for (let i = 0; i < 5; i++) assert.equal(await status(g, old('bob')), 200);
      assert.equal(await status(g, old('alice')), 401);
      assert.ok(pending >= 1, 'a refresh was started');
      // Answered while it is still held open (a request waiting for it would have been answered
      // only once its 5 s timeout closed it).
      assert.equal(open, 1, 'the refresh is still in flight');
      release();
    } finally { await g.dispose(); }
  });

  it('a cold isolate fetches once: concurrent requests wait for the same fetch', async () => {
    let release;
    const released = new Promise((r) => { release = r; });
    const doc = hsDoc(list(1, { subjects: { alice: NOW() } }));
    const before = pub.hits;
    pub.serve(async (req, res) => {
      await released;
      res.writeHead(200, { 'content-type': 'application/jwt' });
      res.end(doc);
    });
    const g = await withList({ REVOCATION_REFRESH_SECONDS: '60', REVOCATION_MAX_AGE_SECONDS: '120' });
    try {
      const answers = ['bob', 'carol', 'alice', 'dave', 'erin'].map((sub) => status(g, old(sub)));
      await until(async () => pub.hits > before, 'the fetch');
      release();
      assert.deepEqual(await Promise.all(answers), [200, 200, 401, 200, 200]);
      assert.equal(pub.hits, before + 1, 'one fetch for all of them');
    } finally { await g.dispose(); }
  });

  it('without a Context (Gate::admit) a due refresh runs after the decision, before the answer', async () => {
    pub.doc(hsDoc(list(1)));
    const g = await withList({ EXAMPLE_FORM: 'no-context' });
    try {
      assert.equal(await status(g, old('alice')), 200);
      pub.doc(hsDoc(list(2, { subjects: { alice: NOW() } })));
      // One interval later (not two: the isolate is not lagging, so no request waits before
      // its decision): bob is decided with the list held, then the due refresh runs before his
      // answer, so the very next request already meets the newer list.
      await sleep(1100);
      assert.equal(await status(g, old('bob')), 200);
      assert.equal(await status(g, old('alice')), 401);
    } finally { await g.dispose(); }
  });

  it('refuses an oversized list by its Content-Length, and an endless one while reading', async () => {
    pub.serve((req, res) => { res.writeHead(200, { 'content-length': String(300 * 1024) }); res.write('x'); });
    let g = await withList();
    try {
      await expectError(await g.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      const line = await revocationLine(g, (l) => l.reason === 'revocation_fetch_failed');
      assert.equal(line.problem, 'the revocation list is larger than 262144 bytes');
    } finally { await g.dispose(); }
    let stream;
    pub.serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/jwt' });
      stream = streamEndless(res, 0x61);
    });
    g = await withList();
    try {
      await expectError(await g.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      const line = await revocationLine(g, (l) => l.reason === 'revocation_fetch_failed');
      assert.equal(line.problem, 'the revocation list is larger than 262144 bytes');
      assert.ok(stream.written() < 16 * 1024 * 1024, `the publisher wrote ${stream.written()} bytes`);
    } finally { await g.dispose(); }
  });

  it('asks the source with Accept application/jwt, and logs a failed fetch exactly as the standalone gate', async () => {
    const seenHeaders = [];
    pub.serve((req, res) => { seenHeaders.push(req.headers); res.writeHead(503); res.end(); });
    const failure = async (g) => {
      await expectError(await g.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      return revocationLine(g, (l) => l.reason === 'revocation_fetch_failed');
    };
    const rust = await withList();
    const js = await startGate({ ORIGIN_URL: origin.url, REVOCATION_URL: pub.url, REVOCATION_REFRESH_SECONDS: '1' });
    try {
      const line = await failure(rust);
      assert.deepEqual(line, { edgegate: 'revocation', level: 'error', reason: 'revocation_fetch_failed', problem: 'REVOCATION_URL answered 503', serving_stale: false });
      assert.deepEqual(line, await failure(js));
      assert.equal(seenHeaders[0].accept, 'application/jwt');
      assert.deepEqual(seenHeaders[0].accept, seenHeaders.at(-1).accept);
    } finally {
      await rust.dispose();
      await js.dispose();
    }
  });

  it('shares a list fetched from REVOCATION_URL with the location through the Cache API', async () => {
    pub.doc(hsDoc(list(1, { subjects: { alice: NOW() } })));
    const dir = mkdtempSync(path.join(tmpdir(), 'edgegate-rs-revocation-cache-'));
    const vars = { REVOCATION_REFRESH_SECONDS: '60', REVOCATION_MAX_AGE_SECONDS: '120' };
    try {
      const before = pub.hits;
      const g1 = await withList(vars, { miniflare: { cachePersist: dir } });
      try { assert.equal(await status(g1, old('alice')), 401); } finally { await g1.dispose(); }
      assert.equal(pub.hits, before + 1);
      pub.down();
      const g2 = await withList(vars, { miniflare: { cachePersist: dir } });
      try { assert.equal(await status(g2, old('alice')), 401, 'revoked from the cached copy'); } finally { await g2.dispose(); }
      assert.equal(pub.hits, before + 1, 'the second isolate used the location copy');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('reads the list from a KV namespace bound as REVOCATION_KV; a variable of that name is refused at configuration', async () => {
    const g = await example({ REVOCATION_KV_KEY: 'lists/current' }, { miniflare: { kvNamespaces: ['REVOCATION_KV'] } });
    try {
      const kv = await g.mf.getKVNamespace('REVOCATION_KV');
      await expectError(await g.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      const line = await revocationLine(g, (l) => l.reason === 'revocation_fetch_failed');
      assert.equal(line.problem, 'REVOCATION_KV has no key "lists/current"');
      await kv.put('lists/current', hsDoc(list(1, { subjects: { alice: NOW() } })));
      await until(async () => (await status(g, old('bob'))) === 200, 'the KV document');
      assert.equal(await status(g, old('alice')), 401);
    } finally { await g.dispose(); }
    // A variable, even one spelled like the marker the core gets for a binding.
    for (const value of ['my-namespace', '[KV namespace binding]']) {
      const bad = await example({ REVOCATION_KV: value });
      try {
        await expectError(await bad.fetch('/api/data', api(old('bob'))), 500, 'misconfigured');
        await expectError(await bad.fetch('/health'), 500, 'misconfigured');
        assert.equal((await bad.waitForLog((l) => l.reason === 'misconfigured')).key, 'REVOCATION_KV');
      } finally { await bad.dispose(); }
    }
  });

  it('verifies a public-key (ES256) document through WebCrypto; one with a changed entry is refused', async () => {
    const key = es256Key();
    const { privateKey } = key;
    const es = (payload) => {
      const input = `${b64u(JSON.stringify({ alg: 'ES256', typ: REVOCATIONS_TYP, kid: key.kid }))}.${b64u(JSON.stringify(payload))}`;
      return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
    };
    const vars = { ALGORITHMS: 'HS256,ES256', JWKS: JSON.stringify({ keys: [key.jwk] }) };
    const genuine = es(list(1, { subjects: { alice: NOW() } }));
    pub.doc(genuine);
    const g = await withList(vars);
    try {
      assert.equal(await status(g, old('alice')), 401);
      assert.equal(await status(g, old('bob')), 200);
      assert.equal(await status(g, key.token('bob', { iat: NOW() - 60 })), 200, 'an ES256 token too');
    } finally { await g.dispose(); }
    const forged = es(list(1, { subjects: { bob: NOW() } })).split('.');
    pub.doc(`${forged[0]}.${forged[1]}.${genuine.split('.')[2]}`);
    const g2 = await withList(vars);
    try {
      await expectError(await g2.fetch('/api/data', api(old('bob'))), 503, 'revocation_unavailable');
      assert.equal((await revocationLine(g2, (l) => l.reason === 'revocation_refused')).problem, 'bad_signature');
    } finally { await g2.dispose(); }
  });

  it('names the key of a bad revocation setting', async () => {
    for (const [vars, key] of [
      [{ REVOCATION_URL: 'http://revocations.example/list' }, 'REVOCATION_URL'],
      [{ REVOCATION_REFRESH_SECONDS: '0' }, 'REVOCATION_REFRESH_SECONDS'],
      [{ REVOCATION_FAIL: 'sometimes' }, 'REVOCATION_FAIL'],
    ]) {
      const g = await withList(vars);
      try {
        await expectError(await g.fetch('/api/data', api(old('bob'))), 500, 'misconfigured');
        assert.equal((await g.waitForLog((l) => l.reason === 'misconfigured')).key, key);
      } finally { await g.dispose(); }
    }
  });
});

describe('a runtime failure of the gate', () => {
  it('answers 500 internal_error with the error\'s name logged, and the next request gets a fresh gate', async () => {
    // Before 2024-11-11 the runtime refuses `cache: "no-store"` on the authenticated request the
    // gate builds for the app (README, "Limits and deviations"): a failure the gate must answer.
    // CSRF_GUARD=false: a start-up warning, logged again when a fresh gate is built.
    const g = await example({ CSRF_GUARD: 'false' }, { miniflare: { compatibilityDate: '2024-09-01' } });
    const warnings = () => g.logs.filter((l) => l.includes('"level":"warn"')).length;
    try {
      await expectError(await g.fetch('/api/me', api(accessToken())), 500, 'internal_error');
      const line = await g.waitForLog((l) => l.reason === 'internal_error');
      assert.deepEqual(Object.keys(line), ['edgegate', 'level', 'reason', 'problem']);
      assert.match(line.problem, /^[A-Za-z]+$/, 'the error\'s name only');
      // The standalone JS gate meets the same failure (its forward carries the same option).
      const js = await startGate({ ORIGIN_URL: 'http://127.0.0.1:9' }, { miniflare: { compatibilityDate: '2024-09-01' } });
      try {
        await expectError(await js.fetch('/api/me', api(accessToken())), 500, 'internal_error');
        assert.deepEqual(line, await js.waitForLog((l) => l.reason === 'internal_error'));
      } finally {
        await js.dispose();
      }
      assert.equal(warnings(), 1);
      const res = await g.fetch('/health');
      assert.equal(res.status, 200, 'a public path needs no such request option');
      assert.equal((await seen(res)).identity, null);
      await g.waitForLog((l) => l.edgegate === 'decision' && l.path === '/health');
      assert.equal(warnings(), 2, `a fresh gate: ${g.logs.join('\n')}`);
    } finally {
      await g.dispose();
    }
  });
});
