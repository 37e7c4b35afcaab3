// Baseline: the straightforward `jose` gate a user would write: cookie token (HS256 with
// JWT_SECRET, or ES256/RS256 with the one key in JWKS, per ALGORITHMS), iss/aud/exp checked by
// jwtVerify, `x-auth-sub` added, everything else forwarded to ORIGIN_URL unchanged.
import { importJWK, jwtVerify } from 'jose';

let key;
const json = (status, error) => new Response(JSON.stringify({ error }), {
  status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
});

export default {
  async fetch(request, env) {
    const alg = env.ALGORITHMS || 'HS256';
    key ??= alg === 'HS256'
      ? await crypto.subtle.importKey('raw', new TextEncoder().encode(env.JWT_SECRET),
        { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      : await importJWK(JSON.parse(env.JWKS).keys[0], alg);
    const u = new URL(request.url);
    const m = /(?:^|;\s*)access=([^;]+)/.exec(request.headers.get('cookie') ?? '');
    if (!m) return json(401, 'missing_token');
    let payload;
    try {
      ({ payload } = await jwtVerify(m[1], key, { algorithms: [alg], issuer: env.ISSUER, audience: env.AUDIENCE }));
    } catch {
      return json(401, 'invalid_token');
    }
    const headers = new Headers(request.headers);
    headers.set('x-auth-sub', String(payload.sub));
    return fetch(env.ORIGIN_URL + u.pathname + u.search, {
      method: request.method, headers, body: request.body, redirect: 'manual',
    });
  },
};
