// Benchmark Worker (bundled by run.mjs with esbuild, run in workerd through Miniflare): edgegate's
// verifier (the gate module as built, build/index.js + index_bg.wasm: its exported `Verifier` runs
// the worker's exact verification path) and the JS libraries a user would pick for a Workers auth
// gate, verifying the same fixture tokens that the edgegate tests use (tests/fixtures/jws.json).
// Keys are imported once per isolate (CryptoKey) on every side, so the loop measures verification.
//
//   GET /loop?lib=edgegate|jose|tsndr&alg=RS256&n=500  → verifies the fixture token n times, sequentially
//   GET /once?lib=edgegate|jose|tsndr|none&alg=RS256   → one verification (none: no work) per request
import { jwtVerify } from 'jose';
import tsndr from '@tsndr/cloudflare-worker-jwt';
import fixtures from '../../../tests/fixtures/jws.json';
import { Verifier } from '../../../build/index.js';

const ISS = fixtures.claims.iss;
const AUD = fixtures.claims.aud;
const TSNDR_ALGS = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384']);
const keys = new Map();
const edgegate = {};

async function key(alg) {
  if (!keys.has(alg)) {
    const jwk = fixtures.jwks.keys.find((k) => k.alg === alg);
    // One WebCrypto CryptoKey per algorithm, shared by both libraries (jose's importJWK would
    // return raw bytes for `oct` keys and re-import them on every call; @tsndr needs a CryptoKey).
    const h = { name: `SHA-${alg.slice(2)}` };
    const params = {
      HS: { name: 'HMAC', hash: h }, RS: { name: 'RSASSA-PKCS1-v1_5', hash: h }, PS: { name: 'RSA-PSS', hash: h },
      ES: { name: 'ECDSA', namedCurve: jwk.crv }, Ed: { name: 'Ed25519' },
    }[alg.slice(0, 2)];
    const { alg: _a, kid: _k, use: _u, ...bare } = jwk;
    keys.set(alg, await crypto.subtle.importKey('jwk', bare, params, false, ['verify']));
  }
  return keys.get(alg);
}

function token(alg) {
  const t = fixtures.tokens.find((x) => x.alg === alg);
  if (!t) throw new Error(`no fixture token for ${alg}`);
  return t.token;
}

async function verifier(lib, alg) {
  const k = await key(alg);
  const t = token(alg);
  if (lib === 'edgegate' || lib === 'edgegate-seen') {
    // One verifier per isolate, configured like the gate (same keys and validation rules);
    // it imports each CryptoKey on first use and caches it. `edgegate` remembers no signature
    // (SIGNATURE_CACHE=0): every verification costs what a token never seen before costs.
    // `edgegate-seen` has the default cache: the same token again, as on a session's next request.
    const seen = lib === 'edgegate-seen';
    edgegate[lib] ??= new Verifier({
      ORIGIN_URL: 'http://127.0.0.1:9', ALGORITHMS: 'HS256,RS256,PS256,ES256,EdDSA',
      JWKS: JSON.stringify(fixtures.jwks), ISSUER: ISS, AUDIENCE: AUD, ...(seen ? {} : { SIGNATURE_CACHE: '0' }),
    });
    const v = edgegate[lib];
    return async () => {
      const sub = await v.verify(t);
      if (!sub) throw new Error('no sub');
    };
  }
  if (lib === 'jose') {
    return async () => {
      const { payload } = await jwtVerify(t, k, { algorithms: [alg], issuer: ISS, audience: AUD });
      if (!payload.sub) throw new Error('no sub');
    };
  }
  if (lib === 'tsndr') {
    if (!TSNDR_ALGS.has(alg)) return null;
    return async () => {
      // @tsndr checks signature, exp and nbf only (no iss/aud options): it does less work.
      const r = await tsndr.verify(t, k, { algorithm: alg, throwError: true });
      if (!r?.payload?.sub) throw new Error('no sub');
    };
  }
  throw new Error(`unknown lib ${lib}`);
}

export default {
  async fetch(request) {
    const u = new URL(request.url);
    const lib = u.searchParams.get('lib');
    const alg = u.searchParams.get('alg');
    try {
      if (u.pathname === '/once') {
        if (lib !== 'none') {
          const v = await verifier(lib, alg);
          if (!v) return new Response('n/a', { status: 501 });
          await v();
        }
        return new Response('ok');
      }
      if (u.pathname === '/loop') {
        const n = Number(u.searchParams.get('n') ?? '0');
        const v = await verifier(lib, alg);
        if (!v) return new Response('n/a', { status: 501 });
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await v();
        // workerd only advances its clocks across I/O: reported so the driver can say whether
        // in-Worker timing would have been usable (it times the loop from outside instead).
        return Response.json({ n, inWorkerMs: performance.now() - t0 });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return new Response(`error: ${e?.stack ?? e}`, { status: 500 });
    }
  },
};
