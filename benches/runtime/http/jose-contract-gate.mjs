// Baseline: a `jose` Worker that keeps edgegate's request-path contract (README "Contract"):
// canonical path, public paths, exactly one access cookie, pinned-alg verification, refresh/login
// redirects for navigations, CSRF guard, stripped identity/override headers, x-auth-sub/-claims,
// Cache-Control: private on authenticated responses, one JSON decision line per request. What a
// careful engineer would ship by hand; left out (no counterpart in the benchmark): POLICY rules,
// the session endpoint, bearer tokens, JWKS_URL, assertions, the 16 KiB cookie cap.
import { importJWK, jwtVerify } from 'jose';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
// Origins route or switch method on these: a public path could otherwise name a protected one.
const STRIPPED = new Set(['connection', 'x-original-url', 'x-rewrite-url', 'x-override-url',
  'x-http-method-override', 'x-method-override', 'x-http-method']);
// `;` (Tomcat/Spring path parameters), encoded `/` `\` `;`, controls (raw or encoded), malformed
// escapes: origins disagree on what they mean, so refuse rather than guess.
const BAD_PATH = /[;\x00-\x1f\x7f]|%(?:2f|5c|3b|[01][0-9a-f]|7f)|%(?![0-9a-f]{2})/i;
// Dot segments, plain or encoded. `new URL()` already resolves them (and reads `\` as `/`), so this
// is a second line of defence. Simplification: unreserved escapes (`/%61dmin`) are not decoded, so
// such a path fails closed (it matches no public prefix) instead of being canonicalised.
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;
// A `sub` that reaches the origin byte for byte in a header: printable ASCII, no outer spaces.
const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

let config; // a promise: parsed and key imported once per isolate

async function loadConfig(env) {
  const alg = String(env.ALGORITHMS ?? '').trim();
  let key;
  if (alg === 'HS256') {
    if (!env.JWT_SECRET || env.JWT_SECRET.length < 16) throw new Error('JWT_SECRET');
    key = await crypto.subtle.importKey('raw', new TextEncoder().encode(env.JWT_SECRET),
      { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  } else if (alg === 'ES256' || alg === 'RS256') {
    // One public key: with a single key, `kid` cannot change which key is tried, so it is ignored.
    const jwk = (() => { try { return JSON.parse(env.JWKS).keys[0]; } catch { return null; } })();
    if (!jwk || jwk.d) throw new Error('JWKS'); // one public key, never a private one
    key = await importJWK(jwk, alg).catch(() => { throw new Error('JWKS'); });
  } else throw new Error('ALGORITHMS');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(env.ORIGIN_URL ?? '')) throw new Error('ORIGIN_URL');
  const leeway = Number(env.LEEWAY_SECONDS || 30);
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 600) throw new Error('LEEWAY_SECONDS');
  const refreshPath = env.REFRESH_PATH || '/auth/refresh', loginPath = env.LOGIN_PATH || '/auth/login';
  return {
    alg, key, refreshPath, loginPath,
    origin: env.ORIGIN_URL.replace(/\/+$/, ''),
    cookie: env.ACCESS_COOKIE || 'access',
    verifyOpts: { algorithms: [alg], issuer: env.ISSUER || undefined, audience: env.AUDIENCE || undefined,
      clockTolerance: leeway, requiredClaims: ['exp', 'sub'] },
    publicPaths: [refreshPath, loginPath, ...String(env.PUBLIC_PATHS ?? '').split(',').map((s) => s.trim()).filter(Boolean)],
    logAll: env.LOG_REQUESTS !== 'denied',
  };
}

// Segment-boundary prefix: `/static` matches `/static` and `/static/x`, never `/staticfoo`.
const isPublic = (cfg, p) => cfg.publicPaths.some((pre) => p === pre || p.startsWith(pre.endsWith('/') ? pre : `${pre}/`));

// The access cookie, null when absent, undefined when ambiguous: two of them, or a case variant
// (`ACCESS=`) — cookie tossing relies on "first one wins". `,` also separates: runtimes join
// repeated Cookie lines with ", ", and a JWT never contains one.
function accessCookie(header, name) {
  let found = null;
  for (const pair of header.split(/[;,]/)) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const n = pair.slice(0, eq).trim();
    if (n.toLowerCase() !== name.toLowerCase()) continue;
    if (found !== null || n !== name) return undefined;
    found = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return found;
}

// Cache-Control for a response to an authenticated request; null when it may stay as it is. Only an
// unqualified `private`/`no-store` keeps shared caches out; `public`, `s-maxage` and `private="…"`
// (which lets them store all but the named fields, RFC 9111) are dropped, other directives kept.
function privateCacheControl(value) {
  const ds = (value ?? '').match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g)?.map((d) => d.trim()).filter(Boolean) ?? [];
  const name = (d) => d.split('=')[0].trim().toLowerCase();
  const shared = (d) => name(d) === 'public' || name(d) === 's-maxage' || (name(d) === 'private' && d.includes('='));
  const closed = ds.some((d) => (name(d) === 'private' || name(d) === 'no-store') && !d.includes('='));
  if (closed && !ds.some(shared)) return null;
  return ['private', ...ds.filter((d) => !shared(d) && name(d) !== 'private')].join(', ');
}

// Edge answers are never cached.
const json = (status, body, extra) => new Response(JSON.stringify(body), {
  status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra },
});
const redirect = (to) => new Response(null, { status: 302, headers: { location: to, 'cache-control': 'no-store' } });

export default {
  async fetch(request, env) {
    let cfg;
    try {
      cfg = await (config ??= loadConfig(env));
    } catch (e) { // fail closed, naming the bad key
      console.log(JSON.stringify({ edgegate: 'config', level: 'error', reason: 'misconfigured', key: e.message }));
      return json(500, { error: 'misconfigured' });
    }
    const u = new URL(request.url);
    const method = request.method;
    const p = u.pathname.replace(/\/{2,}/g, '/');
    const log = (decision, reason, status, rule, extra) => {
      if (cfg.logAll || status >= 300) {
        console.log(JSON.stringify({ edgegate: 'decision', decision, reason, status, method, path: p.slice(0, 128), ...extra, rule }));
      }
    };
    const deny = (status, error, reason, extra, body) => {
      log('reject', reason ?? error, status, 'default', { alg: extra?.alg });
      return json(status, { error, ...body }, extra?.headers);
    };
    if (BAD_PATH.test(p) || DOT_SEGMENT.test(p)) return deny(400, 'bad_request', 'bad_path');

    // Same header rules on public and authenticated paths: no client-supplied identity
    // (`x_auth_sub` too: CGI/WSGI/PHP/Rack read `_` as `-`), nothing named in Connection.
    const headers = new Headers(request.headers);
    const listed = (headers.get('connection') ?? '').toLowerCase().replaceAll('_', '-').split(',').map((s) => s.trim());
    for (const k of [...headers.keys()]) { // keys() is lower-case
      const n = k.replaceAll('_', '-');
      if (n.startsWith('x-auth-') || STRIPPED.has(n) || listed.includes(n)) headers.delete(k);
    }
    const forward = (authenticated) => fetch(cfg.origin + p + u.search, {
      method, headers, body: request.body, redirect: 'manual', ...(authenticated && { cache: 'no-store' }),
    });

    if (isPublic(cfg, p)) {
      log('public', 'public', null, 'public_paths', {});
      try { return await forward(false); } catch { return deny(502, 'origin_unreachable'); }
    }

    const navigation = (method === 'GET' || method === 'HEAD')
      && ((request.headers.get('sec-fetch-mode') ?? '').trim().toLowerCase() === 'navigate'
        || (request.headers.get('accept') ?? '').toLowerCase().includes('text/html'));
    // Same-origin relative target, never `//`; long URLs lose the query, then the path.
    const back = (to) => {
      const target = (p + u.search).length <= 2048 ? p + u.search : p.length <= 2048 ? p : '/';
      return `${to}?return_to=${encodeURIComponent(target)}`;
    };

    const token = accessCookie(request.headers.get('cookie') ?? '', cfg.cookie);
    if (token === undefined) return deny(401, 'ambiguous_token', undefined, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    if (token === null) {
      if (navigation) { log('login', 'missing_token', 302, 'default'); return redirect(back(cfg.loginPath)); }
      return deny(401, 'missing_token', undefined, { headers: { 'www-authenticate': 'Bearer' } });
    }

    let payload, protectedHeader;
    try {
      ({ payload, protectedHeader } = await jwtVerify(token, cfg.key, cfg.verifyOpts));
      if (typeof payload.sub !== 'string' || !PRINTABLE.test(payload.sub)) throw new Error('bad sub');
    } catch (e) {
      // jose reports expiry only after the signature and the other claims checked out.
      if (e?.code === 'ERR_JWT_EXPIRED') {
        if (navigation) { log('refresh', 'token_expired', 302, 'default', { alg: cfg.alg }); return redirect(back(cfg.refreshPath)); }
        return deny(401, 'token_expired', undefined, {
          alg: cfg.alg, headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token expired"' },
        }, { refresh: cfg.refreshPath });
      }
      return deny(401, 'invalid_token', e?.code ?? 'invalid_token', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    }

    // CSRF guard: the cookie is an ambient credential, so state-changing requests and upgrades
    // (cross-site WebSocket hijacking) need same-origin evidence: Fetch Metadata, else Origin.
    if (!SAFE_METHODS.has(method.toUpperCase()) || request.headers.has('upgrade')) {
      const site = request.headers.get('sec-fetch-site')?.trim().toLowerCase();
      const ok = site !== undefined ? site === 'same-origin' || site === 'none' : request.headers.get('origin') === u.origin;
      if (!ok) return deny(403, 'csrf', 'csrf_cross_site', { alg: protectedHeader.alg });
    }

    headers.set('x-auth-sub', payload.sub);
    headers.set('x-auth-claims', token.split('.')[1]); // the payload exactly as signed
    const now = Math.floor(Date.now() / 1000);
    log('forward', 'ok', null, 'default', {
      source: 'cookie', alg: protectedHeader.alg, token_age_s: payload.iat === undefined ? null : now - payload.iat, expires_in_s: payload.exp - now,
    });
    let res;
    try { res = await forward(true); } catch { return deny(502, 'origin_unreachable'); }
    const cc = privateCacheControl(res.headers.get('cache-control'));
    if (cc === null) return res;
    res = new Response(res.body, res); // origin headers are immutable; this copy keeps every Set-Cookie
    res.headers.set('cache-control', cc);
    return res;
  },
};
