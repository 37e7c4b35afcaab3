// A remote JWK Set (JWKS_URL) served by the real origin process (`/__jwks`, which tests can
// rotate or take down): lazy fetch, rotation without redeploy, the refetch cooldown under an
// unknown-kid storm, stale-if-error, Cache-Control max-age, and the Workers Cache API.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOrigin, startGate, NOW } from './harness.mjs';

const b64u = (x) => Buffer.from(x).toString('base64url');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An ES256 key pair with a kid, and a signer for it (Node crypto: independent of the gate). */
function es256Key() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `k-${b64u(randomBytes(6))}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const token = (sub = 'alice', k = kid) => {
    const input = `${b64u(JSON.stringify({ alg: 'ES256', kid: k }))}.${b64u(JSON.stringify({ sub, exp: NOW() + 600 }))}`;
    return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  };
  return { kid, jwk, token };
}

let origin;
before(async () => { origin = await startOrigin(); });
after(() => origin?.stop());
beforeEach(async () => { await origin.clearLog(); });

async function publish(keys, cacheControl) {
  const q = cacheControl ? `?cache_control=${encodeURIComponent(cacheControl)}` : '';
  const res = await fetch(`${origin.url}/__jwks${q}`, { method: 'PUT', body: JSON.stringify({ keys: keys.map((k) => k.jwk) }) });
  assert.equal(res.status, 204);
}
const takeDown = () => fetch(`${origin.url}/__jwks`, { method: 'DELETE' });
const jwksFetches = async () => (await origin.log()).filter((e) => e.path === '/__jwks' && e.method === 'GET').length;

async function get(g, token) {
  const res = await g.fetch('/api/data', { headers: { cookie: `access=${token}` } });
  await res.arrayBuffer();
  return res.status;
}

function gateFor(extra = {}, opts = {}) {
  return startGate({ ORIGIN_URL: origin.url, ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS_URL: `${origin.url}/__jwks`, ...extra }, opts);
}

describe('remote JWK Set', () => {
  it('fetches lazily and verifies; a rotated-in key works without redeploying', async () => {
    const a = es256Key();
    const b = es256Key();
    await publish([a]);
    const g = await gateFor({ JWKS_MIN_REFRESH_SECONDS: '0' });
    try {
      assert.equal(await jwksFetches(), 0, 'nothing fetched at start-up');
      assert.equal(await get(g, a.token()), 200);
      assert.equal(await get(g, b.token()), 401, 'unknown key before rotation');
      await publish([a, b]);
      assert.equal(await get(g, b.token()), 200, 'the new key is picked up');
      assert.equal(await get(g, a.token()), 200, 'the old key still works');
      await publish([b]);
      // Fresh set cached (TTL 600 s): a retired key keeps working until the set expires — but a
      // token signed by nobody never passes.
      const forged = es256Key();
      assert.equal(await get(g, forged.token('mallory', a.kid)), 401);
    } finally { await g.dispose(); }
  });

  it('an unknown-kid storm causes at most one fetch per cooldown', async () => {
    const a = es256Key();
    await publish([a]);
    const g = await gateFor({ JWKS_MIN_REFRESH_SECONDS: '30' });
    try {
      assert.equal(await get(g, a.token()), 200);
      assert.equal(await jwksFetches(), 1);
      const forger = es256Key();
      for (let i = 0; i < 25; i++) {
        assert.equal(await get(g, forger.token('mallory', `forged-${i}`)), 401);
      }
      assert.ok((await jwksFetches()) <= 2, `fetched ${await jwksFetches()} times`);
    } finally { await g.dispose(); }
  });

  it('keeps serving the last good set when the IdP is down, and logs the failure', async () => {
    const a = es256Key();
    await publish([a]);
    const g = await gateFor({ JWKS_CACHE_SECONDS: '1', JWKS_MIN_REFRESH_SECONDS: '0' });
    try {
      assert.equal(await get(g, a.token()), 200);
      await takeDown();
      await sleep(1200);
      assert.equal(await get(g, a.token()), 200, 'stale-if-error');
      assert.ok((await jwksFetches()) >= 2, 'a refetch was attempted');
      const line = await g.waitForLog((l) => l.reason === 'jwks_fetch_failed');
      assert.equal(line.serving_stale, true);
      assert.match(line.problem, /503/);
    } finally { await g.dispose(); }
  });

  it('honours a shorter Cache-Control max-age from the IdP', async () => {
    const a = es256Key();
    await publish([a], 'public, max-age=1');
    const g = await gateFor({ JWKS_CACHE_SECONDS: '600', JWKS_MIN_REFRESH_SECONDS: '0' });
    try {
      assert.equal(await get(g, a.token()), 200);
      assert.equal(await get(g, a.token()), 200);
      assert.equal(await jwksFetches(), 1, 'fresh: no refetch');
      await sleep(1200);
      assert.equal(await get(g, a.token()), 200);
      assert.equal(await jwksFetches(), 2, 'max-age=1 elapsed: refetched');
    } finally { await g.dispose(); }
  });

  it('shares the fetched set through the Workers Cache API', async () => {
    const a = es256Key();
    await publish([a]);
    const dir = mkdtempSync(path.join(tmpdir(), 'edgegate-cache-'));
    try {
      const g1 = await gateFor({}, { miniflare: { cachePersist: dir } });
      try { assert.equal(await get(g1, a.token()), 200); } finally { await g1.dispose(); }
      assert.equal(await jwksFetches(), 1);
      const g2 = await gateFor({}, { miniflare: { cachePersist: dir } });
      try { assert.equal(await get(g2, a.token()), 200); } finally { await g2.dispose(); }
      assert.equal(await jwksFetches(), 1, 'the second isolate used the cached copy');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('refuses to start with a non-https JWKS_URL for a remote host', async () => {
    const g = await startGate({ ORIGIN_URL: origin.url, ALGORITHMS: 'ES256', JWKS_URL: 'http://idp.example/jwks' });
    try {
      const res = await g.fetch('/api/data');
      assert.equal(res.status, 500);
      assert.equal((await g.waitForLog((l) => l.reason === 'misconfigured')).key, 'JWKS_URL');
    } finally { await g.dispose(); }
  });
});
