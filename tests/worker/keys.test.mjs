// Every JWS algorithm in workerd: keys from an inline JWK Set (`JWKS`), tokens signed by an
// independent implementation (tests/fixtures/jws.json, made by scripts/gen-fixtures.mjs with
// Node's crypto). RSA/ECDSA/Ed25519 signatures are checked through workerd's WebCrypto (keys
// imported once per isolate), HMAC in the wasm module.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startOrigin, startGate, echo, header, hs, NOW } from './harness.mjs';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/jws.json', import.meta.url)));
const ALL = 'HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA';

let origin;
let gate;
before(async () => {
  origin = await startOrigin();
  gate = await startGate({ ORIGIN_URL: origin.url, ALGORITHMS: ALL, JWKS: JSON.stringify(fixtures.jwks), ISSUER: 'https://id.example', AUDIENCE: 'edge' });
});
after(async () => { await gate?.dispose(); origin?.stop(); });

describe('asymmetric algorithms from an inline JWKS', () => {
  for (const t of fixtures.tokens) {
    it(`${t.alg}: a genuine token is forwarded, a tampered one refused`, async () => {
      const ok = await gate.fetch('/api/data', { headers: { cookie: `access=${t.token}` } });
      assert.equal(ok.status, 200, t.alg);
      assert.equal(header(await echo(ok), 'x-auth-sub'), t.sub);
      const [h, , s] = t.token.split('.');
      const evil = Buffer.from(JSON.stringify({ sub: 'admin', exp: fixtures.claims.exp, iss: 'https://id.example', aud: 'edge' })).toString('base64url');
      const bad = await gate.fetch('/api/data', { headers: { cookie: `access=${h}.${evil}.${s}` } });
      assert.equal(bad.status, 401);
      assert.deepEqual(await bad.json(), { error: 'invalid_token' });
    });
  }

  it('refuses a public key used as an HMAC secret (RSA, EC, Ed25519 JWKs as secrets)', async () => {
    for (const pub of fixtures.jwks.keys.filter((k) => k.kty !== 'oct')) {
      const secret = JSON.stringify(pub);
      for (const header of [{ alg: 'HS256' }, { alg: 'HS256', kid: pub.kid }]) {
        const t = hs({ sub: 'admin', exp: NOW() + 600, iss: 'https://id.example', aud: 'edge' }, { secret, header });
        const res = await gate.fetch('/api/data', { headers: { cookie: `access=${t}` } });
        assert.equal(res.status, 401, `${pub.kty} ${JSON.stringify(header)}`);
        await res.arrayBuffer();
      }
    }
  });

  it('never fetches jku/x5u/jwk header URLs', async () => {
    await origin.clearLog();
    const t = fixtures.tokens.find((x) => x.alg === 'ES256');
    const [, p] = t.token.split('.');
    for (const extra of [{ jku: `${origin.url}/jwks` }, { x5u: `${origin.url}/cert` }, { jwk: { kty: 'oct', k: 'AAAA' } }]) {
      const h = Buffer.from(JSON.stringify({ alg: 'HS256', ...extra })).toString('base64url');
      const res = await gate.fetch('/public-nothing', { headers: { cookie: `access=${h}.${p}.AAAA` } });
      assert.equal(res.status, 401);
    }
    const seen = (await origin.log()).map((e) => e.path);
    assert.deepEqual(seen, [], `the origin was contacted: ${seen}`);
  });
});
