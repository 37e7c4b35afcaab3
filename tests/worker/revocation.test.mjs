// The published revocation list (REVOCATION_URL, REVOCATION_KV) in workerd, in front of the real
// echo origin. The list is served by a publisher on 127.0.0.1 that each test controls (documents
// signed here with node:crypto, independent of the gate's code): revoked tokens refused like
// expired ones and others untouched, rollback, forged and oversized lists refused, what an outage
// does with REVOCATION_FAIL=closed and open, the background refresh, the location's cache copy,
// a KV namespace as the source, and a public-key (ES256) document through WebCrypto. The reference
// origin's own list (logout, a password change and reuse through the gate) is tested in
// lifecycle.test.mjs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startOrigin, startGate, startPublisher, accessToken, b64u, hsDoc, until, sleep, NOW,
  REVOCATIONS_TYP as TYP, revocationList as list,
  streamEndless,
} from './harness.mjs';

let origin;
let pub;
before(async () => { origin = await startOrigin(); pub = await startPublisher(); });
after(async () => { await pub?.close(); await origin?.stop(); });

function gateFor(vars = {}, opts = {}) {
  return startGate({ ORIGIN_URL: origin.url, REVOCATION_URL: pub.url, REVOCATION_REFRESH_SECONDS: '1', ...vars }, opts);
}

/** `{status, body}` of an API call with `token` in the cookie. */
async function api(g, token) {
  const res = await g.fetch('/api/data', { headers: { cookie: `access=${token}` } });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The gate's latest decision line. */
function lastDecision(g) {
  const line = g.logs.filter((l) => l.includes('"edgegate":"decision"')).at(-1);
  return line ? JSON.parse(line.slice(line.indexOf('{'))) : {};
}

const old = (sub = 'alice', extra = {}) => accessToken(sub, { iat: NOW() - 60, ...extra });

describe('the revocation list', () => {
  it('refuses revoked tokens like expired ones and leaves every other token alone', async () => {
    pub.doc(hsDoc(list(1, { subjects: { alice: NOW() - 30 }, sessions: { 's-1': NOW() } })));
    const g = await gateFor();
    try {
      const r = await api(g, old('alice'));
      assert.equal(r.status, 401);
      assert.deepEqual(JSON.parse(r.body), { error: 'token_expired', refresh: '/auth/refresh' });
      assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="token expired"');
      const nav = await g.fetch('/app', { headers: { cookie: `access=${old('alice')}`, accept: 'text/html' } });
      assert.equal(nav.status, 302);
      assert.equal(nav.headers.get('location'), '/auth/refresh?return_to=%2Fapp');
      const line = await g.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'revoked');
      assert.equal(line.status, 401);
      // A session entry, whatever the subject.
      assert.equal((await api(g, old('bob', { sid: 's-1' }))).status, 401);
      // Untouched: another subject, another session, a token issued after the cut-off.
      assert.equal((await api(g, old('bob'))).status, 200);
      assert.equal((await api(g, old('bob', { sid: 's-2' }))).status, 200);
      assert.equal((await api(g, accessToken('alice', { iat: NOW() }))).status, 200);
      // No token or secret in any log line.
      for (const l of g.logs) assert.doesNotMatch(l, /eyJ/);
    } finally { await g.dispose(); }
  });

  it('picks up a newer list in the background and never goes back to an older one', async () => {
    pub.doc(hsDoc(list(5)));
    const g = await gateFor();
    try {
      assert.equal((await api(g, old('alice'))).status, 200);
      // Revoke alice: the next background refresh brings it.
      pub.doc(hsDoc(list(6, { subjects: { alice: NOW() } })));
      await until(async () => (await api(g, old('alice'))).status === 401, 'the newer list');
      // An isolate idle for two intervals checks its next request against a fresh list.
      pub.doc(hsDoc(list(7, { subjects: { alice: NOW(), carol: NOW() } })));
      await sleep(2100);
      assert.equal((await api(g, old('carol'))).status, 401, 'the first request after the gap');
      // An older version (a stale copy, a replay) with fewer entries is refused.
      const before = pub.hits;
      pub.doc(hsDoc(list(5)));
      // Requests drive the refreshes (a Worker runs only while it serves).
      await until(async () => { await api(g, old('bob')); return pub.hits > before + 1; }, 'two more fetches');
      const line = await g.waitForLog((l) => l.edgegate === 'revocation' && l.problem === 'rollback');
      assert.equal(line.reason, 'revocation_refused');
      assert.equal(line.serving_stale, true);
      assert.equal((await api(g, old('alice'))).status, 401, 'still revoked');
    } finally { await g.dispose(); }
  });

  it('no request waits for a refresh once the isolate holds a list', async () => {
    pub.doc(hsDoc(list(1, { subjects: { alice: NOW() } })));
    const g = await gateFor({ REVOCATION_MAX_AGE_SECONDS: '60' });
    try {
      assert.equal((await api(g, old('bob'))).status, 200);
      // The publisher now holds every request open until released.
      let release;
      const released = new Promise((r) => { release = r; });
      let pending = 0;
      pub.serve(async (req, res) => { pending++; await released; res.writeHead(503); res.end(); });
      await sleep(1100);
      for (let i = 0; i < 5; i++) assert.equal((await api(g, old('bob'))).status, 200);
      assert.equal((await api(g, old('alice'))).status, 401);
      assert.ok(pending >= 1, 'a refresh was in flight while the requests were answered');
      release();
    } finally { await g.dispose(); }
  });

  it('refuses a forged list, and fails closed without a list', async () => {
    pub.doc(hsDoc(list(9), { secret: 'not-the-gate-secret-not-the-gate-secret' }));
    const g = await gateFor();
    try {
      const r = await api(g, old('bob'));
      assert.equal(r.status, 503);
      assert.deepEqual(JSON.parse(r.body), { error: 'revocation_unavailable' });
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const line = await g.waitForLog((l) => l.edgegate === 'revocation');
      assert.equal(line.problem, 'bad_signature');
      assert.equal(line.serving_stale, false);
      // Public paths and missing tokens are not affected.
      assert.equal((await g.fetch('/health')).status, 200);
      assert.equal((await api(g, 'garbage')).status, 401);
    } finally { await g.dispose(); }
  });

  it('refuses lists that are not revocation lists: an access token, alg none, another typ', async () => {
    for (const body of [
      accessToken('alice'),
      `${b64u(JSON.stringify({ alg: 'none', typ: TYP }))}.${b64u(JSON.stringify(list(1)))}.`,
      hsDoc(list(1), { header: { alg: 'HS256', typ: 'JWT' } }),
      hsDoc({ ...list(1), tokens: { j: 1 } }),
    ]) {
      pub.doc(body);
      const g = await gateFor();
      try {
        assert.equal((await api(g, old('bob'))).status, 503, body);
        await g.waitForLog((l) => l.reason === 'revocation_refused');
      } finally { await g.dispose(); }
    }
  });

  it('refuses an oversized list by its Content-Length, and an endless one while reading', async () => {
    pub.serve((req, res) => { res.writeHead(200, { 'content-length': String(300 * 1024) }); res.write('x'); });
    let g = await gateFor();
    try {
      assert.equal((await api(g, old('bob'))).status, 503);
      assert.match((await g.waitForLog((l) => l.reason === 'revocation_fetch_failed')).problem, /larger than 262144 bytes/);
    } finally { await g.dispose(); }
    let stream;
    pub.serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/jwt' });
      stream = streamEndless(res, 0x61);
    });
    g = await gateFor();
    try {
      assert.equal((await api(g, old('bob'))).status, 503);
      assert.match((await g.waitForLog((l) => l.reason === 'revocation_fetch_failed')).problem, /larger than/);
      assert.ok(stream.written() < 16 * 1024 * 1024, `the publisher wrote ${stream.written()} bytes`);
    } finally { await g.dispose(); }
  });

  it('an outage: the held list serves until it is too old, then closed refuses and open forwards', async () => {
    const entries = { subjects: { alice: NOW() } };
    for (const mode of ['closed', 'open']) {
      pub.doc(hsDoc(list(1, entries)));
      const g = await gateFor({ REVOCATION_MAX_AGE_SECONDS: '2', LEEWAY_SECONDS: '0', REVOCATION_FAIL: mode });
      try {
        assert.equal((await api(g, old('bob'))).status, 200);
        pub.down();
        // Stale-if-error first: the refresh failed, the list still counts.
        await until(async () => {
          await api(g, old('bob'));
          return g.logs.some((l) => l.includes('"revocation_fetch_failed"') && l.includes('"serving_stale":true'));
        }, 'a failed refresh');
        if (mode === 'closed') {
          await until(async () => (await api(g, old('bob'))).status === 503, 'the list to age out');
        } else {
          await until(async () => (await api(g, old('bob'))).status === 200 && lastDecision(g).revocation === 'unchecked', 'the list to age out');
          assert.equal(lastDecision(g).decision, 'forward');
          // What the last list names stays revoked.
          assert.equal((await api(g, old('alice'))).status, 401);
          assert.equal(lastDecision(g).reason, 'revoked');
          assert.ok(g.logs.some((l) => l.includes('REVOCATION_FAIL=open')), 'start-up warning');
        }
        // Back up: a current list again.
        pub.doc(hsDoc(list(2, entries)));
        await until(async () => (await api(g, old('bob'))).status === 200 && lastDecision(g).revocation === undefined, 'recovery');
      } finally { await g.dispose(); }
    }
  });

  it('shares a list fetched from REVOCATION_URL with the location through the Cache API', async () => {
    pub.doc(hsDoc(list(1, { subjects: { alice: NOW() } })));
    const dir = mkdtempSync(path.join(tmpdir(), 'edgegate-revocation-cache-'));
    try {
      const before = pub.hits;
      const g1 = await gateFor({ REVOCATION_REFRESH_SECONDS: '60', REVOCATION_MAX_AGE_SECONDS: '120' }, { miniflare: { cachePersist: dir } });
      try { assert.equal((await api(g1, old('alice'))).status, 401); } finally { await g1.dispose(); }
      assert.equal(pub.hits, before + 1);
      pub.down();
      const g2 = await gateFor({ REVOCATION_REFRESH_SECONDS: '60', REVOCATION_MAX_AGE_SECONDS: '120' }, { miniflare: { cachePersist: dir } });
      try { assert.equal((await api(g2, old('alice'))).status, 401, 'revoked from the cached copy'); } finally { await g2.dispose(); }
      assert.equal(pub.hits, before + 1, 'the second isolate used the location copy');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('reads the list from a KV namespace bound as REVOCATION_KV', async () => {
    const g = await startGate({ ORIGIN_URL: origin.url, REVOCATION_KV_KEY: 'lists/current' }, { miniflare: { kvNamespaces: ['REVOCATION_KV'] } });
    try {
      const kv = await g.mf.getKVNamespace('REVOCATION_KV');
      // No document yet: closed.
      assert.equal((await api(g, old('bob'))).status, 503);
      assert.match((await g.waitForLog((l) => l.reason === 'revocation_fetch_failed')).problem, /no key "lists\/current"/);
      await kv.put('lists/current', hsDoc(list(1, { subjects: { alice: NOW() } })));
      await until(async () => (await api(g, old('bob'))).status === 200, 'the KV document');
      assert.equal((await api(g, old('alice'))).status, 401);
    } finally { await g.dispose(); }
    // A variable named REVOCATION_KV is not a binding: misconfigured, the log names the key.
    const bad = await startGate({ ORIGIN_URL: origin.url, REVOCATION_KV: 'my-namespace' });
    try {
      assert.equal((await api(bad, old('bob'))).status, 500);
      assert.equal((await bad.waitForLog((l) => l.reason === 'misconfigured')).key, 'REVOCATION_KV');
    } finally { await bad.dispose(); }
  });

  it('verifies a public-key (ES256) document through WebCrypto with the configured JWKS', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = `k-${b64u(randomBytes(6))}`;
    const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] });
    const es = (payload, typ = TYP) => {
      const input = `${b64u(JSON.stringify({ alg: 'ES256', typ, kid }))}.${b64u(JSON.stringify(payload))}`;
      return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
    };
    pub.doc(es(list(1, { subjects: { alice: NOW() } })));
    const g = await gateFor({ ALGORITHMS: 'HS256,ES256', JWKS: jwks });
    try {
      assert.equal((await api(g, old('alice'))).status, 401);
      assert.equal((await api(g, old('bob'))).status, 200);
    } finally { await g.dispose(); }
    // The same document with one entry changed does not verify.
    const forged = es(list(1, { subjects: { bob: NOW() } })).split('.');
    const sig = es(list(1, { subjects: { alice: NOW() } })).split('.')[2];
    pub.doc(`${forged[0]}.${forged[1]}.${sig}`);
    const g2 = await gateFor({ ALGORITHMS: 'HS256,ES256', JWKS: jwks });
    try {
      assert.equal((await api(g2, old('bob'))).status, 503);
      assert.equal((await g2.waitForLog((l) => l.reason === 'revocation_refused')).problem, 'bad_signature');
    } finally { await g2.dispose(); }
  });

  it('names the key of a bad revocation setting', async () => {
    for (const [vars, key] of [
      [{ REVOCATION_URL: 'http://revocations.example/list' }, 'REVOCATION_URL'],
      [{ REVOCATION_REFRESH_SECONDS: '0' }, 'REVOCATION_REFRESH_SECONDS'],
      [{ REVOCATION_FAIL: 'sometimes' }, 'REVOCATION_FAIL'],
      [{ REVOCATION_REFRESH_SECONDS: '30', REVOCATION_MAX_AGE_SECONDS: '10' }, 'REVOCATION_MAX_AGE_SECONDS'],
    ]) {
      const g = await gateFor(vars);
      try {
        assert.equal((await api(g, old('bob'))).status, 500);
        assert.equal((await g.waitForLog((l) => l.reason === 'misconfigured')).key, key);
      } finally { await g.dispose(); }
    }
  });
});
